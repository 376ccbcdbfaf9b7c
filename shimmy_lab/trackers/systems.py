"""The narrative systems as a registry: what each one reads, writes and takes.

Each system is a :class:`System`: its name (the name of its ``tl`` function and of the
parameters recorded in ``story.uns["params"]``), its function, the dataclass of its
parameters, the tables it writes, the systems whose tables it reads (``requires``) and,
optionally, its pure ``compute(tables, params) -> dict of DataFrames``: the tables it reads
(and the text, under the key ``"text"``) in, its tables and its rows of ``insights`` out,
no story involved (:func:`compute` calls it by name).  Its ``tl`` function is then thin:
it gathers the tables (:func:`inputs`), calls ``compute`` and writes the result to the
story (:func:`write`).
The run order (:func:`order`) comes from ``requires``; :func:`run` calls one system with
its parameters and, when a system it requires has not run on the story, fails with a
message naming it ("run tl.dna first").  The ``tl`` functions themselves stay lenient:
called directly, a system without its prerequisites treats their tables as empty.

Another package adds a system through the entry-point group ``shimmy_lab.systems``
(:data:`shimmy_lab.plugins.ENTRY_POINT_GROUP`, shared with the narrative plugins): the
entry point names a :class:`System` (or a list of them), registered on first use of the
registry (:func:`systems`, :func:`names`, :func:`get`) after the built-in ones::

    [project.entry-points."shimmy_lab.systems"]
    cliches = "my_package:CLICHES"          # CLICHES = System("cliches", cliches, ...)

>>> from shimmy_lab.trackers import systems
>>> [s.name for s in systems.systems()]
['characters', 'drift', 'dna', 'constraints', 'recursion', 'engagement']
>>> systems.get("engagement").requires
('dna',)
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .. import plugins  # the one reader of the entry-point group (systems and plugins)
from ..errors import ShimmyError
from ._util import TEXT, inputs, write

log = logging.getLogger(__name__)

__all__ = ["System", "MissingPrerequisiteError", "register", "unregister", "get", "systems", "names",
           "order", "missing", "run", "compute", "inputs", "write", "TEXT", "params_of", "params_for",
           "unloaded"]


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
    compute : callable, optional
        ``compute(tables, params) -> dict[str, DataFrame]``, pure: ``tables`` a read-only
        mapping of the tables it reads and the story text under ``"text"``, ``params`` an
        instance of ``params``; returns its tables, its rows of ``insights`` (key
        ``"insights"``), if it has one its summary for ``story.uns[name]`` (key ``"uns"``,
        one row) and, when what it ran with is not ``params`` itself (a default read at
        call time, a model that could not be loaded), the parameters to record (key
        ``"params"``, one row).  ``None`` for a system that works on a story only.
    rank : int
        Breaks ties in the run order: of the systems that can run next (those they
        require have run), the lowest rank first, then the first registered.  The
        built-in systems have ranks 10 to 60; a system without one (default 100) runs
        after them when it can.
    """

    name: str
    func: Callable[..., Any]
    params: type | None = None
    tables: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    compute: Callable[[Mapping[str, Any], Any], dict[str, Any]] | None = None
    rank: int = 100

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
_UNLOADED: dict[str, str] = {}  # entry points that could not be registered, with the reason
_FROM_ENTRY_POINTS: set[str] = set()  # the systems registered from entry points (read again on refresh)
_ENTRY_POINTS_LOADED = False


def register(system: System) -> System:
    """Add ``system`` (replacing one of the same name); its ``requires`` must be registered."""
    unknown = [r for r in system.requires if r not in _REGISTRY and r != system.name]
    if unknown:
        raise ValueError(f"system {system.name!r} requires unknown system(s) {unknown}; "
                         f"known: {', '.join(_REGISTRY)}")
    _REGISTRY[system.name] = system
    return system


def _load_entry_points(refresh: bool = False) -> None:
    """Register the systems other packages declare (group ``shimmy_lab.systems``), once."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED and not refresh:
        return
    _ENTRY_POINTS_LOADED = True
    _UNLOADED.clear()
    for name in _FROM_ENTRY_POINTS:
        _REGISTRY.pop(name, None)
    _FROM_ENTRY_POINTS.clear()
    todo = {}
    for ep_name, obj in plugins.extensions(refresh).items():
        found = [obj] if isinstance(obj, System) else list(obj) if isinstance(obj, (list, tuple)) else []
        if not found or not all(isinstance(s, System) for s in found):
            _UNLOADED[ep_name] = f"{obj!r} is neither a NarrativePlugin nor a System (or a list of them)"
        todo.update({s.name: (ep_name, s) for s in found if isinstance(s, System)})
    while todo:  # each after the systems it requires, whatever the order of the entry points
        ready = [n for n, (_, s) in todo.items() if all(r in _REGISTRY or r == n for r in s.requires)]
        for n in ready or list(todo):
            ep_name, system = todo.pop(n)
            if n in _REGISTRY:
                _UNLOADED[ep_name] = f"a system named {n!r} is already registered"
                continue
            try:
                register(system)
                _FROM_ENTRY_POINTS.add(system.name)
            except ValueError as exc:
                _UNLOADED[ep_name] = str(exc)
    for ep_name, why in _UNLOADED.items():
        log.warning("narrative system entry point %s not registered: %s", ep_name, why)


def unloaded() -> dict[str, str]:
    """Entry points of ``shimmy_lab.systems`` that could not be registered, with the reason."""
    _load_entry_points()
    return dict(_UNLOADED)


def unregister(name: str) -> None:
    """Remove system ``name`` (no error if it is not registered); refused while another
    registered system requires it."""
    users = [s.name for s in _REGISTRY.values() if name in s.requires and s.name != name]
    if users:
        raise ValueError(f"system {name!r} is required by {users}")
    _REGISTRY.pop(name, None)


def get(name: str) -> System:
    """The registered system ``name``; ``KeyError`` listing the known ones."""
    if name not in _REGISTRY:
        _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown narrative system {name!r}; known: {', '.join(_REGISTRY)}") from None


def systems(refresh: bool = False) -> list[System]:
    """Every registered system (those of other packages included), in run order.

    ``refresh=True`` reads the entry points again (e.g. after installing a package).
    """
    _load_entry_points(refresh)
    return [_REGISTRY[n] for n in order(_REGISTRY)]


def names(refresh: bool = False) -> list[str]:
    """The names of :func:`systems`, in run order."""
    return [s.name for s in systems(refresh)]


def order(names: Iterable[str]) -> list[str]:
    """``names`` in an order where each system comes after those it requires (among
    ``names``); otherwise by :attr:`System.rank`, then in registration order."""
    todo = sorted((n for n in _REGISTRY if n in set(names)), key=lambda n: _REGISTRY[n].rank)
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


def params_for(name: str, params: Any = None, **overrides: Any) -> Any:
    """The parameters of system ``name``: ``params`` (its dataclass, or a dict of fields;
    default: the defaults) updated by ``overrides``.

    Examples
    --------
    >>> params_for("dna", {"max_insights": 3})
    DnaParams(min_intensity=0.34, min_shared=2, max_insights=3)
    """
    cls = get(name).params
    if params is None or isinstance(params, dict):
        overrides = {**(params or {}), **overrides}
        params = cls()
    elif not isinstance(params, cls):
        raise TypeError(f"the parameters of {name!r} are a {cls.__name__} or a dict, not {type(params).__name__}")
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(params)})
    if unknown:
        raise TypeError(f"{name!r} has no parameter(s) {unknown}; its parameters: "
                        f"{', '.join(f.name for f in dataclasses.fields(params))}")
    return dataclasses.replace(params, **overrides) if overrides else params


def run(story: Any, name: str, params: Any = None, *, check: bool = True, **overrides: Any) -> Any:
    """Run system ``name`` on ``story`` with ``params`` (its dataclass or a dict; default:
    the defaults) updated by ``overrides``.

    ``check=False`` skips the prerequisite check: the system then treats the tables of a
    system that has not run as empty, as its ``tl`` function does (:func:`shimmy_lab.analyze`
    runs that way, so switching a system off does not fail the systems that read it).

    Raises
    ------
    MissingPrerequisiteError
        When a system ``name`` requires has not run on ``story``: "run tl.dna first".
    """
    system = get(name)
    lacking = missing(story, name) if check else []
    if lacking:
        first = ", ".join(f"tl.{r}" for r in lacking)
        raise MissingPrerequisiteError(
            f"tl.{name} reads the tables of {first}, which have not run on this story: run {first} first "
            "(or sl.analyze, which runs the systems in order).", param="systems")
    p = params_for(name, params, **overrides)
    return system.func(story, **{f.name: getattr(p, f.name) for f in dataclasses.fields(p)})


def compute(name: str, tables: Mapping[str, Any], params: Any = None, **overrides: Any) -> dict[str, Any]:
    """The output of system ``name`` on ``tables``, without a story: its ``compute`` with
    ``params`` (its dataclass or a dict; default: the defaults) updated by ``overrides``.

    Parameters
    ----------
    name : str
        A registered system that has a ``compute``.
    tables : mapping
        The tables it reads (an absent one reads as empty) and the story text under
        ``"text"``; not modified.  E.g. ``{"text": story.text, **story.tables}``.
    params, **overrides
        As for :func:`run`.

    Returns
    -------
    dict of str to DataFrame
        Its tables, ``"insights"`` (its rows) and, for some, ``"uns"`` (see :class:`System`).

    Raises
    ------
    TypeError
        When system ``name`` has no ``compute`` (it works on a story only: :func:`run`).
    """
    system = get(name)
    if system.compute is None:
        raise TypeError(f"system {name!r} has no compute(tables, params): it works on a story only "
                        f"(systems.run(story, {name!r}))")
    return system.compute(tables, params_for(name, params, **overrides))
