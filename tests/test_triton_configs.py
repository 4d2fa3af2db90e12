"""Every Triton config (CPU ``config.pbtxt`` and GPU ``configs/*.pbtxt``) parsed with Triton's own
model-config protobuf, checked for what the GPU layouts promise, and kept equal to the generator's
output; the GPU launch and tuning scripts checked as far as a machine without GPUs can."""

from __future__ import annotations

import ast
import re
import importlib.util
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import text_format

REPO = Path(__file__).resolve().parent.parent
REPOSITORY = REPO / "triton_models"
sys.path.insert(0, str(REPO / "scripts"))

import make_gpu_configs as gen  # noqa: E402

mc = gen.mc  # tritonclient's model_config_pb2, loaded from its file (no grpcio needed)
LAYOUTS = {layout.name: layout for layout in gen.STANDARD_LAYOUTS.values()}
GPU_FILES = sorted(REPOSITORY.glob("*/configs/*.pbtxt"))
CPU_FILES = sorted(REPOSITORY.glob("*/config.pbtxt"))


def parse(path: Path):
    return gen.parse_config(path.read_text(), str(path))


def problems(model: str, config, layout: gen.Layout, repository: Path = REPOSITORY) -> list[str]:
    """What is wrong with one GPU config of ``layout``; [] when it keeps every promise."""
    found = []
    if config.name != model:
        found.append(f"name {config.name!r} is not the folder name {model!r}")
    cpu_path = repository / model / "config.pbtxt"
    if cpu_path.is_file():  # same interface on both servers
        cpu = parse(cpu_path)
        if list(config.input) != list(cpu.input) or list(config.output) != list(cpu.output):
            found.append("inputs/outputs differ from the CPU config")
        if config.backend != cpu.backend or config.platform != cpu.platform:
            found.append("backend/platform differ from the CPU config")
    if not config.instance_group:
        found.append("no instance_group")
    for group in config.instance_group:
        if group.kind == mc.ModelInstanceGroup.KIND_CPU:
            if not layout.models[model].cpu_reason:
                found.append("KIND_CPU without a documented reason")
        elif group.kind != mc.ModelInstanceGroup.KIND_GPU:
            found.append(f"instance kind {mc.ModelInstanceGroup.Kind.Name(group.kind)}")
        elif not group.gpus:
            found.append("KIND_GPU without an explicit GPU list")
        for gpu in group.gpus:
            if not 0 <= gpu < layout.gpu_count:
                found.append(f"GPU {gpu} outside the {layout.gpu_count}-GPU layout")
            if gpu in layout.reserved:
                found.append(f"GPU {gpu} is reserved for {layout.reserved[gpu]}")
    if config.HasField("dynamic_batching"):
        for size in config.dynamic_batching.preferred_batch_size:
            if not 1 <= size <= config.max_batch_size:
                found.append(f"preferred batch size {size} outside 1..max_batch_size {config.max_batch_size}")
    return found


@pytest.mark.parametrize("path", CPU_FILES + GPU_FILES, ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_every_config_parses_with_tritons_protobuf(path):
    config = parse(path)
    assert config.name == path.parent.name if path.name == "config.pbtxt" else config.name == path.parent.parent.name
    assert config.max_batch_size > 0 and config.input and config.output


def test_every_model_has_both_standard_gpu_configs():
    models = gen.repository_models(REPOSITORY)
    assert set(models) == {"detector", "detector_engine", "asr", "sound_tagger", "audio_tagger", "embedder", "speaker_embedder"}
    for model in models:
        for name in LAYOUTS:
            assert (REPOSITORY / model / "configs" / f"{name}.pbtxt").is_file(), f"{model}: configs/{name}.pbtxt missing"


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_gpu_configs_keep_the_layouts_promises(name):
    layout = LAYOUTS[name]
    for model in gen.repository_models(REPOSITORY):
        config = parse(REPOSITORY / model / "configs" / f"{name}.pbtxt")
        assert problems(model, config, layout) == [], f"{model}/configs/{name}.pbtxt"
        kinds = {g.kind for g in config.instance_group}
        if model == "sound_tagger":
            # LiteRT BirdNET is CPU-only; the file says so
            assert kinds == {mc.ModelInstanceGroup.KIND_CPU}
            assert "CPU-only" in (REPOSITORY / model / "configs" / f"{name}.pbtxt").read_text()
        elif model == "audio_tagger":
            # the quantised YAMNet stays on the CPU, and the file says why
            assert kinds == {mc.ModelInstanceGroup.KIND_CPU}
            assert "Kept on the CPU: YAMNet" in (REPOSITORY / model / "configs" / f"{name}.pbtxt").read_text()
        elif model == "speaker_embedder":
            # the small LSTM voice encoder stays on the CPU, and the file says why
            assert kinds == {mc.ModelInstanceGroup.KIND_CPU}
            assert "Kept on the CPU: Resemblyzer" in (REPOSITORY / model / "configs" / f"{name}.pbtxt").read_text()
        else:
            assert kinds == {mc.ModelInstanceGroup.KIND_GPU}


def test_seven_gpu_layout_pins_models_per_the_design():
    gpus = {}
    for model in ("detector", "detector_engine", "asr", "embedder"):
        config = parse(REPOSITORY / model / "configs" / "gpu7.pbtxt")
        gpus[model] = sorted({g for group in config.instance_group for g in group.gpus})
    assert gpus == {"detector": [0, 1, 2, 3], "detector_engine": [0, 1, 2, 3], "asr": [4], "embedder": [4]}
    single = {g for model in gpus for group in parse(REPOSITORY / model / "configs" / "gpu.pbtxt").instance_group for g in group.gpus}
    assert single == {0}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_detector_engine_is_a_batched_tensorrt_plan_the_detector_can_call(name):
    engine = parse(REPOSITORY / "detector_engine" / "configs" / f"{name}.pbtxt")
    assert engine.platform == "tensorrt_plan" and engine.max_batch_size == 32
    assert engine.default_model_filename == "model.plan"
    assert engine.HasField("dynamic_batching") and engine.dynamic_batching.preferred_batch_size
    assert max(engine.dynamic_batching.preferred_batch_size) <= engine.max_batch_size
    assert [(t.name, mc.DataType.Name(t.data_type), list(t.dims)) for t in engine.input] == [("pixel_values", "TYPE_FP32", [3, 640, 640])]
    assert [(t.name, mc.DataType.Name(t.data_type), list(t.dims)) for t in engine.output] == [
        ("logits", "TYPE_FP32", [300, 80]),
        ("pred_boxes", "TYPE_FP32", [300, 4]),
    ]
    assert not (REPOSITORY / "detector_engine" / "config.pbtxt").exists()  # the CPU server never loads it

    detector = parse(REPOSITORY / "detector" / "configs" / f"{name}.pbtxt")
    params = {k: v.string_value for k, v in detector.parameters.items()}
    assert params["head"] == "rtdetr"
    target = REPOSITORY / params["engine_model"] / "configs" / f"{name}.pbtxt"
    assert target.is_file(), f"engine_model {params['engine_model']!r} has no configs/{name}.pbtxt"
    assert parse(target).name == params["engine_model"]
    # the detector's BLS code names the engine's tensors as this config does
    source = (REPOSITORY / "detector" / "1" / "model.py").read_text()
    literals = {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    missing = {t.name for t in (*engine.input, *engine.output)} - literals
    assert not missing, f"detector/1/model.py never names engine tensor(s) {sorted(missing)}"


def test_committed_gpu_configs_equal_the_generators_output():
    for layout in gen.STANDARD_LAYOUTS.values():
        for path, text in gen.render_layout(layout).items():
            assert path.read_text() == text, f"{path.relative_to(REPO)} drifted; run python scripts/make_gpu_configs.py"
    check = subprocess.run([sys.executable, "scripts/make_gpu_configs.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_broken_configs_fail_to_parse_and_to_check():
    good = (REPOSITORY / "detector" / "configs" / "gpu7.pbtxt").read_text()
    for broken in (
        good.replace("max_batch_size", "max_batch_sise"),  # unknown field
        good.replace("KIND_GPU", "KIND_TPU"),  # unknown enum value
        good.replace('name: "detector"', 'name: "detector'),  # unterminated string
    ):
        assert broken != good
        with pytest.raises(text_format.ParseError):
            gen.parse_config(broken, "broken.pbtxt")
    # parses, but breaks the layout's promises: the semantic check must say so
    layout = LAYOUTS["gpu7"]
    config = gen.parse_config(good.replace("gpus: 3", "gpus: 5"), "broken.pbtxt")
    config.dynamic_batching.preferred_batch_size.append(64)
    config.input[0].data_type = mc.TYPE_FP32
    found = problems("detector", config, layout)
    assert any("reserved" in p for p in found)
    assert any("preferred batch size 64" in p for p in found)
    assert any("inputs/outputs differ" in p for p in found)


def _copy_cpu_repository(dest: Path) -> Path:
    for cpu in CPU_FILES:
        (dest / cpu.parent.name).mkdir(parents=True)
        shutil.copy2(cpu, dest / cpu.parent.name / "config.pbtxt")
    return dest


def test_custom_layout_from_yaml(tmp_path):
    repository = _copy_cpu_repository(tmp_path / "repo")
    layout_file = tmp_path / "two_gpus.yaml"
    layout_file.write_text(
        "name: gpu2\ngpu_count: 2\nreserved: {1: VLM}\nmodels:\n"
        "  detector: {gpus: [0], count: 3}\n"
        "  detector_engine: {gpus: [0], preferred_batch_sizes: [4, 8]}\n"
        "  asr: {gpus: [0], parameters: {model: whisper-base}}\n"
        "  embedder: {gpus: [0]}\n"
        "  sound_tagger: {cpu_reason: LiteRT is CPU-only}\n"
        "  audio_tagger: {cpu_reason: cheap on the CPU}\n"
        "  speaker_embedder: {cpu_reason: a small LSTM}\n"
    )
    run = subprocess.run(
        [sys.executable, "scripts/make_gpu_configs.py", "--layout", str(layout_file), "--repository", str(repository)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    layout = gen.load_layout(layout_file)
    for model in gen.repository_models(repository):
        config = parse(repository / model / "configs" / "gpu2.pbtxt")
        assert problems(model, config, layout, repository) == []
    assert parse(repository / "detector" / "configs" / "gpu2.pbtxt").instance_group[0].count == 3
    assert list(parse(repository / "detector_engine" / "configs" / "gpu2.pbtxt").dynamic_batching.preferred_batch_size) == [4, 8]
    assert parse(repository / "asr" / "configs" / "gpu2.pbtxt").parameters["model"].string_value == "whisper-base"

    # the standard layouts round-trip through YAML unchanged
    dumped = subprocess.run(
        [sys.executable, "scripts/make_gpu_configs.py", "--gpus", "7", "--print-layout"], cwd=REPO, capture_output=True, text=True, check=True
    )
    (tmp_path / "gpu7.yaml").write_text(dumped.stdout)
    again = gen.load_layout(tmp_path / "gpu7.yaml")
    for model in gen.repository_models(REPOSITORY):
        assert gen.gpu_config(model, again.models[model], REPOSITORY) == gen.gpu_config(model, LAYOUTS["gpu7"].models[model], REPOSITORY)


@pytest.mark.parametrize(
    "edit, message",
    [
        ("  asr: {gpus: [0]}\n", "no placement for asr"),
        ("  asr: {gpus: [2]}\n", "GPU 2 does not exist on a 2-GPU layout"),
        ("  asr: {gpus: [1]}\n", "GPU 1 is reserved for VLM"),
        ("  asr: {gpus: []}\n", "say why in cpu_reason"),
        ("  asr: {gpus: [0], speed: 11}\n", "unknown key(s) speed"),
        ("  asr: {gpus: [0]}\n  whisper: {gpus: [0]}\n", "unknown model(s) whisper"),
    ],
)
def test_bad_layouts_are_refused_with_a_clear_message(tmp_path, edit, message):
    repository = _copy_cpu_repository(tmp_path / "repo")
    base = (
        "name: gpu2\ngpu_count: 2\nreserved: {1: VLM}\nmodels:\n"
        "  detector: {gpus: [0]}\n  detector_engine: {gpus: [0]}\n  embedder: {gpus: [0]}\n"
        "  sound_tagger: {cpu_reason: CPU-only}\n  audio_tagger: {cpu_reason: CPU-only}\n  speaker_embedder: {cpu_reason: CPU-only}\n"
    )
    text = base if message.startswith("no placement") else base + edit
    layout_file = tmp_path / "bad.yaml"
    layout_file.write_text(text)
    run = subprocess.run(
        [sys.executable, "scripts/make_gpu_configs.py", "--layout", str(layout_file), "--repository", str(repository)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert not list(repository.glob("*/configs/*.pbtxt"))  # nothing half-written


def _load_model_module(model: str):
    """A python-backend model.py, importable with the python backend's own utils module."""
    pytriton = importlib.util.find_spec("pytriton")
    utils_dir = Path(list(pytriton.submodule_search_locations)[0]) / "tritonserver" / "backends" / "python"
    sys.path.insert(0, str(utils_dir))
    try:
        spec = importlib.util.spec_from_file_location(f"vdet_{model}_model", REPOSITORY / model / "1" / "model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(utils_dir))


def test_asr_picks_the_instance_gpu_and_falls_back_to_the_cpu_with_a_warning():
    asr = _load_model_module("asr")
    cpu_types = {"float32", "int8_float32", "int8"}
    assert asr.choose_device("GPU", "3", "float16", 4, cpu_types) == ("cuda", 3, "float16", None)
    assert asr.choose_device("CPU", "0", "int8", 4, cpu_types) == ("cpu", 0, "int8", None)
    device, index, compute_type, warning = asr.choose_device("GPU", "3", "float16", 0, cpu_types)
    assert (device, compute_type) == ("cpu", "int8") and "GPU 3" in warning and "no CUDA device" in warning
    assert "only 2 CUDA device(s)" in asr.choose_device("GPU", "3", "float16", 2, cpu_types)[3]


def test_embedder_picks_the_instance_gpu_and_falls_back_to_the_cpu_with_a_warning():
    embedder = _load_model_module("embedder")
    assert embedder.choose_device("GPU", "4", 7) == ("cuda:4", None)
    assert embedder.choose_device("CPU", "0", 7) == ("cpu", None)
    device, warning = embedder.choose_device("GPU", "4", 0)
    assert device == "cpu" and "GPU 4" in warning and "no CUDA device" in warning


def test_start_script_is_valid_bash_and_prints_the_ngc_launch():
    script = REPO / "scripts" / "start_triton_gpu.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    for name in LAYOUTS:
        run = subprocess.run(
            [str(script), "--layout", name, "--dry-run"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "VDET_MODELS": "/srv/weights"},
        )
        assert run.returncode == 0, run.stderr
        build, launch = (shlex.split(line.split("#")[0]) for line in run.stdout.strip().splitlines())
        assert build[:2] == ["docker", "build"] and "docker/triton-gpu.Dockerfile" in build[build.index("-f") + 1]
        assert launch[:2] == ["docker", "run"] and launch[launch.index("--gpus") + 1] == "all"
        assert any(a.startswith("--shm-size=") for a in launch)
        assert {"8000:8000", "8001:8001", "8002:8002"} <= set(launch)
        assert f"{REPOSITORY}:/models:ro" in launch and "/srv/weights:/weights:ro" in launch
        image = launch[launch.index("tritonserver") - 1]
        assert image.startswith("video-detective/triton-gpu:") and not image.endswith(":latest")
        server = launch[launch.index("tritonserver") :]
        assert f"--model-config-name={name}" in server and "--model-control-mode=explicit" in server
        assert {a.split("=", 1)[1] for a in server if a.startswith("--load-model=")} == set(gen.repository_models(REPOSITORY))
    dockerfile = (REPO / "docker" / "triton-gpu.Dockerfile").read_text()
    assert "FROM nvcr.io/nvidia/tritonserver:${NGC_TAG}-py3" in dockerfile
    pins = [line for line in (REPO / "docker" / "requirements-triton-gpu.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9_.+]*", pin) for pin in pins), pins
    bad = subprocess.run([str(script), "--layout", "nope", "--dry-run"], capture_output=True, text=True)
    assert bad.returncode == 2 and "configs/nope.pbtxt is missing" in bad.stderr


def test_tuning_recipes_prepare_real_inputs_and_valid_commands(tmp_path, media_dir):
    import json

    import yaml

    run = subprocess.run(
        [
            sys.executable,
            "scripts/tune_triton.py",
            "--out",
            str(tmp_path),
            "--dry-run",
            "perf",
            "--image",
            str(media_dir / "bus.jpg"),
            "--concurrency",
            "1,4,16",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads((tmp_path / "detector_input_720x1280.json").read_text())
    image = data["data"][0]["IMAGE"]
    assert image["shape"] == [720, 1280, 3] and len(image["content"]) == 720 * 1280 * 3
    assert 0 <= min(image["content"]) and max(image["content"]) <= 255 and len(set(image["content"][:5000])) > 10  # a photo, not a blank
    commands = [shlex.split(line) for line in run.stdout.splitlines() if not line.startswith("#")]
    assert [c[c.index("--concurrency-range") + 1] for c in commands] == ["1:1", "4:4", "16:16"]
    for c in commands:
        assert c[c.index("--shape") + 1] == "IMAGE:720,1280,3" and c[c.index("-m") + 1] == "detector"

    run = subprocess.run(
        [sys.executable, "scripts/tune_triton.py", "--out", str(tmp_path), "--dry-run", "analyze", "--layout", "gpu7"], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    staged = parse(tmp_path / "analyzer" / "repository" / "detector_engine" / "config.pbtxt")
    assert staged.platform == "tensorrt_plan" and all(not g.gpus for g in staged.instance_group)
    command = shlex.split(run.stdout.splitlines()[-1])
    assert command[command.index("model-analyzer") + 1] == "profile"

    analyzer = yaml.safe_load((REPO / "scripts" / "model_analyzer.yaml").read_text())
    assert analyzer["run_config_search_mode"] == "quick" and list(analyzer["profile_models"]) == ["detector_engine"]
    engine = parse(REPOSITORY / "detector_engine" / "configs" / "gpu.pbtxt")
    assert analyzer["run_config_search_max_model_batch_size"] <= engine.max_batch_size  # the plan's profile limit
    # the analyzer's Triton is the release the server runs
    ngc_tag = re.search(r'NGC_TAG="\$\{TRITON_NGC_TAG:-([0-9.]+)\}"', (REPO / "scripts" / "start_triton_gpu.sh").read_text()).group(1)
    assert analyzer["triton_docker_image"] == f"nvcr.io/nvidia/tritonserver:{ngc_tag}-py3"
