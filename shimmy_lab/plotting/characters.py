"""Character figures: presence timeline and relationship network."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._common import empty_figure, go, hover, span_text, style, table

__all__ = ["character_timeline", "relationship_network"]


def character_timeline(story: Any, top: int = 15, by: str = "chapter") -> Any:
    """Presence of the main characters over the story, as a heatmap of mentions.

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
        first mention in the unit and its text) and, when a character dies, a
        ``scatter`` trace of ``x`` markers named ``"death"`` at the death fact.
    """
    if by not in ("chapter", "scene"):
        raise ValueError("by must be 'chapter' or 'scene'")
    chars = table(story, "characters").sort_values("mentions", ascending=False).head(top)
    m = table(story, "mentions")
    if not len(chars) or not len(m):
        return empty_figure("Character timeline", "no characters found")
    m = m[m["character_id"].isin(chars["character_id"])].copy()
    units = table(story, "chapters" if by == "chapter" else "scenes")
    key = "chapter" if by == "chapter" else "scene"
    starts = units["start"].astype(int).to_numpy()
    m[key] = np.searchsorted(starts, m["start"].astype(int).to_numpy(), side="right") - 1
    m[key] = units[key].astype(int).to_numpy()[m[key].clip(lower=0)]
    ids = chars["character_id"].astype(str).tolist()
    names = dict(zip(ids, chars["name"].astype(str)))
    cols = units[key].astype(int).tolist()
    counts = m.groupby(["character_id", key]).size()
    first = m.groupby(["character_id", key])[["start", "end"]].first()
    z, text = [], []
    for cid in ids:
        zr, tr = [], []
        for u in cols:
            n = int(counts.get((cid, u), 0))
            zr.append(n)
            if n:
                s, e = first.loc[(cid, u)]
                tr.append(f"<b>{names[cid]}</b> · {key} {u}<br>{n} mentions<br>first "
                          f"[{int(s)}:{int(e)}]: <i>{span_text(story, s, int(e) + 80, 100)}</i>")
            else:
                tr.append(f"<b>{names[cid]}</b> · {key} {u}<br>absent")
        z.append(zr)
        text.append(tr)
    fig = go().Figure(go().Heatmap(
        z=z, x=[f"{key[:2]}{u}" for u in cols], y=[names[c] for c in ids], text=text,
        hoverinfo="text", colorscale="Blues", name="mentions", colorbar=dict(title="mentions")))
    deaths = table(story, "facts")
    deaths = deaths[(deaths["attribute"] == "death") & deaths["subject"].isin(ids)]
    if len(deaths):
        d_units = np.searchsorted(starts, deaths["start"].astype(int).to_numpy(), side="right") - 1
        fig.add_trace(go().Scatter(
            x=[f"{key[:2]}{units[key].iloc[max(i, 0)]}" for i in d_units],
            y=[names[str(s)] for s in deaths["subject"]], mode="markers", name="death",
            marker=dict(symbol="x", size=14, color="#d62728", line=dict(width=2)),
            hovertext=[hover(story, r, ["subject", "attribute", "value", "chapter"])
                       for r in deaths.to_dict("records")], hoverinfo="text"))
    fig.update_yaxes(autorange="reversed")
    return style(fig, "Character timeline", height=max(300, 28 * len(ids) + 120))


def _layout(nodes: list[str], edges: list[tuple[str, str, float]], seed: int = 0
            ) -> dict[str, np.ndarray]:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_weighted_edges_from(edges)
    return nx.spring_layout(g, seed=seed, weight="weight", k=1.5 / max(1, len(nodes)) ** 0.5)


def relationship_network(story: Any, top: int = 25, min_weight: float = 1.0,
                         seed: int = 0) -> Any:
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
