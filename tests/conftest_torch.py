"""Fixtures for the torch engines (transformers, safetensors) and the GGUF converter.

The bundled GGUF is converted once per session into a temporary directory; the
engines then load from it in about a second. Use with
``pytest_plugins = ["conftest_torch"]`` in a test module.
"""

from __future__ import annotations

import os

import pytest

#: A prompt that makes SmolLM2 write well past 32 tokens under greedy decoding.
STORY = [{"role": "user", "content": "Write a long story about a dragon who loves tea."}]
SHORT = [{"role": "user", "content": "Write one sentence about a lighthouse keeper."}]


@pytest.fixture(scope="session")
def torch_threads():
    """Two intra-op threads at most (the test machines are small)."""
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    return torch.get_num_threads()


@pytest.fixture(scope="session")
def converted_dir(tmp_path_factory, torch_threads):
    """The bundled SmolLM2 GGUF converted to config.json + model.safetensors (once)."""
    from shimmy_lab.engines.convert import convert

    return convert(out_dir=tmp_path_factory.mktemp("convert") / "smollm2")


@pytest.fixture(scope="session")
def st_engine(converted_dir):
    """The native safetensors engine on the converted weights."""
    from shimmy_lab.engines.safetensors import SafetensorsEngine

    eng = SafetensorsEngine(converted_dir, model_id="smollm2-st")
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def tf_engine(converted_dir):
    """The transformers engine on the same converted weights."""
    from shimmy_lab.engines.transformers import TransformersEngine

    eng = TransformersEngine(converted_dir, model_id="smollm2-tf")
    yield eng
    eng.close()
