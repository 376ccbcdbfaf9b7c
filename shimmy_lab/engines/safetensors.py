"""Native safetensors engine: a pure-torch Llama (:mod:`._llama_torch`) with no
transformers modeling code.

The directory needs ``config.json``, ``*.safetensors`` and ``tokenizer.json``
(read with the ``tokenizers`` library). The chat template comes from
``tokenizer_config.json`` (``chat_template``) or ``chat_template.jinja`` and is
rendered with jinja2 the way transformers does (sandboxed, ``trim_blocks``,
``lstrip_blocks``, ``add_generation_prompt=True``, the special tokens available as
``bos_token``, ``eos_token``...). :func:`shimmy_lab.convert` writes such a directory
from a GGUF file.

Sampling is shared with the transformers engine
(:mod:`shimmy_lab.engines.sampling`), so on the same weights greedy decoding gives
the same tokens. JSON-constrained output (``response_format``) is only available
with the ``llama_cpp`` engine.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import InvalidParameterError, ModelNotFoundError
from .base import Engine, EngineInfo, TokenStep, check_scoring
from .files import describe_model_dir, is_model_dir
from .params import GenerationParams
from .sampling import (check_extra, check_params, end_of_generation_ids, gather_logprobs, grammar_constraint,
                       resolve_context, token_loop, torch_dtype)

__all__ = ["SafetensorsEngine", "load_chat_template", "render_template"]

#: Used when a model ships no chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError as exc:
        raise InvalidParameterError(f"{path} is not valid JSON: {exc}") from exc


def _token_str(value: Any) -> str | None:
    """Special tokens are strings or ``{"content": ...}`` dicts in tokenizer_config.json."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def load_chat_template(path: Path, tok_cfg: dict[str, Any]) -> str | None:
    """The default chat template of a model directory, or None."""
    template = tok_cfg.get("chat_template")
    if isinstance(template, list):  # [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    if not template and (path / "chat_template.jinja").is_file():
        template = (path / "chat_template.jinja").read_text()
    return template or None


def render_template(template: str, messages: list[dict[str, Any]], **variables: Any) -> str:
    """Render a Hugging Face chat template with jinja2, as ``apply_chat_template`` does."""
    def raise_exception(message: str) -> None:
        raise InvalidParameterError(f"Chat template error: {message}", param="messages")

    def tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(template).render(messages=messages, add_generation_prompt=True, **variables)
    except jinja2.TemplateError as exc:
        raise InvalidParameterError(f"Chat template error: {exc}", param="messages") from exc


class SafetensorsEngine(Engine):
    """Pure-torch Llama over a ``config.json`` + ``*.safetensors`` + ``tokenizer.json`` directory.

    Parameters
    ----------
    path : str or Path
        The model directory.
    model_id : str, optional
        Id reported in responses; default the directory name.
    n_ctx : int, optional
        Context window; default the model's ``max_position_embeddings``.
    dtype : {"float32", "bfloat16", "float16"}
        Weight and activation dtype.
    n_threads : int, optional
        torch intra-op threads (process-wide setting).
    **kw
        llama.cpp-only options are ignored; others warn.

    Raises
    ------
    ModelNotFoundError
        If ``path`` is not a directory with ``config.json``.
    UnsupportedModelError
        If the architecture is not Llama-like or files are missing.
    """

    name = "safetensors"
    priority = 20
    unsupported = frozenset({"response_format"})
    supports_logprobs = True
    supports_tools = True  # with the llguidance package (sampling.GrammarConstraint)

    def __init__(self, path: str | Path, *, model_id: str | None = None, n_ctx: int | None = None,
                 dtype: str = "float32", n_threads: int | None = None, **kw: Any):
        import torch  # heavy: torch, only for the torch engines
        from tokenizers import Tokenizer  # lazy: tokenizers, loaded with a model

        from ._llama_torch import UnsupportedModelError, load_llama  # heavy: torch, only for the torch engines

        check_extra(self.name, kw)
        self.path = Path(path).expanduser()
        if not (self.path / "config.json").is_file():
            raise ModelNotFoundError(str(path))
        if not (self.path / "tokenizer.json").is_file():
            raise UnsupportedModelError(f"{self.path} has no tokenizer.json (the safetensors engine needs one).")
        if n_threads:
            torch.set_num_threads(int(n_threads))
        self.dtype = torch_dtype(dtype)
        self.model, config = load_llama(self.path, self.dtype)
        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok_cfg = _read_json(self.path / "tokenizer_config.json")
        gen_cfg = _read_json(self.path / "generation_config.json")
        self.chat_template = load_chat_template(self.path, tok_cfg) or CHATML_TEMPLATE
        self.special_tokens = {name: _token_str(tok_cfg.get(name))
                               for name in ("bos_token", "eos_token", "unk_token", "pad_token")}
        eos = self.special_tokens["eos_token"]
        self.eog_ids = end_of_generation_ids(
            [config.get("eos_token_id"), gen_cfg.get("eos_token_id"), self.tokenizer.token_to_id(eos) if eos else None],
            self.tokenizer.get_vocab(with_added_tokens=True),
        )
        self._info = EngineInfo(
            id=model_id or self.path.name, engine=self.name, path=str(self.path), format="safetensors",
            context_length=resolve_context(n_ctx, self.model.cfg.max_position_embeddings),
            quantization=str(self.dtype).replace("torch.", ""), family=self.model.cfg.model_type,
        )

    # ------------------------------------------------------------------ model files
    @classmethod
    def guess_can_open(cls, path: str | Path) -> bool:
        """A model directory written by :func:`shimmy_lab.convert` (it holds
        ``shimmy_convert.json``); pass ``engine="safetensors"`` for another Llama-like one."""
        return is_model_dir(path) and (Path(path) / "shimmy_convert.json").is_file()

    @classmethod
    def describe(cls, path: str | Path) -> dict[str, Any]:
        """From ``config.json`` (see :func:`~shimmy_lab.engines.files.describe_model_dir`)."""
        return {**describe_model_dir(path), "engine": cls.name, "format": "safetensors"}

    # ------------------------------------------------------------------ protocol
    @property
    def info(self) -> EngineInfo:
        return self._info

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=add_special).ids)

    def detokenize(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        return render_template(self.chat_template, messages, **{k: v or "" for k, v in self.special_tokens.items()})

    def _params(self, kwargs: dict[str, Any]) -> GenerationParams:
        return check_params(self, kwargs)

    @property
    def vocab_size(self) -> int:
        """Rows of the model's output layer."""
        return int(self.model.cfg.vocab_size)

    def _generate_ids(self, prompt_ids: list[int], params: GenerationParams, max_new: int) -> Iterator[TokenStep]:
        import torch  # heavy: torch, only for the torch engines

        model = self.model
        cache = model.new_cache(len(prompt_ids) + min(max_new, 256))

        @torch.inference_mode()
        def forward(ids: list[int]):
            return model(torch.tensor([ids], dtype=torch.long), cache)

        constraint = grammar_constraint(self, params.grammar, self.tokenizer.to_str, self.eog_ids,
                                        self.model.cfg.vocab_size)
        return token_loop(forward, prompt_ids, params, max_new, self.eog_ids, constraint)

    def token_logprobs(self, prefix: Sequence[int], ids: Sequence[int]) -> list[float]:
        """Log-probability of each token of ``ids`` after ``prefix`` (see :meth:`Engine.token_logprobs`)."""
        import torch  # heavy: torch, only for the torch engines

        prefix, ids = check_scoring(prefix, ids, self.info.context_length)
        with torch.inference_mode():
            logits = self.model(torch.tensor([prefix + ids], dtype=torch.long), last=len(ids) + 1)
        return gather_logprobs(logits.reshape(-1, logits.shape[-1])[:-1], ids)

    def embed(self, texts: str | Sequence[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised last hidden states, one vector per text."""
        import torch  # heavy: torch, only for the torch engines

        if isinstance(texts, str):
            texts = [texts]
        out = []
        with torch.inference_mode():
            for text in texts:
                ids = self.tokenize(text, add_special=True) or [min(self.eog_ids, default=0)]
                hidden = self.model.hidden(torch.tensor([ids], dtype=torch.long))[0]
                out.append(torch.nn.functional.normalize(hidden.float().mean(0), dim=0).tolist())
        return out

    def close(self) -> None:
        """Drop the model and tokenizer."""
        self.model = None
        self.tokenizer = None
