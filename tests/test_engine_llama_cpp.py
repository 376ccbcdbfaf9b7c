"""The llama.cpp engine on the real bundled model (SmolLM2-135M-Instruct Q4_1)."""

import json

import jsonschema
import pytest

from openai_schema import validate_openai
from shimmy_lab.errors import ContextLengthExceededError, InvalidParameterError

pytestmark = pytest.mark.slow
MSGS = [{"role": "user", "content": "Write one sentence about a lighthouse keeper."}]


def test_info(llama_engine):
    info = llama_engine.info
    assert info.id == "smollm2-135m-instruct" and info.engine == "llama_cpp"
    assert info.format == "gguf" and info.quantization == "Q4_1" and info.context_length == 8192
    assert info.family == "llama"


def test_chat_is_openai_shaped(llama_engine):
    out = validate_openai(llama_engine.chat(MSGS, max_tokens=24, temperature=0, seed=1),
                          "CreateChatCompletionResponse")
    text = out["choices"][0]["message"]["content"]
    assert len(text.split()) >= 3 and out["model"] == "smollm2-135m-instruct"
    assert 0 < out["usage"]["completion_tokens"] <= 24


def test_stream_matches_non_stream_under_greedy(llama_engine):
    full = llama_engine.chat(MSGS, max_tokens=20, temperature=0)["choices"][0]["message"]["content"]
    chunks = list(llama_engine.chat(MSGS, max_tokens=20, temperature=0, stream=True,
                                    stream_options={"include_usage": True}))
    for c in chunks:
        validate_openai(c, "CreateChatCompletionStreamResponse")
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert streamed == full
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def test_seed_reproducibility(llama_engine):
    kw = dict(max_tokens=20, temperature=1.0, seed=42)
    a = llama_engine.chat(MSGS, **kw)["choices"][0]["message"]["content"]
    b = llama_engine.chat(MSGS, **kw)["choices"][0]["message"]["content"]
    c = llama_engine.chat(MSGS, **{**kw, "seed": 43})["choices"][0]["message"]["content"]
    assert a == b and a != c


def test_stop_sequence(llama_engine):
    text = llama_engine.chat(MSGS, max_tokens=32, temperature=0)["choices"][0]["message"]["content"]
    word = text.split()[2]
    out = llama_engine.chat(MSGS, max_tokens=32, temperature=0, stop=[word])
    assert out["choices"][0]["message"]["content"] == text[: text.index(word)]
    assert out["choices"][0]["finish_reason"] == "stop"


def test_json_schema_output_parses_and_matches(llama_engine):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    out = llama_engine.chat([{"role": "user", "content": "Describe a person as JSON."}], max_tokens=64,
                            temperature=0.7, seed=3,
                            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}})
    value = json.loads(out["choices"][0]["message"]["content"])
    jsonschema.validate(value, schema)


def test_json_object_output_parses(llama_engine):
    out = llama_engine.chat([{"role": "user", "content": 'Reply with a JSON object with the single key "colour".'}],
                            max_tokens=128, temperature=0, response_format={"type": "json_object"})
    assert out["choices"][0]["finish_reason"] == "stop"
    assert isinstance(json.loads(out["choices"][0]["message"]["content"]), dict)


def test_n_choices_and_logprobs(llama_engine):
    out = validate_openai(llama_engine.chat(MSGS, max_tokens=6, n=2, temperature=0.9, seed=5),
                          "CreateChatCompletionResponse")
    assert [c["index"] for c in out["choices"]] == [0, 1]
    out = validate_openai(llama_engine.chat(MSGS, max_tokens=4, temperature=0, logprobs=True, top_logprobs=3),
                          "CreateChatCompletionResponse")
    content = out["choices"][0]["logprobs"]["content"]
    assert content and all(e["logprob"] <= 0 for e in content)
    assert len(content[0]["top_logprobs"]) == 3


def test_completion(llama_engine):
    out = validate_openai(llama_engine.complete("Once upon a time", max_tokens=12, temperature=0),
                          "CreateCompletionResponse")
    assert out["choices"][0]["text"] and out["usage"]["prompt_tokens"] >= 4
    chunks = list(llama_engine.complete("Once upon a time", max_tokens=8, temperature=0, stream=True))
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == \
        llama_engine.complete("Once upon a time", max_tokens=8, temperature=0)["choices"][0]["text"]


def test_tokenize_roundtrip_and_embed(llama_engine):
    ids = llama_engine.tokenize("The keeper lit the lamp.")
    assert llama_engine.detokenize(ids) == "The keeper lit the lamp."
    a, b, c = llama_engine.embed(["a lighthouse by the sea", "a lighthouse on the coast", "tax law reform"])
    dot = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731
    assert abs(dot(a, a) - 1) < 1e-3 and dot(a, b) > dot(a, c)


def test_precise_errors(llama_engine):
    with pytest.raises(ContextLengthExceededError) as err:
        llama_engine.chat(MSGS, max_tokens=9000)
    assert err.value.context_length == 8192
    with pytest.raises(InvalidParameterError):
        llama_engine.chat(MSGS, temperature=-1)
    # ids outside the vocabulary: an error, not an aborted process or a bias on another token
    with pytest.raises(InvalidParameterError, match="vocabulary") as err:
        llama_engine.detokenize([llama_engine.vocab_size])
    assert err.value.param == "ids"
    for key in (str(llama_engine.vocab_size), "-1"):
        with pytest.raises(InvalidParameterError, match="outside the vocabulary") as err:
            llama_engine.chat(MSGS, max_tokens=2, logit_bias={key: -100})
        assert err.value.param == "logit_bias"


def test_generic_token_path_matches_native_greedy(llama_engine):
    """The base-class path (render_chat + _generate_ids) gives the native result."""
    from shimmy_lab.engines.base import Engine

    native = llama_engine.chat(MSGS, max_tokens=16, temperature=0)["choices"][0]["message"]["content"]
    generic = Engine.chat(llama_engine, MSGS, max_tokens=16, temperature=0)["choices"][0]["message"]["content"]
    assert generic == native


def test_token_logprobs(llama_engine):
    e = llama_engine
    line = e.tokenize(" Mr. Knightley, a sensible man about seven or eight-and-thirty.")
    story = e.tokenize("Emma's brother-in-law, Mr. Knightley, often came to Hartfield. "
                       "Everyone in Highbury knew Mr. Knightley.")
    unrelated = e.tokenize("The quarterly tax filings were submitted to the revenue office on time.")
    with_story, with_other = e.token_logprobs(story, line), e.token_logprobs(unrelated, line)
    assert len(with_story) == len(line) and all(x <= 0 for x in with_story + with_other)
    assert sum(with_story) > sum(with_other) + 2  # the context makes the name predictable
    assert e.token_logprobs(story, line) == with_story  # no state leaks between calls
    with pytest.raises(InvalidParameterError, match="ids"):
        e.token_logprobs(story, [])
    with pytest.raises(ContextLengthExceededError):
        e.token_logprobs(story * 200, line)


def test_token_logprobs_reuses_the_prefix_the_context_holds(llama_engine):
    """Scoring after the prefix of the previous call evaluates only the new tokens, same values."""
    e = llama_engine
    story = e.tokenize("Emma's brother-in-law, Mr. Knightley, often came to Hartfield. "
                       "Everyone in Highbury knew him.")
    lines = [e.tokenize(" He was a sensible man."), e.tokenize(" The tax office closed early."),
             e.tokenize(" Emma laughed at him.")]
    reused = [e.token_logprobs(story, line) for line in lines]  # the 2nd and 3rd reuse `story`
    e.token_logprobs(e.tokenize("Something else entirely."), lines[0])  # a different prefix: full pass
    llm = e._logits_llm()
    for line, got in zip(lines, reused):
        llm.reset()  # nothing held: a full pass
        assert got == pytest.approx(e.token_logprobs(story, line), abs=1e-3)
    e.token_logprobs(story, lines[0])
    assert llm.n_tokens == len(story) + len(lines[0])
    e.token_logprobs(story[:5] + lines[1], lines[2])  # shares 5 tokens with what is held
    assert list(llm.input_ids[:llm.n_tokens]) == story[:5] + lines[1] + lines[2]


def test_token_logprobs_skips_prefix_logits_and_keeps_values(llama_engine):
    """Prefix tokens are read without output logits; values equal a pass with every logit computed."""
    import numpy as np

    e = llama_engine
    story = e.tokenize("Emma's brother-in-law, Mr. Knightley, often came to Hartfield.")
    more = e.tokenize(" Everyone in Highbury knew him well.")
    line = e.tokenize(" He was a sensible man.")
    llm = e._logits_llm()

    def full_pass(prefix, ids):
        llm.reset()
        llm.eval(prefix + ids)  # every row's logits
        rows = np.asarray(llm.scores[len(prefix) - 1: len(prefix) + len(ids) - 1], dtype=np.float64)
        norm = rows.max(1) + np.log(np.exp(rows - rows.max(1, keepdims=True)).sum(1))
        return (rows[np.arange(len(ids)), ids] - norm).tolist()

    want_long, want_short = full_pass(story + more, line), full_pass(story, line)
    llm.reset()
    assert e.token_logprobs(story + more, line) == pytest.approx(want_long, abs=1e-3)
    # a shorter prefix after a longer one: its last row was read without logits before
    assert e.token_logprobs(story, line) == pytest.approx(want_short, abs=1e-3)
    # a logprobs request after scoring does not reuse rows left without logits
    prompt = "Emma's brother-in-law, Mr. Knightley, often came to Hartfield."
    e.token_logprobs(e.tokenize(prompt + " Everyone"), line)

    def echoed():
        out = e.complete(prompt, max_tokens=1, temperature=0, logprobs=True, echo=True)
        return [x for x in out["choices"][0]["logprobs"]["token_logprobs"] if x is not None]

    assert e._stale_rows
    after = echoed()
    assert not e._stale_rows  # the request started from an empty context
    llm.reset()
    assert after and after == pytest.approx(echoed(), abs=1e-3)


def test_engines_left_open_are_closed_at_exit():
    """llama.cpp contexts still open at exit are freed by an atexit hook, not by ``Llama.__del__``
    during interpreter shutdown (which printed "Exception ignored ... TypeError" at the end of
    a pytest run holding the voice_drift scorer)."""
    import subprocess
    import sys

    code = ("from shimmy_lab.engines import llama_cpp\n"
            "from shimmy_lab.trackers import fit\n"
            "eng = fit.fit_engine('bundled')\n"
            "text = 'It was late. \"We must go home before the rain,\" said Kitty.'\n"
            "fit.line_fit(eng, text, [(13, len(text))])\n"
            "llm = eng._logprob_llm\n"
            "assert eng in llama_cpp._OPEN and llm._ctx.ctx is not None\n"
            "llama_cpp._close_open_engines()\n"
            "assert eng not in llama_cpp._OPEN and llm._ctx.ctx is None and eng._logprob_llm is None\n"
            "print('closed')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "closed", out.stderr
    assert "Exception ignored" not in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_set_threads_changes_the_context_and_not_the_tokens(llama_engine):
    import llama_cpp

    greedy = dict(max_tokens=12, temperature=0)
    before = llama_engine.chat(MSGS, **greedy)["choices"][0]["message"]["content"]
    try:
        llama_engine.set_threads(1)
        assert llama_cpp.llama_n_threads(llama_engine.llm.ctx) == 1
        assert llama_engine.chat(MSGS, **greedy)["choices"][0]["message"]["content"] == before
    finally:
        llama_engine.set_threads(llama_engine._threads)
    assert llama_cpp.llama_n_threads(llama_engine.llm.ctx) == llama_engine._threads


def test_batched_contexts_take_kv_unified_from_the_engine(llama_engine):
    import llama_cpp

    import shimmy_lab as sl

    greedy = dict(max_tokens=16, temperature=0)
    unified_engine = sl.load_engine(n_ctx=512, n_threads=1, kv_unified=True)
    views = [llama_engine.batched(2, n_threads=1), unified_engine.batched(2, n_threads=1),
             unified_engine.batched(2, n_threads=1, kv_unified=False)]
    try:
        assert llama_engine.kv_unified is False and unified_engine.kv_unified is True
        assert [v.batch.kv_unified for v in views] == [False, True, False]
        # llama.cpp's own view: a unified buffer gives each sequence the whole context
        assert llama_cpp.llama_n_ctx_seq(views[1].batch._ctx.ctx) == 2 * 512
        assert llama_cpp.llama_n_ctx_seq(views[2].batch._ctx.ctx) == 512
        ref = unified_engine.chat(MSGS, **greedy)["choices"][0]["message"]["content"]
        # alone in a fresh unified context, greedy output is still the engine's
        assert views[1].chat(MSGS, **greedy)["choices"][0]["message"]["content"] == ref
    finally:
        for view in views:
            view.batch.close()
        unified_engine.close()
