"""End to end: tool calling and structured outputs through the real server, the bundled
GGUF model, the real ``openai`` client and ``langchain-openai``; every body and stream
chunk is validated against the OpenAI schemas."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel, ConfigDict

from openai_schema import validate_openai, validate_sse
from servers import openai_client, running

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather of a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "enum": ["Paris", "Oslo", "Rome"]},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"], "additionalProperties": False}}}
ADD = {"type": "function", "function": {
    "name": "add", "description": "Add two integers.",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                   "required": ["a", "b"]}}}
TOOLS = [WEATHER, ADD]


@pytest.fixture(scope="module")
def server():
    with running(parallel=1, n_ctx=2048, threads=1) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server):
    return openai_client(server)


def _post(server, body):
    return httpx.post(server.base_url + "/chat/completions", json={"model": MODEL, **body}, timeout=120)


def _check_calls(calls, names=("get_weather", "add")):
    assert calls
    for call in calls:
        assert call.id.startswith("call_") and call.type == "function" and call.function.name in names
        args = json.loads(call.function.arguments)
        if call.function.name == "get_weather":
            assert args["city"] in ("Paris", "Oslo", "Rome") and args["unit"] in ("celsius", "fahrenheit")
        else:
            assert isinstance(args["a"], int) and isinstance(args["b"], int)


def test_required_call(client):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=ASK, tools=TOOLS, tool_choice="required", max_tokens=40, temperature=0,
        parallel_tool_calls=False)
    validate_openai(json.loads(raw.http_response.text), "CreateChatCompletionResponse")
    choice = raw.parse().choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert len(choice.message.tool_calls) == 1
    _check_calls(choice.message.tool_calls)


def test_named_call_async(server):
    async def go():
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
        return await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Add 2 and 3."}], tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "add"}}, max_tokens=40, temperature=0)

    out = asyncio.run(go())
    assert out.choices[0].finish_reason == "tool_calls"
    _check_calls(out.choices[0].message.tool_calls, names=("add",))


def test_streamed_call(server, client):
    body = {"messages": ASK, "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "max_tokens": 40, "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    chunks = validate_sse(_post(server, body).text)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    calls = [d["tool_calls"][0] for d in deltas if d.get("tool_calls")]
    assert calls[0]["id"].startswith("call_") and calls[0]["function"]["name"] == "get_weather"
    assert calls[0]["type"] == "function" and calls[0]["index"] == 0
    assert all("id" not in c for c in calls[1:] if c["index"] == 0) and len(calls) > 2
    args = "".join(c["function"].get("arguments", "") for c in calls if c["index"] == 0)
    assert json.loads(args)["city"] in ("Paris", "Oslo", "Rome")
    finals = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finals == ["tool_calls"] and chunks[-1]["usage"]["completion_tokens"] > 0
    # the SDK's stream helper assembles the same call
    with client.chat.completions.stream(model=MODEL, messages=ASK, tools=TOOLS, tool_choice="required",
                                        max_tokens=40, temperature=0, parallel_tool_calls=False) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.done" in kinds
    _check_calls(final.choices[0].message.tool_calls)


def test_auto_and_none(server, client):
    auto = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=ASK, tools=TOOLS, tool_choice="auto", max_tokens=24, temperature=0)
    validate_openai(json.loads(auto.http_response.text), "CreateChatCompletionResponse")
    choice = auto.parse().choices[0]
    if choice.message.tool_calls:  # the model chose to call
        assert choice.finish_reason == "tool_calls"
        _check_calls(choice.message.tool_calls)
    else:
        assert choice.message.content and choice.finish_reason in ("stop", "length")
    chunks = validate_sse(_post(server, {"messages": ASK, "tools": TOOLS, "max_tokens": 8, "stream": True}).text)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    none = client.chat.completions.create(model=MODEL, messages=ASK, tools=TOOLS, tool_choice="none",
                                          max_tokens=8, temperature=0)
    assert none.choices[0].message.tool_calls is None and none.choices[0].message.content


def test_round_trip(client):
    first = client.chat.completions.create(model=MODEL, messages=ASK, tools=[WEATHER], tool_choice="required",
                                           max_tokens=40, temperature=0, parallel_tool_calls=False)
    call = first.choices[0].message.tool_calls[0]
    history = ASK + [first.choices[0].message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": [{"type": "text", "text": "21 C, sunny"}]}]
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=history, tools=[WEATHER],
                                                           tool_choice="none", max_tokens=16, temperature=0)
    body = validate_openai(json.loads(raw.http_response.text), "CreateChatCompletionResponse")
    assert body["choices"][0]["message"]["content"] and body["usage"]["prompt_tokens"] > 60


class Weather(BaseModel):
    model_config = ConfigDict(extra="forbid")
    city: Literal["Paris", "Oslo", "Rome"]
    unit: Literal["celsius", "fahrenheit"]


class Report(BaseModel):
    """A nested model: its schema has ``$defs`` and a ``$ref``."""

    model_config = ConfigDict(extra="forbid")
    weather: Weather
    days: int


def test_parse_pydantic(client):
    out = client.chat.completions.parse(model=MODEL, messages=[{"role": "user", "content": "Weather report."}],
                                        response_format=Report, max_tokens=50, temperature=0)
    parsed = out.choices[0].message.parsed
    assert isinstance(parsed, Report) and isinstance(parsed.weather, Weather)


def test_parse_tool_arguments(client):
    """``openai.pydantic_function_tool`` makes a strict tool (``$defs``, no extra keys): the SDK parses its call."""
    tool = openai.pydantic_function_tool(Report, name="report")
    out = client.chat.completions.parse(model=MODEL, messages=[{"role": "user", "content": "Report."}], tools=[tool],
                                        tool_choice="required", max_tokens=50, temperature=0,
                                        parallel_tool_calls=False)
    assert isinstance(out.choices[0].message.tool_calls[0].function.parsed_arguments, Report)


@pytest.mark.parametrize("body, param", [
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [ADD, {"type": "function", "function": {"name": "f", "parameters": {"type": "weird"}}}],
      "stream": True}, "tools[1].function.parameters"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                                {"type": "image_url", "image_url": {"url": "http://x"}}]}]},
     "messages[0].content[1]"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
     "messages[0].content[0]"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
])
def test_bad_requests(server, body, param):
    r = _post(server, {"messages": ASK, "max_tokens": 4, **body})
    assert r.status_code == 400, r.text
    err = validate_openai(r.json(), "ErrorResponse")["error"]
    assert err["param"] == param and err["type"] == "invalid_request_error"


def test_ignored_fields_and_parts(server):
    body = {"messages": [{"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                         {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "max_tokens": 4, "user": "u1", "service_tier": "auto", "store": False, "parallel_tool_calls": True,
            "prediction": {"type": "content", "content": "Hello"}, "modalities": ["text"],
            "stop": ["a", "b", "c", "d"]}
    r = _post(server, body)
    assert r.status_code == 200, r.text
    validate_openai(r.json(), "CreateChatCompletionResponse")


def test_streamed_logprobs(server):
    body = {"messages": ASK, "max_tokens": 4, "stream": True, "logprobs": True, "top_logprobs": 2}
    chunks = validate_sse(_post(server, body).text)
    entries = [e for c in chunks if c["choices"] and c["choices"][0]["logprobs"]
               for e in c["choices"][0]["logprobs"]["content"]]
    assert entries and all(len(e["top_logprobs"]) == 2 for e in entries)


def test_langchain(server):
    lc = pytest.importorskip("langchain_openai")
    from langchain_core.messages import HumanMessage, ToolMessage

    llm = lc.ChatOpenAI(base_url=server.base_url, api_key="unused", model=MODEL, temperature=0, max_tokens=40,
                        max_retries=0)
    bound = llm.bind_tools([WEATHER], tool_choice="get_weather")
    msg = bound.invoke([HumanMessage("What is the weather in Paris?")])
    call = msg.tool_calls[0]
    assert call["name"] == "get_weather" and call["args"]["city"] in ("Paris", "Oslo", "Rome")
    short = llm.bind(max_tokens=10)
    answer = short.invoke([HumanMessage("What is the weather in Paris?"), msg,
                           ToolMessage("21 C and sunny", tool_call_id=call["id"])])
    assert isinstance(answer.content, str) and answer.content
    structured = llm.with_structured_output(Weather).invoke("Weather in Oslo?")
    assert isinstance(structured, Weather)
    pieces = list(short.stream("Say hi."))
    assert len(pieces) > 1 and "".join(p.content for p in pieces)
