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
    """One chat message; content parts must be text (checked by the engine).

    An assistant message may carry ``tool_calls``, a ``tool`` message its ``tool_call_id``.
    """

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[dict[str, Any]], None] = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None

    def plain(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out


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
    tools: list[dict[str, Any]] | None = None
    tool_choice: Union[Literal["none", "auto", "required"], dict[str, Any], None] = None
    parallel_tool_calls: bool | None = None
    # accepted as OpenAI clients send them; nothing to do locally
    service_tier: str | None = None
    store: bool | None = None
    prediction: dict[str, Any] | None = None
    modalities: list[Literal["text"]] | None = None
    reasoning_effort: str | None = None

    def generation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Engine.chat``."""
        out = self._common()
        for name in ("tools", "tool_choice", "parallel_tool_calls"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
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


# ---------------------------------------------------------------------------- responses (/v1/responses)
class ResponseTextFormat(_Body):
    """``text.format`` of ``POST /v1/responses``: ``text``, ``json_object`` or ``json_schema`` (flat)."""

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None

    def response_format(self) -> dict[str, Any] | None:
        """The chat ``response_format`` of this format (None for plain text)."""
        if self.type == "text":
            return None
        if self.type == "json_object":
            return {"type": "json_object"}
        if self.schema_ is None:
            raise InvalidParameterError("Missing required parameter: 'text.format.schema'.",
                                        param="text.format.schema", code="missing_required_parameter")
        spec = {"name": self.name or "response", "schema": self.schema_}
        if self.strict is not None:
            spec["strict"] = self.strict
        return {"type": "json_schema", "json_schema": spec}

    def shown(self) -> dict[str, Any]:
        """The format as a ``Response`` reports it."""
        out = self.model_dump(by_alias=True, exclude_none=True)
        if self.type == "json_schema":
            out.setdefault("name", "response")
            out.setdefault("strict", False)
        return out


class ResponseText(_Body):
    format: ResponseTextFormat | None = None
    verbosity: str | None = None


class ResponseRequest(_Body):
    """``POST /v1/responses``.

    ``input`` items are checked item by item in :mod:`shimmy_lab.server.responses`, so an
    error names the item (``input[2].content[0].type``). ``user``, ``service_tier``,
    ``truncation``, ``parallel_tool_calls``, ``include``, ``reasoning`` and unknown fields
    are accepted and ignored (they mean nothing for a local model).
    """

    model: str | None = None
    input: Union[str, list[dict[str, Any]], None] = None
    instructions: str | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    text: ResponseText | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Union[str, dict[str, Any], None] = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = True
    previous_response_id: str | None = None
    stream: bool | None = False
    background: bool | None = None
    conversation: Union[str, dict[str, Any], None] = None
    prompt: dict[str, Any] | None = None
    user: str | None = None
    service_tier: str | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    reasoning: dict[str, Any] | None = None
    # not in OpenAI's Responses API, accepted as on chat (llama.cpp's server does too)
    seed: int | None = None

    def generation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Engine.chat`` (tools excepted)."""
        out = {"max_tokens": self.max_output_tokens, "temperature": self.temperature, "top_p": self.top_p,
               "seed": self.seed}
        out = {k: v for k, v in out.items() if v is not None}
        fmt = self.text.format if self.text is not None else None
        if fmt is not None and fmt.response_format() is not None:
            out["response_format"] = fmt.response_format()
        return out


__all__ += ["ResponseTextFormat", "ResponseText", "ResponseRequest"]


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads ``model`` with :func:`parse`: its JSON body,
    declared in the app's OpenAPI document (the schema inlined, so it stands alone)."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(x) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
        return {k: inline(v) for k, v in node.items()}

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


__all__ += ["openapi_body"]


class _ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """The OpenAI error object every error of the server is (declared in the OpenAPI document)."""

    error: _ErrorDetail


#: ``responses`` of the routers: any status but the declared success is an OpenAI error object.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorResponse, "description": "An OpenAI error object."}}

__all__ += ["ErrorResponse", "ERROR_RESPONSES"]
