"""Prometheus metrics, one :class:`CollectorRegistry` per app (two apps never share state)."""

from __future__ import annotations

from typing import Any, Callable

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_ANALYSIS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)
_DRIFT_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: the resource level as a number (the gauge ``shimmy_resource_level``)
LEVEL_NUMBERS = {"minimal": 0, "reduced": 1, "normal": 2, "maximum": 3}


class Metrics:
    """The server's metrics.

    Attributes
    ----------
    registry : prometheus_client.CollectorRegistry
        This app's own registry (rendered by ``GET /metrics``).
    """

    def __init__(self, loaded_models: Callable[[], int] | None = None):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("shimmy_requests", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("shimmy_request_duration_seconds", "Time from request to the end of the response.",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("shimmy_time_to_first_token_seconds", "Time from request to the first generated token.",
                              ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("shimmy_tokens_generated", "Completion tokens generated.", ["model"], registry=r)
        self.prompt_tokens = Counter("shimmy_prompt_tokens", "Prompt tokens processed.", ["model"], registry=r)
        self.queue_depth = Gauge("shimmy_queue_depth", "Requests waiting for a slot.", ["model"], registry=r)
        self.slots_busy = Gauge("shimmy_slots_busy", "Slots generating right now.", ["model"], registry=r)
        self.slots = Gauge("shimmy_slots", "Slots (llama.cpp contexts) per model.", ["model"], registry=r)
        self.rejected = Counter("shimmy_rejected", "Requests rejected by the scheduler.", ["model", "reason"],
                                registry=r)
        self.loaded = Gauge("shimmy_models_loaded", "Models loaded in the lab.", registry=r)
        self.rate_limited = Counter("shimmy_rate_limited", "Requests refused by the per-client rate limits, "
                                    "by the limit hit (requests or tokens).", ["kind"], registry=r)
        if loaded_models is not None:
            self.loaded.set_function(lambda: float(loaded_models()))
        self._narrative_metrics(r)

    def _narrative_metrics(self, r: Any) -> None:
        self.analysis_seconds = Histogram("shimmy_analysis_seconds", "Seconds of one narrative system in an analysis "
                                          "(cache misses only).", ["system"], buckets=_ANALYSIS_BUCKETS, registry=r)
        self.insights = Counter("shimmy_insights_raised", "Insights raised, by kind and source (analysis: new "
                                "in a story after a create or an append; drift: in a drift report).",
                                ["kind", "source"], registry=r)
        self.drift = Histogram("shimmy_drift_score", "Drift score of the text served to a request that names a "
                               "story (0: in keeping, 1: departs).", buckets=_DRIFT_BUCKETS, registry=r)
        self.stories = Gauge("shimmy_stories", "Stories in memory and in the store.", ["where"], registry=r)
        self.cache = Counter("shimmy_analysis_cache", "Analysis cache lookups by level (l1 memory, l2 store "
                             "folder, l3 Redis) and result (hit, miss).", ["level", "result"], registry=r)
        self.level = Gauge("shimmy_resource_level", "Analysis intensity level: 0 minimal, 1 reduced, 2 normal, "
                           "3 maximum.", registry=r)
        self.cpu = Gauge("shimmy_resource_cpu_percent", "Machine CPU use at the last resource sample.", registry=r)
        self.memory = Gauge("shimmy_resource_memory_percent", "Machine memory use at the last resource sample.",
                            registry=r)

    def watch_stories(self, in_memory: Callable[[], int], in_store: Callable[[], int]) -> None:
        """Read the two story gauges at each scrape (``in_store`` may fail: then NaN)."""
        self.stories.labels("memory").set_function(lambda: float(in_memory()))
        self.stories.labels("store").set_function(lambda: _or_nan(in_store))

    def observe_cache(self, level: str, hit: bool) -> None:
        self.cache.labels(level, "hit" if hit else "miss").inc()

    def observe_analysis(self, seconds: dict[str, float]) -> None:
        for system, value in (seconds or {}).items():
            self.analysis_seconds.labels(system).observe(float(value))

    def observe_insights(self, kinds: Any, source: str) -> None:
        for kind in kinds:
            self.insights.labels(str(kind), source).inc()

    def observe_level(self, level: str, usage: Any = None) -> None:
        self.level.set(LEVEL_NUMBERS.get(level, -1))
        if usage is not None:
            self.cpu.set(usage.cpu)
            self.memory.set(usage.memory)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """``(body, content_type)`` in the Prometheus text format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def __getitem__(self, name: str) -> Any:  # convenience for tests
        return getattr(self, name)


def _or_nan(read: Callable[[], int]) -> float:
    try:
        return float(read())
    except Exception:  # the store is unavailable (Redis down): unknown, not a failed scrape
        return float("nan")
