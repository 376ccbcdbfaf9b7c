"""Figures of the narrative systems: constraint space, CAPR flow, engagement, echoes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._common import COLORS, PRIORITY_COLORS, deprecated_alias, empty_figure, go, hover, style, table

__all__ = ["constraints", "dna", "engagement", "echoes", "CAPR_TYPES", "ECHO_LEVELS",
           "constraint_graph", "capr_flow", "engagement_arc", "echo_map"]

CAPR_TYPES = ("contradiction", "action", "pressure", "return")
ECHO_LEVELS = ("sentence", "paragraph", "scene", "chapter", "act")


def _layout(nodes: pd.DataFrame, edges: pd.DataFrame, max_nodes: int,
            seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Keep the best-connected nodes (and those of a blocked edge), their edges, and
    place them with a spring layout: ``(nodes, edges, positions)``."""
    import networkx as nx  # lazy: networkx, only for a graph layout

    deg = pd.concat([edges["source"], edges["target"]]).value_counts()
    blocked = edges[edges["relation"] == "blocks"]
    must = set(blocked["source"]) | set(blocked["target"])
    keep = set(deg.head(max_nodes).index) | must
    nodes = nodes[nodes["node_id"].isin(keep) | (len(nodes) <= max_nodes)]
    ids = set(nodes["node_id"])
    edges = edges[edges["source"].isin(ids) & edges["target"].isin(ids)]
    g = nx.Graph()
    g.add_nodes_from(nodes["node_id"])  # in table order, not a set's: the layout must not depend on the hash seed
    g.add_weighted_edges_from((r.source, r.target, float(r.weight or 1.0))
                              for r in edges.itertuples())
    pos = nx.spring_layout(g, seed=seed, k=1.8 / max(1, len(ids)) ** 0.5)
    return nodes, edges, pos


def _add_edges(fig: Any, story: Any, edges: pd.DataFrame, blocked: pd.DataFrame,
               pos: dict) -> None:
    """The ``edges`` and ``blocked`` line traces and the ``blocked path`` markers."""
    G = go()
    for name, df, line in (("edges", edges[edges["relation"] != "blocks"],
                            dict(width=0.7, color="#bbbbbb")),
                           ("blocked", edges[edges["relation"] == "blocks"],
                            dict(width=3, color="#d62728", dash="dash"))):
        xs, ys = [], []
        for r in df.itertuples():
            (x0, y0), (x1, y1) = pos[r.source], pos[r.target]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        if name == "blocked" or xs:
            fig.add_trace(G.Scatter(x=xs, y=ys, mode="lines", name=name, line=line,
                                    hoverinfo="skip", showlegend=name == "blocked"), 1, 1)
    if len(blocked):
        fig.add_trace(G.Scatter(
            x=[(pos[r.source][0] + pos[r.target][0]) / 2 for r in blocked.itertuples()],
            y=[(pos[r.source][1] + pos[r.target][1]) / 2 for r in blocked.itertuples()],
            mode="markers", name="blocked path", marker=dict(symbol="x", color="#d62728", size=10),
            hovertext=[hover(story, r, ["source", "target", "relation", "chapter"])
                       for r in blocked.to_dict("records")], hoverinfo="text",
            showlegend=False), 1, 1)


def _add_nodes(fig: Any, story: Any, nodes: pd.DataFrame, pos: dict) -> None:
    """One marker trace per node kind (threads: open orange, answered grey; the dead red)."""
    G = go()
    for kind, df in nodes.groupby("kind", sort=False):
        color = [("#bbbbbb" if s == "answered" else COLORS["thread"]) if kind == "thread"
                 else ("#d62728" if s == "dead" else COLORS.get(kind, "#7f7f7f"))
                 for s in df["status"].fillna("")]
        fig.add_trace(G.Scatter(
            x=[pos[n][0] for n in df["node_id"]], y=[pos[n][1] for n in df["node_id"]],
            mode="markers", name=str(kind),
            marker=dict(size=12 if kind == "character" else 8, color=color,
                        symbol={"fact": "square", "thread": "diamond", "place": "triangle-up"}
                        .get(kind, "circle"), line=dict(width=1, color="white")),
            hovertext=[hover(story, r, ["label", "kind", "status", "chapter"])
                       for r in df.to_dict("records")], hoverinfo="text"), 1, 1)


def _add_freedom(fig: Any, story: Any) -> None:
    """The ``freedom`` bars and the ``open threads`` line of the second row."""
    G = go()
    fr = table(story, "freedom")
    if len(fr):
        fig.add_trace(G.Bar(x=fr["chapter"].astype(int), y=fr["freedom"].astype(float),
                            name="freedom", marker_color="#2ca02c",
                            hovertext=[hover(story, r, ["chapter", "freedom", "open_threads",
                                                        "unblocked", "blocked"], 80)
                                       for r in fr.to_dict("records")], hoverinfo="text"), 2, 1)
        fig.add_trace(G.Scatter(x=fr["chapter"].astype(int), y=fr["open_threads"].astype(int),
                                name="open threads", mode="lines+markers",
                                line=dict(color=COLORS["thread"])), 2, 1, secondary_y=True)
    fig.update_xaxes(visible=False, row=1, col=1)
    fig.update_yaxes(visible=False, row=1, col=1)
    fig.update_yaxes(title_text="freedom", range=[0, 1.05], row=2, col=1, secondary_y=False)
    fig.update_yaxes(title_text="open", showgrid=False, row=2, col=1, secondary_y=True)
    fig.update_xaxes(title_text="chapter", dtick=1, row=2, col=1)


def constraints(story: Any, max_nodes: int = 60, seed: int = 0) -> Any:
    """The constraint graph (top) and the freedom score per chapter (bottom).

    ``blocks`` edges (a death fact that forbids its character to act) are drawn
    red and dashed in their own trace named ``"blocked"``; open threads are
    orange, answered threads grey.

    Parameters
    ----------
    story
        A story analysed by ``sl.tl.constraints`` (``constraint_nodes``,
        ``constraint_edges``, ``freedom`` tables).
    max_nodes
        Keep the nodes with the most edges (every node of a blocked edge is kept).
    seed
        Seed of the spring layout.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces ``"edges"``, ``"blocked"``, one marker trace per node kind, and
        ``"freedom"`` (bar) plus ``"open threads"`` (line) on the second row.
    """
    from plotly.subplots import make_subplots  # lazy: plotly, only when a figure is drawn

    nodes = table(story, "constraint_nodes")
    all_edges = table(story, "constraint_edges")
    if not len(nodes):
        return empty_figure("Constraint space", "no constraint graph (run sl.tl.constraints)")
    nodes, edges, pos = _layout(nodes, all_edges, max_nodes, seed)
    fig = make_subplots(rows=2, cols=1, row_heights=[0.72, 0.28], vertical_spacing=0.08,
                        specs=[[{}], [{"secondary_y": True}]], subplot_titles=("constraint graph", "freedom per chapter"))
    _add_edges(fig, story, edges, all_edges[all_edges["relation"] == "blocks"], pos)
    _add_nodes(fig, story, nodes, pos)
    _add_freedom(fig, story)
    return style(fig, "Constraint space", height=650)


def dna(story: Any, kind: str = "arc") -> Any:
    """The CAPR units (contradiction → action → pressure → return) over story time.

    Parameters
    ----------
    story
        A story analysed by ``sl.tl.dna`` (``dna`` table).
    kind
        ``"arc"``: units as markers along the story (x = words from the start,
        y = CAPR type), an arc from each set-up to the return that answers it,
        and open threads (unanswered contradictions/pressures) ringed in a trace
        ``"open thread"``.  ``"sankey"``: transitions between consecutive units'
        types as a Sankey diagram, with a fifth node ``"open"`` fed by open threads.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    dna = table(story, "dna")
    if kind not in ("arc", "sankey"):
        raise ValueError("kind must be 'arc' or 'sankey'")
    if not len(dna):
        return empty_figure("CAPR flow", "no CAPR units (run sl.tl.dna)")
    dna = dna.sort_values("unit_id").reset_index(drop=True)
    is_open = dna["kind"].isin(["contradiction", "pressure"]) & dna["answered_by"].isna()
    G = go()
    if kind == "sankey":
        labels = list(CAPR_TYPES) + ["open"]
        idx = {t: i for i, t in enumerate(labels)}
        types = dna["kind"].astype(str).tolist()
        pairs = pd.Series(list(zip(types[:-1], types[1:]))).value_counts()
        src = [idx[a] for a, _ in pairs.index] + [idx[t] for t in dna.loc[is_open, "kind"]]
        tgt = [idx[b] for _, b in pairs.index] + [idx["open"]] * int(is_open.sum())
        val = [int(v) for v in pairs.values] + [1] * int(is_open.sum())
        fig = G.Figure(G.Sankey(
            node=dict(label=labels, color=[COLORS[t] for t in CAPR_TYPES] + ["#000000"],
                      pad=20),
            link=dict(source=src, target=tgt, value=val,
                      color=["rgba(120,120,120,0.35)"] * len(pairs)
                      + ["rgba(214,39,40,0.5)"] * int(is_open.sum()))))
        return style(fig, "CAPR flow (transitions; red = open threads)")
    x = dna["story_words"].astype(float).to_numpy()
    ylev = {t: i for i, t in enumerate(CAPR_TYPES)}
    y = dna["kind"].map(ylev).astype(float).to_numpy()
    fig = G.Figure()
    ax, ay = [], []
    for r in dna[dna["answered_by"].notna()].itertuples():
        j = int(r.answered_by)
        if j not in set(dna["unit_id"]):
            continue
        k = dna.index[dna["unit_id"] == j][0]
        x0, x1, y0, y1 = x[r.Index], x[k], y[r.Index], y[k]
        t = np.linspace(0, 1, 24)
        ax += list(x0 + (x1 - x0) * t) + [None]
        ay += list(y0 + (y1 - y0) * t + 0.8 * np.sin(np.pi * t)) + [None]
    fig.add_trace(G.Scatter(x=ax, y=ay, mode="lines", name="answered by",
                            line=dict(color="rgba(44,160,44,0.6)", width=2), hoverinfo="skip"))
    for t in CAPR_TYPES:
        sel = dna["kind"] == t
        fig.add_trace(G.Scatter(
            x=x[sel], y=y[sel], mode="markers", name=t,
            marker=dict(color=COLORS[t], size=8 + 10 * dna.loc[sel, "intensity"].astype(float)),
            hovertext=[hover(story, r, ["unit_id", "kind", "chapter", "scene", "intensity",
                                        "characters", "answered_by", "answers"])
                       for r in dna[sel].to_dict("records")], hoverinfo="text"))
    fig.add_trace(G.Scatter(
        x=x[is_open], y=y[is_open], mode="markers", name="open thread",
        marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(color="#d62728", width=3)),
        hovertext=[hover(story, r, ["unit_id", "kind", "chapter"]) for r in
                   dna[is_open].to_dict("records")], hoverinfo="text"))
    fig.update_yaxes(tickvals=list(range(4)), ticktext=list(CAPR_TYPES), range=[-0.6, 4.2])
    fig.update_xaxes(title_text="story time (words)")
    return style(fig, f"CAPR flow · {int(is_open.sum())} open threads")


def engagement(story: Any, level: str = "scene", max_annotations: int = 8) -> Any:
    """Tension, curiosity and the emotional arc over the story, insights annotated.

    Parameters
    ----------
    story
        A story analysed by ``sl.tl.engagement`` (``engagement`` table).
    level
        ``"scene"`` or ``"chapter"`` rows of the engagement table.
    max_annotations
        The most severe insights (critical and important first) placed as
        annotations at their position in the story.

    Returns
    -------
    plotly.graph_objects.Figure
        Line traces ``tension``, ``curiosity``, ``arousal`` (top) and ``valence``
        (bottom); x is the position in the story (characters), with the unit in the
        hover text.
    """
    from plotly.subplots import make_subplots  # lazy: plotly, only when a figure is drawn

    eng = table(story, "engagement")
    eng = eng[eng["level"] == level].sort_values("start")
    if not len(eng):
        return empty_figure("Engagement", f"no {level} engagement rows (run sl.tl.engagement)")
    x = ((eng["start"] + eng["end"]) / 2).astype(float).to_numpy()
    fields = ["level", "segment", "chapter", "words", "tension", "curiosity", "valence",
              "arousal", "pace", "open_threads"]
    hov = [hover(story, r, fields, 100) for r in eng.to_dict("records")]
    G = go()
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4],
                        vertical_spacing=0.06, subplot_titles=("tension & curiosity",
                                                               "emotional arc (valence)"))
    for col in ("tension", "curiosity", "arousal"):
        fig.add_trace(G.Scatter(x=x, y=eng[col].astype(float), name=col, mode="lines+markers",
                                line=dict(color=COLORS[col]),
                                hovertext=hov, hoverinfo="text"), 1, 1)
    v = eng["valence"].astype(float)
    fig.add_trace(G.Scatter(x=x, y=v, name="valence", mode="lines", fill="tozeroy",
                            line=dict(color=COLORS["valence"]),
                            hovertext=hov, hoverinfo="text"), 2, 1)
    ins = table(story, "insights")
    if len(ins):
        prio = {"critical": 0, "important": 1, "interesting": 2, "minor": 3}
        top = (ins.assign(_p=ins["priority"].map(prio).fillna(3))
               .sort_values(["_p", "severity"], ascending=[True, False]).head(max_annotations))
        tx = eng["tension"].astype(float).to_numpy()
        for k, r in enumerate(top.itertuples()):
            xi = float(r.start)
            yi = float(np.interp(xi, x, tx)) if len(x) > 1 else float(tx[0])
            fig.add_annotation(x=xi, y=yi, text=str(r.title)[:40], showarrow=True,
                               arrowhead=2, ax=0, ay=-30 - 18 * (k % 3), row=1, col=1,
                               font=dict(size=10, color=PRIORITY_COLORS.get(r.priority,
                                                                            "#333")),
                               hovertext=f"{r.system} · {r.kind}<br>{r.message}")
    fig.update_yaxes(range=[0, 1.1], row=1, col=1)
    fig.update_yaxes(range=[-1, 1], row=2, col=1)
    fig.update_xaxes(title_text="position in the story (characters)", row=2, col=1)
    return style(fig, f"Engagement & emotional arc ({level}s)", height=560)


def echoes(story: Any, max_points: int = 1500) -> Any:
    """Where phrases and motifs echo: source position vs echo position, by level.

    Each point is one row of ``echoes``: x is where the phrase first occurs, y
    where it comes back; points far from the diagonal are long-range echoes
    (chapter, act).  One trace per level (sentence … act).

    Parameters
    ----------
    story
        A story analysed by ``sl.tl.recursion``.
    max_points
        Keep the most similar echoes if there are more.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    ech = table(story, "echoes")
    if not len(ech):
        return empty_figure("Echo map", "no echoes (run sl.tl.recursion)")
    ech = ech.sort_values("similarity", ascending=False).head(max_points)
    G = go()
    fig = G.Figure()
    n = max(len(story.text), 1)
    for lev in ECHO_LEVELS:
        df = ech[ech["level"] == lev]
        if not len(df):
            continue
        fig.add_trace(G.Scatter(
            x=df["start"].astype(float) / n * 100, y=df["target_start"].astype(float) / n * 100,
            mode="markers", name=f"{lev} ({len(df)})",
            marker=dict(color=COLORS[lev], size=5 + 10 * df["similarity"].astype(float),
                        opacity=0.7, symbol="diamond" if lev in ("sentence", "paragraph")
                        else "circle"),
            hovertext=[hover(story, r, ["phrase", "kind", "level", "similarity"], 100)
                       + f"<br><b>echo</b> [{int(r['target_start'])}:{int(r['target_end'])}]"
                       for r in df.to_dict("records")], hoverinfo="text"))
    fig.add_trace(G.Scatter(x=[0, 100], y=[0, 100], mode="lines", name="diagonal",
                            line=dict(color="#cccccc", dash="dot"), hoverinfo="skip",
                            showlegend=False))
    fig.update_xaxes(title_text="first occurrence (% of story)", range=[0, 100])
    fig.update_yaxes(title_text="echo (% of story)", range=[0, 100])
    return style(fig, "Echo map across levels", height=520)


# the names of 0.x, before one name per concept (table, tl system and figure)
constraint_graph = deprecated_alias("constraint_graph", constraints)
capr_flow = deprecated_alias("capr_flow", dna)
engagement_arc = deprecated_alias("engagement_arc", engagement)
echo_map = deprecated_alias("echo_map", echoes)
