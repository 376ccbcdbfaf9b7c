"""The resource manager: how much narrative analysis the server runs, from CPU and memory use.

Four analysis intensity levels (:data:`~shimmy_lab.settings.LEVELS`), lowest first:

==========  ====================================================  ==========================
level       narrative systems run on an append                    model stage of voice_drift
==========  ====================================================  ==========================
maximum     every enabled system                                  yes (if a voice model is set)
normal      every enabled system                                  no (lexical check)
reduced     ``[resources] reduced_systems`` (characters, drift,   no
            dna, engagement)
minimal     ``[resources] minimal_systems`` (characters)           no
==========  ====================================================  ==========================

The level is the lower of the CPU level and the memory level; each is the highest level
whose ``*_below`` threshold the use (percent of the machine, from ``psutil``) is strictly
under: CPU 49.9 % is ``maximum``, 50.0 % is ``normal`` with the default thresholds
(50 / 85 / 95 for CPU, 60 / 80 / 90 for memory). ``[resources] level`` may fix a level
instead of ``auto``. A created story is analysed with every enabled system at any level
(only the model stage follows the level): the first analysis is the one its insights
come from; appends are where a busy server saves time.

>>> from shimmy_lab.settings import ResourceSettings
>>> level_for(Usage(cpu=49.9, memory=10.0), ResourceSettings())
'maximum'
>>> level_for(Usage(cpu=50.0, memory=10.0), ResourceSettings())
'normal'
>>> level_for(Usage(cpu=10.0, memory=95.0), ResourceSettings())
'minimal'
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import psutil

from ..settings import LEVELS

__all__ = ["Usage", "Plan", "ResourceManager", "PsutilMonitor", "psutil_monitor", "level_for", "plan_for", "LEVELS",
           "StoryMemory", "InsightHistory"]


class Usage(NamedTuple):
    """CPU and memory use of the machine, in percent."""

    cpu: float
    memory: float


@dataclass(frozen=True)
class Plan:
    """What one analysis runs: the level, the systems (None: every enabled one), the voice model."""

    level: str
    systems: tuple[str, ...] | None
    voice_model: Any


class PsutilMonitor:
    """The machine's CPU use since the previous call (from ``psutil.cpu_times``, kept per
    monitor, so two apps in one process do not reset each other's sample) and its memory use."""

    def __init__(self) -> None:
        self._psutil = psutil
        self._last = psutil.cpu_times()

    def __call__(self) -> Usage:
        now = self._psutil.cpu_times()
        last, self._last = self._last, now
        total = sum(now) - sum(last)
        idle = (now.idle - last.idle) + (getattr(now, "iowait", 0.0) - getattr(last, "iowait", 0.0))
        cpu = 0.0 if total <= 0 else min(100.0, max(0.0, 100.0 * (total - idle) / total))
        return Usage(cpu, float(self._psutil.virtual_memory().percent))


def psutil_monitor() -> Callable[[], Usage]:
    """A new :class:`PsutilMonitor` (the default monitor of a :class:`ResourceManager`)."""
    return PsutilMonitor()


def _level(value: float, maximum: float, normal: float, reduced: float) -> int:
    if value < maximum:
        return 3
    if value < normal:
        return 2
    if value < reduced:
        return 1
    return 0


def level_for(usage: Usage, resources: Any) -> str:
    """The level for ``usage`` under the ``[resources]`` thresholds (strictly below a threshold)."""
    r = resources
    cpu = _level(usage.cpu, r.cpu_maximum_below, r.cpu_normal_below, r.cpu_reduced_below)
    memory = _level(usage.memory, r.memory_maximum_below, r.memory_normal_below, r.memory_reduced_below)
    return LEVELS[min(cpu, memory)]


def plan_for(level: str, settings: Any, append: bool = True) -> Plan:
    """The systems and the voice model of an analysis at ``level`` (``append=False``: a create,
    which runs every enabled system at any level)."""
    from ..assistant import enabled_systems, resolve_voice_model  # lazy: keeps this module's import light

    voice = resolve_voice_model(None, settings) if level == "maximum" else "none"
    if not append or level in ("normal", "maximum"):
        return Plan(level, None, voice)
    wanted = settings.resources.reduced_systems if level == "reduced" else settings.resources.minimal_systems
    enabled = enabled_systems(None, settings)
    return Plan(level, tuple(s for s in enabled if s in set(wanted)), voice)


class ResourceManager:
    """Chooses the analysis level of a server (one per app, ``app.state.resources``).

    Parameters
    ----------
    settings : callable
        Returns the current :class:`~shimmy_lab.settings.Settings` (read at every sample,
        so a reloaded ``[resources]`` applies at once).
    monitor : callable, optional
        Returns a :class:`Usage`; default :func:`psutil_monitor`. Tests inject their own.
    clock : callable
        Seconds (monotonic); a new sample is taken when ``[resources] interval`` has passed.
    on_level : callable, optional
        Called with ``(level, usage)`` after each sample (the metrics gauges).
    """

    def __init__(self, settings: Callable[[], Any], monitor: Callable[[], Usage] | None = None,
                 clock: Callable[[], float] = time.monotonic, on_level: Callable[[str, Usage], None] | None = None):
        self._settings, self._monitor = settings, monitor or psutil_monitor()
        self._clock, self._on_level = clock, on_level
        self._guard = threading.Lock()
        self._sampled_at: float | None = None
        self.usage: Usage | None = None
        self._auto = "normal"
        self._reported: str | None = None

    def level(self) -> str:
        """The current level (a fixed ``[resources] level``, else from a sample at most ``interval`` s old)."""
        resources = self._settings().resources
        if resources.level != "auto":
            if resources.level != self._reported and self._on_level is not None:
                self._on_level(resources.level, None)
            self._reported = resources.level
            return resources.level
        with self._guard:
            now = self._clock()
            if self._sampled_at is None or now - self._sampled_at >= resources.interval:
                self._sampled_at = now
                self.usage = self._monitor()
                self._auto = self._reported = level_for(self.usage, resources)
                if self._on_level is not None:
                    self._on_level(self._auto, self.usage)
            return self._auto

    def plan(self, append: bool = True) -> Plan:
        """The :class:`Plan` of an analysis now (see :func:`plan_for`)."""
        return plan_for(self.level(), self._settings(), append=append)

    def status(self) -> dict[str, Any]:
        """``{"level", "mode", "cpu_percent", "memory_percent"}`` (shown by ``/health``)."""
        level = self.level()
        usage = self.usage
        return {"level": level, "mode": self._settings().resources.level,
                "cpu_percent": None if usage is None else round(usage.cpu, 1),
                "memory_percent": None if usage is None else round(usage.memory, 1)}


class StoryMemory:
    """The order in which stories were last used, to keep at most ``[resources] max_stories``
    stored stories in memory: the least recently used leave memory (the store keeps them).

    Only stories the store holds are ever evicted: a story attached in a notebook and not
    stored stays. ``evict(story_id)`` is the app's way of taking a story out of memory,
    and returns False when it cannot now (the story is busy).
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._used: OrderedDict[str, None] = OrderedDict()

    def touch(self, story_id: str) -> None:
        with self._guard:
            self._used[story_id] = None
            self._used.move_to_end(story_id)

    def forget(self, story_id: str) -> None:
        with self._guard:
            self._used.pop(story_id, None)

    def trim(self, in_memory: Any, stored: Callable[[str], bool], cap: int,
             evict: Callable[[str], bool]) -> list[str]:
        """Evict least recently used stored stories until at most ``cap`` stored ones are in
        ``in_memory`` (a mapping); returns the evicted ids. ``cap`` 0 means no cap."""
        if cap <= 0:
            return []
        with self._guard:
            order = [sid for sid in self._used if sid in in_memory]
        held = [sid for sid in order if stored(sid)]
        out = []
        for sid in held[:max(0, len(held) - cap)]:
            if evict(sid):
                out.append(sid)
                self.forget(sid)
        return out


class InsightHistory:
    """The insights raised by each story's appends, the newest ``[resources] insight_history`` per story."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._stories: dict[str, deque] = {}

    def add(self, story_id: str, rows: list[dict[str, Any]], cap: int) -> None:
        with self._guard:
            old = self._stories.get(story_id)
            if old is None or old.maxlen != cap:
                old = self._stories[story_id] = deque(old or (), maxlen=cap)
            old.extend(rows)

    def get(self, story_id: str) -> list[dict[str, Any]]:
        with self._guard:
            return list(self._stories.get(story_id, ()))

    def drop(self, story_id: str) -> None:
        with self._guard:
            self._stories.pop(story_id, None)
