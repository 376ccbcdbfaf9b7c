"""``Lab``: the shared state of a session: model registry, loaded engines, stories.

One ``Lab`` is shared by inline notebook calls, the HTTP server started from the
kernel, and the widgets, so a story attached in a cell is the one the server sees.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .engines import Engine, engine_class
from .registry import BUNDLED_ID, ModelEntry, discover, resolve

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Lab", "default_lab", "models"]


class Lab:
    """Registry + LRU of loaded engines + stories.

    Parameters
    ----------
    default_model : str, optional
        Model id or path used when a call names no model. Default: the bundled
        SmolLM2-135M-Instruct.
    max_loaded : int
        How many engines stay loaded; the least recently used is closed beyond that.
    engine_kwargs : dict, optional
        Passed to every engine that this lab loads (e.g. ``{"n_ctx": 4096}``).
    """

    def __init__(self, default_model: str | None = None, *, max_loaded: int = 2,
                 engine_kwargs: dict[str, Any] | None = None):
        if max_loaded < 1:
            raise ValueError("max_loaded must be >= 1")
        self.default_model = default_model or BUNDLED_ID
        self.max_loaded = max_loaded
        self.engine_kwargs = dict(engine_kwargs or {})
        self.stories: dict[str, Any] = {}
        self._engines: OrderedDict[tuple[str, str], Engine] = OrderedDict()
        self._entries: list[ModelEntry] | None = None
        self._lock = threading.RLock()
        self.listeners: list[Any] = []

    # ------------------------------------------------------------------ registry
    def entries(self, refresh: bool = False) -> list[ModelEntry]:
        """Models on disk (cached; ``refresh=True`` scans again)."""
        with self._lock:
            if self._entries is None or refresh:
                self._entries = discover()
            return list(self._entries)

    def resolve(self, model: str | Path | None = None) -> ModelEntry:
        """The registry entry for a model id or path (default model if None)."""
        return resolve(model if model is not None else self.default_model, self.entries())

    def models(self, refresh: bool = False) -> "pd.DataFrame":
        """Discovered models as a DataFrame, with a ``loaded`` column."""
        import pandas as pd

        loaded = {entry_id for entry_id, _ in self._engines}
        rows = [{**e.to_dict(), "loaded": e.id in loaded} for e in self.entries(refresh)]
        cols = ["id", "engine", "format", "path", "size_bytes", "context_length", "quantization", "source", "loaded"]
        return pd.DataFrame(rows, columns=cols)

    # ------------------------------------------------------------------ engines
    def engine(self, model: str | Path | None = None, engine: str | None = None) -> Engine:
        """The loaded engine for ``model`` (loading it, and evicting the LRU one, if needed)."""
        entry = self.resolve(model)
        name = engine or entry.engine
        key = (entry.id, name)
        with self._lock:
            if key in self._engines:
                self._engines.move_to_end(key)
                return self._engines[key]
            eng = engine_class(name)(entry.path, model_id=entry.id, **self.engine_kwargs)
            self._engines[key] = eng
            while len(self._engines) > self.max_loaded:
                _, old = self._engines.popitem(last=False)
                old.close()
            return eng

    @property
    def loaded(self) -> list[Engine]:
        """Engines currently loaded, least recently used first."""
        return list(self._engines.values())

    def unload(self, model: str | None = None) -> None:
        """Close one model's engines, or every engine."""
        with self._lock:
            for key in list(self._engines):
                if model is None or key[0] == model:
                    self._engines.pop(key).close()

    # ------------------------------------------------------------------ stories
    def add_story(self, story: Any, story_id: str | None = None) -> str:
        """Attach a story so the server and widgets can see it; returns its id."""
        sid = story_id or getattr(story, "title", None) or f"story-{len(self.stories) + 1}"
        sid = str(sid).strip().lower().replace(" ", "-")
        self.stories[sid] = story
        self.notify("story_added", sid)
        return sid

    def notify(self, event: str, *args: Any) -> None:
        """Call every listener with ``(event, *args)`` (widgets use this to refresh)."""
        for listener in list(self.listeners):
            listener(event, *args)

    # ------------------------------------------------------------------ inline generation
    def chat(self, messages: str | Sequence[dict[str, Any]], model: str | None = None, *,
             display: bool = True, **params: Any) -> str:
        """Chat with a model, showing tokens as they arrive; returns the final text.

        Parameters
        ----------
        messages : str or list of dict
            A user message, or OpenAI-style messages.
        model : str, optional
            Model id or path (default model if omitted).
        display : bool
            Stream into the notebook cell (or stdout outside Jupyter).
        **params
            Generation parameters (``max_tokens``, ``temperature``, ``seed``, ...).
        """
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        pieces = (c["choices"][0]["delta"].get("content") or ""
                  for c in self.engine(model).chat(messages, stream=True, **params) if c["choices"])
        return _show_stream(pieces) if display else "".join(pieces)

    def serve(self, **kwargs: Any) -> Any:
        """Serve this lab over the OpenAI-compatible API (in the background by default).

        ``lab.serve(port="auto")`` returns a handle with ``.url`` and ``.stop()``; the
        server sees this lab's models and stories. See :func:`shimmy_lab.serve`.
        """
        from .server.run import serve

        kwargs.setdefault("background", True)
        return serve(self, **kwargs)

    def __repr__(self) -> str:
        loaded = ", ".join(e.model_id for e in self.loaded) or "none"
        return f"<Lab default={self.default_model!r} loaded=[{loaded}] stories={len(self.stories)}>"


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _show_stream(pieces: Iterator[str]) -> str:
    """Print pieces as they arrive (a live-updating output in Jupyter); return the text."""
    text = ""
    if _in_notebook():
        from IPython.display import Markdown, display

        handle = display(Markdown(""), display_id=True)
        for piece in pieces:
            text += piece
            handle.update(Markdown(text))
        return text
    for piece in pieces:
        text += piece
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return text


_DEFAULT: Lab | None = None


def default_lab() -> Lab:
    """The session's default ``Lab`` (created on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Lab()
    return _DEFAULT


def models(refresh: bool = False) -> "pd.DataFrame":
    """Discovered models as a DataFrame (id, engine, format, path, size_bytes,
    context_length, quantization, source, loaded)."""
    return default_lab().models(refresh)
