"""Per-client rate limits: token buckets, 429s and x-ratelimit headers (fake engine, injected clock)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from fake_engine import fake_lab
from openai_schema import validate_openai
from shimmy_lab.server.app import create_app
from shimmy_lab.server.limits import (MemoryBuckets, RateLimiter, Want, client_id, estimate_tokens,
                                      format_reset, refill)
from shimmy_lab.server.run import serve
from shimmy_lab.settings import LimitSettings, Settings

MSG = [{"role": "user", "content": "Tell me about the fox."}]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(clock: Clock | None = None, address: str = "10.0.0.1", **settings) -> TestClient:
    settings.setdefault("config_reload", 0)
    app = create_app(fake_lab(), Settings.load(store="none", **settings))
    if clock is not None:
        app.state.limiter = RateLimiter(MemoryBuckets(clock))
    return TestClient(app, raise_server_exceptions=False, client=(address, 50000))


def other_address(client: TestClient, address: str) -> TestClient:
    """A second client of the same app, from another address."""
    return TestClient(client.app, raise_server_exceptions=False, client=(address, 50000))


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------------------- buckets
def test_refill_is_linear_and_capped():
    assert refill(0, 0, 30, 60) == 30
    assert refill(10, 0, 6, 600) == 70
    assert refill(50, 0, 1000, 60) == 60
    assert refill(5, 10, 9, 60) == 5  # a clock that goes back refills nothing


def test_bucket_takes_refills_and_waits():
    clock = Clock()
    buckets = MemoryBuckets(clock)
    want = Want("requests", 3, 1)
    got = [run(buckets.take("a", [want]))[0] for _ in range(4)]
    assert [q.allowed for q in got] == [True, True, True, False]
    assert [q.remaining for q in got] == [2, 1, 0, 0]
    assert got[3].wait == pytest.approx(20.0)  # 3 per minute: one every 20 s
    assert got[2].reset == pytest.approx(60.0)
    clock.now += 19.9
    assert not run(buckets.take("a", [want]))[0].allowed
    clock.now += 0.1
    assert run(buckets.take("a", [want]))[0].allowed


def test_buckets_are_taken_together_or_not_at_all():
    clock = Clock()
    buckets = MemoryBuckets(clock)
    wants = [Want("requests", 10, 1), Want("tokens", 100, 80)]
    assert all(q.allowed for q in run(buckets.take("a", wants)))
    refused = run(buckets.take("a", wants))
    assert not any(q.allowed for q in refused)
    assert [q.level for q in refused] == [9, 20]  # nothing taken from the requests bucket
    assert refused[1].wait == pytest.approx(36.0)  # 60 tokens missing at 100 per minute
    too_big = run(buckets.take("a", [Want("tokens", 100, 101)]))[0]
    assert not too_big.allowed and too_big.wait == float("inf")


def test_give_settles_below_zero_but_never_above_the_limit():
    clock = Clock()
    buckets = MemoryBuckets(clock)
    want = Want("tokens", 100, 50)
    run(buckets.take("a", [want]))
    run(buckets.give("a", Want("tokens", 100, -70)))  # the answer used 120, not 50
    q = run(buckets.take("a", [Want("tokens", 100, 0)]))[0]
    assert q.level == -20 and q.allowed  # a cost of 0 always fits
    assert not run(buckets.take("a", [Want("tokens", 100, 1)]))[0].allowed
    run(buckets.give("a", Want("tokens", 100, 500)))
    assert run(buckets.take("a", [Want("tokens", 100, 0)]))[0].level == 100


def test_clients_have_their_own_buckets():
    buckets = MemoryBuckets(Clock())
    want = [Want("requests", 1, 1)]
    assert run(buckets.take("a", want))[0].allowed
    assert not run(buckets.take("a", want))[0].allowed
    assert run(buckets.take("b", want))[0].allowed


def test_client_id_by_key_or_address():
    scope = {"client": ("1.2.3.4", 5), "headers": [(b"authorization", b"Bearer secret")]}
    assert client_id(scope, keyed=False) == "addr:1.2.3.4"
    key = client_id(scope, keyed=True)
    assert key.startswith("key:") and "secret" not in key
    other = {"client": ("1.2.3.4", 5), "headers": [(b"x-api-key", b"other")]}
    assert client_id(other, keyed=True) not in (key, "addr:1.2.3.4")


def test_estimate_and_reset_format():
    assert estimate_tokens({"messages": [{"role": "user", "content": [{"type": "text", "text": "abcdefgh"}]}],
                            "max_completion_tokens": 5}) == (2, 5)
    assert estimate_tokens({"prompt": ["abcd", "efgh"], "max_tokens": 3, "n": 2}) == (2, 12)
    assert estimate_tokens({"prompt": [1, 2, 3]}) == (3, 0)
    assert estimate_tokens({"input": ["abcde", [7, 8]]}) == (4, 0)
    assert estimate_tokens([1, 2]) == (0, 0) and estimate_tokens({"max_tokens": "many"}) == (0, 0)
    assert [format_reset(s) for s in (0, 0.0004, 0.25, 1, 1.146, 59.9999, 60, 90.5, 3725)] == \
        ["0s", "0s", "250ms", "1s", "1.146s", "1m0s", "1m0s", "1m30.5s", "1h2m5s"]


# ---------------------------------------------------------------------------- through the app
def chat(client: TestClient, headers: dict[str, str] | None = None, **kwargs):
    return client.post("/v1/chat/completions", json={"messages": MSG, "max_tokens": 4, **kwargs}, headers=headers)


def test_no_limits_by_default():
    with make_client() as c:
        r = chat(c)
        assert r.status_code == 200
        assert not [h for h in r.headers if h.startswith("x-ratelimit")]
        assert Settings.load().limits == LimitSettings()


def test_requests_limit_429_body_and_headers():
    clock = Clock()
    with make_client(clock, limits_requests_per_minute=2) as c:
        first = chat(c)
        assert first.status_code == 200
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert first.headers["x-ratelimit-reset-requests"] == "30s"
        assert "x-ratelimit-limit-tokens" not in first.headers  # no tokens limit set
        assert c.get("/v1/models").headers["x-ratelimit-remaining-requests"] == "0"  # every /v1 route counts
        r = chat(c)
        assert r.status_code == 429
        err = validate_openai(r.json(), "ErrorResponse")["error"]
        assert (err["type"], err["code"], err["param"]) == ("requests", "rate_limit_exceeded", None)
        assert err["message"].startswith("Rate limit reached for client 10.0.0.1 on requests per min (RPM): "
                                         "Limit 2, Used 2, Requested 1. Please try again in 30s.")
        assert r.headers["retry-after"] == "30" and r.headers["retry-after-ms"] == "30000"
        assert r.headers["x-ratelimit-remaining-requests"] == "0"
        assert r.headers["x-request-id"].startswith("req_")
        clock.now += 30
        assert chat(c).status_code == 200
        metrics = c.get("/metrics").text
        assert 'shimmy_rate_limited_total{kind="requests"} 1.0' in metrics
        assert 'status="429"' in metrics


def test_public_paths_are_never_limited():
    with make_client(Clock(), limits_requests_per_minute=1, api_keys=["k1"]) as c:
        for _ in range(5):
            for path in ("/health", "/metrics"):
                r = c.get(path)
                assert r.status_code == 200 and "x-ratelimit-limit-requests" not in r.headers
            assert c.get("/ready").status_code in (200, 503)
        assert c.options("/v1/models").status_code != 429  # a CORS preflight is not a request


def test_narrative_routes_count_as_requests():
    with make_client(Clock(), limits_requests_per_minute=2) as c:
        assert c.get("/narrative/stories").status_code == 200
        assert c.get("/narrative/stories").headers["x-ratelimit-remaining-requests"] == "0"
        assert c.get("/narrative/stories").status_code == 429


def test_per_address_and_per_key_buckets():
    clock = Clock()
    with make_client(clock, limits_requests_per_minute=1) as a:
        b = other_address(a, "10.0.0.2")
        assert chat(a).status_code == 200 and chat(a).status_code == 429
        assert chat(b).status_code == 200
    with make_client(clock, limits_requests_per_minute=1, api_keys=["k1", "k2"]) as c:
        k1, k2 = {"Authorization": "Bearer k1"}, {"Authorization": "Bearer k2"}
        assert chat(c, headers=k1).status_code == 200
        r = chat(c, headers=k1)
        assert r.status_code == 429 and "this API key" in r.json()["error"]["message"]
        assert "k1" not in r.text
        assert chat(other_address(c, "10.9.9.9"), headers=k1).status_code == 429  # a key is one client anywhere
        assert chat(c, headers=k2).status_code == 200
        assert c.get("/v1/models").status_code == 401  # auth comes first, and costs nothing


def test_tokens_limit_admission_and_settlement():
    clock = Clock()
    with make_client(clock, limits_tokens_per_minute=100) as c:
        # estimate: ceil(22 chars / 4) + 40 = 46; the fake engine uses fewer
        r = chat(c, max_tokens=40)
        assert r.status_code == 200
        used = r.json()["usage"]["total_tokens"]
        assert r.headers["x-ratelimit-remaining-tokens"] == "54"  # the admission charge
        assert r.headers["x-ratelimit-limit-tokens"] == "100"
        probe = c.get("/v1/models")  # settled with the real usage; no tokens taken here
        assert probe.headers["x-ratelimit-remaining-tokens"] == str(100 - used)
        assert "x-ratelimit-limit-requests" not in probe.headers
        r = chat(c, max_tokens=90)
        assert r.status_code == 429
        err = r.json()["error"]
        assert (err["type"], err["code"]) == ("tokens", "rate_limit_exceeded")
        assert "on tokens per min (TPM): Limit 100" in err["message"] and "Requested 96" in err["message"]
        assert int(r.headers["retry-after"]) >= 1
        huge = chat(c, max_tokens=500)
        assert huge.status_code == 429 and huge.headers["x-should-retry"] == "false"
        assert "retry-after" not in huge.headers and huge.json()["error"]["message"].startswith("Request too large")
        assert 'shimmy_rate_limited_total{kind="tokens"} 2.0' in c.get("/metrics").text


def test_tokens_settle_for_streams_and_errors():
    clock = Clock()
    with make_client(clock, limits_tokens_per_minute=1000) as c:
        def remaining() -> int:
            return int(c.get("/v1/models").headers["x-ratelimit-remaining-tokens"])

        with c.stream("POST", "/v1/chat/completions", json={"messages": MSG, "max_tokens": 5, "stream": True}) as r:
            body = "".join(r.iter_text())
        deltas = body.count('"content":"') - body.count('"content":""')
        assert 1 <= deltas <= 5
        assert remaining() == 1000 - (6 + deltas)  # the prompt estimate + one token per delta, no usage chunk
        clock.now += 60
        with c.stream("POST", "/v1/chat/completions", json={"messages": MSG, "max_tokens": 5, "stream": True,
                                                            "stream_options": {"include_usage": True}}) as r:
            events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
        assert remaining() == 1000 - events[-1]["usage"]["total_tokens"]
        clock.now += 60
        assert chat(c, max_tokens=5, temperature=3).status_code == 400
        assert remaining() == 1000  # an error uses no tokens
        emb = c.post("/v1/embeddings", json={"input": "the fox"})
        assert emb.status_code == 200
        assert remaining() == 1000 - emb.json()["usage"]["total_tokens"]


def test_body_too_large_still_answers_413_with_a_tokens_limit():
    with make_client(Clock(), limits_tokens_per_minute=1000, max_body_bytes=200) as c:
        def chunks():  # no content-length: the size is found while the limiter reads the body
            raw = json.dumps({"messages": [{"role": "user", "content": "x" * 500}]}).encode()
            yield raw[:100]
            yield raw[100:]

        r = c.post("/v1/chat/completions", content=chunks())
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_openai_client_sees_rate_limit_error():
    clock = Clock()
    with make_client(clock, limits_requests_per_minute=1, api_keys=["k1"]) as c:
        client = openai.OpenAI(base_url="http://testserver/v1", api_key="k1", http_client=c, max_retries=0)
        ok = client.chat.completions.with_raw_response.create(model="fake-model", messages=MSG, max_tokens=3)
        assert ok.headers["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(openai.RateLimitError) as exc:
            client.chat.completions.create(model="fake-model", messages=MSG, max_tokens=3)
        assert exc.value.status_code == 429
        assert exc.value.code == "rate_limit_exceeded" and exc.value.type == "requests"
        assert exc.value.response.headers["retry-after"] == "60"


def test_limits_from_toml_and_env(tmp_path, monkeypatch):
    cfg = tmp_path / "shimmy.toml"
    cfg.write_text("[limits]\nrequests_per_minute = 60\n")
    monkeypatch.setenv("SHIMMY_LIMITS_TOKENS_PER_MINUTE", "5000")
    s = Settings.load(config=cfg)
    assert (s.limits.requests_per_minute, s.limits.tokens_per_minute) == (60, 5000)
    assert s.sources()["limits.tokens_per_minute"] == "env"
    with pytest.raises(ValueError):
        Settings.load(limits_requests_per_minute=-1)


def test_limits_reload_live(tmp_path):
    cfg = tmp_path / "shimmy.toml"
    cfg.write_text("[limits]\nrequests_per_minute = 1\n")
    handle = serve(lab=fake_lab(), background=True, config=str(cfg), port=0, config_reload=0.05, store="none")
    try:
        handle.wait_ready(10)
        state = handle.app.state
        url = handle.url + "/v1/models"
        assert httpx.get(url).status_code == 200 and httpx.get(url).status_code == 429
        time.sleep(0.05)
        cfg.write_text("[limits]\nrequests_per_minute = 0\n")
        deadline = time.time() + 3
        while state.settings.limits.requests_per_minute != 0 and time.time() < deadline:
            time.sleep(0.02)
        r = httpx.get(url)
        assert r.status_code == 200 and "x-ratelimit-limit-requests" not in r.headers
        cfg.write_text("[limits]\nrequests_per_minute = 1000\n")
        while state.settings.limits.requests_per_minute != 1000 and time.time() < deadline + 3:
            time.sleep(0.02)
        assert httpx.get(url).headers["x-ratelimit-limit-requests"] == "1000"
    finally:
        handle.stop()


def test_apps_sharing_one_bucket_store_share_the_limit():
    """What a Redis store gives replicas: two apps on one store together allow the limit, not twice it."""
    clock = Clock()
    shared = RateLimiter(MemoryBuckets(clock))
    with make_client(limits_requests_per_minute=3) as a, make_client(limits_requests_per_minute=3) as b:
        a.app.state.limiter = b.app.state.limiter = shared
        codes = [c.get("/v1/models").status_code for c in (a, b, a, b, a, b)]
        assert codes == [200, 200, 200, 429, 429, 429]


def test_replicas_on_one_redis_share_the_limit(tmp_path):
    """Two apps configured with the same real Redis (``--redis``) allow the limit together;
    the buckets are gone once they would be full again; Redis down lets requests through."""
    from test_server_redis import REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed and could not be (make redis)")
    import redis

    server = RedisServer(tmp_path)
    server.start()
    try:
        with make_client(limits_requests_per_minute=3, redis=server.url) as a, \
                make_client(limits_requests_per_minute=3, redis=server.url) as b:
            assert type(a.app.state.limiter.store).__name__ == "RedisBuckets"
            r = [c.get("/v1/models") for c in (a, b, a, b, a)]
            assert [x.status_code for x in r] == [200, 200, 200, 429, 429]
            assert r[2].headers["x-ratelimit-remaining-requests"] == "0"
            assert r[3].json()["error"]["code"] == "rate_limit_exceeded"
            keys = redis.Redis.from_url(server.url).keys("shimmy:rl:*")
            assert len(keys) == 1 and redis.Redis.from_url(server.url).pttl(keys[0]) > 0
            server.kill()
            assert a.get("/v1/models").status_code == 200  # fails open, logged
    finally:
        server.kill()
