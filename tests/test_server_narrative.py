"""Narrative-aware serving, end to end: the real server on 127.0.0.1, the bundled model,
the real ``openai`` client (``metadata`` / ``extra_body``) and raw HTTP."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

import shimmy_lab as sl
from openai_schema import validate_openai, validate_sse
from servers import openai_client, running

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
STORY = ("CHAPTER I\n\nKitty had blue eyes and lived in Bath. \"Where is the letter, Tom?\" asked Kitty.\n\n"
         "\"I burned it,\" said Tom. Kitty looked at the fire.\n\n"
         "CHAPTER II\n\nTom died in the winter. Kitty kept his old watch on the mantel.\n")


@pytest.fixture(scope="module")
def lab():
    lab = sl.Lab()
    lab.add_story(sl.analyze(sl.Story.from_text(STORY, title="Kitty")), "kitty")
    return lab


@pytest.fixture(scope="module")
def server(lab, tmp_path_factory):
    with running(lab, n_ctx=2048, store=str(tmp_path_factory.mktemp("stories"))) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server):
    return openai_client(server)


def root(server) -> str:
    return server.base_url.rsplit("/v1", 1)[0]


def test_story_routes(server, lab):
    base = root(server) + "/narrative/stories"
    r = httpx.post(base, json={"text": STORY, "title": "Second copy", "story_id": "copy"}, timeout=60)
    assert r.status_code == 201 and r.json()["id"] == "copy" and "copy" in lab.stories
    assert {s["id"] for s in httpx.get(base).json()["data"]} == {"kitty", "copy"}
    summary = httpx.get(base + "/kitty").json()
    assert summary["summary"]["chapters"] >= 2 and summary["summary"]["quotes"] == 2
    facts = httpx.get(base + "/kitty/tables/facts").json()["data"]
    assert any(f["attribute"] == "eye_colour" and f["value"] == "blue" for f in facts)
    for f in facts:
        assert STORY[f["start"]:f["end"]]
    # table rows are JSON objects named by today's columns (docs/architecture.md Glossary)
    eng = httpx.get(base + "/kitty/tables/engagement").json()["data"]
    assert eng and {"segment", "threads_opened", "open_threads"} <= set(eng[0]) and "index" not in eng[0]
    nodes = httpx.get(base + "/kitty/tables/constraint_nodes").json()["data"]
    assert nodes and all("node_id" in n and "node" not in n for n in nodes)
    ins = httpx.get(base + "/kitty/insights").json()
    assert ins["object"] == "list"
    ctx = httpx.get(base + "/kitty/context", params={"assertiveness": 1}).json()["context"]
    assert "Kitty" in ctx
    assert httpx.get(base + "/kitty/context", params={"assertiveness": 0}).json()["context"] == ""
    before = len(lab.stories["copy"].text)
    r = httpx.post(base + "/copy/append", json={"text": "\n\nKitty walked to the sea."}, timeout=60)
    assert r.status_code == 200 and len(lab.stories["copy"].text) > before and r.json()["stored"]
    r = httpx.post(base, json={"text": STORY, "story_id": "gone", "analyze": False}, timeout=60)
    assert httpx.delete(base + "/gone").json()["deleted"] is True and "gone" not in lab.stories
    assert httpx.delete(base + "/gone").status_code == 404


def test_drift_route_finds_injected_flaws(server):
    r = httpx.post(root(server) + "/narrative/stories/kitty/drift",
                   json={"text": "Kitty's eyes were green. \"I am back,\" said Tom, smiling at her."}, timeout=60)
    body = r.json()
    assert 0 <= body["drift_score"] <= 1
    kinds = {i["kind"] for i in body["insights"]}
    assert kinds & {"fact_contradiction", "dead_character_acts"}


def test_errors_are_openai_shaped(server):
    base = root(server) + "/narrative/stories"
    r = httpx.get(base + "/nope")
    assert r.status_code == 404
    err = validate_openai(r.json(), "ErrorResponse")["error"]
    assert err["code"] == "story_not_found" and "kitty" in err["message"]
    r = httpx.get(base + "/kitty/tables/nope")
    assert r.status_code == 400 and "facts" in r.json()["error"]["message"]
    r = httpx.post(base, json={"text": 5})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(server.base_url + "/chat/completions",
                   json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
                         "metadata": {"story_id": "missing"}})
    assert r.status_code == 404 and r.json()["error"]["code"] == "story_not_found"
    for where in ({"json": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
                            "metadata": {"story_id": "../kitty"}}},
                  {"json": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
                   "headers": {"X-Shimmy-Story": "a/b"}}):
        r = httpx.post(server.base_url + "/chat/completions", **where)
        err = validate_openai(r.json(), "ErrorResponse")["error"]
        assert r.status_code == 400 and (err["param"], err["code"]) == ("story_id", "invalid_story_id")
    r = httpx.get(base + "/..%2Fkitty")
    assert r.status_code == 400 and r.json()["error"]["param"] == "story_id"
    # a literal "../" (httpx would remove the dot segment before sending)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET /narrative/stories/../kitty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(200).startswith(b"HTTP/1.1 400")


def test_chat_with_story_carries_narrative(client):
    out = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Continue the story in one sentence."}],
        max_tokens=24, temperature=0, metadata={"story_id": "kitty"})
    assert out.choices[0].message.content
    nar = out.model_extra["narrative"]
    assert nar["story_id"] == "kitty" and 0 <= nar["drift_score"] <= 1 and nar["appended"] is False


def test_context_is_injected(server):
    """Same greedy request with and without the story: the story context changes the prompt."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Who is in the story?"}],
            "max_tokens": 4, "temperature": 0}
    plain = httpx.post(server.base_url + "/chat/completions", json=body, timeout=60).json()
    with_story = httpx.post(server.base_url + "/chat/completions", json=body, timeout=60,
                            headers={"X-Shimmy-Story": "kitty"}).json()
    assert with_story["usage"]["prompt_tokens"] > plain["usage"]["prompt_tokens"] + 5
    validate_openai({k: v for k, v in with_story.items() if k != "narrative"}, "CreateChatCompletionResponse")


def test_stabilize_best_of_n(client):
    out = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Continue the story."}], max_tokens=16,
        temperature=0.9, seed=4, metadata={"story_id": "kitty", "stabilize": "3"})
    nar = out.model_extra["narrative"]
    assert len(out.choices) == 1 and len(nar["candidates"]) == 3
    assert nar["drift_score"] == min(c["drift_score"] for c in nar["candidates"])


def test_stream_narrative_rides_on_last_chunk(server, lab):
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Continue the story."}], "max_tokens": 12,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True},
            "metadata": {"story_id": "copy", "append": "true"}}
    before = len(lab.stories["copy"].text)
    raw = httpx.post(server.base_url + "/chat/completions", json=body, timeout=60).text
    events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    assert raw.rstrip().endswith("data: [DONE]")
    assert "narrative" in events[-1] and all("narrative" not in e for e in events[:-1])
    assert events[-1]["usage"]["completion_tokens"] > 0 and events[-1]["narrative"]["appended"] is True
    validate_sse(raw)  # every chunk is still a valid OpenAI chunk
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert lab.stories["copy"].text[before:].strip() == text.strip()
    assert sl.Story.load(server.app.state.store.root / "copy").text == lab.stories["copy"].text  # saved too


def test_openai_stream_client_unchanged(client):
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Continue."}], max_tokens=8, stream=True,
        extra_body={"metadata": {"story_id": "kitty", "stabilize": "2"}})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text


def test_visualize_page(server):
    r = httpx.get(root(server) + "/narrative/visualize/kitty", timeout=60)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<!DOCTYPE html>" in r.text[:200] and "Plotly" in r.text
