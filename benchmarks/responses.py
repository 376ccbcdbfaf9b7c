"""The Responses API vs chat completions for the same generation (bundled SmolLM2-135M).

One ``shimmy-lab serve`` subprocess (1 slot, ``--threads 1``); the same messages, greedy
(``temperature 0``) and the same ``--tokens`` budget through ``POST /v1/chat/completions``
and ``POST /v1/responses`` (``store`` true, its default: the response is kept in the
server's store), taken in turns: ``--reps`` interleaved pairs, non-streamed and streamed
(whole stream read). The figure is the median of the per-pair ratios responses / chat
(goal <= 1.05); the token counts of each pair are checked to be equal, so both did the
same work. ``shaping_us`` is the Responses layer's own cost, measured in-process without
a model: shaping the same chunks into a ``Response`` (collected, and as stream events,
with the store write) against collecting / framing them as chat, in microseconds.

Usage::

    python benchmarks/responses.py [--tokens 64] [--reps 9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from server import MODEL, MSG, shimmy, stop  # noqa: E402  (the same server start as benchmarks/server.py)


def chat_body(tokens: int, stream: bool) -> dict:
    return {"model": MODEL, "messages": MSG, "max_tokens": tokens, "temperature": 0, "stream": stream,
            **({"stream_options": {"include_usage": True}} if stream else {})}


def responses_body(tokens: int, stream: bool) -> dict:
    return {"model": MODEL, "input": MSG[0]["content"], "max_output_tokens": tokens, "temperature": 0,
            "stream": stream}


def _timed(c: httpx.Client, url: str, path: str, body: dict, used_of) -> tuple[float, int]:
    """(seconds, generated tokens) of one request; ``used_of(event)`` reads the token count
    from a body or stream event that carries it (None from the others)."""
    t0 = time.perf_counter()
    if not body.get("stream"):
        r = c.post(url + path, json=body)
        return time.perf_counter() - t0, used_of(r.json())
    used = 0
    with c.stream("POST", url + path, json=body) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                used = used_of(json.loads(line[6:])) or used
    return time.perf_counter() - t0, used


def timed_chat(c: httpx.Client, url: str, tokens: int, stream: bool) -> tuple[float, int]:
    """(seconds, completion tokens) of one chat completion."""
    return _timed(c, url, "/v1/chat/completions", chat_body(tokens, stream),
                  lambda ev: (ev.get("usage") or {}).get("completion_tokens"))


def timed_response(c: httpx.Client, url: str, tokens: int, stream: bool) -> tuple[float, int]:
    """(seconds, output tokens) of one response."""
    def used_of(ev: dict) -> int | None:
        response = ev.get("response", ev) if ev.get("type", "response") in (
            "response", "response.completed", "response.incomplete") else {}
        return (response.get("usage") or {}).get("output_tokens")

    return _timed(c, url, "/v1/responses", responses_body(tokens, stream), used_of)


def pairs(url: str, tokens: int, reps: int, stream: bool) -> dict:
    chat, resp = [], []
    with httpx.Client(timeout=300) as c:
        timed_chat(c, url, tokens, stream), timed_response(c, url, tokens, stream)  # warm up
        for rep in range(reps):
            order = (timed_chat, timed_response) if rep % 2 == 0 else (timed_response, timed_chat)
            results = {f: f(c, url, tokens, stream) for f in order}
            (tc, nc), (tr, nr) = results[timed_chat], results[timed_response]
            assert nc == nr, f"different generations: {nc} vs {nr} tokens"
            chat.append(tc)
            resp.append(tr)
    return {"chat_median_s": round(statistics.median(chat), 4), "responses_median_s": round(statistics.median(resp), 4),
            "median_pair_ratio": round(statistics.median(r / c for c, r in zip(chat, resp)), 3),
            "tokens": nc}


def shaping_cost(tokens: int, reps: int = 200) -> dict:
    """In-process cost of the Responses layer alone: shaping ``tokens`` chat chunks into a
    ``Response`` (collected, and as stream events) against framing them as chat (microseconds)."""
    import asyncio
    from types import SimpleNamespace

    from shimmy_lab.engines import openai_shapes as shapes
    from shimmy_lab.server.responses import ResponseShape
    from shimmy_lab.server.responses_store import MemoryResponses
    from shimmy_lab.server.routes_openai import _sse
    from shimmy_lab.server.schemas import ResponseRequest

    chunks = [shapes.chat_chunk(id="c", model=MODEL, created=0, delta={"content": " word"}) for _ in range(tokens)]
    chunks.append(shapes.chat_chunk(id="c", model=MODEL, created=0, usage=shapes.usage(20, tokens), choices=False))
    app = SimpleNamespace(state=SimpleNamespace(responses=MemoryResponses(), log=None))
    body = ResponseRequest.model_validate({"input": "x"})

    async def aiter():
        for c in chunks:
            yield c

    async def run() -> dict:
        out = {"chat_collect": [], "responses_collect": [], "chat_stream": [], "responses_stream": []}
        for _ in range(reps):
            t0 = time.perf_counter()
            shapes.collect_chat_chunks(iter(chunks))
            out["chat_collect"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await ResponseShape(app, body, []).answer(shapes.collect_chat_chunks(iter(chunks)))
            out["responses_collect"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            [_sse(c) for c in chunks]
            out["chat_stream"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            [e async for e in ResponseShape(app, body, []).events(aiter())]
            out["responses_stream"].append(time.perf_counter() - t0)
        return {k: round(statistics.median(v) * 1e6, 1) for k, v in out.items()}

    return asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--n-ctx", type=int, default=2048)
    args = ap.parse_args()
    report: dict = {"machine": {"cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()[0]}}
    proc, url = shimmy(1, args.n_ctx, threads=1)
    try:
        report["non_streamed"] = pairs(url, args.tokens, args.reps, stream=False)
        print(json.dumps(report["non_streamed"]), flush=True)
        report["streamed"] = pairs(url, args.tokens, args.reps, stream=True)
    finally:
        stop(proc)
    report["shaping_us"] = shaping_cost(args.tokens)
    report["machine"]["load_avg_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
