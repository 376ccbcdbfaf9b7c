"""Per-client rate limits: requests and tokens per minute, as token buckets.

A client is its API key when the server has keys (``key:`` and a hash of the key, never
the key itself), else its address (``addr:HOST``). Each client has two buckets, one per
kind (``requests``, ``tokens``), holding at most the limit per minute and refilling at
limit / 60 per second; a limit of 0 means no bucket and no limit (the default).

:class:`RateLimitMiddleware` (pure ASGI, inside the auth middleware) limits every path
except the public ones (``/health``, ``/ready``, ``/metrics``) and CORS preflights:
the ``/v1`` routes, ``/tokenize``, ``/detokenize`` and the ``/narrative`` routes (a
story append costs analysis time). A request takes 1 from the ``requests`` bucket. A
generation or embedding request (:data:`TOKEN_ROUTES`) also takes its estimated tokens at
admission, ``ceil(characters of the prompt / 4) + max_tokens * n`` (OpenAI's own
admission rule: the prompt from its characters, plus the completion asked for), and is
settled after the response with the real count: the ``usage`` of the answer, or for a
stream without a usage chunk the prompt estimate plus one token per streamed delta; an
error answer uses no tokens. Settling can leave a bucket below zero (the client waits
longer), never above its limit.

Both buckets are taken together or not at all. Over a limit the answer is a 429 with
``Retry-After`` (and ``retry-after-ms``), the OpenAI error body (``type`` ``requests``
or ``tokens``, ``code`` ``rate_limit_exceeded``); a request larger than the whole
tokens-per-minute limit gets a 429 with ``x-should-retry: false``. Every limited
response carries the ``x-ratelimit-limit-*``, ``x-ratelimit-remaining-*`` and
``x-ratelimit-reset-*`` headers of each kind that has a limit.

The buckets live behind :class:`BucketStore`; :class:`MemoryBuckets` keeps them in this
process. A store shared by replicas (Redis) implements the same two coroutines
atomically on the server (see :class:`BucketStore`) and is set as
``app.state.limiter = RateLimiter(store)``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from .errors import RateLimitError

log = logging.getLogger(__name__)

__all__ = ["Want", "Quota", "BucketStore", "MemoryBuckets", "RateLimiter", "RateLimitMiddleware",
           "refill", "client_id", "estimate_tokens", "format_reset", "TOKEN_ROUTES"]

#: Routes whose requests also take tokens (POST only).
TOKEN_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings"})
#: Characters per token of the admission estimate.
CHARS_PER_TOKEN = 4
#: Largest response body read to settle the tokens of a non-streamed answer.
_MAX_SETTLE_BYTES = 8 * 1024 * 1024
_KIND_LABELS = {"requests": "requests per min (RPM)", "tokens": "tokens per min (TPM)"}


# ---------------------------------------------------------------------------- buckets
@dataclass(frozen=True)
class Want:
    """What one request asks of one bucket: ``kind`` (``requests`` / ``tokens``), the
    limit per minute (> 0) and the cost."""

    kind: str
    per_minute: int
    cost: float

    def fits(self, level: float) -> bool:
        """Whether a bucket at ``level`` holds the cost (a cost of 0 always fits)."""
        return self.cost <= 0 or level >= self.cost


@dataclass(frozen=True)
class Quota:
    """The state of one bucket after a :meth:`BucketStore.take`.

    Attributes
    ----------
    kind, per_minute, cost : as in :class:`Want`
    level : float
        What the bucket holds now (after the take, if allowed).
    allowed : bool
        Whether every bucket of the take held its cost (then all were taken).
    wait : float
        Seconds until this bucket holds the cost (0 if it does now, ``inf`` if the cost
        is larger than the limit).
    """

    kind: str
    per_minute: int
    cost: float
    level: float
    allowed: bool
    wait: float

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.level))

    @property
    def reset(self) -> float:
        """Seconds until the bucket is full again."""
        return max(0.0, (self.per_minute - self.level) * 60.0 / self.per_minute)


def refill(level: float, stamp: float, now: float, per_minute: int) -> float:
    """The level of a bucket last seen at ``(level, stamp)``, refilled until ``now``."""
    return min(float(per_minute), level + max(0.0, now - stamp) * per_minute / 60.0)


class BucketStore(Protocol):
    """Where the buckets live. Both coroutines must be atomic per client.

    A Redis store (shared by replicas, so two replicas together allow the limit, not
    twice it) keeps one hash ``shimmy:rl:{client}:{kind}`` with fields ``level`` and
    ``stamp`` and runs each call as one Lua script (``EVALSHA``) that reads the clock
    with ``TIME`` (one clock for every replica), does what :class:`MemoryBuckets` does,
    and sets ``PEXPIRE`` to the time the bucket needs to fill (a full bucket is the
    same as no key). ``{client}`` in braces keeps a client's keys in one cluster slot.
    """

    async def take(self, client: str, wants: Sequence[Want]) -> list[Quota]:
        """Refill the client's buckets; if each holds its cost take every cost, else none."""

    async def give(self, client: str, want: Want) -> None:
        """Add ``want.cost`` back (a negative cost takes more; the level may go below 0)."""


class MemoryBuckets:
    """The buckets of this process (a dict guarded by a lock).

    Parameters
    ----------
    clock : callable, optional
        Seconds, monotonic (default ``time.monotonic``); tests inject their own.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._calls = 0

    async def take(self, client: str, wants: Sequence[Want]) -> list[Quota]:
        with self._lock:
            now = self.clock()
            levels = [self._level(client, w, now) for w in wants]
            allowed = all(w.fits(level) for level, w in zip(levels, wants))
            out = []
            for level, w in zip(levels, wants):
                after = level - w.cost if allowed else level
                self._buckets[(client, w.kind)] = (after, now)
                out.append(Quota(w.kind, w.per_minute, w.cost, after, allowed, _wait(level, w)))
            self._prune(now)
            return out

    async def give(self, client: str, want: Want) -> None:
        with self._lock:
            now = self.clock()
            level = self._level(client, want, now) + want.cost
            self._buckets[(client, want.kind)] = (min(level, float(want.per_minute)), now)

    def _level(self, client: str, want: Want, now: float) -> float:
        level, stamp = self._buckets.get((client, want.kind), (float(want.per_minute), now))
        return refill(level, stamp, now, want.per_minute)

    def _prune(self, now: float, every: int = 1024, idle: float = 3600.0) -> None:
        """Forget buckets not touched for an hour (full again for any limit per minute)."""
        self._calls += 1
        if self._calls % every:
            return
        for key in [k for k, (_, stamp) in self._buckets.items() if now - stamp > idle]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


#: one take for every bucket of a request, atomically, on the Redis server's clock:
#: KEYS = one hash per bucket, ARGV = per_minute, cost per bucket; returns
#: [allowed, level before, level after, ...] (numbers as strings: Lua would truncate them)
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels, allowed = {}, 1
for i = 1, #KEYS do
  local pm, cost = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local h = redis.call('HMGET', KEYS[i], 'level', 'stamp')
  local level = pm
  if h[1] then level = math.min(pm, tonumber(h[1]) + math.max(0, now - tonumber(h[2])) * pm / 60) end
  levels[i] = level
  if cost > 0 and level < cost then allowed = 0 end
end
local out = {tostring(allowed)}
for i = 1, #KEYS do
  local pm, cost = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local after = levels[i]
  if allowed == 1 then after = after - cost end
  redis.call('HSET', KEYS[i], 'level', tostring(after), 'stamp', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(math.max(0, pm - after) * 60000 / pm) + 1000)
  table.insert(out, tostring(levels[i]))
  table.insert(out, tostring(after))
end
return out
"""

#: give a cost back (or take more, when negative): KEYS[1], ARGV = per_minute, cost
_GIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local pm, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'level', 'stamp')
local level = pm
if h[1] then level = math.min(pm, tonumber(h[1]) + math.max(0, now - tonumber(h[2])) * pm / 60) end
level = math.min(pm, level + cost)
redis.call('HSET', KEYS[1], 'level', tostring(level), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(0, pm - level) * 60000 / pm) + 1000)
return tostring(level)
"""


class RedisBuckets:
    """The buckets in Redis, shared by every replica that names the same server: two
    replicas together allow the limit, not twice it.

    One hash ``shimmy:rl:{client}:{kind}`` per bucket (``level``, ``stamp``), changed by one
    Lua script per call on the Redis server's clock, expiring once the bucket would be full
    again.  When Redis cannot be reached the request is let through (logged): a rate limit
    must not take the API down with it.

    Parameters
    ----------
    url
        ``redis://`` URL (the ``redis`` setting).
    """

    def __init__(self, url: str):
        import redis  # lazy: redis, only with a redis:// URL

        self.redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._take = self.redis.register_script(_TAKE)
        self._give = self.redis.register_script(_GIVE)
        self._errors = redis.RedisError

    @staticmethod
    def key(client: str, kind: str) -> str:
        return f"shimmy:rl:{{{client}}}:{kind}"

    async def take(self, client: str, wants: Sequence[Want]) -> list[Quota]:
        keys = [self.key(client, w.kind) for w in wants]
        args = [x for w in wants for x in (w.per_minute, w.cost)]
        try:
            res = [r.decode() if isinstance(r, bytes) else str(r) for r in self._take(keys=keys, args=args)]
        except self._errors as exc:
            log.warning("rate limits: Redis unavailable, request let through: %s", exc)
            return [Quota(w.kind, w.per_minute, w.cost, float(w.per_minute), True, 0.0) for w in wants]
        allowed = res[0] == "1"
        return [Quota(w.kind, w.per_minute, w.cost, float(res[2 + 2 * i]), allowed,
                      _wait(float(res[1 + 2 * i]), w)) for i, w in enumerate(wants)]

    async def give(self, client: str, want: Want) -> None:
        try:
            self._give(keys=[self.key(client, want.kind)], args=[want.per_minute, want.cost])
        except self._errors as exc:
            log.warning("rate limits: Redis unavailable, usage not settled: %s", exc)


def _wait(level: float, want: Want) -> float:
    if want.cost > want.per_minute:
        return math.inf
    return max(0.0, (want.cost - level) * 60.0 / want.per_minute)


# ---------------------------------------------------------------------------- limiter
class RateLimiter:
    """The limits of one app: the :class:`BucketStore` and the admission of a request.

    Parameters
    ----------
    store : BucketStore, optional
        Default: :class:`MemoryBuckets` (this process only).
    """

    def __init__(self, store: BucketStore | None = None):
        self.store = store if store is not None else MemoryBuckets()

    async def admit(self, client: str, limits: Any, tokens: int) -> list[Quota]:
        """Take 1 request and ``tokens`` tokens under ``limits`` (the ``[limits]`` settings);
        ``[]`` when no limit is set."""
        wants = self.wants(limits, tokens)
        return await self.store.take(client, wants) if wants else []

    @staticmethod
    def wants(limits: Any, tokens: int) -> list[Want]:
        out = []
        if limits.requests_per_minute:
            out.append(Want("requests", limits.requests_per_minute, 1))
        if limits.tokens_per_minute:
            out.append(Want("tokens", limits.tokens_per_minute, tokens))
        return out

    async def settle(self, client: str, limits: Any, charged: int, used: int) -> None:
        """Give back ``charged - used`` tokens (take more when the answer used more)."""
        if limits.tokens_per_minute and used != charged:
            await self.store.give(client, Want("tokens", limits.tokens_per_minute, charged - used))


def rate_limit_error(quotas: Sequence[Quota], who: str) -> RateLimitError | None:
    """The error of a refused take (the first kind that did not hold its cost), else None."""
    for q in quotas:
        if q.allowed or Want(q.kind, q.per_minute, q.cost).fits(q.level):
            continue
        label = _KIND_LABELS.get(q.kind, q.kind)
        if math.isinf(q.wait):
            return RateLimitError(
                f"Request too large for {who} on {label}: Limit {q.per_minute}, Requested {q.cost:g}. "
                f"The input or output tokens must be reduced in order to run successfully.", q.kind, None)
        used = max(0, math.ceil(q.per_minute - q.level))
        return RateLimitError(
            f"Rate limit reached for {who} on {label}: Limit {q.per_minute}, Used {used}, Requested {q.cost:g}. "
            f"Please try again in {format_reset(q.wait)}.", q.kind, q.wait)
    return None



#: the rate-limit headers a response may carry (exposed to browsers by the CORS settings)
RATE_LIMIT_HEADERS = tuple(f"x-ratelimit-{part}-{kind}" for part in ("limit", "remaining", "reset")
                           for kind in ("requests", "tokens"))


def quota_headers(quotas: Sequence[Quota]) -> dict[str, str]:
    """``x-ratelimit-{limit,remaining,reset}-{kind}`` for each limited kind."""
    out = {}
    for q in quotas:
        out[f"x-ratelimit-limit-{q.kind}"] = str(q.per_minute)
        out[f"x-ratelimit-remaining-{q.kind}"] = str(q.remaining)
        out[f"x-ratelimit-reset-{q.kind}"] = format_reset(q.reset)
    return out


def format_reset(seconds: float) -> str:
    """A duration as OpenAI writes it (Go's style): ``"17ms"``, ``"1.5s"``, ``"6m0s"``.

    >>> format_reset(0.0171), format_reset(1.5), format_reset(360), format_reset(0)
    ('17ms', '1.5s', '6m0s', '0s')
    """
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


# ---------------------------------------------------------------------------- requests
def client_id(scope: dict[str, Any], keyed: bool) -> str:
    """The client of a request: ``key:<hash>`` of its API key when ``keyed``, else ``addr:<host>``."""
    if keyed:
        token = _api_key(scope)
        if token:
            return "key:" + hashlib.sha256(token.encode()).hexdigest()[:24]
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


def _api_key(scope: dict[str, Any]) -> str:
    auth = _header(scope, b"authorization") or ""
    return auth[7:].strip() if auth[:7].lower() == "bearer " else (_header(scope, b"x-api-key") or "")


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def estimate_tokens(body: Any) -> tuple[int, int]:
    """Admission estimate of a generation or embedding request body (parsed JSON).

    Returns
    -------
    (prompt, completion) : tuple of int
        ``ceil(characters of messages / prompt / input / 4)`` (token-id prompts count
        their ids), and ``max_tokens`` (or ``max_completion_tokens``) times ``n`` per prompt.

    >>> estimate_tokens({"messages": [{"role": "user", "content": "12345678"}], "max_tokens": 10, "n": 2})
    (2, 20)
    """
    if not isinstance(body, dict):
        return 0, 0
    chars, ids = _count(body.get("messages")), 0
    prompts = body.get("prompt", body.get("input"))
    if isinstance(prompts, list) and prompts and isinstance(prompts[0], int):
        ids, n_prompts = len(prompts), 1
    elif isinstance(prompts, list):
        n_prompts = max(1, len(prompts))
        for p in prompts:
            if isinstance(p, list):
                ids += len(p)
            else:
                chars += _count(p)
    else:
        n_prompts = 1
        chars += _count(prompts)
    completion = body.get("max_tokens") or body.get("max_completion_tokens") or 0
    n = body.get("n") or 1
    if not isinstance(completion, int) or not isinstance(n, int):
        completion, n = 0, 1
    return math.ceil(chars / CHARS_PER_TOKEN) + ids, max(0, completion) * max(1, n) * n_prompts


def _count(value: Any) -> int:
    """Characters of the text in a message list, a content part list or a string."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_count(v) for v in value)
    if isinstance(value, dict):
        return _count(value.get("content")) + _count(value.get("text"))
    return 0


# ---------------------------------------------------------------------------- middleware
class RateLimitMiddleware:
    """Applies the ``[limits]`` settings of ``state.settings`` with ``state.limiter``.

    Read per request, so a reloaded ``shimmy.toml`` applies at once; with no limit set
    a request passes untouched (no body buffering, no headers).
    """

    def __init__(self, app: Any, state: Any, public_paths: frozenset[str] = frozenset()):
        self.app = app
        self.state = state
        self.public_paths = public_paths

    async def __call__(self, scope, receive, send) -> None:
        limits = getattr(self.state.settings, "limits", None)
        if (scope["type"] != "http" or limits is None
                or not (limits.requests_per_minute or limits.tokens_per_minute)
                or scope.get("path") in self.public_paths or scope.get("method") == "OPTIONS"):
            await self.app(scope, receive, send)
            return
        client = client_id(scope, bool(self.state.api_keys))
        counts_tokens = scope.get("method") == "POST" and scope.get("path") in TOKEN_ROUTES
        prompt = tokens = 0
        if counts_tokens and limits.tokens_per_minute:
            receive, body = await _buffered(receive)
            prompt, completion = estimate_tokens(body)
            tokens = prompt + completion
        limiter = self.state.limiter
        quotas = await limiter.admit(client, limits, tokens)
        error = rate_limit_error(quotas, "this API key" if client.startswith("key:") else f"client {client[5:]}")
        headers = quota_headers(quotas)
        if error is not None:
            self.state.metrics.rate_limited.labels(error.type).inc()
            await _send_error(send, error, headers)
            return
        usage = _Usage(prompt)
        send = _with_headers(send, headers, usage if tokens else None)
        try:
            await self.app(scope, receive, send)
        finally:
            if tokens:
                await limiter.settle(client, limits, tokens, usage.used())


async def _buffered(receive: Any) -> tuple[Any, Any]:
    """Read the whole body; return a ``receive`` that replays it, and the parsed JSON (or None).

    An error while reading (a body over ``max_body_bytes``) is raised again by the
    replay, inside the app, where the error handlers answer it.
    """
    messages: list[dict[str, Any]] = []
    failure: BaseException | None = None
    try:
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
    except Exception as exc:
        failure = exc
    replay = list(messages)

    async def replayed() -> dict[str, Any]:
        if replay:
            return replay.pop(0)
        if failure is not None:
            raise failure
        return await receive()

    if failure is not None:
        return replayed, None
    raw = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
    try:
        return replayed, json.loads(raw)
    except ValueError:
        return replayed, None


class _Usage:
    """The tokens an answer used, read from its body as it is sent."""

    def __init__(self, prompt_estimate: int):
        self.status = 0
        self.stream = False
        self.body = bytearray()
        self.total: int | None = None
        self.deltas = 0
        self.prompt_estimate = prompt_estimate

    def start(self, message: dict[str, Any]) -> None:
        self.status = message["status"]
        ctype = dict(message.get("headers") or ()).get(b"content-type", b"")
        self.stream = ctype.startswith(b"text/event-stream")

    def feed(self, chunk: bytes) -> None:
        if self.status >= 400 or not chunk:
            return
        if self.stream:
            for line in chunk.split(b"\n"):
                if line.startswith(b"data: {"):
                    self._event(line[6:])
        elif len(self.body) + len(chunk) <= _MAX_SETTLE_BYTES:
            self.body += chunk

    def _event(self, raw: bytes) -> None:
        try:
            obj = json.loads(raw)
        except ValueError:
            return
        if obj.get("usage"):
            self.total = int(obj["usage"].get("total_tokens", 0))
        for choice in obj.get("choices") or ():
            if (choice.get("delta") or {}).get("content") or choice.get("text"):
                self.deltas += 1

    def used(self) -> int:
        """The real count: usage if seen, else the prompt estimate plus the streamed deltas."""
        if self.status == 0 or self.status >= 400:
            return 0
        if not self.stream and self.body:
            try:
                usage = json.loads(bytes(self.body)).get("usage") or {}
                self.total = int(usage.get("total_tokens", 0)) if usage else self.total
            except (ValueError, AttributeError):
                pass
        if self.total is not None:
            return self.total
        return self.prompt_estimate + self.deltas if self.stream else self.prompt_estimate


def _with_headers(send: Any, headers: dict[str, str], usage: _Usage | None) -> Any:
    extra = [(k.encode(), v.encode()) for k, v in headers.items()]

    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = list(message.get("headers") or ()) + extra
            if usage is not None:
                usage.start(message)
        elif message["type"] == "http.response.body" and usage is not None:
            usage.feed(message.get("body", b""))
        await send(message)

    return wrapped


async def _send_error(send: Any, error: RateLimitError, headers: dict[str, str]) -> None:
    hdrs = dict(headers)
    if error.wait is None:
        hdrs["x-should-retry"] = "false"
    else:
        hdrs["Retry-After"] = str(error.retry_after)
        hdrs["retry-after-ms"] = str(max(1, math.ceil(error.wait * 1000)))
    raw = json.dumps(error.to_openai()).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    out += [(k.lower().encode(), v.encode()) for k, v in hdrs.items()]
    await send({"type": "http.response.start", "status": 429, "headers": out})
    await send({"type": "http.response.body", "body": raw})
