"""The Responses API (``/v1/responses``) and narrative on completions and responses.

Fast part: the app over the fake engine (errors, items, pagination, the stores).
End to end: the real server on 127.0.0.1 with the bundled model, driven by the real
``openai`` client (``responses.create``, ``.stream``, ``.parse``, ``previous_response_id``,
retrieve / delete / input_items) and raw HTTP; every body and every stream event is
validated against the official schemas (``Response``, ``ResponseStreamEvent``,
``ResponseItemList``).
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

import shimmy_lab as sl
from fake_engine import fake_lab
from openai_schema import validate_openai
from servers import openai_client, running
from shimmy_lab.server.app import create_app
from shimmy_lab.server.responses_store import FolderResponses, MemoryResponses, open_responses
from shimmy_lab.settings import Settings

openai = pytest.importorskip("openai")

MODEL = "smollm2-135m-instruct"
STORY = ("CHAPTER I\n\nKitty had blue eyes and lived in Bath. \"Where is the letter, Tom?\" asked Kitty.\n\n"
         "\"I burned it,\" said Tom. Kitty looked at the fire.\n")


def events_of(text: str) -> list[dict]:
    """The events of a Responses SSE body (``event:`` + ``data:``), each checked against the schema."""
    out = []
    for block in (b for b in text.split("\n\n") if b.strip()):
        lines = block.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block[:200]
        event = json.loads(lines[1][len("data: "):])
        assert event["type"] == lines[0][len("event: "):]
        out.append(validate_openai(event, "ResponseStreamEvent"))
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    return out


# ---------------------------------------------------------------------------- fake engine (fast)
@pytest.fixture()
def fake():
    app = create_app(fake_lab(), Settings.load())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def err(resp, status: int, param: str | None, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    body = validate_openai(resp.json(), "ErrorResponse")["error"]
    assert body["param"] == param, body
    if code is not None:
        assert body["code"] == code, body
    return body


def test_items_instructions_and_continuation(fake):
    first = fake.post("/v1/responses", json={"input": "Hi", "instructions": "Be brief.", "max_output_tokens": 20,
                                             "metadata": {"k": "v"}, "user": "u1", "service_tier": "flex",
                                             "truncation": "auto", "include": ["x"], "reasoning": {"effort": "low"}})
    body = validate_openai(first.json(), "Response")
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["content"][0]["text"] == "Once upon a time the"
    assert body["usage"]["output_tokens"] == 20 and body["metadata"] == {"k": "v"}
    items = [{"role": "assistant", "content": "Earlier."}, {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": "More"}]},
             {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
             {"type": "function_call_output", "call_id": "call_1", "output": "42"}]
    second = fake.post("/v1/responses", json={"input": items, "previous_response_id": body["id"],
                                              "max_output_tokens": 5, "store": True})
    validate_openai(second.json(), "Response")
    listed = fake.get(f"/v1/responses/{second.json()['id']}/input_items", params={"order": "asc"}).json()
    validate_openai(listed, "ResponseItemList")
    assert [(i["type"], i.get("role")) for i in listed["data"]] == [
        ("message", "user"), ("message", "assistant"), ("message", "assistant"), ("message", "user"),
        ("function_call", None), ("function_call_output", None)]
    assert listed["data"][0]["content"] == [{"type": "input_text", "text": "Hi"}]
    page = fake.get(f"/v1/responses/{second.json()['id']}/input_items",
                    params={"limit": 2, "after": listed["data"][1]["id"], "order": "asc"}).json()
    assert [i["id"] for i in page["data"]] == [i["id"] for i in listed["data"][2:4]] and page["has_more"]
    newest = fake.get(f"/v1/responses/{second.json()['id']}/input_items", params={"limit": 1}).json()
    assert newest["data"][0]["type"] == "function_call_output" and newest["has_more"]
    empty = fake.get(f"/v1/responses/{second.json()['id']}/input_items",
                     params={"after": listed["data"][-1]["id"], "order": "asc"}).json()
    assert validate_openai(empty, "ResponseItemList")["data"] == [] and not empty["has_more"]


def test_store_false_and_delete(fake):
    r = fake.post("/v1/responses", json={"input": "Hi", "max_output_tokens": 4, "store": False}).json()
    err(fake.get(f"/v1/responses/{r['id']}"), 404, "response_id", "response_not_found")
    r = fake.post("/v1/responses", json={"input": "Hi", "max_output_tokens": 4}).json()
    assert fake.get(f"/v1/responses/{r['id']}").json() == r
    assert fake.delete(f"/v1/responses/{r['id']}").json() == {"id": r["id"], "object": "response", "deleted": True}
    err(fake.delete(f"/v1/responses/{r['id']}"), 404, "response_id")
    err(fake.get("/v1/responses/..%2F..%2Fetc/input_items"), 404, None, "unknown_url")
    err(fake.get("/v1/responses/resp_x/input_items"), 404, "response_id")


@pytest.mark.parametrize("body, param, code", [
    ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_parameter"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x"}]}]},
     "input[0].content[0].type", "unsupported_parameter"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "unsupported_parameter"),
    ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role", "invalid_value"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id",
     "missing_required_parameter"),
    ({"input": [{"type": "function_call_output", "call_id": "c", "output": 3}]}, "input[0].output", "invalid_type"),
    ({"input": "x", "previous_response_id": "resp_nope"}, "previous_response_id", "previous_response_not_found"),
    ({"input": "x", "background": True}, "background", "unsupported_parameter"),
    ({"input": "x", "conversation": "conv_1"}, "conversation", "unsupported_parameter"),
    ({"input": "x", "tool_choice": {"type": "mcp", "server_label": "x"}, "tools": [
        {"type": "function", "name": "f", "parameters": {"type": "object"}}]}, "tool_choice", None),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema",
     "missing_required_parameter"),
    ({"input": "x", "max_output_tokens": 0}, "max_output_tokens", "invalid_value"),
    ({"input": "x", "text": {"format": {"type": "json_object"}}}, "text.format", "unsupported_parameter"),
    ({"input": "x", "max_output_tokens": 100000}, "input", "context_length_exceeded"),
    ({"input": "x", "temperature": "hot"}, "temperature", "invalid_type"),
    ({}, "input", "missing_required_parameter"),
])
def test_what_cannot_be_done_is_a_400_naming_the_param(fake, body, param, code):
    err(fake.post("/v1/responses", json=body), 400, param, code)


def test_stream_events_fake(fake):
    r = fake.post("/v1/responses", json={"input": "Hi", "max_output_tokens": 6, "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = events_of(r.text)
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.incomplete"]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    final = events[-1]["response"]
    assert text == final["output"][0]["content"][0]["text"] == "Once u"
    assert fake.get(f"/v1/responses/{final['id']}").json()["output"] == final["output"]


def test_response_stores(tmp_path):
    from shimmy_lab.server.store import FolderStore, NullStore

    memory = MemoryResponses(max_items=2)
    for i in range(3):
        memory.put(f"resp_{i}", {"response": {"id": i}, "input_items": []})
    assert memory.get("resp_0") is None and memory.get("resp_2")["response"] == {"id": 2}
    assert isinstance(open_responses(NullStore()), MemoryResponses)
    folder = open_responses(FolderStore(tmp_path))
    assert isinstance(folder, FolderResponses) and folder.root == tmp_path / ".responses"
    folder.put("resp_a", {"response": {"id": "resp_a"}, "input_items": []})
    assert folder.get("resp_a")["response"]["id"] == "resp_a" and folder.get("../x") is None
    assert [p.name for p in folder.root.iterdir()] == ["resp_a.json"]  # no temporary file left
    assert folder.delete("resp_a") and not folder.delete("resp_a")


# ---------------------------------------------------------------------------- real server, real client
@pytest.fixture(scope="module")
def lab():
    lab = sl.Lab()
    lab.add_story(sl.analyze(sl.Story.from_text(STORY, title="Kitty")), "kitty")
    return lab


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def server(lab, store_dir):
    with running(lab, n_ctx=2048, threads=1, store=str(store_dir)) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server):
    return openai_client(server)


@pytest.mark.slow
def test_create_string_and_items(server, client):
    raw = httpx.post(server.base_url + "/responses", json={"model": MODEL, "input": "Say hello.",
                                                           "max_output_tokens": 8, "temperature": 0}, timeout=60)
    body = validate_openai(raw.json(), "Response")
    assert body["model"] == MODEL and body["usage"]["input_tokens"] > 0
    out = client.responses.create(model=MODEL, input="Say hello.", max_output_tokens=8, temperature=0)
    assert out.output_text == body["output"][0]["content"][0]["text"] and out.output_text
    poet = "You are a poet who writes short rhyming lines about animals, forests and rivers. " * 3
    items = client.responses.create(
        model=MODEL, instructions=poet, max_output_tokens=4, temperature=0,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Say hello."}]}])
    assert items.instructions == poet and items.output_text
    assert items.usage.input_tokens > out.usage.input_tokens  # the instructions were in the prompt


@pytest.mark.slow
def test_json_schema_and_parse(client):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    out = client.responses.create(model=MODEL, input="Invent a person as JSON.", max_output_tokens=60, temperature=0,
                                  text={"format": {"type": "json_schema", "name": "person", "schema": schema,
                                                   "strict": True}})
    import jsonschema

    jsonschema.validate(json.loads(out.output_text), schema)
    assert out.text.format.type == "json_schema"
    obj = client.responses.create(model=MODEL, input="Give a JSON object.", max_output_tokens=8,
                                  text={"format": {"type": "json_object"}})
    assert out.status == "completed" and obj.output_text.lstrip().startswith("{")
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str
        age: int

    parsed = client.responses.parse(model=MODEL, input="Invent a person.", text_format=Person, max_output_tokens=60,
                                    temperature=0)
    assert isinstance(parsed.output_parsed, Person)


@pytest.mark.slow
def test_streams(server, client):
    body = {"model": MODEL, "input": "Say hello.", "max_output_tokens": 6, "stream": True, "temperature": 0}
    events = events_of(httpx.post(server.base_url + "/responses", json=body, timeout=60).text)
    final = events[-1]["response"]
    assert events[-1]["type"] in ("response.completed", "response.incomplete")
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == final["output"][0]["content"][0]["text"]
    seen = [e.type for e in client.responses.create(model=MODEL, input="Say hello.", max_output_tokens=6,
                                                     temperature=0, stream=True)]
    assert seen[0] == "response.created" and "response.output_text.delta" in seen
    done_schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
                   "additionalProperties": False}  # a short answer that ends by itself (response.completed)
    with client.responses.stream(model=MODEL, input="Are you there?", max_output_tokens=40, temperature=0,
                                 text={"format": {"type": "json_schema", "name": "done", "schema": done_schema}}
                                 ) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        done = stream.get_final_response()
    assert "".join(deltas) == done.output_text and done.status == "completed"


@pytest.mark.slow
def test_previous_response_and_stored_items(server, client):
    first = client.responses.create(model=MODEL, input="My name is Ada.", max_output_tokens=6, temperature=0)
    second = client.responses.create(model=MODEL, input="What is my name?", previous_response_id=first.id,
                                     max_output_tokens=4, temperature=0)
    assert second.previous_response_id == first.id
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    raw = httpx.get(server.base_url + f"/responses/{second.id}/input_items", params={"order": "asc"}).json()
    validate_openai(raw, "ResponseItemList")
    items = list(client.responses.input_items.list(second.id, order="asc"))
    assert [i.type for i in items] == ["message", "message", "message"]
    assert [i.role for i in items] == ["user", "assistant", "user"]
    validate_openai(httpx.get(server.base_url + f"/responses/{second.id}").json(), "Response")
    assert client.responses.retrieve(second.id).output_text == second.output_text
    client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(second.id)
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model=MODEL, input="x", previous_response_id=second.id)
    assert exc.value.body["param"] == "previous_response_id"


@pytest.mark.slow
def test_stored_response_survives_a_restart(tmp_path):
    with running(n_ctx=2048, threads=1, store=str(tmp_path)) as handle:
        made = openai_client(handle).responses.create(model=MODEL, input="Hi", max_output_tokens=4)
    with running(n_ctx=2048, threads=1, store=str(tmp_path)) as handle:
        client = openai_client(handle)
        again = client.responses.retrieve(made.id)
        assert again.output_text == made.output_text
        more = client.responses.create(model=MODEL, input="Again", previous_response_id=made.id, max_output_tokens=4)
        assert len(list(client.responses.input_items.list(more.id))) == 3


@pytest.mark.slow
def test_function_tools(client):
    tools = [{"type": "function", "name": "get_weather", "description": "Weather of a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
                             "required": ["city"], "additionalProperties": False}, "strict": True}]
    with client.responses.stream(model=MODEL, input="Weather in Rome?", tools=tools, max_output_tokens=60,
                                 tool_choice={"type": "function", "name": "get_weather"}, temperature=0) as stream:
        kinds = [e.type for e in stream]
        out = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    call = out.output[-1]
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id
    assert json.loads(call.arguments)["city"] in ("Paris", "Rome")
    raw = client.responses.with_raw_response.create(
        model=MODEL, previous_response_id=out.id, tools=tools, max_output_tokens=4, temperature=0,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}])
    validate_openai(json.loads(raw.http_response.text), "Response")
    answer = raw.parse()
    items = [i.type for i in client.responses.input_items.list(answer.id, order="asc")]
    assert items == ["message", "function_call", "function_call_output"]


@pytest.mark.slow
def test_narrative_on_responses_and_completions(server, client, lab):
    plain = client.responses.create(model=MODEL, input="Continue the story.", max_output_tokens=4, temperature=0)
    raw = httpx.post(server.base_url + "/responses", json={
        "model": MODEL, "input": "Continue the story.", "max_output_tokens": 8, "temperature": 0,
        "metadata": {"story_id": "kitty"}}, timeout=60).json()
    validate_openai(raw, "Response")
    assert raw["narrative"]["story_id"] == "kitty" and "drift_score" in raw["narrative"]
    assert raw["usage"]["input_tokens"] > plain.usage.input_tokens  # the story's context went in
    events = events_of(httpx.post(server.base_url + "/responses", headers={"X-Shimmy-Story": "kitty"}, json={
        "model": MODEL, "input": "Continue.", "max_output_tokens": 4, "stream": True}, timeout=60).text)
    assert events[-1]["response"]["narrative"]["story_id"] == "kitty"
    base = {"model": MODEL, "prompt": "Kitty looked", "max_tokens": 6, "temperature": 0}
    without = httpx.post(server.base_url + "/completions", json=base, timeout=60).json()
    told = httpx.post(server.base_url + "/completions", json={**base, "metadata": {"story_id": "kitty",
                                                                                   "stabilize": "2"}},
                      timeout=60).json()
    validate_openai({k: v for k, v in told.items() if k != "narrative"}, "CreateCompletionResponse")
    assert told["usage"]["prompt_tokens"] > without["usage"]["prompt_tokens"]
    assert told["narrative"]["story_id"] == "kitty" and len(told["narrative"]["candidates"]) == 2
    assert len(told["choices"]) == 1
    before = len(lab.stories["kitty"].text)
    streamed = httpx.post(server.base_url + "/completions", headers={"X-Shimmy-Story": "kitty"}, timeout=60,
                          json={**base, "stream": True, "metadata": {"append": "true"}}).text
    last = json.loads([e for e in streamed.split("\n\n") if e.startswith("data: {")][-1][len("data: "):])
    assert last["narrative"]["appended"] is (len(lab.stories["kitty"].text) > before)
    bad = httpx.post(server.base_url + "/completions", json={**base, "prompt": ["a", "b"],
                                                             "metadata": {"story_id": "kitty"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "prompt"


def test_responses_shared_through_redis(tmp_path):
    """Two apps (replicas) on one real redis-server: a response stored by one is read,
    continued and deleted through the other."""
    from test_server_redis import REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (make redis)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        settings = Settings.load(redis=server.url, store="none", config_reload=0)
        with TestClient(create_app(fake_lab(), settings)) as a, TestClient(create_app(fake_lab(), settings)) as b:
            made = a.post("/v1/responses", json={"input": "Hi", "max_output_tokens": 4}).json()
            assert b.get(f"/v1/responses/{made['id']}").json() == made
            more = b.post("/v1/responses", json={"input": "Again", "previous_response_id": made["id"],
                                                 "max_output_tokens": 4}).json()
            assert len(a.get(f"/v1/responses/{more['id']}/input_items").json()["data"]) == 3
            import redis

            ttl = redis.Redis.from_url(server.url).ttl(f"shimmy:response:{made['id']}")
            assert 0 < ttl <= 30 * 24 * 3600
            assert b.delete(f"/v1/responses/{made['id']}").status_code == 200
            err(a.get(f"/v1/responses/{made['id']}"), 404, "response_id")
    finally:
        server.kill()
