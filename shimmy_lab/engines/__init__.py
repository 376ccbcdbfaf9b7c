"""Engines: one small protocol (:class:`Engine`), one module per backend.

Backends are named in :data:`ENGINES` and imported only when used, so importing
shimmy_lab never loads llama.cpp or torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..errors import EngineNotFoundError, EngineUnavailableError
from .base import Engine, EngineInfo, TokenStep
from .params import GenerationParams

__all__ = ["Engine", "EngineInfo", "TokenStep", "GenerationParams", "ENGINES", "engine_class",
           "guess_engine", "load_engine"]

#: Engine name -> "module:Class" (imported lazily).
ENGINES: dict[str, str] = {
    "llama_cpp": "shimmy_lab.engines.llama_cpp:LlamaCppEngine",
    "transformers": "shimmy_lab.engines.transformers:TransformersEngine",
    "safetensors": "shimmy_lab.engines.safetensors:SafetensorsEngine",
}


def engine_class(name: str) -> type[Engine]:
    """Return the engine class registered under ``name``.

    Raises
    ------
    EngineNotFoundError
        For an unknown name (the message lists the installed engines).
    EngineUnavailableError
        If the backend library is not installed.
    """
    if name not in ENGINES:
        raise EngineNotFoundError(name, ENGINES)
    module, cls = ENGINES[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EngineUnavailableError(
            f"The {name!r} engine needs a library that is not installed ({exc}). "
            "Install shimmy-lab[all]."
        ) from exc


def guess_engine(path: str | Path) -> str:
    """The natural engine for a model path.

    A GGUF file -> ``llama_cpp``; a directory written by :func:`shimmy_lab.convert`
    (it holds ``shimmy_convert.json``) -> ``safetensors``; any other model directory
    -> ``transformers`` (the most general; pass ``engine="safetensors"`` to use the
    native engine on a Llama-architecture directory).
    """
    path = Path(path)
    if path.is_dir():
        return "safetensors" if (path / "shimmy_convert.json").exists() else "transformers"
    return "llama_cpp"


def load_engine(model: str | Path | None = None, engine: str | None = None, **kwargs: Any) -> Engine:
    """Load a model into an engine.

    Parameters
    ----------
    model : str or path, optional
        A model id known to the registry, or a path to a GGUF file or model
        directory. Default: the bundled SmolLM2-135M-Instruct.
    engine : {"llama_cpp", "transformers", "safetensors"}, optional
        Backend; guessed from the path when omitted.
    **kwargs
        Passed to the engine (e.g. ``n_ctx``, ``n_threads``).

    Returns
    -------
    Engine
    """
    from ..registry import resolve

    entry = resolve(model)
    name = engine or entry.engine
    return engine_class(name)(entry.path, model_id=entry.id, **kwargs)
