"""shimmy-lab: a Jupyter-native research toolkit for narrative-aware text generation.

The public face only; everything is imported lazily so ``import shimmy_lab`` is cheap
and never loads llama.cpp, torch or ipywidgets.

>>> import shimmy_lab as sl
>>> eng = sl.load_engine()                      # bundled SmolLM2 via llama.cpp
>>> "smollm2-135m-instruct" in set(sl.models()["id"])   # models found on disk, as a DataFrame
True
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_LAZY = {
    "Lab": ("shimmy_lab.lab", "Lab"),
    "models": ("shimmy_lab.lab", "models"),
    "default_lab": ("shimmy_lab.lab", "default_lab"),
    "load_engine": ("shimmy_lab.lab", "load_engine"),
    "convert": ("shimmy_lab.engines.convert", "convert"),
    "Story": ("shimmy_lab.story", "Story"),
    "read_text": ("shimmy_lab.story", "read_text"),
    "serve": ("shimmy_lab.server.run", "serve"),
    "create_app": ("shimmy_lab.server.app", "create_app"),
    "Settings": ("shimmy_lab.settings", "Settings"),
    "evaluate": ("shimmy_lab.eval.evaluate", "evaluate"),
    "analyze": ("shimmy_lab.assistant", "analyze"),
    "drift": ("shimmy_lab.assistant", "drift"),
    "context": ("shimmy_lab.assistant", "context"),
    "tl": ("shimmy_lab.trackers", None),
    "pl": ("shimmy_lab.plotting", None),
    "widgets": ("shimmy_lab.widgets", None),
    "experiments": ("shimmy_lab.experiments", None),
    "errors": ("shimmy_lab.errors", None),
    "engines": ("shimmy_lab.engines", None),
    "datasets": ("shimmy_lab.datasets", None),
}

__all__ = sorted(_LAZY) + ["__version__", "load_ipython_extension"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'shimmy_lab' has no attribute {name!r}")
    module, attr = _LAZY[name]
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext shimmy_lab``: registers the ``%shimmy`` magics."""
    from .jupyter import load_ipython_extension as _load  # lazy: keeps this module's import light

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext shimmy_lab``: stops servers started from the kernel."""
    from .jupyter import unload_ipython_extension as _unload  # lazy: keeps this module's import light

    _unload(ipython)
