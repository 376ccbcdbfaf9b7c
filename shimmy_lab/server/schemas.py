"""Request bodies of the OpenAI-compatible routes.

Unknown fields are ignored (as OpenAI does); wrong types are errors (strict mode:
``"5"`` is not an integer, ``1`` is not a boolean); ranges follow the OpenAI API.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar, Union

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InvalidParameterError

B = TypeVar("B", bound=BaseModel)


async def parse(request: Request, model: type[B]) -> B:
    """Read the JSON body and validate it against ``model`` (errors become 400 OpenAI errors)."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError.from_exception_data(
            "body", [{"type": "json_invalid", "loc": ("body",), "input": raw[:100], "ctx": {"error": str(exc)}}]
        ) from None
    if not isinstance(data, dict):
        raise InvalidParameterError("The request body must be a JSON object.", code="invalid_type")
    return model.model_validate(data)

__all__ = [
    "ChatMessage", "StreamOptions", "ResponseFormat", "ChatCompletionRequest", "CompletionRequest",
    "EmbeddingRequest", "TokenizeRequest", "DetokenizeRequest",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class ChatMessage(_Body):
    """One chat message; content parts must be text (checked by the engine)."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[dict[str, Any]], None] = None
    name: str | None = None

    def plain(self) -> dict[str, Any]:
        return {"role": self.role, "content": self.content}


class StreamOptions(_Body):
    include_usage: bool = False


class ResponseFormat(_Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class _Sampling(_Body):
    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=128)
    stop: Union[str, list[str], None] = None
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    # llama.cpp extras, as llama.cpp's own server accepts them
    top_k: int | None = Field(None, ge=0)
    min_p: float | None = Field(None, ge=0, le=1)
    repeat_penalty: float | None = Field(None, ge=0)

    def _common(self) -> dict[str, Any]:
        out = {
            "max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p, "n": self.n,
            "stop": self.stop, "seed": self.seed, "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty, "logit_bias": self.logit_bias, "top_k": self.top_k,
            "min_p": self.min_p, "repeat_penalty": self.repeat_penalty,
        }
        return {k: v for k, v in out.items() if v is not None}

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(_Sampling):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    response_format: ResponseFormat | None = None

    def generation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Engine.chat``."""
        out = self._common()
        if self.max_completion_tokens is not None:
            out["max_tokens"] = self.max_completion_tokens
        if self.logprobs:
            out["logprobs"] = True
        if self.top_logprobs:  # without logprobs this is an error, as OpenAI has it
            out["top_logprobs"] = self.top_logprobs
        if self.response_format is not None and self.response_format.type != "text":
            out["response_format"] = self.response_format.model_dump(exclude_none=True)
        return out


Prompt = Union[str, list[str], list[int], list[list[int]]]


class CompletionRequest(_Sampling):
    """``POST /v1/completions``."""

    prompt: Prompt
    echo: bool | None = False
    suffix: str | None = None
    best_of: int | None = Field(None, ge=1, le=20)
    logprobs: int | None = Field(None, ge=0, le=5)

    def generation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Engine.complete``."""
        out = self._common()
        if self.logprobs is not None:
            out["logprobs"] = True
            if self.logprobs:
                out["top_logprobs"] = self.logprobs
        return out


class EmbeddingRequest(_Body):
    """``POST /v1/embeddings``."""

    input: Prompt
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None


class TokenizeRequest(_Body):
    """``POST /tokenize``: ``content`` (or ``input``) to token ids."""

    model: str | None = None
    content: str | None = None
    input: str | None = None
    add_special: bool = False


class DetokenizeRequest(_Body):
    """``POST /detokenize``: token ids to text."""

    model: str | None = None
    tokens: list[int]
