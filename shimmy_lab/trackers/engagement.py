"""Engagement loops: tension, curiosity, emotion and pace per scene and chapter.

One public entry, :func:`engagement`.  Per scene and per chapter (``level``):

* ``valence`` (-1..1) and ``arousal`` (0..1): means over words found in the bundled
  affect lexicon (``trackers/data/affect.tsv``, written for this project);
* ``tension`` (0..1): rate of tension words (threat, conflict, danger), negations
  and exclamations, scaled so that about 4% of words saturates it;
* ``curiosity`` (0..1): questions per sentence plus threads open at the end;
* ``pace`` (0..1): short sentences and a high dialogue share;
* loops from the ``dna`` table: threads opened, reinforced (an open thread's
  salient terms recur), resolved (returns) and abandoned (last touched here, never
  answered, and untouched in the last fifth of the story).

Insights: ``abandoned_loop`` (the strongest ones) and ``flat_stretch`` (several
consecutive scenes of low tension and curiosity).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from . import _util as U

__all__ = ["engagement"]

SYSTEM = "engagement"
_NEG = re.compile(r"\b(?:not|no|never|nothing|nobody|cannot|can't|won't|don't)\b", re.I)


def _measure(story: Any, s: int, e: int, lex: dict) -> dict:
    text = story.text[s:e]
    toks = U.words(text)
    n = max(len(toks), 1)
    hits = [h for w in toks if (h := U.lemma_lookup(w, lex)) is not None]
    tension_words = sum(h[2] for h in hits)
    nsent = max(len(re.findall(r"[.!?]+(?:\s|$)", text)), 1)
    qchars = sum(b - a for a, b in U.quote_mask(story, s, e))
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


def engagement(story: Any, flat_scenes: int = 4, max_insights: int = 5) -> Any:
    """Measure engagement per scene and chapter and track the story's loops.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story` (loops need :func:`~shimmy_lab.trackers.dna`).
    flat_scenes
        Consecutive scenes of low tension and curiosity that make a ``flat_stretch``.
    max_insights
        At most this many ``abandoned_loop`` insights.

    Returns
    -------
    Story
        The story with ``engagement`` and the ``engagement`` insights written.
    """
    lex = U.affect()
    dna = U.table(story, "dna")
    scenes = U.table(story, "scenes")
    sc_ids = scenes["scene"].astype(int).tolist()
    threads = dna[dna["type"].isin(["contradiction", "pressure"])]
    terms = {int(r.unit): set(str(r.terms).split("|")) - {""} for r in threads.itertuples()}
    opened = threads.groupby("scene").size().to_dict()
    resolved = dna[dna["type"] == "return"].groupby("scene").size().to_dict()
    ans_scene = {int(u): int(s) for u, s in zip(dna["unit"], dna["scene"])}
    open_at: dict[int, int] = {}
    reinforced: dict[int, int] = defaultdict(int)
    last_touch = {int(r.unit): int(r.scene) for r in threads.itertuples()}
    rows = []
    for r in scenes.itertuples():
        s, e, sc = int(r.start), int(r.end), int(r.scene)
        m = _measure(story, s, e, lex)
        words = set(U.content_words(story.text[s:e]))
        n_open = 0
        for t in threads.itertuples():
            u = int(t.unit)
            end_sc = ans_scene.get(int(t.answered_by)) if pd.notna(t.answered_by) else None
            if int(t.scene) < sc and (end_sc is None or end_sc > sc):
                if len(terms[u] & words) >= 2:
                    reinforced[sc] += 1
                    last_touch[u] = sc
            if int(t.scene) <= sc and (end_sc is None or end_sc > sc):
                n_open += 1
        open_at[sc] = n_open
        rows.append({"level": "scene", "index": sc, "chapter": int(r.chapter), "start": s,
                     "end": e, **m, "open_loops": n_open})
    cutoff = sc_ids[int(len(sc_ids) * 0.8)] if sc_ids else 0
    abandoned: dict[int, list[int]] = defaultdict(list)
    for t in threads[threads["answered_by"].isna()].itertuples():
        if last_touch[int(t.unit)] < cutoff:
            abandoned[last_touch[int(t.unit)]].append(int(t.unit))
    for row in rows:
        sc = row["index"]
        row.update(loops_opened=opened.get(sc, 0), loops_reinforced=reinforced.get(sc, 0),
                   loops_resolved=resolved.get(sc, 0), loops_abandoned=len(abandoned.get(sc, [])))
        row["curiosity"] = float(min(1.0, 0.5 * min(row.pop("q"), 1.0)
                                     + 0.5 * min(row["open_loops"] / 10, 1.0)))
    df = pd.DataFrame(rows)
    if len(df):
        ch_rows = []
        for c, g in df.groupby("chapter", sort=True):
            w = g["words"].clip(lower=1)
            avg = {k: float(np.average(g[k], weights=w)) for k in
                   ("tension", "curiosity", "valence", "arousal", "pace", "dialogue_share")}
            ch_rows.append({"level": "chapter", "index": int(c), "chapter": int(c),
                            "start": int(g["start"].min()), "end": int(g["end"].max()),
                            "words": int(g["words"].sum()), **avg,
                            **{k: int(g[k].sum()) for k in ("loops_opened", "loops_reinforced",
                                                             "loops_resolved", "loops_abandoned")},
                            "open_loops": int(g["open_loops"].iloc[-1])})
        df = pd.concat([df, pd.DataFrame(ch_rows)], ignore_index=True)
    df = U.put(story, "engagement", df)
    ins = []
    units = dna.set_index("unit") if len(dna) else dna
    flat = []
    for sc, us in sorted(abandoned.items()):
        for u in us:
            flat.append((float(units.loc[u, "intensity"]), sc, u))
    for inten, sc, u in sorted(flat, reverse=True)[:max_insights]:
        r = units.loc[u]
        ins.append(U.insight(SYSTEM, "abandoned_loop", "interesting", 0.3 + 0.4 * inten,
                             f"Abandoned loop: {str(r['description'])[:50]}",
                             f"Opened in chapter {r['chapter']}, last touched in scene {sc}, "
                             "never resolved.", int(r["start"]), int(r["end"]),
                             list(r["characters"]), "Bring it back or close it."))
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
    U.set_insights(story, SYSTEM, ins)
    U.record_params(story, SYSTEM, flat_scenes=flat_scenes, max_insights=max_insights)
    return story
