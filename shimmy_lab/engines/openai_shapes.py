"""Builders for OpenAI-shaped response dicts (chat, chunks, text completions, embeddings).

Kept in one place so that every engine, and the server, emit exactly the same shapes.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Iterable, Iterator

__all__ = [
    "new_id",
    "usage",
    "chat_completion",
    "chat_chunk",
    "text_completion",
    "embedding_list",
    "collect_chat_chunks",
    "collect_text_chunks",
]


def new_id(prefix: str) -> str:
    """Return a fresh response id such as ``chatcmpl-3f2a...``."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """OpenAI ``usage`` object."""
    return {
        "prompt_tokens": int(prompt_tokens),
        "completion_tokens": int(completion_tokens),
        "total_tokens": int(prompt_tokens + completion_tokens),
    }


def chat_completion(
    *, id: str, model: str, choices: list[dict[str, Any]], usage: dict[str, int], created: int | None = None,
    system_fingerprint: str | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    out = {
        "id": id,
        "object": "chat.completion",
        "created": int(created if created is not None else time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
    }
    if system_fingerprint:
        out["system_fingerprint"] = system_fingerprint
    return out


def chat_chunk(
    *, id: str, model: str, created: int, index: int = 0, delta: dict[str, Any] | None = None,
    finish_reason: str | None = None, logprobs: dict[str, Any] | None = None,
    usage: dict[str, int] | None = None, choices: bool = True,
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` object.

    With ``choices=False`` the chunk carries no choices (the final usage chunk that
    ``stream_options.include_usage`` asks for).
    """
    out: dict[str, Any] = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": int(created),
        "model": model,
        "choices": [],
    }
    if choices:
        out["choices"] = [
            {"index": index, "delta": delta or {}, "logprobs": logprobs, "finish_reason": finish_reason}
        ]
    if usage is not None:
        out["usage"] = usage
    return out


def text_completion(
    *, id: str, model: str, created: int, choices: list[dict[str, Any]], usage: dict[str, int] | None,
) -> dict[str, Any]:
    """A ``text_completion`` object (also used, one choice at a time, for streamed chunks)."""
    out = {
        "id": id,
        "object": "text_completion",
        "created": int(created),
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        out["usage"] = usage
    return out


def embedding_list(vectors: Iterable[list[float]], model: str, prompt_tokens: int) -> dict[str, Any]:
    """A ``list`` of ``embedding`` objects."""
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": int(prompt_tokens), "total_tokens": int(prompt_tokens)},
    }


def collect_chat_chunks(chunks: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Assemble a ``chat.completion`` from a stream of chunks (any number of choices).

    ``tool_calls`` deltas are merged by their ``index`` (the first gives ``id``, ``type``
    and the name, the others fragments of ``arguments``); a message with calls and no
    text has ``content: null``.
    """
    first: dict[str, Any] | None = None
    texts: dict[int, list[str]] = {}
    finish: dict[int, str | None] = {}
    logprobs: dict[int, list[dict[str, Any]]] = {}
    calls: dict[int, dict[int, dict[str, Any]]] = {}
    final_usage = None
    for chunk in chunks:
        first = first or chunk
        if chunk.get("usage"):
            final_usage = chunk["usage"]
        for choice in chunk["choices"]:
            i = choice["index"]
            texts.setdefault(i, []).append(choice["delta"].get("content") or "")
            for call in choice["delta"].get("tool_calls") or ():
                _merge_call(calls.setdefault(i, {}), call)
            if choice.get("finish_reason"):
                finish[i] = choice["finish_reason"]
            if choice.get("logprobs"):
                logprobs.setdefault(i, []).extend(choice["logprobs"].get("content") or [])
    if first is None:
        raise RuntimeError("the engine produced no chunks")
    choices = [
        {
            "index": i,
            "message": _message("".join(texts[i]), [calls[i][k] for k in sorted(calls.get(i, {}))]),
            "logprobs": {"content": logprobs[i], "refusal": None} if i in logprobs else None,
            "finish_reason": finish.get(i) or "stop",
        }
        for i in sorted(texts)
    ]
    return chat_completion(
        id=first["id"], model=first["model"], created=first["created"], choices=choices,
        usage=final_usage or usage(0, 0),
    )


def _merge_call(calls: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    call = calls.setdefault(delta["index"], {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    if delta.get("id"):
        call["id"] = delta["id"]
    fn = delta.get("function") or {}
    call["function"]["name"] += fn.get("name") or ""
    call["function"]["arguments"] += fn.get("arguments") or ""


def _message(text: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """An assistant message: its text, and its ``tool_calls`` when it made any."""
    if not calls:
        return {"role": "assistant", "content": text, "refusal": None}
    return {"role": "assistant", "content": text if text.strip() else None, "refusal": None, "tool_calls": calls}


def collect_text_chunks(chunks: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Assemble a ``text_completion`` from streamed ``text_completion`` chunks."""
    first: dict[str, Any] | None = None
    texts: dict[int, list[str]] = {}
    finish: dict[int, str | None] = {}
    lp: dict[int, dict[str, list]] = {}
    final_usage = None
    for chunk in chunks:
        first = first or chunk
        if chunk.get("usage"):
            final_usage = chunk["usage"]
        for choice in chunk["choices"]:
            i = choice["index"]
            texts.setdefault(i, []).append(choice.get("text") or "")
            if choice.get("finish_reason"):
                finish[i] = choice["finish_reason"]
            if choice.get("logprobs"):
                acc = lp.setdefault(i, {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []})
                for key in acc:
                    acc[key].extend(choice["logprobs"].get(key) or [])
    if first is None:
        raise RuntimeError("the engine produced no chunks")
    choices = [
        {"index": i, "text": "".join(texts[i]), "logprobs": lp.get(i), "finish_reason": finish.get(i) or "stop"}
        for i in sorted(texts)
    ]
    return text_completion(
        id=first["id"], model=first["model"], created=first["created"], choices=choices,
        usage=final_usage or usage(0, 0),
    )
