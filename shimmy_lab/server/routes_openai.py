"""OpenAI-compatible routes: chat, completions, embeddings, models, tokenize.

Bodies are parsed here (not by FastAPI's body machinery) so that every problem,
from invalid JSON to a wrong type, becomes an OpenAI error object, and JSON is
accepted whatever the ``Content-Type``. Generation always runs as a stream in a
scheduler slot: a non-streamed answer is the collected stream, so a client that
disconnects stops its generation either way.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import threading
import time
from typing import Any, AsyncIterator, Iterator

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..engines import openai_shapes as shapes
from ..engines.base import check_messages
from ..engines.params import GenerationParams
from ..errors import InvalidParameterError, ModelNotFoundError, ShimmyError, UnsupportedParameterError
from .narrative import story_for_request
from .tracing import generation_observer
from .schemas import (ERROR_RESPONSES, ChatCompletionRequest, CompletionRequest, DetokenizeRequest,
                      EmbeddingRequest, TokenizeRequest, openapi_body, parse)

__all__ = ["router", "generate", "check_prompt", "prompt_tools"]

router = APIRouter(responses=ERROR_RESPONSES)  # bodies are parsed by hand: declared with openapi_body


# ---------------------------------------------------------------------------- helpers
class SSEResponse(StreamingResponse):
    """``text/event-stream`` that always closes its generator (which cancels the job)."""

    def __init__(self, content: AsyncIterator[str]):
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


def _sse(obj: Any) -> str:
    return "data: " + json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n\n"


def _has_text(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or choice.get("text"):
            return True
    return False


async def _generate(request: Request, model: str | None, make, include_usage: bool, stream: bool,
                    collect, job: Any = None, shape: Any = None) -> Any:
    """Run a generation job; answer with SSE or with the collected object.

    The chunks of the scheduler pass through a chain of small steps: metrics
    (:func:`_observed`), the usage chunk kept only when asked for, the narrative hook
    (:func:`_with_narrative`: ``job``, a :class:`~shimmy_lab.server.narrative.NarrativeJob`,
    adds the ``narrative`` object and the choice of the best of N candidates), then SSE
    framing (:func:`_events`) or collection (:func:`_answer`). ``shape`` (another API's
    shapes over the chat chunks: :func:`generate`) turns the collected object into its
    own (``await shape.answer(obj)``) and frames the stream itself (``shape.events(chunks)``).
    """
    sched = await request.app.state.pool.get(model)
    cancel = threading.Event()
    agen = sched.stream(make, cancel)
    observe = generation_observer(_observer(request.app.state.metrics, sched.model_id), sched.model_id)
    if not stream:
        return await _answer(request, agen, cancel, observe, collect, job, shape)
    try:  # errors before the first chunk (bad parameters, context too long) are plain HTTP errors
        head = await agen.__anext__()
    except StopAsyncIteration:
        head = None
    except BaseException:
        await agen.aclose()
        raise
    chunks = _observed(_chain(head, agen), observe)
    if not include_usage:
        chunks = _without_usage(chunks)
    if job is not None:
        chunks = _with_narrative(chunks, job)
    return SSEResponse(_events(request, chunks, cancel, agen, shape))


async def generate(request: Request, model: str | None, make, stream: bool, job: Any = None,
                   shape: Any = None) -> Any:
    """A chat generation (``make(engine)`` returns the engine's chat chunks) answered through
    ``shape``: the path of ``/v1/chat/completions`` (slot, metrics, disconnects, narrative)
    for another API over chat, such as ``/v1/responses`` (:mod:`shimmy_lab.server.responses`)."""
    return await _generate(request, model, make, True, stream, shapes.collect_chat_chunks, job, shape)


def _observer(metrics: Any, model_id: str):
    """A function that records time to first token and token counts of one job's chunks."""
    t0 = time.perf_counter()
    first = {"done": False}

    def observe(chunk: dict[str, Any]) -> None:
        if not first["done"] and _has_text(chunk):
            first["done"] = True
            metrics.ttft.labels(model_id).observe(time.perf_counter() - t0)
        use = chunk.get("usage")
        if use and not chunk.get("choices"):
            metrics.tokens.labels(model_id).inc(use.get("completion_tokens", 0))
            metrics.prompt_tokens.labels(model_id).inc(use.get("prompt_tokens", 0))
    return observe


async def _answer(request: Request, agen: Any, cancel: threading.Event, observe, collect,
                  job: Any, shape: Any = None) -> JSONResponse:
    """The non-streamed answer: every chunk collected into one object (499 if the client left)."""
    chunks: list[dict[str, Any]] = []
    waiter = _watch_disconnect(request, cancel)
    try:
        async for chunk in agen:
            observe(chunk)
            chunks.append(chunk)
    finally:
        waiter.cancel()
        await agen.aclose()
    if cancel.is_set() and await request.is_disconnected():
        return JSONResponse({}, status_code=499)
    result = collect(iter(chunks))
    if job is not None:
        texts = [_text_of(c) for c in result["choices"]]
        best, result["narrative"] = await run_in_threadpool(job.finish, texts)
        if job.stabilize > 1:
            result["choices"] = [{**result["choices"][best], "index": 0}]
    return JSONResponse(await shape.answer(result) if shape is not None else result)


def _text_of(choice: dict[str, Any]) -> str:
    """The text of a choice: a chat message or delta, or a completion's ``text``."""
    if "text" in choice:
        return choice["text"] or ""
    return (choice.get("message") or choice.get("delta") or {}).get("content") or ""


async def _chain(head: dict[str, Any] | None, rest: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    if head is not None:
        yield head
    async for chunk in rest:
        yield chunk


async def _observed(chunks: AsyncIterator[dict[str, Any]], observe) -> AsyncIterator[dict[str, Any]]:
    async for chunk in chunks:
        observe(chunk)
        yield chunk


async def _without_usage(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """Drop the usage-only chunk (sent only with ``stream_options.include_usage``)."""
    async for chunk in chunks:
        if not (chunk.get("usage") and not chunk.get("choices")):
            yield chunk


async def _with_narrative(chunks: AsyncIterator[dict[str, Any]], job: Any) -> AsyncIterator[dict[str, Any]]:
    """The narrative hook of a stream: the ``narrative`` object rides on the last chunk.

    One chunk is held back so the last can carry it; with best of N (``job.stabilize > 1``)
    every chunk is held, the best candidate chosen and only its chunks sent, as choice 0.
    """
    buffered = job.stabilize > 1
    texts: dict[int, list[str]] = {}
    kept: list[dict[str, Any]] = []
    async for chunk in chunks:
        for choice in chunk.get("choices") or ():
            texts.setdefault(choice["index"], []).append(_text_of(choice))
        if kept and not buffered:
            yield kept.pop()
        kept.append(chunk)
    n = max(texts) + 1 if texts else 1
    best, narrative = await run_in_threadpool(job.finish, ["".join(texts.get(i, [])) for i in range(n)])
    if buffered:
        kept = [_reindex(c) for c in kept if not c["choices"] or c["choices"][0]["index"] == best]
    for chunk in kept[:-1]:
        yield chunk
    last = kept[-1] if kept else {"object": "chat.completion.chunk", "choices": []}
    yield {**last, "narrative": narrative}


async def _events(request: Request, chunks: AsyncIterator[dict[str, Any]], cancel: threading.Event,
                  agen: Any, shape: Any = None) -> AsyncIterator[str]:
    """SSE framing: one ``data:`` event per chunk, ``[DONE]``, errors as OpenAI error events
    (or ``shape``'s own framing); the job is cancelled and closed however the stream ends."""
    try:
        if shape is not None:
            async for event in shape.events(chunks):
                yield event
        else:
            async for chunk in chunks:
                yield _sse(chunk)
            yield "data: [DONE]\n\n"
    except ShimmyError as exc:
        yield _sse(exc.to_openai())
    except Exception:
        request.app.state.log.exception("stream failed (request %s)",
                                        request.scope.get("state", {}).get("request_id"))
        yield _sse({"error": {"message": "The server had an error while generating.", "type": "server_error",
                              "param": None, "code": "internal_error"}})
    finally:
        cancel.set()
        await agen.aclose()


def _reindex(chunk: dict[str, Any]) -> dict[str, Any]:
    """A chunk of the chosen candidate, sent as choice 0."""
    return {**chunk, "choices": [{**c, "index": 0} for c in chunk["choices"]]}


def _watch_disconnect(request: Request, cancel: threading.Event):
    async def watch() -> None:
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await asyncio.sleep(0.25)

    return asyncio.ensure_future(watch())


def check_prompt(app: Any, n_tokens: int, param: str) -> None:
    """A 400 (naming ``param``) when a prompt of ``n_tokens`` is over ``max_prompt_tokens``."""
    limit = app.state.settings.max_prompt_tokens
    if limit is not None and n_tokens > limit:
        raise InvalidParameterError(
            f"This server accepts prompts of at most {limit} tokens; the prompt has {n_tokens} tokens.",
            param=param, code="context_length_exceeded")


def _validate(kwargs: dict[str, Any]) -> None:
    GenerationParams.from_kwargs(**dict(kwargs))


# ---------------------------------------------------------------------------- chat
@router.post("/v1/chat/completions", openapi_extra=openapi_body(ChatCompletionRequest))
async def chat_completions(request: Request):
    body = await parse(request, ChatCompletionRequest)
    kwargs = body.generation_kwargs()
    tools = prompt_tools(GenerationParams.from_kwargs(**dict(kwargs)))
    messages = check_messages([m.plain() for m in body.messages])
    app = request.app
    job = await run_in_threadpool(story_for_request, request, body.metadata)  # may load or catch up a story
    if job is not None:
        messages = job.messages(messages)
        if job.stabilize > 1:
            kwargs["n"] = job.stabilize

    def make(engine) -> Iterator[dict[str, Any]]:
        if app.state.settings.max_prompt_tokens is not None:
            check_prompt(app, len(engine.tokenize(engine.chat_prompt(messages, tools))), "messages")
        return engine.chat(messages, stream=True, stream_options={"include_usage": True}, **kwargs)

    return await _generate(request, body.model, make, body.include_usage, bool(body.stream),
                           shapes.collect_chat_chunks, job)


def prompt_tools(params: GenerationParams) -> list[Any] | None:
    """The tools a chat's prompt lists (all of them when some may be called), or None."""
    spec = params.tool_spec()
    return spec[0] if spec else None


# ---------------------------------------------------------------------------- completions
@router.post("/v1/completions", openapi_extra=openapi_body(CompletionRequest))
async def completions(request: Request):
    body = await parse(request, CompletionRequest)
    kwargs = body.generation_kwargs()
    _validate(kwargs)
    if body.suffix:
        raise UnsupportedParameterError("suffix", "server", "Fill-in-the-middle is not supported.")
    if body.best_of is not None and body.best_of != (body.n or 1):
        raise UnsupportedParameterError("best_of", "server", "best_of must equal n.")
    app = request.app
    prompts = body.prompt if isinstance(body.prompt, list) and body.prompt else [body.prompt]
    if prompts and isinstance(prompts[0], int):
        prompts = [prompts]
    if not prompts or any(p in ("", []) for p in prompts):
        raise InvalidParameterError("prompt must not be empty.", param="prompt")
    n = body.n or 1
    job = await run_in_threadpool(story_for_request, request, body.metadata)
    if job is not None:
        n = _story_completion(job, prompts, body, kwargs)

    def make(engine) -> Iterator[dict[str, Any]]:
        texts = [p if isinstance(p, str) else _detokenize(engine, p, "prompt") for p in prompts]
        if any(not t for t in texts):  # ids of special tokens only: no text to complete
            raise InvalidParameterError("prompt must not be empty: these token ids have no text.", param="prompt")
        if job is not None:
            texts = [job.prompt(t) for t in texts]
        if app.state.settings.max_prompt_tokens is not None:
            for t in texts:
                check_prompt(app, len(engine.tokenize(t, add_special=True)), "prompt")
        streams = [engine.complete(t, stream=True, echo=bool(body.echo), stream_options={"include_usage": True},
                                   **kwargs) for t in texts]
        return _merge_prompts(streams, n)

    return await _generate(request, body.model, make, body.include_usage, bool(body.stream),
                           shapes.collect_text_chunks, job)


def _story_completion(job: Any, prompts: list[Any], body: CompletionRequest, kwargs: dict[str, Any]) -> int:
    """Check a completion that names a story (one prompt, no echo); returns its ``n``."""
    if len(prompts) > 1:
        raise InvalidParameterError("A completion that names a story takes one prompt.", param="prompt")
    if body.echo:
        raise InvalidParameterError("echo cannot be used with a story: the prompt would carry the story's "
                                    "context.", param="echo")
    if job.stabilize > 1:
        kwargs["n"] = job.stabilize
        return job.stabilize
    return body.n or 1


def _merge_prompts(streams: list[Iterator[dict[str, Any]]], n: int) -> Iterator[dict[str, Any]]:
    """One stream for several prompts: choice ``j`` of prompt ``i`` gets index ``i * n + j``."""
    cid = None
    prompt_tokens = completion_tokens = 0
    last = None
    for i, chunks in enumerate(streams):
        for chunk in chunks:
            cid = cid or chunk["id"]
            chunk["id"] = cid
            if chunk.get("usage") and not chunk["choices"]:
                prompt_tokens += chunk["usage"]["prompt_tokens"]
                completion_tokens += chunk["usage"]["completion_tokens"]
                last = chunk
                continue
            for choice in chunk["choices"]:
                choice["index"] += i * n
            yield chunk
    if last is not None:
        last["usage"] = shapes.usage(prompt_tokens, completion_tokens)
        yield last


# ---------------------------------------------------------------------------- embeddings
@router.post("/v1/embeddings", openapi_extra=openapi_body(EmbeddingRequest))
async def embeddings(request: Request):
    body = await parse(request, EmbeddingRequest)
    if body.dimensions is not None:
        raise UnsupportedParameterError("dimensions", "server", "Embeddings have the model's own size.")
    inputs = body.input if isinstance(body.input, list) and body.input else [body.input]
    if inputs and isinstance(inputs[0], int):
        inputs = [inputs]
    if not inputs or any(x in ("", []) for x in inputs):
        raise InvalidParameterError("input must not be empty.", param="input")
    sched = await request.app.state.pool.get(body.model)
    app = request.app

    def run(engine) -> tuple[list[list[float]], int]:
        texts = [x if isinstance(x, str) else _detokenize(engine, x, "input") for x in inputs]
        if any(not t for t in texts):  # ids of special tokens only
            raise InvalidParameterError("input must not be empty: these token ids have no text.", param="input")
        n_tokens = [len(engine.tokenize(t)) for t in texts]
        for n in n_tokens:
            check_prompt(app, n, "input")
        return engine.embed(texts), sum(n_tokens)

    vectors, n_tokens = await sched.call(run)
    out = shapes.embedding_list(vectors, sched.model_id, n_tokens)
    if body.encoding_format == "base64":
        for item in out["data"]:
            vec = item["embedding"]
            item["embedding"] = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii")
    return JSONResponse(out)


# ---------------------------------------------------------------------------- models
def _model_obj(entry: Any, loaded: set[str]) -> dict[str, Any]:
    try:
        created = int(os.stat(entry.path).st_mtime)
    except OSError:
        created = 0
    return {"id": entry.id, "object": "model", "created": created, "owned_by": f"shimmy-lab:{entry.source}",
            "engine": entry.engine, "format": entry.format, "context_length": entry.context_length,
            "quantization": entry.quantization, "loaded": entry.id in loaded}


def _loaded_ids(lab: Any) -> set[str]:
    return {e.model_id for e in lab.loaded}


@router.get("/v1/models")
async def list_models(request: Request):
    lab = request.app.state.lab
    entries = await anyio.to_thread.run_sync(lab.entries)
    loaded = _loaded_ids(lab)
    return {"object": "list", "data": [_model_obj(e, loaded) for e in entries]}


@router.get("/v1/models/{model_id:path}")
async def get_model(request: Request, model_id: str):
    lab = request.app.state.lab
    entries = await anyio.to_thread.run_sync(lab.entries)
    for entry in entries:
        if entry.id == model_id:
            return _model_obj(entry, _loaded_ids(lab))
    raise ModelNotFoundError(model_id, [e.id for e in entries])


# ---------------------------------------------------------------------------- tokens
async def _primary(request: Request, model: str | None):
    sched = await request.app.state.pool.get(model)
    return sched, anyio


@router.post("/tokenize", openapi_extra=openapi_body(TokenizeRequest))
async def tokenize(request: Request):
    body = await parse(request, TokenizeRequest)
    text = body.content if body.content is not None else body.input
    if text is None:
        raise InvalidParameterError("Missing required parameter: 'content'.", param="content",
                                    code="missing_required_parameter")
    sched, anyio = await _primary(request, body.model)
    ids = await anyio.to_thread.run_sync(lambda: sched.engines[0].tokenize(text, add_special=body.add_special))
    return {"model": sched.model_id, "tokens": [int(i) for i in ids], "count": len(ids)}


@router.post("/detokenize", openapi_extra=openapi_body(DetokenizeRequest))
async def detokenize(request: Request):
    body = await parse(request, DetokenizeRequest)
    sched, anyio = await _primary(request, body.model)
    text = await anyio.to_thread.run_sync(lambda: _detokenize(sched.engines[0], body.tokens, "tokens"))
    return {"model": sched.model_id, "content": text}


def _detokenize(engine: Any, ids: list[int], param: str) -> str:
    """Text of token ids sent by a client: an id outside the vocabulary is a 400 (llama.cpp
    aborts the process on one), and so is any other failure of the engine's detokenizer."""
    engine.check_token_ids(ids, param)
    try:
        return engine.detokenize(ids)
    except ShimmyError:
        raise
    except Exception as exc:
        raise InvalidParameterError(f"Cannot detokenize these ids: {exc}", param=param) from None
