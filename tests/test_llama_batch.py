"""Batched decoding of several sequences in one llama.cpp context (bundled SmolLM2)."""

from __future__ import annotations

import threading
import time

import pytest

from openai_schema import validate_openai
from shimmy_lab.engines.params import GenerationParams

PROMPTS = ["Say hello.", "What is 2+2?", "Name three colors.", "Write a haiku about rain."]


def msgs(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def batched(batched_over):
    with batched_over(n_seq=4, n_ctx=1024) as eng:
        yield eng


def content(out: dict) -> str:
    return out["choices"][0]["message"]["content"]


@pytest.fixture(scope="module")
def reference(llama_engine):
    return {p: content(llama_engine.chat(msgs(p), temperature=0, max_tokens=40)) for p in PROMPTS}


def test_greedy_single_sequence_equals_llama_cpp_engine(batched, reference):
    for p in PROMPTS:
        out = batched.chat(msgs(p), temperature=0, max_tokens=40)
        validate_openai(out, "CreateChatCompletionResponse")
        assert content(out) == reference[p]


def test_four_concurrent_greedy_requests_equal_their_single_results(batched, reference):
    results: dict[str, str] = {}
    steps0 = batched.batch.steps
    threads = [threading.Thread(target=lambda p=p: results.__setitem__(
        p, content(batched.chat(msgs(p), temperature=0, max_tokens=40)))) for p in PROMPTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == reference
    assert batched.batch.max_batch_seqs >= 2  # sequences really shared llama_decode calls
    assert batched.batch.steps > steps0


def test_stream_chunks_usage_and_max_tokens(batched, llama_engine):
    chunks = list(batched.chat(msgs("Tell me a long story."), temperature=0, max_tokens=7, stream=True,
                               stream_options={"include_usage": True}))
    for c in chunks:
        validate_openai(c, "CreateChatCompletionStreamResponse")
    assert chunks[-1]["usage"]["completion_tokens"] == 7
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    ref = content(llama_engine.chat(msgs("Tell me a long story."), temperature=0, max_tokens=7))
    assert text == ref


def test_stop_sequence(batched, reference):
    full = reference["Name three colors."]
    assert "Blue" in full
    out = batched.chat(msgs("Name three colors."), temperature=0, max_tokens=40, stop=["Blue"])
    assert content(out) == full[: full.index("Blue")]
    assert out["choices"][0]["finish_reason"] == "stop"


def test_seeded_sampling_is_reproducible_and_n_choices(batched):
    a = batched.chat(msgs("Invent a name."), temperature=0.9, seed=5, max_tokens=12, n=2)
    b = batched.chat(msgs("Invent a name."), temperature=0.9, seed=5, max_tokens=12, n=2)
    assert [content({"choices": [c]}) for c in a["choices"]] == [content({"choices": [c]}) for c in b["choices"]]
    assert len(a["choices"]) == 2


def test_completion_and_logprobs_fallback(batched, llama_engine):
    out = batched.complete("The capital of France is", temperature=0, max_tokens=5)
    ref = llama_engine.complete("The capital of France is", temperature=0, max_tokens=5)
    assert out["choices"][0]["text"] == ref["choices"][0]["text"]
    lp = batched.chat(msgs("Hi"), temperature=0, max_tokens=3, logprobs=True, top_logprobs=2)
    assert lp["choices"][0]["logprobs"]["content"]  # served by the LlamaCppEngine


def test_cancellation_frees_the_sequence(batched):
    batch = batched.batch
    gen = batch.generate(batched.tokenize(batched.render_chat(msgs("Count to one hundred."))),
                         GenerationParams(temperature=0), 500)
    first = [next(gen).token_id for _ in range(3)]
    assert len(first) == 3
    gen.close()
    deadline = time.time() + 10
    while len(batch._free_ids) < batch.n_seq and time.time() < deadline:
        time.sleep(0.01)
    assert len(batch._free_ids) == batch.n_seq and not batch._active
    # the freed sequence id is reusable, with a clean KV cache
    assert content(batched.chat(msgs("What is 2+2?"), temperature=0, max_tokens=40)).startswith("The answer")


def test_a_prompt_seen_before_reuses_its_kv_cells(batched, reference):
    batch = batched.batch
    prompt = batched.tokenize(batched.chat_prompt(msgs("Say hello.")))
    first = content(batched.chat(msgs("Say hello."), temperature=0, max_tokens=40))
    reused = batch.reused_tokens
    again = content(batched.chat(msgs("Say hello."), temperature=0, max_tokens=40))
    assert batch.reused_tokens - reused == len(prompt) - 1  # all but the last prompt token came from the cache
    other = content(batched.chat(msgs("What is 2+2?"), temperature=0, max_tokens=40))  # shares the template's start
    assert first == again == reference["Say hello."] and other == reference["What is 2+2?"]


def test_a_seeded_request_decodes_its_whole_prompt_and_repeats_its_text(batched):
    batch = batched.batch
    first = content(batched.chat(msgs("Tell me about a fox."), seed=3, max_tokens=16))
    reused = batch.reused_tokens
    again = content(batched.chat(msgs("Tell me about a fox."), seed=3, max_tokens=16))
    assert batch.reused_tokens == reused  # nothing taken from the cache
    assert again == first


def test_over_context_is_refused(batched):
    with pytest.raises(Exception):
        list(batched.batch.generate([1] * 1000, GenerationParams(temperature=0), 100))
