"""The fast paths of batched serving: greedy tokens taken with numpy in the batched loop,
incremental detokenizing, and the tokens of a step handed to the event loop together
(bundled SmolLM2)."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from shimmy_lab.engines.base import ByteDetokenizer, FullDetokenizer
from shimmy_lab.engines.params import GenerationParams
from shimmy_lab.server.scheduler import _Mailbox

PROMPT = [{"role": "user", "content": "Tell me about the sea."}]


@pytest.fixture(scope="module")
def batched(batched_over):
    with batched_over(n_seq=2, n_ctx=512) as eng:
        yield eng


def texts(detok, ids) -> list[str | None]:
    return [detok(t) for t in ids]


def test_byte_detokenizer_gives_the_texts_of_the_full_one(llama_engine):
    text = "Déjà vu: 東京 🦊🐦 naïve — “quotes” ½"
    ids = llama_engine.tokenize(text)
    assert len(ids) > len(text.split())  # characters split over several tokens
    byte_texts = texts(llama_engine._detokenizer(), ids)
    assert isinstance(llama_engine._detokenizer(), ByteDetokenizer)
    assert byte_texts == texts(FullDetokenizer(llama_engine.detokenize), ids)
    assert None in byte_texts  # an incomplete character waited for its next token
    assert "".join(t for t in byte_texts if t) == llama_engine.detokenize(ids) == text


def test_byte_detokenizer_random_tokens_and_a_leading_bos(llama_engine):
    rng = random.Random(7)
    bos = llama_engine.llm.token_bos()
    for _ in range(30):
        ids = [rng.randrange(llama_engine.vocab_size) for _ in range(rng.randrange(1, 12))]
        if rng.random() < 0.3:
            ids = [bos] + ids
        want = texts(FullDetokenizer(llama_engine.detokenize), ids)
        assert texts(llama_engine._detokenizer(), ids) == want, ids


def test_leading_space_after_bos_is_dropped_as_detokenize_does(llama_engine):
    bos = llama_engine.llm.token_bos()
    ids = [bos] + llama_engine.tokenize(" Hello there")
    full = texts(FullDetokenizer(llama_engine.detokenize), ids)
    assert "".join(t or "" for t in full) == "Hello there"
    assert texts(ByteDetokenizer(llama_engine._token_bytes, bos=bos), ids) == full


def test_greedy_requests_take_the_fast_path_others_the_sampler_chain(batched):
    batch = batched.batch
    assert batch._greedy_bias(GenerationParams(temperature=0)) is not None
    ids, bias = batch._greedy_bias(GenerationParams(temperature=0, logit_bias={5: -100, 7: 2.5}))
    assert ids.tolist() == [5, 7] and bias.tolist() == [-100.0, 2.5]
    for p in (GenerationParams(temperature=0.7), GenerationParams(temperature=0, repeat_penalty=1.1),
              GenerationParams(temperature=0, presence_penalty=0.5),
              GenerationParams(temperature=0, frequency_penalty=0.5)):
        assert batch._greedy_bias(p) is None


def _answer(engine, **params) -> str:
    return engine.chat(PROMPT, temperature=0, max_tokens=16, **params)["choices"][0]["message"]["content"]


def test_fast_greedy_equals_the_llama_cpp_engine(batched, llama_engine):
    ref = _answer(llama_engine)
    assert _answer(batched) == ref
    ban = {str(llama_engine.tokenize(ref)[0]): -100}  # the reference's first token banned
    fox = {str(llama_engine.tokenize(" fox")[0]): 100}  # a token forced
    for bias in (ban, fox):
        want = _answer(llama_engine, logit_bias=bias)
        assert want != ref  # the bias changed the answer
        assert _answer(batched, logit_bias=bias) == want
    assert "fox" in _answer(batched, logit_bias=fox)


def test_fast_greedy_tokens_are_the_sampler_chains(batched, monkeypatch):
    """The same request, with the numpy argmax and with the llama.cpp sampler chain."""
    batch = batched.batch
    prompt = batched.tokenize(batched.chat_prompt(PROMPT))
    p = GenerationParams(temperature=0, logit_bias={int(prompt[-1]): 3.0, 0: -100, 198: 1.5})
    fast = [s.token_id for s in batch.generate(prompt, p, 16)]
    monkeypatch.setattr(batch, "_greedy_bias", lambda params: None)
    slow = [s.token_id for s in batch.generate(prompt, p, 16)]
    assert len(fast) == 16 and fast == slow


def test_mailbox_keeps_each_queue_in_order_and_coalesces_wakeups():
    async def main() -> tuple[list[list[int]], int]:
        loop = asyncio.get_running_loop()
        box = _Mailbox(loop)
        queues = [asyncio.Queue() for _ in range(4)]
        calls = [0]
        deliver = box._deliver

        def counted() -> None:
            calls[0] += 1
            deliver()

        box._deliver = counted

        def worker(q: asyncio.Queue) -> None:
            for i in range(200):
                assert box.put(q, i)

        threads = [threading.Thread(target=worker, args=(q,)) for q in queues]
        for t in threads:
            t.start()
        got: list[list[int]] = [[] for _ in queues]
        for k, q in enumerate(queues):
            while len(got[k]) < 200:
                got[k].append(await q.get())
        for t in threads:
            t.join()
        return got, calls[0]

    got, calls = asyncio.run(main())
    assert got == [list(range(200))] * 4
    assert calls < 800  # fewer hand-overs than items


def test_mailbox_on_a_closed_loop_says_so():
    loop = asyncio.new_event_loop()
    box = _Mailbox(loop)
    loop.close()
    assert not box.put(asyncio.Queue(), 1)
    assert not box.put(asyncio.Queue(), 2)  # and again: nothing was left scheduled
