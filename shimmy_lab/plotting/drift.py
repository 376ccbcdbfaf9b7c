"""Figure of a drift report: a gauge of the score and the per-signal breakdown."""

from __future__ import annotations

import html
from typing import Any

from ._common import PRIORITY_COLORS, go, style

__all__ = ["drift_gauge"]


def drift_gauge(report: Any, candidate: str | None = None) -> Any:
    """Gauge of a :class:`~shimmy_lab.trackers.drift.DriftReport` and its components.

    Parameters
    ----------
    report
        The result of ``sl.drift(story, candidate)``.
    candidate
        The candidate text; when given, the hover text of each component lists
        the insights of that kind with the span of the candidate they point at.

    Returns
    -------
    plotly.graph_objects.Figure
        An ``indicator`` trace (gauge, value = ``report.score``) and a horizontal
        ``bar`` trace ``"components"`` with one bar per signal (0..1).
    """
    from plotly.subplots import make_subplots  # lazy: plotly, only when a figure is drawn

    G = go()
    comps = dict(getattr(report, "components", {}) or {})
    ins = report.insights
    fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6],
                        specs=[[{"type": "indicator"}, {"type": "xy"}]])
    score = float(report.score)
    fig.add_trace(G.Indicator(
        mode="gauge+number", value=round(score, 3), title=dict(text="drift"),
        gauge=dict(axis=dict(range=[0, 1]),
                   bar=dict(color="#d62728" if score >= 0.6 else "#ff7f0e" if score >= 0.3
                            else "#2ca02c"),
                   steps=[dict(range=[0, 0.3], color="#e8f5e9"),
                          dict(range=[0.3, 0.6], color="#fff3e0"),
                          dict(range=[0.6, 1], color="#ffebee")])), 1, 1)
    names = list(comps)
    hov = []
    for name in names:
        lines = [f"<b>{html.escape(name)}</b>: {comps[name]:.2f}"]
        sub = ins[ins["kind"] == name] if len(ins) else ins
        for r in sub.itertuples():
            lines.append(f"{html.escape(str(r.title))} [{int(r.start)}:{int(r.end)}]")
            if candidate:
                lines.append("<i>" + html.escape(candidate[int(r.start):int(r.end)][:100])
                             + "</i>")
        hov.append("<br>".join(lines))
    colors = []
    for name in names:
        sub = ins[ins["kind"] == name] if len(ins) else ins
        colors.append(PRIORITY_COLORS.get(str(sub["priority"].iloc[0]), "#1f77b4")
                      if len(sub) else "#9ecae1")
    fig.add_trace(G.Bar(x=[comps[n] for n in names], y=names, orientation="h",
                        name="components", marker_color=colors, hovertext=hov,
                        hoverinfo="text"), 1, 2)
    fig.update_xaxes(range=[0, 1], title_text="signal (0 = in keeping)", row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    sugg = getattr(report, "suggestion", "") or ""
    fig = style(fig, "Drift of the candidate" + (f": {html.escape(sugg)}" if sugg else ""),
                height=360)
    fig.update_layout(showlegend=False)
    return fig
