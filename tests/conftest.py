"""Shared fixtures: the bundled model loaded once per session, and the fake engine."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["SHIMMY_STORE"] = "none"  # servers keep stories in memory unless a test gives a store
os.environ["SHIMMY_RESOURCES_LEVEL"] = "normal"  # the same analysis on a busy machine (tests of the levels set their own)
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _lexical_voice_check(monkeypatch):
    """Unit tests analyse with the lexical voice check unless they ask for a model.

    It is also ``sl.analyze``'s default; the environment pins it so that a developer's
    own ``SHIMMY_NARRATIVE_VOICE_MODEL`` does not change the tests.  The model stage is
    tested in ``test_trackers_voice.py``.
    """
    monkeypatch.setenv("SHIMMY_NARRATIVE_VOICE_MODEL", "none")


@pytest.fixture(scope="session")
def llama_engine():
    """The bundled SmolLM2-135M-Instruct through llama.cpp (loaded once)."""
    import shimmy_lab as sl

    eng = sl.load_engine()
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def batched_over(llama_engine):
    """A factory of batched engines over the bundled model: ``with batched_over(n_seq=4,
    n_ctx=1024) as eng`` gives a ``BatchedEngine`` whose context has ``llama_engine``'s
    llama.cpp parameters (so their greedy text is the engine's), closed after the block."""
    # here, not at the top: shimmy_lab is imported after the environment above is set
    from shimmy_lab.engines.llama_batch import BatchedEngine, BatchedLlama

    @contextmanager
    def make(n_seq: int, n_ctx: int, n_threads: int = 2):
        llm = llama_engine.llm
        batch = BatchedLlama(llama_engine.info.path, n_seq=n_seq, n_ctx=n_ctx, n_threads=n_threads,
                             model_params=llm.model_params, context_params=llm.context_params)
        try:
            yield BatchedEngine(lambda: llama_engine, batch)
        finally:
            batch.close()
    return make


@pytest.fixture(scope="session", autouse=True)
def _fake_engine_installed(tmp_path_factory):
    """The ``fake`` engine (:mod:`fake_engine`), installed as another package would install
    an engine: a distribution whose entry point is in the ``shimmy_lab.engines`` group."""
    from shimmy_lab.engines import ENTRY_POINT_GROUP, available_engines

    site = tmp_path_factory.mktemp("site")
    info = site / "shimmy_lab_test_engines-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shimmy-lab-test-engines\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nfake = fake_engine:FakeEngine\n")
    sys.path.append(str(site))
    available_engines(refresh=True)
    yield
    sys.path.remove(str(site))
    available_engines(refresh=True)


@pytest.fixture
def fake_engine():
    """The fake engine over a tiny character vocabulary (fast unit tests): it says
    ``"Hello, world! Bye."`` and stops, in a context of 64 tokens."""
    from fake_engine import SCRIPT, FakeEngine

    return FakeEngine(context_length=64, script=SCRIPT, repeat=False)
