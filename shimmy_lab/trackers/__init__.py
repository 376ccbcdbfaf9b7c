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

from . import schema
from .characters import characters
from .constraints import constraints
from .dna import dna
from .drift import drift
from .engagement import engagement
from .recursion import recursion

__all__ = ["dna", "constraints", "recursion", "characters", "engagement", "drift",
           "schema", "SYSTEMS"]

#: system names in run order (the entry function has the module's name)
SYSTEMS = ("characters", "drift", "dna", "constraints", "recursion", "engagement")
