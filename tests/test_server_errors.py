"""Every error the server sends is an OpenAI error object (fake engine, in-process)."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from fake_engine import FAKE_ID, FakeEngine, fake_lab
from openai_schema import validate_openai
from shimmy_lab.server.app import create_app
from shimmy_lab.settings import Settings

MSG = [{"role": "user", "content": "hi"}]


def make_client(**settings) -> TestClient:
    settings.setdefault("config_reload", 0)
    app = create_app(fake_lab(), Settings.load(**settings))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture()
def client():
    with make_client() as c:
        yield c


def err(resp, status: int, code=..., param=...):
    assert resp.status_code == status, resp.text
    body = validate_openai(resp.json(), "ErrorResponse")
    assert set(body["error"]) == {"message", "type", "param", "code"}
    if code is not ...:
        assert body["error"]["code"] == code, body
    if param is not ...:
        assert body["error"]["param"] == param, body
    return body["error"]


@pytest.mark.parametrize("raw, param", [
    (b"{not json", None),
    (b"[1, 2]", None),
    (b'{"model": "fake-model"}', "messages"),
    (b'{"messages": []}', "messages"),
    (b'{"messages": [{"role": "wizard", "content": "x"}]}', "messages[0].role"),
    (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}', "max_tokens"),
    (b'{"messages": [{"role": "user", "content": "x"}], "stream": 1}', "stream"),
    (b'{"messages": [{"role": "user", "content": "x"}], "temperature": 3}', "temperature"),
    (b'{"messages": [{"role": "user", "content": "x"}], "n": 0}', "n"),
    (b'{"messages": [{"role": "user", "content": "x"}], "stop": ["a","b","c","d","e"]}', "stop"),
    (b'{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}', "top_logprobs"),
    (b'{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}}',
     "response_format.type"),
])
def test_bad_requests_are_400(client, raw, param):
    e = err(client.post("/v1/chat/completions", content=raw), 400, param=param)
    assert e["type"] == "invalid_request_error"
    if raw.startswith(b"{not"):
        assert "parse the JSON" in e["message"]


def test_unknown_fields_are_ignored_and_json_needs_no_content_type(client):
    body = {"messages": MSG, "max_tokens": 3, "frobnicate": True, "tools": [], "metadata": {"k": "v"}, "user": "u"}
    r = client.post("/v1/chat/completions", content=json.dumps(body), headers={"content-type": "text/plain"})
    assert r.status_code == 200, r.text
    validate_openai(r.json(), "CreateChatCompletionResponse")


def test_context_length_exceeded_has_the_numbers(client):
    e = err(client.post("/v1/chat/completions", json={"messages": MSG, "max_tokens": 100000}), 400,
            code="context_length_exceeded")
    assert "512" in e["message"] and "100000" in e["message"]


def test_max_prompt_tokens_setting():
    with make_client(max_prompt_tokens=5) as c:
        e = err(c.post("/v1/completions", json={"prompt": "a long prompt", "max_tokens": 2}), 400,
                code="context_length_exceeded", param="prompt")
        assert "at most 5 tokens" in e["message"]
        assert c.post("/v1/completions", json={"prompt": "ab", "max_tokens": 2}).status_code == 200


def test_unknown_model_404_lists_available(client):
    e = err(client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": MSG}), 404,
            code="model_not_found", param="model")
    assert FAKE_ID in e["message"]
    err(client.get("/v1/models/gpt-4o"), 404, code="model_not_found")


def test_unknown_route_and_method(client):
    err(client.get("/v1/nothing"), 404, code="unknown_url")
    err(client.post("/v2/chat/completions", json={}), 404)
    err(client.get("/v1/chat/completions"), 405, code="method_not_allowed")
    err(client.delete("/v1/models"), 405)


def test_api_keys(tmp_path):
    keyfile = tmp_path / "keys"
    keyfile.write_text("# keys\nfrom-file\n")
    with make_client(api_keys=["k1"], api_key_file=str(keyfile)) as c:
        err(c.get("/v1/models"), 401, code="missing_api_key")
        e = err(c.get("/v1/models", headers={"Authorization": "Bearer nope"}), 401, code="invalid_api_key")
        assert "nope" not in e["message"]
        err(c.get("/v1/unknown"), 401)  # auth comes before routing
        assert c.get("/v1/models", headers={"Authorization": "Bearer k1"}).status_code == 200
        assert c.get("/v1/models", headers={"Authorization": "Bearer from-file"}).status_code == 200
        assert c.get("/health").status_code == 200  # public
        assert c.get("/metrics").status_code == 200


def test_body_too_large():
    with make_client(max_body_bytes=200) as c:
        big = json.dumps({"messages": [{"role": "user", "content": "x" * 500}]})
        err(c.post("/v1/chat/completions", content=big), 413, code="request_too_large")

        def chunks():  # no content-length: counted while reading
            yield big[:100].encode()
            yield big[100:].encode()

        err(c.post("/v1/chat/completions", content=chunks()), 413, code="request_too_large")


def test_unsupported_parameters(client):
    err(client.post("/v1/completions", json={"prompt": "a", "suffix": "b"}), 400, code="unsupported_parameter")
    err(client.post("/v1/embeddings", json={"input": "a", "dimensions": 8}), 400, code="unsupported_parameter")
    err(client.post("/v1/embeddings", json={"input": ""}), 400, param="input")
    err(client.post("/tokenize", json={}), 400, code="missing_required_parameter")


def test_internal_error_is_500_with_request_id(client, monkeypatch, caplog):
    def boom(self, *a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(FakeEngine, "embed", boom)
    r = client.post("/v1/embeddings", json={"input": "a"})
    e = err(r, 500, code="internal_error")
    rid = r.headers["x-request-id"]
    assert e["type"] == "server_error" and rid in e["message"] and "kaboom" not in e["message"]
    assert any(rid in rec.getMessage() for rec in caplog.records)


def test_queue_full_is_429_and_timeout_is_503():
    """One slot, queue of 1: a third request is refused at once, with Retry-After."""
    from shimmy_lab.server.errors import OverloadedError, QueueFullError
    from shimmy_lab.server.scheduler import ModelScheduler

    async def scenario():
        lab = fake_lab()
        sched = await ModelScheduler(lab, FAKE_ID, slots=1, queue_size=1, queue_timeout=0.3).start()
        sched.engines[0].delay = 0.01

        async def run():
            eng_iter = sched.stream(lambda eng: eng.chat(MSG, stream=True, max_tokens=60))
            return [c async for c in eng_iter]

        first = asyncio.ensure_future(run())
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(run())  # waits in the queue
        await asyncio.sleep(0.02)
        with pytest.raises(QueueFullError) as full:
            await run()
        assert full.value.status == 429 and full.value.retry_after >= 1
        with pytest.raises(OverloadedError) as slow:  # the queued one waits longer than 0.3 s
            await second
        assert slow.value.status == 503
        assert len(await first) > 60
        sched.close()

    asyncio.run(scenario())


def test_http_429_shape(monkeypatch):
    with make_client(queue_size=0) as c:
        c.get("/ready")
        from shimmy_lab.server.errors import QueueFullError

        async def full(self):
            raise QueueFullError(FAKE_ID, 0, retry_after=2)

        monkeypatch.setattr("shimmy_lab.server.scheduler.ModelScheduler._acquire", full)
        r = c.post("/v1/chat/completions", json={"messages": MSG})
        err(r, 429, code="queue_full")
        assert r.headers["retry-after"] == "2"


def test_cors_off_by_default_and_configurable():
    pre = {"Origin": "http://app.example", "Access-Control-Request-Method": "POST"}
    with make_client() as c:
        r = c.get("/health", headers={"Origin": "http://app.example"})
        assert "access-control-allow-origin" not in r.headers
    with make_client(cors_origins=["http://app.example"], api_keys=["k"]) as c:
        r = c.options("/v1/chat/completions", headers=pre)  # preflight needs no key
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://app.example"
        r = c.get("/v1/models", headers={"Origin": "http://app.example"})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "http://app.example"
