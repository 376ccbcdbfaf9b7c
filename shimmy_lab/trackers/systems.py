"""The narrative systems as a registry: what each one reads, writes and takes.

Each system is a :class:`System`: its name (the name of its ``tl`` function and of the
parameters recorded in ``story.uns["params"]``), its function, the dataclass of its
parameters, the tables it writes and the systems whose tables it reads (``requires``).
The run order (:func:`order`) comes from ``requires``; :func:`run` calls one system with
its parameters and, when a system it requires has not run on the story, fails with a
message naming it ("run tl.dna first").  The ``tl`` functions themselves stay lenient:
called directly, a system without its prerequisites treats their tables as empty.

>>> from shimmy_lab.trackers import systems
>>> [s.name for s in systems.systems()]
['characters', 'drift', 'dna', 'constraints', 'recursion', 'engagement']
>>> systems.get("engagement").requires
('dna',)
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import ShimmyError

__all__ = ["System", "MissingPrerequisiteError", "register", "get", "systems", "order", "missing",
           "run", "params_of"]


class MissingPrerequisiteError(ShimmyError, RuntimeError):
    """A narrative system was asked to run before a system whose tables it reads (400)."""

    default_code = "missing_prerequisite"


@dataclass(frozen=True)
class System:
    """One narrative system.

    Parameters
    ----------
    name : str
        Its name: ``tl.<name>``, ``uns["params"][<name>]``, the ``system`` of its insights.
    func : callable
        ``func(story, **params) -> story``: reads and writes ``story.tables``.
    params : type, optional
        A dataclass of its parameters, defaults as ``func``'s (default: made from the
        signature of ``func``).
    tables : tuple of str
        The tables it writes (besides its rows of ``insights``).
    requires : tuple of str
        The systems whose tables it reads: it runs after them.
    """

    name: str
    func: Callable[..., Any]
    params: type | None = None
    tables: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.params is None:
            object.__setattr__(self, "params", params_of(self.func, self.name))


def params_of(func: Callable[..., Any], name: str) -> type:
    """A parameters dataclass made from the keyword parameters of ``func`` (after the story)."""
    fields = [(p.name, Any, dataclasses.field(default=p.default))
              for p in list(inspect.signature(func).parameters.values())[1:]
              if p.default is not inspect.Parameter.empty]
    return dataclasses.make_dataclass(f"{name.title()}Params", fields, frozen=True)


_REGISTRY: dict[str, System] = {}


def register(system: System) -> System:
    """Add ``system`` (replacing one of the same name); its ``requires`` must be registered."""
    unknown = [r for r in system.requires if r not in _REGISTRY and r != system.name]
    if unknown:
        raise ValueError(f"system {system.name!r} requires unknown system(s) {unknown}; "
                         f"known: {', '.join(_REGISTRY)}")
    _REGISTRY[system.name] = system
    return system


def get(name: str) -> System:
    """The registered system ``name``; ``KeyError`` listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown narrative system {name!r}; known: {', '.join(_REGISTRY)}") from None


def systems() -> list[System]:
    """Every registered system, in run order."""
    return [_REGISTRY[n] for n in order(_REGISTRY)]


def order(names: Iterable[str]) -> list[str]:
    """``names`` in an order where each system comes after those it requires (among
    ``names``); otherwise in registration order."""
    todo = [n for n in _REGISTRY if n in set(names)]
    for n in set(names) - set(todo):
        get(n)  # raises: unknown
    done: list[str] = []
    while todo:
        ready = next((n for n in todo if all(r in done or r not in todo for r in get(n).requires)), None)
        if ready is None:
            raise ValueError(f"the systems {todo} require each other in a cycle")
        done.append(ready)
        todo.remove(ready)
    return done


def missing(story: Any, name: str) -> list[str]:
    """The systems ``name`` requires that have not run on ``story`` (a table of theirs is absent)."""
    tables = getattr(story, "tables", {})
    return [r for r in get(name).requires if any(t not in tables for t in get(r).tables)]


def run(story: Any, name: str, params: Any = None, **overrides: Any) -> Any:
    """Run system ``name`` on ``story`` with ``params`` (its dataclass; default: the
    defaults) updated by ``overrides``.

    Raises
    ------
    MissingPrerequisiteError
        When a system ``name`` requires has not run on ``story``: "run tl.dna first".
    """
    system = get(name)
    lacking = missing(story, name)
    if lacking:
        first = ", ".join(f"tl.{r}" for r in lacking)
        raise MissingPrerequisiteError(
            f"tl.{name} reads the tables of {first}, which have not run on this story: run {first} first "
            "(or sl.analyze, which runs the systems in order).", param="systems")
    p = params if params is not None else system.params()
    if overrides:
        p = dataclasses.replace(p, **overrides)
    return system.func(story, **{f.name: getattr(p, f.name) for f in dataclasses.fields(p)})
