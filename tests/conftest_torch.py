"""Fixtures for the torch engines (transformers, safetensors) and the GGUF converter.

The bundled GGUF is converted once per session into a temporary directory; the
engines then load from it in about a second. Use with
``pytest_plugins = ["conftest_torch"]`` in a test module.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def torch_threads():
    """One intra-op thread: decoding a 135M model is memory-bound (1 thread is as fast
    as 2 here) and a single thread degrades gracefully when the machine is busy."""
    import torch

    torch.set_num_threads(1)
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
