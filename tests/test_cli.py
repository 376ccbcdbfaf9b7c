"""The ``shimmy-lab`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from shimmy_lab.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    import os

    for key in list(os.environ):
        if key.startswith("SHIMMY_") and key != "SHIMMY_MODEL_PATHS":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_serve_flags_come_from_settings():
    from shimmy_lab.settings import Settings

    out = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    for flag in ("--host", "--port", "--model", "--api-key", "--api-key-file", "--cors-origin", "--parallel",
                 "--queue-size", "--max-body-bytes", "--max-prompt-tokens", "--log-level", "--config",
                 "--narrative-enabled", "--narrative-assertiveness"):
        assert flag in out, flag
    assert len(Settings.model_fields) >= 15


def test_serve_passes_flags_to_settings(monkeypatch):
    seen = {}
    monkeypatch.setattr("shimmy_lab.server.run.serve", lambda settings: seen.setdefault("s", settings))
    r = runner.invoke(app, ["serve", "--port", "auto", "--parallel", "2", "--api-key", "a", "--api-key", "b",
                            "--narrative-enabled", "--log-level", "WARNING"], env={"SHIMMY_PARALLEL": "7"})
    assert r.exit_code == 0, r.output
    s = seen["s"]
    assert (s.port, s.parallel, s.api_keys, s.narrative.enabled, s.log_level) == ("auto", 2, ["a", "b"], True,
                                                                                  "warning")
    assert seen.pop("s").kv_unified is False
    r = runner.invoke(app, ["serve", "--kv-unified"])
    assert r.exit_code == 0, r.output
    assert seen.pop("s").kv_unified is True
    r = runner.invoke(app, ["serve", "--no-kv-unified"], env={"SHIMMY_KV_UNIFIED": "1"})
    assert r.exit_code == 0, r.output
    assert seen.pop("s").kv_unified is False
    bad = runner.invoke(app, ["serve", "--parallel", "zero"])
    assert bad.exit_code == 2 and "Invalid settings" in bad.output


def test_config_show(tmp_path):
    (tmp_path / "shimmy.toml").write_text("queue_size = 3\n")
    r = runner.invoke(app, ["config", "show", "--json"], env={"SHIMMY_PORT": "9999"})
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["port"] == {"value": 9999, "source": "env"}
    assert data["queue_size"]["value"] == 3 and data["queue_size"]["source"].startswith("toml:")
    assert data["host"]["source"] == "default"
    text = runner.invoke(app, ["config", "show"]).output
    assert "narrative.assertiveness" in text


def test_models_lists_the_bundled_model():
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0 and "smollm2-135m-instruct" in r.output
    records = json.loads(runner.invoke(app, ["models", "--json"]).output)
    assert any(rec["id"] == "smollm2-135m-instruct" for rec in records)


@pytest.mark.slow
def test_generate():
    r = runner.invoke(app, ["generate", "Say hello.", "-n", "6", "--seed", "1", "-t", "0"])
    assert r.exit_code == 0, r.output
    assert r.output.strip()
    bad = runner.invoke(app, ["generate", "x", "--model", "no-such-model"])
    assert bad.exit_code == 1 and "no-such-model" in bad.output


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "shimmy_lab", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "serve" in r.stdout and "generate" in r.stdout
