"""Logging of the server: the request id on every record, and JSON lines (``--log-format json``).

The request id of the request being served (the ``x-request-id`` header) is kept in a
context variable, :data:`request_id`, set by the app's middleware; a filter puts it on
every log record (``record.request_id``, None outside a request), in the event loop and
in the worker threads of ``run_in_threadpool`` alike.

>>> import logging, io
>>> stream = io.StringIO()
>>> handler = logging.StreamHandler(stream)
>>> handler.setFormatter(JsonFormatter()); handler.addFilter(RequestIdFilter())
>>> token = request_id.set("req_1")
>>> record = logging.LogRecord("shimmy_lab.server", logging.INFO, __file__, 1, "hi %s", ("there",), None)
>>> handler.handle(record) and None
>>> line = json.loads(stream.getvalue())
>>> line["message"], line["request_id"], sorted(line)
('hi there', 'req_1', ['level', 'logger', 'message', 'request_id', 'time'])
>>> request_id.reset(token)
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import sys
from typing import Any

__all__ = ["request_id", "RequestIdFilter", "JsonFormatter", "configure_logging", "TEXT_FORMAT"]

#: The id of the request being served (None outside a request).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("shimmy_request_id", default=None)
#: The format of text log lines (the one ``shimmy-lab serve`` always used).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


class RequestIdFilter(logging.Filter):
    """Puts the current request id on each record (``record.request_id``); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id``, and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None)}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out.update({k: v for k, v in extra.items() if k not in out})
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(log_format: str = "text", level: str = "info", stream: Any = None) -> logging.Handler:
    """Log to ``stream`` (stderr) as text or JSON lines, with the request id on each record.

    Replaces the root logger's handlers, and lets uvicorn's loggers go through the root
    logger (so its lines are JSON too). Returns the handler.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
