"""Constraint space: what the established facts and open threads allow next.

One public entry, :func:`constraints`.  A :class:`networkx.MultiDiGraph` is built
from the tables -- characters (with status), places, facts, relationships and open
threads (unanswered contradictions / pressures of ``dna``) -- with edges for
relations (``relates``, ``located_at``, ``has_fact``, ``involves``) and for what a
fact blocks (``blocks``: a death fact blocks its character from acting).  It is
exported as ``constraint_nodes`` / ``constraint_edges`` (rebuild it with
:func:`graph`).  Per chapter, the freedom score is the share of open threads that
still have an unblocked path to resolution (an involved character who is alive, or
no character at all); blocked paths are listed in ``freedom``.

Insights: ``blocked_thread`` and, seen from the graph, the violations of a
``blocks`` edge (``dead_character_acts``) and conflicting facts
(``fact_contradiction``), which the coordinator merges with the character system's.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

import networkx as nx
import pandas as pd

from . import _util as U
from .characters import dead_act_insights, fact_contradiction_insights

__all__ = ["constraints", "graph", "ConstraintsParams"]

SYSTEM = "constraints"


@dataclass(frozen=True)
class ConstraintsParams:
    """Parameters of :func:`constraints` (see there)."""

    max_places: int = 15


def graph(story: Any) -> nx.MultiDiGraph:
    """Rebuild the constraint graph from ``constraint_nodes`` / ``constraint_edges``."""
    g = nx.MultiDiGraph()
    for r in U.table(story, "constraint_nodes").to_dict("records"):
        g.add_node(r.pop("node"), **r)
    for r in U.table(story, "constraint_edges").to_dict("records"):
        g.add_edge(r.pop("source"), r.pop("target"), key=r["relation"], **r)
    return g


def _places(story: Any, ment_starts: list[int], ment_ids: list[str], top: int) -> tuple[list, list]:
    nm = U.table(story, "names")
    pl = nm[nm["character_id"].isna() & (nm["place"] > nm["person"]) & (nm["count"] >= 2)]
    pl = pl.sort_values("count", ascending=False).head(top)
    nodes, edges = [], []
    text = story.text
    for r in pl.itertuples():
        pid = f"place:{r.surface}"
        nodes.append({"node": pid, "kind": "place", "label": r.surface, "status": pd.NA,
                      "chapter": pd.NA, "start": int(r.start), "end": int(r.end)})
        near: dict[str, list[int]] = {}
        for m in re.finditer(rf"\b{re.escape(str(r.surface))}\b", text):
            i = bisect.bisect_left(ment_starts, m.start())
            for j in (i - 1, i):
                if 0 <= j < len(ment_starts) and abs(ment_starts[j] - m.start()) < 300:
                    near.setdefault(ment_ids[j], []).append(m.start())
        for cid, pos in near.items():
            edges.append({"source": f"character:{cid}", "target": pid, "relation": "located_at",
                          "weight": float(len(pos)), "chapter": pd.NA, "start": pos[0],
                          "end": pos[0] + len(str(r.surface))})
    return nodes, edges


def _character_fact_nodes(story: Any, names: dict) -> tuple[list, list, dict]:
    """Nodes of characters and facts, ``has_fact`` / ``blocks`` / ``relates`` edges, and
    the first death of each character (id -> ``(chapter, start)``)."""
    nodes, edges = [], []
    for r in U.table(story, "characters").itertuples():
        nodes.append({"node": f"character:{r.character_id}", "kind": "character",
                      "label": r.name, "status": r.status, "chapter": r.first_chapter,
                      "start": r.start, "end": r.end})
    deaths: dict[str, tuple[int, int]] = {}
    for i, r in enumerate(U.table(story, "facts").itertuples()):
        fid = f"fact:{i}"
        label = f"{names.get(str(r.subject), r.subject)} {r.attribute} {r.value}"
        nodes.append({"node": fid, "kind": "fact", "label": label, "status": pd.NA,
                      "chapter": r.chapter, "start": r.start, "end": r.end})
        edges.append({"source": f"character:{r.subject}", "target": fid, "relation": "has_fact",
                      "weight": 1.0, "chapter": r.chapter, "start": r.start, "end": r.end})
        if r.attribute == "death":
            edges.append({"source": fid, "target": f"character:{r.subject}", "relation": "blocks",
                          "weight": 1.0, "chapter": r.chapter, "start": r.start, "end": r.end})
            deaths.setdefault(str(r.subject), (int(r.chapter), int(r.start)))
    for r in U.table(story, "relationships").itertuples():
        edges.append({"source": f"character:{r.source}", "target": f"character:{r.target}",
                      "relation": "relates", "weight": float(r.copresence + r.addresses),
                      "chapter": r.first_chapter, "start": r.start, "end": r.end})
    return nodes, edges, deaths


def _thread_nodes(threads: pd.DataFrame, by_name: dict) -> tuple[list, list]:
    """Nodes of the ``dna`` threads and their ``involves`` edges to characters."""
    nodes, edges = [], []
    for r in threads.itertuples():
        tid = f"thread:{r.unit}"
        nodes.append({"node": tid, "kind": "thread", "label": r.description[:80],
                      "status": "answered" if pd.notna(r.answered_by) else "open",
                      "chapter": r.chapter, "start": r.start, "end": r.end})
        for nm in r.characters:
            if nm in by_name:
                edges.append({"source": tid, "target": f"character:{by_name[nm]}",
                              "relation": "involves", "weight": 1.0, "chapter": r.chapter,
                              "start": r.start, "end": r.end})
    return nodes, edges


def _blocked_insight(r: Any, cn: int, people: list[str], why: str, names: dict) -> dict:
    """Word the ``blocked_thread`` insight of thread ``r`` at chapter ``cn``."""
    return U.insight(
        SYSTEM, "blocked_thread", "important", 0.6,
        f"Thread can no longer resolve: {r.description[:50]}",
        f"Every character of this {r.type} is dead by chapter {cn} ({why}).",
        int(r.start), int(r.end), [names.get(p, p) for p in people],
        "Resolve it through another character, or close it explicitly.")


def _freedom(story: Any, g: nx.MultiDiGraph, dna: pd.DataFrame, deaths: dict,
             names: dict) -> tuple[list[dict], list[dict]]:
    """Per chapter, the share of open threads with an unblocked path to resolution:
    the ``freedom`` rows and the ``blocked_thread`` insights (one per thread)."""
    threads = dna[dna["type"].isin(["contradiction", "pressure"])]
    ans_ch = dict(zip(dna["unit"].astype(int), dna["chapter"].astype(int)))
    rows, blocked_seen, ins = [], set(), []
    for c in U.table(story, "chapters").itertuples():
        cn = int(c.chapter)
        n_open = n_free = 0
        blocked = []
        for r in threads.itertuples():
            done = pd.notna(r.answered_by) and ans_ch.get(int(r.answered_by), 10**9) <= cn
            if int(r.chapter) > cn or done:
                continue
            n_open += 1
            people = [v.split(":", 1)[1] for v in g.successors(f"thread:{r.unit}")
                      if v.startswith("character:")]
            alive = [p for p in people if p not in deaths or deaths[p][0] > cn]
            if not people or alive:
                n_free += 1
                continue
            why = ", ".join(f"{names.get(p, p)} dead" for p in people)
            blocked.append(f"thread {r.unit} <- {why}")
            if r.unit not in blocked_seen:
                blocked_seen.add(r.unit)
                ins.append(_blocked_insight(r, cn, people, why, names))
        rows.append({"chapter": cn, "open_threads": n_open, "unblocked": n_free,
                     "freedom": n_free / n_open if n_open else 1.0,
                     "blocked": "; ".join(blocked) or pd.NA, "start": c.start, "end": c.end})
    return rows, ins


def constraints(story: Any, max_places: int = ConstraintsParams.max_places) -> Any:
    """Build the constraint graph, the freedom score per chapter and its insights.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story` (run :func:`~shimmy_lab.trackers.dna` first
        for threads; without ``dna`` there are no threads and freedom is 1).
    max_places
        Most frequent places kept as nodes.

    Returns
    -------
    Story
        The story with ``constraint_nodes``, ``constraint_edges``, ``freedom`` and
        the ``constraints`` insights written.
    """
    names = U.names_by_id(story)
    by_name = {v: k for k, v in names.items()}
    nodes, edges, deaths = _character_fact_nodes(story, names)
    m = U.table(story, "mentions")
    pn, pe = _places(story, m["start"].astype(int).tolist(),
                     m["character_id"].astype(str).tolist(), max_places)
    dna = U.table(story, "dna")
    tn, te = _thread_nodes(dna[dna["type"].isin(["contradiction", "pressure"])], by_name)
    U.put(story, "constraint_nodes", pd.DataFrame(nodes + pn + tn))
    U.put(story, "constraint_edges", pd.DataFrame(edges + pe + te))
    rows, ins = _freedom(story, graph(story), dna, deaths, names)
    U.put(story, "freedom", pd.DataFrame(rows))
    ins += dead_act_insights(story, names, system=SYSTEM)
    ins += fact_contradiction_insights(U.table(story, "facts"), names, system=SYSTEM)
    U.set_insights(story, SYSTEM, ins)
    U.record_params(story, SYSTEM, max_places=max_places)
    return story
