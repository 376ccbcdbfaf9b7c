"""The transformers engine on the converted bundled model, and on the GGUF file itself."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from shimmy_lab.engines.params import GenerationParams  # noqa: E402
from shimmy_lab.errors import ModelNotFoundError  # noqa: E402

pytest.register_assert_rewrite("torch_engine_cases")
from torch_engine_cases import *  # noqa: E402,F401,F403
from torch_engine_cases import STORY  # noqa: E402

pytest_plugins = ["conftest_torch"]
pytestmark = pytest.mark.slow


@pytest.fixture
def engine(tf_engine):
    return tf_engine


def test_info(tf_engine, converted_dir):
    info = tf_engine.info
    assert info.id == "smollm2-tf" and info.engine == "transformers" and info.format == "hf"
    assert info.context_length == 8192 and info.quantization == "float32" and info.family == "llama"


def test_missing_path():
    from shimmy_lab.engines.transformers import TransformersEngine

    with pytest.raises(ModelNotFoundError):
        TransformersEngine("/nonexistent/model.gguf")


def test_n_ctx_is_the_context_window(converted_dir):
    from shimmy_lab.engines.transformers import TransformersEngine
    from shimmy_lab.errors import ContextLengthExceededError

    eng = TransformersEngine(converted_dir, n_ctx=64)
    assert eng.info.context_length == 64
    with pytest.raises(ContextLengthExceededError, match="maximum context length is 64"):
        eng.chat(STORY, max_tokens=40)
    eng.close()


def test_gguf_file_loads_and_matches_converted(tf_engine, torch_threads):
    """Loading the GGUF directly (dequantized) gives the same greedy tokens as its conversion."""
    import shimmy_lab as sl
    from shimmy_lab.registry import bundled_model_path

    eng = sl.load_engine(bundled_model_path(), engine="transformers")
    try:
        info = eng.info
        assert info.format == "gguf" and info.quantization == "Q4_1" and info.engine == "transformers"
        assert info.context_length == 8192
        prompt = eng.tokenize(eng.render_chat(STORY))
        params = GenerationParams(temperature=0)
        ids = [s.token_id for s in eng._generate_ids(prompt, params, 16)]
        assert ids == [s.token_id for s in tf_engine._generate_ids(prompt, params, 16)]
    finally:
        eng.close()
