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

They are registered in :mod:`shimmy_lab.trackers.systems` (what each writes, reads and
takes); ``sl.analyze`` runs the registry, in which other packages add systems through the
entry-point group ``shimmy_lab.systems``.
"""

from __future__ import annotations

from . import constraints as _constraints
from . import dna as _dna
from . import engagement as _engagement
from . import recursion as _recursion
from . import schema, systems
from .characters import CharactersParams, characters
from .constraints import ConstraintsParams, constraints
from .dna import DnaParams, dna
from .drift import drift
from .engagement import EngagementParams, engagement
from .recursion import RecursionParams, recursion
from .systems import System

__all__ = ["dna", "constraints", "recursion", "characters", "engagement", "drift",
           "schema", "systems", "SYSTEMS", "DnaParams", "ConstraintsParams", "RecursionParams",
           "CharactersParams", "EngagementParams"]

# The built-in systems: what each writes and which systems' tables it reads (see
# :mod:`shimmy_lab.trackers.systems`); registered in this order, which breaks ties.
for _system in (
        System("characters", characters, CharactersParams, tables=("voice", "relationships")),
        System("drift", drift),  # parameters from its signature; writes insights only
        System("dna", dna, DnaParams, tables=("dna",), compute=_dna.compute),
        System("constraints", constraints, ConstraintsParams,
               tables=("constraint_nodes", "constraint_edges", "freedom"), requires=("characters", "dna"),
               compute=_constraints.compute),
        System("recursion", recursion, RecursionParams, tables=("echoes",), compute=_recursion.compute),
        System("engagement", engagement, EngagementParams, tables=("engagement",), requires=("dna",),
               compute=_engagement.compute),
):
    systems.register(_system)
del _system

#: the built-in system names in run order (each after the systems it requires; the entry
#: function has the module's name); with the systems of other packages (entry-point group
#: ``shimmy_lab.systems``): :func:`systems.names`
SYSTEMS = tuple(systems.order(systems._REGISTRY))  # not systems.names(): no entry points at import
