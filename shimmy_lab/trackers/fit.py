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
the engine for later calls.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

import numpy as np

__all__ = ["line_fit", "fit_engine", "CONTEXT_TOKENS", "LINE_TOKENS"]

#: Tokens of preceding story the line is scored after.
CONTEXT_TOKENS = 192
#: At most this many tokens of a line are scored (long speeches: their opening).
LINE_TOKENS = 64
#: Characters of text read before the line to find ``CONTEXT_TOKENS`` tokens.
_CONTEXT_CHARS = 4000
_NULL_PREFIX = "\n\n"

_ENGINES: dict[str, Any] = {}
_LOCK = threading.Lock()


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
    """
    if hasattr(model, "token_logprobs") and hasattr(model, "tokenize"):
        return model
    key = str(model)
    with _LOCK:
        if key not in _ENGINES:
            from ..engines import load_engine

            _ENGINES[key] = load_engine(None if key == "bundled" else key)
        return _ENGINES[key]


def line_fit(engine: Any, text: str, spans: Iterable[tuple[int, int]],
             context_tokens: int = CONTEXT_TOKENS, line_tokens: int = LINE_TOKENS) -> np.ndarray:
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
        Tokens of preceding text the line is scored after.
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
    null = engine.tokenize(_NULL_PREFIX)
    out = []
    for start, end in spans:
        line = engine.tokenize(text[start:end])[:line_tokens]
        if not line:
            out.append(np.nan)
            continue
        before = engine.tokenize(text[max(0, start - _CONTEXT_CHARS):start])[-context_tokens:] or null
        with_ctx = np.asarray(engine.token_logprobs(before, line))
        alone = np.asarray(engine.token_logprobs(null, line))
        out.append(float(np.mean(with_ctx - alone)))
    return np.asarray(out, dtype=float)
