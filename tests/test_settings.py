"""One configuration: defaults < config file < environment < explicit flags; bad files say which file and key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import settings as settings_mod
from orchestrator.settings import Settings, SettingsError, get_settings, load_settings, reload_settings

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for field in Settings.model_fields.values():
        monkeypatch.delenv(settings_mod.env_name(field), raising=False)
    monkeypatch.delenv("VDET_CONFIG", raising=False)
    monkeypatch.setenv("VDET_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    settings_mod.set_flags()
    yield tmp_path / "home"
    settings_mod.set_flags()
    settings_mod._cached = None  # the next reader reads the restored environment


def test_precedence_default_file_env_flag(clean_env, monkeypatch):
    home = clean_env
    assert load_settings().port == 7860 and load_settings().origin("port") == "default"
    (home / "config.toml").write_text('port = 8001\nhost = "0.0.0.0"\nlanes = ["objects", "speech"]\nwindow_s = 10\n')
    s = load_settings()
    assert (s.port, s.origin("port"), s.host, s.lanes, s.window_s) == (8001, "file", "0.0.0.0", ("objects", "speech"), 10.0)
    assert s.config_file == home / "config.toml"
    monkeypatch.setenv("VDET_PORT", "8002")
    monkeypatch.setenv("VDET_LANES", "speech")
    s = load_settings()
    assert (s.port, s.origin("port"), s.lanes, s.origin("lanes"), s.host, s.origin("host")) == (8002, "env", ("speech",), "env", "0.0.0.0", "file")
    s = load_settings(port=8003)
    assert (s.port, s.origin("port"), s.origin("lanes")) == (8003, "flag", "env")
    settings_mod.set_flags(port=8004)
    assert (get_settings().port, get_settings().origin("port")) == (8004, "flag")


def test_get_settings_is_cached_and_follows_the_environment(clean_env, monkeypatch):
    first = get_settings()
    assert get_settings() is first
    monkeypatch.setenv("VDET_EXECUTOR", "ray")
    assert get_settings().executor == "ray" and get_settings() is not first
    assert reload_settings().executor == "ray"


def test_vdet_config_names_the_file(clean_env, monkeypatch, tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text('redis_url = "redis://bus:6379/0"\n')
    monkeypatch.setenv("VDET_CONFIG", str(other))
    assert (load_settings().redis_url, load_settings().origin("redis_url")) == ("redis://bus:6379/0", "file")
    monkeypatch.setenv("VDET_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="missing.toml.*does not exist"):
        load_settings()


def test_unknown_key_names_the_file_and_the_key(clean_env):
    path = clean_env / "config.toml"
    path.write_text("prot = 80\n")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(path) in str(err.value) and "'prot'" in str(err.value)
    path.write_text('TRITON_URL = "x:8000"\n')
    with pytest.raises(SettingsError, match="write triton_url"):
        load_settings()
    path.write_text('port = "many"\n')
    with pytest.raises(SettingsError, match=r"port in .*config.toml"):
        load_settings()
    path.write_text("port = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings()


def test_env_values_parse_as_before(clean_env, monkeypatch):
    monkeypatch.setenv("VDET_RULES", "a.yaml" + settings_mod.os.pathsep + "b.yaml")
    monkeypatch.setenv("VDET_AUTH", "a:1, b:2,")
    monkeypatch.setenv("VDET_LANES", "")  # empty is unset: every lane
    s = load_settings()
    assert s.rules == (Path("a.yaml"), Path("b.yaml")) and s.auth == ("a:1", "b:2") and s.lanes == settings_mod.DEFAULT_LANES
    monkeypatch.setenv("VDET_PORT", "eighty")
    with pytest.raises(SettingsError, match=r"\$VDET_PORT"):
        load_settings()


def test_every_weights_role_has_a_setting():
    from orchestrator.weights import SPECS

    envs = {settings_mod.env_name(f) for f in Settings.model_fields.values()}
    assert all("VDET_" + r.upper().replace("-", "_").replace(".", "_") + "_PATH" in envs for r in SPECS)


def test_config_command_json(clean_env, monkeypatch):
    (clean_env / "config.toml").write_text('port = 8001\nvlm_api_key = "sk-secret"\n')
    env = {**settings_mod.os.environ, "VDET_HOST": "0.0.0.0"}
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator", "config", "--json", "--lanes", "speech"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    rows = {r["name"]: r for r in data["settings"]}
    assert data["config_file"] == str(clean_env / "config.toml")
    assert set(rows) == set(Settings.model_fields)
    assert (rows["port"]["value"], rows["port"]["origin"], rows["port"]["env"]) == (8001, "file", "VDET_PORT")
    assert (rows["host"]["value"], rows["host"]["origin"]) == ("0.0.0.0", "env")
    assert (rows["lanes"]["value"], rows["lanes"]["origin"]) == (["speech"], "flag")
    assert (rows["executor"]["value"], rows["executor"]["origin"]) == ("local", "default")
    assert rows["vlm_api_key"]["value"] == "***" and "sk-secret" not in out.stdout
    assert all(r["description"] for r in rows.values())
    (clean_env / "config.toml").write_text("nonsense = 1\n")
    bad = subprocess.run([sys.executable, "-m", "orchestrator", "config"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown key 'nonsense'" in bad.stderr and "config.toml" in bad.stderr
