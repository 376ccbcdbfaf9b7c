"""The native safetensors engine (pure-torch Llama) on the converted bundled model."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from shimmy_lab.engines.params import GenerationParams  # noqa: E402
from shimmy_lab.errors import ModelNotFoundError  # noqa: E402

pytest.register_assert_rewrite("torch_engine_cases")
from torch_engine_cases import *  # noqa: E402,F401,F403
from torch_engine_cases import STORY  # noqa: E402

pytest_plugins = ["conftest_torch"]
pytestmark = pytest.mark.slow


@pytest.fixture
def engine(st_engine):
    return st_engine


def test_info(st_engine, converted_dir):
    info = st_engine.info
    assert info.id == "smollm2-st" and info.engine == "safetensors" and info.format == "safetensors"
    assert info.context_length == 8192 and info.quantization == "float32" and info.family == "llama"
    assert info.path == str(converted_dir)


def test_chat_template_matches_transformers(st_engine, tf_engine):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Name a colour."}]
    assert st_engine.render_chat(msgs) == tf_engine.render_chat(msgs)
    assert st_engine.render_chat(msgs[1:2]) == tf_engine.render_chat(msgs[1:2])


def test_greedy_tokens_match_transformers(st_engine, tf_engine):
    """The key check: same weights, temperature 0 -> the same 32 tokens."""
    prompt = st_engine.tokenize(st_engine.render_chat(STORY))
    assert prompt == tf_engine.tokenize(tf_engine.render_chat(STORY))
    params = GenerationParams(temperature=0, logprobs=True)
    native = list(st_engine._generate_ids(prompt, params, 32))
    reference = list(tf_engine._generate_ids(prompt, params, 32))
    assert len(native) == 32
    assert [s.token_id for s in native] == [s.token_id for s in reference]
    assert [s.logprob for s in native] == pytest.approx([s.logprob for s in reference], abs=1e-4)
    text = st_engine.detokenize([s.token_id for s in native])
    assert text == tf_engine.detokenize([s.token_id for s in reference]) and len(text.split()) > 15


def test_load_engine_guesses_safetensors(converted_dir):
    from shimmy_lab.engines import guess_engine

    assert guess_engine(converted_dir) == "safetensors"


def test_missing_and_unsupported_models(tmp_path):
    from shimmy_lab.engines._llama_torch import LlamaConfig, UnsupportedModelError
    from shimmy_lab.engines.safetensors import SafetensorsEngine

    with pytest.raises(ModelNotFoundError):
        SafetensorsEngine(tmp_path / "nope")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UnsupportedModelError, match="tokenizer.json"):
        SafetensorsEngine(tmp_path)
    with pytest.raises(UnsupportedModelError, match="gpt2"):
        LlamaConfig.from_dict({"model_type": "gpt2"})


def test_rope_theta_from_either_config_layout():
    from shimmy_lab.engines._llama_torch import LlamaConfig

    base = dict(vocab_size=8, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2)
    assert LlamaConfig.from_dict({**base, "rope_theta": 5e5}).rope_theta == 5e5
    new = LlamaConfig.from_dict({**base, "rope_parameters": {"rope_theta": 1e5, "rope_type": "default"}})
    assert new.rope_theta == 1e5 and new.head_dim == 4 and new.num_key_value_heads == 2


def test_chunked_prefill_and_cache_growth_match_one_pass(st_engine):
    """A prompt fed in pieces (explicit causal mask, growing cache) gives the same logits."""
    import torch

    ids = st_engine.tokenize(st_engine.render_chat(STORY))
    model = st_engine.model
    with torch.inference_mode():
        whole = model(torch.tensor([ids]), model.new_cache(len(ids)))
        cache = model.new_cache(4)  # forces the cache to grow twice
        model(torch.tensor([ids[:5]]), cache)
        model(torch.tensor([ids[5:-1]]), cache)
        pieces = model(torch.tensor([ids[-1:]]), cache)
    assert cache.pos == len(ids)
    assert torch.allclose(whole, pieces, atol=1e-4)
    assert int(whole.argmax()) == int(pieces.argmax())
