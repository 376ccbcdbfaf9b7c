"""Narrative plugins: a small protocol fed by an event bus.

A plugin is any object with ``name`` and the four methods of :class:`NarrativePlugin`.
Register one in Python (:func:`register`) or ship it in a package under the
entry-point group ``shimmy_lab.plugins``::

    [project.entry-points."shimmy_lab.plugins"]
    cliches = "my_package:ClicheDetector"

Each :func:`shimmy_lab.analyze` run publishes the events found in the text that is new
since the previous run (so an appended story does not replay its past) to the plugins
that subscribe to their kind (a plugin's optional ``subscribes`` attribute, a tuple of
:data:`EVENT_KINDS`; without it, every kind), then asks each plugin for insights, which join ``story.insights`` with ``system`` set to the plugin's
name. A plugin that raises is disabled with the reason logged and recorded in
``story.uns["params"]["assistant"]["plugins_failed"]``; the analysis goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, runtime_checkable

import pandas as pd

__all__ = ["NarrativePlugin", "Event", "EVENT_KINDS", "register", "unregister", "plugins", "publish_story"]

log = logging.getLogger(__name__)

EVENT_KINDS = ("character_introduced", "dialogue_spoken", "scene_complete", "chapter_complete",
               "thread_opened", "thread_resolved", "insight_raised")


@dataclass(frozen=True)
class Event:
    """One narrative event, with the span of the text it is about."""

    kind: str
    start: int
    end: int
    data: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class NarrativePlugin(Protocol):
    """What a plugin implements.

    A plugin may also set ``subscribes``: the :data:`EVENT_KINDS` its ``on_event`` wants
    (default: all of them).
    """

    name: str

    def initialize(self, story: Any) -> None:
        """Called once per story, before its first events."""

    def on_event(self, event: Event) -> None:
        """Called for every event, in text order."""

    def insights(self, story: Any) -> pd.DataFrame | list[dict[str, Any]]:
        """Insight rows (``kind, title, message, start, end, ...``) for this story."""

    def shutdown(self) -> None:
        """Called by :func:`unregister`."""


_COLUMNS = ("kind", "priority", "severity", "title", "message", "start", "end", "characters", "suggestion")
_REGISTERED: dict[str, Any] = {}
_DISABLED: dict[str, str] = {}
_ENTRY_POINTS_LOADED = False


def register(plugin: Any) -> Any:
    """Add a plugin (an instance); returns it, so it can decorate a class instance."""
    if not isinstance(plugin, NarrativePlugin):
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


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="shimmy_lab.plugins"):
        try:
            obj = ep.load()
            register(obj() if isinstance(obj, type) else obj)
        except Exception as exc:
            _DISABLED[ep.name] = f"could not load entry point {ep.value}: {exc}"
            log.warning("plugin %s disabled: %s", ep.name, _DISABLED[ep.name])


def plugins() -> dict[str, Any]:
    """The active plugins by name (entry points are loaded on first use)."""
    _load_entry_points()
    return {k: v for k, v in _REGISTERED.items() if k not in _DISABLED}


def disabled() -> dict[str, str]:
    """Plugins switched off, with the reason."""
    return dict(_DISABLED)


def _events(story: Any, since: int) -> Iterator[Event]:
    t = story.tables
    out: list[Event] = []
    for r in t["characters"].itertuples():
        if r.start >= since:
            out.append(Event("character_introduced", int(r.start), int(r.end),
                             {"character_id": r.character_id, "name": r.name}))
    for r in t["quotes"].itertuples():
        if r.start >= since:
            out.append(Event("dialogue_spoken", int(r.start), int(r.end),
                             {"speaker": None if pd.isna(r.speaker) else r.speaker, "text": r.text}))
    complete_to = len(story.text)
    for name, kind in (("scenes", "scene_complete"), ("chapters", "chapter_complete")):
        rows = t[name]
        for r in rows.iloc[:-1].itertuples() if len(rows) else []:  # the last one may still grow
            if r.end > since and r.end <= complete_to:
                out.append(Event(kind, int(r.start), int(r.end), {"index": int(getattr(r, name[:-1]))}))
    dna = t.get("dna")
    if dna is not None:
        for r in dna.itertuples():
            if r.start >= since and r.type in ("contradiction", "pressure"):
                out.append(Event("thread_opened", int(r.start), int(r.end), {"unit": int(r.unit), "type": r.type}))
            if r.start >= since and r.type == "return" and isinstance(r.answers, str):
                out.append(Event("thread_resolved", int(r.start), int(r.end), {"unit": int(r.unit),
                                                                                "answers": r.answers}))
    ins = t.get("insights")
    if ins is not None:
        for r in ins.itertuples():
            if r.start >= since:
                out.append(Event("insight_raised", int(r.start), int(r.end), {"kind": r.kind, "title": r.title}))
    yield from sorted(out, key=lambda e: (e.start, EVENT_KINDS.index(e.kind)))


def _wanted(plugin: Any) -> tuple[str, ...]:
    """The event kinds ``plugin`` subscribes to (its ``subscribes``; default all)."""
    kinds = getattr(plugin, "subscribes", None)
    return EVENT_KINDS if kinds is None else ((kinds,) if isinstance(kinds, str) else tuple(kinds))


def publish_story(story: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Feed the story's new events to every plugin and collect their insights.

    Returns
    -------
    rows : list of dict
        Insight rows from the plugins (``system`` = plugin name).
    failed : dict
        Plugins disabled during this run, with the reason.
    """
    active = plugins()
    if not active:
        return [], {}
    since = int(story.uns.get("events_to", 0))
    seen = set(story.uns.get("plugins_seen", []))
    failed: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    events = list(_events(story, since))
    for name, plugin in active.items():
        try:
            if name not in seen:
                plugin.initialize(story)
                seen.add(name)
            wanted = set(_wanted(plugin))
            for ev in events:
                if ev.kind in wanted:
                    plugin.on_event(ev)
            found = plugin.insights(story)
            found = found.to_dict("records") if isinstance(found, pd.DataFrame) else list(found or [])
            for row in found:
                missing = {"kind", "title", "start", "end"} - set(row)
                if missing:
                    raise ValueError(f"insight without {sorted(missing)}: {row!r}")
                rows.append({"priority": "interesting", "severity": 0.5, "characters": [], "suggestion": "",
                             "message": "", **{k: v for k, v in row.items() if k in _COLUMNS},
                             "start": int(row["start"]), "end": int(row["end"]), "system": name})
        except Exception as exc:  # a failing plugin is switched off; the analysis goes on
            failed[name] = _DISABLED[name] = f"{type(exc).__name__}: {exc}"
            log.warning("plugin %s disabled: %s", name, failed[name])
    story.uns["events_to"] = len(story.text)
    story.uns["plugins_seen"] = sorted(seen)
    return rows, failed
