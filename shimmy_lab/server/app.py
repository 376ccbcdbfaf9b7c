"""``create_app(lab, settings)``: the FastAPI application.

All state lives on ``app.state`` (``lab``, ``settings``, ``pool`` of schedulers,
``metrics``, ``log``, ``store`` of stories, ``cache`` of analyses, ``resources`` (the
analysis level), ``tracing``, ``plugins`` (the narrative plugins whose routes, under
``/plugins/<name>``, and middleware are installed)), never in module globals, so two apps can run
in one process and an app started from a Jupyter kernel serves the kernel's own
:class:`Lab`. (Apps of one process whose ``store`` is the same folder share one
:class:`~shimmy_lab.server.store.FolderStore`: a folder has one owner. With ``redis`` set,
the stories are in Redis, shared by every server process that names it:
:class:`~shimmy_lab.server.store.RedisStore`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware

from .. import plugins
from .._version import __version__
from ..lab import Lab
from ..settings import LIVE_FIELDS, Settings, config_path
from ..trackers import systems
from .errors import PayloadTooLarge, error_body, install_error_handlers
from .limits import RATE_LIMIT_HEADERS, RateLimiter, RateLimitMiddleware, RedisBuckets
from .metrics import Metrics
from .cache import AnalysisCache
from .logs import request_id as request_id_var
from .narrative import StoryLocks, bad_story_path, replay_analysis
from .narrative import router as narrative_router
from .responses import router as responses_router
from .responses_store import open_responses
from .routes_openai import router
from .scheduler import SchedulerPool
from .resources import InsightHistory, ResourceManager, StoryMemory
from .store import open_store
from .tracing import Tracing

__all__ = ["create_app"]

PUBLIC_PATHS = frozenset({"/health", "/ready", "/metrics"})


def create_app(lab: Lab | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the OpenAI-compatible app.

    Parameters
    ----------
    lab : Lab, optional
        Registry and engines to serve (default: a new ``Lab`` built from ``settings``).
    settings : Settings, optional
        Default: :meth:`Settings.load` (environment and ``shimmy.toml``).

    Returns
    -------
    fastapi.FastAPI
    """
    settings = settings if settings is not None else Settings.load()
    if lab is None:
        lab = Lab(settings.model, max_loaded=settings.models_max_loaded, engine_kwargs=settings.engine_kwargs())

    app = FastAPI(title="shimmy-lab", version=__version__, lifespan=_lifespan,
                  docs_url="/docs", redoc_url=None)
    app.state.lab = lab
    app.state.settings = settings
    app.state.log = logging.getLogger("shimmy_lab.server")
    app.state.log.setLevel(settings.log_level.upper())
    app.state.metrics = Metrics(loaded_models=lambda: len(lab.loaded))
    app.state.pool = SchedulerPool(lab, lambda: app.state.settings, app.state.metrics)
    app.state.ready = False
    app.state.ready_error = None
    app.state.api_keys = settings.all_api_keys()
    app.state.story_locks = StoryLocks()
    app.state.story_versions = {}  # story id -> (the story in memory, the stored version it is)
    app.state.store = open_store(settings.store, redis=settings.redis, analyze=replay_analysis(app))
    _production_state(app)
    if settings.redis:
        app.state.log.info("stories are shared through %s", app.state.store.location)
    elif settings.store is not None:
        app.state.log.info("stories are saved in %s (%d stored)", settings.store, len(app.state.store.ids()))

    install_error_handlers(app)
    app.include_router(router)
    app.include_router(narrative_router)
    app.state.responses = open_responses(app.state.store)  # stored /v1/responses, next to the stories
    app.include_router(responses_router)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Process is alive (never waits for a model); the analysis level and the cache levels."""
        return {"status": "ok", "resources": app.state.resources.status(),
                "cache": {"levels": app.state.cache.levels, "analyses": app.state.cache.analyses}}

    @app.get("/ready")
    async def ready() -> Any:
        """200 once the default model is loaded, 503 before (or if loading failed)."""
        if app.state.ready:
            pool = app.state.pool
            return {"status": "ready", "models": [s.status() for s in pool.schedulers.values()]}
        msg = app.state.ready_error or "The default model is still loading."
        return JSONResponse(error_body(msg, type="server_error", code="not_ready"), status_code=503,
                            headers={"Retry-After": "1"})

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = app.state.metrics.render()
        return Response(body, media_type=content_type)

    _install_plugins(app)  # routes under /plugins/<name>, middleware inside the checks below
    # per-client rate limits ([limits]), inside the auth middleware; with Redis the buckets
    # are shared by the replicas (together they allow the limit, not twice it)
    app.state.limiter = RateLimiter(RedisBuckets(settings.redis) if settings.redis else None)
    app.add_middleware(RateLimitMiddleware, state=app.state, public_paths=PUBLIC_PATHS)
    app.add_middleware(ShimmyMiddleware, state=app.state)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["x-request-id", "retry-after", "retry-after-ms", *RATE_LIMIT_HEADERS])
    return app


def _install_plugins(app: Any) -> None:
    """Mount each narrative plugin's ``router`` under ``/plugins/<name>`` and add its
    ``middleware`` (classes or ``(class, options)`` pairs); ``app.state.plugins`` lists
    the plugins installed.  A plugin whose routes or middleware cannot be installed is
    left out, with the reason logged."""
    app.state.plugins = []
    for name, plugin in plugins.plugins().items():
        router, middleware = getattr(plugin, "router", None), getattr(plugin, "middleware", None) or ()
        if router is None and not middleware:
            continue
        try:
            pairs = [m if isinstance(m, tuple) else (m, {}) for m in middleware]
            bad = [m for m, options in pairs if not callable(m) or not isinstance(options, dict)]
            if bad:
                raise TypeError(f"middleware must be ASGI middleware classes or (class, options) pairs: {bad!r}")
            if router is not None:
                app.include_router(router, prefix=f"/plugins/{name}", tags=[f"plugin {name}"])
            for cls, options in pairs:
                app.add_middleware(cls, **options)
        except Exception as exc:  # one plugin must not keep the server from starting
            app.state.log.warning("plugin %s: routes or middleware not installed: %s", name, exc)
            continue
        app.state.plugins.append(name)


def _production_state(app: Any) -> None:
    """The resource manager, the analysis cache, the bounded histories and the tracing of an app."""
    state, metrics = app.state, app.state.metrics
    resources = state.settings.resources
    known = systems.names()  # the built-in ones and those of other packages
    unknown = sorted(set(resources.reduced_systems + resources.minimal_systems) - set(known))
    if unknown:
        raise ValueError(f"[resources] names unknown narrative systems {unknown}; known: {', '.join(known)}")
    state.resources = ResourceManager(lambda: app.state.settings, on_level=metrics.observe_level)
    state.cache = AnalysisCache.for_app(state.settings, state.store, metrics)
    state.story_memory = StoryMemory()
    state.insight_history = InsightHistory()
    state.tracing = Tracing(state.settings.tracing)
    metrics.watch_stories(lambda: len(state.lab.stories), lambda: len(state.store.ids()))
    metrics.level.set(-1)  # not sampled yet (a fixed level is known at once)
    if state.settings.resources.level != "auto":
        metrics.observe_level(state.settings.resources.level)


# ---------------------------------------------------------------------------- lifespan
@contextlib.asynccontextmanager
async def _lifespan(app: Any):
    tasks = [asyncio.ensure_future(_load_default(app)), asyncio.ensure_future(_sample_resources(app))]
    if app.state.settings.config_reload > 0:
        tasks.append(asyncio.ensure_future(_watch_config(app)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        app.state.pool.close()
        app.state.tracing.shutdown()
        app.state.cache.close()


async def _sample_resources(app: Any) -> None:
    """Keep the resource level (and its gauges) fresh between requests."""
    while True:
        await asyncio.sleep(max(0.5, app.state.settings.resources.interval))
        try:
            app.state.resources.level()
        except Exception:  # pragma: no cover - psutil failing must not end the server
            app.state.log.exception("sampling CPU and memory use failed")


async def _load_default(app: Any) -> None:
    try:
        await app.state.pool.get(None)
        app.state.ready = True
    except Exception as exc:  # reported by /ready
        app.state.ready_error = f"Loading the default model failed: {exc}"
        app.state.log.exception("loading the default model failed")


async def _watch_config(app: Any) -> None:
    """Reload the live settings (limits, log level, narrative) when the TOML file changes."""
    path = config_path(app.state.settings._overrides)
    if path is None:
        return
    last = _mtime(path)
    while True:
        await asyncio.sleep(app.state.settings.config_reload)
        now = _mtime(path)
        if now == last:
            continue
        last = now
        old = app.state.settings
        try:
            new = old.reload()
        except Exception as exc:
            app.state.log.warning("config %s not reloaded, keeping the old settings: %s", path, exc)
            continue
        live = old.model_copy(update={name: getattr(new, name) for name in LIVE_FIELDS})
        live._overrides, live._sources = old._overrides, new._sources
        app.state.settings = live
        app.state.log.setLevel(live.log_level.upper())
        app.state.log.info("config %s reloaded", path)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


# ---------------------------------------------------------------------------- middleware
class ShimmyMiddleware:
    """Request id (kept from an ``x-request-id`` header, else made; set for the logs), the request's
    trace span, API keys, story ids in paths, body size limit, metrics, the JSON access line,
    and OpenAI-shaped 500s.

    Pure ASGI (no buffering), so streamed responses pass straight through.
    """

    def __init__(self, app: Any, state: Any):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_request_id(scope) or "req_" + uuid.uuid4().hex[:20]
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)  # on every log record of this request (logs.RequestIdFilter)
        try:
            status: dict[str, Any] = {"code": 500, "started": False, "route": "unmatched"}
            with self.state.tracing.request(scope, rid) as span:
                await self._serve(scope, receive, send, rid, status)
                if span is not None:
                    _end_request_span(span, scope, status["code"], status["route"])
        finally:
            request_id_var.reset(token)

    async def _serve(self, scope, receive, send, rid: str, status: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        settings = self.state.settings

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            denied = self._check_auth(scope)
            if denied is not None:
                await _send_json(send_wrapper, 401, denied, {"WWW-Authenticate": "Bearer"})
                return
            bad_id = bad_story_path(scope)
            if bad_id is not None:  # before routing: an encoded slash would only make the route unknown
                await _send_json(send_wrapper, 400, bad_id.to_openai())
                return
            limit = settings.max_body_bytes
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                await _send_json(send_wrapper, 413, error_body(
                    f"Request body too large: {length} bytes, the limit is {limit} bytes.", code="request_too_large"))
                return
            await self.app(scope, _limited(receive, limit), send_wrapper)
        except Exception:
            self.state.log.exception("internal error (request %s %s %s)", rid, scope.get("method"), scope.get("path"))
            if not status["started"]:
                await _send_json(send_wrapper, 500, error_body(
                    f"The server had an error while processing your request (request id {rid}).",
                    type="server_error", code="internal_error"))
        finally:
            route = scope.get("route")
            name = status["route"] = getattr(route, "path", None) or "unmatched"
            seconds = time.perf_counter() - t0
            self.state.metrics.observe_request(name, scope.get("method", ""), status["code"], seconds)
            if settings.log_format == "json":
                _ACCESS.info("%s %s %s", scope.get("method"), scope.get("path"), status["code"], extra={"fields": {
                    "method": scope.get("method"), "path": scope.get("path"), "route": name,
                    "status": status["code"], "seconds": round(seconds, 6)}})

    def _check_auth(self, scope: dict[str, Any]) -> dict[str, Any] | None:
        keys = self.state.api_keys
        if not keys or scope.get("path") in PUBLIC_PATHS or scope.get("method") == "OPTIONS":
            return None
        auth = _header(scope, b"authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else (_header(scope, b"x-api-key") or "")
        if not token:
            return error_body("You didn't provide an API key. Provide it in the Authorization header "
                              "(Authorization: Bearer YOUR_KEY).", code="missing_api_key")
        if not any(hmac.compare_digest(token.encode(), k.encode()) for k in keys):
            return error_body("Incorrect API key provided.", code="invalid_api_key")
        return None


_ACCESS = logging.getLogger("shimmy_lab.server.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _incoming_request_id(scope: dict[str, Any]) -> str | None:
    """The client's (or the load balancer's) ``x-request-id``, kept when it is 1-128 plain characters."""
    value = _header(scope, b"x-request-id")
    return value if value is not None and _REQUEST_ID.fullmatch(value) else None


def _end_request_span(span: Any, scope: dict[str, Any], code: int, route: str) -> None:
    from opentelemetry.trace import Status, StatusCode  # optional extra [otel]

    span.update_name(f"{scope.get('method', '')} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", code)
    if code >= 500:
        span.set_status(Status(StatusCode.ERROR))


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _limited(receive: Any, limit: int) -> Any:
    seen = {"n": 0}

    async def wrapped() -> dict[str, Any]:
        message = await receive()
        if message["type"] == "http.request":
            seen["n"] += len(message.get("body", b""))
            if seen["n"] > limit:
                raise PayloadTooLarge(limit)
        return message

    return wrapped


async def _send_json(send: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": raw})
