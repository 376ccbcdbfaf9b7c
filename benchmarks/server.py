"""Server benchmark (bundled SmolLM2-135M-Instruct, one run, one machine).

(a) latency of a 64-token non-streamed chat through HTTP vs the same call on the
    engine directly (median ratio, interleaved runs; goal <= 1.05);
(b) total tokens/s and median time-to-first-token with 4 concurrent streaming
    clients against ``shimmy-lab serve`` with 1 slot, with N llama.cpp contexts
    (``--parallel 2`` and ``--parallel 4``, one thread each) and with batched decoding
    of 4 sequences in one context (``--parallel 4 --batching``, all cores and 1 thread;
    the defaults with ``--kv-unified``: one KV buffer for the 4 sequences);
(c) the same load against llama-cpp-python's own server (``python -m
    llama_cpp.server``, needs ``starlette-context``; skipped if it cannot start) and
    against llama.cpp's C++ ``llama-server`` with its defaults (built once by
    benchmarks/build_llama_server.sh; skipped if it cannot be built);
(e) with (b): the seconds of one request alone, the defaults (``--parallel auto``: 4
    sequences of one batched context) against the defaults before them (``--parallel
    auto --no-batching``: a context per core, cores shared by need; and 1 slot with every
    core), for those of them that run;
(d) with ``--tools`` (and nothing else): a tool round trip (a call under the grammar,
    then the tool's result and the answer) against a plain chat of the same length
    (the same prompts, the tools written into them as text, and as many tokens
    generated, no grammar); median of per-repetition ratios (goal <= 1.15).

Every server runs in its own subprocess with the same context size; EOS is banned
with ``logit_bias`` so that every request generates exactly ``--tokens`` tokens.

Usage::

    python benchmarks/server.py [--tokens 64] [--reps 5] [--clients 4] [--rounds 5]
    python benchmarks/server.py --tools [--reps 15] [--tokens 32]

(b) and (c) run interleaved: all servers are up at once (idle ones use no CPU) and
take turns, one burst of ``--clients`` concurrent streams each, for ``--rounds``
rounds; ratios are medians of per-round ratios, which keeps them meaningful on a
machine shared with other work.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx

MODEL = "smollm2-135m-instruct"
MSG = [{"role": "user", "content": "Tell me a long story about a fox and a crow."}]
CORES = os.cpu_count() or 1
# (name, --parallel, --threads (None: default), --batching (None: default)); EXTRA_FLAGS: more flags
SHIMMY_CONFIGS = [
    ("shimmy_default", None, None, None),  # the defaults: --parallel auto, batched (4 sequences, one context)
    ("shimmy_kv_unified", None, None, None),  # the defaults with one KV buffer for the 4 sequences
    ("shimmy_contexts_auto", "auto", None, False),  # the defaults before: a context per core, cores shared by need
    ("shimmy_1_slot", 1, None, False),  # the defaults before --parallel auto
    ("shimmy_1_slot_1_thread", 1, 1, False),
    ("shimmy_contexts_2", 2, 1, False),  # 2 llama.cpp contexts, 1 thread each
    ("shimmy_contexts_4", 4, 1, False),  # 4 llama.cpp contexts, 1 thread each
    ("shimmy_batched_4", 4, None, True),  # 4 sequences batched in one context, all cores
    ("shimmy_batched_4_1_thread", 4, 1, True),
]
EXTRA_FLAGS = {"shimmy_kv_unified": ["--kv-unified"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], url: str, probe: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {' '.join(cmd)}")
        try:
            if httpx.get(url + probe, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become ready")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def shimmy(parallel: int | str | None, n_ctx: int, threads: int | None = None,
           batching: bool | None = False, extra: list[str] | None = None) -> tuple[subprocess.Popen, str]:
    """``shimmy-lab serve``; None leaves an option at its default; ``extra``: more flags."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "shimmy_lab", "serve", "--port", str(port),
           "--n-ctx", str(n_ctx), "--log-level", "warning", "--config-reload", "0"]
    if parallel is not None:
        cmd += ["--parallel", str(parallel)]
    if batching is not None:
        cmd.append("--batching" if batching else "--no-batching")
    if threads:
        cmd += ["--threads", str(threads)]
    return start(cmd + list(extra or ()), url, "/ready"), url


def llama_server(n_ctx: int, threads: int) -> tuple[subprocess.Popen, str]:
    from shimmy_lab.registry import bundled_model_path

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--model_alias", MODEL,
           "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--host", "127.0.0.1", "--port", str(port),
           "--interrupt_requests", "False"]  # its default (True) cuts a running stream when a new request comes
    return start(cmd, url, "/v1/models"), url


def cpp_llama_server(n_ctx: int) -> tuple[subprocess.Popen, str]:
    """llama.cpp's own C++ ``llama-server`` with its defaults (built by
    benchmarks/build_llama_server.sh from the llama.cpp source llama-cpp-python vendors)."""
    from shimmy_lab.registry import bundled_model_path

    here = os.path.dirname(os.path.abspath(__file__))
    binary = subprocess.run(["sh", os.path.join(here, "build_llama_server.sh"), sys.executable],
                            check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [binary, "--model", str(bundled_model_path()), "--alias", MODEL, "--ctx-size", str(n_ctx),
           "--host", "127.0.0.1", "--port", str(port), "--jinja"]
    return start(cmd, url, "/health"), url


def single_request(servers: dict[str, str], payload: dict, rounds: int) -> dict:
    """(e) one streamed request at a time against each server (interleaved): seconds per
    request, median; the latency a lone user sees."""
    runs = interleaved(servers, payload, 1, rounds)
    return {name: round(statistics.median(payload["max_tokens"] / b["tokens_per_s"] for b in bursts), 3)
            for name, bursts in runs.items()}


def body(tokens: int, eos: list[int], stream: bool = False) -> dict:
    out = {"model": MODEL, "messages": MSG, "max_tokens": tokens, "temperature": 0,
           "logit_bias": {str(t): -100 for t in eos}}
    if stream:
        out.update(stream=True, stream_options={"include_usage": True})
    return out


def stream_once(client: httpx.Client, url: str, payload: dict) -> tuple[int, float]:
    """(completion tokens, time to first token) of one streamed chat."""
    t0 = time.perf_counter()
    ttft, tokens, pieces = None, 0, 0
    with client.stream("POST", url + "/v1/chat/completions", json=payload, timeout=300) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            for c in chunk.get("choices") or ():
                if (c.get("delta") or {}).get("content"):
                    pieces += 1
                    if ttft is None:
                        ttft = time.perf_counter() - t0
    return tokens or pieces, ttft or float("nan")


def burst(url: str, payload: dict, clients: int) -> dict:
    """``clients`` streamed chats sent at once; tokens/s over the burst and the TTFTs."""
    results: list[tuple[int, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker():
        try:
            with httpx.Client() as c:
                res = stream_once(c, url, payload)
        except httpx.HTTPError as exc:
            with lock:
                errors.append(type(exc).__name__)
            return
        with lock:
            results.append(res)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    tokens = sum(r[0] for r in results)
    return {"tokens_per_s": tokens / wall, "ttfts": [r[1] for r in results], "errors": len(errors),
            "complete": sum(r[0] == payload["max_tokens"] for r in results)}


def interleaved(servers: dict[str, str], payload: dict, clients: int, rounds: int) -> dict[str, list[dict]]:
    """Bursts against every server in turn, ``rounds`` times (rotating the order), so that
    load from elsewhere on the machine falls on all of them alike."""
    names = list(servers)
    for name in names:  # warm-up
        stream_once(httpx.Client(), servers[name], payload)
    out: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            out[name].append(burst(servers[name], payload, clients))
    return out


def summary(bursts: list[dict]) -> dict:
    return {"tokens_per_s_median": round(statistics.median(b["tokens_per_s"] for b in bursts), 1),
            "ttft_median_s": round(statistics.median(t for b in bursts for t in b["ttfts"]), 3),
            "complete_streams": sum(b["complete"] for b in bursts), "errors": sum(b["errors"] for b in bursts)}


def ratio(a: list[dict], b: list[dict]) -> float:
    """Median over rounds of tokens/s(a) / tokens/s(b)."""
    return round(statistics.median(x["tokens_per_s"] / y["tokens_per_s"] for x, y in zip(a, b)), 2)


def direct_vs_http(tokens: int, reps: int, eos: list[int], n_ctx: int, threads: int) -> dict:
    from shimmy_lab.lab import load_engine

    proc, url = shimmy(1, n_ctx, threads)
    eng = load_engine(n_ctx=n_ctx, n_threads=threads)
    params = {k: v for k, v in body(tokens, eos).items() if k not in ("model", "messages")}
    direct, http = [], []
    try:
        with httpx.Client(timeout=300) as c:
            eng.chat(MSG, **params)
            c.post(url + "/v1/chat/completions", json=body(tokens, eos))
            for _ in range(reps):
                t0 = time.perf_counter()
                out = eng.chat(MSG, **params)
                direct.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                r = c.post(url + "/v1/chat/completions", json=body(tokens, eos))
                http.append(time.perf_counter() - t0)
                assert r.json()["usage"]["completion_tokens"] == out["usage"]["completion_tokens"] == tokens
    finally:
        stop(proc)
        eng.close()
    d, h = statistics.median(direct), statistics.median(http)
    pairs = statistics.median(b / a for a, b in zip(direct, http))
    return {"direct_median_s": round(d, 4), "http_median_s": round(h, 4), "ratio_of_medians": round(h / d, 3),
            "median_pair_ratio": round(pairs, 3)}


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather of a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "enum": ["Paris", "Oslo", "Rome"]},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"], "additionalProperties": False}}}


def _timed_post(c: httpx.Client, url: str, payload: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = c.post(url + "/v1/chat/completions", json=payload)
    r.raise_for_status()
    return time.perf_counter() - t0, r.json()


def _round_trip(c: httpx.Client, url: str, rep: int, tokens: int,
                eos: list[int]) -> tuple[float, list[int], list[dict]]:
    """Seconds of a call, then the tool's result and an answer of ``tokens`` tokens; the
    completion tokens of both requests; the messages of the second."""
    ask = [{"role": "system", "content": f"Session {rep:04d}."},  # a new prompt start: no prefix cache
           {"role": "user", "content": "What is the weather in Paris?"}]
    t1, call = _timed_post(c, url, {"model": MODEL, "messages": ask, "tools": [WEATHER], "tool_choice": "required",
                                     "parallel_tool_calls": False, "max_tokens": 64, "temperature": 0})
    msg = call["choices"][0]["message"]
    history = ask + [msg, {"role": "tool", "tool_call_id": msg["tool_calls"][0]["id"], "content": "21 C, sunny"}]
    t2, answer = _timed_post(c, url, {"model": MODEL, "messages": history, "tools": [WEATHER], "max_tokens": tokens,
                                      "temperature": 0, "logit_bias": {str(t): -100 for t in eos}})
    return t1 + t2, [call["usage"]["completion_tokens"], answer["usage"]["completion_tokens"]], history


def _plain_pair(c: httpx.Client, url: str, history: list[dict], counts: list[int], eos: list[int]) -> float:
    """The same two prompts as plain chats (tools and calls written as text by
    :func:`shimmy_lab.engines.tools.render_history`), generating as many tokens, no grammar."""
    from shimmy_lab.engines import tools as tool_format

    specs = tool_format.check_tools([WEATHER])
    first = tool_format.render_history(history[:2], specs)
    second = tool_format.render_history(history, specs)
    bias = {str(t): -100 for t in eos}
    total = 0.0
    for messages, n in ((first, counts[0]), (second, counts[1])):
        t, out = _timed_post(c, url, {"model": MODEL, "messages": messages, "max_tokens": n, "temperature": 0,
                                      "logit_bias": bias})
        assert out["usage"]["completion_tokens"] == n
        total += t
    return total


def tool_round_trip(reps: int, tokens: int, eos: list[int], n_ctx: int, threads: int) -> dict:
    """(d): a tool round trip against plain chats of the same prompts and lengths, in
    alternating order, each from a new prompt start (its own session line: the prefix
    cache helps neither); ratio = median over repetitions of round trip / plain."""
    proc, url = shimmy(1, n_ctx, threads)
    tool_s, plain_s, counts = [], [], []
    try:
        with httpx.Client(timeout=300) as c:
            _round_trip(c, url, 9999, tokens, eos)  # warm up
            _, shape, template = _round_trip(c, url, 9998, tokens, eos)  # the plain pair's prompts and lengths
            for rep in range(reps):
                if rep % 2:  # alternate which goes first
                    plain_s.append(_plain_pair(c, url, _fresh(template, rep + 5000), shape, eos))
                t, n, _ = _round_trip(c, url, rep, tokens, eos)
                tool_s.append(t)
                counts.append(n)
                if not rep % 2:
                    plain_s.append(_plain_pair(c, url, _fresh(template, rep + 5000), shape, eos))
    finally:
        stop(proc)
    return {"round_trip_median_s": round(statistics.median(tool_s), 3),
            "plain_median_s": round(statistics.median(plain_s), 3),
            "median_ratio": round(statistics.median(t / p for t, p in zip(tool_s, plain_s)), 3),
            "ratios": [round(t / p, 3) for t, p in zip(tool_s, plain_s)],
            "completion_tokens": counts[0] if all(n == counts[0] for n in counts) else counts,
            "plain_completion_tokens": shape, "reps": reps}


def _fresh(history: list[dict], rep: int) -> list[dict]:
    """``history`` with another session number (a prompt the cache has not seen)."""
    return [{"role": "system", "content": f"Session {rep:04d}."}, *history[1:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5, help="bursts of --clients requests per server")
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads for (a), direct and HTTP alike")
    ap.add_argument("--skip-llama-server", action="store_true",
                    help="skip (c): llama_cpp.server and the C++ llama-server")
    ap.add_argument("--only", default="", help="comma-separated server names to run in (b)/(c) (default: all)")
    ap.add_argument("--skip-direct", action="store_true", help="skip (a)")
    ap.add_argument("--tools", action="store_true", help="run only (d), the tool round trip")
    args = ap.parse_args()

    from shimmy_lab.lab import load_engine

    probe = load_engine(n_ctx=256)
    eos = sorted({probe.llm.token_eos(), *probe.tokenize("<|im_end|><|endoftext|>", add_special=False)})
    probe.close()

    report: dict = {"machine": {"cores": CORES, "load_avg_at_start": os.getloadavg()[0]},
                    "tokens_per_request": args.tokens}
    if args.tools:
        report["tool_round_trip"] = tool_round_trip(args.reps, args.tokens, eos, args.n_ctx, args.threads)
        report["machine"]["load_avg_at_end"] = os.getloadavg()[0]
        print(json.dumps(report, indent=1))
        return
    if not args.skip_direct:
        report["direct_vs_http"] = direct_vs_http(args.tokens, args.reps, eos, args.n_ctx, args.threads)
        print(json.dumps(report["direct_vs_http"]), flush=True)
    only = {n for n in args.only.split(",") if n}

    payload = body(args.tokens, eos, stream=True)
    procs, servers = [], {}
    try:
        for name, parallel, threads, batching in SHIMMY_CONFIGS:
            if only and name not in only:
                continue
            proc, servers[name] = shimmy(parallel, args.n_ctx, threads, batching, EXTRA_FLAGS.get(name))
            procs.append(proc)
        if not args.skip_llama_server:
            for name, threads in (("llama_cpp_server", CORES), ("llama_cpp_server_1_thread", 1)):
                if only and name not in only:
                    continue
                try:
                    proc, servers[name] = llama_server(args.n_ctx, threads)
                    procs.append(proc)
                except Exception as exc:  # e.g. starlette-context missing
                    report[name] = f"skipped: {exc}"
            if not only or "llama_server_cpp" in only:
                try:
                    proc, servers["llama_server_cpp"] = cpp_llama_server(args.n_ctx)
                    procs.append(proc)
                except Exception as exc:  # no compiler, no network for the source
                    report["llama_server_cpp"] = f"skipped: {exc}"
        runs = interleaved(servers, payload, args.clients, args.rounds)
        lone = {n: u for n, u in servers.items()
                if n in ("shimmy_default", "shimmy_kv_unified", "shimmy_contexts_auto", "shimmy_1_slot")}
        if "shimmy_default" in lone and len(lone) >= 2:
            report["single_request_s"] = single_request(lone, payload, args.rounds)
    finally:
        for proc in procs:
            stop(proc)
    for name, bursts in runs.items():
        report[name] = summary(bursts)
    ratios = report["ratios"] = {}  # every shimmy configuration against every other server
    for a in runs:
        if not a.startswith("shimmy"):
            continue
        for b in runs:
            if b != a:
                ratios[f"{a}/{b}"] = ratio(runs[a], runs[b])
    report["machine"]["load_avg_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
