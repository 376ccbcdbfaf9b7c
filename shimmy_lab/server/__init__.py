"""The OpenAI-compatible HTTP server (FastAPI + uvicorn).

``create_app(lab, settings)`` builds the app, ``serve(...)`` runs it (optionally in a
background thread, e.g. from a Jupyter kernel). Imports are lazy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app  # lazy: keeps this module's import light

        return create_app
    if name == "serve":
        from .run import serve  # lazy: keeps this module's import light

        return serve
    raise AttributeError(name)
