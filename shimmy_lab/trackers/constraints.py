"""Constraint space: what the established facts and open threads allow next.

Two public entries: :func:`compute` (pure: tables in, tables out) and :func:`constraints`
(``tl.constraints``: reads a story's tables, calls :func:`compute`, writes).

A :class:`networkx.MultiDiGraph` is built from the tables -- characters (with status),
places, facts, relationships and open threads (unanswered contradictions / pressures of
``dna``) -- with edges for relations (``relates``, ``located_at``, ``has_fact``,
``involves``) and for what a fact blocks (``blocks``: a death fact blocks its character
from acting). It is exported as ``constraint_nodes`` / ``constraint_edges`` (rebuild it
with :func:`graph`). Per chapter, the freedom score is the share of open threads that
still have an unblocked path to resolution (an involved character who is alive, or no
character at all); blocked paths are listed in ``freedom``.

Insights: ``blocked_thread`` and, seen from the graph, the violations of a
``blocks`` edge (``dead_character_acts``) and conflicting facts
(``fact_contradiction``), which the coordinator merges with the character system's.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, Mapping

import networkx as nx
import pandas as pd

from . import _util as U
from . import schema
from .characters import dead_act_insights, fact_contradiction_insights
from .systems import System

__all__ = ["constraints", "compute", "graph", "ConstraintsParams", "INPUTS"]

SYSTEM = "constraints"
#: the tables :func:`compute` reads (besides the text)
INPUTS = ("characters", "facts", "relationships", "names", "mentions", "dna", "chapters",
          "quotes", "sentences")


@dataclass(frozen=True)
class ConstraintsParams:
    """Parameters of :func:`constraints` (see there)."""

    max_places: int = 15


def graph(story: Any) -> nx.MultiDiGraph:
    """Rebuild the constraint graph from ``constraint_nodes`` / ``constraint_edges``."""
    return _graph(U.table(story, "constraint_nodes"), U.table(story, "constraint_edges"))


def _graph(nodes: pd.DataFrame, edges: pd.DataFrame) -> nx.MultiDiGraph:
    """The constraint graph of the ``constraint_nodes`` / ``constraint_edges`` tables."""
    g = nx.MultiDiGraph()
    for r in nodes.to_dict("records"):
        g.add_node(r.pop("node_id"), **r)
    for r in edges.to_dict("records"):
        g.add_edge(r.pop("source"), r.pop("target"), key=r["relation"], **r)
    return g


def _places(view: U.StoryView, ment_starts: list[int], ment_ids: list[str], top: int) -> tuple[list, list]:
    nm = U.table(view, "names")
    pl = nm[nm["character_id"].isna() & (nm["place"] > nm["person"]) & (nm["occurrences"] >= 2)]
    pl = pl.sort_values("occurrences", ascending=False).head(top)
    nodes, edges = [], []
    text = view.text
    for r in pl.itertuples():
        pid = f"place:{r.surface}"
        nodes.append({"node_id": pid, "kind": "place", "label": r.surface, "status": pd.NA,
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


def _character_fact_nodes(view: U.StoryView, names: dict) -> tuple[list, list, dict]:
    """Nodes of characters and facts, ``has_fact`` / ``blocks`` / ``relates`` edges, and
    the first death of each character (id -> ``(chapter, start)``)."""
    nodes, edges = [], []
    for r in U.table(view, "characters").itertuples():
        nodes.append({"node_id": f"character:{r.character_id}", "kind": "character",
                      "label": r.name, "status": r.status, "chapter": r.first_chapter,
                      "start": r.start, "end": r.end})
    deaths: dict[str, tuple[int, int]] = {}
    for i, r in enumerate(U.table(view, "facts").itertuples()):
        fid = f"fact:{i}"
        label = f"{names.get(str(r.subject), r.subject)} {r.attribute} {r.value}"
        nodes.append({"node_id": fid, "kind": "fact", "label": label, "status": pd.NA,
                      "chapter": r.chapter, "start": r.start, "end": r.end})
        edges.append({"source": f"character:{r.subject}", "target": fid, "relation": "has_fact",
                      "weight": 1.0, "chapter": r.chapter, "start": r.start, "end": r.end})
        if r.attribute == "death":
            edges.append({"source": fid, "target": f"character:{r.subject}", "relation": "blocks",
                          "weight": 1.0, "chapter": r.chapter, "start": r.start, "end": r.end})
            deaths.setdefault(str(r.subject), (int(r.chapter), int(r.start)))
    for r in U.table(view, "relationships").itertuples():
        edges.append({"source": f"character:{r.source}", "target": f"character:{r.target}",
                      "relation": "relates", "weight": float(r.copresence + r.addresses),
                      "chapter": r.first_chapter, "start": r.start, "end": r.end})
    return nodes, edges, deaths


def _thread_nodes(threads: pd.DataFrame, by_name: dict) -> tuple[list, list]:
    """Nodes of the ``dna`` threads and their ``involves`` edges to characters."""
    nodes, edges = [], []
    for r in threads.itertuples():
        tid = f"thread:{r.unit_id}"
        nodes.append({"node_id": tid, "kind": "thread", "label": r.description[:80],
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
        f"Every character of this {r.kind} is dead by chapter {cn} ({why}).",
        int(r.start), int(r.end), [names.get(p, p) for p in people],
        "Resolve it through another character, or close it explicitly.")


def _freedom(chapters: pd.DataFrame, g: nx.MultiDiGraph, dna: pd.DataFrame, deaths: dict,
             names: dict) -> tuple[list[dict], list[dict]]:
    """Per chapter, the share of open threads with an unblocked path to resolution:
    the ``freedom`` rows and the ``blocked_thread`` insights (one per thread)."""
    threads = dna[dna["kind"].isin(["contradiction", "pressure"])]
    ans_ch = dict(zip(dna["unit_id"].astype(int), dna["chapter"].astype(int)))
    rows, blocked_seen, ins = [], set(), []
    for c in chapters.itertuples():
        cn = int(c.chapter)
        n_open = n_free = 0
        blocked = []
        for r in threads.itertuples():
            done = pd.notna(r.answered_by) and ans_ch.get(int(r.answered_by), 10**9) <= cn
            if int(r.chapter) > cn or done:
                continue
            n_open += 1
            people = [v.split(":", 1)[1] for v in g.successors(f"thread:{r.unit_id}")
                      if v.startswith("character:")]
            alive = [p for p in people if p not in deaths or deaths[p][0] > cn]
            if not people or alive:
                n_free += 1
                continue
            why = ", ".join(f"{names.get(p, p)} dead" for p in people)
            blocked.append(f"thread {r.unit_id} <- {why}")
            if r.unit_id not in blocked_seen:
                blocked_seen.add(r.unit_id)
                ins.append(_blocked_insight(r, cn, people, why, names))
        rows.append({"chapter": cn, "open_threads": n_open, "unblocked": n_free,
                     "freedom": n_free / n_open if n_open else 1.0,
                     "blocked": "; ".join(blocked) or pd.NA, "start": c.start, "end": c.end})
    return rows, ins


def compute(tables: Mapping[str, Any],
            params: ConstraintsParams = ConstraintsParams()) -> dict[str, pd.DataFrame]:
    """Build the constraint graph, the freedom score per chapter and its insights (pure).

    Parameters
    ----------
    tables : mapping
        The tables of :data:`INPUTS` (an absent one reads as empty: without ``dna`` there
        are no threads and freedom is 1) and the story text under ``"text"``
        (:data:`shimmy_lab.trackers.systems.TEXT`).  Not modified.
    params : ConstraintsParams
        Its parameters (see :func:`constraints`).

    Returns
    -------
    dict of str to DataFrame
        ``"constraint_nodes"``, ``"constraint_edges"``, ``"freedom"`` and
        ``"insights"`` (``blocked_thread``, ``dead_character_acts``, ``fact_contradiction``).
    """
    view = U.StoryView(tables)
    names = U.names_by_id(view)
    nodes, edges, deaths = _character_fact_nodes(view, names)
    m = U.table(view, "mentions")
    pn, pe = _places(view, m["start"].astype(int).tolist(),
                     m["character_id"].astype(str).tolist(), params.max_places)
    dna = U.table(view, "dna")
    tn, te = _thread_nodes(dna[dna["kind"].isin(["contradiction", "pressure"])],
                           {v: k for k, v in names.items()})
    out = {"constraint_nodes": schema.coerce("constraint_nodes", pd.DataFrame(nodes + pn + tn)),
           "constraint_edges": schema.coerce("constraint_edges", pd.DataFrame(edges + pe + te))}
    g = _graph(out["constraint_nodes"], out["constraint_edges"])
    rows, ins = _freedom(U.table(view, "chapters"), g, dna, deaths, names)
    out["freedom"] = schema.coerce("freedom", pd.DataFrame(rows))
    ins += dead_act_insights(view, names, system=SYSTEM)
    ins += fact_contradiction_insights(U.table(view, "facts"), names, system=SYSTEM)
    return {**out, "insights": U.insights_frame(SYSTEM, ins)}


def constraints(story: Any, max_places: int = ConstraintsParams.max_places) -> Any:
    """Build the constraint graph, the freedom score per chapter and its insights.

    Reads the tables of :data:`INPUTS`, calls :func:`compute`, writes its output and
    records the parameters in ``story.uns["params"]["constraints"]``.

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
    params = ConstraintsParams(max_places)
    return U.write(story, SYSTEM, compute(U.inputs(story, INPUTS), params), params)


#: the system in the registry (:mod:`shimmy_lab.trackers.systems`)
CONSTRAINTS = System("constraints", constraints, ConstraintsParams,
                     tables=("constraint_nodes", "constraint_edges", "freedom"),
                     requires=("characters", "dna"), compute=compute, rank=40)
