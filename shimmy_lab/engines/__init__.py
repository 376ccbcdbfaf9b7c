"""Engines: one small protocol (:class:`Engine`), one module per backend.

The built-in engines are found by walking this package's modules: the module
``engines/<name>.py`` declares the engine ``<name>``, the concrete :class:`Engine`
subclass defined in it whose ``name`` is the module's name (:data:`ENGINES`, ordered by
:attr:`Engine.priority`, then name). Modules whose name starts with ``_`` are helpers and
are not imported by the walk (``_llama_torch``, the torch model, imports torch); the
other helper modules (``base``, ``params``, ``files``, ...) are light and declare no
engine of their name (``llama_batch.BatchedEngine``, named ``llama_cpp``, is built by that
engine, not listed). Other packages declare engines in the entry-point group
:data:`ENTRY_POINT_GROUP`. No backend library is imported before an engine is built, so
importing shimmy_lab, or listing the engines, never loads llama.cpp, torch or
transformers. Each engine class says whether it opens a model file or folder
(:meth:`Engine.guess_can_open`) and what to list about it (:meth:`Engine.describe`);
the registry (:mod:`shimmy_lab.registry`) asks them while it walks the model folders.
Engines are built by :meth:`shimmy_lab.lab.Lab.engine` (or :func:`shimmy_lab.lab.load_engine`).

Adding a built-in engine is one new module ``engines/<name>.py`` (its class sets
``name = "<name>"`` and a ``priority``) and its test; no table is edited.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..errors import EngineNotFoundError, EngineUnavailableError
from .base import Engine, EngineInfo, TokenStep
from .params import GenerationParams

__all__ = ["Engine", "EngineInfo", "TokenStep", "GenerationParams", "ENGINES", "ENTRY_POINT_GROUP",
           "available_engines", "engine_class", "engine_classes", "guess_engine"]

#: Entry-point group in which another package declares engines
#: (``[project.entry-points."shimmy_lab.engines"] my_engine = "my_pkg.engine:MyEngine"``).
ENTRY_POINT_GROUP = "shimmy_lab.engines"


@functools.lru_cache(maxsize=1)
def _builtin() -> tuple[tuple[str, str], ...]:
    """``(name, "module:Class")`` of the engines this package's modules declare, by
    :attr:`Engine.priority`, then name (the walk behind :data:`ENGINES`, cached)."""
    classes = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):  # a private helper module (it may import torch)
            classes += _declared(info.name)
    classes.sort(key=lambda cls: (cls.priority, cls.name))
    return tuple((cls.name, f"{cls.__module__}:{cls.__qualname__}") for cls in classes)


def _declared(module_name: str) -> list[type[Engine]]:
    """The engine the module ``engines.<module_name>`` declares: the concrete :class:`Engine`
    subclass defined in it and named as the module (none for a helper module).

    A module that cannot be imported is left out with a warning.

    Raises
    ------
    TypeError
        If the module defines several engines of its name.
    """
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ImportError as exc:  # pragma: no cover - a broken module, reported not fatal
        warnings.warn(f"engine module {module_name!r} left out: {exc}", RuntimeWarning, stacklevel=3)
        return []
    found = list(dict.fromkeys(  # one class once, whatever its aliases
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Engine) and obj.__module__ == module.__name__
        and not inspect.isabstract(obj) and obj.name == module_name))
    if len(found) > 1:
        raise TypeError(f"module {module.__name__} defines several engines named {module_name!r}: "
                        f"{', '.join(cls.__qualname__ for cls in found)}")
    return found


def __getattr__(name: str) -> Any:
    """:data:`ENGINES`, computed from the walk of this package's modules on first use."""
    if name == "ENGINES":
        return dict(_builtin())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: ENGINES (a module ``__getattr__``): the built-in engines, name -> ``"module:Class"``,
#: the most specific first (:attr:`Engine.priority`, then name: ``llama_cpp``,
#: ``safetensors``, ``transformers``, so a folder written by ``sl.convert`` is claimed by
#: ``safetensors`` before ``transformers``). Found by walking this package's modules
#: (see the module docstring); a new dict at each access, from the cached walk.
ENGINES: dict[str, str]


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
        Walk this package's modules and read the installed packages' entry points again
        (both are cached; an unknown name in :func:`engine_class` and every
        :func:`~shimmy_lab.registry.discover` refresh them).
    """
    if refresh:
        importlib.invalidate_caches()  # see modules written since the last walk
        _builtin.cache_clear()
        _installed.cache_clear()
    found = dict(_builtin())
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

