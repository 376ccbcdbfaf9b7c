"""OpenTelemetry traces of the server (off unless ``[tracing] otlp_endpoint`` is set).

Each app has its own :class:`Tracing` (``app.state.tracing``) with its own
``TracerProvider`` (the global provider is never set, so two apps in one process, or a
notebook's own tracing, do not mix). The middleware opens one span per request
(``request``: kind SERVER, ``http.request.method``, ``http.route``, ``url.path``,
``http.response.status_code``, ``shimmy.request_id``); code inside the request opens
child spans with :func:`span`, which finds the request's tracing in a context variable
and is a no-op when tracing is off or outside a request::

    with span("narrative.context", **{"shimmy.story_id": story_id}):
        ...

Child spans of the server: ``narrative.context`` (context building), ``generation``
(the engine's run: ``gen_ai.request.model``, ``gen_ai.usage.input_tokens`` /
``output_tokens``), ``narrative.drift`` (drift scoring), ``narrative.append`` and
``narrative.analysis`` (``shimmy.narrative.systems``, ``shimmy.narrative.level``,
``shimmy.cache.source``). The OTLP exporter
(``opentelemetry-exporter-otlp-proto-http``) is imported only when an endpoint is set;
``opentelemetry-sdk`` is the ``otel`` extra. Tests pass an exporter
(``InMemorySpanExporter``) instead of an endpoint.
"""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from typing import Any, Callable, Iterator

from .._version import __version__

__all__ = ["Tracing", "span", "set_attributes", "current", "generation_observer"]

_current: contextvars.ContextVar["Tracing | None"] = contextvars.ContextVar("shimmy_tracing", default=None)


def _attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """OpenTelemetry attribute values: str, bool, int, float or lists of them; None dropped."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            out[key] = [v if isinstance(v, (str, bool, int, float)) else str(v) for v in value]
        elif isinstance(value, (str, bool, int, float)):
            out[key] = value
        else:
            out[key] = str(value)
    return out


class Tracing:
    """The traces of one app.

    Parameters
    ----------
    settings : TracingSettings, optional
        ``otlp_endpoint`` (None: off unless ``exporter`` is given), ``service_name``, ``sample_ratio``.
    exporter : SpanExporter, optional
        Where spans go, exported as each ends (e.g. ``InMemorySpanExporter`` in tests); with
        only an endpoint, an OTLP/HTTP exporter behind a batch processor.
    """

    def __init__(self, settings: Any = None, exporter: Any = None):
        endpoint = getattr(settings, "otlp_endpoint", None)
        self.enabled = exporter is not None or bool(endpoint)
        self.provider = self.tracer = None
        if not self.enabled:
            return
        try:
            # optional extra [otel]
            import opentelemetry.sdk  # noqa: F401
        except ImportError as exc:
            raise RuntimeError("[tracing] otlp_endpoint is set but opentelemetry-sdk is not installed: "
                               "pip install 'shimmy-lab[otel]'") from exc
        # optional extra [otel]
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

        resource = Resource.create({"service.name": getattr(settings, "service_name", "shimmy-lab"),
                                    "service.version": __version__})
        ratio = float(getattr(settings, "sample_ratio", 1.0))
        self.provider = TracerProvider(resource=resource, sampler=ParentBasedTraceIdRatio(ratio))
        if exporter is not None:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            # optional extra [otel]
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        self.tracer = self.provider.get_tracer("shimmy_lab.server")

    @contextlib.contextmanager
    def request(self, scope: dict[str, Any], request_id: str) -> Iterator[Any]:
        """The span of one HTTP request (made current; :func:`span` opens children under it)."""
        if not self.enabled:
            yield None
            return
        from opentelemetry.trace import SpanKind  # optional extra [otel]

        token = _current.set(self)
        attrs = {"http.request.method": scope.get("method"), "url.path": scope.get("path"),
                 "shimmy.request_id": request_id}
        try:
            with self.tracer.start_as_current_span(f"{scope.get('method', '')} {scope.get('path', '')}",
                                                   kind=SpanKind.SERVER, attributes=_attributes(attrs)) as s:
                yield s
        finally:
            _current.reset(token)

    def shutdown(self) -> None:
        """Flush and stop the exporter."""
        if self.provider is not None:
            self.provider.shutdown()


def current() -> Tracing | None:
    """The tracing of the request being served, or None."""
    return _current.get()


@contextlib.contextmanager
def span(name: str, **attrs: Any) -> Iterator[Any]:
    """A child span of the current request (attributes from ``attrs``; None values dropped).

    A no-op (yields None) when tracing is off or outside a request. Attribute names with
    dots are passed as ``**{"gen_ai.request.model": m}``.
    """
    tracing = _current.get()
    if tracing is None or not tracing.enabled:
        yield None
        return
    with tracing.tracer.start_as_current_span(name, attributes=_attributes(attrs)) as s:
        yield s


def set_attributes(**attrs: Any) -> None:
    """Set attributes on the current span (no-op when tracing is off)."""
    if _current.get() is None:
        return
    from opentelemetry import trace  # optional extra [otel]

    current_span = trace.get_current_span()
    if current_span.is_recording():
        current_span.set_attributes(_attributes(attrs))


def generation_observer(observe: Callable[[dict[str, Any]], None], model: str) -> Callable[[dict[str, Any]], None]:
    """``observe`` (a function that sees each chunk of a generation) that also records a
    ``generation`` span, a child of the current request's span: ``gen_ai.request.model``,
    an event at the first token, and ``gen_ai.usage.input_tokens`` / ``output_tokens``
    from the usage chunk, where the span ends (or when the observer is dropped: a client
    that left). The model and the token counts are also set on the request's span.
    Returns ``observe`` itself when tracing is off."""
    tracing = _current.get()
    if tracing is None or not tracing.enabled:
        return observe
    from opentelemetry import trace  # optional extra [otel]

    request_span = trace.get_current_span()  # the request's: it gets the model and the tokens too
    request_span.set_attribute("gen_ai.request.model", model)
    current_span = tracing.tracer.start_span("generation", attributes={"gen_ai.request.model": model,
                                                                       "gen_ai.operation.name": "chat"})
    state = {"first": True}

    def observed(chunk: dict[str, Any]) -> None:
        observe(chunk)
        choices = chunk.get("choices") or ()
        if state["first"] and any((c.get("delta") or {}).get("content") or c.get("text") for c in choices):
            state["first"] = False
            current_span.add_event("first_token")
        use = chunk.get("usage")
        if use and not chunk.get("choices") and current_span.is_recording():
            tokens = {"gen_ai.usage.input_tokens": int(use.get("prompt_tokens", 0)),
                      "gen_ai.usage.output_tokens": int(use.get("completion_tokens", 0))}
            current_span.set_attributes(tokens)
            current_span.end()
            if request_span.is_recording():
                request_span.set_attributes(tokens)

    weakref.finalize(observed, lambda: current_span.is_recording() and current_span.end())
    return observed
