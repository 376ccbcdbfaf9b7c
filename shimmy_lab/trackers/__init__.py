"""The six narrative systems (``sl.tl``), one public entry per module.

Each reads and writes :class:`~shimmy_lab.story.Story` tables and records its
parameters in ``story.uns["params"][system]``:

========================  =====================================================
``tl.dna(story)``         CAPR units (``dna``), open threads and payoffs
``tl.constraints(story)`` constraint graph (``constraint_nodes/edges``), freedom
``tl.recursion(story)``   echoes across levels (``echoes``), symmetry
``tl.characters(story)``  ``voice``, ``relationships``, consistency insights
``tl.engagement(story)``  tension, curiosity, emotion, pace, loops (``engagement``)
``tl.drift(story, cand)`` POV / tense / topic drift; a report for candidate text
========================  =====================================================
"""

from __future__ import annotations

import importlib
from typing import Any

from . import schema

__all__ = ["dna", "constraints", "recursion", "characters", "engagement", "drift",
           "schema", "SYSTEMS"]

#: system name -> module (the entry function has the same name); in run order
SYSTEMS = ("characters", "drift", "dna", "constraints", "recursion", "engagement")


def __getattr__(name: str) -> Any:
    if name in SYSTEMS:
        fn = getattr(importlib.import_module(f"{__name__}.{name}"), name)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module 'shimmy_lab.trackers' has no attribute {name!r}")
