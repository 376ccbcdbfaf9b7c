"""Character figures: presence timeline and relationship network."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..story.timeline import timeline_table
from ._common import deprecated_alias, empty_figure, go, hover, span_text, style, table

__all__ = ["character_timeline", "relationships", "relationship_network"]


def character_timeline(story: Any, top: int = 15, by: str = "chapter") -> Any:
    """Presence of the main characters over the story, as a heatmap of mentions.

    Drawn from the ``timeline`` table (rebuilt from the other tables when a story
    has none).

    Parameters
    ----------
    story
        An analysed :class:`~shimmy_lab.story.Story`.
    top
        Number of characters shown (most mentioned first).
    by
        ``"chapter"`` or ``"scene"``: the columns of the heatmap.

    Returns
    -------
    plotly.graph_objects.Figure
        A ``heatmap`` trace (z = mentions per character and unit; hover shows the
        mentions, quotes spoken and quotes addressed to the character in the unit,
        and the text of the first mention) and, when a character dies, a ``scatter``
        trace of ``x`` markers named ``"death"`` in the unit of the death (hover:
        the death fact).
    """
    if by not in ("chapter", "scene"):
        raise ValueError("by must be 'chapter' or 'scene'")
    chars = table(story, "characters").sort_values("mentions", ascending=False).head(top)
    tl = _timeline(story)
    if not len(chars) or not len(tl):
        return empty_figure("Character timeline", "no characters found")
    key = "chapter" if by == "chapter" else "scene"
    ids = chars["character_id"].astype(str).tolist()
    names = dict(zip(ids, chars["name"].astype(str)))
    tl = tl[tl["character_id"].isin(ids)]
    per = tl.groupby(["character_id", key])[["mentions", "quotes", "addressed"]].sum()
    units = table(story, "chapters" if by == "chapter" else "scenes")
    cols = units[key].astype(int).tolist()
    first = _first_mentions(story, ids, units, key)
    z, text = [], []
    for cid in ids:
        zr, tr = [], []
        for u in cols:
            n, nq, na = (int(v) for v in per.loc[(cid, u)]) if (cid, u) in per.index else (0, 0, 0)
            zr.append(n)
            tr.append(_cell_text(story, names[cid], key, u, n, nq, na, first.get((cid, u))))
        z.append(zr)
        text.append(tr)
    fig = go().Figure(go().Heatmap(
        z=z, x=[f"{key[:2]}{u}" for u in cols], y=[names[c] for c in ids], text=text,
        hoverinfo="text", colorscale="Blues", name="mentions", colorbar=dict(title="mentions")))
    _add_deaths(fig, story, tl, names, key)
    fig.update_yaxes(autorange="reversed")
    return style(fig, "Character timeline", height=max(300, 28 * len(ids) + 120))


def _timeline(story: Any) -> pd.DataFrame:
    """The story's ``timeline`` table, built from its other tables if it has none."""
    tl = table(story, "timeline")
    if not len(tl) and len(table(story, "mentions")):
        tl = timeline_table(getattr(story, "tables", {}), getattr(story, "text", None))
    return tl


def _first_mentions(story: Any, ids: list[str], units: pd.DataFrame, key: str) -> dict:
    """(character_id, unit) -> (start, end) of the character's first mention in the unit."""
    m = table(story, "mentions")
    m = m[m["character_id"].isin(ids)]
    if not len(m) or not len(units):
        return {}
    starts = units["start"].astype(int).to_numpy()
    row = np.searchsorted(starts, m["start"].astype(int).to_numpy(), side="right") - 1
    unit = units[key].astype(int).to_numpy()[np.maximum(row, 0)]
    first = pd.DataFrame({"character_id": m["character_id"].astype(str).to_numpy(), "unit": unit,
                          "start": m["start"].astype(int).to_numpy(),
                          "end": m["end"].astype(int).to_numpy()}).drop_duplicates(
        ["character_id", "unit"])
    return {(c, int(u)): (int(s), int(e)) for c, u, s, e in first.itertuples(index=False)}


def _cell_text(story: Any, name: str, key: str, unit: int, n: int, nq: int, na: int,
               first: tuple[int, int] | None) -> str:
    """Hover text of one heatmap cell."""
    head = f"<b>{name}</b> · {key} {unit}"
    if not (n or nq or na):
        return f"{head}<br>absent"
    out = f"{head}<br>{n} mentions · {nq} quotes spoken · {na} addressed to them"
    if first is not None:
        s, e = first
        out += f"<br>first [{s}:{e}]: <i>{span_text(story, s, e + 80, 100)}</i>"
    return out


def _add_deaths(fig: Any, story: Any, tl: pd.DataFrame, names: dict[str, str], key: str) -> None:
    """An ``x`` marker (trace ``"death"``) in the unit where each shown character dies."""
    dies = tl[tl["status"] == "dies"]
    if not len(dies):
        return
    facts = table(story, "facts")
    facts = facts[facts["attribute"] == "death"]
    hovers = []
    for r in dies.itertuples():
        f = facts[(facts["subject"] == r.character_id) & (facts["start"] >= r.start)
                  & (facts["start"] < r.end)]
        row = f.iloc[0].to_dict() if len(f) else {"subject": r.character_id, "start": r.start,
                                                  "end": r.start}
        hovers.append(hover(story, row, ["subject", "attribute", "value", "chapter"]))
    fig.add_trace(go().Scatter(
        x=[f"{key[:2]}{int(u)}" for u in dies[key]],
        y=[names[str(c)] for c in dies["character_id"]], mode="markers", name="death",
        marker=dict(symbol="x", size=14, color="#d62728", line=dict(width=2)),
        hovertext=hovers, hoverinfo="text"))


def _layout(nodes: list[str], edges: list[tuple[str, str, float]], seed: int = 0
            ) -> dict[str, np.ndarray]:
    import networkx as nx  # lazy: networkx, only for a graph layout

    g = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_weighted_edges_from(edges)
    return nx.spring_layout(g, seed=seed, weight="weight", k=1.5 / max(1, len(nodes)) ** 0.5)


def relationships(story: Any, top: int = 25, min_weight: float = 1.0, seed: int = 0) -> Any:
    """Who relates to whom: a spring layout (networkx) drawn with plotly.

    Edge weight is ``copresence + addresses`` from the ``relationships`` table;
    edge width follows the weight and colour the sentiment (red negative, green
    positive).  Node size follows mentions.

    Parameters
    ----------
    story
        An analysed story (``sl.analyze`` or ``sl.tl.characters``).
    top
        Keep the ``top`` most mentioned characters.
    min_weight
        Drop edges lighter than this.
    seed
        Seed of the spring layout (the figure is deterministic).

    Returns
    -------
    plotly.graph_objects.Figure
        One ``scatter`` line trace per edge (name ``"edge"``), one trace
        ``"edge info"`` with a hover marker at each edge midpoint, and a trace
        ``"characters"`` with one marker per node.
    """
    chars = table(story, "characters").sort_values("mentions", ascending=False).head(top)
    rel = table(story, "relationships")
    ids = set(chars["character_id"].astype(str))
    rel = rel[rel["source"].isin(ids) & rel["target"].isin(ids)].copy()
    rel["weight"] = (rel["copresence"] + rel["addresses"]).astype(float)
    rel = rel[rel["weight"] >= min_weight]
    if not len(chars):
        return empty_figure("Relationship network", "no characters found")
    names = dict(zip(chars["character_id"].astype(str), chars["name"].astype(str)))
    pos = _layout(list(names), [(str(r.source), str(r.target), float(r.weight))
                                for r in rel.itertuples()], seed)
    G = go()
    fig = G.Figure()
    wmax = float(rel["weight"].max()) if len(rel) else 1.0
    mx, my, mt = [], [], []
    for r in rel.to_dict("records"):
        (x0, y0), (x1, y1) = pos[str(r["source"])], pos[str(r["target"])]
        sent = 0.0 if pd.isna(r["sentiment"]) else float(r["sentiment"])
        color = "#2ca02c" if sent > 0.1 else "#d62728" if sent < -0.1 else "#999999"
        fig.add_trace(G.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", name="edge",
                                line=dict(width=1 + 6 * r["weight"] / wmax, color=color),
                                hoverinfo="skip", showlegend=False, opacity=0.6))
        mx.append((x0 + x1) / 2)
        my.append((y0 + y1) / 2)
        r2 = {**r, "source": names[str(r["source"])], "target": names[str(r["target"])]}
        mt.append(hover(story, r2, ["source", "target", "copresence", "addresses",
                                    "sentiment", "first_chapter"]))
    fig.add_trace(G.Scatter(x=mx, y=my, mode="markers", name="edge info", hovertext=mt,
                            hoverinfo="text", marker=dict(size=6, color="rgba(0,0,0,0.15)"),
                            showlegend=False))
    rows = chars.to_dict("records")
    size = np.sqrt(chars["mentions"].astype(float).to_numpy())
    size = 10 + 30 * size / max(size.max(), 1)
    fig.add_trace(G.Scatter(
        x=[pos[str(r["character_id"])][0] for r in rows],
        y=[pos[str(r["character_id"])][1] for r in rows], mode="markers+text",
        name="characters", text=[r["name"] for r in rows], textposition="top center",
        marker=dict(size=size, color=["#d62728" if r["status"] == "dead" else "#1f77b4"
                                      for r in rows], line=dict(width=1, color="white")),
        hovertext=[hover(story, r, ["name", "aliases", "gender", "status", "mentions", "quotes"])
                   for r in rows], hoverinfo="text", showlegend=False))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, "Relationship network", height=550)


relationship_network = deprecated_alias("relationship_network", relationships)
