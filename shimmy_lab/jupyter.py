"""IPython extension: ``%load_ext shimmy_lab`` registers the ``%shimmy`` line magic.

::

    %shimmy serve [--port P|auto] [--host H] [--parallel N] [--api-key K]
    %shimmy status
    %shimmy models
    %shimmy stop [--port P]

The server runs in a background thread of the kernel and serves the kernel's
default :class:`~shimmy_lab.lab.Lab` (``shimmy_lab.lab.default_lab()``): a model
loaded or a story attached in the notebook is what the endpoint serves.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

__all__ = ["ShimmyMagics", "load_ipython_extension", "unload_ipython_extension"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # no SystemExit inside a kernel
        raise ValueError(f"%shimmy: {message}\n{self.format_usage()}")


def _parser() -> _Parser:
    parser = _Parser(prog="%shimmy", add_help=False)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", add_help=False)
    serve.add_argument("--port", default="auto", help="port, 0 for any free port, or auto (default)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--parallel", type=int, default=None)
    serve.add_argument("--api-key", action="append", dest="api_keys", default=None)
    serve.add_argument("--model", default=None)
    stop = sub.add_parser("stop", add_help=False)
    stop.add_argument("--port", type=int, default=None)
    sub.add_parser("status", add_help=False)
    sub.add_parser("models", add_help=False)
    return parser


def _magics_class():
    from IPython.core.magic import Magics, line_magic, magics_class  # lazy: IPython, only inside a notebook

    @magics_class
    class ShimmyMagics(Magics):
        """``%shimmy`` magics; the servers they started live on this object."""

        def __init__(self, shell: Any = None):
            super().__init__(shell)
            self.servers: dict[int, Any] = {}

        @line_magic
        def shimmy(self, line: str) -> Any:
            """``%shimmy serve|stop|status|models``: serve the kernel's Lab over HTTP."""
            args = _parser().parse_args(shlex.split(line))
            if args.command == "serve":
                return self.serve(args)
            if args.command == "stop":
                return self.stop(args.port)
            if args.command == "models":
                from .lab import default_lab  # lazy: keeps this module's import light

                return default_lab().models()
            if args.command == "status" or args.command is None:
                return self.status()
            raise ValueError(f"%shimmy: unknown command {args.command!r}")  # pragma: no cover

        def serve(self, args: argparse.Namespace) -> Any:
            # lazy: keeps this module's import light
            from .lab import default_lab
            from .server.run import serve

            lab = default_lab()
            if args.model:
                lab.default_model = args.model
            overrides = {"port": args.port if args.port == "auto" else int(args.port)}
            for name in ("host", "parallel", "api_keys"):
                if getattr(args, name):
                    overrides[name] = getattr(args, name)
            handle = serve(lab=lab, background=True, **overrides)
            self.servers[handle.port] = handle
            print(f"shimmy-lab serving {lab.default_model!r} at {handle.url} "
                  f"(OpenAI base_url {handle.base_url}); the model loads in the background.")
            return handle

        def stop(self, port: int | None = None) -> None:
            ports = [port] if port is not None else list(self.servers)
            if port is not None and port not in self.servers:
                print(f"no shimmy-lab server on port {port}")
                return
            for p in ports:
                self.servers.pop(p).stop()
                print(f"stopped the shimmy-lab server on port {p}")
            if not ports:
                print("no shimmy-lab server is running")

        def status(self) -> list[dict[str, Any]]:
            rows = []
            for port, handle in list(self.servers.items()):
                pool = handle.app.state.pool
                rows.append({"url": handle.url, "running": handle.running, "ready": handle.ready,
                             "models": [s.status() for s in pool.schedulers.values()]})
            if not rows:
                print("no shimmy-lab server is running (start one with %shimmy serve)")
            return rows

    return ShimmyMagics


def __getattr__(name: str) -> Any:
    if name == "ShimmyMagics":
        return _magics_class()
    raise AttributeError(name)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%shimmy`` (called by ``%load_ext shimmy_lab``)."""
    ipython.register_magics(_magics_class()(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """Stop every server started with ``%shimmy serve``."""
    magics = ipython.magics_manager.registry.get("ShimmyMagics")
    if magics is not None:
        for handle in list(magics.servers.values()):
            handle.stop()
        magics.servers.clear()
