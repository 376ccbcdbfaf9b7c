"""The native safetensors engine (pure-torch Llama) on the converted bundled model."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from conftest_torch import STORY  # noqa: E402
from shimmy_lab.engines.params import GenerationParams  # noqa: E402
from shimmy_lab.errors import ModelNotFoundError  # noqa: E402
from torch_engine_cases import *  # noqa: E402,F401,F403

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
    a = st_engine.chat(STORY, max_tokens=32, temperature=0)["choices"][0]["message"]["content"]
    b = tf_engine.chat(STORY, max_tokens=32, temperature=0)["choices"][0]["message"]["content"]
    assert a == b


def test_load_engine_guesses_safetensors(converted_dir):
    from shimmy_lab.engines import guess_engine

    assert guess_engine(converted_dir) == "safetensors"


def test_missing_and_unsupported_models(tmp_path):
    from shimmy_lab.engines.llama_torch import LlamaConfig, UnsupportedModelError
    from shimmy_lab.engines.safetensors import SafetensorsEngine

    with pytest.raises(ModelNotFoundError):
        SafetensorsEngine(tmp_path / "nope")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UnsupportedModelError, match="tokenizer.json"):
        SafetensorsEngine(tmp_path)
    with pytest.raises(UnsupportedModelError, match="gpt2"):
        LlamaConfig.from_dict({"model_type": "gpt2"})


def test_rope_theta_from_either_config_layout():
    from shimmy_lab.engines.llama_torch import LlamaConfig

    base = dict(vocab_size=8, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2)
    assert LlamaConfig.from_dict({**base, "rope_theta": 5e5}).rope_theta == 5e5
    new = LlamaConfig.from_dict({**base, "rope_parameters": {"rope_theta": 1e5, "rope_type": "default"}})
    assert new.rope_theta == 1e5 and new.head_dim == 4 and new.num_key_value_heads == 2
