"""Checks shared by the two torch engines.

A test module calls ``pytest.register_assert_rewrite("torch_engine_cases")``, imports
them with ``from torch_engine_cases import *`` and defines an ``engine`` fixture.
"""

from __future__ import annotations

import math

import pytest

from openai_schema import validate_openai
from shimmy_lab.errors import ContextLengthExceededError, InvalidParameterError, UnsupportedParameterError

#: A prompt that makes SmolLM2 write well past 32 tokens under greedy decoding.
STORY = [{"role": "user", "content": "Write a long story about a dragon who loves tea."}]
SHORT = [{"role": "user", "content": "Write one sentence about a lighthouse keeper."}]


def chat_text(out):
    return out["choices"][0]["message"]["content"]


def test_chat_is_openai_shaped(engine):
    out = validate_openai(engine.chat(SHORT, max_tokens=16, temperature=0, seed=1), "CreateChatCompletionResponse")
    assert len(chat_text(out).split()) >= 3 and out["model"] == engine.model_id
    assert 0 < out["usage"]["completion_tokens"] <= 16
    assert out["usage"]["prompt_tokens"] == len(engine.tokenize(engine.render_chat(SHORT)))


def test_stream_matches_non_stream_under_greedy(engine):
    full = chat_text(engine.chat(STORY, max_tokens=12, temperature=0))
    chunks = list(engine.chat(STORY, max_tokens=12, temperature=0, stream=True,
                              stream_options={"include_usage": True}))
    for c in chunks:
        validate_openai(c, "CreateChatCompletionStreamResponse")
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len(chunks) > 5  # streamed token by token, not in one piece
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert streamed == full
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 12
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"


def test_stop_sequence(engine):
    full = chat_text(engine.chat(STORY, max_tokens=16, temperature=0))
    word = full.split()[4]
    out = validate_openai(engine.chat(STORY, max_tokens=16, temperature=0, stop=[word, "zzzz"]),
                          "CreateChatCompletionResponse")
    assert chat_text(out) == full[: full.index(word)]
    assert out["choices"][0]["finish_reason"] == "stop"


def test_seed_reproducibility(engine):
    kw = dict(max_tokens=8, temperature=1.5)
    a = chat_text(engine.chat(SHORT, seed=11, **kw))
    assert a == chat_text(engine.chat(SHORT, seed=11, **kw))
    others = {chat_text(engine.chat(SHORT, seed=s, **kw)) for s in (12, 13)}
    assert others != {a}


def test_n_choices_are_reproducible(engine):
    out = validate_openai(engine.chat(SHORT, max_tokens=4, temperature=1.0, seed=3, n=2),
                          "CreateChatCompletionResponse")
    assert [c["index"] for c in out["choices"]] == [0, 1]
    again = engine.chat(SHORT, max_tokens=4, temperature=1.0, seed=3, n=2)
    assert [chat_text({"choices": [c]}) for c in out["choices"]] == [
        chat_text({"choices": [c]}) for c in again["choices"]]


def test_logprobs(engine):
    out = validate_openai(engine.chat(SHORT, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3),
                          "CreateChatCompletionResponse")
    entries = out["choices"][0]["logprobs"]["content"]
    assert len(entries) == out["usage"]["completion_tokens"] == 6
    assert "".join(e["token"] for e in entries) == chat_text(out)
    for e in entries:
        assert e["logprob"] <= 0 and len(e["top_logprobs"]) == 3
        # greedy: the chosen token is the most likely one
        assert e["top_logprobs"][0]["token"] == e["token"]
        assert e["top_logprobs"][0]["logprob"] == pytest.approx(e["logprob"])
        assert sum(math.exp(t["logprob"]) for t in e["top_logprobs"]) <= 1 + 1e-5


def test_logit_bias(engine):
    first = engine.chat(SHORT, max_tokens=1, temperature=0, logprobs=True)["choices"][0]["logprobs"]["content"][0]
    banned = engine.tokenize(first["token"])
    assert len(banned) == 1
    out = engine.chat(SHORT, max_tokens=1, temperature=0, logprobs=True, logit_bias={banned[0]: -100})
    assert out["choices"][0]["logprobs"]["content"][0]["token"] != first["token"]
    with pytest.raises(InvalidParameterError, match="outside the vocabulary") as exc:
        engine.chat(SHORT, stream=True, logit_bias={10**7: 1})  # raised before anything streams
    assert exc.value.param == "logit_bias"


def test_complete_text_completion(engine):
    out = engine.complete("Once upon a time", max_tokens=8, temperature=0, echo=True)
    assert out["object"] == "text_completion" and out["choices"][0]["text"].startswith("Once upon a time")
    assert out["usage"]["completion_tokens"] == 8 and out["choices"][0]["finish_reason"] == "length"


def test_context_length_error(engine):
    with pytest.raises(ContextLengthExceededError, match="maximum context length is 8192") as exc:
        engine.chat(SHORT, max_tokens=9000)
    assert exc.value.context_length == 8192 and exc.value.to_openai()["error"]["code"] == "context_length_exceeded"


def test_response_format_is_unsupported_and_says_why(engine):
    with pytest.raises(UnsupportedParameterError, match="llama_cpp") as exc:
        engine.chat(SHORT, max_tokens=4, response_format={"type": "json_object"})
    assert exc.value.param == "response_format" and engine.name in str(exc.value)
    # "text" is the default and allowed
    engine.chat(SHORT, max_tokens=2, response_format={"type": "text"})


def test_tokenize_detokenize_embed(engine):
    text = "The lighthouse keeper's lamp — ça brille."
    ids = engine.tokenize(text)
    assert ids and engine.detokenize(ids) == text
    prompt = engine.render_chat([{"role": "user", "content": "hi"}])
    assert prompt.startswith("<|im_start|>system") and prompt.endswith("<|im_start|>assistant\n")
    assert engine.detokenize(engine.tokenize(prompt)) == prompt
    a, b, c = engine.embed(["a cat sat on the mat", "a cat sat on a mat", "quarterly tax filings"])
    assert len(a) == 576 and math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    dot = lambda u, v: sum(x * y for x, y in zip(u, v))  # noqa: E731
    assert dot(a, b) > dot(a, c)


def test_token_logprobs_agree_with_llama_cpp(engine, llama_engine):
    # the torch engines run the dequantized weights of the same GGUF: the scores match
    prefix = llama_engine.tokenize("Emma Woodhouse, handsome, clever, and rich, with a comfortable home")
    ids = llama_engine.tokenize(" and happy disposition, seemed to unite some of the best blessings.")
    ours, ref = engine.token_logprobs(prefix, ids), llama_engine.token_logprobs(prefix, ids)
    assert len(ours) == len(ids) and all(x <= 0 for x in ours)
    assert max(abs(a - b) for a, b in zip(ours, ref)) < 0.5
    with pytest.raises(InvalidParameterError, match="prefix"):
        engine.token_logprobs([], ids)


__all__ = ["STORY", "SHORT"] + [name for name in dir() if name.startswith("test_")]
