"""Server benchmark (bundled SmolLM2-135M-Instruct, one run, one machine).

(a) latency of a 64-token non-streamed chat through HTTP vs the same call on the
    engine directly (median ratio, interleaved runs; goal <= 1.05);
(b) total tokens/s and median time-to-first-token with 4 concurrent streaming
    clients against ``shimmy-lab serve`` with 1 slot and with ``--parallel 2``;
(c) the same load against llama-cpp-python's own server (``python -m
    llama_cpp.server``, needs ``starlette-context``; skipped if it cannot start).

Every server runs in its own subprocess with the same context size; EOS is banned
with ``logit_bias`` so that every request generates exactly ``--tokens`` tokens.

Usage::

    python benchmarks/server.py [--tokens 64] [--reps 5] [--clients 4] [--requests 3]
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


def shimmy(parallel: int, n_ctx: int, threads: int | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "shimmy_lab", "serve", "--port", str(port), "--parallel", str(parallel),
           "--n-ctx", str(n_ctx), "--log-level", "warning", "--config-reload", "0"]
    if threads:
        cmd += ["--threads", str(threads)]
    return start(cmd, url, "/ready"), url


def llama_server(n_ctx: int, threads: int) -> tuple[subprocess.Popen, str]:
    from shimmy_lab.registry import bundled_model_path

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--model_alias", MODEL,
           "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--host", "127.0.0.1", "--port", str(port),
           "--interrupt_requests", "False"]  # its default (True) cuts a running stream when a new request comes
    return start(cmd, url, "/v1/models"), url


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


def load_test(url: str, payload: dict, clients: int, requests: int) -> dict:
    """``clients`` threads, each sending ``requests`` streamed chats one after another."""
    results: list[tuple[int, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker():
        with httpx.Client() as c:
            for _ in range(requests):
                try:
                    res = stream_once(c, url, payload)
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(type(exc).__name__)
                    continue
                with lock:
                    results.append(res)

    stream_once(httpx.Client(), url, payload)  # warm-up
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    tokens = sum(r[0] for r in results)
    return {"tokens": tokens, "seconds": round(wall, 2), "tokens_per_s": round(tokens / wall, 1),
            "ttft_median_s": round(statistics.median(r[1] for r in results), 3) if results else None,
            "complete_streams": sum(r[0] == payload["max_tokens"] for r in results),
            "requests": clients * requests, "errors": len(errors)}


def direct_vs_http(tokens: int, reps: int, eos: list[int], n_ctx: int) -> dict:
    from shimmy_lab.engines import load_engine

    proc, url = shimmy(1, n_ctx)
    eng = load_engine(n_ctx=n_ctx, n_threads=CORES)
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
    return {"direct_median_s": round(d, 4), "http_median_s": round(h, 4), "ratio": round(h / d, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=3)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--skip-llama-server", action="store_true")
    args = ap.parse_args()

    from shimmy_lab.engines import load_engine

    probe = load_engine(n_ctx=256)
    eos = sorted({probe.llm.token_eos(), *probe.tokenize("<|im_end|><|endoftext|>", add_special=False)})
    probe.close()

    report: dict = {"machine": {"cores": CORES}, "tokens_per_request": args.tokens}
    report["a_direct_vs_http"] = direct_vs_http(args.tokens, args.reps, eos, args.n_ctx)
    print(json.dumps(report["a_direct_vs_http"]), flush=True)

    payload = body(args.tokens, eos, stream=True)
    configs = (("b_shimmy_1_slot", 1, None), ("b_shimmy_1_slot_1_thread", 1, 1), ("b_shimmy_parallel_2", 2, None))
    for name, parallel, threads in configs:
        proc, url = shimmy(parallel, args.n_ctx, threads)
        try:
            report[name] = load_test(url, payload, args.clients, args.requests)
        finally:
            stop(proc)
        print(name, json.dumps(report[name]), flush=True)
    for base in ("b_shimmy_1_slot", "b_shimmy_1_slot_1_thread"):
        report[f"b_ratio_parallel2_vs_{base[9:]}"] = round(report["b_shimmy_parallel_2"]["tokens_per_s"]
                                                            / report[base]["tokens_per_s"], 2)

    if not args.skip_llama_server:
        for name, threads in (("c_llama_cpp_server", CORES), ("c_llama_cpp_server_1_thread", 1)):
            try:
                proc, url = llama_server(args.n_ctx, threads)
            except Exception as exc:  # e.g. starlette-context missing
                report[name] = f"skipped: {exc}"
                continue
            try:
                report[name] = load_test(url, payload, args.clients, args.requests)
            finally:
                stop(proc)
            print(name, json.dumps(report[name]), flush=True)
        best_llama = max((r["tokens_per_s"] for k, r in report.items() if k.startswith("c_llama")
                          and isinstance(r, dict)), default=None)
        if best_llama:
            report["c_ratio_shimmy_parallel_2_vs_best_llama_cpp_server"] = round(
                report["b_shimmy_parallel_2"]["tokens_per_s"] / best_llama, 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
