"""``Lab``: the shared state of a session: model registry, loaded engines, stories.

One ``Lab`` is shared by inline notebook calls, the HTTP server started from the
kernel, and the widgets, so a story attached in a cell is the one the server sees.
Engines are built here only: :meth:`Lab.engine` (kept in the lab's LRU) and
:func:`load_engine` (a new engine its caller closes).
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from .engines import Engine, engine_class
from .registry import BUNDLED_ID, ModelEntry, discover, resolve

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Lab", "StoryChanged", "STORY_CHANGE_REASONS", "default_lab", "load_engine", "models"]

#: why a story changed: attached to a lab, text appended, caught up with changes another
#: process saved, changed otherwise (edited in a cell), removed
STORY_CHANGE_REASONS = ("added", "appended", "synced", "changed", "removed")
#: the event names of :meth:`Lab.notify` (deprecated) -> the reason of their StoryChanged
_OLD_NAMES = {"story_added": "added", "story_appended": "appended", "story_updated": "changed",
              "story_changed": "changed", "story_removed": "removed"}


@dataclass(frozen=True)
class StoryChanged:
    """A story of a :class:`Lab` changed; published with :meth:`Lab.publish`.

    Parameters
    ----------
    story_id : str or None
        The story's id in ``lab.stories`` (``None`` for a story not attached).
    reason : str
        One of :data:`STORY_CHANGE_REASONS`.
    story : Story, optional
        The story object (``None`` once removed, or when the publisher only knows the id).

    Examples
    --------
    >>> lab = Lab(entries=[])
    >>> seen = []
    >>> unsubscribe = lab.subscribe(StoryChanged, seen.append)
    >>> sid = lab.add_story(object(), "mill")
    >>> seen[0].story_id, seen[0].reason
    ('mill', 'added')
    """

    story_id: str | None
    reason: str
    story: Any = None

    def __post_init__(self) -> None:
        if self.reason not in STORY_CHANGE_REASONS:
            raise ValueError(f"unknown reason {self.reason!r}; one of {', '.join(STORY_CHANGE_REASONS)}")


class _Listeners(list):
    """``Lab.listeners``: old-style callbacks ``fn(event_name, *args)`` (deprecated)."""

    def append(self, fn: Any) -> None:
        warnings.warn("lab.listeners is deprecated; use lab.subscribe(StoryChanged, fn): fn "
                      "receives a StoryChanged(story_id, reason, story)", DeprecationWarning, stacklevel=2)
        super().append(fn)


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
    entries : sequence of ModelEntry, optional
        The models this lab knows, instead of those found on disk
        (:func:`~shimmy_lab.registry.discover`); ``refresh`` then keeps them.
    """

    def __init__(self, default_model: str | None = None, *, max_loaded: int = 2,
                 engine_kwargs: dict[str, Any] | None = None, entries: Sequence[ModelEntry] | None = None):
        if max_loaded < 1:
            raise ValueError("max_loaded must be >= 1")
        self.default_model = default_model or BUNDLED_ID
        self.max_loaded = max_loaded
        self.engine_kwargs = dict(engine_kwargs or {})
        self.stories: dict[str, Any] = {}
        self._engines: OrderedDict[tuple, Engine] = OrderedDict()  # (id, engine, options) -> engine
        self._fixed = entries is not None
        self._entries: list[ModelEntry] | None = list(entries) if entries is not None else None
        self._lock = threading.RLock()
        self._subscribers: dict[type, list[Callable[[Any], None]]] = {}
        self.listeners: list[Any] = _Listeners()  # deprecated: see subscribe

    # ------------------------------------------------------------------ registry
    def entries(self, refresh: bool = False) -> list[ModelEntry]:
        """Models on disk (cached; ``refresh=True`` scans again), or the lab's fixed ``entries``."""
        with self._lock:
            if self._entries is None or (refresh and not self._fixed):
                self._entries = discover()
            return list(self._entries)

    def resolve(self, model: str | Path | None = None) -> ModelEntry:
        """The registry entry for a model id or path (default model if None)."""
        return resolve(model if model is not None else self.default_model, self.entries())

    def models(self, refresh: bool = False) -> "pd.DataFrame":
        """Discovered models as a DataFrame, with a ``loaded`` column."""
        import pandas as pd  # lazy: keeps this module's import light

        loaded = {key[0] for key in self._engines}
        rows = [{**e.to_dict(), "loaded": e.id in loaded} for e in self.entries(refresh)]
        cols = ["id", "engine", "format", "path", "size_bytes", "context_length", "quantization", "source", "loaded"]
        return pd.DataFrame(rows, columns=cols)

    # ------------------------------------------------------------------ engines
    def engine(self, model: str | Path | None = None, engine: str | None = None, *, keep: bool = True,
               **options: Any) -> Engine:
        """The loaded engine for ``model`` (loading it, and evicting the LRU one, if needed).

        Parameters
        ----------
        model : str or path, optional
            Model id or path (default model if omitted).
        engine : str, optional
            Engine name (default: the registry's engine for the model).
        keep : bool
            Keep the engine in this lab (default). ``False`` builds a new engine that the
            caller owns and closes (e.g. a server's extra slots).
        **options
            Engine options on top of the lab's ``engine_kwargs``; engines loaded with
            other options are kept apart (e.g. the small scoring context of
            :func:`shimmy_lab.trackers.fit.fit_engine`).

        Returns
        -------
        Engine
        """
        entry = self.resolve(model)
        name = engine or entry.engine
        if not keep:
            return _build(entry, name, {**self.engine_kwargs, **options})
        key = (entry.id, name, tuple(sorted((k, repr(v)) for k, v in options.items())))
        with self._lock:
            if key in self._engines:
                self._engines.move_to_end(key)
                return self._engines[key]
            eng = _build(entry, name, {**self.engine_kwargs, **options})
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
        self.publish(StoryChanged(sid, "added", story))
        return sid

    # ------------------------------------------------------------------ events
    def subscribe(self, event_type: type, fn: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``fn(event)`` for every event of ``event_type`` (or a subclass) published.

        Returns
        -------
        callable
            Call it (no arguments) to unsubscribe.
        """
        with self._lock:
            self._subscribers.setdefault(event_type, []).append(fn)
        return lambda: self.unsubscribe(event_type, fn)

    def unsubscribe(self, event_type: type, fn: Callable[[Any], None]) -> None:
        """Stop calling ``fn`` for ``event_type`` (no error if it was not subscribed)."""
        with self._lock:
            fns = self._subscribers.get(event_type, [])
            if fn in fns:
                fns.remove(fn)

    def publish(self, event: Any) -> None:
        """Hand ``event`` (a typed event such as :class:`StoryChanged`) to its subscribers,
        in the publisher's thread, as it happens."""
        self._deliver(event)
        if isinstance(event, StoryChanged) and self.listeners:  # the deprecated callbacks
            name = {"added": "story_added", "removed": "story_removed"}.get(event.reason, "story_changed")
            self._call_listeners(name, event.story_id if event.story_id is not None else event.story)

    def notify(self, event: str, *args: Any) -> None:
        """Deprecated: publish a :class:`StoryChanged` instead.

        The old names (``story_added``, ``story_updated``, ``story_appended``,
        ``story_changed``, ``story_removed``) still reach the subscribers of
        :class:`StoryChanged`; the deprecated ``listeners`` get ``(event, *args)`` as before.
        """
        warnings.warn("Lab.notify(name, ...) is deprecated; use "
                      "lab.publish(StoryChanged(story_id, reason, story))", DeprecationWarning, stacklevel=2)
        reason = _OLD_NAMES.get(event)
        if reason is not None:
            about = args[0] if args else None
            sid = about if isinstance(about, str) else None
            story = self.stories.get(about) if sid is not None else about
            self._deliver(StoryChanged(sid, reason, story))
        self._call_listeners(event, *args)

    def _deliver(self, event: Any) -> None:
        with self._lock:
            fns = [fn for t in type(event).__mro__ for fn in self._subscribers.get(t, ())]
        for fn in fns:
            fn(event)

    def _call_listeners(self, event: str, *args: Any) -> None:
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

        .. deprecated:: 0.1.0
            Use ``sl.serve(lab=lab, background=True, ...)`` or the ``%shimmy serve`` magic.
            This shim (the one import from the lab up to the server) stays for old
            notebooks and warns with a ``DeprecationWarning``.

        ``lab.serve(port="auto")`` returns a handle with ``.url`` and ``.stop()``; the
        server sees this lab's models and stories. See :func:`shimmy_lab.serve`.
        """
        warnings.warn("Lab.serve is deprecated: use sl.serve(lab=lab, background=True, ...) "
                      "or %shimmy serve.", DeprecationWarning, stacklevel=2)
        from .server.run import serve  # upward (server imports lab): Lab.serve shim

        kwargs.setdefault("background", True)
        return serve(self, **kwargs)

    def __repr__(self) -> str:
        loaded = ", ".join(e.model_id for e in self.loaded) or "none"
        return f"<Lab default={self.default_model!r} loaded=[{loaded}] stories={len(self.stories)}>"


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython  # lazy: IPython, only inside a notebook

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _show_stream(pieces: Iterator[str]) -> str:
    """Print pieces as they arrive (a live-updating output in Jupyter); return the text."""
    text = ""
    if _in_notebook():
        from IPython.display import Markdown, display  # lazy: IPython, only inside a notebook

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


def _build(entry: ModelEntry, name: str, options: dict[str, Any]) -> Engine:
    """Construct engine ``name`` on a registry entry: the one place engines are built."""
    return engine_class(name)(entry.path, model_id=entry.id, **options)


def load_engine(model: str | Path | None = None, engine: str | None = None, **kwargs: Any) -> Engine:
    """Load a model into a new engine (its caller closes it; :meth:`Lab.engine` keeps engines).

    Parameters
    ----------
    model : str or path, optional
        A model id known to the registry, or a path to a GGUF file or model
        directory. Default: the bundled SmolLM2-135M-Instruct.
    engine : {"llama_cpp", "transformers", "safetensors"}, optional
        Backend (or an installed engine's name); guessed from the path when omitted.
    **kwargs
        Passed to the engine (e.g. ``n_ctx``, ``n_threads``).

    Returns
    -------
    Engine
    """
    entry = resolve(model)
    return _build(entry, engine or entry.engine, kwargs)


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
