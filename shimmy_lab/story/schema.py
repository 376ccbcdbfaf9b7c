"""The one place where every :class:`~shimmy_lab.story.Story` table is described.

Each table is a :class:`pandas.DataFrame` with a fixed set of columns.  Every row
points back into ``story.text`` with half-open character offsets ``start``/``end``,
so ``story.text[row.start:row.end]`` is the span the row is about, and to
characters by a stable ``character_id`` string.

Dtypes are pandas nullable dtypes: ``Int64`` (integers with ``<NA>``), ``string``
(``pd.StringDtype()``, missing values are ``<NA>``), ``float64`` and ``boolean``.
:func:`coerce` brings any frame to its schema; :func:`validate` checks one.

``SCHEMA_VERSION`` is written into every saved story; :mod:`shimmy_lab.story.io`
refuses (with a clear message) folders written by an unknown version.  Columns renamed
since stories were first saved are listed in :data:`RENAMED` (and insight kinds in
:data:`RENAMED_KINDS`): :func:`rename_old` gives a table read back from an older save
today's names.
"""

from __future__ import annotations

import pandas as pd

from ..tables import Column, Schema

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "columns",
    "empty",
    "coerce",
    "validate",
    "describe",
    "RENAMED",
    "RENAMED_KINDS",
    "rename_old",
]

SCHEMA_VERSION = 2  # 2: the columns of RENAMED under their new names

#: Columns renamed since stories were first saved: table -> {old name: new name}.  Story
#: and tracker tables alike (the tracker tables are described in
#: :mod:`shimmy_lab.trackers.schema`); a saved story is renamed when it is read back.
RENAMED: dict[str, dict[str, str]] = {
    "dna": {"unit": "unit_id", "type": "kind"},
    "echoes": {"echo": "echo_id"},
    "names": {"count": "occurrences"},
    "constraint_nodes": {"node": "node_id"},
    "engagement": {"index": "segment", "loops_opened": "threads_opened",
                   "loops_reinforced": "threads_reinforced", "loops_resolved": "threads_resolved",
                   "loops_abandoned": "threads_abandoned", "open_loops": "open_threads"},
}
#: Insight kinds renamed: old kind -> new kind (the kind inside ``insight_id`` too).
RENAMED_KINDS: dict[str, str] = {"abandoned_loop": "abandoned_thread"}


def rename_old(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Give a table read back from an older save the names of :data:`RENAMED` and
    :data:`RENAMED_KINDS`.

    Parameters
    ----------
    table : str
        The table's name (``"dna"``, ``"insights"``, ...).
    df : pandas.DataFrame
        The table as it was saved.

    Returns
    -------
    pandas.DataFrame
        ``df`` itself when nothing is renamed, else a renamed copy (values, column order
        and row order unchanged).
    """
    old = {o: n for o, n in RENAMED.get(table, {}).items()
           if o in df.columns and n not in df.columns}
    if old:
        df = df.rename(columns=old)
    if table == "insights" and "kind" in df.columns and len(df):
        for old_kind, new_kind in RENAMED_KINDS.items():
            hit = df["kind"].isin([old_kind])
            if hit.any():
                df = df.copy()
                df["kind"] = df["kind"].where(~hit, new_kind)
                if "insight_id" in df.columns:
                    ids = df["insight_id"].astype("string")
                    new_ids = ids.str.replace(f"-{old_kind}-", f"-{new_kind}-", n=1, regex=False)
                    df["insight_id"] = ids.where(~hit, new_ids).astype(df["insight_id"].dtype)
    return df


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
            _c("addressee", "string", "character_id the quote is spoken to: named as vocative "
               "inside it, else in the tag ('said Emma to Harriet'), else the other speaker of "
               "the turns around it (in a three-person exchange, the one a tag says answers); "
               "NA if unknown"),
            _c("speaker_start", "Int64", "start in story.text of the mention the speaker was read "
               "from (the name or pronoun of the speech tag, e.g. 'Mrs. Bennet' in 'cried Mrs. "
               "Bennet'); NA when the speaker came from turn-taking or no mention"),
            _c("speaker_end", "Int64", "end of that mention (half-open), NA with speaker_start"),
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
            _c("occurrences", "Int64", "occurrences of the form"),
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
    "timeline": (
        "one character in one scene where it is present (named, speaking, spoken to or "
        "dying there); start/end is the scene. Built from the other tables "
        "(shimmy_lab.story.timeline); a chapter's figures are the sum of its scenes",
        (
            _c("character_id", "string", "the character"),
            _c("chapter", "Int64", "chapter index"),
            _c("scene", "Int64", "scene index"),
            _START,
            _END,
            _c("mentions", "Int64", "name mentions of the character in the scene (narration "
               "and quotes)"),
            _c("quotes", "Int64", "quotes opening in the scene that the character speaks "
               "(quotes.speaker)"),
            _c("addressed", "Int64", "quotes opening in the scene addressed to the character "
               "(quotes.addressee)"),
            _c("status", "string", "'dies' in the scene of the character's first death told "
               "(as characters.status), 'dead' in the later scenes where it is present, else NA"),
        ),
    ),
}


_SCHEMA = Schema(TABLES, "table", require_spans=True)
columns = _SCHEMA.columns
empty = _SCHEMA.empty
coerce = _SCHEMA.coerce
validate = _SCHEMA.validate
describe = _SCHEMA.describe
