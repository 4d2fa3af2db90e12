#!/usr/bin/env python3
"""Build the offline COCO detector (CenterNet, MobileNetV3) as ONNX from a registry package.

No model hub is reachable offline, but the npm package ``@vladmandic/human@3.3.6``
ships a TF.js graph model ``models/centernet.{json,bin}`` (80 COCO classes). This
script turns it into ``centernet.onnx``:

1. ``npm pack`` the package, check the tarball against the pinned npm integrity
   (and ``npm view``), and take only the two model files (sha256-pinned) plus the
   package's own COCO label list (``src/object/labels.ts``).
2. Make a throwaway virtualenv with pinned tensorflow-cpu/tf2onnx/onnx/onnxruntime
   (reused when its pins match) and do all conversion work inside it.
3. Patch the graph JSON (``TArgs`` on fused convs, op-default attrs) so TF can
   import it, then ``python -m tf2onnx.convert --tfjs``.
4. Rewrite the ONNX graph for a dynamic batch dimension, keep only the
   detections output, name the tensors ``images`` / ``detections``.
5. Verify with onnxruntime: batch of 4 == 4 single runs, and people (class 0)
   plus a bus (class 5) found on ``bus.jpg`` from the PyPI package ultralytics.
6. Write ``OUT/centernet.onnx`` atomically, with ``centernet.onnx.sha256``,
   ``labels.txt`` and ``README.txt``.

Model I/O: ``images`` float32 [N,512,512,3], RGB 0..255 (NHWC, frame resized or
letterboxed to 512x512, no normalisation) -> ``detections`` float32 [N,100,6] = x1,y1,x2,y2 (input
pixels), score, class (0-based COCO-80 index, line order of labels.txt). The 100
rows are the top heat-map peaks; apply NMS downstream (the package does too).

Example::

    python3 scripts/build_detector_onnx.py --out ~/.cache/video-detective/models/detector

Stdlib only at top level: the heavy imports run inside the throwaway venv, which
re-invokes this same file with the hidden ``_venv`` sub-command.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

NPM_PACKAGE = "@vladmandic/human"
NPM_VERSION = "3.3.6"
NPM_SPEC = f"{NPM_PACKAGE}@{NPM_VERSION}"
# `npm view @vladmandic/human@3.3.6 dist.integrity`, pinned.
NPM_INTEGRITY = "sha512-Nr5mPfq1gQ+uKeXY5uM3Fj8UxvF5CEh2s6txM5wRThqaW0mF9huooOuZSrT8hhGho0hGaXLFdAwfD/2+teCv6A=="
MODEL_FILES = {  # name in package/models/ -> sha256
    "centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    "centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
}
LABELS_MEMBER = "package/src/object/labels.ts"

# Throwaway conversion venv. tf2onnx 1.17 calls np.product (gone in numpy 2).
VENV_REQUIREMENTS = [
    "tensorflow-cpu==2.19.1",
    "tf2onnx==1.17.0",
    "numpy==1.26.4",
    "onnx==1.22.0",
    "onnxruntime==1.23.2",
    "pillow==11.3.0",
]
OPSET = 17

# Verification image: ultralytics ships assets/bus.jpg (4 people and a bus).
BUS_WHEEL_SPEC = "ultralytics==8.4.190"
BUS_MEMBER = "ultralytics/assets/bus.jpg"
BUS_SHA256 = "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63"

ONNX_NAME = "centernet.onnx"
INPUT_NAME = "images"
OUTPUT_NAME = "detections"
INPUT_SIZE = 512
MIN_VERIFY_SCORE = 0.3

DEFAULT_WORK = Path("~/.cache/video-detective/build")


class BuildError(Exception):
    """A failure reported to the user as one line."""


def log(msg: str) -> None:
    print(f"[build_detector_onnx] {msg}", file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _umask_mode())  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, _umask_mode())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_logged(cmd: list[str], log_path: Path, what: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run cmd, keep its output in log_path; raise BuildError with the gist on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    except FileNotFoundError as e:
        raise BuildError(f"{what}: cannot run {cmd[0]!r} ({e.strerror})") from None
    log_path.write_text(proc.stdout)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}): {_gist(proc.stdout)} [log: {log_path}]")
    return proc.stdout


def _gist(output: str) -> str:
    """The most telling line of a failed tool's output (last error-like line)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("WARNING: Location")]
    for ln in reversed(lines):
        if re.search(r"(Error|error|ERR!|No matching|Exception)", ln):
            return ln[:300]
    return lines[-1][:300] if lines else "no output"


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    # PYTHONHASHSEED: tf2onnx names merged constants in set order; fixed seed -> same bytes.
    env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


# ---------------------------------------------------------------- sources


def parse_labels(ts_source: str) -> list[str]:
    """COCO labels from the package's labels.ts; list index == model class index.

    The package's own decoder does ``labels[classVal]``, so the model's class value is
    a 0-based index into this 80-entry list (whose ``class`` fields run 1..80).
    """
    pairs = re.findall(r"\{\s*class:\s*(\d+),\s*label:\s*'([^']+)'\s*\}", ts_source)
    classes = [int(c) for c, _ in pairs]
    if classes != list(range(1, 81)):
        raise BuildError(f"{LABELS_MEMBER}: expected classes 1..80 in order, got {len(pairs)} entries")
    return [label for _, label in pairs]


def fetch_npm_sources(src_dir: Path, logs: Path) -> dict:
    """Model files + labels + licence from the npm tarball, cached in src_dir."""
    meta_path = src_dir / "meta.json"
    if meta_path.exists() and all((src_dir / n).exists() and sha256_file(src_dir / n) == h for n, h in MODEL_FILES.items()):
        log(f"using cached {NPM_SPEC} model files in {src_dir}")
        return json.loads(meta_path.read_text())

    if shutil.which("npm") is None:
        raise BuildError("npm not found: it is needed to fetch " + NPM_SPEC)
    src_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=src_dir) as tmp:
        tmpd = Path(tmp)
        log(f"npm pack {NPM_SPEC}")
        out = run_logged(["npm", "pack", NPM_SPEC, "--json", "--silent"], logs / "npm-pack.log", f"npm pack {NPM_SPEC}", cwd=tmpd)
        tarballs = sorted(tmpd.glob("*.tgz"))
        if len(tarballs) != 1:
            raise BuildError(f"npm pack {NPM_SPEC} produced {len(tarballs)} tarballs: {out[-200:]!r}")
        tgz = tarballs[0]
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
        if integrity != NPM_INTEGRITY:
            raise BuildError(f"{tgz.name}: integrity {integrity} != pinned {NPM_INTEGRITY}")
        try:
            viewed = subprocess.run(["npm", "view", NPM_SPEC, "dist.integrity"], capture_output=True, text=True, timeout=120).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            viewed = ""
        if viewed and viewed != NPM_INTEGRITY:
            raise BuildError(f"npm view {NPM_SPEC} dist.integrity says {viewed}, pinned {NPM_INTEGRITY}")
        if not viewed:
            log("warning: npm view gave no integrity; relying on the pinned value")

        with tarfile.open(tgz, "r:gz") as tar:

            def member_bytes(name: str) -> bytes:
                try:
                    f = tar.extractfile(name)
                except KeyError:
                    f = None
                if f is None:
                    raise BuildError(f"{tgz.name} has no regular file {name}")
                return f.read()

            blobs = {n: member_bytes(f"package/models/{n}") for n in MODEL_FILES}
            labels = parse_labels(member_bytes(LABELS_MEMBER).decode())
            pkg = json.loads(member_bytes("package/package.json"))
            licence_text = member_bytes("package/LICENSE").decode(errors="replace")

        for name, data in blobs.items():
            got = hashlib.sha256(data).hexdigest()
            if got != MODEL_FILES[name]:
                raise BuildError(f"{name}: sha256 {got} != pinned {MODEL_FILES[name]}")
        model_json = json.loads(blobs["centernet.json"])
        meta = {
            "package": NPM_SPEC,
            "integrity": NPM_INTEGRITY,
            "package_license": pkg.get("license"),
            "license_first_lines": " / ".join([ln for ln in licence_text.splitlines() if ln.strip()][:2]),
            "model_generated_by": model_json.get("generatedBy"),
            "model_converted_by": model_json.get("convertedBy"),
            "labels": labels,
        }
        for name, data in blobs.items():
            atomic_write_bytes(src_dir / name, data)
        atomic_write_bytes(meta_path, json.dumps(meta, indent=1).encode())
    log(f"{NPM_SPEC}: integrity ok, model files sha256 ok, licence {meta['package_license']}")
    return meta


def fetch_bus_jpg(src_dir: Path, venv_py: Path, logs: Path) -> Path:
    dst = src_dir / "bus.jpg"
    if dst.exists() and sha256_file(dst) == BUS_SHA256:
        return dst
    with tempfile.TemporaryDirectory(dir=src_dir) as tmp:
        log(f"pip download --no-deps {BUS_WHEEL_SPEC} (for {BUS_MEMBER})")
        run_logged(
            [str(venv_py), "-m", "pip", "download", "--no-deps", "--only-binary=:all:", BUS_WHEEL_SPEC, "-d", tmp],
            logs / "pip-download-ultralytics.log",
            f"pip download {BUS_WHEEL_SPEC}",
            env=venv_env(),
        )
        wheels = list(Path(tmp).glob("ultralytics-*.whl"))
        if not wheels:
            raise BuildError(f"pip download {BUS_WHEEL_SPEC} gave no wheel")
        with zipfile.ZipFile(wheels[0]) as z:
            data = z.read(BUS_MEMBER)
    if hashlib.sha256(data).hexdigest() != BUS_SHA256:
        raise BuildError(f"{BUS_MEMBER}: sha256 mismatch")
    atomic_write_bytes(dst, data)
    return dst


# ---------------------------------------------------------------- venv


def ensure_venv(venv: Path, python: str, logs: Path) -> Path:
    stamp = venv / ".video-detective-requirements"
    want = "\n".join(VENV_REQUIREMENTS) + "\n"
    venv_py = venv / "bin" / "python"
    if stamp.exists() and venv_py.exists() and stamp.read_text() == want:
        log(f"reusing conversion venv {venv}")
        return venv_py
    if venv.exists():
        log(f"rebuilding conversion venv {venv} (pins changed or incomplete)")
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log(f"creating conversion venv {venv}: {' '.join(VENV_REQUIREMENTS)}")
    run_logged([python, "-m", "venv", str(venv)], logs / "venv.log", "python -m venv")
    run_logged(
        [str(venv_py), "-m", "pip", "install", "--no-input", *VENV_REQUIREMENTS],
        logs / "pip-install.log",
        "pip install of the conversion tools",
        env=venv_env(),
    )
    stamp.write_text(want)
    return venv_py


# ---------------------------------------------------------------- build


def build(out_dir: Path, work: Path, python: str, force: bool) -> int:
    onnx_path = out_dir / ONNX_NAME
    sha_path = out_dir / (ONNX_NAME + ".sha256")
    if not force and onnx_path.exists() and sha_path.exists():
        recorded = sha_path.read_text().split()[:1]
        if recorded and recorded[0] == sha256_file(onnx_path):
            print(f"{onnx_path} is up to date (sha256 {recorded[0]})")
            return 0
        log(f"{onnx_path} does not match {sha_path.name}: rebuilding")

    t0 = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    src_dir = work / "sources" / f"human-{NPM_VERSION}"
    meta = fetch_npm_sources(src_dir, logs)
    venv_py = ensure_venv(work / "tf2onnx-venv", python, logs)
    bus = fetch_bus_jpg(src_dir, venv_py, logs)
    t_ready = time.monotonic()

    me = str(Path(__file__).resolve())
    env = venv_env()
    with tempfile.TemporaryDirectory(prefix="centernet-", dir=work) as tmp:
        tmpd = Path(tmp)
        # The patched JSON must sit next to the .bin its weightsManifest names.
        shutil.copyfile(src_dir / "centernet.bin", tmpd / "centernet.bin")
        patched = tmpd / "centernet.json"
        out = run_logged(
            [str(venv_py), me, "_venv", "patch", str(src_dir / "centernet.json"), str(patched)], logs / "patch.log", "patching the TF.js graph JSON", env=env
        )
        log(out.strip().splitlines()[-1] if out.strip() else "patched")

        raw = tmpd / "raw.onnx"
        log(f"tf2onnx --tfjs (opset {OPSET})")
        run_logged(
            [str(venv_py), "-m", "tf2onnx.convert", "--tfjs", str(patched), "--output", str(raw), "--opset", str(OPSET)],
            logs / "tf2onnx.log",
            "tf2onnx conversion",
            env=env,
        )

        final = tmpd / ONNX_NAME
        labels_json = tmpd / "labels.json"
        labels_json.write_text(json.dumps(meta["labels"]))
        out = run_logged(
            [str(venv_py), me, "_venv", "finalize", str(raw), str(final), str(labels_json)],
            logs / "finalize.log",
            "making the batch dimension dynamic",
            env=env,
        )
        for line in out.strip().splitlines():
            log(line)

        report_path = tmpd / "verify.json"
        out = run_logged(
            [str(venv_py), me, "_venv", "verify", str(raw), str(final), str(bus), str(labels_json), str(report_path)],
            logs / "verify.log",
            "verification with onnxruntime",
            env=env,
        )
        report = json.loads(report_path.read_text())
        print(out, end="")

        digest = sha256_file(final)
        atomic_copy(final, onnx_path)
    atomic_write_bytes(sha_path, f"{digest}  {ONNX_NAME}\n".encode())
    atomic_write_bytes(out_dir / "labels.txt", ("\n".join(meta["labels"]) + "\n").encode())
    atomic_write_bytes(out_dir / "README.txt", readme_text(meta, digest, report).encode())
    t_end = time.monotonic()
    log(f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes, sha256 {digest}) in {t_end - t0:.1f} s ({t_end - t_ready:.1f} s conversion + verification)")
    return 0


def readme_text(meta: dict, digest: str, report: dict) -> str:
    labels = meta["labels"]
    label_lines = "\n".join(f"  {i:2d} {name}" for i, name in enumerate(labels))
    dets = "\n".join(f"  {d['label']:<12s} score {d['score']:.2f}  box {d['box']}" for d in report["bus_detections"])
    return f"""\
centernet.onnx -- COCO object detector (CenterNet, MobileNetV3 backbone), ONNX opset {OPSET}
Built by scripts/build_detector_onnx.py; sha256 {digest}

Source
  npm package {meta["package"]} (tarball integrity {meta["integrity"]}),
  files models/centernet.json (sha256 {MODEL_FILES["centernet.json"]})
    and models/centernet.bin (sha256 {MODEL_FILES["centernet.bin"]}), a TF.js graph model
  with float16-quantised weights. The model JSON names its origin as
  {meta["model_generated_by"]} (converted by {meta["model_converted_by"]}).
  Converted with tf2onnx 1.17.0 (--tfjs) under tensorflow-cpu 2.19.1, after filling the
  graph JSON's missing TArgs / op-default attrs; the batch dimension was then made dynamic.

Licence
  npm package licence field: {meta["package_license"]} ({meta["license_first_lines"]}).
  The package states no separate licence for this model; the upstream repository named
  above ships no licence file that we found. The weights are redistributed here under
  the package's MIT licence; trained on MS-COCO.

Input  {INPUT_NAME!r}: float32 [batch, {INPUT_SIZE}, {INPUT_SIZE}, 3], NHWC, RGB, values 0..255
       (no normalisation). The package stretches the whole frame to {INPUT_SIZE}x{INPUT_SIZE};
       a letterbox (aspect kept, zero padding) works as well.
Output {OUTPUT_NAME!r}: float32 [batch, 100, 6] = x1, y1, x2, y2 (pixels of the {INPUT_SIZE}x{INPUT_SIZE}
       input; may fall slightly outside it), score (0..1, sorted descending),
       class (0-based index into the 80 COCO labels below, stored as float).
       The rows are the 100 strongest heat-map peaks, not NMS-filtered: threshold the
       score and apply per-class NMS (the package's own decoder does the same).
Batch  dynamic; a batch of 4 gave the same rows as 4 single runs
       (max abs diff {report["batch_max_abs_diff"]:.3g}).

Verification on ultralytics assets/bus.jpg (score > {MIN_VERIFY_SCORE}, boxes in 512x512 input px):
{dets}

Class index -> label (labels.txt, one per line, in this order; from the package's
src/object/labels.ts, which its decoder indexes as labels[class]):
{label_lines}
"""


# ---------------------------------------------------------------- in-venv steps
# These run under the throwaway venv's python (tensorflow, onnx, onnxruntime, PIL).


def _venv_patch(src: str, dst: str) -> None:
    """Fill attrs TF's op registry requires but the TF.js JSON omits."""
    from google.protobuf import json_format
    from tensorflow.python.framework import op_def_registry

    model = json.loads(Path(src).read_text())
    # tf2onnx renames this TF.js-only op to the TF kernel below before importing it.
    alias = {"FusedDepthwiseConv2dNative": "_FusedDepthwiseConv2dNative"}
    filled: dict[str, int] = {}

    def fix(nodes: list[dict]) -> None:
        for node in nodes:
            op = node["op"]
            if op == "Const":
                continue
            attr = node.setdefault("attr", {})
            op_def = op_def_registry.get(alias.get(op, op))
            if op_def is None:
                raise SystemExit(f"op {op!r} (node {node['name']}) unknown to tensorflow")
            for a in op_def.attr:
                if a.name in attr:
                    continue
                if a.name == "TArgs":  # dtypes of the fused extra inputs (bias, ...)
                    n_args = int(attr.get("num_args", {}).get("i", "0"))
                    attr["TArgs"] = {"list": {"type": [attr["T"]["type"]] * n_args}}
                elif a.HasField("default_value"):
                    if op in alias and a.name == "explicit_paddings":
                        continue  # tf2onnx rejects it on the aliased op
                    attr[a.name] = json_format.MessageToDict(a.default_value)
                else:
                    raise SystemExit(f"node {node['name']} ({op}) lacks required attr {a.name}")
                key = f"{op}.{a.name}"
                filled[key] = filled.get(key, 0) + 1

    fix(model["modelTopology"]["node"])
    for func in model["modelTopology"].get("library", {}).get("function", []):
        fix(func.get("nodeDef", []))
    Path(dst).write_text(json.dumps(model))
    print("filled attrs: " + ", ".join(f"{k} x{v}" for k, v in sorted(filled.items())))


def _venv_finalize(src: str, dst: str, labels_json: str) -> None:
    """Dynamic batch: tf2onnx bakes batch 1 into Reshape shapes and a flattened gather."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper, shape_inference

    model = onnx.load(src)
    g = model.graph
    inits = {i.name: i for i in g.initializer}

    # Drop Reshapes that do nothing at batch 1 (NCHW [1,C,1,1] -> [1,C,1,1] around the
    # squeeze-excite convs): tf2onnx's optimizer removes a varying subset of them from
    # run to run, so removing all makes the output reproducible (and a little faster).
    static = shape_inference.infer_shapes(model, strict_mode=True)
    known = {
        vi.name: [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        for vi in list(static.graph.value_info) + list(static.graph.input)
    }
    graph_outputs = {o.name for o in g.output}
    bypass = {}
    for node in g.node:
        if node.op_type == "Reshape" and node.input[1] in inits and node.output[0] not in graph_outputs:
            target = numpy_helper.to_array(inits[node.input[1]]).tolist()
            if known.get(node.input[0]) == target:
                bypass[node.output[0]] = node.input[0]
    for node in g.node:
        for k, name in enumerate(node.input):
            while name in bypass:
                name = bypass[name]
            node.input[k] = name
    kept = [n for n in g.node if not (n.op_type == "Reshape" and n.output[0] in bypass)]
    del g.node[:]
    g.node.extend(kept)
    producer = {o: n for n in g.node for o in n.output}

    def const(name: str):
        if name not in inits:
            raise SystemExit(f"expected a constant, got computed tensor {name}")
        return numpy_helper.to_array(inits[name]).tolist()

    def set_shape(node, shape: list[int]) -> None:
        name = node.name + "__dyn_shape"
        g.initializer.append(numpy_helper.from_array(np.asarray(shape, dtype=np.int64), name))
        node.input[1] = name

    # The box regression is gathered as wh[N*H*W,4][flat_index] with the batch offset
    # folded away; rewrite it as GatherND(wh[N,H*W,4], index[N,100,1], batch_dims=1).
    gathers = [n for n in g.node if n.op_type == "Gather" and n.name.endswith("BatchGather/GatherV2")]
    if len(gathers) != 1:
        raise SystemExit(f"expected one BatchGather/GatherV2 node, found {len(gathers)}")
    gather = gathers[0]
    data_reshape, index_reshape = producer[gather.input[0]], producer[gather.input[1]]
    if data_reshape.op_type != "Reshape" or index_reshape.op_type != "Reshape":
        raise SystemExit("BatchGather inputs are not Reshapes: graph layout changed")
    if const(data_reshape.input[1]) != [128 * 128, 4]:
        raise SystemExit(f"unexpected BatchGather data shape {const(data_reshape.input[1])}")
    set_shape(data_reshape, [0, -1, 4])
    set_shape(index_reshape, [0, -1, 1])
    index64 = index_reshape.output[0] + "__int64"
    pos = list(g.node).index(gather)
    g.node.remove(gather)
    g.node.insert(pos, helper.make_node("Cast", [index_reshape.output[0]], [index64], name=index_reshape.name + "__int64", to=TensorProto.INT64))
    g.node.insert(pos + 1, helper.make_node("GatherND", [gather.input[0], index64], list(gather.output), name=gather.name, batch_dims=1))

    # Every other Reshape with a literal leading 1 is a batch dim: let it follow the input.
    n_reshapes = 0
    for node in g.node:
        if node.op_type != "Reshape" or node.name in (data_reshape.name, index_reshape.name):
            continue
        shape = const(node.input[1])
        if len(shape) >= 2 and shape[0] == 1:
            set_shape(node, ([0] if -1 in shape[1:] else [-1]) + shape[1:])
            n_reshapes += 1
        elif shape != [-1]:
            raise SystemExit(f"Reshape {node.name} to {shape}: cannot tell its batch dim")

    # Keep only the detections output; friendly tensor names.
    rename = {"tower_0/images:0": INPUT_NAME, "tower_0/detections": OUTPUT_NAME}
    if {i.name for i in g.input} != {"tower_0/images:0"} or "tower_0/detections" not in {o.name for o in g.output}:
        raise SystemExit(f"unexpected graph I/O {[i.name for i in g.input]} -> {[o.name for o in g.output]}")
    keep = [o for o in g.output if o.name == "tower_0/detections"]
    del g.output[:]
    g.output.extend(keep)
    for node in g.node:
        for i, name in enumerate(node.input):
            node.input[i] = rename.get(name, name)
        for i, name in enumerate(node.output):
            node.output[i] = rename.get(name, name)
    for vi in list(g.input) + list(g.output):
        vi.name = rename[vi.name]
        dim0 = vi.type.tensor_type.shape.dim[0]
        dim0.ClearField("dim_value")
        dim0.dim_param = "batch"
    del g.value_info[:]  # tf2onnx's inferred shapes carry batch 1

    # Drop what only fed the removed outputs.
    live, alive = {OUTPUT_NAME}, []
    for node in reversed(list(g.node)):
        if any(o in live for o in node.output):
            alive.append(node)
            live.update(node.input)
    n_dead = len(g.node) - len(alive)
    del g.node[:]
    g.node.extend(reversed(alive))
    used = [i for i in g.initializer if i.name in live]
    del g.initializer[:]
    g.initializer.extend(used)

    _canonicalize(g)

    labels = json.loads(Path(labels_json).read_text())
    # tf2onnx records the (random) temp path here; keep the build reproducible.
    g.doc_string = f"converted by tf2onnx 1.17.0 --tfjs from npm {NPM_SPEC} models/centernet.json"
    del model.metadata_props[:]
    for k, v in {
        "source": f"npm {NPM_SPEC} models/centernet.json+bin",
        "input": f"{INPUT_NAME}: float32 [batch,{INPUT_SIZE},{INPUT_SIZE},3] RGB 0..255",
        "output": f"{OUTPUT_NAME}: float32 [batch,100,6] x1,y1,x2,y2 (input px),score,class",
        "labels": json.dumps(labels),
    }.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))

    model = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, dst)
    print(f"dynamic batch: {len(bypass)} no-op Reshapes dropped, GatherND rewrite, {n_reshapes} Reshapes freed, {n_dead} dead nodes dropped")


def _canonicalize(g) -> None:
    """Name every tensor by what computes it, so equal graphs serialize to equal bytes.

    tf2onnx's optimizer merges duplicate constants and nodes keeping an arbitrary
    member's name (it iterates sets of objects), so two runs give the same graph under
    different names. Here each initializer is named by a hash of its value, each node
    by a hash of (op, attributes, input names), and nodes are ordered by (depth, name).
    Graph input/output names are kept.
    """
    import hashlib as _hashlib

    from onnx import TensorProto as _TensorProto

    def digest(data: bytes) -> str:
        return _hashlib.sha256(data).hexdigest()[:12]

    rename: dict[str, str] = {}
    inits: dict[str, object] = {}
    for t in g.initializer:
        anon = _TensorProto()
        anon.CopyFrom(t)
        anon.name = ""
        name = f"const_{digest(anon.SerializeToString())}"
        rename[t.name] = name
        if name not in inits:
            anon.name = name
            inits[name] = anon
    del g.initializer[:]
    g.initializer.extend(inits[k] for k in sorted(inits))

    keep_names = {o.name for o in g.output}
    depth = {i.name: 0 for i in g.input}
    seen: dict[str, object] = {}
    for node in list(g.node):  # already topologically sorted
        inputs = [rename.get(x, x) for x in node.input]
        attrs = b"".join(a.SerializeToString() for a in sorted(node.attribute, key=lambda a: a.name))
        key = "\0".join([node.domain, node.op_type, *inputs]).encode() + b"\0" + attrs
        name = f"{node.op_type}_{digest(key)}"
        if name in seen:  # a duplicate computation: reuse the first one's outputs
            for old, new in zip(node.output, seen[name].output):
                rename[old] = new
            g.node.remove(node)
            continue
        del node.input[:]
        node.input.extend(inputs)
        node.name = name
        node.ClearField("doc_string")
        if not node.domain:
            node.ClearField("domain")  # tf2onnx sets "" on some nodes, not others
        outs = list(node.output)
        for k, old in enumerate(outs):
            new = old if (old in keep_names or not old) else (name if len(outs) == 1 else f"{name}:{k}")
            rename[old] = new
            node.output[k] = new
        seen[name] = node
        d = 1 + max((depth.get(x, 0) for x in inputs), default=0)
        for out in node.output:
            depth[out] = d
    ordered = sorted(g.node, key=lambda n: (depth[n.output[0]], n.name))
    del g.node[:]
    g.node.extend(ordered)
    del g.value_info[:]


def _venv_verify(raw: str, final: str, bus: str, labels_json: str, report_path: str) -> None:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    labels = json.loads(Path(labels_json).read_text())
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(final, so, providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    io_ok = (inp.name, inp.type, inp.shape, out.name, out.type, out.shape) == (
        INPUT_NAME,
        "tensor(float)",
        ["batch", INPUT_SIZE, INPUT_SIZE, 3],
        OUTPUT_NAME,
        "tensor(float)",
        ["batch", 100, 6],
    )
    if not io_ok:
        raise SystemExit(f"unexpected I/O: {inp.name} {inp.type} {inp.shape} -> {out.name} {out.type} {out.shape}")

    image = Image.open(bus).convert("RGB")
    x = np.asarray(image.resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR), dtype=np.float32)[None]

    # Same answer as the graph straight out of tf2onnx (batch 1).
    raw_sess = ort.InferenceSession(raw, so, providers=["CPUExecutionProvider"])
    ref = raw_sess.run(["tower_0/detections"], {"tower_0/images:0": x})[0]
    one = sess.run(None, {INPUT_NAME: x})[0]
    raw_diff = float(np.abs(ref - one).max())
    if raw_diff > 1e-2:
        raise SystemExit(f"dynamic-batch graph differs from tf2onnx output by {raw_diff}")

    # A batch of 4 different frames == 4 single runs.
    rng = np.random.default_rng(0)
    batch = np.concatenate([x, np.ascontiguousarray(x[:, :, ::-1]), np.ascontiguousarray(x[..., ::-1]), rng.uniform(0, 255, x.shape).astype(np.float32)])
    together = sess.run(None, {INPUT_NAME: batch})[0]
    single = np.concatenate([sess.run(None, {INPUT_NAME: batch[i : i + 1]})[0] for i in range(len(batch))])
    batch_diff = float(np.abs(together - single).max())
    if together.shape != (4, 100, 6) or batch_diff > 1e-3:
        raise SystemExit(f"batch of 4 differs from single runs (shape {together.shape}, max diff {batch_diff})")

    dets = []
    for x1, y1, x2, y2, score, cls in one[0]:
        if score > MIN_VERIFY_SCORE:
            c = int(cls)
            dets.append({"label": labels[c], "class": c, "score": round(float(score), 3), "box": [round(float(v), 1) for v in (x1, y1, x2, y2)]})
    print(
        f"onnxruntime {ort.__version__}: {INPUT_NAME} {inp.shape} -> {OUTPUT_NAME} {out.shape}; "
        f"batch-4 vs single max diff {batch_diff:.3g}; vs tf2onnx graph {raw_diff:.3g}"
    )
    print(f"bus.jpg ({image.size[0]}x{image.size[1]} resized to {INPUT_SIZE}x{INPUT_SIZE}), score > {MIN_VERIFY_SCORE}:")
    for d in dets:
        print(f"  {d['class']:2d} {d['label']:<12s} {d['score']:.3f}  x1,y1,x2,y2 = {d['box']}")
    found = {d["class"] for d in dets}
    if not {0, 5} <= found:
        raise SystemExit(f"bus.jpg check failed: need person (0) and bus (5) above {MIN_VERIFY_SCORE}, got classes {sorted(found)}")
    Path(report_path).write_text(json.dumps({"bus_detections": dets, "batch_max_abs_diff": batch_diff, "raw_max_abs_diff": raw_diff}))


def _venv_main(argv: list[str]) -> int:
    steps = {"patch": _venv_patch, "finalize": _venv_finalize, "verify": _venv_verify}
    if not argv or argv[0] not in steps:
        print(f"usage: {sys.argv[0]} _venv {{{','.join(steps)}}} ARGS...", file=sys.stderr)
        return 2
    steps[argv[0]](*argv[1:])
    return 0


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_venv"]:
        return _venv_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="directory for centernet.onnx")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"cache for the conversion venv, sources and logs (default {DEFAULT_WORK})")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the conversion venv (3.9-3.12, tensorflow 2.19 wheels)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the output is up to date")
    args = parser.parse_args(argv)
    try:
        return build(args.out.expanduser(), args.work.expanduser(), args.python, args.force)
    except BuildError as e:
        print(f"build_detector_onnx: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build_detector_onnx: error: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"build_detector_onnx: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
