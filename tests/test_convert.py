"""GGUF -> safetensors directory conversion (the bundled model, converted once per session)."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from shimmy_lab.errors import InvalidParameterError, ModelNotFoundError  # noqa: E402

pytest_plugins = ["conftest_torch"]
pytestmark = pytest.mark.slow

FILES = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
         "generation_config.json", "shimmy_convert.json"}


def test_output_files(converted_dir):
    names = {p.name for p in converted_dir.iterdir()}
    assert FILES <= names
    assert not [p for p in converted_dir.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_config_is_a_plain_llama(converted_dir):
    cfg = json.loads((converted_dir / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["model_type"] == "llama"
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["dtype"] == "float32"
    assert cfg["tie_word_embeddings"] is True and cfg["rope_theta"] == 100000.0
    assert cfg["max_position_embeddings"] == 8192


def test_tokenizer_files(converted_dir):
    tok_cfg = json.loads((converted_dir / "tokenizer_config.json").read_text())
    assert "<|im_start|>" in tok_cfg["chat_template"] and tok_cfg["eos_token"] == "<|im_end|>"
    special = json.loads((converted_dir / "special_tokens_map.json").read_text())
    assert special["eos_token"] == "<|im_end|>"
    gen = json.loads((converted_dir / "generation_config.json").read_text())
    assert gen["eos_token_id"] == 2


def test_weights(converted_dir):
    from safetensors import safe_open

    with safe_open(str(converted_dir / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        emb = f.get_slice("model.embed_tokens.weight")
        assert emb.get_shape() == [49152, 576] and emb.get_dtype() == "F32"
    assert "lm_head.weight" not in keys  # tied: stored once
    assert len([k for k in keys if k.endswith("q_proj.weight")]) == 30


def test_provenance(converted_dir):
    from shimmy_lab.registry import bundled_model_path

    prov = json.loads((converted_dir / "shimmy_convert.json").read_text())
    assert prov["source"] == str(bundled_model_path().resolve()) and prov["source_quantization"] == "Q4_1"
    assert prov["tool"] == "shimmy_lab.convert" and FILES <= set(prov["files"])


def test_registry_lists_the_converted_dir(converted_dir):
    from shimmy_lab.registry import discover

    entries = discover([("env", converted_dir.parent)])
    entry = next(e for e in entries if e.path == str(converted_dir))
    assert entry.engine == "safetensors" and entry.format == "safetensors" and entry.context_length == 8192


def test_existing_output_is_an_error_unless_overwrite(converted_dir):
    from shimmy_lab.engines.convert import convert

    t = time.perf_counter()
    with pytest.raises(InvalidParameterError, match="overwrite=True") as exc:
        convert(out_dir=converted_dir)
    assert time.perf_counter() - t < 1.0  # refused before loading anything
    assert exc.value.param == "out_dir"


def test_bad_arguments(tmp_path):
    from shimmy_lab.engines.convert import convert

    with pytest.raises(ModelNotFoundError):
        convert(tmp_path / "missing.gguf", tmp_path / "out")
    with pytest.raises(InvalidParameterError, match="dtype"):
        convert(out_dir=tmp_path / "out", dtype="int2")
    assert not (tmp_path / "out").exists()


def test_failure_leaves_nothing_and_overwrite_replaces(tf_engine, tmp_path, monkeypatch):
    import safetensors.torch

    from shimmy_lab.engines.convert import export_pretrained

    out = tmp_path / "model"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(safetensors.torch, "save_file", boom)
        with pytest.raises(OSError, match="disk full"):
            export_pretrained(tf_engine.model, tf_engine.tokenizer, out)
    assert list(tmp_path.iterdir()) == []  # no half-written output, no temp dir

    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(InvalidParameterError):
        export_pretrained(tf_engine.model, tf_engine.tokenizer, out)
    export_pretrained(tf_engine.model, tf_engine.tokenizer, out, dtype="bfloat16", overwrite=True)
    assert not (out / "stale.txt").exists() and FILES <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
