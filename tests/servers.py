"""Shared helpers for tests that start the real server on 127.0.0.1."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def running(lab: Any = None, **overrides: Any) -> Iterator[Any]:
    """A background server on a free port, ready (default model loaded), stopped afterwards."""
    from shimmy_lab.server.run import serve

    handle = serve(lab, background=True, port=0, config_reload=0, **overrides)
    try:
        handle.wait_ready(60)
        yield handle
    finally:
        handle.stop()


def openai_client(handle: Any) -> Any:
    """The real ``openai`` client pointed at a running server."""
    import openai

    return openai.OpenAI(base_url=handle.base_url, api_key="unused", max_retries=0)
