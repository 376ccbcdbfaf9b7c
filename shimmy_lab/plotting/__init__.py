"""Figures (``sl.pl``): pure functions that take a Story and return a plotly Figure.

They never call ``show()`` nor write files; plotly is imported inside the
submodules, so ``import shimmy_lab`` stays cheap.  Hover text shows the row behind
each mark and the text span it points at.  A figure has the name of the table it draws
and of the ``tl`` system that writes it (``tl.dna`` -> table ``dna`` -> ``pl.dna``);
the older names (``capr_flow``, ``echo_map``, ...) still work, with a ``DeprecationWarning``.

=================================  ================================================
``pl.character_timeline(story)``   presence per chapter/scene, deaths marked
``pl.relationships(story)``        networkx spring layout of ``relationships``
                                   (was ``relationship_network``)
``pl.constraints(story)``          constraint graph, blocked edges, freedom/chapter
                                   (was ``constraint_graph``)
``pl.dna(story)``                  CAPR arc diagram (or ``kind="sankey"``), open
                                   threads (was ``capr_flow``)
``pl.engagement(story)``           tension, curiosity, valence; insights annotated
                                   (was ``engagement_arc``)
``pl.echoes(story)``               echoes across levels (source vs echo position)
                                   (was ``echo_map``)
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

import warnings
from typing import Any, Callable

from .characters import character_timeline, relationship_network, relationships
from .drift import drift_gauge
from .narrative import (capr_flow, constraint_graph, constraints, dna, echo_map, echoes, engagement,
                        engagement_arc)

__all__ = ["character_timeline", "relationships", "constraints", "dna", "engagement", "echoes",
           "drift_gauge", "figures", "FIGURES",
           "relationship_network", "constraint_graph", "capr_flow", "engagement_arc", "echo_map"]

#: figure names of 0.x -> their name now
_OLD_NAMES = {"capr": "dna"}


class _Figures(dict):
    """``FIGURES``: a dict that still answers the old names (with a ``DeprecationWarning``)."""

    def __missing__(self, name: str) -> Callable[..., Any]:
        if name in _OLD_NAMES:
            return self[_new_name(name)]
        raise KeyError(name)


def _new_name(name: str) -> str:
    if name in _OLD_NAMES:
        warnings.warn(f"the figure name {name!r} is deprecated; use {_OLD_NAMES[name]!r}",
                      DeprecationWarning, stacklevel=3)
    return _OLD_NAMES.get(name, name)


#: story figures by name (the name of their table), in display order (the dashboard tabs
#: and the story page)
FIGURES: dict[str, Callable[..., Any]] = _Figures({
    "characters": character_timeline,
    "relationships": relationships,
    "engagement": engagement,
    "dna": dna,
    "constraints": constraints,
    "echoes": echoes,
})


def figures(story: Any, names: list[str] | None = None) -> dict[str, Any]:
    """Every story figure, as ``{name: Figure}`` (names from :data:`FIGURES`)."""
    names = list(FIGURES) if names is None else [_new_name(n) for n in names]
    bad = [n for n in names if n not in FIGURES]
    if bad:
        raise ValueError(f"unknown figure(s) {bad}; known: {', '.join(FIGURES)}")
    return {n: FIGURES[n](story) for n in names}
