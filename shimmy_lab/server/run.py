"""``serve()``: run the app with ``uvicorn.Server`` in the foreground or in a thread.

In a Jupyter kernel the event loop of the main thread is already running, so the
server always gets its own thread and its own event loop there (never
``uvicorn.run`` or ``asyncio.run`` on the kernel's loop).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from ..settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from ..lab import Lab

__all__ = ["serve", "ServerHandle", "bind_socket", "AUTO_PORT_START"]

AUTO_PORT_START = 11435
log = logging.getLogger("shimmy_lab.server")


def bind_socket(host: str, port: int | str, tries: int = 100) -> socket.socket:
    """A listening socket on ``host:port``; ``port="auto"`` tries 11435, 11436, ...

    Port 0 lets the OS choose. Binding here (not in uvicorn) means the port that is
    reported is the port that is served, with no race.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    candidates = range(AUTO_PORT_START, AUTO_PORT_START + tries) if port == "auto" else [int(port)]
    last: OSError | None = None
    for candidate in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            last = exc
            if exc.errno in (errno.EADDRINUSE, errno.EACCES) and port == "auto":
                continue
            raise OSError(exc.errno, f"cannot bind {host}:{candidate}: {exc.strerror}") from None
        sock.listen(2048)
        sock.set_inheritable(True)
        return sock
    raise OSError(errno.EADDRINUSE, f"no free port in {candidates.start}-{candidates.stop - 1}") from last


class ServerHandle:
    """A server running in a background thread.

    Attributes
    ----------
    url : str
        Base URL, e.g. ``http://127.0.0.1:11435`` (the OpenAI base URL is ``url + "/v1"``).
    app : fastapi.FastAPI
        The served app (``app.state.lab`` is the shared Lab).
    """

    def __init__(self, server: Any, thread: threading.Thread, app: Any, host: str, port: int):
        self.server, self.thread, self.app = server, thread, app
        self.host, self.port = host, port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"

    @property
    def base_url(self) -> str:
        """The OpenAI client's ``base_url``."""
        return self.url + "/v1"

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    @property
    def ready(self) -> bool:
        """True once the default model is loaded."""
        return bool(self.app.state.ready)

    def wait_ready(self, timeout: float = 120.0) -> "ServerHandle":
        """Block until the default model is loaded (raises on failure or timeout)."""
        deadline = time.monotonic() + timeout
        while not self.app.state.ready:
            if self.app.state.ready_error:
                raise RuntimeError(self.app.state.ready_error)
            if time.monotonic() > deadline or not self.running:
                raise TimeoutError(f"server at {self.url} not ready after {timeout} s")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and wait for its thread (streams get ``timeout`` s to end)."""
        if not self.thread.is_alive():
            return
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<shimmy-lab server {self.url} ({state}, model={self.app.state.lab.default_model!r})>"


def serve(lab: "Lab | None" = None, settings: "Settings | None" = None, background: bool = False,
          **overrides: Any) -> ServerHandle | None:
    """Serve the OpenAI-compatible API.

    Parameters
    ----------
    lab : Lab, optional
        The lab to serve (a notebook's lab: what is loaded there is what is served).
        Default: a new ``Lab`` built from the settings.
    settings : Settings, optional
        Default: :meth:`Settings.load` with ``overrides``.
    background : bool
        Run in a daemon thread and return a :class:`ServerHandle` at once.
        Otherwise block until interrupted (inside a running event loop, e.g. a
        kernel, the server still gets its own thread; the call blocks on it).
    **overrides
        Settings fields, e.g. ``port=8080``, ``parallel=2``, ``api_keys=["k"]``.

    Returns
    -------
    ServerHandle or None
    """
    import uvicorn  # lazy: uvicorn, only when a server starts

    from .app import create_app  # lazy: fastapi, only when the app is built

    if settings is None:
        settings = Settings.load(**overrides)
    elif overrides:
        settings = settings.model_copy(update=overrides)
    app = create_app(lab, settings)
    sock = bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    # JSON logs: uvicorn's records go through the root logger's JSON handler (logs.configure_logging)
    own_config = background or getattr(settings, "log_format", "text") == "json"
    config = uvicorn.Config(app, host=settings.host, port=port, log_level=settings.log_level,
                            access_log=settings.log_level == "debug", lifespan="on",
                            timeout_graceful_shutdown=5, log_config=None if own_config else uvicorn.config.LOGGING_CONFIG)
    server = uvicorn.Server(config)

    if not background and not _loop_running():
        log.info("shimmy-lab serving on http://%s:%s", settings.host, port)
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
        return None

    def target() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException:  # pragma: no cover - reported through the handle
            log.exception("server thread crashed")
        finally:
            sock.close()
            loop.close()

    thread = threading.Thread(target=target, name=f"shimmy-server-{port}", daemon=True)
    thread.start()
    handle = ServerHandle(server, thread, app, settings.host, port)
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {handle.url}")
        time.sleep(0.01)
    if background:
        return handle
    try:  # blocking call from inside a running loop (e.g. a kernel cell)
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        handle.stop()
    return None


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
