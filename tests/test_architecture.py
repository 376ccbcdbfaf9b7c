"""The package's layers and the absence of import cycles (the contracts in pyproject.toml);
imports inside functions say why; no function over 80 lines."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is part of the test extras: pip install -e '.[test]'"
    r = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "2 kept, 0 broken" in r.stdout


def _function_imports(tree):
    """``(import node, its block)`` for every import inside a function; the block is the run of
    imports written one after the other (no blank line), which one comment may cover."""
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            for field in ("body", "orelse", "finalbody", "handlers"):
                stmts = getattr(node, field, None)
                if not isinstance(stmts, list):
                    continue
                block: list[ast.stmt] = []
                for stmt in stmts:
                    if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                        block = []
                        continue
                    if block and stmt.lineno != block[-1].end_lineno + 1:
                        block = []
                    block.append(stmt)
                    yield stmt, list(block)


def test_function_level_imports_say_why():
    """An import inside a function is the exception (a heavy or optional library, an upward
    import): it carries a one-line comment saying why, at the end of its line or on the line
    before the block of imports it belongs to (docs/architecture.md)."""
    missing = []
    for path in sorted((ROOT / "shimmy_lab").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, block in _function_imports(ast.parse("\n".join(lines))):
            first = block[0].lineno
            commented = "#" in lines[node.lineno - 1] or lines[first - 2].strip().startswith("#")
            if not commented:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not missing, "function-level imports without a reason:\n" + "\n".join(sorted(set(missing)))


def test_no_function_is_longer_than_80_lines():
    """No function of the package is over 80 lines (docstring included)."""
    long = []
    for path in sorted((ROOT / "shimmy_lab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "functions over 80 lines:\n" + "\n".join(long)


def test_the_environment_is_read_only_in_settings():
    """``os.environ`` and ``os.getenv`` appear in settings.py only (``SHIMMY_*`` through the
    settings model, other tools' variables through ``settings.foreign_env``)."""
    found = []
    for path in sorted((ROOT / "shimmy_lab").rglob("*.py")):
        if path.name == "settings.py" and path.parent.name == "shimmy_lab":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv") \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} os.{node.attr}")
    assert not found, "the environment read outside settings.py:\n" + "\n".join(found)


def test_foreign_env_names_the_variables_it_follows():
    from shimmy_lab.settings import FOREIGN_ENV, foreign_env

    assert foreign_env("OLLAMA_MODELS", "x") in ("x", __import__("os").environ.get("OLLAMA_MODELS"))
    with pytest.raises(ValueError, match="SHIMMY_SECRET"):
        foreign_env("SHIMMY_SECRET")
    assert "HF_HOME" in FOREIGN_ENV
