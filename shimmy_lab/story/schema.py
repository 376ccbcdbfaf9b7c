"""The one place where every :class:`~shimmy_lab.story.Story` table is described.

Each table is a :class:`pandas.DataFrame` with a fixed set of columns.  Every row
points back into ``story.text`` with half-open character offsets ``start``/``end``,
so ``story.text[row.start:row.end]`` is the span the row is about, and to
characters by a stable ``character_id`` string.

Dtypes are pandas nullable dtypes: ``Int64`` (integers with ``<NA>``), ``string``
(``pd.StringDtype()``, missing values are ``<NA>``), ``float64`` and ``boolean``.
:func:`coerce` brings any frame to its schema; :func:`validate` checks one.

``SCHEMA_VERSION`` is written into every saved story; :mod:`shimmy_lab.story.io`
refuses (with a clear message) folders written by an unknown version.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "columns",
    "empty",
    "coerce",
    "validate",
    "describe",
]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Column:
    """One documented column: name, pandas dtype and meaning."""

    name: str
    dtype: str
    doc: str


def _c(name: str, dtype: str, doc: str) -> Column:
    return Column(name, dtype, doc)


_START = _c("start", "Int64", "first character of the span in story.text")
_END = _c("end", "Int64", "one past the last character (half-open)")

#: table name -> (what a row is, columns)
TABLES: dict[str, tuple[str, tuple[Column, ...]]] = {
    "chapters": (
        "one chapter; chapter 0 holds the text before the first heading (front "
        "matter, or the whole text when there are no headings)",
        (
            _c("chapter", "Int64", "sequential chapter index (0 = before the first heading)"),
            _c("number", "Int64", "numeral parsed from the heading (roman or arabic), NA if none"),
            _c("label", "string", "heading line, e.g. 'CHAPTER IV'; NA for front matter / no heading"),
            _c("title", "string", "heading subtitle, e.g. 'Down the Rabbit-Hole', or NA"),
            _c("part", "string", "enclosing VOLUME/BOOK/PART heading, or NA"),
            _START,
            _END,
            _c("body_start", "Int64", "offset where the chapter body starts (after the heading)"),
        ),
    ),
    "scenes": (
        "one scene: a chapter is cut at '* * *' lines and runs of 3+ blank lines",
        (
            _c("scene", "Int64", "sequential scene index over the whole story"),
            _c("chapter", "Int64", "chapter index"),
            _START,
            _END,
            _c("break_kind", "string", "what opened the scene: 'chapter', 'asterisks' or 'blank'"),
        ),
    ),
    "paragraphs": (
        "one paragraph (blank-line separated block); headings and breaks included",
        (
            _c("paragraph", "Int64", "sequential paragraph index"),
            _c("chapter", "Int64", "chapter index"),
            _c("scene", "Int64", "scene index"),
            _START,
            _END,
            _c("kind", "string", "'text', 'heading' or 'break'"),
            _c("n_quotes", "Int64", "number of quotes that start in the paragraph"),
        ),
    ),
    "sentences": (
        "one sentence; abbreviations such as Mr. / St. and initials do not end one",
        (
            _c("sentence", "Int64", "sequential sentence index"),
            _c("paragraph", "Int64", "paragraph index"),
            _c("chapter", "Int64", "chapter index"),
            _START,
            _END,
        ),
    ),
    "quotes": (
        "one quoted span of direct speech, quote marks included in start/end; a "
        "quote that runs over several paragraphs is one row",
        (
            _c("quote", "Int64", "sequential quote index"),
            _c("paragraph", "Int64", "paragraph where the quote opens"),
            _c("chapter", "Int64", "chapter index"),
            _START,
            _END,
            _c("text", "string", "the quoted words without the outer quote marks"),
            _c("n_paragraphs", "Int64", "paragraphs the quote runs over"),
            _c("speaker", "string", "character_id of the speaker, NA if unknown"),
            _c("confidence", "float64", "0..1 confidence of the speaker (0 when NA)"),
            _c("method", "string", "how the speaker was found: tag, paragraph, subject, "
               "vocative, turn, none"),
            _c("addressee", "string", "character_id named as vocative inside the quote, or NA"),
        ),
    ),
    "characters": (
        "one character (a person named in the text, aliases merged); start/end is "
        "the first mention",
        (
            _c("character_id", "string", "stable id, a slug of the first canonical name"),
            _c("name", "string", "canonical (most complete) name"),
            _c("aliases", "string", "all surface forms, '|'-separated, most frequent first"),
            _c("gender", "string", "'male', 'female' or NA"),
            _c("status", "string", "'dead' (a death fact), 'alive' (speaks or acts), 'unknown'"),
            _c("mentions", "Int64", "number of name mentions"),
            _c("quotes", "Int64", "number of quotes attributed to the character"),
            _START,
            _END,
            _c("last_start", "Int64", "start of the last mention"),
            _c("first_chapter", "Int64", "chapter of the first mention"),
            _c("last_chapter", "Int64", "chapter of the last mention"),
        ),
    ),
    "mentions": (
        "one proper-name occurrence of a character (names that are not characters, "
        "such as places, are in the names table only)",
        (
            _c("character_id", "string", "the character the name refers to"),
            _c("surface", "string", "normalised name form, e.g. 'Mr Knightley'"),
            _START,
            _END,
            _c("chapter", "Int64", "chapter index"),
            _c("in_quote", "boolean", "the mention is inside a quote"),
        ),
    ),
    "names": (
        "one distinct capitalised name form with the evidence used to decide "
        "whether it is a person; start/end is its first occurrence",
        (
            _c("surface", "string", "normalised name form (title without period)"),
            _c("count", "Int64", "occurrences"),
            _c("initial", "Int64", "occurrences at the start of a sentence"),
            _c("lower", "Int64", "lowercase occurrences of the word (single words only)"),
            _c("person", "Int64", "occurrences in a person context (title, speech tag, "
               "person verb)"),
            _c("place", "Int64", "occurrences in a place context ('at X', 'X Hall')"),
            _c("male", "Int64", "times the next pronoun after the form was he/his/him"),
            _c("female", "Int64", "times the next pronoun after the form was she/her"),
            _c("character_id", "string", "character the form belongs to, NA if not a person"),
            _START,
            _END,
        ),
    ),
    "facts": (
        "one attribute assertion about a character, e.g. Kitty / eye_colour / green",
        (
            _c("subject", "string", "character_id the fact is about"),
            _c("attribute", "string", "eye_colour, hair_colour, age, occupation, residence, "
               "sister_of, brother_of, married_to, daughter_of, son_of, father_of, "
               "mother_of, death"),
            _c("value", "string", "the value as written (normalised lowercase for colours)"),
            _c("value_id", "string", "character_id when the value is a character, else NA"),
            _START,
            _END,
            _c("chapter", "Int64", "chapter index"),
            _c("pattern", "string", "name of the pattern that matched"),
        ),
    ),
}


def columns(table: str) -> tuple[Column, ...]:
    """Return the documented columns of ``table``."""
    try:
        return TABLES[table][1]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; tables are {', '.join(TABLES)}") from None


def _dtype(name: str):
    return pd.StringDtype() if name == "string" else name


def empty(table: str) -> pd.DataFrame:
    """Return an empty frame with the columns and dtypes of ``table``."""
    return pd.DataFrame({c.name: pd.Series([], dtype=_dtype(c.dtype)) for c in columns(table)})


def coerce(table: str, data: pd.DataFrame | list[dict] | dict | None) -> pd.DataFrame:
    """Build a frame for ``table`` from rows or a frame, with schema dtypes.

    Missing columns are filled with NA; extra columns are an error.
    """
    cols = columns(table)
    if data is None:
        return empty(table)
    df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if len(df) == 0 and not len(df.columns):
        return empty(table)
    extra = set(df.columns) - {c.name for c in cols}
    if extra:
        raise ValueError(f"{table}: columns not in the schema: {sorted(extra)}")
    out = {}
    for c in cols:
        s = df[c.name] if c.name in df.columns else pd.Series([pd.NA] * len(df), index=df.index)
        out[c.name] = s.astype(_dtype(c.dtype))
    return pd.DataFrame(out).reset_index(drop=True)


def validate(table: str, df: pd.DataFrame, text: str | None = None) -> None:
    """Raise ``ValueError`` if ``df`` does not match the schema of ``table``.

    Checks column names and order, dtypes, and (when ``text`` is given) that every
    ``start``/``end`` is a valid half-open span of ``text``.
    """
    cols = columns(table)
    names = [c.name for c in cols]
    if list(df.columns) != names:
        raise ValueError(f"{table}: columns {list(df.columns)} != schema {names}")
    for c in cols:
        want = _dtype(c.dtype)
        if str(df[c.name].dtype) != str(pd.Series([], dtype=want).dtype):
            raise ValueError(f"{table}.{c.name}: dtype {df[c.name].dtype} != {c.dtype}")
    if text is not None and len(df):
        s, e = df["start"], df["end"]
        if s.isna().any() or e.isna().any():
            raise ValueError(f"{table}: missing start/end")
        if (s < 0).any() or (e > len(text)).any() or (s > e).any():
            raise ValueError(f"{table}: start/end outside the text or reversed")


def describe() -> pd.DataFrame:
    """All tables and columns as one DataFrame (table, column, dtype, meaning)."""
    rows = [
        {"table": t, "row": what, "column": c.name, "dtype": c.dtype, "meaning": c.doc}
        for t, (what, cols) in TABLES.items()
        for c in cols
    ]
    return pd.DataFrame(rows)
