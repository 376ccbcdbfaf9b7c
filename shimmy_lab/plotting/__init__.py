"""Figures (``sl.pl``): pure functions that take a Story and return a plotly Figure.

They never call ``show()`` nor write files; plotly is imported inside the
submodules, so ``import shimmy_lab`` stays cheap.  Hover text shows the row behind
each mark and the text span it points at.

=================================  ================================================
``pl.character_timeline(story)``   presence per chapter/scene, deaths marked
``pl.relationship_network(story)`` networkx spring layout of ``relationships``
``pl.constraint_graph(story)``     constraint graph, blocked edges, freedom/chapter
``pl.capr_flow(story)``            CAPR arc diagram (or ``kind="sankey"``), open threads
``pl.engagement_arc(story)``       tension, curiosity, valence; insights annotated
``pl.echo_map(story)``             echoes across levels (source vs echo position)
``pl.drift_gauge(report)``         gauge + components of a drift report
``pl.figures(story)``              all story figures in a dict (name -> Figure)
=================================  ================================================

Examples
--------
>>> import shimmy_lab as sl
>>> story = sl.analyze("CHAPTER I\\n\\nKitty had blue eyes. \\"Hello, Tom,\\" said Kitty.\\n")
>>> fig = sl.pl.character_timeline(story)
>>> fig.data[0].type
'heatmap'
"""

from __future__ import annotations

from typing import Any, Callable

from .characters import character_timeline, relationship_network
from .drift import drift_gauge
from .narrative import capr_flow, constraint_graph, echo_map, engagement_arc

__all__ = ["character_timeline", "relationship_network", "constraint_graph", "capr_flow",
           "engagement_arc", "echo_map", "drift_gauge", "figures", "FIGURES"]

#: story figures by name, in display order (the dashboard tabs and the story page)
FIGURES: dict[str, Callable[..., Any]] = {
    "characters": character_timeline,
    "relationships": relationship_network,
    "engagement": engagement_arc,
    "capr": capr_flow,
    "constraints": constraint_graph,
    "echoes": echo_map,
}


def figures(story: Any, names: list[str] | None = None) -> dict[str, Any]:
    """Every story figure, as ``{name: Figure}`` (names from :data:`FIGURES`)."""
    names = list(FIGURES) if names is None else names
    bad = [n for n in names if n not in FIGURES]
    if bad:
        raise ValueError(f"unknown figure(s) {bad}; known: {', '.join(FIGURES)}")
    return {n: FIGURES[n](story) for n in names}
