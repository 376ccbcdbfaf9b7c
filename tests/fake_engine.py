"""The fake engine of the test suite (no model, deterministic text).

It subclasses the real :class:`~shimmy_lab.engines.base.Engine`, so the shapes of its
answers come from the same code as the real engines'; tokens are characters (id = code
point, 1 = start of text). ``conftest.py`` installs it as the ``fake`` engine through the
``shimmy_lab.engines`` entry-point group, as another package would; it opens ``*.fake``
files.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from shimmy_lab.engines.base import Engine, EngineInfo, TokenStep
from shimmy_lab.lab import Lab
from shimmy_lab.registry import ModelEntry

FAKE_ID = "fake-model"
TEXT = "Once upon a time there was a fox who wrote stories. "
SCRIPT = "Hello, world! Bye."


class FakeEngine(Engine):
    """Generates ``script``, one character per token, sleeping ``delay`` s per token.

    With ``repeat`` (the default) the script goes round for ``max_tokens`` tokens,
    starting ``seed`` characters in; without, it ends after the script (the seed's
    digits appended).
    """

    name = "fake"
    unsupported = frozenset({"response_format"})
    delay = 0.0
    instances: list["FakeEngine"] = []

    def __init__(self, path: str = "fake.gguf", *, model_id: str = FAKE_ID, context_length: int = 512,
                 script: str = TEXT, repeat: bool = True, **kwargs: Any):
        self._info = EngineInfo(id=model_id, engine="fake", path=str(path), format="gguf",
                                context_length=context_length, quantization="Q4_1", family="fake")
        self.script = script
        self.repeat = repeat
        self.options = kwargs
        self.generated = 0
        self.cancelled = 0
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self.closed = False
        FakeEngine.instances.append(self)

    @classmethod
    def guess_can_open(cls, path) -> bool:
        return Path(path).is_file() and Path(path).suffix == ".fake"

    @classmethod
    def describe(cls, path) -> dict[str, Any]:
        return {**super().describe(path), "context_length": 512, "quantization": "Q4_1"}

    @property
    def info(self) -> EngineInfo:
        return self._info

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return ([1] if add_special else []) + [ord(c) for c in text]

    def detokenize(self, ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in ids if i > 1)

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def _text(self, seed: int | None, max_new: int) -> str:
        if not self.repeat:
            return (self.script if seed is None else f"{self.script}{seed}")[:max_new]
        return "".join(self.script[(i + (seed or 0)) % len(self.script)] for i in range(max_new))

    def _generate_ids(self, prompt_ids, params, max_new) -> Iterator[TokenStep]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        text = self._text(params.seed, max_new)
        done = 0
        try:
            for ch in text:
                if self.delay:
                    time.sleep(self.delay)
                done += 1
                self.generated += 1
                yield TokenStep(ord(ch), logprob=-0.5, top_logprobs=[(ord(ch), -0.5), (ord("?"), -2.0)])
        finally:
            if done < len(text):
                self.cancelled += 1
            with self._lock:
                self.active -= 1

    def embed(self, texts: str | Sequence[str]) -> list[list[float]]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [[float(len(t)), 1.0, 0.5] for t in texts]

    def close(self) -> None:
        self.closed = True


def fake_entry(model_id: str = FAKE_ID) -> ModelEntry:
    """A registry entry served by the ``fake`` engine."""
    return ModelEntry(model_id, "fake", "gguf", f"{model_id}.fake", 0, 512, "Q4_1", "test")


def fake_lab(**kwargs: Any) -> Lab:
    """A Lab whose registry lists two fake models (``fake-model``, ``other-model``)."""
    return Lab(FAKE_ID, entries=[fake_entry(), fake_entry("other-model")], **kwargs)
