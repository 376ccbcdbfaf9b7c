"""Hugging Face transformers engine: a model directory or a GGUF file (dequantized).

Generation is a manual KV-cache token loop (:func:`~shimmy_lab.engines.sampling.token_loop`)
rather than ``model.generate`` with a ``TextStreamer``: the base class already decodes
incrementally from :meth:`_generate_ids` (which is itself a streamer), and a manual
loop gives per-token log-probabilities and *exactly* the sampler of the native
``safetensors`` engine, so the two engines can be compared token for token.

JSON-constrained output (``response_format``) needs a grammar and is only available
with the ``llama_cpp`` engine.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import InvalidParameterError, ModelNotFoundError
from .base import Engine, EngineInfo, TokenStep, check_scoring
from .convert import load_gguf_model
from .files import describe_model_dir, is_model_dir, read_gguf_header
from .params import GenerationParams
from .sampling import (check_extra, check_params, end_of_generation_ids, gather_logprobs, grammar_constraint,
                       resolve_context, token_loop, torch_dtype)

__all__ = ["TransformersEngine"]


class TransformersEngine(Engine):
    """Causal LM through ``transformers.AutoModelForCausalLM``.

    Parameters
    ----------
    path : str or Path
        A model directory (``config.json`` + weights) or a ``.gguf`` file
        (loaded with ``gguf_file=``, dequantized to ``dtype``; needs ``accelerate``
        and ``gguf``).
    model_id : str, optional
        Id reported in responses; default the directory or file name.
    n_ctx : int, optional
        Context window; default the model's ``max_position_embeddings``.
    dtype : {"float32", "bfloat16", "float16"}
        Weight dtype.
    n_threads : int, optional
        torch intra-op threads (process-wide setting).
    **kw
        llama.cpp-only options (``n_gpu_layers``...) are ignored; others warn.

    Raises
    ------
    ModelNotFoundError
        If ``path`` does not exist.
    """

    name = "transformers"
    priority = 30
    unsupported = frozenset({"response_format"})
    supports_logprobs = True
    supports_tools = True  # with the llguidance package (sampling.GrammarConstraint)

    def __init__(self, path: str | Path, *, model_id: str | None = None, n_ctx: int | None = None,
                 dtype: str = "float32", n_threads: int | None = None, **kw: Any):
        import torch  # heavy: torch, only for the torch engines
        from transformers import AutoModelForCausalLM, AutoTokenizer  # optional extra [torch]

        check_extra(self.name, kw)
        self.path = Path(path).expanduser()
        is_gguf = self.path.is_file() and self.path.suffix.lower() == ".gguf"
        if not (is_gguf or (self.path / "config.json").is_file()):
            raise ModelNotFoundError(str(path))
        if n_threads:
            torch.set_num_threads(int(n_threads))
        self.dtype = torch_dtype(dtype)
        if is_gguf:
            self.model, self.tokenizer = load_gguf_model(self.path, dtype)
        else:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
            self.model = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=self.dtype).eval()
        self.model.requires_grad_(False)
        config = self.model.config
        trained = int(getattr(config, "max_position_embeddings", None) or 2048)
        quant = str(self.dtype).replace("torch.", "")
        if is_gguf:
            quant = read_gguf_header(self.path)[1] or quant
        self._info = EngineInfo(
            id=model_id or (self.path.stem if is_gguf else self.path.name),
            engine=self.name, path=str(self.path), format="gguf" if is_gguf else "hf",
            context_length=resolve_context(n_ctx, trained), quantization=quant,
            family=getattr(config, "model_type", None),
        )
        gen = getattr(self.model, "generation_config", None)
        self.eog_ids = end_of_generation_ids(
            [getattr(config, "eos_token_id", None), getattr(gen, "eos_token_id", None), self.tokenizer.eos_token_id],
            self.tokenizer.get_vocab(),
        )
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5.x
        self._keep_kw = {"logits_to_keep": 1} if "logits_to_keep" in params else {}

    # ------------------------------------------------------------------ model files
    @classmethod
    def guess_can_open(cls, path: str | Path) -> bool:
        """A Hugging Face model directory (``config.json`` and weights)."""
        return is_model_dir(path)

    @classmethod
    def describe(cls, path: str | Path) -> dict[str, Any]:
        """From ``config.json`` (see :func:`~shimmy_lab.engines.files.describe_model_dir`)."""
        return {**describe_model_dir(path), "engine": cls.name, "format": "hf"}

    # ------------------------------------------------------------------ protocol
    @property
    def info(self) -> EngineInfo:
        return self._info

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=add_special))

    def detokenize(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise InvalidParameterError(f"The model {self.model_id!r} has no chat template; use complete().",
                                        param="messages")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _params(self, kwargs: dict[str, Any]) -> GenerationParams:
        return check_params(self, kwargs)

    @property
    def vocab_size(self) -> int:
        """Rows of the model's output layer."""
        return int(self.model.config.vocab_size)

    def _generate_ids(self, prompt_ids: list[int], params: GenerationParams, max_new: int) -> Iterator[TokenStep]:
        import torch  # heavy: torch, only for the torch engines
        from transformers import DynamicCache  # optional extra [torch]

        model = self.model
        cache = DynamicCache(config=model.config)
        kwargs = {self._cache_kw: cache, "use_cache": True, **self._keep_kw}

        @torch.inference_mode()
        def forward(ids: list[int]) -> torch.Tensor:
            out = model(input_ids=torch.tensor([ids], dtype=torch.long), **kwargs)
            return out.logits[0, -1]

        constraint = grammar_constraint(self, params.grammar, self.tokenizer.backend_tokenizer.to_str, self.eog_ids,
                                        self.model.config.vocab_size)
        return token_loop(forward, prompt_ids, params, max_new, self.eog_ids, constraint)

    def token_logprobs(self, prefix: Sequence[int], ids: Sequence[int]) -> list[float]:
        """Log-probability of each token of ``ids`` after ``prefix`` (see :meth:`Engine.token_logprobs`)."""
        import torch  # heavy: torch, only for the torch engines

        prefix, ids = check_scoring(prefix, ids, self.info.context_length)
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([prefix + ids], dtype=torch.long)).logits[0]
            return gather_logprobs(logits[len(prefix) - 1: -1], ids)

    def embed(self, texts: str | Sequence[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised last hidden states, one vector per text."""
        import torch  # heavy: torch, only for the torch engines

        if isinstance(texts, str):
            texts = [texts]
        base = getattr(self.model, self.model.base_model_prefix, self.model)
        out = []
        with torch.inference_mode():
            for text in texts:
                ids = self.tokenize(text, add_special=True) or [self.tokenizer.eos_token_id or 0]
                hidden = base(input_ids=torch.tensor([ids], dtype=torch.long)).last_hidden_state[0]
                out.append(torch.nn.functional.normalize(hidden.float().mean(0), dim=0).tolist())
        return out

    def close(self) -> None:
        """Drop the model and tokenizer."""
        self.model = None
        self.tokenizer = None
