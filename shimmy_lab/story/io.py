"""Saving and loading stories: Parquet tables plus a JSON manifest, atomically.

Layout of a saved story folder::

    story_dir/
      CURRENT                 name of the complete version folder (one line)
      v-<stamp>/              one complete version
        manifest.json         format, schema_version, title, uns, tables and row counts
        text.txt              the story text (UTF-8)
        <table>.parquet       one file per table

:func:`save` writes a new version into a temporary folder, renames it into place
and only then replaces ``CURRENT`` with :func:`os.replace`, which is atomic on
POSIX and Windows.  A crash at any moment leaves ``CURRENT`` naming a complete
version, so the previous save stays loadable; older versions are removed after
the switch.  (A directory cannot be atomically replaced by ``rename`` when it
exists, hence the pointer file.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import schema
from .timeline import timeline_table

__all__ = ["save", "read", "FORMAT", "MIGRATIONS", "StoryFormatError"]

FORMAT = "shimmy_lab.story"
#: schema_version -> function(manifest, tables) -> (manifest, tables) one version up
MIGRATIONS: dict[int, object] = {}


def _renamed(manifest: dict, tables: dict) -> tuple[dict, dict]:
    """Version 1 -> 2: columns renamed (:data:`schema.RENAMED`); :func:`read` has already
    renamed them, as it does for every version, so only the version moves on."""
    return {**manifest, "schema_version": 2}, tables


MIGRATIONS[1] = _renamed


class StoryFormatError(ValueError):
    """A folder is not a saved story, or was written by an unsupported schema version."""


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries to disk (a rename in it survives a power cut); no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - not supported on this platform
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def save(story, path: str | Path) -> Path:
    """Write ``story`` to the folder ``path`` atomically; returns the version folder."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    stamp = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = root / f".tmp-{stamp}"
    tmp.mkdir()
    try:
        tables = {}
        for name, df in story.tables.items():  # Story tables, then tracker tables (dna, insights, ...)
            if name in schema.TABLES:
                schema.validate(name, df)
            df.to_parquet(tmp / f"{name}.parquet", index=False)
            tables[name] = {"file": f"{name}.parquet", "rows": int(len(df))}
        data = story.text.encode("utf-8")
        (tmp / "text.txt").write_bytes(data)
        manifest = {"format": FORMAT, "schema_version": schema.SCHEMA_VERSION,
                    "title": story.title, "text_file": "text.txt",
                    "text_sha256": hashlib.sha256(data).hexdigest(), "chars": len(story.text),
                    "tables": tables, "uns": story.uns}
        with open(tmp / "manifest.json", "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=1, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        fsync_dir(tmp)
        final = root / stamp
        os.rename(tmp, final)
        ptr = root / f".CURRENT-{uuid.uuid4().hex[:8]}"
        with open(ptr, "w", encoding="utf-8") as fh:
            fh.write(stamp + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(ptr, root / "CURRENT")
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in root.iterdir():  # clean up older versions and leftovers of crashed saves
        if old.name != stamp and (old.name.startswith(("v-", ".tmp-v-", ".CURRENT-"))):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    return final


def _version_dir(root: Path) -> Path:
    if (root / "manifest.json").exists():
        return root
    cur = root / "CURRENT"
    if not cur.exists():
        raise StoryFormatError(f"{root} is not a saved story (no CURRENT or manifest.json)")
    return root / cur.read_text(encoding="utf-8").strip()


def read(path: str | Path) -> dict[str, Any]:
    """Read a story saved with :func:`save` (migrating older schema versions, renaming
    the columns renamed since: :data:`~shimmy_lab.story.schema.RENAMED`).

    Returns
    -------
    dict
        ``text``, ``title``, ``uns``, ``tables`` (the story's tables, checked against
        their schema) and ``extra`` (the tables the narrative systems wrote), from which
        :meth:`Story.load <shimmy_lab.story.Story.load>` builds the story.
    """
    vdir = _version_dir(Path(path))
    try:
        manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoryFormatError(f"cannot read {vdir / 'manifest.json'}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise StoryFormatError(f"{vdir} is not a shimmy_lab story (format={manifest.get('format')!r})")
    version = manifest.get("schema_version")
    text = (vdir / manifest.get("text_file", "text.txt")).read_text(encoding="utf-8")
    # columns renamed since (schema.RENAMED): a story saved before loads with today's names
    tables = {name: schema.rename_old(name, pd.read_parquet(vdir / info["file"]))
              for name, info in manifest.get("tables", {}).items()}
    if not isinstance(version, int) or version > schema.SCHEMA_VERSION:
        raise StoryFormatError(
            f"{vdir} was written with story schema version {version}; this shimmy_lab reads "
            f"versions up to {schema.SCHEMA_VERSION}: upgrade shimmy_lab to load it")
    while version < schema.SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StoryFormatError(
                f"{vdir} uses story schema version {version} and there is no migration to "
                f"version {schema.SCHEMA_VERSION}; re-read the text with Story.from_text")
        manifest, tables = step(manifest, tables)
        version = manifest["schema_version"]
    out = {}
    for name in schema.TABLES:
        if name == "timeline" and name not in tables:
            continue  # saved before the timeline table existed: rebuilt below
        if name not in tables:
            raise StoryFormatError(f"{vdir}: table {name!r} is missing")
        try:
            out[name] = schema.coerce(name, tables[name])
        except (ValueError, TypeError) as exc:
            raise StoryFormatError(f"{vdir}: table {name!r} does not match the schema: {exc}") from exc
    if "timeline" not in out:
        out["timeline"] = timeline_table(out, text)
    # the tables of the narrative systems: parquet keeps their dtypes; list cells come back as arrays
    extra = {name: _lists_back(tables[name]) for name in tables.keys() - schema.TABLES.keys()}
    return {"text": text, "title": manifest.get("title"), "uns": manifest.get("uns") or {},
            "tables": out, "extra": extra}


def _lists_back(df: pd.DataFrame) -> pd.DataFrame:
    """Parquet returns list cells (e.g. ``insights.characters``) as numpy arrays; make them lists."""
    for col in df.columns:
        if df[col].dtype == object and df[col].map(lambda v: isinstance(v, np.ndarray)).any():
            df[col] = df[col].map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)
    return df
