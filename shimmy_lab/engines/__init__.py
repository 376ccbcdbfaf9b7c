"""Engines: one small protocol (:class:`Engine`), one module per backend.

Backends are named in :data:`ENGINES` (and, for other packages, in the entry-point group
:data:`ENTRY_POINT_GROUP`) and imported only when used, so importing shimmy_lab never
loads llama.cpp or torch. Each engine class says whether it opens a model file or folder
(:meth:`Engine.guess_can_open`) and what to list about it (:meth:`Engine.describe`);
the registry (:mod:`shimmy_lab.registry`) asks them while it walks the model folders.
Engines are built by :meth:`shimmy_lab.lab.Lab.engine` (or :func:`shimmy_lab.lab.load_engine`).
"""

from __future__ import annotations

import functools
import importlib
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..errors import EngineNotFoundError, EngineUnavailableError
from .base import Engine, EngineInfo, TokenStep
from .params import GenerationParams

__all__ = ["Engine", "EngineInfo", "TokenStep", "GenerationParams", "ENGINES", "ENTRY_POINT_GROUP",
           "available_engines", "engine_class", "engine_classes", "guess_engine"]

#: Built-in engines: name -> "module:Class" (imported lazily). The most specific first:
#: :func:`engine_classes` keeps this order, so a folder written by ``sl.convert`` is
#: claimed by ``safetensors`` before ``transformers``.
ENGINES: dict[str, str] = {
    "llama_cpp": "shimmy_lab.engines.llama_cpp:LlamaCppEngine",
    "safetensors": "shimmy_lab.engines.safetensors:SafetensorsEngine",
    "transformers": "shimmy_lab.engines.transformers:TransformersEngine",
}

#: Entry-point group in which another package declares engines
#: (``[project.entry-points."shimmy_lab.engines"] my_engine = "my_pkg.engine:MyEngine"``).
ENTRY_POINT_GROUP = "shimmy_lab.engines"


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[tuple[str, str], ...]:
    return tuple((ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP))


def available_engines(refresh: bool = False) -> dict[str, str]:
    """Every engine: name -> ``"module:Class"``.

    The built-in :data:`ENGINES` first, then those that installed packages declare in
    the :data:`ENTRY_POINT_GROUP` entry-point group (a built-in name is not replaced).

    Parameters
    ----------
    refresh : bool
        Read the installed packages' entry points again (they are cached; an unknown
        name in :func:`engine_class` and every :func:`~shimmy_lab.registry.discover`
        refresh them).
    """
    if refresh:
        _installed.cache_clear()
    found = dict(ENGINES)
    for name, target in _installed():
        found.setdefault(name, target)
    return found


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def engine_class(name: str) -> type[Engine]:
    """Return the engine class registered under ``name``.

    Raises
    ------
    EngineNotFoundError
        For an unknown name (the message lists the installed engines).
    EngineUnavailableError
        If the backend library is not installed.
    """
    table = available_engines()
    if name not in table:
        table = available_engines(refresh=True)  # a package installed since
    if name not in table:
        raise EngineNotFoundError(name, table)
    try:
        return _load(table[name])
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EngineUnavailableError(
            f"The {name!r} engine needs a library that is not installed ({exc}). "
            "Install shimmy-lab[all]."
        ) from exc


def engine_classes(refresh: bool = False) -> list[tuple[str, type[Engine]]]:
    """``(name, class)`` of every engine that can be imported, in :func:`available_engines` order.

    An engine whose module cannot be imported is left out with a warning.
    """
    classes = []
    for name in available_engines(refresh):
        try:
            classes.append((name, engine_class(name)))
        except (ImportError, AttributeError) as exc:
            warnings.warn(f"engine {name!r} left out: {exc}", RuntimeWarning, stacklevel=2)
    return classes


def guess_engine(path: str | Path) -> str:
    """The natural engine for a model path: the first of :func:`engine_classes` whose
    :meth:`~Engine.guess_can_open` accepts it.

    A GGUF file -> ``llama_cpp``; a directory written by :func:`shimmy_lab.convert`
    (it holds ``shimmy_convert.json``) -> ``safetensors``; any other model directory
    -> ``transformers`` (the most general; pass ``engine="safetensors"`` to use the
    native engine on a Llama-architecture directory). A path no engine claims: a
    directory -> ``transformers``, anything else -> ``llama_cpp``.
    """
    for name, cls in engine_classes():
        if cls.guess_can_open(path):
            return name
    return "transformers" if Path(path).is_dir() else "llama_cpp"

