"""Engagement: tension, curiosity, emotion and pace per scene and chapter.

Two public entries: :func:`compute` (pure: tables in, tables out) and :func:`engagement`
(``tl.engagement``: reads a story's tables, calls :func:`compute`, writes).

Per scene and per chapter (``level``):

* ``valence`` (-1..1) and ``arousal`` (0..1): means over words found in the bundled
  affect lexicon (``trackers/data/affect.tsv``, written for this project);
* ``tension`` (0..1): rate of tension words (threat, conflict, danger), negations
  and exclamations, scaled so that about 4% of words saturates it;
* ``curiosity`` (0..1): questions per sentence plus threads open at the end;
* ``pace`` (0..1): short sentences and a high dialogue share;
* threads from the ``dna`` table: opened, reinforced (an open thread's
  salient terms recur), resolved (returns) and abandoned (last touched here, never
  answered, and untouched in the last fifth of the story).

Insights: ``abandoned_thread`` (the strongest ones) and ``flat_stretch`` (several
consecutive scenes of low tension and curiosity).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import _util as U
from . import schema
from .systems import System

__all__ = ["engagement", "compute", "EngagementParams", "INPUTS"]

SYSTEM = "engagement"
#: the tables :func:`compute` reads (besides the text)
INPUTS = ("scenes", "quotes", "dna")
_NEG = re.compile(r"\b(?:not|no|never|nothing|nobody|cannot|can't|won't|don't)\b", re.I)


@dataclass(frozen=True)
class EngagementParams:
    """Parameters of :func:`engagement` (see there)."""

    flat_scenes: int = 4
    max_insights: int = 5


def _measure(view: U.StoryView, s: int, e: int, lex: dict) -> dict:
    text = view.text[s:e]
    toks = U.words(text)
    n = max(len(toks), 1)
    hits = [h for w in toks if (h := U.lemma_lookup(w, lex)) is not None]
    tension_words = sum(h[2] for h in hits)
    nsent = max(len(re.findall(r"[.!?]+(?:\s|$)", text)), 1)
    qchars = sum(b - a for a, b in U.quote_mask(view, s, e))
    mean_len = n / nsent
    dshare = min(1.0, qchars / max(e - s, 1))
    return {"words": len(toks),
            "tension": float(min(1.0, (tension_words + 0.3 * len(_NEG.findall(text))
                                       + text.count("!")) / n / 0.04)),
            "q": text.count("?") / nsent,
            "valence": float(np.mean([h[0] for h in hits])) if hits else 0.0,
            "arousal": float(np.mean([h[1] for h in hits])) if hits else 0.0,
            "pace": float(np.clip(0.6 * (1 - min(mean_len, 40) / 40) + 0.4 * dshare, 0, 1)),
            "dialogue_share": dshare}


class _Threads:
    """The threads of the ``dna`` table (contradictions and pressures) and their state."""

    def __init__(self, dna: pd.DataFrame) -> None:
        self.threads = dna[dna["kind"].isin(["contradiction", "pressure"])]
        self.terms = {int(r.unit_id): set(str(r.terms).split("|")) - {""}
                      for r in self.threads.itertuples()}
        self.opened = self.threads.groupby("scene").size().to_dict()
        self.resolved = dna[dna["kind"] == "return"].groupby("scene").size().to_dict()
        self.ans_scene = {int(u): int(s) for u, s in zip(dna["unit_id"], dna["scene"])}
        self.reinforced: dict[int, int] = defaultdict(int)
        self.last_touch = {int(r.unit_id): int(r.scene) for r in self.threads.itertuples()}

    def visit(self, sc: int, words: set[str]) -> int:
        """Count the threads open at scene ``sc``; note those its ``words`` reinforce."""
        n_open = 0
        for t in self.threads.itertuples():
            u = int(t.unit_id)
            end_sc = self.ans_scene.get(int(t.answered_by)) if pd.notna(t.answered_by) else None
            if int(t.scene) < sc and (end_sc is None or end_sc > sc):
                if len(self.terms[u] & words) >= 2:
                    self.reinforced[sc] += 1
                    self.last_touch[u] = sc
            if int(t.scene) <= sc and (end_sc is None or end_sc > sc):
                n_open += 1
        return n_open

    def abandoned(self, sc_ids: list[int]) -> dict[int, list[int]]:
        """Unanswered threads last touched before the last fifth: scene -> units."""
        cutoff = sc_ids[int(len(sc_ids) * 0.8)] if sc_ids else 0
        out: dict[int, list[int]] = defaultdict(list)
        for t in self.threads[self.threads["answered_by"].isna()].itertuples():
            if self.last_touch[int(t.unit_id)] < cutoff:
                out[self.last_touch[int(t.unit_id)]].append(int(t.unit_id))
        return out


def _scene_rows(view: U.StoryView, threads: _Threads) -> tuple[list[dict], dict[int, list[int]]]:
    """Measure each scene and count the threads open in it (scores, threads, curiosity);
    also return the abandoned threads (scene -> units)."""
    lex = U.affect()
    scenes = U.table(view, "scenes")
    rows = []
    for r in scenes.itertuples():
        s, e, sc = int(r.start), int(r.end), int(r.scene)
        m = _measure(view, s, e, lex)
        n_open = threads.visit(sc, set(U.content_words(view.text[s:e])))
        rows.append({"level": "scene", "segment": sc, "chapter": int(r.chapter), "start": s,
                     "end": e, **m, "open_threads": n_open})
    abandoned = threads.abandoned(scenes["scene"].astype(int).tolist())
    for row in rows:
        sc = row["segment"]
        row.update(threads_opened=threads.opened.get(sc, 0),
                   threads_reinforced=threads.reinforced.get(sc, 0),
                   threads_resolved=threads.resolved.get(sc, 0),
                   threads_abandoned=len(abandoned.get(sc, [])))
        row["curiosity"] = float(min(1.0, 0.5 * min(row.pop("q"), 1.0)
                                     + 0.5 * min(row["open_threads"] / 10, 1.0)))
    return rows, abandoned


def _chapter_rows(df: pd.DataFrame) -> list[dict]:
    """Per chapter: word-weighted means of the scene scores, summed thread counts."""
    ch_rows = []
    for c, g in df.groupby("chapter", sort=True):
        w = g["words"].clip(lower=1)
        avg = {k: float(np.average(g[k], weights=w)) for k in
               ("tension", "curiosity", "valence", "arousal", "pace", "dialogue_share")}
        ch_rows.append({"level": "chapter", "segment": int(c), "chapter": int(c),
                        "start": int(g["start"].min()), "end": int(g["end"].max()),
                        "words": int(g["words"].sum()), **avg,
                        **{k: int(g[k].sum()) for k in ("threads_opened", "threads_reinforced",
                                                         "threads_resolved", "threads_abandoned")},
                        "open_threads": int(g["open_threads"].iloc[-1])})
    return ch_rows


def _abandoned_insights(dna: pd.DataFrame, abandoned: dict[int, list[int]],
                        max_insights: int) -> list[dict]:
    """Word the ``abandoned_thread`` insights, the most intense first."""
    ins = []
    units = dna.set_index("unit_id") if len(dna) else dna
    flat = []
    for sc, us in sorted(abandoned.items()):
        for u in us:
            flat.append((float(units.loc[u, "intensity"]), sc, u))
    for inten, sc, u in sorted(flat, reverse=True)[:max_insights]:
        r = units.loc[u]
        ins.append(U.insight(SYSTEM, "abandoned_thread", "interesting", 0.3 + 0.4 * inten,
                             f"Abandoned thread: {str(r['description'])[:50]}",
                             f"Opened in chapter {r['chapter']}, last touched in scene {sc}, "
                             "never resolved.", int(r["start"]), int(r["end"]),
                             list(r["characters"]), "Bring it back or close it."))
    return ins


def _flat_insights(df: pd.DataFrame, flat_scenes: int) -> list[dict]:
    """Word a ``flat_stretch`` insight per ``flat_scenes`` low scenes in a row."""
    ins = []
    sc_df = df[df["level"] == "scene"].reset_index(drop=True)
    low = (sc_df["tension"] < 0.15) & (sc_df["curiosity"] < 0.15) if len(sc_df) else pd.Series([], dtype=bool)
    run = 0
    for i, lo in enumerate(low):
        run = run + 1 if lo else 0
        if run == flat_scenes:
            a = sc_df.iloc[i - flat_scenes + 1]
            ins.append(U.insight(SYSTEM, "flat_stretch", "minor", 0.4,
                                 f"{flat_scenes} flat scenes in a row",
                                 "Low tension and few open questions for several scenes.",
                                 int(a["start"]), int(sc_df.iloc[i]["end"]), [],
                                 "Raise a question or a threat."))
    return ins


def compute(tables: Mapping[str, Any],
            params: EngagementParams = EngagementParams()) -> dict[str, pd.DataFrame]:
    """Measure engagement per scene and chapter and track the story's threads (pure).

    Parameters
    ----------
    tables : mapping
        The tables of :data:`INPUTS` (an absent one reads as empty: without ``dna`` there
        are no threads) and the story text under ``"text"``
        (:data:`shimmy_lab.trackers.systems.TEXT`).  Not modified.
    params : EngagementParams
        Its parameters (see :func:`engagement`).

    Returns
    -------
    dict of str to DataFrame
        ``"engagement"``: a row per scene and per chapter; ``"insights"``: the
        ``abandoned_thread`` and ``flat_stretch`` insights.
    """
    view = U.StoryView(tables)
    dna = U.table(view, "dna")
    rows, abandoned = _scene_rows(view, _Threads(dna))
    df = pd.DataFrame(rows)
    if len(df):
        df = pd.concat([df, pd.DataFrame(_chapter_rows(df))], ignore_index=True)
    df = schema.coerce("engagement", df)
    ins = _abandoned_insights(dna, abandoned, params.max_insights)
    ins += _flat_insights(df, params.flat_scenes)
    return {"engagement": df, "insights": U.insights_frame(SYSTEM, ins)}


def engagement(story: Any, flat_scenes: int = EngagementParams.flat_scenes,
               max_insights: int = EngagementParams.max_insights) -> Any:
    """Measure engagement per scene and chapter and track the story's threads.

    Reads the tables of :data:`INPUTS`, calls :func:`compute`, writes its output and
    records the parameters in ``story.uns["params"]["engagement"]``.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story` (threads need :func:`~shimmy_lab.trackers.dna`).
    flat_scenes
        Consecutive scenes of low tension and curiosity that make a ``flat_stretch``.
    max_insights
        At most this many ``abandoned_thread`` insights.

    Returns
    -------
    Story
        The story with ``engagement`` and the ``engagement`` insights written.
    """
    params = EngagementParams(flat_scenes, max_insights)
    return U.write(story, SYSTEM, compute(U.inputs(story, INPUTS), params), params)


#: the system in the registry (:mod:`shimmy_lab.trackers.systems`)
ENGAGEMENT = System("engagement", engagement, EngagementParams, tables=("engagement",),
                    requires=("dna",), compute=compute, rank=60)
