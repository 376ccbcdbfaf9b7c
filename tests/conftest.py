"""Shared fixtures: the bundled model loaded once per session, and a fake engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
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


@pytest.fixture
def fake_engine():
    """A duck-typed engine over a tiny character vocabulary (fast unit tests)."""
    from fakes import FakeEngine

    return FakeEngine()
