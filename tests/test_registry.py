"""Model discovery on a temporary tree, the engine table, the Lab's LRU, and error messages."""

import json
import shutil
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import shimmy_lab as sl
from fake_engine import FAKE_ID, FakeEngine, fake_entry, fake_lab
from shimmy_lab.engines import (ENGINES, ENTRY_POINT_GROUP, available_engines, engine_class, engine_classes,
                                guess_engine)
from shimmy_lab.engines.files import read_gguf_header
from shimmy_lab.errors import EngineNotFoundError, ModelNotFoundError
from shimmy_lab.lab import Lab, load_engine
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
    assert all(name in str(err.value) for name in available_engines())
    assert set(ENGINES) < set(err.value.available)


def test_guess_engine(model_tree):
    assert guess_engine(bundled_model_path()) == "llama_cpp"
    assert guess_engine(model_tree / "env" / "tiny-hf") == "transformers"
    (model_tree / "env" / "tiny-hf" / "shimmy_convert.json").write_text("{}")
    assert guess_engine(model_tree / "env" / "tiny-hf") == "safetensors"


def test_engine_classes_open_and_describe_model_files(model_tree):
    classes = dict(engine_classes())
    gguf, hf = model_tree / "local" / "story-model.gguf", model_tree / "env" / "tiny-hf"
    assert classes["llama_cpp"].guess_can_open(gguf) and not classes["llama_cpp"].guess_can_open(hf)
    assert classes["llama_cpp"].guess_can_open(model_tree / "ollama" / "blobs" / "sha256-abc")  # by its magic
    assert not classes["llama_cpp"].guess_can_open(hf / "config.json")
    assert classes["transformers"].guess_can_open(hf) and not classes["safetensors"].guess_can_open(hf)
    assert classes["llama_cpp"].describe(gguf) == {
        "id": "story-model", "engine": "llama_cpp", "format": "gguf", "size_bytes": gguf.stat().st_size,
        "context_length": 8192, "quantization": "Q4_1"}
    assert classes["transformers"].describe(hf) == {
        "id": "tiny-hf", "engine": "transformers", "format": "hf", "size_bytes": 16,
        "context_length": 2048, "quantization": "bfloat16"}
    assert read_gguf_header(gguf) == (8192, "Q4_1") and read_gguf_header(hf / "config.json") == (None, None)


def test_the_builtin_engines_are_found_by_walking_the_package():
    """Each engine module declares its engine; the most specific first (``Engine.priority``)."""
    assert list(ENGINES.items()) == [("llama_cpp", "shimmy_lab.engines.llama_cpp:LlamaCppEngine"),
                                     ("safetensors", "shimmy_lab.engines.safetensors:SafetensorsEngine"),
                                     ("transformers", "shimmy_lab.engines.transformers:TransformersEngine")]
    classes = dict(engine_classes())
    priorities = [classes[name].priority for name in ENGINES]
    assert priorities == sorted(priorities) and len(set(priorities)) == 3


def test_listing_the_engines_loads_no_backend_library():
    code = ("import json, sys; import shimmy_lab.engines as e; e.available_engines(); e.engine_classes(); "
            "e.guess_engine('x.gguf'); print(json.dumps([sorted(e.ENGINES), "
            "[m for m in ('torch', 'transformers', 'llama_cpp') if m in sys.modules], "
            "'shimmy_lab.engines.transformers' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    walked, backends, imported = json.loads(out.stdout)
    assert walked == ["llama_cpp", "safetensors", "transformers"] and imported  # the walk ran...
    assert backends == []  # ...and loaded none of the backend libraries


MY_ENGINE = """
from pathlib import Path

from fake_engine import FakeEngine


class MyEngine(FakeEngine):
    name = "my_engine"
    priority = 25  # after safetensors, before transformers

    @classmethod
    def guess_can_open(cls, path):
        return Path(path).suffix == ".mine"
"""


@pytest.fixture
def engines_dir(tmp_path, monkeypatch):
    """A folder on the path of ``shimmy_lab.engines``: a module written there is one of its modules."""
    import shimmy_lab.engines as engines

    folder = tmp_path / "engines"
    folder.mkdir()
    monkeypatch.setattr(engines, "__path__", [*engines.__path__, str(folder)])
    yield folder
    monkeypatch.undo()
    for path in folder.glob("*.py"):
        sys.modules.pop(f"shimmy_lab.engines.{path.stem}", None)
        vars(engines).pop(path.stem, None)
    available_engines(refresh=True)


def test_adding_an_engine_touches_its_module_only(engines_dir, tmp_path):
    import shimmy_lab.engines as engines

    (engines_dir / "my_engine.py").write_text(MY_ENGINE)
    (engines_dir / "_my_helper.py").write_text("raise RuntimeError('a private module is not walked')\n")
    assert list(available_engines(refresh=True))[:4] == ["llama_cpp", "safetensors", "my_engine", "transformers"]
    assert engines.ENGINES["my_engine"] == "shimmy_lab.engines.my_engine:MyEngine"
    assert "fake" not in engines.ENGINES  # FakeEngine is imported by my_engine, not defined there
    assert "shimmy_lab.engines._my_helper" not in sys.modules
    my_engine = engine_class("my_engine")
    assert my_engine.__module__ == "shimmy_lab.engines.my_engine" and issubclass(my_engine, FakeEngine)
    (tmp_path / "tiny.mine").write_bytes(b"\0" * 4)
    assert guess_engine(tmp_path / "tiny.mine") == "my_engine"
    assert {e.id: e.engine for e in discover([("local", tmp_path)])}["tiny"] == "my_engine"


def test_a_module_with_two_engines_of_its_name_is_refused(engines_dir):
    (engines_dir / "my_engine.py").write_text(MY_ENGINE + "\n\nclass Again(MyEngine):\n    pass\n")
    with pytest.raises(TypeError, match="several engines named 'my_engine': MyEngine, Again"):
        available_engines(refresh=True)


def test_an_installed_package_adds_an_engine(tmp_path, monkeypatch):
    """An engine declared in the entry-point group is listed, asked about files, and loaded."""
    import shimmy_lab.engines as engines

    class Other(FakeEngine):
        name = "other"

        @classmethod
        def guess_can_open(cls, path):
            return Path(path).suffix == ".other"

    monkeypatch.setattr(FakeEngine, "Other", Other, raising=False)
    ep = EntryPoint("other", "fake_engine:FakeEngine.Other", ENTRY_POINT_GROUP)
    monkeypatch.setattr(engines, "entry_points", lambda group: [ep] if group == ENTRY_POINT_GROUP else [])
    (tmp_path / "tiny.other").write_bytes(b"\0" * 5)
    (tmp_path / "tiny.fake").write_bytes(b"\0" * 3)  # "fake" is no longer installed
    found = {e.id: e for e in discover([("local", tmp_path)])}
    assert found["tiny"].engine == "other" and found["tiny"].size_bytes == 5 and found["tiny"].format == "other"
    assert list(available_engines())[:3] == list(ENGINES) and engine_class("other") is Other
    assert isinstance(load_engine(tmp_path / "tiny.other"), Other)
    monkeypatch.undo()
    available_engines(refresh=True)


def test_the_fake_engine_is_installed_through_its_entry_point(tmp_path):
    (tmp_path / "tiny.fake").write_bytes(b"\0" * 3)
    entry = resolve(tmp_path / "tiny.fake")
    assert (entry.id, entry.engine, entry.context_length, entry.source) == ("tiny", "fake", 512, "path")
    assert {e.id: e.engine for e in discover([("local", tmp_path)])}["tiny"] == "fake"
    eng = load_engine(tmp_path / "tiny.fake", n_ctx=9)
    assert isinstance(eng, FakeEngine) and eng.model_id == "tiny" and eng.options == {"n_ctx": 9}


def test_capabilities_are_attributes():
    classes = dict(engine_classes())
    assert classes["llama_cpp"].supports_batching and classes["llama_cpp"].supports_grammar
    assert not classes["transformers"].supports_batching and not classes["safetensors"].supports_grammar
    assert all(classes[n].supports_logprobs for n in ENGINES)
    assert classes["llama_cpp"].scoring_options(512) == {"n_ctx": 512, "logprobs_ctx": 512}
    assert classes["transformers"].scoring_options(512) == {}
    with pytest.raises(sl.errors.UnsupportedParameterError, match="batching"):
        FakeEngine().batched(2)


def test_lab_with_fixed_entries_keeps_them():
    lab = fake_lab()
    assert [e.id for e in lab.entries(refresh=True)] == [FAKE_ID, "other-model"]
    assert lab.resolve(None).id == FAKE_ID and set(lab.models()["id"]) == {FAKE_ID, "other-model"}


def test_lab_lru_evicts_and_closes():
    lab = fake_lab(max_loaded=1)
    a = lab.engine()
    assert lab.engine(engine="fake") is a and isinstance(a, FakeEngine)
    b = lab.engine("other-model")
    assert a.closed and lab.loaded == [b]
    assert lab.models().set_index("id")["loaded"].to_dict() == {FAKE_ID: False, "other-model": True}


def test_lab_engine_options_and_unkept_engines():
    lab = fake_lab(engine_kwargs={"n_threads": 2})
    plain, small = lab.engine(), lab.engine(n_ctx=512)
    assert plain is not small and lab.engine(n_ctx=512) is small
    assert plain.options == {"n_threads": 2} and small.options == {"n_threads": 2, "n_ctx": 512}
    own = lab.engine(keep=False)
    assert own not in lab.loaded and own is not plain and own.options == {"n_threads": 2}


def test_fit_engine_comes_from_the_lab():
    from shimmy_lab.trackers.fit import fit_engine

    lab = fake_lab(max_loaded=1)
    eng = fit_engine(FAKE_ID, lab=lab)
    assert lab.loaded == [eng] and fit_engine(FAKE_ID, lab=lab) is eng
    assert eng.options == {}  # the fake engine asks for no scoring options
    lab.engine("other-model")  # the lab's limit applies to the scoring engine too
    assert eng.closed and fit_engine(FAKE_ID, lab=lab) is not eng


def test_lab_serve_is_a_deprecated_shim(monkeypatch):
    import shimmy_lab.server.run as run

    monkeypatch.setattr(run, "serve", lambda lab, **kw: (lab, kw))
    lab = fake_lab()
    with pytest.warns(DeprecationWarning, match="sl.serve"):
        assert lab.serve(port=0) == (lab, {"port": 0, "background": True})


def test_lab_chat_streams_and_returns_text(capsys):
    lab = Lab(FAKE_ID, entries=[fake_entry()], engine_kwargs={"script": "Hello, world! Bye.", "repeat": False})
    assert lab.chat("hi") == "Hello, world! Bye."
    assert "Hello, world! Bye." in capsys.readouterr().out
