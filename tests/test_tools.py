"""Unit tests of :mod:`shimmy_lab.engines.tools` (validation, prompt, grammar, parsing, the
tool turn over a scripted ``generate``) and of the message and parameter checks it needs."""

from __future__ import annotations

import json

import pytest

from shimmy_lab.engines import tools as T
from shimmy_lab.engines.base import check_messages
from shimmy_lab.engines.params import GenerationParams
from shimmy_lab.errors import InvalidParameterError, UnsupportedParameterError

pytest_plugins = ["conftest_torch"]

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"$ref": "#/$defs/Unit"}},
                   "required": ["city", "unit"], "additionalProperties": False,
                   "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}}}}}
ADD = {"type": "function", "function": {"name": "add", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}


def test_check_tools_shapes():
    chat = T.check_tools([WEATHER, ADD])
    assert [t.name for t in chat] == ["get_weather", "add"]
    flat = T.check_tools([{"type": "function", "name": "add", "parameters": ADD["function"]["parameters"]}])
    assert flat[0] == chat[1] and flat[0].to_openai() == {"type": "function", "function": ADD["function"]}
    bare = T.check_tools([{"type": "function", "function": {"name": "now"}}])[0]
    assert bare.parameters == {"type": "object", "properties": {}}


@pytest.mark.parametrize("tools, param", [
    ("x", "tools"),
    ([{"type": "function", "function": {"name": "has space"}}], "tools[0].function.name"),
    ([WEATHER, WEATHER], "tools[1]"),
    ([{"type": "function", "function": {"name": "f", "parameters": []}}], "tools[0].function.parameters"),
    ([{"type": "function", "function": {"name": "f", "description": 3}}], "tools[0].function.description"),
])
def test_check_tools_errors(tools, param):
    with pytest.raises(InvalidParameterError) as err:
        T.check_tools(tools)
    assert err.value.param == param


def test_custom_tool_unsupported():
    with pytest.raises(UnsupportedParameterError) as err:
        T.check_tools([{"type": "custom", "custom": {"name": "x"}}])
    assert err.value.param == "tools[0].type"


def test_tool_choice():
    tools = T.check_tools([WEATHER, ADD])
    assert T.check_tool_choice(None, tools) == T.ToolChoice("auto", ("get_weather", "add"))
    assert T.check_tool_choice(None, []).mode == "none"
    assert T.check_tool_choice("required", tools).names == ("get_weather", "add")
    named = T.check_tool_choice({"type": "function", "function": {"name": "add"}}, tools)
    assert named == T.ToolChoice("required", ("add",)) and named.allowed(tools) == [tools[1]]
    assert T.check_tool_choice({"type": "function", "name": "add"}, tools) == named  # Responses API shape
    allowed = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
        {"type": "function", "function": {"name": "get_weather"}}]}}
    assert T.check_tool_choice(allowed, tools) == T.ToolChoice("auto", ("get_weather",))


@pytest.mark.parametrize("choice, tools", [
    ("maybe", [WEATHER]), ({"type": "function", "function": {"name": "nope"}}, [WEATHER]),
    ("required", []), ({"type": "allowed_tools", "allowed_tools": {"mode": "x", "tools": []}}, [WEATHER]),
    ({"type": "file_search"}, [WEATHER]), (3, [WEATHER]),
])
def test_tool_choice_errors(choice, tools):
    with pytest.raises(InvalidParameterError) as err:
        T.check_tool_choice(choice, T.check_tools(tools))
    assert err.value.param.startswith("tool_choice")


def test_call_schema():
    tools = T.check_tools([WEATHER, ADD])
    schema = T.call_schema(tools)
    assert [o["properties"]["name"]["const"] for o in schema["anyOf"]] == ["get_weather", "add"]
    assert T.call_schema(tools[:1])["required"] == ["name", "arguments"]


def test_call_grammar():
    tools = T.check_tools([WEATHER, ADD])
    grammar = T.call_grammar(tools, parallel=False)
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())
    assert rules["root"] == 'shimmy-call "\\n" "</tool_call>"'
    assert rules["shimmy-call"] == "shimmy-call0 | shimmy-call1"
    assert '"\\"c\\"" | "\\"f\\""' in grammar  # the $ref was resolved to the enum
    assert rules["root"] in T.call_grammar(tools, parallel=True)
    assert T.call_grammar(tools, parallel=True).count('"<tool_call>"') == T.MAX_CALLS - 1
    prefilled = dict(line.split(" ::= ", 1) for line in T.call_grammar(tools[1:], prefilled=True).splitlines())
    assert prefilled["root"].startswith('fn0-args "}" "\\n" "</tool_call>"')
    with pytest.raises(InvalidParameterError):
        T.call_grammar([])


def test_call_grammar_parses_in_llama_cpp(llama_engine):
    """llama.cpp accepts the grammar and the call it generates is valid."""
    from llama_cpp import LlamaGrammar

    tools = T.check_tools([WEATHER])
    prompt = llama_engine.chat_prompt([{"role": "user", "content": "Weather in Oslo?"}], tools) + T.MARKER
    grammar = LlamaGrammar.from_string(T.call_grammar(tools, parallel=False), verbose=False)
    out = llama_engine.llm.create_completion(llama_engine.tokenize(prompt), grammar=grammar, max_tokens=40,
                                             temperature=0)["choices"][0]["text"]
    content, calls = T.parse_calls(T.MARKER + out)
    assert content is None and calls[0]["function"]["name"] == "get_weather"
    assert json.loads(calls[0]["function"]["arguments"])["unit"] in ("c", "f")


def test_grammar_parameter(llama_engine):
    """``grammar=`` constrains a plain chat or completion on the llama.cpp engine."""
    out = llama_engine.complete("Is the sky blue? Answer:", grammar='root ::= " yes" | " no"', max_tokens=4,
                                temperature=0)
    assert out["choices"][0]["text"] in (" yes", " no")
    chat = llama_engine.chat([{"role": "user", "content": "Pick a color."}], grammar='root ::= "red" | "blue"',
                             max_tokens=4, temperature=0)
    assert chat["choices"][0]["message"]["content"] in ("red", "blue")


QWEN_LIKE = (
    "{% if tools %}<|im_start|>system\n# Tools\n<tools>{% for t in tools %}{{ t.function | tojson }}{% endfor %}"
    "</tools>\nCall with <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call><|im_end|>\n{% endif %}"
    "{% for m in messages %}{% if m.role == 'tool' %}<|im_start|>user\n<tool_response>{{ m.content }}"
    "</tool_response><|im_end|>\n{% else %}<|im_start|>{{ m.role }}\n{{ m.content or '' }}"
    "{% for c in m.tool_calls or [] %}<tool_call>{{ c.function.arguments | tojson }}</tool_call>{% endfor %}"
    "<|im_end|>\n{% endif %}{% endfor %}<|im_start|>assistant\n")


def test_native_template(llama_engine):
    """A GGUF template that renders tools in the <tool_call> format gets the tools and the
    history (arguments as objects) itself."""
    import copy

    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    assert T.template_uses_tools(QWEN_LIKE)
    eng = copy.copy(llama_engine)
    eng._formatter, eng._native_tools = Jinja2ChatFormatter(QWEN_LIKE, eos_token="", bos_token=""), True
    msgs = [{"role": "user", "content": "2+3?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "5"}]
    prompt = eng.chat_prompt(msgs, [ADD])
    assert prompt.startswith("<|im_start|>system\n# Tools\n<tools>{\"name\": \"add\"")
    assert '<tool_call>{"a": 2, "b": 3}</tool_call>' in prompt and "<tool_response>5</tool_response>" in prompt
    assert "You can call" not in prompt  # no generic note


def test_n_choices_with_tools(llama_engine):
    out = llama_engine.chat([{"role": "user", "content": "Add 2 and 3."}], tools=[ADD], tool_choice="required",
                            n=2, seed=1, temperature=0.8, max_tokens=24, parallel_tool_calls=False)
    assert [c["index"] for c in out["choices"]] == [0, 1]
    for choice in out["choices"]:
        assert choice["finish_reason"] == "tool_calls" and set(json.loads(
            choice["message"]["tool_calls"][0]["function"]["arguments"])) == {"a", "b"}


def test_system_note_and_history():
    tools = T.check_tools([ADD])
    msgs = check_messages([
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "2+3?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "5"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "6"}]},
    ])
    out = T.render_history(msgs, tools)
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user"]
    assert out[0]["content"].startswith("Be brief.\n\nYou can call") and '"name": "add"' in out[0]["content"]
    assert out[2]["content"] == '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>'
    assert out[3]["content"] == "<tool_response>\n5\n</tool_response>\n<tool_response>\n6\n</tool_response>"
    assert all(set(m) == {"role", "content"} for m in out)
    native = T.render_history(msgs, tools, native=True)
    assert native[2]["tool_calls"][0]["function"]["arguments"] == {"a": 2, "b": 3}
    assert native[3] == {"role": "tool", "content": "5", "tool_call_id": "call_1"}
    assert T.render_history(msgs[1:2], tools)[0] == {"role": "system", "content": T.system_note(tools)}


def test_template_uses_tools():
    assert not T.template_uses_tools(None)
    assert not T.template_uses_tools("{% for message in messages %}{{ message.content }}{% endfor %}")
    assert T.template_uses_tools("{% if tools %}<tools>{{ tools }}</tools> <tool_call>{% endif %}")


def test_parse_calls():
    text = ('Let me check.\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>\n'
            '<tool_call>\nnot json\n</tool_call>\n<tool_call>{"name": "now", "parameters": {}}</tool_call>')
    content, calls = T.parse_calls(text)
    assert [c["function"]["name"] for c in calls] == ["add", "now"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"a": 1, "b": 2}
    assert calls[0]["id"].startswith("call_") and calls[0]["id"] != calls[1]["id"]
    assert content.startswith("Let me check.") and "not json" in content
    assert T.parse_calls("just text") == ("just text", [])
    assert T.parse_calls('<tool_call>{"name": "f", "arguments": {}}</tool_call>')[0] is None


def _script(*runs):
    """A ``generate`` that answers run ``i`` with the pieces ``runs[i]`` and records its calls."""
    seen = []

    def generate(prompt, grammar):
        seen.append((prompt, grammar))
        pieces = runs[len(seen) - 1]
        for i, piece in enumerate(pieces):
            yield piece, ("stop" if i == len(pieces) - 1 else None)
    return generate, seen


def _collect(events):
    out = {"content": "", "calls": {}, "finish": None}
    for e in events:
        if e.kind == "content":
            out["content"] += e.text
        elif e.kind == "call":
            out["calls"][e.index] = [e.name, "", e.id]
        elif e.kind == "arguments":
            out["calls"][e.index][1] += e.text
        else:
            out["finish"] = e.reason
    return out


def test_tool_turn_auto_text():
    tools = T.check_tools([WEATHER, ADD])
    generate, seen = _script(["Hello", " <to", "ol> there"])
    out = _collect(T.tool_turn(generate, "P", tools, T.check_tool_choice("auto", tools)))
    assert out == {"content": "Hello <tool> there", "calls": {}, "finish": "stop"}
    assert seen == [("P", None)]


def test_tool_turn_auto_call():
    """Free text until the marker, then a constrained run of the calls."""
    tools = T.check_tools([WEATHER, ADD])
    generate, seen = _script(["Sure. <tool", "_call> ignored"],
                             ['\n{"name": "add", "arguments": {"a": 1', ', "b": 2}}\n</tool_call>'])
    out = _collect(T.tool_turn(generate, "P", tools, T.check_tool_choice("auto", tools)))
    assert out["content"] == "Sure. " and out["finish"] == "tool_calls"
    name, args, cid = out["calls"][0]
    assert name == "add" and json.loads(args) == {"a": 1, "b": 2} and cid.startswith("call_")
    assert seen[1][0] == "PSure. <tool_call>" and seen[1][1].startswith("root ::= shimmy-call")


def test_tool_turn_required_one_tool_prefilled():
    tools = T.check_tools([ADD])
    generate, seen = _script(['{"a": 4, "b": 5}}\n</tool_call>'])
    out = _collect(T.tool_turn(generate, "P", tools, T.check_tool_choice("required", tools), parallel=False))
    assert out["calls"][0][:2] == ["add", '{"a": 4, "b": 5}'] and out["finish"] == "tool_calls"
    assert seen[0][0] == "P<tool_call>" + T.call_head("add")


def test_tool_turn_parallel_repeats_and_cut_off():
    tools = T.check_tools([WEATHER, ADD])
    call = '{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    other = '{"name": "add", "arguments": {"a": 3, "b": 2}}\n</tool_call>'
    generate, _ = _script(["\n" + call, "\n<tool_call>\n" + other, "\n<tool_call>\n" + call, "\n<tool_call>\n"])
    out = _collect(T.tool_turn(generate, "P", tools, T.check_tool_choice("required", tools)))
    assert [c[1] for c in out["calls"].values()] == ['{"a": 1, "b": 2}', '{"a": 3, "b": 2}']  # repeat dropped
    generate, _ = _script(["\n" + call, '\n<tool_call>\n{"name": "add", "arguments": {"a": 3'])
    out = _collect(T.tool_turn(generate, "P", tools, T.check_tool_choice("required", tools)))
    assert len(out["calls"]) == 1 and out["finish"] == "tool_calls"  # the cut-off second call is dropped
    generate, _ = _script(['\n{"name": "add", "arguments": {"a": 3'])
    out = _collect(T.tool_turn(generate, "P", tools, T.check_tool_choice("required", tools)))
    assert out["finish"] == "length" and out["calls"][0][:2] == ["add", '{"a": 3']


def test_params_tools():
    p = GenerationParams.from_kwargs(tools=[WEATHER], tool_choice="none")
    assert p.tools is None and p.tool_spec() is None
    p = GenerationParams.from_kwargs(tools=[WEATHER, ADD], tool_choice={"type": "function", "function": {"name": "add"}})
    tools, choice = p.tool_spec()
    assert [t.name for t in tools] == ["get_weather", "add"] and choice.names == ("add",)
    with pytest.raises(InvalidParameterError, match="parallel_tool_calls"):
        GenerationParams.from_kwargs(tools=[ADD], parallel_tool_calls="yes")
    with pytest.raises(InvalidParameterError) as err:
        GenerationParams.from_kwargs(tools=[ADD], response_format={"type": "json_object"})
    assert err.value.param == "response_format"


def test_engine_without_tools_refuses(fake_engine):
    with pytest.raises(UnsupportedParameterError) as err:
        fake_engine.chat([{"role": "user", "content": "hi"}], tools=[ADD])
    assert err.value.param == "tools" and "llama_cpp" in err.value.message
    out = fake_engine.chat([{"role": "user", "content": "hi"}], tools=[ADD], tool_choice="none", max_tokens=4)
    assert out["choices"][0]["message"]["content"]


@pytest.mark.parametrize("content, param", [
    ([{"type": "image_url", "image_url": {"url": "x"}}], "messages[0].content[0]"),
    ([{"type": "text", "text": "a"}, {"type": "input_audio"}], "messages[0].content[1]"),
    ([{"type": "text", "text": "a"}, {"type": "file", "file": {}}], "messages[0].content[1]"),
    ([3], "messages[0].content[0]"),
])
def test_content_parts_refused(content, param):
    with pytest.raises(InvalidParameterError) as err:
        check_messages([{"role": "user", "content": content}])
    assert err.value.param == param


def test_content_parts_everywhere():
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    msgs = check_messages([{"role": r, "content": parts} for r in ("system", "developer", "user", "assistant", "tool")]
                          + [{"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}])
    assert [m["content"] for m in msgs] == ["ab"] * 5 + [""]
    with pytest.raises(InvalidParameterError) as err:
        check_messages([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]}])
    assert err.value.param == "messages[0].tool_calls[0]"


@pytest.mark.slow
def test_torch_engine_calls(st_engine):
    """The torch engines apply the same grammar through their sampler (llguidance)."""
    pytest.importorskip("llguidance")
    ask = [{"role": "user", "content": "Add 2 and 3."}]
    out = st_engine.chat(ask, tools=[WEATHER, ADD], tool_choice={"type": "function", "function": {"name": "add"}},
                         max_tokens=30, temperature=0)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    args = json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"])
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "add" and set(args) == {"a", "b"}
    with pytest.raises(InvalidParameterError) as err:
        st_engine.chat(ask, grammar="root ::= (", max_tokens=2)
    assert err.value.param == "grammar"
