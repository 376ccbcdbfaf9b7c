"""How well a line fits its place in the story, measured with a language model.

:func:`line_fit` scores a span of the story (a line of dialogue) by its pointwise
mutual information with the text before it::

    fit = mean over the line's tokens of
          log p(token | preceding story, line so far) - log p(token | line so far)

A line that belongs where it stands (it answers the line before, names what the
scene is about, speaks in the register of the book) is more predictable after its
context than on its own: ``fit`` is positive, typically 0.4-1.0 nats per token on the
bundled SmolLM2 model.  A line from another book, or in another voice, gains little
from the context: ``fit`` is near 0.  The character-consistency tracker uses it as the
second stage of the ``voice_drift`` check (see :mod:`shimmy_lab.trackers.characters`).

The model is any engine with :meth:`~shimmy_lab.engines.base.Engine.token_logprobs`;
:func:`fit_engine` resolves a model id (or ``"bundled"``) once per process and keeps
the engine for later calls.  Both passes start with the model's start-of-text token
where its tokenizer adds one (``tokenize("", add_special=True)``: Gemma and Llama
models do, SmolLM2 does not).  Scores are cached per process by engine, context tokens
and line tokens (:data:`CACHE_SIZE` entries): analysing a story again after text is
appended to it scores only the lines whose context changed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any, Iterable

import numpy as np

__all__ = ["line_fit", "fit_engine", "clear_cache", "CONTEXT_TOKENS", "LINE_TOKENS", "CACHE_SIZE"]

#: Tokens of preceding story the line is scored after.
CONTEXT_TOKENS = 384
#: At most this many tokens of a line are scored (long speeches: their opening).
LINE_TOKENS = 64
#: Characters of text read before the line to find ``CONTEXT_TOKENS`` tokens.
_CONTEXT_CHARS = 4000
_NULL_PREFIX = "\n\n"
#: Context of a llama.cpp scoring engine loaded by :func:`fit_engine`.
_SCORING_CTX = 512

#: Line scores kept per process (least recently used dropped first).
CACHE_SIZE = 50_000

_ENGINES: dict[str, Any] = {}
_FAILED: dict[str, str] = {}
_LOCK = threading.Lock()
_CACHE: OrderedDict[bytes, float] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every cached line score."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _key(engine: Any, before: list[int], line: list[int]) -> bytes | None:
    """Cache key of one score; ``None`` (not cached) for an engine without a ``model_id``."""
    mid = getattr(engine, "model_id", None)
    if not isinstance(mid, str):
        return None
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{type(engine).__module__}.{type(engine).__name__}:{mid}".encode())
    h.update(np.asarray(before, dtype=np.int64).tobytes())
    h.update(b"|")
    h.update(np.asarray(line, dtype=np.int64).tobytes())
    return h.digest()


def _cached(key: bytes | None) -> float | None:
    if key is None:
        return None
    with _CACHE_LOCK:
        value = _CACHE.get(key)
        if value is not None:
            _CACHE.move_to_end(key)
        return value


def _store(key: bytes | None, value: float) -> None:
    if key is None:
        return
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)


def fit_engine(model: Any) -> Any:
    """The engine to score with: ``model`` itself if it is an engine, else a loaded model.

    Parameters
    ----------
    model
        An engine (anything with ``token_logprobs`` and ``tokenize``), a model id or
        path known to :func:`shimmy_lab.engines.load_engine`, or ``"bundled"`` for the
        bundled SmolLM2 model.  Loaded engines are kept for the process.

    Returns
    -------
    Engine

    Raises
    ------
    RuntimeError
        The model cannot be loaded (the first failure's reason; a model that failed
        to load is not tried again in this process).
    """
    if hasattr(model, "token_logprobs") and hasattr(model, "tokenize"):
        return model
    key = str(model)
    with _LOCK:
        if key in _FAILED:
            raise RuntimeError(_FAILED[key])
        if key not in _ENGINES:
            from ..engines import load_engine
            from ..registry import resolve

            try:
                entry = resolve(None if key == "bundled" else key)
                # a llama.cpp scorer needs a context of one line and its prefix only (the
                # logits of a 2048-token context would hold ~400 MB)
                small = {"n_ctx": _SCORING_CTX, "logprobs_ctx": _SCORING_CTX} if entry.engine == "llama_cpp" else {}
                # one process per core (Dask workers, the "processes" backend) set OMP_NUM_THREADS:
                # llama.cpp threads beyond the free cores spin and slow every process down
                if small and os.environ.get("OMP_NUM_THREADS", "").isdigit():
                    small["n_threads"] = max(1, int(os.environ["OMP_NUM_THREADS"]))
                _ENGINES[key] = load_engine(None if key == "bundled" else key, **small)
            except Exception as exc:
                _FAILED[key] = f"cannot load scoring model {key!r}: {type(exc).__name__}: {exc}"
                raise RuntimeError(_FAILED[key]) from exc
        return _ENGINES[key]


def line_fit(engine: Any, text: str, spans: Iterable[tuple[int, int]],
             context_tokens: int | None = None, line_tokens: int = LINE_TOKENS) -> np.ndarray:
    """Fit of each span of ``text`` to the story before it, in nats per token.

    Parameters
    ----------
    engine
        A scoring engine (see :func:`fit_engine`).
    text
        The story text.
    spans
        ``(start, end)`` character offsets of the lines to score.
    context_tokens
        Tokens of preceding text the line is scored after (default
        :data:`CONTEXT_TOKENS`).
    line_tokens
        At most this many tokens of each line are scored.

    Returns
    -------
    numpy.ndarray
        One value per span (``nan`` for a span with no tokens).

    Examples
    --------
    >>> class Uniform:  # every token equally likely: context adds nothing
    ...     def tokenize(self, s, add_special=False): return [ord(c) for c in s]
    ...     def token_logprobs(self, prefix, ids): return [-5.0] * len(ids)
    >>> line_fit(Uniform(), "Once upon a time. 'Hello there.'", [(18, 32)]).tolist()
    [0.0]
    """
    context_tokens = CONTEXT_TOKENS if context_tokens is None else int(context_tokens)
    # the model's start-of-text token (BOS) where it expects one (Gemma, Llama), else nothing
    # (SmolLM2): without it such a model reads the context as the middle of a document
    head = list(engine.tokenize("", add_special=True))
    null = head + engine.tokenize(_NULL_PREFIX)
    out = []
    for start, end in spans:
        line = engine.tokenize(text[start:end])[:line_tokens]
        if not line:
            out.append(np.nan)
            continue
        before = engine.tokenize(text[max(0, start - _CONTEXT_CHARS):start])[-context_tokens:]
        before = head + before if before else null
        key = _key(engine, before, line)
        value = _cached(key)
        if value is None:
            with_ctx = np.asarray(engine.token_logprobs(before, line))
            alone = np.asarray(engine.token_logprobs(null, line))
            value = float(np.mean(with_ctx - alone))
            _store(key, value)
        out.append(value)
    return np.asarray(out, dtype=float)
