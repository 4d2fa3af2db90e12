"""Start and stop the real Triton Inference Server on the repository in ``triton_models/``.

In production Triton runs from NVIDIA's container and the orchestrator is given
``TRITON_URL``. On the embedded default we start the ``tritonserver`` binary that
the ``nvidia-pytriton`` wheel bundles (Triton 2.51, python backend only) on free
loopback ports. The launch facts (backend folder, ``LD_LIBRARY_PATH``, ``PATH``)
are in DESIGN.md.

    with TritonServer.start() as server:
        print(server.http_url)   # "127.0.0.1:41234"
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import lifeline, weights, zero_shot
from .settings import Settings, env_name, get_settings

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parent.parent / "triton_models"
DEFAULT_MODELS = ("detector", "asr", "sound_tagger", "audio_tagger", "speaker_embedder", "embedder", "image_text", "audio_text")
# zero-shot dual encoders (orchestrator/zero_shot.py), served from their configs/cpu.pbtxt, each only where its weights are
ZERO_SHOT_CONFIGS = {"image_text": "cpu", "audio_text": "cpu"}
DETECTOR_HEADS = ("centernet", "rtdetr", "yolov10")
# the detector config each non-default head is served with (detector/configs/NAME.pbtxt, through an overlay)
DETECTOR_CONFIGS = {"rtdetr": "cpu-rtdetr", "yolov10": "cpu-yolov10"}
# open-vocabulary boxes (orchestrator/grounding.py): loaded with the others, but only where its weights are
DEFAULT_MODELS += ("grounder",)


class TritonStartError(RuntimeError):
    """Triton could not be started; the message carries the server's own last lines."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pytriton_root() -> Path:
    # Only the bundled binary is used: locate the package without importing it.
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonStartError("nvidia-pytriton is not installed; run `make setup`")
    return Path(list(spec.submodule_search_locations)[0]).resolve() / "tritonserver"


def shm_prefix(http_port: int) -> str:
    return f"vdet_triton_{http_port}_"


def remove_shm_regions(http_port: int) -> None:
    for region in Path("/dev/shm").glob(shm_prefix(http_port) + "*"):
        try:
            region.unlink()
        except OSError:
            pass


def rtdetr_export_dir() -> Path:
    """Where the detector's model.py looks for an RT-DETR-v2 export (rtdetr.onnx + rtdetr.json)."""
    explicit = get_settings().rtdetr_path
    return explicit if explicit else weights.models_dir() / "detector-rtdetr"


def require_rtdetr_export() -> Path:
    path = rtdetr_export_dir()
    missing = [name for name in ("rtdetr.onnx", "rtdetr.json") if not (path / name).is_file()]
    if missing:
        raise TritonStartError(
            f"the RT-DETR-v2 detector is not exported ({path} lacks {', '.join(missing)}): run "
            "`.venv/bin/python scripts/export_rtdetr.py --checkpoint CHECKPOINT_DIR` (or unset VDET_DETECTOR for the default CenterNet)"
        )
    return path


def require_yolov10() -> Path:
    """The opt-in YOLOv10-N weights (AGPL-3.0), or a clear error saying how to get them."""
    if not weights.present("yolov10"):
        raise TritonStartError(
            f"the YOLOv10-N detector is not installed ({weights.role_path('yolov10')} lacks yolov10n.onnx; AGPL-3.0 weights, "
            "opt-in): run `.venv/bin/python -m orchestrator.weights fetch yolov10` (or unset VDET_DETECTOR for the default CenterNet)"
        )
    return weights.role_path("yolov10")


def overlay_repository(repository: Path, dest: Path, configs: dict[str, str]) -> Path:
    """A repository view in ``dest``: every model linked from ``repository``, except that each model in
    ``configs`` uses ``configs/<name>.pbtxt`` as its config. (Triton's ``--model-config-name`` would
    switch every model at once.)"""
    dest.mkdir(parents=True, exist_ok=True)
    for model_dir in sorted(p for p in repository.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
        if model_dir.name not in configs:
            (dest / model_dir.name).symlink_to(model_dir, target_is_directory=True)
            continue
        alt = model_dir / "configs" / f"{configs[model_dir.name]}.pbtxt"
        if not alt.is_file():
            raise TritonStartError(f"{alt} does not exist")
        (dest / model_dir.name).mkdir()
        shutil.copyfile(alt, dest / model_dir.name / "config.pbtxt")
        for version in (p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()):
            (dest / model_dir.name / version.name).symlink_to(version, target_is_directory=True)
    return dest


def build_backend_dir(dest: Path) -> Path:
    """A backend folder whose ``python/`` links the python backend and the stub for this Python."""
    root = _pytriton_root()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = root / "python_backend_stubs" / py / "triton_python_backend_stub"
    if not stub.is_file():
        raise TritonStartError(f"the bundled Triton has no python backend stub for Python {py}")
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for src in (root / "backends/python/libtriton_python.so", root / "backends/python/triton_python_backend_utils.py", stub):
        link = python_dir / src.name
        if not link.exists():
            link.symlink_to(src)
    return dest


# settings the Triton models read from their environment (asr's beam, the zero-shot and grounder folders)
MODEL_SIDE_SETTINGS = ("image_text_weights", "audio_text_weights", "grounder_path", "asr_beam_size")


def server_env() -> dict[str, str]:
    """Environment for tritonserver: this interpreter's libpython first, this venv's bin first."""
    env = dict(os.environ)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libdir, env.get("LD_LIBRARY_PATH", "")) if p)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    env.setdefault("VDET_MODELS", str(weights.models_dir()))
    settings = get_settings()
    for name in MODEL_SIDE_SETTINGS:  # read by the models' own processes: a config file's value reaches them too
        value = getattr(settings, name)
        if value is not None:
            env[env_name(Settings.model_fields[name])] = str(value)
    # Each model instance gets one or two threads; the machine has few cores.
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


@dataclass
class TritonServer:
    """A running ``tritonserver`` process we own."""

    process: subprocess.Popen
    http_port: int
    grpc_port: int
    workdir: Path
    log_path: Path
    models: tuple[str, ...] = field(default=DEFAULT_MODELS)
    watchdog: subprocess.Popen | None = None  # stops the server and removes its leftovers if we are killed (lifeline.py)

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @classmethod
    def start(
        cls,
        models: tuple[str, ...] | list[str] = DEFAULT_MODELS,
        repository: Path = REPOSITORY,
        config_name: str | None = None,
        timeout_s: float | None = None,
        http_port: int | None = None,
        grpc_port: int | None = None,
        detector_head: str | None = None,
    ) -> "TritonServer":
        """Start Triton with explicit model control, load ``models``, wait until all are ready.

        ``detector_head`` (default ``$VDET_DETECTOR`` or ``centernet``) picks the detector network:
        ``rtdetr`` serves an RT-DETR-v2 export (scripts/export_rtdetr.py) through ONNX Runtime, using
        ``detector/configs/cpu-rtdetr.pbtxt`` for the detector alone; ``yolov10`` (opt-in, AGPL-3.0 weights:
        ``python -m orchestrator.weights fetch yolov10``) likewise with ``detector/configs/cpu-yolov10.pbtxt``."""
        head = detector_head or get_settings().detector
        if head not in DETECTOR_HEADS:
            raise TritonStartError(f"detector {head!r} is not one of {', '.join(DETECTOR_HEADS)} (set VDET_DETECTOR to one of them)")
        if "grounder" in models:
            from . import grounding  # noqa: PLC0415

            if not grounding.weights_present():
                log.info("grounder is not served: %s has no config.json (%s names a Grounding DINO folder)", grounding.weights_dir(), grounding.WEIGHTS_ENV)
                models = tuple(m for m in models if m != "grounder")
        if "audio_tagger" in models and not weights.present("yamnet"):  # used whenever its weights are there
            log.warning("AudioSet tagger weights are not installed (run `make setup`): sounds are named without it")
            models = tuple(m for m in models if m != "audio_tagger")
        if "speaker_embedder" in models and not weights.present("resemblyzer"):
            log.warning("speaker encoder weights are not installed (run `make setup`): speech is transcribed without telling voices apart")
            models = tuple(m for m in models if m != "speaker_embedder")
        for model in [m for m in models if m in ZERO_SHOT_CONFIGS and not zero_shot.weights_present(m)]:
            log.info(
                "%s is not served: %s has no config.json (%s names a Hugging Face model folder)",
                model,
                zero_shot.weights_dir(model),
                zero_shot.WEIGHTS_ENV[model],
            )
            models = tuple(m for m in models if m != model)
        if "detector" in models:
            if head == "centernet":
                weights.require("detector")
            elif head == "yolov10":
                require_yolov10()
            else:
                require_rtdetr_export()
        workdir = Path(tempfile.mkdtemp(prefix="vdet-triton-"))
        http_port = http_port or free_port()
        grpc_port = grpc_port or free_port()
        regions = str(lifeline.SHM_DIR / (shm_prefix(http_port) + "*"))
        lifeline.write_owner(workdir, regions)  # a run killed with everything it started is swept by the next one
        configs = {m: c for m, c in ZERO_SHOT_CONFIGS.items() if m in models}
        if "detector" in models and head in DETECTOR_CONFIGS:
            configs["detector"] = DETECTOR_CONFIGS[head]
        if configs:
            repository = overlay_repository(repository, workdir / "models", configs)
        if "grounder" in models:  # its config is configs/cpu.pbtxt: a CPU-only model the GPU layouts (make_gpu_configs.py) do not place yet
            repository = overlay_repository(repository, workdir / "models-grounder", {"grounder": "cpu"})
        backend_dir = build_backend_dir(workdir / "backends")
        log_path = workdir / "tritonserver.log"
        cmd = [
            str(_pytriton_root() / "bin" / "tritonserver"),
            f"--model-repository={repository}",
            f"--backend-directory={backend_dir}",
            "--model-control-mode=explicit",
            *[f"--load-model={m}" for m in models],
            "--http-address=127.0.0.1",
            f"--http-port={http_port}",
            "--grpc-address=127.0.0.1",
            f"--grpc-port={grpc_port}",
            "--allow-metrics=false",
            "--exit-timeout-secs=5",
            "--log-verbose=0",
            # our own shared-memory names, so a server that was killed can have its regions removed
            f"--backend-config=python,shm-region-prefix-name={shm_prefix(http_port)}",
        ]
        if config_name:
            cmd.append(f"--model-config-name={config_name}")
        logfile = open(log_path, "wb")
        process = subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT, env=server_env(), start_new_session=True)
        logfile.close()
        watchdog = lifeline.guard(process.pid, dirs=[workdir], globs=[regions])
        server = cls(process, http_port, grpc_port, workdir, log_path, tuple(models), watchdog)
        try:
            server.wait_ready(timeout_s if timeout_s is not None else get_settings().triton_start_timeout_s)
        except BaseException:
            server.stop()
            raise
        return server

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TritonStartError(f"tritonserver exited with code {self.process.returncode}:\n{self.log_tail()}")
            if self.is_ready():
                return
            time.sleep(0.2)
        raise TritonStartError(
            f"tritonserver not ready after {timeout_s:.0f} s (a loaded machine may need more: set VDET_TRITON_START_TIMEOUT_S):\n{self.log_tail()}"
        )

    def is_ready(self) -> bool:
        try:
            for model in self.models:
                url = f"http://{self.http_url}/v2/models/{model}/ready"
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status != 200:
                        return False
            return True
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL; remove the python backend's shared-memory leftovers."""
        lifeline.release(self.watchdog)
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        remove_shm_regions(self.http_port)  # left behind when the server or a stub was killed
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "TritonServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
