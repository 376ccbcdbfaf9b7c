"""Bundled public-domain texts.

The texts live in the ``datasets/`` folder at the root of the repository (with their
``MANIFEST.json``: source, licence, checksum).  The package reaches them as package data,
``shimmy_lab/data/datasets`` (a link to that folder in the source tree; real files in the
wheel), so they are there after ``pip install shimmy-lab`` as in a checkout.  Set
``SHIMMY_DATASETS`` to point at another folder with the same layout (``MANIFEST.json``
plus the ``.txt`` files).

Examples
--------
>>> import shimmy_lab as sl
>>> sl.datasets.list()[["name", "title", "words"]]      # doctest: +SKIP
>>> text = sl.datasets.load("austen-emma")              # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import hashlib
import json
from pathlib import Path

import pandas as pd

from .settings import Settings
from .story.gutenberg import strip_gutenberg

__all__ = ["root", "list", "path", "load", "verify"]


def root() -> Path:
    """Return the folder that holds ``MANIFEST.json`` and the texts."""
    folder = Settings.load().datasets  # SHIMMY_DATASETS, shimmy.toml
    return Path(folder) if folder else Path(__file__).parent / "data" / "datasets"


def _manifest() -> builtins.list[dict]:
    mf = root() / "MANIFEST.json"
    if not mf.exists():
        raise FileNotFoundError(
            f"no dataset manifest at {mf}: the bundled texts are missing from this install; "
            "reinstall shimmy-lab or set SHIMMY_DATASETS to a folder of texts with a MANIFEST.json"
        )
    return json.loads(mf.read_text(encoding="utf-8"))["datasets"]


def list() -> pd.DataFrame:  # noqa: A001 - mirrors sl.datasets.list() in the design
    """List the bundled texts.

    Returns
    -------
    pandas.DataFrame
        One row per text: name, title, author, year, words, bytes, sha256, source,
        gutenberg_id, licence, file.
    """
    return pd.DataFrame(_manifest())


def _entry(name: str) -> dict:
    entries = _manifest()
    for e in entries:
        if e["name"] == name or e["file"] == name:
            return e
    known = ", ".join(e["name"] for e in entries)
    raise KeyError(f"unknown dataset {name!r}; known datasets: {known}")


def path(name: str) -> Path:
    """Return the path of the text file of dataset ``name``."""
    return root() / _entry(name)["file"]


def load(name: str, *, strip: bool = False) -> str:
    """Return the text of dataset ``name`` (newlines normalised to ``\\n``).

    Parameters
    ----------
    name
        A name from :func:`list`, e.g. ``"austen-emma"``.
    strip
        Also remove any Project Gutenberg header/footer (see
        :func:`shimmy_lab.story.gutenberg.strip_gutenberg`).
    """
    raw = path(name).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if strip:
        text = strip_gutenberg(text)
    return text


def verify() -> pd.DataFrame:
    """Check every file against the sha256 recorded in the manifest."""
    rows = []
    for e in _manifest():
        p = root() / e["file"]
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
        rows.append({"name": e["name"], "ok": digest == e["sha256"], "sha256": digest})
    return pd.DataFrame(rows)
