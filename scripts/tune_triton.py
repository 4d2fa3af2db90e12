#!/usr/bin/env python3
"""Tuning recipes for the GPU server (NVIDIA's perf_analyzer and Model Analyzer).

``perf``: load the running detector (scripts/start_triton_gpu.sh) with real frames and sweep the
number of requests in flight; prints throughput and p95 latency per concurrency::

    python scripts/tune_triton.py perf --url gpu-host:8001                  # zidane.jpg, 720x1280
    python scripts/tune_triton.py perf --url gpu-host:8001 --image frame.jpg --concurrency 1,4,16,64

The input data is a real photo resized to the frame size the orchestrator sends (``--shape
IMAGE:720,1280,3``), so the detector's resize/letterbox and post-processing cost what they cost in
production; each request carries ``--batch-size`` frames like the orchestrator's client (8).

``analyze``: Model Analyzer quick search (scripts/model_analyzer.yaml) over the TensorRT engine's
batch sizes and instance counts on one GPU::

    python scripts/tune_triton.py analyze --layout gpu7 --gpu 0

Both run NVIDIA's tools from the SDK container (``nvcr.io/nvidia/tritonserver:<tag>-py3-sdk``)
unless ``perf_analyzer`` is on PATH; ``--dry-run`` prepares the inputs and prints the commands.
Results go under ``--out`` (default ``out/tuning``). Put what wins into the layout
(scripts/make_gpu_configs.py) and regenerate the configs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))

import make_gpu_configs as gen  # noqa: E402

NGC_TAG = os.environ.get("TRITON_NGC_TAG", "26.07")
SDK_IMAGE = os.environ.get("TRITON_SDK_IMAGE", f"nvcr.io/nvidia/tritonserver:{NGC_TAG}-py3-sdk")
DEFAULT_IMAGE = Path(os.environ.get("VDET_TEST_MEDIA", Path.home() / ".cache/video-detective/test-media")) / "zidane.jpg"


class TuneError(RuntimeError):
    pass


def write_input_data(image: Path, height: int, width: int, dest: Path) -> Path:
    """perf_analyzer input-data JSON with one real RGB frame for the detector's IMAGE input."""
    import cv2  # the project's own dependency; imported here so --help works without it

    bgr = cv2.imread(str(image))
    if bgr is None:
        raise TuneError(f"cannot read image {image}; pass --image with a JPEG or PNG photo")
    rgb = cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    dest.parent.mkdir(parents=True, exist_ok=True)
    doc = {"data": [{"IMAGE": {"content": rgb.reshape(-1).tolist(), "shape": [height, width, 3]}}]}
    dest.write_text(json.dumps(doc, separators=(",", ":")))
    return dest


def tool_prefix(out: Path, tool: str, extra_docker: list[str] | None = None) -> list[str]:
    """Run ``tool`` directly when installed, else inside the SDK container (host network, ``out`` mounted at the same path)."""
    if shutil.which(tool):
        return [tool]
    return ["docker", "run", "--rm", "--net=host", *(extra_docker or []), "-v", f"{out}:{out}", SDK_IMAGE, tool]


def perf_commands(args, data: Path, out: Path) -> list[list[str]]:
    height, width = args.frame
    commands = []
    for concurrency in args.concurrency:
        commands.append(
            [
                *tool_prefix(out, "perf_analyzer"),
                "-m",
                args.model,
                "-u",
                args.url,
                "-i",
                "grpc",
                "--input-data",
                str(data),
                "--shape",
                f"IMAGE:{height},{width},3",
                "-b",
                str(args.batch_size),
                "--concurrency-range",
                f"{concurrency}:{concurrency}",
                "--percentile=95",
                "--collect-metrics",
                "--metrics-url",
                args.metrics_url,
                "-f",
                str(out / f"{args.model}_c{concurrency}.csv"),
            ]
        )
    return commands


def read_perf_csv(path: Path) -> dict:
    with path.open(newline="") as f:
        row = next(csv.DictReader(f))
    return {
        "concurrency": int(row["Concurrency"]),
        "inferences_per_s": float(row["Inferences/Second"]),
        "p95_latency_ms": float(row["p95 latency"]) / 1000.0,  # perf_analyzer reports microseconds
    }


def cmd_perf(args) -> int:
    out = args.out.resolve()
    height, width = args.frame
    data = write_input_data(args.image, height, width, out / f"{args.model}_input_{height}x{width}.json")
    commands = perf_commands(args, data, out)
    if args.dry_run:
        print(f"# input data: {data}")
        for command in commands:
            print(shlex.join(command))
        return 0
    results = []
    for command in commands:
        print("+ " + shlex.join(command), file=sys.stderr)
        subprocess.run(command, check=True)
        results.append(read_perf_csv(Path(command[command.index("-f") + 1])))
    print(f"{'concurrency':>11} {'frames/s':>10} {'p95 ms':>8}")
    for r in results:
        print(f"{r['concurrency']:>11} {r['inferences_per_s']:>10.1f} {r['p95_latency_ms']:>8.1f}")
    (out / f"{args.model}_summary.json").write_text(json.dumps(results, indent=2))
    return 0


def stage_engine_repository(layout: str, repository: Path, dest: Path, copy_plan: bool) -> Path:
    """A repository holding only the engine, its GPU config as config.pbtxt with the GPU list
    removed (the analyzer runs it on the one GPU its container sees)."""
    from google.protobuf import text_format

    src = repository / "detector_engine" / "configs" / f"{layout}.pbtxt"
    if not src.is_file():
        raise TuneError(f"{src} is missing; generate it with scripts/make_gpu_configs.py")
    config = gen.parse_config(src.read_text(), str(src))
    for group in config.instance_group:
        group.ClearField("gpus")
    model_dir = dest / "detector_engine"
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    (model_dir / "config.pbtxt").write_text(
        f"# Staged by scripts/tune_triton.py from {src.relative_to(repository)} (GPU list removed).\n" + text_format.MessageToString(config)
    )
    plan = repository / "detector_engine" / "1" / "model.plan"
    if copy_plan:
        if not plan.is_file():
            raise TuneError(f"{plan} is missing; build it on this GPU type with scripts/build_trt_engine.py")
        shutil.copy2(plan, model_dir / "1" / "model.plan")  # a copy: the sibling container sees only mounted paths
    return dest


def cmd_analyze(args) -> int:
    out = (args.out / "analyzer").resolve()
    repo = stage_engine_repository(args.layout, args.repository, out / "repository", copy_plan=not args.dry_run)
    config = out / "model_analyzer.yaml"
    shutil.copy2(SCRIPTS / "model_analyzer.yaml", config)
    command = [
        *tool_prefix(out, "model-analyzer", ["--gpus", f"device={args.gpu}", "-v", "/var/run/docker.sock:/var/run/docker.sock"]),
        "profile",
        "-f",
        str(config),
        "--model-repository",
        str(repo),
        "--output-model-repository-path",
        str(out / "output_models"),
        "--export-path",
        str(out / "results"),
        "--checkpoint-directory",
        str(out / "checkpoints"),
    ]
    if args.dry_run:
        print(f"# staged repository: {repo}")
        print(shlex.join(command))
        return 0
    (out / "results").mkdir(parents=True, exist_ok=True)
    print("+ " + shlex.join(command), file=sys.stderr)
    subprocess.run(command, check=True)
    print(f"reports: {out / 'results' / 'reports'}")
    return 0


def _frame(value: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"frame size must be HEIGHTxWIDTH, e.g. 720x1280; got {value!r}") from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"frame size must be positive; got {value!r}")
    return height, width


def _int_list(value: str) -> list[int]:
    try:
        values = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 1,2,4,8; got {value!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers; got {value!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "out" / "tuning", help="where inputs and results go")
    parser.add_argument("--dry-run", action="store_true", help="prepare inputs, print the commands, run nothing")
    sub = parser.add_subparsers(dest="command", required=True)

    perf = sub.add_parser("perf", help="perf_analyzer concurrency sweep on the detector with real frames")
    perf.add_argument("--url", default="localhost:8001", help="Triton gRPC address")
    perf.add_argument("--metrics-url", default="localhost:8002/metrics", help="Triton metrics (GPU utilisation, memory)")
    perf.add_argument("--model", default="detector")
    perf.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="a real photo (default: the test media's zidane.jpg)")
    perf.add_argument("--frame", type=_frame, default=(720, 1280), help="HEIGHTxWIDTH sent to the detector (default 720x1280)")
    perf.add_argument("--batch-size", type=int, default=8, help="frames per request (the orchestrator sends 8)")
    perf.add_argument("--concurrency", type=_int_list, default=[1, 2, 4, 8, 16, 32], help="requests in flight, e.g. 1,2,4,8")

    analyze = sub.add_parser("analyze", help="Model Analyzer quick search on the TensorRT engine")
    analyze.add_argument("--layout", default="gpu", help="GPU config the search starts from (default gpu)")
    analyze.add_argument("--gpu", type=int, default=0, help="the GPU to profile on")
    analyze.add_argument("--repository", type=Path, default=gen.REPOSITORY)

    args = parser.parse_args(argv)
    try:
        return cmd_perf(args) if args.command == "perf" else cmd_analyze(args)
    except TuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"error: {shlex.join(exc.cmd)} exited with {exc.returncode}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
