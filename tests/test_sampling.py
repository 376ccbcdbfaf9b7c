"""The shared torch sampler: filters, penalties, seeds, log-probabilities."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from shimmy_lab.engines.params import GenerationParams  # noqa: E402
from shimmy_lab.engines.sampling import (  # noqa: E402
    Sampler, end_of_generation_ids, reject_unsupported, resolve_context, token_loop, torch_dtype,
)
from shimmy_lab.errors import InvalidParameterError, UnsupportedParameterError  # noqa: E402

LOGITS = torch.tensor([1.0, 3.0, 2.0, 0.5, -1.0, 2.9])


def sampler(**kw) -> Sampler:
    return Sampler(GenerationParams(**kw))


def draws(s: Sampler, logits=LOGITS, n=200) -> set[int]:
    return {s.choose(s.process(logits)) for _ in range(n)}


def test_greedy_is_argmax():
    assert sampler(temperature=0).choose(LOGITS) == 1


def test_top_k_keeps_only_the_k_best():
    assert draws(sampler(temperature=2, top_k=2, seed=0)) == {1, 5}


def test_top_p_keeps_the_nucleus():
    probs = torch.softmax(LOGITS, 0)
    # tokens 1 and 5 hold most of the mass; a nucleus of 0.5 keeps token 1 and 5 only
    assert probs[1] < 0.5 < probs[1] + probs[5]
    assert draws(sampler(temperature=1, top_p=0.5, seed=1)) == {1, 5}
    assert draws(sampler(temperature=1, top_p=0.0, seed=1)) == {1}


def test_min_p_drops_unlikely_tokens():
    # min_p 0.5: keep tokens whose probability >= half the best one's (3.0 and 2.9 only)
    assert draws(sampler(temperature=1, min_p=0.5, seed=2)) == {1, 5}


def test_same_seed_same_tokens_and_different_seed_differs():
    s1, s2, s3 = sampler(temperature=1.5, seed=7), sampler(temperature=1.5, seed=7), sampler(temperature=1.5, seed=8)
    seq1 = [s1.choose(LOGITS) for _ in range(50)]
    assert seq1 == [s2.choose(LOGITS) for _ in range(50)]
    assert seq1 != [s3.choose(LOGITS) for _ in range(50)]


def test_logit_bias_bans_and_forces():
    assert sampler(temperature=0, logit_bias={1: -100}).step(LOGITS).token_id == 5
    assert sampler(temperature=0, logit_bias={"4": 100}).step(LOGITS).token_id == 4
    with pytest.raises(InvalidParameterError, match="outside the vocabulary"):
        sampler(temperature=0, logit_bias={99: 1}).step(LOGITS)


def test_repeat_penalty_llama_cpp_semantics():
    s = Sampler(GenerationParams(temperature=0, repeat_penalty=2.0), prompt_ids=[1, 4])
    x = s.process(LOGITS)
    assert x[1] == pytest.approx(1.5) and x[4] == pytest.approx(-2.0) and x[5] == pytest.approx(2.9)
    assert s.choose(x) == 5
    # only the last repeat_last_n tokens count
    s = Sampler(GenerationParams(temperature=0, repeat_penalty=2.0), prompt_ids=[1] + [0] * 64)
    assert s.process(LOGITS)[1] == pytest.approx(3.0)


def test_presence_and_frequency_penalties_openai_semantics():
    s = sampler(temperature=0, presence_penalty=0.5, frequency_penalty=0.25)
    for t in (1, 1, 2):
        s.accept(t)
    x = s.process(LOGITS)
    assert x[1] == pytest.approx(3.0 - 2 * 0.25 - 0.5)
    assert x[2] == pytest.approx(2.0 - 0.25 - 0.5)
    assert x[0] == pytest.approx(1.0)
    # the prompt does not count for OpenAI penalties
    s = Sampler(GenerationParams(temperature=0, presence_penalty=2.0), prompt_ids=[1])
    assert s.process(LOGITS)[1] == pytest.approx(3.0)


def test_logprobs_are_those_of_the_raw_logits():
    s = sampler(temperature=0.5, logprobs=True, top_logprobs=3, seed=0, logit_bias={0: 50})
    step = s.step(LOGITS)
    assert step.token_id == 0
    lsm = torch.log_softmax(LOGITS, 0)
    assert step.logprob == pytest.approx(float(lsm[0]))
    assert [t for t, _ in step.top_logprobs] == [1, 5, 2]
    assert sum(math.exp(lp) for _, lp in step.top_logprobs) < 1
    assert sampler(temperature=0).step(LOGITS).logprob is None


def test_token_loop_stops_at_eog_without_yielding_it():
    seq = iter([3, 2, 0, 5])
    calls = []

    def forward(ids):
        calls.append(list(ids))
        logits = torch.zeros(6)
        logits[next(seq)] = 1.0
        return logits

    steps = list(token_loop(forward, [1, 1], GenerationParams(temperature=0), 10, eog_ids={0}))
    assert [s.token_id for s in steps] == [3, 2]
    assert calls == [[1, 1], [3], [2]]
    # max_new bounds the loop and no forward pass is wasted after the last token
    seq = iter([3, 3, 3, 3])
    calls.clear()
    assert len(list(token_loop(forward, [1], GenerationParams(temperature=0), 2, eog_ids=()))) == 2
    assert len(calls) == 2


def test_helpers():
    assert end_of_generation_ids([2, [5, None], None], {"<|endoftext|>": 0, "a": 9}) == {0, 2, 5}
    assert torch_dtype("bf16") is torch.bfloat16 and torch_dtype(None) is torch.float32
    with pytest.raises(InvalidParameterError, match="dtype"):
        torch_dtype("int3")
    assert resolve_context(None, 8192) == 8192 and resolve_context(512, 8192) == 512
    with pytest.warns(UserWarning, match="exceeds"):
        assert resolve_context(10_000, 8192) == 8192
    with pytest.raises(InvalidParameterError):
        resolve_context(-1, 8192)
    err = reject_unsupported(UnsupportedParameterError("response_format", "safetensors"))
    assert "llama_cpp" in str(err) and err.param == "response_format"
