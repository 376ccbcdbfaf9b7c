"""Model discovery on a temporary tree, the Lab's LRU, and error messages."""

import json
import shutil

import pytest

import shimmy_lab as sl
from shimmy_lab.engines import ENGINES, engine_class, guess_engine
from shimmy_lab.errors import EngineNotFoundError, ModelNotFoundError
from shimmy_lab.registry import BUNDLED_ID, bundled_model_path, discover, resolve


@pytest.fixture
def model_tree(tmp_path):
    gguf = bundled_model_path()
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "story-model.gguf").symlink_to(gguf)
    hf = tmp_path / "env" / "tiny-hf"
    hf.mkdir(parents=True)
    (hf / "config.json").write_text(json.dumps({"model_type": "llama", "max_position_embeddings": 2048,
                                                 "torch_dtype": "bfloat16"}))
    (hf / "model.safetensors").write_bytes(b"\0" * 16)
    ollama = tmp_path / "ollama"
    (ollama / "manifests" / "registry.ollama.ai" / "library" / "smol").mkdir(parents=True)
    (ollama / "blobs").mkdir()
    (ollama / "blobs" / "sha256-abc").symlink_to(gguf)
    (ollama / "manifests" / "registry.ollama.ai" / "library" / "smol" / "latest").write_text(json.dumps(
        {"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:abc"}]}))
    hub = tmp_path / "hub" / "models--org--tiny" / "snapshots" / "123"
    hub.mkdir(parents=True)
    shutil.copy(hf / "config.json", hub / "config.json")
    (hub / "model.safetensors").write_bytes(b"\0" * 8)
    return tmp_path


def test_discovery_finds_every_kind(model_tree):
    paths = [("local", model_tree / "local"), ("env", model_tree / "env"),
             ("ollama", model_tree / "ollama"), ("huggingface", model_tree / "hub"),
             ("lmstudio", model_tree / "missing")]
    entries = {e.id: e for e in discover(paths)}
    assert entries[BUNDLED_ID].source == "bundled"
    assert entries["story-model"].context_length == 8192 and entries["story-model"].quantization == "Q4_1"
    assert entries["tiny-hf"].engine in ("transformers", "safetensors")
    assert entries["tiny-hf"].context_length == 2048
    assert entries["smol:latest"].format == "gguf"
    assert entries["org/tiny"].source == "huggingface"


def test_env_paths_are_searched(model_tree, monkeypatch):
    monkeypatch.setenv("SHIMMY_MODEL_PATHS", str(model_tree / "local"))
    assert "story-model" in {e.id for e in discover()}


def test_models_dataframe():
    df = sl.Lab().models()
    assert list(df.columns) == ["id", "engine", "format", "path", "size_bytes", "context_length",
                                "quantization", "source", "loaded"]
    assert BUNDLED_ID in set(df["id"]) and not df["loaded"].any()


def test_unknown_model_lists_known_ids():
    with pytest.raises(ModelNotFoundError) as err:
        resolve("no-such-model")
    assert BUNDLED_ID in str(err.value) and err.value.status == 404
    assert err.value.to_openai()["error"]["code"] == "model_not_found"


def test_unknown_engine_lists_installed():
    with pytest.raises(EngineNotFoundError) as err:
        engine_class("vllm")
    assert all(name in str(err.value) for name in ENGINES)


def test_guess_engine(model_tree):
    assert guess_engine(bundled_model_path()) == "llama_cpp"
    assert guess_engine(model_tree / "env" / "tiny-hf") == "transformers"


def test_lab_lru_evicts_and_closes(monkeypatch):
    from fakes import FakeEngine

    monkeypatch.setitem(ENGINES, "fake", "fakes:FakeEngine")
    lab = sl.Lab(max_loaded=1)
    a = lab.engine(engine="fake")
    assert lab.engine(engine="fake") is a
    b = lab.engine(str(bundled_model_path()), engine="fake")
    assert a.closed and lab.loaded == [b]
    assert isinstance(b, FakeEngine)


def test_lab_chat_streams_and_returns_text(monkeypatch, capsys):
    monkeypatch.setitem(ENGINES, "fake", "fakes:FakeEngine")
    lab = sl.Lab()
    monkeypatch.setattr(lab, "engine", lambda model=None: engine_class("fake")("x"))
    assert lab.chat("hi") == "Hello, world! Bye."
    assert "Hello, world! Bye." in capsys.readouterr().out
