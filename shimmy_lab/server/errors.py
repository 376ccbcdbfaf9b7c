"""Every error the server sends is an OpenAI error object.

``{"error": {"message", "type", "param", "code"}}`` with the right status, whether it
comes from a :class:`~shimmy_lab.errors.ShimmyError`, request validation, an unknown
route, a wrong method, a missing API key, a body that is too large, a full queue, or
a real bug (500, logged with the request id).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import ShimmyError

__all__ = [
    "QueueFullError", "OverloadedError", "AuthError", "RateLimitError", "PayloadTooLarge", "error_body",
    "error_response", "validation_error", "install_error_handlers",
]

log = logging.getLogger("shimmy_lab.server")


class QueueFullError(ShimmyError):
    """Every slot is busy and the wait queue is full (429, with ``Retry-After``)."""

    status = 429
    type = "rate_limit_error"
    default_code = "queue_full"

    def __init__(self, model: str, queue_size: int, retry_after: int = 1):
        super().__init__(f"The server is busy: {queue_size} requests for {model!r} are already waiting. "
                         f"Retry after {retry_after} s.")
        self.retry_after = retry_after


class OverloadedError(ShimmyError):
    """A request waited too long for a slot, or the server is not ready (503, ``Retry-After``)."""

    status = 503
    type = "server_error"
    default_code = "server_overloaded"

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitError(ShimmyError):
    """A client is over its requests or tokens per minute (429, ``Retry-After``).

    ``type`` is the kind of limit (``"requests"`` or ``"tokens"``), as OpenAI sends it;
    ``wait`` the seconds until the request fits, ``retry_after`` the same in whole seconds
    (at least 1); both ``None`` when the request can never fit (larger than the limit).
    """

    status = 429
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, kind: str, wait: float | None):
        super().__init__(message)
        self.type = kind
        self.wait = wait
        self.retry_after = None if wait is None else max(1, math.ceil(wait))


class AuthError(ShimmyError):
    """Missing or wrong API key (401)."""

    status = 401
    default_code = "invalid_api_key"


class PayloadTooLarge(StarletteHTTPException):
    """The request body is larger than ``max_body_bytes`` (413).

    An ``HTTPException`` so that FastAPI's body reader lets it through unchanged.
    """

    def __init__(self, limit: int):
        super().__init__(413, f"Request body too large: the limit is {limit} bytes.")


def error_body(message: str, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """The OpenAI error object."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def shimmy_error_response(exc: ShimmyError) -> JSONResponse:
    headers = {}
    if getattr(exc, "retry_after", None) is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(exc.status, exc.to_openai(), headers)


def _loc_to_param(loc: tuple[Any, ...]) -> str | None:
    out = ""
    for part in loc:
        if part == "body":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (part.startswith("function-") or "[" in part):
            continue  # pydantic union tags like "str" or "list[str]"
        elif part in ("str", "int", "float", "bool", "dict", "list", "none"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or None


def validation_error(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAI body for a list of pydantic errors (the first one is reported)."""
    if not errors:
        return error_body("Invalid request.")
    err = errors[0]
    if err.get("type") == "json_invalid":
        return error_body(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The API expects a JSON payload, but what was sent was not valid "
            f"JSON: {err.get('ctx', {}).get('error', 'decode error')}.)"
        )
    param = _loc_to_param(tuple(err.get("loc", ())))
    msg = err.get("msg", "invalid value")
    if err.get("type") == "missing":
        return error_body(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    value = err.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    text = f"Invalid value for '{param}': {msg} (got {shown})." if param else f"Invalid request body: {msg}."
    kind = err.get("type", "")
    code = "invalid_type" if kind.endswith("_type") or kind in ("model_attributes_type", "union_tag_invalid") \
        else "invalid_value"
    return error_body(text, param=param, code=code)


def install_error_handlers(app: Any) -> None:
    """Register the handlers that turn every exception into an OpenAI error object."""
    from fastapi.exceptions import RequestValidationError  # lazy: fastapi, only when the app is built

    @app.exception_handler(ShimmyError)
    async def _shimmy(request: Request, exc: ShimmyError) -> JSONResponse:
        return shimmy_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, validation_error(list(exc.errors())))

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        return error_response(400, validation_error(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        if status == 404:
            body = error_body(f"Unknown request URL: {request.method} {request.url.path}. Please check the URL "
                              "for typos.", code="unknown_url")
        elif status == 405:
            body = error_body(f"Method {request.method} is not allowed for {request.url.path}.",
                              code="method_not_allowed")
        elif status == 413:
            body = error_body(str(exc.detail), code="request_too_large")
        else:
            body = error_body(str(exc.detail), type="server_error" if status >= 500 else "invalid_request_error")
        return error_response(status, body, dict(exc.headers or {}))
