"""The Responses API: ``POST /v1/responses``, ``GET`` / ``DELETE /v1/responses/{id}``,
``GET /v1/responses/{id}/input_items``.

A Responses request is translated into the chat generation the server already does
(:func:`~shimmy_lab.server.routes_openai.generate`: the scheduler slot, metrics,
disconnects and the narrative hook are those of ``/v1/chat/completions``), and the chat
chunks are shaped into a ``Response`` object or its semantic stream events
(:class:`ResponseShape`).

* ``input``: a string (one user message) or a list of items: messages (``user``,
  ``system``, ``developer``, ``assistant``; content a string or ``input_text`` /
  ``output_text`` parts), ``function_call`` and ``function_call_output`` items.
  ``instructions`` becomes a leading system message (not carried over by
  ``previous_response_id``, as OpenAI has it).
* ``text.format``: ``text``, ``json_object``, ``json_schema`` -> the engines'
  ``response_format`` grammar; function ``tools`` / ``tool_choice`` -> the chat tools
  (flat Responses tools mapped to the chat form).
* ``store`` (default true): the response and the items it saw are kept in the app's
  response store (:mod:`shimmy_lab.server.responses_store`, next to the stories), which
  ``previous_response_id`` continues from and ``GET``/``DELETE`` read.
* ``metadata.story_id`` / ``X-Shimmy-Story``: the narrative path of chat (context in,
  drift back in a ``narrative`` object on the response, ``append``, ``stabilize``).

What cannot be done locally is a 400 naming the parameter (built-in tools such as
``web_search``, image, file or audio inputs, ``background``, ``conversation``,
``prompt`` templates, ``item_reference`` items); what means nothing locally is accepted
and ignored (``user``, ``service_tier``, ``truncation``, ``parallel_tool_calls``,
``include``, ``reasoning``).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, AsyncIterator, Iterator, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..engines.base import check_messages
from ..engines.params import GenerationParams
from ..errors import InvalidParameterError, ShimmyError
from .narrative import story_for_request
from .routes_openai import check_prompt, prompt_tools, generate
from .schemas import ERROR_RESPONSES, ResponseRequest, openapi_body, parse

__all__ = ["router", "ResponseShape", "ResponseNotFoundError", "input_items", "items_to_messages",
           "chat_tools", "chat_tool_choice"]

router = APIRouter(responses=ERROR_RESPONSES)

_TEXT_PARTS = ("input_text", "output_text", "text")
_FILE_PARTS = ("input_image", "input_file", "input_audio", "image_url", "input_video")
_IGNORED_ITEMS = ("reasoning",)


class ResponseNotFoundError(ShimmyError, LookupError):
    """No stored response has this id (404; 400 when it is a ``previous_response_id``)."""

    status = 404
    default_code = "response_not_found"

    def __init__(self, response_id: str, param: str = "response_id"):
        shown = response_id if len(response_id) <= 80 else response_id[:80] + "..."
        if param == "previous_response_id":
            super().__init__(f"Previous response with id '{shown}' not found.", param=param,
                             code="previous_response_not_found")
            self.status = 400
        else:
            super().__init__(f"No response found with id '{shown}'.", param=param)


def _unsupported(param: str, message: str) -> InvalidParameterError:
    """A 400 ``unsupported_parameter`` naming ``param``: something a local server cannot do."""
    return InvalidParameterError(message, param=param, code="unsupported_parameter")


def _new(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------- input items
def input_items(value: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The ``input`` of a request as stored items (each with an ``id``), checked item by item."""
    if value is None:
        return []
    if isinstance(value, str):
        return [_message_item("user", [{"type": "input_text", "text": value}])]
    out = []
    for i, item in enumerate(value):
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            out.append(_message(item, f"input[{i}]"))
        elif kind == "function_call":
            out.append(_function_call(item, f"input[{i}]"))
        elif kind == "function_call_output":
            out.append(_function_output(item, f"input[{i}]"))
        elif kind in _IGNORED_ITEMS:
            continue
        elif kind is None:
            raise InvalidParameterError(f"Missing required parameter: 'input[{i}].type'.", param=f"input[{i}].type",
                                        code="missing_required_parameter")
        else:
            raise _unsupported(f"input[{i}].type", f"Input items of type {kind!r} are not "
                                            "supported: use messages, function_call and function_call_output.")
    return out


def _message_item(role: str, parts: list[dict[str, Any]], item_id: str | None = None) -> dict[str, Any]:
    if role == "assistant":
        parts = [{"type": "output_text", "text": p["text"], "annotations": [], "logprobs": []} for p in parts]
        return {"id": item_id or _new("msg"), "type": "message", "role": "assistant", "status": "completed",
                "content": parts}
    return {"id": item_id or _new("msg"), "type": "message", "role": role, "status": "completed",
            "content": [{"type": "input_text", "text": p["text"]} for p in parts]}


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "system", "developer", "assistant"):
        raise InvalidParameterError(f"Invalid value for '{where}.role': expected one of 'user', 'system', "
                                    f"'developer', 'assistant' (got {role!r}).", param=f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return _message_item(role, [{"text": content}], _item_id(item))
    if not isinstance(content, list):
        raise InvalidParameterError(f"Invalid type for '{where}.content': expected a string or a list of content "
                                    "parts.", param=f"{where}.content", code="invalid_type")
    return _message_item(role, [_part(p, f"{where}.content[{j}]") for j, p in enumerate(content)], _item_id(item))


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _FILE_PARTS:
        raise _unsupported(f"{where}.type", f"Content of type {kind!r} is not supported: "
                                        "the models served here read text only.")
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return {"text": part["refusal"]}
    if kind not in _TEXT_PARTS or not isinstance(part.get("text"), str):
        raise InvalidParameterError(f"Invalid value for '{where}': expected a text part "
                                    "({\"type\": \"input_text\", \"text\": \"...\"}).", param=where)
    return {"text": part["text"]}


def _item_id(item: dict[str, Any]) -> str | None:
    value = item.get("id")
    return value if isinstance(value, str) and value else None


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        raise InvalidParameterError(f"Missing required parameter: '{where}.{key}'.", param=f"{where}.{key}",
                                    code="missing_required_parameter")
    if not isinstance(value, str):
        raise InvalidParameterError(f"Invalid type for '{where}.{key}': expected a string.", param=f"{where}.{key}",
                                    code="invalid_type")
    return value


def _function_call(item: dict[str, Any], where: str) -> dict[str, Any]:
    return {"id": _item_id(item) or _new("fc"), "type": "function_call", "status": "completed",
            "call_id": _string(item, "call_id", where), "name": _string(item, "name", where),
            "arguments": _string(item, "arguments", where)}


def _function_output(item: dict[str, Any], where: str) -> dict[str, Any]:
    output = item.get("output")
    if isinstance(output, list):
        output = "".join(_part(p, f"{where}.output[{j}]")["text"] for j, p in enumerate(output))
    elif output is None:
        _string(item, "output", where)  # raises: missing
    elif not isinstance(output, str):
        raise InvalidParameterError(f"Invalid type for '{where}.output': expected a string or a list of text "
                                    "parts.", param=f"{where}.output", code="invalid_type")
    return {"id": _item_id(item) or _new("fco"), "type": "function_call_output", "status": "completed",
            "call_id": _string(item, "call_id", where), "output": output}


def items_to_messages(items: list[dict[str, Any]], instructions: str | None = None) -> list[dict[str, Any]]:
    """Stored items as chat messages: consecutive ``function_call`` items become one assistant
    message with ``tool_calls``, ``function_call_output`` items ``tool`` messages."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}] if instructions else []
    for item in items:
        if item["type"] == "message":
            text = "".join(p.get("text", "") for p in item["content"])
            messages.append({"role": item["role"], "content": text})
        elif item["type"] == "function_call":
            call = {"id": item["call_id"], "type": "function",
                    "function": {"name": item["name"], "arguments": item["arguments"]}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and (last.get("tool_calls") or not last["content"]):
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif item["type"] == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
    return messages


# ---------------------------------------------------------------------------- tools
def chat_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Responses function tools (flat) in the chat form; other tool types are a 400."""
    if not tools:
        return None
    out = []
    for i, tool in enumerate(tools):
        kind = tool.get("type")
        if kind != "function":
            raise _unsupported(f"tools[{i}].type", f"Tools of type {kind!r} are not "
                                            "supported here: only function tools.")
        function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
        out.append({"type": "function", "function": function})
    return out


def chat_tool_choice(choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    """A Responses ``tool_choice`` in the chat form."""
    if choice is None or isinstance(choice, str):
        return choice
    kind = choice.get("type")
    if kind == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    if kind == "allowed_tools":
        tools = [{"type": "function", "function": {"name": t.get("name")}} if isinstance(t, dict) else t
                 for t in choice.get("tools") or []]
        return {"type": "allowed_tools", "allowed_tools": {"mode": choice.get("mode"), "tools": tools}}
    raise _unsupported("tool_choice", f"tool_choice of type {kind!r} is not supported: "
                                    "use 'none', 'auto', 'required', a function or allowed_tools.")


def _shown_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{"type": "function", "name": t.get("name"), "description": t.get("description"),
             "parameters": t.get("parameters") or {"type": "object", "properties": {}},
             "strict": True if t.get("strict") is None else t["strict"]} for t in tools or []]


# ---------------------------------------------------------------------------- the Response object
def _usage(use: dict[str, int] | None) -> dict[str, Any] | None:
    if not use:
        return None
    return {"input_tokens": use["prompt_tokens"], "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": use["completion_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": use["prompt_tokens"] + use["completion_tokens"]}


def _text_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status,
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call_id, "name": name,
            "arguments": arguments}


def _sse(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: " + json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n\n"


class ResponseShape:
    """One Responses request: builds its ``Response`` from the chat chunks or the collected chat
    completion (:meth:`answer`), or its stream events (:meth:`events`), and stores it.

    Parameters
    ----------
    app : FastAPI
        The app (its ``state.responses`` store, its log).
    body : ResponseRequest
        The request.
    items : list of dict
        Every item the model sees (the previous response's items and output, then the input).
    """

    def __init__(self, app: Any, body: ResponseRequest, items: list[dict[str, Any]]):
        self.app, self.body, self.items = app, body, items
        self.id = _new("resp")
        self.created_at = int(time.time())

    def response(self, model: str, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None = None,
                 narrative: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``Response`` object in state ``status``."""
        body = self.body
        fmt = body.text.format.shown() if body.text is not None and body.text.format is not None else {"type": "text"}
        out = {
            "id": self.id, "object": "response", "created_at": self.created_at, "status": status,
            "completed_at": int(time.time()) if status == "completed" else None, "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": body.instructions, "max_output_tokens": body.max_output_tokens, "model": model,
            "output": output, "parallel_tool_calls": True if body.parallel_tool_calls is None else body.parallel_tool_calls,
            "previous_response_id": body.previous_response_id, "reasoning": None, "service_tier": "default",
            "store": bool(body.store), "temperature": 1.0 if body.temperature is None else body.temperature,
            "top_p": 1.0 if body.top_p is None else body.top_p, "text": {"format": fmt},
            "tool_choice": body.tool_choice or "auto", "tools": _shown_tools(body.tools),
            "truncation": body.truncation or "disabled", "metadata": body.metadata or {},
        }
        if usage is not None:  # the schema has no null usage: absent until it is known
            out["usage"] = usage
        if body.user is not None:
            out["user"] = body.user
        if narrative is not None:
            out["narrative"] = narrative
        return out

    async def save(self, response: dict[str, Any]) -> None:
        """Store the finished response (when ``store`` is true)."""
        if self.body.store and response["status"] in ("completed", "incomplete"):
            record = {"response": response, "input_items": self.items}
            await run_in_threadpool(self.app.state.responses.put, self.id, record)

    async def answer(self, result: dict[str, Any]) -> dict[str, Any]:
        """The ``Response`` of a collected ``chat.completion`` (stored)."""
        choice = result["choices"][0]
        message, finish = choice["message"], choice.get("finish_reason")
        status = "incomplete" if finish == "length" else "completed"
        output = []
        if message.get("content") or not message.get("tool_calls"):
            output.append(_text_item(_new("msg"), message.get("content") or "", status))
        for call in message.get("tool_calls") or ():
            fn = call["function"]
            output.append(_call_item(_new("fc"), call["id"], fn["name"], fn["arguments"], "completed"))
        response = self.response(result["model"], status, output, _usage(result.get("usage")), result.get("narrative"))
        await self.save(response)
        return response

    async def events(self, chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
        """The stream events of the chat ``chunks``, each with its ``sequence_number``."""
        stream = _EventStream(self)
        try:
            async for chunk in chunks:
                for event in stream.chunk(chunk):
                    yield _sse(event)
            for event in stream.finish():
                yield _sse(event)
            await self.save(stream.final)
            yield _sse(stream.event("response.incomplete" if stream.final["status"] == "incomplete"
                                    else "response.completed", response=stream.final))
        except ShimmyError as exc:
            yield _sse(stream.failed(exc.message))
        except Exception:
            self.app.state.log.exception("response stream %s failed", self.id)
            yield _sse(stream.failed("The server had an error while generating."))


class _EventStream:
    """The state of one streamed response: open output items, text so far, sequence numbers."""

    def __init__(self, shape: ResponseShape):
        self.shape = shape
        self.seq = 0
        self.model: str | None = None
        self.output: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None  # the item being written: {"item", "index", "parts"}
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.narrative: dict[str, Any] | None = None
        self.final: dict[str, Any] = {}

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        out = {"type": kind, **fields, "sequence_number": self.seq}
        self.seq += 1
        return out

    def chunk(self, chunk: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if self.model is None:
            self.model = chunk.get("model") or ""
            yield self.event("response.created", response=self.shape.response(self.model, "in_progress", []))
            yield self.event("response.in_progress", response=self.shape.response(self.model, "in_progress", []))
        if chunk.get("usage"):
            self.usage = _usage(chunk["usage"])
        if chunk.get("narrative") is not None:
            self.narrative = chunk["narrative"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                yield from self.text(delta["content"])
            for call in delta.get("tool_calls") or ():
                yield from self.call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def text(self, text: str) -> Iterator[dict[str, Any]]:
        if self.open is None or self.open["item"]["type"] != "message":
            yield from self.close()
            item = _text_item(_new("msg"), "", "in_progress")
            item["content"] = []
            self.open = {"item": item, "index": len(self.output), "parts": []}
            self.output.append(item)
            yield self.event("response.output_item.added", output_index=self.open["index"], item=dict(item))
            yield self.event("response.content_part.added", item_id=item["id"], output_index=self.open["index"],
                             content_index=0, part={"type": "output_text", "text": "", "annotations": [],
                                                    "logprobs": []})
        if not text:
            return
        self.open["parts"].append(text)
        yield self.event("response.output_text.delta", item_id=self.open["item"]["id"],
                         output_index=self.open["index"], content_index=0, delta=text, logprobs=[])

    def call(self, call: dict[str, Any]) -> Iterator[dict[str, Any]]:
        index = call.get("index", 0)
        fn = call.get("function") or {}
        if index not in self.calls:
            yield from self.close()
            item = _call_item(_new("fc"), call.get("id") or _new("call"), fn.get("name") or "", "", "in_progress")
            self.open = self.calls[index] = {"item": item, "index": len(self.output), "parts": []}
            self.output.append(item)
            yield self.event("response.output_item.added", output_index=self.open["index"], item=dict(item))
        state = self.calls[index]
        if fn.get("arguments"):
            state["parts"].append(fn["arguments"])
            yield self.event("response.function_call_arguments.delta", item_id=state["item"]["id"],
                             output_index=state["index"], delta=fn["arguments"])

    def close(self) -> Iterator[dict[str, Any]]:
        """Finish the open item (its done events)."""
        if self.open is None:
            return
        state, self.open = self.open, None
        item, index, text = state["item"], state["index"], "".join(state["parts"])
        status = "incomplete" if self.finish_reason == "length" else "completed"
        if item["type"] == "message":
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            yield self.event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                             text=text, logprobs=[])
            yield self.event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0,
                             part=part)
            item.update(content=[part], status=status)
        else:
            yield self.event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                             name=item["name"], arguments=text)
            item.update(arguments=text, status="completed")
        yield self.event("response.output_item.done", output_index=index, item=dict(item))

    def finish(self) -> Iterator[dict[str, Any]]:
        if self.model is None:  # no chunk at all
            yield from self.chunk({"model": "", "choices": []})
        if not self.output:  # an empty answer is an empty message, as in the collected response
            yield from self.text("")
        yield from self.close()
        status = "incomplete" if self.finish_reason == "length" else "completed"
        self.final = self.shape.response(self.model, status, self.output, self.usage, self.narrative)

    def failed(self, message: str) -> dict[str, Any]:
        response = self.shape.response(self.model or "", "failed", self.output)
        response["error"] = {"code": "server_error", "message": message}
        return self.event("response.failed", response=response)


# ---------------------------------------------------------------------------- routes
#: Chat parameter names in errors -> the Responses names of the same things.
_RESPONSES_PARAMS = {"response_format": "text.format", "max_tokens": "max_output_tokens", "messages": "input"}


def _renamed(exc: ShimmyError) -> ShimmyError:
    """``exc`` naming the Responses parameter (``text.format``, not ``response_format``)."""
    param = exc.param or ""
    for chat, ours in _RESPONSES_PARAMS.items():
        if param == chat or param.startswith(chat + ".") or param.startswith(chat + "["):
            exc.param = ours + param[len(chat):]
            exc.message = exc.message.replace(repr(chat), repr(ours)).replace(f"{chat} ", f"{ours} ")
            break
    return exc


def _check_supported(body: ResponseRequest) -> None:
    if body.background:
        raise _unsupported("background", "Responses are generated while the request waits.")
    if body.conversation is not None:
        raise _unsupported("conversation", "Use previous_response_id to continue a "
                                        "conversation.")
    if body.prompt is not None:
        raise _unsupported("prompt", "Prompt templates are not supported: send the input.")


async def _history(app: Any, previous_id: str | None) -> list[dict[str, Any]]:
    """The items a continued response saw and its output (empty without ``previous_response_id``)."""
    if previous_id is None:
        return []
    record = await run_in_threadpool(app.state.responses.get, previous_id)
    if record is None:
        raise ResponseNotFoundError(previous_id, "previous_response_id")
    return [*record["input_items"], *record["response"]["output"]]


@router.post("/v1/responses", openapi_extra=openapi_body(ResponseRequest))
async def create_response(request: Request):
    body = await parse(request, ResponseRequest)
    _check_supported(body)
    kwargs = body.generation_kwargs()
    tools = chat_tools(body.tools)
    if tools is not None:
        kwargs["tools"] = tools
        if body.tool_choice is not None:
            kwargs["tool_choice"] = chat_tool_choice(body.tool_choice)
        if body.parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = body.parallel_tool_calls
    try:
        tools_listed = prompt_tools(GenerationParams.from_kwargs(**dict(kwargs)))  # validates kwargs
    except ShimmyError as exc:
        raise _renamed(exc) from None
    app = request.app
    items = [*await _history(app, body.previous_response_id), *input_items(body.input)]
    if not items:
        raise InvalidParameterError("Missing required parameter: 'input'.", param="input",
                                    code="missing_required_parameter")
    messages = check_messages(items_to_messages(items, body.instructions))
    job = await run_in_threadpool(story_for_request, request, body.metadata)
    if job is not None:
        messages = job.messages(messages)
        if job.stabilize > 1:
            kwargs["n"] = job.stabilize
    shape = ResponseShape(app, body, items)

    def make(engine) -> Iterator[dict[str, Any]]:
        try:
            if app.state.settings.max_prompt_tokens is not None:
                check_prompt(app, len(engine.tokenize(engine.chat_prompt(messages, tools_listed))), "input")
            return engine.chat(messages, stream=True, stream_options={"include_usage": True}, **kwargs)
        except ShimmyError as exc:
            raise _renamed(exc) from None

    return await generate(request, body.model, make, bool(body.stream), job, shape)


async def _record(request: Request, response_id: str) -> dict[str, Any]:
    record = await run_in_threadpool(request.app.state.responses.get, response_id)
    if record is None:
        raise ResponseNotFoundError(response_id)
    return record


@router.get("/v1/responses/{response_id}")
async def get_response(request: Request, response_id: str):
    return JSONResponse((await _record(request, response_id))["response"])


@router.delete("/v1/responses/{response_id}")
async def delete_response(request: Request, response_id: str):
    if not await run_in_threadpool(request.app.state.responses.delete, response_id):
        raise ResponseNotFoundError(response_id)
    return {"id": response_id, "object": "response", "deleted": True}


@router.get("/v1/responses/{response_id}/input_items")
async def list_input_items(request: Request, response_id: str, limit: int = Query(20, ge=1, le=100),
                           order: Literal["asc", "desc"] = "desc", after: str | None = None):
    items = (await _record(request, response_id))["input_items"]
    if order == "desc":
        items = items[::-1]
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise InvalidParameterError(f"No input item with id '{after[:80]}' in this response.", param="after")
        items = items[ids.index(after) + 1:]
    page = items[:limit]
    # an empty page has "" ids: the official ResponseItemList requires strings
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else "",
            "last_id": page[-1]["id"] if page else "", "has_more": len(items) > limit}
