"""The base-class machinery (stop sequences, n, usage, errors) on a fake engine."""

import pytest

from openai_schema import validate_openai
from shimmy_lab.errors import ContextLengthExceededError, InvalidParameterError, UnsupportedParameterError

MSGS = [{"role": "user", "content": "hi"}]


def test_chat_shape_and_usage(fake_engine):
    out = validate_openai(fake_engine.chat(MSGS), "CreateChatCompletionResponse")
    assert out["choices"][0]["message"]["content"] == "Hello, world! Bye."
    assert out["choices"][0]["finish_reason"] == "stop"
    prompt = len(fake_engine.render_chat(MSGS))
    assert out["usage"] == {"prompt_tokens": prompt, "completion_tokens": 18, "total_tokens": prompt + 18}


def test_stream_chunks_validate_and_join(fake_engine):
    chunks = list(fake_engine.chat(MSGS, stream=True, stream_options={"include_usage": True}))
    for c in chunks:
        validate_openai(c, "CreateChatCompletionStreamResponse")
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 18
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello, world! Bye."
    assert len({c["id"] for c in chunks}) == 1


def test_no_usage_chunk_unless_asked(fake_engine):
    chunks = list(fake_engine.chat(MSGS, stream=True))
    assert all(c["choices"] for c in chunks) and "usage" not in chunks[-1]


@pytest.mark.parametrize("stop, expected", [("world", "Hello, "), (["!", ","], "Hello"), ("zzz", "Hello, world! Bye.")])
def test_stop_sequences_cut_before_match(fake_engine, stop, expected):
    out = fake_engine.chat(MSGS, stop=stop)
    assert out["choices"][0]["message"]["content"] == expected
    assert out["choices"][0]["finish_reason"] == "stop"
    streamed = "".join(c["choices"][0]["delta"].get("content", "")
                       for c in fake_engine.chat(MSGS, stop=stop, stream=True) if c["choices"])
    assert streamed == expected


def test_max_tokens_gives_length(fake_engine):
    out = fake_engine.chat(MSGS, max_tokens=5)
    assert out["choices"][0]["message"]["content"] == "Hello"
    assert out["choices"][0]["finish_reason"] == "length"


def test_n_choices_use_successive_seeds(fake_engine):
    out = fake_engine.chat(MSGS, n=3, seed=7)
    assert [c["message"]["content"][-1] for c in out["choices"]] == ["7", "8", "9"]
    assert [c["index"] for c in out["choices"]] == [0, 1, 2]


def test_logprobs(fake_engine):
    out = validate_openai(fake_engine.chat(MSGS, logprobs=True, top_logprobs=2, max_tokens=3),
                          "CreateChatCompletionResponse")
    content = out["choices"][0]["logprobs"]["content"]
    assert [e["token"] for e in content] == ["H", "e", "l"]
    assert content[0]["top_logprobs"][1] == {"token": "?", "logprob": -2.0, "bytes": [63]}


def test_completion_and_echo(fake_engine):
    out = validate_openai(fake_engine.complete("Once", max_tokens=5, echo=True), "CreateCompletionResponse")
    assert out["choices"][0]["text"] == "OnceHello"
    assert out["object"] == "text_completion"


def test_context_length_error_has_numbers(fake_engine):
    with pytest.raises(ContextLengthExceededError) as err:
        fake_engine.chat([{"role": "user", "content": "x" * 60}], max_tokens=10)
    e = err.value
    assert (e.context_length, e.max_tokens) == (64, 10) and e.prompt_tokens > 60
    assert "64" in str(e) and e.to_openai()["error"]["code"] == "context_length_exceeded"


def test_unsupported_parameter(fake_engine):
    with pytest.raises(UnsupportedParameterError, match="response_format.*fake"):
        fake_engine.chat(MSGS, response_format={"type": "json_object"})
    fake_engine.chat(MSGS, response_format={"type": "text"})  # the default is fine


@pytest.mark.parametrize("messages", [[], "hi", [{"role": "wizard", "content": "x"}], [{"role": "user", "content": 3}]])
def test_bad_messages(fake_engine, messages):
    with pytest.raises(InvalidParameterError):
        fake_engine.chat(messages)


def test_content_parts_are_joined(fake_engine):
    msgs = [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    assert fake_engine.chat(msgs)["usage"]["prompt_tokens"] == len("<user>ab<assistant>")
