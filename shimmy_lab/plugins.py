"""Narrative plugins: a small protocol fed by typed events as the analysis runs.

A plugin is any object with ``name`` and the four methods of :class:`NarrativePlugin`.
Register one in Python (:func:`register`) or ship it in a package, under the entry-point
group of the narrative extensions, ``shimmy_lab.systems`` (the group of narrative systems
too: :mod:`shimmy_lab.trackers.systems`), or under the older group
``shimmy_lab.plugins``, which keeps working::

    [project.entry-points."shimmy_lab.systems"]
    cliches = "my_package:ClicheDetector"

While :func:`shimmy_lab.analyze` runs, each plugin gets the events it subscribes to (its
optional ``subscribes`` attribute, a tuple of :data:`EVENT_KINDS`; without it, every
kind) as they happen: first the events of the story's own tables (characters introduced,
lines of dialogue, scenes and chapters completed), then, as each narrative system
finishes, the events of the tables it wrote (threads opened and resolved), one
``insight_raised`` per insight it raised, and one :class:`SystemFinished`.  Only the text
that is new since the previous run produces events (an appended story does not replay its
past).  At the end each plugin is asked for insights, which join ``story.insights`` with
``system`` set to the plugin's name.  A plugin that raises is disabled with the reason
logged and recorded in ``story.uns["params"]["assistant"]["plugins_failed"]``; the
analysis goes on.

A plugin may also serve HTTP: its optional ``router`` (a FastAPI ``APIRouter``) is
mounted under ``/plugins/<name>`` and its optional ``middleware`` (ASGI middleware
classes, or ``(class, options)`` pairs) is added by
:func:`shimmy_lab.server.app.create_app`, inside the API-key, request-id and rate-limit
checks.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Iterable, Iterator, Protocol, runtime_checkable

import pandas as pd

__all__ = ["NarrativePlugin", "Event", "EventData", "SystemFinished", "EVENT_KINDS", "ENTRY_POINT_GROUP",
           "PLUGINS_GROUP", "register", "unregister", "plugins", "disabled", "extensions",
           "AnalysisEvents", "publish_story"]

log = logging.getLogger(__name__)

#: the entry-point group of narrative extensions: plugins and narrative systems
ENTRY_POINT_GROUP = "shimmy_lab.systems"
#: the older entry-point group, plugins only (still read)
PLUGINS_GROUP = "shimmy_lab.plugins"

EVENT_KINDS = ("character_introduced", "dialogue_spoken", "scene_complete", "chapter_complete",
               "thread_opened", "thread_resolved", "insight_raised", "system_finished")


class EventData(dict):
    """The ``data`` of an :class:`Event`: a dict in which the keys used before the tables'
    columns were renamed (``"unit"``, ``"type"``, ``"index"``) still answer, with a
    ``DeprecationWarning``, as ``"unit_id"``, ``"kind"`` and ``"scene"`` / ``"chapter"``
    (``data["unit"]``; ``get`` and ``in`` know only the new keys)."""

    _OLD = {"unit": ("unit_id",), "type": ("kind",), "index": ("scene", "chapter")}

    def __missing__(self, key: str) -> Any:
        for new in self._OLD.get(key, ()):
            if new in self:
                warnings.warn(f"event data key {key!r} is deprecated: use {new!r}", DeprecationWarning,
                              stacklevel=2)
                return self[new]
        raise KeyError(key)


@dataclass(frozen=True)
class Event:
    """One narrative event, with the span of the text it is about."""

    kind: str
    start: int
    end: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SystemFinished(Event):
    """A narrative system finished during :func:`shimmy_lab.analyze` (``kind``
    ``"system_finished"``; its span is the text analysed).

    Parameters
    ----------
    system : str
        The system's name (``tl.<system>``).
    seconds : float
        How long it ran.
    error : str or None
        Why it failed (``"RuntimeError: ..."``), ``None`` when it ran.
    """

    system: str = ""
    seconds: float = 0.0
    error: str | None = None

    #: the ``kind`` of these events (a plugin may subscribe to the type or to the kind)
    KIND: ClassVar[str] = "system_finished"


@runtime_checkable
class NarrativePlugin(Protocol):
    """What a plugin implements.

    A plugin may also set ``subscribes``: the :data:`EVENT_KINDS` its ``on_event`` wants,
    or event types (``SystemFinished``; ``Event``: all) (default: all of them), ``router`` (a FastAPI ``APIRouter`` served under
    ``/plugins/<name>``) and ``middleware`` (ASGI middleware classes or
    ``(class, options)`` pairs added to the server's app).
    """

    name: str

    def initialize(self, story: Any) -> None:
        """Called once per story, before its first events."""

    def on_event(self, event: Event) -> None:
        """Called for every event it subscribes to, as the analysis runs."""

    def insights(self, story: Any) -> pd.DataFrame | list[dict[str, Any]]:
        """Insight rows (``kind, title, message, start, end, ...``) for this story."""

    def shutdown(self) -> None:
        """Called by :func:`unregister`."""


_COLUMNS = ("kind", "priority", "severity", "title", "message", "start", "end", "characters", "suggestion")
_REGISTERED: dict[str, Any] = {}
_DISABLED: dict[str, str] = {}
_EXTENSIONS: dict[str, Any] = {}  # entry points of ENTRY_POINT_GROUP that are not plugins (systems)
_UNLOADABLE: set[str] = set()  # entry points that could not be loaded (read again on refresh)
_ENTRY_POINTS_LOADED = False


def register(plugin: Any) -> Any:
    """Add a plugin (an instance); returns it, so it can decorate a class instance."""
    if not isinstance(plugin, NarrativePlugin) or isinstance(plugin, type):
        raise TypeError(f"{plugin!r} does not implement NarrativePlugin "
                        "(name, initialize, on_event, insights, shutdown)")
    bad = set(_wanted(plugin)) - set(EVENT_KINDS)
    if bad:
        raise ValueError(f"plugin {plugin.name!r} subscribes to unknown event kinds {sorted(bad)}; "
                         f"kinds are {', '.join(EVENT_KINDS)}")
    _REGISTERED[plugin.name] = plugin
    _DISABLED.pop(plugin.name, None)
    return plugin


def unregister(name: str) -> None:
    """Remove a plugin and call its ``shutdown``."""
    plugin = _REGISTERED.pop(name, None)
    _DISABLED.pop(name, None)
    if plugin is not None:
        try:
            plugin.shutdown()
        except Exception as exc:  # shutting down must not fail the caller
            log.warning("plugin %s failed to shut down: %s", name, exc)


def _load_entry_points(refresh: bool = False) -> None:
    """Read both groups once: plugins are registered, other objects of
    :data:`ENTRY_POINT_GROUP` kept for :func:`extensions` (the system registry's)."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED and not refresh:
        return
    _ENTRY_POINTS_LOADED = True

    _EXTENSIONS.clear()
    for name in _UNLOADABLE:
        _DISABLED.pop(name, None)
    _UNLOADABLE.clear()
    for group in (ENTRY_POINT_GROUP, PLUGINS_GROUP):
        for ep in entry_points(group=group):
            try:
                obj = ep.load()
                if isinstance(obj, NarrativePlugin):  # an instance, or a class to instantiate
                    register(obj() if isinstance(obj, type) else obj)
                elif group == ENTRY_POINT_GROUP:
                    _EXTENSIONS[ep.name] = obj
                else:
                    raise TypeError(f"{obj!r} does not implement NarrativePlugin")
            except Exception as exc:
                _UNLOADABLE.add(ep.name)
                _DISABLED[ep.name] = f"could not load entry point {ep.value}: {exc}"
                log.warning("plugin %s disabled: %s", ep.name, _DISABLED[ep.name])


def plugins(refresh: bool = False) -> dict[str, Any]:
    """The active plugins by name (entry points are loaded on first use; ``refresh=True``
    reads them again, e.g. after installing a package)."""
    _load_entry_points(refresh)
    return {k: v for k, v in _REGISTERED.items() if k not in _DISABLED}


def disabled() -> dict[str, str]:
    """Plugins switched off, with the reason."""
    return dict(_DISABLED)


def extensions(refresh: bool = False) -> dict[str, Any]:
    """The objects of the :data:`ENTRY_POINT_GROUP` entry points that are not plugins
    (narrative systems, registered by :mod:`shimmy_lab.trackers.systems`), by entry-point name."""
    _load_entry_points(refresh)
    return dict(_EXTENSIONS)


# ---------------------------------------------------------------------------- events
def _rows(story: Any, name: str) -> pd.DataFrame:
    df = story.tables.get(name)
    return df if df is not None else pd.DataFrame()


def _story_events(story: Any, since: int) -> Iterator[Event]:
    """The events of the Story's own tables: characters, quotes, complete scenes and chapters."""
    for r in _rows(story, "characters").itertuples():
        if r.start >= since:
            yield Event("character_introduced", int(r.start), int(r.end),
                        {"character_id": r.character_id, "name": r.name})
    for r in _rows(story, "quotes").itertuples():
        if r.start >= since:
            yield Event("dialogue_spoken", int(r.start), int(r.end),
                        {"speaker": None if pd.isna(r.speaker) else r.speaker, "text": r.text})
    complete_to = len(story.text)
    for name, kind in (("scenes", "scene_complete"), ("chapters", "chapter_complete")):
        rows = _rows(story, name)
        for r in rows.iloc[:-1].itertuples() if len(rows) else []:  # the last one may still grow
            if r.end > since and r.end <= complete_to:
                yield Event(kind, int(r.start), int(r.end), EventData({name[:-1]: int(getattr(r, name[:-1]))}))


def _thread_events(story: Any, since: int) -> Iterator[Event]:
    """``thread_opened`` / ``thread_resolved`` from the ``dna`` table."""
    for r in _rows(story, "dna").itertuples():
        if r.start >= since and r.kind in ("contradiction", "pressure"):
            yield Event("thread_opened", int(r.start), int(r.end), EventData(unit_id=int(r.unit_id), kind=r.kind))
        if r.start >= since and r.kind == "return" and isinstance(r.answers, str):
            yield Event("thread_resolved", int(r.start), int(r.end), EventData(unit_id=int(r.unit_id), answers=r.answers))


def _insight_events(insights: pd.DataFrame, since: int) -> Iterator[Event]:
    for r in insights.itertuples():
        if r.start >= since:
            yield Event("insight_raised", int(r.start), int(r.end), {"kind": r.kind, "title": r.title})


#: events derived from a table a system writes (the Story's own tables: ``_story_events``)
_TABLE_EVENTS = {"dna": _thread_events}


def _in_text_order(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, EVENT_KINDS.index(e.kind)))


def _wanted(plugin: Any) -> tuple[str, ...]:
    """The event kinds ``plugin`` subscribes to (its ``subscribes``: kinds or event types,
    :class:`Event` meaning all; default all)."""
    kinds = getattr(plugin, "subscribes", None)
    if kinds is None:
        return EVENT_KINDS
    out: list[str] = []
    for k in ((kinds,) if isinstance(kinds, (str, type)) else tuple(kinds)):
        if isinstance(k, type) and issubclass(k, Event):
            out += [k.KIND] if hasattr(k, "KIND") else list(EVENT_KINDS)
        else:
            out.append(k)
    return tuple(out)


class AnalysisEvents:
    """The events of one analysis of ``story``, handed to the plugins as it runs.

    :func:`shimmy_lab.analyze` makes one, calls :meth:`story_read` before the systems,
    :meth:`system_finished` after each, and :meth:`finish` for the plugins' insights.

    Parameters
    ----------
    story
        The story being analysed; events start at ``story.uns["events_to"]`` (the end of
        the text of the previous analysis).
    """

    def __init__(self, story: Any):
        self.story = story
        self.active = plugins()
        self.failed: dict[str, str] = {}
        self.since = int(story.uns.get("events_to", 0))
        self._seen = set(story.uns.get("plugins_seen", []))
        self._any = bool(self.active)  # without plugins the story's uns stays as it was
        for name, plugin in list(self.active.items()):
            if name not in self._seen:
                self._call(name, plugin.initialize, story)
                if name in self.active:
                    self._seen.add(name)

    def _call(self, name: str, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` of plugin ``name``; a plugin that raises is switched off."""
        try:
            return fn(*args)
        except Exception as exc:  # a failing plugin is switched off; the analysis goes on
            self.failed[name] = _DISABLED[name] = f"{type(exc).__name__}: {exc}"
            self.active.pop(name, None)
            log.warning("plugin %s disabled: %s", name, self.failed[name])
            return None

    def publish(self, events: Iterable[Event]) -> None:
        """Hand ``events`` to every active plugin that subscribes to their kind."""
        events = list(events)
        for name, plugin in list(self.active.items()):
            wanted = set(_wanted(plugin))
            for ev in events:
                if ev.kind in wanted and name in self.active:
                    self._call(name, plugin.on_event, ev)

    def story_read(self) -> None:
        """Publish the events of the Story's own tables (before the systems run)."""
        if self.active:
            self.publish(_in_text_order(_story_events(self.story, self.since)))

    def system_finished(self, system: str, tables: Iterable[str] = (), seconds: float = 0.0,
                        error: str | None = None) -> None:
        """Publish the events of the ``tables`` system ``system`` wrote, its insights and a
        :class:`SystemFinished`."""
        if not self.active:
            return
        found: list[Event] = []
        for t in tables:
            if t in _TABLE_EVENTS:
                found += _TABLE_EVENTS[t](self.story, self.since)
        ins = _rows(self.story, "insights")
        if len(ins):
            found += _insight_events(ins[ins["system"] == system], self.since)
        self.publish(_in_text_order(found) + [SystemFinished(
            "system_finished", self.since, len(self.story.text), {"system": system},
            system=system, seconds=float(seconds), error=error)])

    def finish(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Ask every active plugin for insights; remember how far the events went.

        Returns
        -------
        rows : list of dict
            Insight rows from the plugins (``system`` = plugin name).
        failed : dict
            Plugins disabled during this run, with the reason.
        """
        rows: list[dict[str, Any]] = []
        for name, plugin in list(self.active.items()):
            found = self._call(name, _insight_rows, name, plugin, self.story)
            rows += found or []
        if self._any:
            self.story.uns["events_to"] = len(self.story.text)
            self.story.uns["plugins_seen"] = sorted(self._seen)
        return rows, self.failed


def _insight_rows(name: str, plugin: Any, story: Any) -> list[dict[str, Any]]:
    """``plugin``'s insights as rows of the ``insights`` table (raises on a row without a span)."""
    found = plugin.insights(story)
    found = found.to_dict("records") if isinstance(found, pd.DataFrame) else list(found or [])
    rows = []
    for row in found:
        missing = {"kind", "title", "start", "end"} - set(row)
        if missing:
            raise ValueError(f"insight without {sorted(missing)}: {row!r}")
        rows.append({"priority": "interesting", "severity": 0.5, "characters": [], "suggestion": "",
                     "message": "", **{k: v for k, v in row.items() if k in _COLUMNS},
                     "start": int(row["start"]), "end": int(row["end"]), "system": name})
    return rows


def publish_story(story: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Feed every event of the story's tables (those new since the previous run) to the
    plugins at once and collect their insights: for a story analysed without
    :func:`shimmy_lab.analyze` (which publishes the events as it runs).

    Returns
    -------
    rows : list of dict
        Insight rows from the plugins (``system`` = plugin name).
    failed : dict
        Plugins disabled during this run, with the reason.
    """
    if not plugins():
        return [], {}
    run = AnalysisEvents(story)
    ins = _rows(story, "insights")
    run.publish(_in_text_order([*_story_events(story, run.since), *_thread_events(story, run.since),
                                *_insight_events(ins, run.since)]))
    return run.finish()
