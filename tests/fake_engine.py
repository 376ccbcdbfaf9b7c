"""A tiny duck-typed engine for fast server tests (no model, deterministic text).

It subclasses the real :class:`~shimmy_lab.engines.base.Engine`, so the shapes of its
answers come from the same code as the real engines'; tokens are characters.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator, Sequence

from shimmy_lab.engines import ENGINES
from shimmy_lab.engines.base import Engine, EngineInfo, TokenStep
from shimmy_lab.lab import Lab
from shimmy_lab.registry import ModelEntry

FAKE_ID = "fake-model"
TEXT = "Once upon a time there was a fox who wrote stories. "


class FakeEngine(Engine):
    """Generates ``TEXT`` one character per token, sleeping ``delay`` s per token."""

    name = "fake"
    delay = 0.0
    instances: list["FakeEngine"] = []

    def __init__(self, path: str = "fake.gguf", *, model_id: str = FAKE_ID, context_length: int = 512, **kwargs: Any):
        self._info = EngineInfo(id=model_id, engine="fake", path=str(path), format="gguf",
                                context_length=context_length, quantization="Q4_1")
        self.generated = 0
        self.cancelled = 0
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self.closed = False
        FakeEngine.instances.append(self)

    @property
    def info(self) -> EngineInfo:
        return self._info

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return ([1] if add_special else []) + [ord(c) for c in text]

    def detokenize(self, ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in ids if i > 1)

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        return "".join(f"<{m['role']}>{m['content']}\n" for m in messages) + "<assistant>"

    def _generate_ids(self, prompt_ids, params, max_new) -> Iterator[TokenStep]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        done = 0
        try:
            for i in range(max_new):
                if self.delay:
                    time.sleep(self.delay)
                done += 1
                self.generated += 1
                yield TokenStep(ord(TEXT[(i + (params.seed or 0)) % len(TEXT)]), logprob=-0.5,
                                top_logprobs=[(ord("a"), -0.5), (ord("b"), -1.0)])
        finally:
            if done < max_new:
                self.cancelled += 1
            with self._lock:
                self.active -= 1

    def embed(self, texts: str | Sequence[str]) -> list[list[float]]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [[float(len(t)), 1.0, 0.5] for t in texts]

    def close(self) -> None:
        self.closed = True


def fake_lab(**kwargs: Any) -> Lab:
    """A Lab whose registry lists one fake model, served by :class:`FakeEngine`."""
    ENGINES["fake"] = f"{FakeEngine.__module__}:FakeEngine"
    lab = Lab(FAKE_ID, **kwargs)
    lab._entries = [ModelEntry(FAKE_ID, "fake", "gguf", "fake.gguf", 0, 512, "Q4_1", "test"),
                    ModelEntry("other-model", "fake", "gguf", "other.gguf", 0, 512, "Q4_1", "test")]
    return lab
