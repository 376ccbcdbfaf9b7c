"""A deterministic fake engine: the base-class machinery without a real model.

Its vocabulary is the printable ASCII characters (token id = code point); it
"generates" a fixed script, one character per token, then end-of-sequence.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from shimmy_lab.engines import Engine, EngineInfo, TokenStep
from shimmy_lab.engines.params import GenerationParams


class FakeEngine(Engine):
    name = "fake"
    unsupported = frozenset({"response_format"})

    def __init__(self, path: str = "fake.gguf", *, model_id: str = "fake-model", script: str = "Hello, world! Bye.",
                 context_length: int = 64, **kwargs: Any):
        self.script = script
        self.closed = False
        self._info = EngineInfo(id=model_id, engine=self.name, path=str(path), format="gguf",
                                context_length=context_length, quantization=None, family="fake")

    @property
    def info(self) -> EngineInfo:
        return self._info

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return [ord(c) for c in text]

    def detokenize(self, ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in ids)

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def _generate_ids(self, prompt_ids: list[int], params: GenerationParams, max_new: int) -> Iterator[TokenStep]:
        text = self.script if params.seed is None else f"{self.script}{params.seed}"
        for i, ch in enumerate(text[:max_new]):
            yield TokenStep(ord(ch), logprob=-0.5, top_logprobs=[(ord(ch), -0.5), (ord("?"), -2.0)])

    def embed(self, texts):
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [[float(len(t)), 1.0] for t in texts]

    def close(self) -> None:
        self.closed = True
