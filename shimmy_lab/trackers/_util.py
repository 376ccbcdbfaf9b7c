"""Shared helpers of the trackers: table access, tokens, word lists, insight rows, and the
inputs and outputs of a system's pure ``compute`` (:func:`inputs`, :class:`StoryView`,
:func:`write`)."""

from __future__ import annotations

import bisect
import dataclasses
import re
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..story import schema as sschema
from . import schema

WORD_RE = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)*")

#: function words used by the voice fingerprints (Burrows-style most-frequent words)
FUNCTION_WORDS = tuple("""
the and to of a i you it in that is was he she for not my me be have on with but his her
as at this all so we what no do if your are there they him had will would been by or one
can from an must very now well oh then shall could should which when who how why yes
much more any some am our us said just than only never here too indeed quite
""".split())
FW_INDEX = {w: i for i, w in enumerate(FUNCTION_WORDS)}

STOPWORDS = frozenset(FUNCTION_WORDS) | frozenset("""
about above after again against also although always among another anything around away
back because before being below between both came come did does doing done down during
each else even ever every few first found get give go going gone good got great has having
her hers herself himself its itself just know knew last least less let like little long
made make many may might mine miss mr mrs most must myself neither nor nothing off often
once other others ought ours out over own perhaps rather really same say see seemed seen
since something soon still such take tell them their themselves these thing things think
those though thought through till time told took towards two under until upon very was
way went were whatever where whether while whom whose within without yet yourself
another being upon sir dear lady man woman men women young old day days say says
cannot can't don't i'm it's that's won't didn't couldn't wouldn't shouldn't isn't
wasn't aren't weren't hadn't hasn't haven't i'll you're we're they're i've you'll
""".split())

CONTRACTION_RE = re.compile(r"[A-Za-z]+['\u2019](?:t|s|d|ll|re|ve|m)\b|\b(?:'tis|'twas)\b", re.I)


def words(text: str) -> list[str]:
    """Lowercase word tokens of ``text`` (apostrophes kept inside words)."""
    return [w.lower().replace("\u2019", "'") for w in WORD_RE.findall(text)]


def content_words(text: str) -> list[str]:
    """Lowercase words of 3+ letters that are not stop words."""
    return [w for w in words(text) if len(w) > 2 and w not in STOPWORDS]


def table(story: Any, name: str) -> pd.DataFrame:
    """Return table ``name`` of ``story`` (an empty tracker/story frame if absent)."""
    tables = getattr(story, "tables", None)
    if tables is not None and name in tables:
        return tables[name]
    if name in schema.TABLES:
        return schema.empty(name)
    return sschema.empty(name)


def put(story: Any, name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Store ``df`` (coerced to its schema) as table ``name`` of ``story``."""
    df = schema.coerce(name, df)
    story.tables[name] = df
    return df


def record_params(story: Any, system: str, **params: Any) -> None:
    """Record the parameters of a tracker run under ``story.uns['params'][system]``."""
    story.uns.setdefault("params", {})[system] = dict(params)


def set_insights(story: Any, system: str, rows: list[dict]) -> pd.DataFrame:
    """Replace the insights of ``system`` in ``story.tables['insights']`` by ``rows``."""
    return put_insights(story, system, insights_frame(system, rows))


def insights_frame(system: str, rows: list[dict]) -> pd.DataFrame:
    """The ``insights`` table of ``rows`` (rows without an ``insight_id`` are built with
    :func:`insight` for ``system``)."""
    return schema.coerce("insights", [insight(system=system, **r) if "insight_id" not in r else r
                                      for r in rows])


def put_insights(story: Any, system: str, new: pd.DataFrame) -> pd.DataFrame:
    """Replace the insights of ``system`` in ``story.tables['insights']`` by the table ``new``."""
    old = table(story, "insights")
    keep = old[~old["system"].fillna("").str.split("+").map(lambda s: system in s)] if len(old) else old
    df = pd.concat([keep, new], ignore_index=True) if len(keep) else new
    return put(story, "insights", df)


#: the key of the story text in the mapping a system's ``compute`` reads (no table holds it)
TEXT = "text"


def inputs(story: Any, names: Iterable[str]) -> Mapping[str, Any]:
    """The read-only mapping a system's ``compute`` takes: tables ``names`` of ``story``
    (empty frames for the absent ones, as :func:`table`) and its text under :data:`TEXT`."""
    return MappingProxyType({TEXT: story.text, **{n: table(story, n) for n in names}})


class StoryView:
    """A read-only, story-like view (``.text``, ``.tables``) of the mapping a ``compute``
    takes, so that the helpers written for a story (:func:`table`, :func:`locator`, ...)
    read it.

    Parameters
    ----------
    tables : mapping
        Table name -> DataFrame, and the text under :data:`TEXT` (default ``""``).
    """

    def __init__(self, tables: Mapping[str, Any]) -> None:
        self.text = str(tables.get(TEXT, ""))
        self.tables = MappingProxyType({k: v for k, v in tables.items() if k != TEXT})


def write(story: Any, system: str, out: Mapping[str, pd.DataFrame], params: Any) -> Any:
    """Write the output of a system's ``compute`` to ``story`` (the thin half of its ``tl``
    function).

    Parameters
    ----------
    story : Story
        Written to.
    system : str
        The system's name.
    out : mapping
        What ``compute`` returned: its tables (coerced to their schema when they have one
        in :mod:`shimmy_lab.trackers.schema`, stored as given otherwise), its rows of
        ``insights`` under ``"insights"`` (they replace its earlier rows; no key: the
        insights are left alone), its summary under ``"uns"`` (a one-row frame, written
        to ``story.uns[system]`` as a dict) and the parameters it ran with under
        ``"params"`` (a one-row frame, recorded instead of ``params``).
    params : dataclass
        Its parameters, recorded in ``story.uns["params"][system]`` (unless ``out`` has
        ``"params"``).

    Returns
    -------
    Story
        ``story``.
    """
    for name, df in out.items():
        if name in ("insights", "uns", "params"):
            continue
        if name in schema.TABLES:
            put(story, name, df)
        else:
            story.tables[name] = df
    if "uns" in out:
        story.uns[system] = out["uns"].to_dict("records")[0]
    if "insights" in out:
        put_insights(story, system, out["insights"])
    ran = out["params"].to_dict("records")[0] if "params" in out else dataclasses.asdict(params)
    record_params(story, system, **ran)
    return story


def insight(system: str, kind: str, priority: str, severity: float, title: str, message: str,
            start: int, end: int, characters: Iterable[str] = (), suggestion: str = "") -> dict:
    """Build one insight row (the id is ``system-kind-start``)."""
    if priority not in schema.PRIORITIES:
        raise ValueError(f"priority must be one of {schema.PRIORITIES}, not {priority!r}")
    return {"insight_id": f"{system}-{kind}-{int(start)}", "system": system, "kind": kind,
            "priority": priority, "severity": float(np.clip(severity, 0.0, 1.0)),
            "title": title, "message": message, "start": int(start), "end": int(end),
            "characters": list(characters), "suggestion": suggestion}


def names_by_id(story: Any) -> dict[str, str]:
    """``character_id -> name`` from the characters table."""
    ch = table(story, "characters")
    return dict(zip(ch["character_id"].astype(str), ch["name"].astype(str)))


def locator(story: Any, name: str, key: str) -> tuple[list[int], list[int]]:
    """(starts, ids) of table ``name`` for bisect lookups of the unit holding an offset."""
    t = table(story, name)
    return t["start"].astype(int).tolist(), t[key].astype(int).tolist()


def unit_at(loc: tuple[list[int], list[int]], pos: int) -> int:
    """The id of the unit (from :func:`locator`) that holds offset ``pos``."""
    starts, ids = loc
    i = bisect.bisect_right(starts, pos) - 1
    return ids[i] if i >= 0 else (ids[0] if ids else 0)


def quote_mask(story: Any, start: int, end: int) -> list[tuple[int, int]]:
    """Quote spans overlapping ``[start, end)``."""
    q = table(story, "quotes")
    if not len(q):
        return []
    s, e = q["start"].to_numpy(dtype=np.int64), q["end"].to_numpy(dtype=np.int64)
    i0 = int(np.searchsorted(e, start, side="right"))
    out = []
    for i in range(i0, len(s)):
        if s[i] >= end:
            break
        out.append((int(s[i]), int(e[i])))
    return out


def narration(text: str, start: int, end: int, quotes: list[tuple[int, int]]) -> str:
    """``text[start:end]`` with quoted spans blanked out (narration only)."""
    parts, pos = [], start
    for s, e in quotes:
        if e <= pos:
            continue
        parts.append(text[pos:max(pos, s)])
        pos = max(pos, e)
    parts.append(text[pos:end] if pos < end else "")
    return " ".join(parts)


@lru_cache(maxsize=1)
def affect() -> dict[str, tuple[float, float, int]]:
    """The bundled affect lexicon: word -> (valence -1..1, arousal 0..1, tension 0/1)."""
    path = Path(__file__).parent / "data" / "affect.tsv"
    out: dict[str, tuple[float, float, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        w, v, a, t = line.split("\t")
        out[w] = (float(v) / 4.0, float(a), int(t))
    return out


def lemma_lookup(word: str, lex: dict) -> Any:
    """Look ``word`` up in ``lex`` trying crude suffix stripping (s, ed, ing, ly)."""
    if word in lex:
        return lex[word]
    for suf, rep in (("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("d", ""), ("ing", ""),
                     ("ing", "e"), ("ly", ""), ("ness", ""), ("ful", "")):
        if word.endswith(suf) and len(word) > len(suf) + 2:
            base = word[: -len(suf)] + rep
            if base in lex:
                return lex[base]
    return None
