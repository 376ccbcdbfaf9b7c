"""Exceptions raised by shimmy-lab.

Every exception carries what the HTTP layer needs to answer with an OpenAI-shaped
error object (``status``, ``type``, ``code``, ``param``), so the same error reads
well in a notebook traceback and on the wire.
"""

from __future__ import annotations

from typing import Any, Iterable


class ShimmyError(Exception):
    """Base class of every shimmy-lab error.

    Parameters
    ----------
    message : str
        Human-readable explanation.
    param : str, optional
        The request parameter at fault, if any.
    code : str, optional
        Machine-readable error code (OpenAI style).
    """

    status: int = 400
    type: str = "invalid_request_error"
    default_code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code

    def to_openai(self) -> dict[str, Any]:
        """Return the OpenAI error body ``{"error": {...}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidParameterError(ShimmyError, ValueError):
    """A parameter has the wrong type or an out-of-range value."""

    default_code = "invalid_value"


class UnsupportedParameterError(InvalidParameterError):
    """A parameter that this engine cannot honour was given a non-default value."""

    default_code = "unsupported_parameter"

    def __init__(self, param: str, engine: str, hint: str = ""):
        msg = f"Parameter {param!r} is not supported by the {engine!r} engine."
        if hint:
            msg += " " + hint
        super().__init__(msg, param=param)
        self.engine = engine


class ContextLengthExceededError(InvalidParameterError):
    """The prompt plus the requested completion does not fit the context window."""

    default_code = "context_length_exceeded"

    def __init__(self, prompt_tokens: int, max_tokens: int, context_length: int, param: str = "messages"):
        super().__init__(
            f"This model's maximum context length is {context_length} tokens. However, you "
            f"requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the prompt, "
            f"{max_tokens} for the completion). Please reduce the prompt or max_tokens.",
            param=param,
        )
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.context_length = context_length


class ModelNotFoundError(ShimmyError, LookupError):
    """No model with this id (or path) is known to the registry."""

    status = 404
    default_code = "model_not_found"

    def __init__(self, model: str, available: Iterable[str] = ()):
        available = sorted(set(available))
        msg = f"The model {model!r} does not exist."
        if available:
            msg += " Available models: " + ", ".join(available) + "."
        super().__init__(msg, param="model")
        self.model = model
        self.available = available


class UnsupportedModelError(ShimmyError, ValueError):
    """The model files cannot be run by this engine (architecture, layout, weights)."""

    default_code = "unsupported_model"


class EngineNotFoundError(ShimmyError, LookupError):
    """An unknown engine name was asked for."""

    default_code = "engine_not_found"

    def __init__(self, engine: str, available: Iterable[str]):
        available = sorted(available)
        super().__init__(
            f"Unknown engine {engine!r}. Installed engines: {', '.join(available)}.", param="engine"
        )
        self.engine = engine
        self.available = available


class EngineUnavailableError(ShimmyError, ImportError):
    """The engine's backend library is not installed."""

    status = 500
    type = "server_error"
    default_code = "engine_unavailable"
