"""Multi-level recursion: phrases and motifs that echo across the story's levels.

Two public entries: :func:`compute` (pure: tables in, tables out) and :func:`recursion`
(``tl.recursion``: reads a story's tables, calls :func:`compute`, writes).

*Phrases* are word n-grams (default 4 words, at least two of them content words) that
recur 2..``max_repeats`` times; *motifs* are content words of 5+ letters, rare overall
but spread over several chapters. Each echo links an occurrence (``start``/``end``) to
the next one (``target_start``/``target_end``) and gets the ``level`` of the smallest
unit holding both: sentence (same paragraph), paragraph (same scene), scene (same
chapter), chapter (same act; acts are thirds of the chapters) or act. ``similarity`` is
the content-word Jaccard overlap of the two sentences.

Summary numbers go to ``story.uns["recursion"]``: echo density (phrase echoes per
1,000 words), counts per level, and opening/ending symmetry (cosine similarity of
the content words of the first and last 5% of the text).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import _util as U
from . import schema
from .systems import System

__all__ = ["recursion", "compute", "RecursionParams", "INPUTS"]

SYSTEM = "recursion"
#: the tables :func:`compute` reads (besides the text)
INPUTS = ("sentences", "paragraphs", "scenes", "chapters")
LEVELS = ("sentence", "paragraph", "scene", "chapter", "act")
_TOK = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@dataclass(frozen=True)
class RecursionParams:
    """Parameters of :func:`recursion` (see there)."""

    n: int = 4
    max_repeats: int = 6
    max_echoes: int = 5000
    motif_min_chapters: int = 3


def _cosine(a: Counter, b: Counter) -> float:
    keys = set(a) & set(b)
    num = sum(a[k] * b[k] for k in keys)
    den = np.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return float(num / den) if den else 0.0


def _tokens(view: U.StoryView, n: int) -> tuple[dict, list[set], dict]:
    """Read the sentences once: phrase n-grams, content words per sentence, motif places.

    Returns ``grams`` (n-gram -> ``[(start, end, sentence)]``), ``sent_words`` (the
    content words of each sentence) and ``motif_pos`` (word -> ``[(start, sentence)]``).
    """
    text = view.text
    grams: dict[tuple, list[tuple[int, int, int]]] = defaultdict(list)
    sent_words: list[set] = []
    motif_pos: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for si, r in enumerate(U.table(view, "sentences").itertuples()):
        s, e = int(r.start), int(r.end)
        toks = [(m.group(0).lower(), s + m.start(), s + m.end()) for m in _TOK.finditer(text[s:e])]
        sent_words.append({w for w, _, _ in toks if len(w) > 2 and w not in U.STOPWORDS})
        for i in range(len(toks) - n + 1):
            g = tuple(t[0] for t in toks[i:i + n])
            if sum(w not in U.STOPWORDS and len(w) > 2 for w in g) >= 2:
                grams[g].append((toks[i][1], toks[i + n - 1][2], si))
        for w, a, b in toks:
            if len(w) >= 5 and w not in U.STOPWORDS:
                motif_pos[w].append((a, si))
    return grams, sent_words, motif_pos


class _Levels:
    """The level of the smallest unit holding two offsets, and sentence similarity."""

    def __init__(self, view: U.StoryView, sent_words: list[set]) -> None:
        self.locs = {lv: U.locator(view, t, k) for lv, t, k in (
            ("paragraph", "paragraphs", "paragraph"), ("scene", "scenes", "scene"),
            ("chapter", "chapters", "chapter"))}
        self.n_ch = max(len(U.table(view, "chapters")), 1)
        self.sent_words = sent_words

    def chapter(self, a: int) -> int:
        return U.unit_at(self.locs["chapter"], a)

    def level(self, a: int, b: int) -> str:
        if U.unit_at(self.locs["paragraph"], a) == U.unit_at(self.locs["paragraph"], b):
            return "sentence"
        if U.unit_at(self.locs["scene"], a) == U.unit_at(self.locs["scene"], b):
            return "paragraph"
        ca, cb = self.chapter(a), self.chapter(b)
        if ca == cb:
            return "scene"
        return "chapter" if ca * 3 // self.n_ch == cb * 3 // self.n_ch else "act"

    def sim(self, i: int, j: int) -> float:
        a, b = self.sent_words[i], self.sent_words[j]
        return len(a & b) / len(a | b) if a | b else 0.0


def _phrase_rows(grams: dict, lv: _Levels, max_repeats: int) -> list[dict]:
    """One echo per pair of consecutive occurrences of a phrase (in two sentences)."""
    rows = []
    for g, occ in grams.items():
        if 2 <= len(occ) <= max_repeats:
            for (a0, a1, si), (b0, b1, sj) in zip(occ, occ[1:]):
                if si != sj:
                    rows.append({"phrase": " ".join(g), "kind": "phrase", "level": lv.level(a0, b0),
                                 "similarity": lv.sim(si, sj), "start": a0, "end": a1,
                                 "target_start": b0, "target_end": b1})
    return rows


def _motif_rows(motif_pos: dict, lv: _Levels, motif_min_chapters: int) -> list[dict]:
    """One echo per pair of consecutive chapters where a motif word first appears."""
    rows = []
    for w, occ in motif_pos.items():
        if not 3 <= len(occ) <= 25:
            continue
        firsts: dict[int, tuple[int, int]] = {}
        for a, si in occ:
            firsts.setdefault(lv.chapter(a), (a, si))
        if len(firsts) < motif_min_chapters:
            continue
        seq = [firsts[c] for c in sorted(firsts)]
        for (a, si), (b, sj) in zip(seq, seq[1:]):
            rows.append({"phrase": w, "kind": "motif", "level": lv.level(a, b),
                         "similarity": lv.sim(si, sj), "start": a, "end": a + len(w),
                         "target_start": b, "target_end": b + len(w)})
    return rows


def _echo_table(rows: list[dict], max_echoes: int) -> pd.DataFrame:
    """The ``echoes`` rows: the ``max_echoes`` most similar, in text order, numbered."""
    df = pd.DataFrame(rows)
    if len(df) > max_echoes:
        df = df.sort_values("similarity", ascending=False).head(max_echoes)
    if len(df):
        df = df.sort_values(["start", "target_start"]).reset_index(drop=True)
        df.insert(0, "echo_id", np.arange(len(df)))
    return df


def _summary(text: str, df: pd.DataFrame, n_phrase: int) -> tuple[dict, float]:
    """``uns["recursion"]`` (echo density, counts per level, opening/ending symmetry) and
    the unrounded symmetry."""
    nwords = max(len(text.split()), 1)
    k = max(300, nwords // 20)
    toks = U.content_words(text)
    head, tail = Counter(toks[:k // 2]), Counter(toks[-(k // 2):])
    symmetry = _cosine(head, tail)
    shared = [w for w, _ in (head & tail).most_common(5)]
    return {"density": round(n_phrase / nwords * 1000, 4),
            "levels": {lv: int((df["level"] == lv).sum()) for lv in LEVELS},
            "symmetry": round(symmetry, 4), "symmetry_terms": shared}, symmetry


def _insights(text: str, df: pd.DataFrame, symmetry: float, shared: list[str]) -> list[dict]:
    """Word the ``echo_symmetry`` and ``echo`` (across acts) insights."""
    ins = []
    if symmetry >= 0.2 and shared:
        ins.append(U.insight(SYSTEM, "echo_symmetry", "interesting", symmetry,
                             "Opening and ending echo each other",
                             f"Opening/ending similarity {symmetry:.2f}; shared: "
                             f"{', '.join(shared)}.", 0, min(len(text), 500), [],
                             "Use the echo deliberately in the final scene."))
    far = df[(df["kind"] == "phrase") & (df["level"] == "act")].sort_values(
        "similarity", ascending=False).head(3)
    for r in far.itertuples():
        ins.append(U.insight(SYSTEM, "echo", "minor", float(r.similarity),
                             f"Echo across acts: '{r.phrase}'",
                             f"The phrase returns at offset {r.target_start}.", int(r.start),
                             int(r.end), [], "Make the callback deliberate, or vary it."))
    return ins


def compute(tables: Mapping[str, Any],
            params: RecursionParams = RecursionParams()) -> dict[str, pd.DataFrame]:
    """Find echoes of phrases and motifs across levels; density and symmetry (pure).

    Parameters
    ----------
    tables : mapping
        The tables of :data:`INPUTS` (an absent one reads as empty) and the story text
        under ``"text"`` (:data:`shimmy_lab.trackers.systems.TEXT`).  Not modified.
    params : RecursionParams
        Its parameters (see :func:`recursion`).

    Returns
    -------
    dict of str to DataFrame
        ``"echoes"``; ``"uns"``: one row, the summary (``density``, ``levels``,
        ``symmetry``, ``symmetry_terms``) that :func:`recursion` writes to
        ``story.uns["recursion"]``; ``"insights"``: the ``echo_symmetry`` and ``echo``
        insights.
    """
    view = U.StoryView(tables)
    grams, sent_words, motif_pos = _tokens(view, params.n)
    lv = _Levels(view, sent_words)
    rows = _phrase_rows(grams, lv, params.max_repeats)
    n_phrase = len(rows)
    rows += _motif_rows(motif_pos, lv, params.motif_min_chapters)
    df = schema.coerce("echoes", _echo_table(rows, params.max_echoes))
    summary, symmetry = _summary(view.text, df, n_phrase)
    ins = _insights(view.text, df, symmetry, summary["symmetry_terms"])
    return {"echoes": df, "uns": pd.DataFrame([summary]), "insights": U.insights_frame(SYSTEM, ins)}


def recursion(story: Any, n: int = RecursionParams.n, max_repeats: int = RecursionParams.max_repeats,
              max_echoes: int = RecursionParams.max_echoes,
              motif_min_chapters: int = RecursionParams.motif_min_chapters) -> Any:
    """Find echoes of phrases and motifs across levels; density and symmetry.

    Reads the tables of :data:`INPUTS`, calls :func:`compute`, writes its output and
    records the parameters in ``story.uns["params"]["recursion"]``.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story`.
    n
        Phrase length in words.
    max_repeats
        Phrases repeated more often than this are formulas, not echoes.
    max_echoes
        Cap on the rows of ``echoes`` (the most similar are kept).
    motif_min_chapters
        A motif word must occur in at least this many chapters.

    Returns
    -------
    Story
        The story with ``echoes``, ``uns["recursion"]`` and the insights written.
    """
    params = RecursionParams(n, max_repeats, max_echoes, motif_min_chapters)
    return U.write(story, SYSTEM, compute(U.inputs(story, INPUTS), params), params)


#: the system in the registry (:mod:`shimmy_lab.trackers.systems`)
RECURSION = System("recursion", recursion, RecursionParams, tables=("echoes",), compute=compute,
                   rank=50)
