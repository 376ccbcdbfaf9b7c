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

Each module declares its system at module level (``DNA = System("dna", dna, DnaParams,
...)``, :class:`~shimmy_lab.trackers.systems.System`: what it writes, reads and takes);
importing this package registers every ``System`` its modules declare, each after the
systems it requires, ties broken by ``rank`` then name, and makes each one's function of
the system's name ``tl.<name>``.  Adding a built-in system is one new module and its
test.  ``sl.analyze`` runs the registry, in which other packages add systems through the
entry-point group ``shimmy_lab.systems``.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from . import schema, systems
from .characters import CharactersParams, characters
from .constraints import ConstraintsParams, constraints
from .dna import DnaParams, dna
from .drift import DriftParams, drift
from .engagement import EngagementParams, engagement
from .recursion import RecursionParams, recursion
from .systems import System

__all__ = ["dna", "constraints", "recursion", "characters", "engagement", "drift",
           "schema", "systems", "SYSTEMS", "DnaParams", "ConstraintsParams", "RecursionParams",
           "CharactersParams", "EngagementParams", "DriftParams"]


def _declared() -> list[tuple[ModuleType, System]]:
    """``(module, system)`` for every :class:`System` a module of this package declares at
    module level (one object once, however many modules import it: with the module of its
    function)."""
    found: dict[int, tuple[ModuleType, System]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, System) and (id(obj) not in found or obj.func.__module__ == module.__name__):
                found[id(obj)] = (module, obj)
    return list(found.values())


def _register_declared() -> None:
    """Register the declared systems, each after those it requires (ties: rank, then name),
    and expose each module's function of the system's name as ``tl.<name>``."""
    todo = sorted(_declared(), key=lambda ms: (ms[1].rank, ms[1].name))
    while todo:
        ready = next((ms for ms in todo if all(r in systems._REGISTRY or r == ms[1].name
                                               for r in ms[1].requires)), None)
        if ready is None:
            raise ImportError(f"built-in systems {[s.name for _, s in todo]} require unknown systems "
                              "or each other in a cycle")
        todo.remove(ready)
        module, system = ready
        systems.register(system)
        if system.name not in globals() or isinstance(globals()[system.name], ModuleType):
            globals()[system.name] = getattr(module, system.name, system.func)
            __all__.append(system.name)


_register_declared()

#: the built-in system names in run order (each after the systems it requires; the entry
#: function has the module's name); with the systems of other packages (entry-point group
#: ``shimmy_lab.systems``): :func:`systems.names`
SYSTEMS = tuple(systems.order(systems._REGISTRY))  # not systems.names(): no entry points at import
