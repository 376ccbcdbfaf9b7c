"""CAPR narrative DNA: Contradiction -> Action -> Pressure -> Return units per scene.

Two public entries: :func:`compute` (pure: tables in, tables out) and :func:`dna`
(``tl.dna``: reads a story's tables, calls :func:`compute`, writes).

Each sentence is scored for cue words of the four unit types; the strongest sentence of
each type in a scene (above ``min_intensity``) becomes a unit. A *return* is a later
sentence (at least one scene later) that calls back an earlier contradiction or
pressure: it shares at least ``min_shared`` salient terms (content words that are rare
in the story, and character names). Units never called back are ``open_thread``
insights; answered ones ``payoff``. Story time is measured in chapters and words
(``story_words``), never wall-clock.
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

__all__ = ["dna", "compute", "DnaParams", "INPUTS"]

SYSTEM = "dna"
#: the tables :func:`compute` reads (besides the text)
INPUTS = ("sentences", "scenes", "mentions", "characters")
CUES = {
    "contradiction": re.compile(
        r"\b(?:but|yet|however|although|though|instead|never|nothing|nobody|no one|refus\w*|"
        r"den\w+|impossible|secret\w*|myster\w+|lie|lies|lied|strange\w*|wrong|puzzl\w+|"
        r"doubt\w*|unexpected\w*|contrary|mistake\w*|suspic\w+|conceal\w*)\b|\?", re.I),
    "action": re.compile(
        r"\b(?:went|ran|run|took|seized|opened|struck|left|decided|resolved|determined|began|"
        r"hurried|rushed|married|wrote|sent|arrived|set off|set out|followed|entered|fled|"
        r"escaped|attacked|fought|climbed|jumped|caught|broke|threw|pulled|grabbed|walked off|"
        r"called on|went to|came to)\b", re.I),
    "pressure": re.compile(
        r"\b(?:must|cannot|can't|need|needs|necessary|danger\w*|afraid|fear\w*|threat\w*|"
        r"too late|hurry|urgent|soon|unless|promise\w*|duty|obliged|forced|only chance|"
        r"no time|desperate\w*|anxious|anxiety|dread\w*|warn\w*|risk\w*|lose|lost)\b|!", re.I),
}
_ANSWERABLE = ("contradiction", "pressure")


@dataclass(frozen=True)
class DnaParams:
    """Parameters of :func:`dna` (see there)."""

    min_intensity: float = 0.34
    min_shared: int = 2
    max_insights: int = 8


def _salient(text: str, min_count: int = 2, max_count: int = 40) -> set[str]:
    cnt = Counter(w for w in U.content_words(text) if len(w) >= 4)
    return {w for w, c in cnt.items() if min_count <= c <= max_count}


def _sentence_units(view: U.StoryView, min_intensity: float) -> tuple[dict, dict, int]:
    """Score each sentence for the cue words of the unit types.

    Returns the sentences by scene (``scene -> [info]``), the strongest candidate per
    ``(scene, type)`` at or above ``min_intensity``, and the number of words read.
    """
    text = view.text
    sents = U.table(view, "sentences")
    sc_loc = U.locator(view, "scenes", "scene")
    ment = U.table(view, "mentions")
    names = U.names_by_id(view)
    m_starts = ment["start"].astype(int).to_numpy()
    m_ids = ment["character_id"].astype(str).to_numpy()
    salient = _salient(text)
    words_before = 0
    best: dict[tuple[int, str], dict] = {}
    by_scene: dict[int, list[dict]] = defaultdict(list)
    for r in sents.itertuples():
        s, e = int(r.start), int(r.end)
        body = text[s:e]
        nw = len(body.split())
        i0, i1 = np.searchsorted(m_starts, [s, e])
        chars = sorted({names.get(c, c) for c in m_ids[i0:i1]})
        terms = {w for w in U.content_words(body) if w in salient} | {c.lower() for c in chars}
        info = {"scene": U.unit_at(sc_loc, s), "chapter": int(r.chapter), "start": s, "end": e,
                "chars": chars, "terms": terms, "words": words_before, "body": body}
        words_before += nw
        by_scene[info["scene"]].append(info)
        for typ, rx in CUES.items():
            inten = min(1.0, len(rx.findall(body)) / 3.0)
            if inten >= min_intensity and nw >= 5:
                cur = best.get((info["scene"], typ))
                if cur is None or inten > cur["intensity"]:
                    best[(info["scene"], typ)] = {**info, "kind": typ, "intensity": inten}
    return by_scene, best, words_before


def _scene_return(infos: list[dict], scene: int, units: list[dict],
                  open_units: dict[str, set[int]], min_shared: int) -> tuple | None:
    """The sentence of ``scene`` calling back most open units: ``(shared, info, answers)``."""
    cand = []
    for info in infos:
        hits = Counter(u for t in info["terms"] for u in open_units.get(t, ()))
        ans = sorted(u for u, k in hits.items() if k >= min_shared
                     and units[u]["scene"] < scene and units[u]["answered_by"] is None)
        if ans:
            cand.append((len(ans), sum(hits[u] for u in ans), info, ans))
    if not cand:
        return None
    _, shared, info, ans = max(cand, key=lambda c: (c[0], c[1]))
    return shared, info, ans


def _link_units(by_scene: dict, best: dict, min_shared: int) -> list[dict]:
    """Walk the scenes in order: each scene's return (if any) first, then its units."""
    units: list[dict] = []
    open_units: dict[str, set[int]] = defaultdict(set)  # term -> unit ids
    for scene in sorted(by_scene):
        found = _scene_return(by_scene[scene], scene, units, open_units, min_shared)
        if found is not None:
            shared, info, ans = found
            uid = len(units)
            units.append({**info, "kind": "return", "intensity": min(1.0, shared / 6.0),
                          "answers": ans, "answered_by": None})
            for u in ans:
                units[u]["answered_by"] = uid
        for typ in CUES:
            u = best.get((scene, typ))
            if u is None:
                continue
            uid = len(units)
            units.append({**u, "answers": [], "answered_by": None})
            if typ in _ANSWERABLE:
                for t in u["terms"]:
                    open_units[t].add(uid)
    return units


def _rows(units: list[dict]) -> pd.DataFrame:
    """The ``dna`` table rows of the linked units."""
    return pd.DataFrame([
        {"unit_id": i, "scene": u["scene"], "chapter": u["chapter"], "kind": u["kind"],
         "description": " ".join(u["body"].split())[:200], "characters": u["chars"],
         "start": u["start"], "end": u["end"], "intensity": u["intensity"],
         "terms": "|".join(sorted(u["terms"])[:12]),
         "answers": "|".join(map(str, u["answers"])) or pd.NA,
         "answered_by": u["answered_by"] if u["answered_by"] is not None else pd.NA,
         "story_words": u["words"]} for i, u in enumerate(units)])


def _insights(df: pd.DataFrame, total: int, max_insights: int) -> list[dict]:
    """Word the ``open_thread`` and ``payoff`` insights of the ``dna`` table."""
    ins = []
    op = df[df["kind"].isin(_ANSWERABLE) & df["answered_by"].isna()]
    op = op.sort_values(["intensity", "story_words"], ascending=[False, False]).head(max_insights)
    for r in op.itertuples():
        ins.append(U.insight(
            SYSTEM, "open_thread", "interesting", 0.4 + 0.4 * r.intensity,
            f"Open {r.kind}: {r.description[:60]}",
            f"A {r.kind} set up in chapter {r.chapter} ({r.story_words / total:.0%} into the "
            "story) is never called back.", r.start, r.end, list(r.characters),
            "Pay it off: return to " + (", ".join(str(r.terms).split("|")[:3]) or "it") + "."))
    ret = df[df["kind"] == "return"].copy()
    if len(ret):
        first = ret["answers"].astype(str).str.split("|").str[0].astype(int)
        ret["gap"] = ret["story_words"].to_numpy() - df.loc[first, "story_words"].to_numpy()
        for r in ret.sort_values("gap", ascending=False).head(max_insights).itertuples():
            ins.append(U.insight(
                SYSTEM, "payoff", "minor", min(1.0, 0.3 + r.gap / total),
                f"Payoff after {r.gap} words: {r.description[:50]}",
                f"Calls back unit(s) {r.answers} (shared: {str(r.terms).replace('|', ', ')}).",
                r.start, r.end, list(r.characters), ""))
    return ins


def compute(tables: Mapping[str, Any], params: DnaParams = DnaParams()) -> dict[str, pd.DataFrame]:
    """Find CAPR units per scene and link returns to the units they answer (pure).

    Parameters
    ----------
    tables : mapping
        The tables of :data:`INPUTS` (an absent one reads as empty) and the story text
        under ``"text"`` (:data:`shimmy_lab.trackers.systems.TEXT`).  Not modified.
    params : DnaParams
        Its parameters (see :func:`dna`).

    Returns
    -------
    dict of str to DataFrame
        ``"dna"``: the units; ``"insights"``: the ``open_thread`` and ``payoff`` insights.

    Examples
    --------
    >>> from shimmy_lab.trackers.dna import compute
    >>> out = compute({"text": ""})
    >>> sorted(out), len(out["dna"])
    (['dna', 'insights'], 0)
    """
    by_scene, best, words = _sentence_units(U.StoryView(tables), params.min_intensity)
    units = _link_units(by_scene, best, params.min_shared)
    df = schema.coerce("dna", _rows(units))
    ins = _insights(df, max(words, 1), params.max_insights)
    return {"dna": df, "insights": U.insights_frame(SYSTEM, ins)}


def dna(story: Any, min_intensity: float = DnaParams.min_intensity,
        min_shared: int = DnaParams.min_shared, max_insights: int = DnaParams.max_insights) -> Any:
    """Find CAPR units per scene and link returns to the units they answer.

    Reads the tables of :data:`INPUTS`, calls :func:`compute`, writes its output and
    records the parameters in ``story.uns["params"]["dna"]``.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story`.
    min_intensity
        Minimum cue strength (0..1, three cue words = 1) for a unit.
    min_shared
        Salient terms a return must share with the unit it answers.
    max_insights
        At most this many ``open_thread`` and ``payoff`` insights each.

    Returns
    -------
    Story
        The story with ``dna`` and the ``dna`` insights written.
    """
    params = DnaParams(min_intensity, min_shared, max_insights)
    return U.write(story, SYSTEM, compute(U.inputs(story, INPUTS), params), params)


#: the system in the registry (:mod:`shimmy_lab.trackers.systems`)
DNA = System("dna", dna, DnaParams, tables=("dna",), compute=compute, rank=30)
