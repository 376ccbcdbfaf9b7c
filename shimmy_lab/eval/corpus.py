"""Corpora for batch evaluation: folders, path lists, bundled dataset names, DataFrames.

A corpus becomes a list of :class:`Work` items; reading a file's text is deferred to
the worker (so a Dask task carries a path, not a novel), and a broken file (binary,
empty, wrong encoding) becomes a clear error for that work only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

__all__ = ["Work", "CorpusError", "as_works", "read_work_text"]

_TEXT_SUFFIXES = {".txt", ".text", ".md"}


class CorpusError(ValueError):
    """A corpus that cannot be interpreted (an unknown name, a missing folder, ...)."""


@dataclass(frozen=True)
class Work:
    """One work of a corpus: an id, a title, and either a path or the text itself."""

    work_id: str
    title: str
    path: str | None = None
    text: str | None = None


def read_work_text(work: Work) -> str:
    """The text of a work.

    Raises
    ------
    ValueError
        With a precise reason: binary file, not UTF-8 (with the byte offset), empty text.
    """
    if work.text is not None:
        text = work.text
    else:
        data = Path(work.path).read_bytes()
        if b"\x00" in data[:65536]:
            raise ValueError(f"binary file (NUL bytes): {work.path}")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text (invalid byte at offset {exc.start}): {work.path}") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError("empty text")
    return text


def checksum(text: str) -> str:
    """sha256 of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _from_paths(paths: Iterable[Path]) -> list[Work]:
    works = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise CorpusError(f"no such file: {p}")
        works.append(Work(work_id=p.stem, title=p.stem, path=str(p)))
    return works


def as_works(corpus: Any, text_column: str = "text") -> list[Work]:
    """Interpret ``corpus`` as a list of works.

    Parameters
    ----------
    corpus : str, Path, list, or DataFrame
        A folder of text files (``*.txt``, ``*.md``); a list of paths; a bundled
        dataset name (``"austen-emma"``) or ``"datasets"`` for all bundled texts;
        a DataFrame with a ``text`` column (and optionally ``work_id``/``title``).
    text_column : str
        Column holding the text when ``corpus`` is a DataFrame.
    """
    if isinstance(corpus, pd.DataFrame):
        if text_column not in corpus.columns:
            raise CorpusError(f"the DataFrame has no {text_column!r} column (columns: {list(corpus.columns)})")
        works = []
        for i, row in enumerate(corpus.to_dict("records")):
            wid = str(row.get("work_id", row.get("title", f"work-{i}")))
            works.append(Work(work_id=wid, title=str(row.get("title", wid)), text=str(row[text_column])))
        return _unique(works)
    if isinstance(corpus, (list, tuple)):
        return _unique(_from_paths(corpus))
    if isinstance(corpus, (str, Path)):
        path = Path(corpus)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _TEXT_SUFFIXES)
            if not files:
                raise CorpusError(f"no text files ({', '.join(sorted(_TEXT_SUFFIXES))}) in {path}")
            return _unique(_from_paths(files))
        if path.is_file():
            return _from_paths([path])
        from .. import datasets  # lazy: keeps this module's import light

        table = datasets.list()
        if str(corpus) == "datasets":
            return [Work(r["name"], r.get("title") or r["name"], path=str(datasets.path(r["name"])))
                    for r in table.to_dict("records")]
        if str(corpus) in set(table["name"]):
            row = table[table["name"] == str(corpus)].iloc[0]
            return [Work(row["name"], row.get("title") or row["name"], path=str(datasets.path(row["name"])))]
        raise CorpusError(f"{corpus!r} is neither a folder, a file nor a dataset name; "
                          f"datasets: {', '.join(table['name'])}")
    raise CorpusError(f"cannot read a corpus from {type(corpus).__name__}")


def _unique(works: list[Work]) -> list[Work]:
    seen: dict[str, int] = {}
    out = []
    for w in works:
        k = seen.get(w.work_id, 0)
        seen[w.work_id] = k + 1
        out.append(w if k == 0 else Work(f"{w.work_id}-{k + 1}", w.title, w.path, w.text))
    return out
