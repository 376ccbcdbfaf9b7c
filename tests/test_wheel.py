"""The package as a user installs it: a wheel built from this tree, installed into a fresh
virtual environment, used from a folder outside the source tree (tests/wheel_smoke.py).

The fresh environment takes the package from the wheel only (tests/venvs.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from venvs import fresh_venv

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = out.glob("shimmy_lab-*.whl")
    return whl


def test_wheel_holds_what_the_package_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    must = {"shimmy_lab/trackers/data/affect.tsv", "shimmy_lab/trackers/data/voice_references.json",
            "shimmy_lab/story/data/turns.json", "shimmy_lab/data/datasets/MANIFEST.json"}
    assert must <= names, must - names
    manifest = ROOT / "datasets" / "MANIFEST.json"
    import json

    for e in json.loads(manifest.read_text())["datasets"]:
        assert f"shimmy_lab/data/datasets/{e['file']}" in names
    # every data file of the package tree is in the wheel, and nothing from tests/ or the build
    tree = {str(p.relative_to(ROOT)) for p in (ROOT / "shimmy_lab").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",)}
    assert tree <= names, sorted(tree - names)[:10]
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "notebooks/"))]


def test_installed_wheel_works_outside_the_source_tree(wheel, tmp_path):
    py = fresh_venv(tmp_path / "venv")
    r = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SHIMMY_DATASETS")}
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = subprocess.run([str(py), str(ROOT / "tests" / "wheel_smoke.py"), str(ROOT)], cwd=work, env=env,
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0 and "SMOKE OK" in r.stdout, r.stdout[-3000:] + r.stderr[-4000:]


def _name(req: str) -> str:
    import re

    return re.split(r"[<>=!~;\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_dependencies_of_pyproject():
    import tomllib

    import yaml

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    want = {_name(r) for r in meta["dependencies"] + extras["torch"] + extras["dask"] + extras["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    have = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            have |= {_name(d) for d in dep.get("pip", []) if not d.startswith("-")}
        else:
            have.add(_name(dep.split("=")[0]))
    conda_names = {"torch": "pytorch", "dask": "dask"}  # dask[distributed] is dask + distributed
    want = {conda_names.get(n, n) for n in want}
    if "dask" in want:
        want.add("distributed")
    assert want - have == set(), f"environment.yml lacks {sorted(want - have)}"
    assert have - want - {"python", "pip"} == set(), f"environment.yml has extra {sorted(have - want)}"
