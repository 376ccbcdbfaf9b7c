"""A fresh virtual environment for tests of what users install (tests/test_wheel.py,
tests/test_deploy.py).

The package must come from what the test installs into it; its third-party dependencies
come from the test environment's site-packages through a ``.pth`` line (a folder added that
way is not a site folder, so the editable install's own ``.pth`` hooks there do not run),
which saves rebuilding llama.cpp for every test run.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def fresh_venv(venv: Path) -> Path:
    """Create ``venv`` with the test environment's dependencies; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "shimmy_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py
