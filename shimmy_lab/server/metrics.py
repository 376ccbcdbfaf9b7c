"""Prometheus metrics, one :class:`CollectorRegistry` per app (two apps never share state)."""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The server's metrics.

    Attributes
    ----------
    registry : prometheus_client.CollectorRegistry
        This app's own registry (rendered by ``GET /metrics``).
    """

    def __init__(self, loaded_models: Callable[[], int] | None = None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """``(body, content_type)`` in the Prometheus text format."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def __getitem__(self, name: str) -> Any:  # convenience for tests
        return getattr(self, name)
