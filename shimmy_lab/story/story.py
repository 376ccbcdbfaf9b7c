"""The :class:`Story` object: one text, a set of documented tables, a ``uns`` dict."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd

from . import io, schema
from .characters import parse_cast
from .gutenberg import read_file

__all__ = ["Story", "read_text"]


class Story:
    """A story text read into pandas tables (see :mod:`shimmy_lab.story.schema`).

    Every table row carries half-open ``start``/``end`` offsets into :attr:`text`
    and characters are referred to by a stable ``character_id``.  Build one with
    :meth:`from_text` or :func:`read_text`; grow it with :meth:`append`.

    Parameters
    ----------
    text
        The text (already analysed if ``tables`` is given).
    title
        A title for display and for the saved manifest.
    uns
        Unstructured metadata: parameters that produced the tables, timings
        (scanpy style). Must be JSON-serialisable.
    tables
        Table name -> DataFrame; missing tables start empty.

    Attributes
    ----------
    chapters, scenes, paragraphs, sentences, quotes, characters, mentions, names, facts, timeline
        The tables, as :class:`pandas.DataFrame` (``story.tables[name]``).
    """

    def __init__(self, text: str = "", title: str | None = None,
                 uns: dict[str, Any] | None = None,
                 tables: dict[str, pd.DataFrame] | None = None) -> None:
        self.text = text
        self.title = title
        self.uns: dict[str, Any] = dict(uns or {})
        self.uns.setdefault("schema_version", schema.SCHEMA_VERSION)
        self.uns.setdefault("analysed_to", 0 if tables is None else len(text))
        self.tables: dict[str, pd.DataFrame] = {
            name: schema.coerce(name, (tables or {}).get(name)) for name in schema.TABLES
        }

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_text(cls, text: str, title: str | None = None, characters: Any = None) -> Story:
        """Read ``text`` (newlines normalised to ``\\n``) into a new story.

        Parameters
        ----------
        text
            The story text.
        title
            A title for display and for the saved manifest.
        characters
            A cast list that fixes the characters: a DataFrame or a list of dicts with
            ``name``, ``aliases`` (list of strings or one '|'-separated string) and
            ``gender`` ('male', 'female' or None).  Every name and alias of a member
            (with or without the period after a title) is that member: its
            ``character_id`` is the slug of the name, its ``name`` and ``gender`` those
            given.  Names outside the cast are still found as without one, and may join
            a member as they would join a character found in the text.  Kept in
            ``uns["params"]["cast"]`` (:func:`~shimmy_lab.story.characters.parse_cast`)
            for :meth:`append` and saving.

        Raises
        ------
        TypeError, ValueError
            A bad cast list (see :func:`~shimmy_lab.story.characters.parse_cast`).
        """
        story = cls("", title=title)
        if characters is not None:
            cast = parse_cast(characters)
            if cast:
                story.uns["params"] = {"cast": cast}
        story.append(text)
        return story

    def append(self, text: str) -> Story:
        """Add ``text`` at the end and read it incrementally; returns ``self``.

        Only the new text and the last paragraph already read are (re)read;
        character clustering and per-character aggregates are recomputed from the
        ``names`` and ``mentions`` tables, which is cheap.  A cast given to
        :meth:`from_text` (``uns["params"]["cast"]``) still fixes the characters.
        """
        from .pipeline import read_tail  # lazy: keeps this module's import light

        text = text.replace("\r\n", "\n").replace("\r", "\n")
        t0 = time.perf_counter()
        self.text += text
        if self.text.strip():  # nothing to read in an empty or blank text: the tables stay empty
            read_tail(self)
        log = self.uns.setdefault("log", [])
        log.append({"op": "append", "chars": len(text),
                    "seconds": round(time.perf_counter() - t0, 4)})
        del log[:-20]
        return self

    # -- tables ---------------------------------------------------------------------
    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name != "tables" and name in tables:  # schema tables and tracker tables
            return tables[name]
        raise AttributeError(f"'Story' object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(schema.TABLES))

    def span(self, row: Any) -> str:
        """Return ``text[row.start:row.end]`` for a table row (Series or namedtuple)."""
        start = row["start"] if isinstance(row, (pd.Series, dict)) else row.start
        end = row["end"] if isinstance(row, (pd.Series, dict)) else row.end
        return self.text[int(start):int(end)]

    def character(self, name: str) -> str | None:
        """Return the ``character_id`` for a name form ("Lizzy", "Mr. Bennet") or None."""
        key = " ".join(name.replace(".", " ").split())
        hit = self.names.loc[self.names["surface"] == key, "character_id"].dropna()
        if len(hit):
            return str(hit.iloc[0])
        hit = self.characters.loc[self.characters["character_id"] == key, "character_id"]
        return str(hit.iloc[0]) if len(hit) else None

    def validate(self) -> None:
        """Check every table against its schema and every span against the text."""
        for name in schema.TABLES:
            schema.validate(name, self.tables[name], self.text)

    # -- persistence ----------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save atomically to the folder ``path`` (see :mod:`shimmy_lab.story.io`)."""
        return io.save(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Story:
        """Load a story saved with :meth:`save`."""
        parts = io.read(path)
        story = cls(parts["text"], title=parts["title"], uns=parts["uns"], tables=parts["tables"])
        story.tables.update(parts["extra"])
        return story

    def equals(self, other: object) -> bool:
        """True if text, title and every table are equal (table by table)."""
        if not isinstance(other, Story) or self.text != other.text or self.title != other.title:
            return False
        if self.tables.keys() != other.tables.keys():
            return False
        return all(self.tables[n].reset_index(drop=True).equals(
            other.tables[n].reset_index(drop=True)) for n in self.tables)

    __eq__ = equals
    __hash__ = None  # type: ignore[assignment]

    # -- display --------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts shown by ``repr`` and ``_repr_html_``."""
        q = self.quotes
        return {"title": self.title, "chars": len(self.text), "words": len(self.text.split()),
                **{n: len(self.tables[n]) for n in schema.TABLES if n != "names"},
                "attributed": float(q["speaker"].notna().mean()) if len(q) else 0.0}

    def __repr__(self) -> str:
        s = self.summary()
        return (f"Story({s['title']!r}: {s['words']} words, {s['chapters']} chapters, "
                f"{s['paragraphs']} paragraphs, {s['quotes']} quotes, "
                f"{s['characters']} characters, {s['facts']} facts)")

    def _repr_html_(self) -> str:
        s = self.summary()
        e = html.escape
        head = (f"<b>Story</b> {e(str(s['title'] or ''))} &middot; {s['words']:,} words &middot; "
                f"{s['chapters']} chapters &middot; {s['scenes']} scenes &middot; "
                f"{s['paragraphs']:,} paragraphs &middot; {s['sentences']:,} sentences &middot; "
                f"{s['quotes']:,} quotes ({s['attributed']:.0%} attributed) &middot; "
                f"{s['facts']} facts")
        rows = "".join(
            f"<tr><td>{e(r.name)}</td><td>{e(str(r.gender)) if pd.notna(r.gender) else ''}</td>"
            f"<td>{e(r.status)}</td><td>{r.mentions}</td><td>{r.quotes}</td>"
            f"<td>{e(' | '.join(str(r.aliases).split('|')[:4]))}</td></tr>"
            for r in self.characters.head(10).itertuples())
        table = ("<table><tr><th>character</th><th>gender</th><th>status</th><th>mentions</th>"
                 f"<th>quotes</th><th>aliases</th></tr>{rows}</table>") if rows else ""
        return f"<div class='shimmy-story'><p>{head}</p>{table}</div>"


_TITLE_RE = re.compile(r"^\s*\[(?P<t>[^\]]+?)(?: by [^\]]+)?\]")


def read_text(path: str | Path, title: str | None = None, encoding: str | None = None,
              characters: Any = None) -> Story:
    """Read a plain-text file into a :class:`Story`, removing Gutenberg boilerplate.

    Parameters
    ----------
    path
        A ``.txt`` file (UTF-8 or Latin-1).
    title
        Defaults to the ``[Title by Author]`` line of NLTK/Gutenberg files, else the
        file name.
    encoding
        The file's encoding (default: UTF-8, else Latin-1).
    characters
        A cast list that fixes the characters (see :meth:`Story.from_text`).
    """
    text = read_file(path, encoding)
    if title is None:
        m = _TITLE_RE.match(text)
        title = m.group("t") if m else Path(path).stem
    return Story.from_text(text, title=title, characters=characters)
