#!/usr/bin/env python3
"""Generate the GPU configs of every Triton model from one small declarative layout.

Triton reads ``<model>/configs/<NAME>.pbtxt`` instead of ``<model>/config.pbtxt`` when it is
started with ``--model-config-name=NAME`` (for every model of the repository; a model without
that file silently falls back to its CPU config, so every layout covers every model). Rather than
keeping ``models x layouts`` files by hand, each GPU config is derived from the model's CPU config:
the CPU ``config.pbtxt`` is loaded with Triton's own model-config protobuf, its placement
(instance groups, batch sizes) and GPU parameters are changed, and the result is written in
protobuf text format. Inputs and outputs are never touched, so both configs serve one interface.

Models that exist only on GPUs and have no CPU config (the TensorRT engine ``detector_engine``)
are built from their spec in ``ENGINE_MODELS``.

Standard layouts (committed; a test checks the files equal this script's output)::

    python scripts/make_gpu_configs.py             # both: configs/gpu.pbtxt and configs/gpu7.pbtxt
    python scripts/make_gpu_configs.py --gpus 1    # configs/gpu.pbtxt: everything on GPU 0
    python scripts/make_gpu_configs.py --gpus 7    # configs/gpu7.pbtxt: the 7-GPU server
    python scripts/make_gpu_configs.py --check     # exit 1 if a committed file differs

A custom server: start from a standard layout, edit, generate::

    python scripts/make_gpu_configs.py --gpus 7 --print-layout > my_server.yaml
    python scripts/make_gpu_configs.py --layout my_server.yaml   # configs/<name>.pbtxt

Layout YAML (``name`` becomes the ``--model-config-name``)::

    name: gpu2
    gpu_count: 2
    description: two GPUs, detector on 0, audio and text on 1
    reserved: {}                        # GPU id -> what uses it outside Triton (VLM, NVENC)
    models:
      detector:        {gpus: [0], count: 2, max_batch_size: 32, preferred_batch_sizes: [8, 16, 32]}
      detector_engine: {gpus: [0], count: 1, preferred_batch_sizes: [8, 16, 32]}
      asr:             {gpus: [1]}
      embedder:        {gpus: [1]}
      sound_tagger:    {gpus: [], count: 2, cpu_reason: "LiteRT BirdNET has no GPU delegate here"}
      audio_tagger:    {gpus: [], count: 2, cpu_reason: "quantised YAMNet is cheap on the CPU"}

Per placement: ``gpus`` (empty: KIND_CPU, needs ``cpu_reason``), ``count`` (instances per listed
GPU, or in total on the CPU), ``max_batch_size``, ``preferred_batch_sizes``,
``max_queue_delay_us``, ``parameters`` (string values, on top of the model's GPU parameters).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from google.protobuf import text_format

REPO = Path(__file__).resolve().parent.parent
REPOSITORY = REPO / "triton_models"
SCRIPT = "scripts/make_gpu_configs.py"


def load_model_config_pb2():
    """Triton's model-config protobuf module, as shipped with tritonclient.

    It is loaded from its file rather than imported as ``tritonclient.grpc.model_config_pb2``:
    importing the ``tritonclient.grpc`` package needs grpcio, which the HTTP-only client install
    does not have, while the generated message module itself only needs protobuf.
    """
    spec = importlib.util.find_spec("tritonclient")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: tritonclient is not installed; install the pinned requirements.txt")
    path = Path(list(spec.submodule_search_locations)[0]) / "grpc" / "model_config_pb2.py"
    name = "tritonclient_model_config_pb2"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


mc = load_model_config_pb2()


class LayoutError(ValueError):
    """A layout that cannot be turned into configs; the message says what to change."""


# --- what changes in each model when it moves to a GPU (independent of the layout) -------------


@dataclass(frozen=True)
class GpuSettings:
    parameters: dict[str, str] = field(default_factory=dict)  # set (string values)
    drop_parameters: tuple[str, ...] = ()  # CPU-only knobs that mean nothing on the GPU path
    note: str = ""  # goes into the generated file's header


MODEL_GPU_SETTINGS: dict[str, GpuSettings] = {
    "detector": GpuSettings(
        parameters={"head": "rtdetr", "engine_model": "detector_engine", "score_threshold": "0.5"},  # as configs/cpu-rtdetr.pbtxt
        drop_parameters=("onnx_batching", "intra_op_threads", "nms_iou"),  # RT-DETR needs no NMS
        note="Pre/post-processing in the python backend; the network runs in the TensorRT model "
        "named by engine_model, called through BLS (any instance of it, on any of its GPUs).",
    ),
    "asr": GpuSettings(
        parameters={"compute_type": "float16"},
        note="faster-whisper on CUDA (CTranslate2, float16); model.py picks cuda:<device id> of "
        "its instance and falls back to the CPU, with a warning in the log, when CUDA is missing.",
    ),
    "embedder": GpuSettings(
        note="sentence-transformers on cuda:<device id> of its instance (CPU fallback logged).",
    ),
    "sound_tagger": GpuSettings(),
    "audio_tagger": GpuSettings(),
    "speaker_embedder": GpuSettings(),
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    data_type: str  # a model_config_pb2.DataType name, e.g. "TYPE_FP32"
    dims: tuple[int, ...]


@dataclass(frozen=True)
class EngineSpec:
    """A model with no CPU config: its whole interface lives here."""

    platform: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    default_model_filename: str
    max_queue_delay_us: int
    note: str


ENGINE_MODELS: dict[str, EngineSpec] = {
    # RT-DETR-v2 exported to ONNX and built into a TensorRT plan by scripts/build_trt_engine.py:
    # 640x640 normalised RGB in, 300 queries out (80 COCO class logits, cx,cy,w,h boxes 0..1).
    "detector_engine": EngineSpec(
        platform="tensorrt_plan",
        max_batch_size=32,
        inputs=(TensorSpec("pixel_values", "TYPE_FP32", (3, 640, 640)),),
        outputs=(
            TensorSpec("logits", "TYPE_FP32", (300, 80)),
            TensorSpec("pred_boxes", "TYPE_FP32", (300, 4)),
        ),
        default_model_filename="model.plan",
        max_queue_delay_us=1000,
        note="TensorRT plan 1/model.plan, built by scripts/build_trt_engine.py on the GPU type that serves it "
        "(optimisation profile batch 1..max_batch_size); no CPU config: the CPU server never loads it.",
    ),
}


# --- the layout: where each model runs ---------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    gpus: tuple[int, ...] = ()  # empty: KIND_CPU
    count: int = 1  # instances on each listed GPU (or in total on the CPU)
    max_batch_size: int | None = None  # None: keep the CPU config's
    preferred_batch_sizes: tuple[int, ...] = ()  # empty: keep the CPU config's
    max_queue_delay_us: int | None = None  # None: keep the CPU config's
    parameters: dict[str, str] = field(default_factory=dict)
    cpu_reason: str = ""  # required when gpus is empty: why this model stays on the CPU


@dataclass(frozen=True)
class Layout:
    name: str  # --model-config-name
    gpu_count: int
    description: str
    models: dict[str, Placement]
    reserved: dict[int, str] = field(default_factory=dict)  # GPU id -> its use outside Triton
    regenerate: str = ""  # the command that regenerates the files (for their header)


YAMNET_CPU_REASON = (
    "YAMNet here is a w8a8-quantised (QDQ uint8) ONNX graph that takes 2-3 ms per 0.96 s patch on one CPU core, "
    "about 0.1 s per 20 s window: it stays on the CPU, where a GPU slot would buy nothing."
)
SPEAKER_CPU_REASON = (
    "Resemblyzer's voice encoder is a 3-layer LSTM over 1.6 s mel partials, under 0.1 s per second of speech on one CPU "
    "core (measured with scripts/eval_speakers.py): it stays on the CPU, where a GPU slot would buy little."
)
BIRDNET_CPU_REASON = (
    "BirdNET runs on LiteRT (ai_edge_litert), whose Python interpreter has no CUDA delegate: "
    "it is CPU-only, so the tagger keeps KIND_CPU instances even on a GPU server."
)

STANDARD_LAYOUTS: dict[int, Layout] = {
    1: Layout(
        name="gpu",
        gpu_count=1,
        description="one GPU: every Triton model on GPU 0 (the VLM and NVENC share it)",
        models={
            "detector": Placement(gpus=(0,), count=2, max_batch_size=32, preferred_batch_sizes=(8, 16, 32)),
            "detector_engine": Placement(gpus=(0,), count=1, preferred_batch_sizes=(8, 16, 32)),
            "asr": Placement(gpus=(0,), count=1),
            "embedder": Placement(gpus=(0,), count=1),
            "sound_tagger": Placement(gpus=(), count=2, cpu_reason=BIRDNET_CPU_REASON),
            "audio_tagger": Placement(gpus=(), count=2, cpu_reason=YAMNET_CPU_REASON),
            "speaker_embedder": Placement(gpus=(), count=1, cpu_reason=SPEAKER_CPU_REASON),
        },
        regenerate=f"python {SCRIPT} --gpus 1",
    ),
    7: Layout(
        name="gpu7",
        gpu_count=7,
        description="7-GPU server: detector on GPUs 0-3, audio and text models on GPU 4, VLM on GPU 5, video encode on GPU 6",
        models={
            "detector": Placement(gpus=(0, 1, 2, 3), count=2, max_batch_size=32, preferred_batch_sizes=(8, 16, 32)),
            "detector_engine": Placement(gpus=(0, 1, 2, 3), count=1, preferred_batch_sizes=(8, 16, 32)),
            "asr": Placement(gpus=(4,), count=2),
            "embedder": Placement(gpus=(4,), count=1),
            "sound_tagger": Placement(gpus=(), count=4, cpu_reason=BIRDNET_CPU_REASON),
            "audio_tagger": Placement(gpus=(), count=4, cpu_reason=YAMNET_CPU_REASON),
            "speaker_embedder": Placement(gpus=(), count=2, cpu_reason=SPEAKER_CPU_REASON),
        },
        reserved={5: "VLM (SGLang, outside Triton)", 6: "video encode (FFmpeg NVENC, outside Triton)"},
        regenerate=f"python {SCRIPT} --gpus 7",
    ),
}


def repository_models(repository: Path) -> list[str]:
    """Models the generator must cover: folders with a CPU config, plus the GPU-only engines."""
    cpu = sorted(p.parent.name for p in repository.glob("*/config.pbtxt"))
    return cpu + sorted(m for m in ENGINE_MODELS if m not in cpu)


def validate_layout(layout: Layout, repository: Path) -> None:
    where = f"layout {layout.name!r}"
    if not re.fullmatch(r"[A-Za-z0-9_-]+", layout.name) or layout.name == "config":
        raise LayoutError(f"{where}: name must be letters, digits, '-' or '_' (and not 'config'); it becomes configs/<name>.pbtxt")
    if layout.gpu_count < 1:
        raise LayoutError(f"{where}: gpu_count must be at least 1, got {layout.gpu_count}")
    for gpu in layout.reserved:
        if not 0 <= gpu < layout.gpu_count:
            raise LayoutError(f"{where}: reserved GPU {gpu} is outside 0..{layout.gpu_count - 1}")
    expected = repository_models(repository)
    missing = [m for m in expected if m not in layout.models]
    if missing:
        raise LayoutError(
            f"{where}: no placement for {', '.join(missing)}; every model needs one, or Triton would "
            f"silently serve its CPU config under --model-config-name={layout.name}"
        )
    unknown = [m for m in layout.models if m not in expected]
    if unknown:
        raise LayoutError(f"{where}: unknown model(s) {', '.join(unknown)}; models are {', '.join(expected)}")
    for model, p in layout.models.items():
        at = f"{where}, model {model!r}"
        if p.count < 1:
            raise LayoutError(f"{at}: count must be at least 1, got {p.count}")
        bad = [g for g in p.gpus if not 0 <= g < layout.gpu_count]
        if bad:
            raise LayoutError(f"{at}: GPU {bad[0]} does not exist on a {layout.gpu_count}-GPU layout (ids 0..{layout.gpu_count - 1})")
        taken = [g for g in p.gpus if g in layout.reserved]
        if taken:
            raise LayoutError(f"{at}: GPU {taken[0]} is reserved for {layout.reserved[taken[0]]}; pick another GPU")
        if len(set(p.gpus)) != len(p.gpus):
            raise LayoutError(f"{at}: a GPU is listed twice in {list(p.gpus)}")
        if not p.gpus and not p.cpu_reason:
            raise LayoutError(f"{at}: no GPUs given; to keep it on the CPU say why in cpu_reason")
        if model in ENGINE_MODELS and not p.gpus:
            raise LayoutError(f"{at}: a {ENGINE_MODELS[model].platform} model runs only on GPUs; give it gpus")
        if p.max_batch_size is not None and p.max_batch_size < 1:
            raise LayoutError(f"{at}: max_batch_size must be at least 1")
        if any(b < 1 for b in p.preferred_batch_sizes):
            raise LayoutError(f"{at}: preferred batch sizes must be at least 1")


# --- building configs --------------------------------------------------------------------------


def parse_config(text: str, source: str = "<text>"):
    """Parse Triton model-config text format; a ParseError names the source, line and column."""
    config = mc.ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise text_format.ParseError(f"{source}: {exc}") from exc
    return config


def load_cpu_config(repository: Path, model: str):
    path = repository / model / "config.pbtxt"
    return parse_config(path.read_text(), str(path))


def _tensor(message, spec: TensorSpec) -> None:
    message.name = spec.name
    message.data_type = mc.DataType.Value(spec.data_type)
    message.dims.extend(spec.dims)


def engine_config(model: str, spec: EngineSpec):
    config = mc.ModelConfig(
        name=model,
        platform=spec.platform,
        max_batch_size=spec.max_batch_size,
        default_model_filename=spec.default_model_filename,
    )
    for t in spec.inputs:
        _tensor(config.input.add(), t)
    for t in spec.outputs:
        _tensor(config.output.add(), t)
    config.dynamic_batching.max_queue_delay_microseconds = spec.max_queue_delay_us
    return config


def gpu_config(model: str, placement: Placement, repository: Path):
    """The model's config for one placement (its CPU config, or its engine spec, re-placed)."""
    if model in ENGINE_MODELS:
        config = engine_config(model, ENGINE_MODELS[model])
    else:
        config = copy.deepcopy(load_cpu_config(repository, model))
        if config.name != model:
            raise LayoutError(f"{repository / model / 'config.pbtxt'}: name is {config.name!r}, expected {model!r}")
    settings = MODEL_GPU_SETTINGS.get(model, GpuSettings())

    if placement.max_batch_size is not None:
        config.max_batch_size = placement.max_batch_size
    if placement.preferred_batch_sizes:
        config.dynamic_batching.ClearField("preferred_batch_size")
        config.dynamic_batching.preferred_batch_size.extend(placement.preferred_batch_sizes)
    if placement.max_queue_delay_us is not None:
        config.dynamic_batching.max_queue_delay_microseconds = placement.max_queue_delay_us
    too_big = [b for b in config.dynamic_batching.preferred_batch_size if b > config.max_batch_size]
    if too_big:
        raise LayoutError(
            f"model {model!r}: preferred batch size {too_big[0]} exceeds max_batch_size {config.max_batch_size}; lower it or raise max_batch_size in the layout"
        )

    config.ClearField("instance_group")
    group = config.instance_group.add()
    group.count = placement.count
    if placement.gpus:
        group.kind = mc.ModelInstanceGroup.KIND_GPU
        group.gpus.extend(placement.gpus)
    else:
        group.kind = mc.ModelInstanceGroup.KIND_CPU

    for key in settings.drop_parameters:
        if key in config.parameters:
            del config.parameters[key]
    for key, value in {**settings.parameters, **placement.parameters}.items():
        config.parameters[key].string_value = str(value)
    return config


def _placement_line(layout: Layout, placement: Placement) -> str:
    if not placement.gpus:
        return f"{placement.count} CPU instance(s)"
    gpus = ", ".join(map(str, placement.gpus))
    return f"{placement.count} instance(s) on each of GPU {gpus}"


def header(layout: Layout, model: str) -> str:
    placement = layout.models[model]
    source = "its engine spec" if model in ENGINE_MODELS else "../config.pbtxt (inputs and outputs unchanged)"
    lines = [
        f"GENERATED by {SCRIPT} from {source} and layout {layout.name!r}; do not edit by hand.",
        f"Regenerate: {layout.regenerate or f'python {SCRIPT} --layout <file>'}",
        f"Layout: {layout.description}.",
    ]
    for gpu, use in sorted(layout.reserved.items()):
        lines.append(f"GPU {gpu} is reserved: {use}.")
    lines.append(f"Placement: {_placement_line(layout, placement)}.")
    if placement.cpu_reason:
        lines.append(f"Kept on the CPU: {placement.cpu_reason}")
    note = ENGINE_MODELS[model].note if model in ENGINE_MODELS else MODEL_GPU_SETTINGS.get(model, GpuSettings()).note
    if note:
        lines.append(note)
    out = []
    for line in lines:  # wrap at ~100 columns so the files stay readable
        words, current = line.split(), ""
        for word in words:
            if current and len(current) + 1 + len(word) > 96:
                out.append(current)
                current = word
            else:
                current = f"{current} {word}".strip()
        out.append(current)
    return "".join(f"# {line}\n" for line in out)


def render(config, layout: Layout, model: str) -> str:
    return header(layout, model) + text_format.MessageToString(config)


def render_layout(layout: Layout, repository: Path = REPOSITORY) -> dict[Path, str]:
    """Every generated file of a layout: path -> text."""
    validate_layout(layout, repository)
    files = {}
    for model in repository_models(repository):
        config = gpu_config(model, layout.models[model], repository)
        files[repository / model / "configs" / f"{layout.name}.pbtxt"] = render(config, layout, model)
    return files


# --- layout files ------------------------------------------------------------------------------

PLACEMENT_KEYS = {"gpus", "count", "max_batch_size", "preferred_batch_sizes", "max_queue_delay_us", "parameters", "cpu_reason"}
LAYOUT_KEYS = {"name", "gpu_count", "description", "models", "reserved"}


def _int_list(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise LayoutError(f"{what} must be a list of integers, got {value!r}")
    return tuple(value)


def _int(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LayoutError(f"{what} must be an integer, got {value!r}")
    return value


def layout_from_dict(data, source: str) -> Layout:
    if not isinstance(data, dict):
        raise LayoutError(f"{source}: a layout is a mapping with keys {', '.join(sorted(LAYOUT_KEYS))}")
    unknown = set(data) - LAYOUT_KEYS
    if unknown:
        raise LayoutError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(LAYOUT_KEYS))}")
    for key in ("name", "gpu_count", "models"):
        if key not in data:
            raise LayoutError(f"{source}: missing {key!r}")
    if not isinstance(data["models"], dict):
        raise LayoutError(f"{source}: 'models' must map model names to placements")
    models = {}
    for model, raw in data["models"].items():
        at = f"{source}: models.{model}"
        raw = raw or {}
        if not isinstance(raw, dict):
            raise LayoutError(f"{at} must be a mapping")
        bad = set(raw) - PLACEMENT_KEYS
        if bad:
            raise LayoutError(f"{at}: unknown key(s) {', '.join(sorted(bad))}; allowed: {', '.join(sorted(PLACEMENT_KEYS))}")
        params = raw.get("parameters") or {}
        if not isinstance(params, dict):
            raise LayoutError(f"{at}.parameters must be a mapping of names to values")
        models[str(model)] = Placement(
            gpus=_int_list(raw.get("gpus", []), f"{at}.gpus"),
            count=_int(raw.get("count", 1), f"{at}.count"),
            max_batch_size=None if raw.get("max_batch_size") is None else _int(raw["max_batch_size"], f"{at}.max_batch_size"),
            preferred_batch_sizes=_int_list(raw.get("preferred_batch_sizes", []), f"{at}.preferred_batch_sizes"),
            max_queue_delay_us=None if raw.get("max_queue_delay_us") is None else _int(raw["max_queue_delay_us"], f"{at}.max_queue_delay_us"),
            parameters={str(k): str(v) for k, v in params.items()},
            cpu_reason=str(raw.get("cpu_reason") or ""),
        )
    reserved = data.get("reserved") or {}
    if not isinstance(reserved, dict):
        raise LayoutError(f"{source}: 'reserved' must map GPU ids to what uses them")
    return Layout(
        name=str(data["name"]),
        gpu_count=_int(data["gpu_count"], f"{source}: gpu_count"),
        description=str(data.get("description") or f"custom layout from {Path(source).name}"),
        models=models,
        reserved={_int(k, f"{source}: reserved GPU id"): str(v) for k, v in reserved.items()},
        regenerate=f"python {SCRIPT} --layout {Path(source).name}",
    )


def load_layout(path: Path) -> Layout:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise LayoutError(f"cannot read layout {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise LayoutError(f"{path}: not valid YAML: {exc}") from exc
    return layout_from_dict(data, str(path))


def layout_to_yaml(layout: Layout) -> str:
    data = {
        "name": layout.name,
        "gpu_count": layout.gpu_count,
        "description": layout.description,
        "reserved": dict(layout.reserved),
        "models": {},
    }
    for model, p in layout.models.items():
        entry = {k: v for k, v in asdict(p).items() if v not in (None, (), {}, "")}
        entry["gpus"] = list(p.gpus)
        for key in ("preferred_batch_sizes",):
            if key in entry:
                entry[key] = list(entry[key])
        data["models"][model] = entry
    return yaml.safe_dump(data, sort_keys=False, width=100)


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--gpus", type=int, choices=sorted(STANDARD_LAYOUTS), help="a standard layout (default: all standard layouts)")
    which.add_argument("--layout", type=Path, help="a custom layout YAML file")
    parser.add_argument("--repository", type=Path, default=REPOSITORY, help="Triton model repository (default: triton_models/)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from what would be written")
    parser.add_argument("--print-layout", action="store_true", help="print the layout as YAML (a starting point for --layout)")
    args = parser.parse_args(argv)

    try:
        if args.layout:
            layouts = [load_layout(args.layout)]
        elif args.gpus:
            layouts = [STANDARD_LAYOUTS[args.gpus]]
        else:
            layouts = list(STANDARD_LAYOUTS.values())
        if args.print_layout:
            print("\n---\n".join(layout_to_yaml(layout) for layout in layouts), end="")
            return 0
        files: dict[Path, str] = {}
        for layout in layouts:
            files.update(render_layout(layout, args.repository))
    except (LayoutError, text_format.ParseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stale = [path for path, text in files.items() if not path.is_file() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"differs: {path}", file=sys.stderr)
        if stale:
            print(f"error: {len(stale)} generated config(s) are out of date; run: python {SCRIPT}", file=sys.stderr)
            return 1
        print(f"ok: {len(files)} generated config(s) up to date")
        return 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        print(f"wrote {path}")
    print(f"{len(files)} config(s), {len(stale)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
