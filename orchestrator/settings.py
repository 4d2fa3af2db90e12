"""One configuration: defaults < config file < environment < explicit CLI flags, in one pydantic-settings model.

Every product setting has a field here, named after its environment variable (``home`` is ``VDET_HOME``),
a default and a one-line description. The optional config file is TOML with the field names as keys:
``$VDET_CONFIG`` when set, else ``<home>/config.toml`` (``home`` from ``--home``, ``VDET_HOME`` or the default).
An unknown key in it is an error that names the file and the key. ``python -m orchestrator config``
prints every effective value and where it came from.

>>> s = Settings.from_layers(file={"port": 8000}, env={"VDET_PORT": "9000"}, flags={})
>>> s.port, s.origin("port"), s.origin("host")
(9000, 'env', 'default')
>>> split_list("a, b,,c")
('a', 'b', 'c')
"""

from __future__ import annotations

import os
import threading
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_LANES = ("motion", "objects", "speech", "sounds", "text", "look")  # the senses run on every window (orchestrator/lanes/)
CONFIG_ENV = "VDET_CONFIG"
ORIGINS = ("default", "file", "env", "flag")


class SettingsError(ValueError):
    """A config file that cannot be read, or a value that does not fit its setting; the message says which."""


def _cache(*parts: str) -> Path:
    return Path.home() / ".cache" / "video-detective" / Path(*parts)


def setting(env: str, description: str, default: Any = None, *, factory=None, secret: bool = False) -> Any:
    extra = {"env": env, "secret": secret}
    if factory is not None:
        return Field(default_factory=factory, description=description, json_schema_extra=extra)
    return Field(default=default, description=description, json_schema_extra=extra)


def env_name(field: FieldInfo) -> str:
    return field.json_schema_extra["env"]  # type: ignore[index]


def split_list(raw: Any, sep: str = ",") -> Any:
    """A comma-separated string as a tuple of its non-empty items; anything else unchanged."""
    if isinstance(raw, str):
        return tuple(x.strip() for x in raw.split(sep) if x.strip())
    return raw


class Settings(BaseSettings):
    """The effective settings of this process (see the module docstring for where each comes from)."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, validate_default=True)

    # storage
    home: Path = setting("VDET_HOME", "folder for the database, uploaded copies and caches (--home)", factory=lambda: _cache("home"))
    models: Path = setting("VDET_MODELS", "folder of the model weights (shared between homes)", factory=lambda: _cache("models"))
    # ingest
    window_s: float = setting("VDET_WINDOW_S", "the app's window length in seconds (the CLI has --window-s)", 20.0)
    executor: str = setting("VDET_EXECUTOR", "where windows are analysed: local threads or ray tasks (--executor)", "local")
    lanes: tuple[str, ...] = setting("VDET_LANES", "comma-separated senses to run (--lanes); empty: all", DEFAULT_LANES)
    audioset_threshold: float = setting("VDET_AUDIOSET_THRESHOLD", "probability from which the AudioSet tagger's class is believed", 0.6)
    detector: str = setting("VDET_DETECTOR", "detector network: centernet, rtdetr or yolov10 (--detector)", "centernet")
    decoder: str = setting("VDET_DECODER", "video decoder: auto, decord, pyav or nvdec", "auto")
    nvdec_gpu: int = setting("VDET_NVDEC_GPU", "GPU index the NVDEC decoder uses", 0)
    probe_timeout_s: float = setting("VDET_PROBE_TIMEOUT_S", "seconds ffprobe may take on one file", 60.0)
    rules: tuple[Path, ...] = setting("VDET_RULES", f"extra rule files ({os.pathsep!r}-separated in the environment)", ())
    # services
    triton_url: str | None = setting("TRITON_URL", "Triton to use (host:port); unset: a private one is started")
    triton_start_timeout_s: float = setting("VDET_TRITON_START_TIMEOUT_S", "seconds a private Triton may take to load its models", 180.0)
    node_triton_url: str | None = setting("VDET_NODE_TRITON_URL", "a Ray node's own Triton, preferred over TRITON_URL there")
    redis_url: str | None = setting("REDIS_URL", "Redis bus to use; unset: a private one is started")
    ray_address: str | None = setting("RAY_ADDRESS", "Ray cluster for --executor ray; unset: a local cluster")
    # answer engines
    vlm_base_url: str | None = setting("VLM_BASE_URL", "OpenAI-compatible VLM endpoint that writes answers; unset: the grounded composer")
    vlm_model: str | None = setting("VLM_MODEL", "model name sent to the VLM endpoint")
    vlm_api_key: str = setting("VLM_API_KEY", "API key for the VLM endpoint", "EMPTY", secret=True)
    vlm_timeout_s: float = setting("VLM_TIMEOUT_S", "seconds a VLM request may take", 60.0)
    vlm_max_frames: int | None = setting("VLM_MAX_FRAMES", "frames one VLM request may carry; unset: the model profile's limit")
    llm_base_url: str | None = setting("LLM_BASE_URL", "OpenAI-compatible LLM that plans graph tool calls; unset: the rule planner")
    llm_model: str | None = setting("LLM_MODEL", "model name sent to the tool-planning LLM")
    llm_api_key: str = setting("LLM_API_KEY", "API key for the tool-planning LLM", "EMPTY", secret=True)
    llm_timeout_s: float = setting("LLM_TIMEOUT_S", "seconds a tool-planning request may take", 30.0)
    # the app
    host: str = setting("VDET_HOST", "address the app binds (--host)", "127.0.0.1")
    port: int = setting("VDET_PORT", "port the app listens on (--port)", 7860)
    auth: tuple[str, ...] = setting("VDET_AUTH", "USER:PASSWORD pairs, comma-separated (--auth)", (), secret=True)
    users_file: Path | None = setting("VDET_USERS_FILE", "file of USER:PASSWORD lines (--users-file)")
    max_upload_mb: float = setting("VDET_MAX_UPLOAD_MB", "largest upload in MB (--max-upload-mb)", 4096.0)
    debug: bool = setting("VDET_DEBUG", "show tracebacks of unexpected errors (as -v does)", False)
    # model weights in other folders than <models>/<role>
    whisper_tiny_en_path: Path | None = setting("VDET_WHISPER_TINY_EN_PATH", "folder of the whisper-tiny.en weights")
    whisper_base_path: Path | None = setting("VDET_WHISPER_BASE_PATH", "folder of the whisper-base weights")
    silero_vad_path: Path | None = setting("VDET_SILERO_VAD_PATH", "folder of the silero-vad weights")
    birdnet_path: Path | None = setting("VDET_BIRDNET_PATH", "folder of the birdnet weights")
    yamnet_path: Path | None = setting("VDET_YAMNET_PATH", "folder of the yamnet weights")
    minilm_path: Path | None = setting("VDET_MINILM_PATH", "folder of the minilm weights")
    resemblyzer_path: Path | None = setting("VDET_RESEMBLYZER_PATH", "folder of the resemblyzer (speaker embedding) weights")
    detector_path: Path | None = setting("VDET_DETECTOR_PATH", "folder of the detector (CenterNet) weights")
    yolov10_path: Path | None = setting("VDET_YOLOV10_PATH", "folder of the yolov10 weights")
    rtdetr_path: Path | None = setting("VDET_RTDETR_PATH", "folder of an RT-DETR-v2 export (rtdetr.onnx + rtdetr.json)")
    image_text_weights: Path | None = setting("VDET_IMAGE_TEXT_WEIGHTS", "Hugging Face folder of a CLIP/SigLIP model (default <models>/image-text)")
    audio_text_weights: Path | None = setting("VDET_AUDIO_TEXT_WEIGHTS", "Hugging Face folder of a CLAP model (default <models>/audio-text)")
    grounder_path: Path | None = setting("VDET_GROUNDER_PATH", "Hugging Face folder of a Grounding DINO model (default <models>/grounder)")
    asr_beam_size: int | None = setting("VDET_ASR_BEAM_SIZE", "Whisper's beam size; unset: the asr model config's (5)")
    watch_safety: str | None = setting(
        "VDET_WATCH_SAFETY", "phrases the safety report's watch list grounds ('ladder. forklift. ...'); unset: the built-in list"
    )
    # tests, evaluation and benchmarks
    test_media: Path = setting("VDET_TEST_MEDIA", "real media for tests and benchmarks", factory=lambda: _cache("test-media"))
    eval_media: Path = setting("VDET_EVAL_MEDIA", "media of the evaluation scripts", factory=lambda: _cache("eval-media"))
    bench_dir: Path = setting("VDET_BENCH_DIR", "scratch folder of scripts/bench_ingest.py", factory=lambda: _cache("bench"))
    audio_corpus: Path = setting("VDET_AUDIO_CORPUS", "the labelled audio corpus (scripts/audio_corpus.py)", factory=lambda: _cache("audio-corpus"))

    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _config_file: Path | None = PrivateAttr(default=None)

    @field_validator("lanes", "auth", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("lanes", mode="after")
    @classmethod
    def _all_lanes_when_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return value or DEFAULT_LANES

    @field_validator("rules", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        return split_list(value, os.pathsep)

    @field_validator("debug", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        if isinstance(value, str):  # any value switches it on, as before; the usual words for "no" switch it off
            return value.strip().lower() not in ("", "0", "false", "no", "off")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        if isinstance(value, Path):
            return value.expanduser()
        if isinstance(value, tuple) and value and all(isinstance(v, Path) for v in value):
            return tuple(v.expanduser() for v in value)
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        # flags (init kwargs) > our environment names > the config file; no .env files, no secrets dir
        return (init_settings, EnvSource(settings_cls), FileSource(settings_cls, init_settings.init_kwargs.get("home")))

    @classmethod
    def from_layers(cls, *, file: dict[str, Any], env: dict[str, str], flags: dict[str, Any], config_file: Path | None = None) -> Settings:
        """Settings from given layers (tests, doctests): ``env`` maps environment names to strings."""
        env_values = EnvSource.values(cls, env)
        check_keys(file, config_file or Path("<config>"))
        try:
            s = cls.model_validate({**file, **env_values, **flags})  # type: ignore[call-arg]
        except ValidationError as exc:
            raise SettingsError(describe(exc, config_file, file, env_values)) from None
        s._config_file = config_file
        s._origins = {name: "flag" if name in flags else "env" if name in env_values else "file" if name in file else "default" for name in cls.model_fields}
        return s

    def origin(self, name: str) -> str:
        """Where ``name``'s value came from: default, file, env or flag."""
        return self._origins.get(name, "default")

    @property
    def config_file(self) -> Path | None:
        """The config file read, or None."""
        return self._config_file

    def rows(self, reveal: bool = False) -> list[dict[str, Any]]:
        """One row per setting: name, env, value (secrets hidden unless ``reveal``), origin, description."""
        out = []
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            shown: Any = value
            if isinstance(value, Path):
                shown = str(value)
            elif isinstance(value, tuple):
                shown = [str(v) for v in value]
            if field.json_schema_extra.get("secret") and not reveal and value not in (None, (), "EMPTY"):  # type: ignore[union-attr]
                shown = "***"
            out.append({"name": name, "env": env_name(field), "value": shown, "origin": self.origin(name), "description": field.description})
        return out


class EnvSource(PydanticBaseSettingsSource):
    """The environment, by each field's variable name exactly as users set it; an empty variable is unset."""

    @staticmethod
    def values(settings_cls: type[BaseSettings], environ) -> dict[str, str]:
        out = {}
        for name, field in settings_cls.model_fields.items():
            raw = environ.get(env_name(field))
            if raw is not None and raw.strip():
                out[name] = raw
        return out

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raw = os.environ.get(env_name(field))
        return raw, field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.values(self.settings_cls, os.environ)


def config_path(home_flag: Any = None) -> tuple[Path | None, bool]:
    """(the config file to read, whether it must exist): ``$VDET_CONFIG``, else ``<home>/config.toml``."""
    explicit = os.environ.get(CONFIG_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser(), True
    home = home_flag or os.environ.get("VDET_HOME", "").strip() or _cache("home")
    return Path(home).expanduser() / "config.toml", False


def read_config_file(path: Path | None, required: bool) -> dict[str, Any]:
    if path is None or (not required and not path.is_file()):
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"config file {path} (from ${CONFIG_ENV}) does not exist") from None
    except OSError as exc:
        raise SettingsError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    check_keys(data, path)
    return data


def check_keys(data: dict[str, Any], path: Path) -> None:
    known = Settings.model_fields
    for key in data:
        if key not in known:
            by_env = next((n for n, f in known.items() if env_name(f) == key), None)
            hint = f" (write {by_env} = ..., the setting's name, not its environment variable)" if by_env else ""
            raise SettingsError(f"config file {path}: unknown key {key!r}{hint}; the keys are: {', '.join(known)}")


class FileSource(PydanticBaseSettingsSource):
    """The optional TOML config file."""

    def __init__(self, settings_cls: type[BaseSettings], home_flag: Any = None):
        super().__init__(settings_cls)
        self.path, self.required = config_path(home_flag)
        self.data = read_config_file(self.path, self.required)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def describe(exc: ValidationError, path: Path | None, file: dict, env: dict) -> str:
    parts = []
    fields = Settings.model_fields
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        where = f"${env_name(fields[name])}" if name in env and name in fields else f"{name} in {path}" if name in file else name
        parts.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    return "bad setting: " + "; ".join(parts)


_lock = threading.Lock()
_cached: tuple[tuple, Settings] | None = None
_flags: dict[str, Any] = {}


def set_flags(**flags: Any) -> None:
    """The process's explicit CLI flags (None values are not given); they override file and environment."""
    global _flags
    with _lock:
        _flags = {k: v for k, v in flags.items() if v is not None}


def load_settings(**flags: Any) -> Settings:
    """Settings from the file, the environment and ``flags`` (plus those of ``set_flags``), read now."""
    flags = {**_flags, **{k: v for k, v in flags.items() if v is not None}}
    path, required = config_path(flags.get("home"))
    file = read_config_file(path, required)
    return Settings.from_layers(file=file, env=dict(os.environ), flags=flags, config_file=path if file or required else None)


def _key(flags: dict[str, Any]) -> tuple:
    names = [env_name(f) for f in Settings.model_fields.values()] + [CONFIG_ENV, "HOME"]
    path, _ = config_path(flags.get("home") or _flags.get("home"))
    try:
        mtime = path.stat().st_mtime_ns if path else None
    except OSError:
        mtime = None
    return (tuple(sorted((k, repr(v)) for k, v in {**_flags, **flags}.items())), tuple(os.environ.get(n) for n in names), str(path), mtime)


def get_settings(**flags: Any) -> Settings:
    """The effective settings, cached; read again when the environment, the flags or the config file change."""
    global _cached
    key = _key({k: v for k, v in flags.items() if v is not None})
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    s = load_settings(**flags)
    with _lock:
        _cached = (key, s)
    return s


def reload_settings() -> Settings:
    """Forget the cached settings and read them again (tests)."""
    global _cached
    with _lock:
        _cached = None
    return get_settings()
