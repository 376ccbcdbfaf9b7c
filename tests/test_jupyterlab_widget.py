"""The Dashboard widget rendered in a real JupyterLab, in Debian's headless Chromium.

JupyterLab runs on 127.0.0.1 with a temporary root folder; ``tests/browser/lab_widget.mjs``
(playwright-core driving /usr/bin/chromium, no browser download) opens a notebook, runs it,
and waits for the Dashboard's tabs and plotly figures. A screenshot is saved as an artefact.
Needs Debian's ``chromium`` and the npm package in ``tests/browser`` (``make test`` installs both).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "browser" / "lab_widget.mjs"
ARTIFACTS = Path(os.environ.get("SHIMMY_TEST_ARTIFACTS", HERE.parent / "build" / "test-artifacts"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="apt-get install -y chromium"),
    pytest.mark.skipif(not (HERE / "browser" / "node_modules" / "playwright-core").exists() or not shutil.which("node"),
                       reason="cd tests/browser && npm ci (make test does it)"),
]

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "dash", "metadata": {}, "outputs": [],
               "source": "import shimmy_lab as sl\n"
                         "story = sl.analyze(sl.datasets.load('carroll-alice')[:30000], title='Alice')\n"
                         "sl.widgets.Dashboard(story)"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError("jupyter lab did not start listening")


def test_dashboard_renders_in_jupyterlab(tmp_path):
    (tmp_path / "dash.ipynb").write_text(json.dumps(NOTEBOOK))
    port = _free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    log = open(tmp_path / "lab.log", "w")
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.token=shimmy", "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={tmp_path}"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_listening(port, lab)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "jupyterlab-dashboard.png"
        out = subprocess.run(["node", str(DRIVER), f"http://127.0.0.1:{port}/lab/tree/dash.ipynb?token=shimmy",
                              str(shot)], capture_output=True, text=True, timeout=240, cwd=DRIVER.parent)
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        log.close()
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"], result.get("error") or out.stderr[-2000:]
    assert result["tabs"][:3] == ["characters", "relationships", "engagement"]
    assert "insights" in result["tabs"] and "character sheet" in result["tabs"]
    assert result["plots"] >= 1 and not result["errors"]
    assert shot.stat().st_size > 20_000
