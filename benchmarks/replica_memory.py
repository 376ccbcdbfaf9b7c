"""Memory of one serving replica: the RSS of a ``shimmy-lab serve`` process with the
bundled model, after the model is loaded, while N clients (default 4) send chat
requests at once, and then while it analyses a bundled novel sent to
``POST /narrative/stories``. docs/deploy.md quotes its output for the Kubernetes
requests and limits.

    .venv/bin/python benchmarks/replica_memory.py                 # the container's settings
    .venv/bin/python benchmarks/replica_memory.py --parallel 4 --clients 4

The server runs with the settings the container image uses (``SHIMMY_THREADS=1``,
``--host 0.0.0.0`` is not needed here: it binds 127.0.0.1), stories kept in memory. The RSS
is read from ``/proc/PID/status`` (``VmRSS``, sampled every 50 ms; ``VmHWM``, the kernel's
peak) of the server process itself: llama.cpp runs in that process, so that is the whole
replica. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the server was not ready in time")


def _client(url: str, requests: int, max_tokens: int, errors: list) -> None:
    body = {"messages": [{"role": "user", "content": "Tell a short story about a lighthouse keeper."}],
            "max_tokens": max_tokens, "temperature": 0.7}
    for i in range(requests):
        req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps({**body, "seed": i}).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                json.load(r)
        except OSError as exc:  # pragma: no cover - reported, not raised
            errors.append(str(exc))


def _create_story(url: str, name: str) -> float:
    """POST a bundled novel to /narrative/stories (read and analysed by the server); seconds."""
    import shimmy_lab as sl

    body = json.dumps({"text": sl.datasets.load(name), "title": name}).encode()
    req = urllib.request.Request(url + "/narrative/stories", data=body, headers={"Content-Type": "application/json"})
    t0 = time.monotonic()
    with urllib.request.urlopen(req, timeout=1800) as r:
        json.load(r)
    return time.monotonic() - t0


def measure(parallel: int = 1, clients: int = 4, requests: int = 3, max_tokens: int = 64,
            threads: int = 1, n_ctx: int | None = None, story: str | None = "carroll-alice") -> dict:
    """Start a server, load the bundled model, run the clients, then (``story``) have it
    analyse a bundled novel; the RSS figures in MiB."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).with_name("shimmy-lab")
    cmd = [str(exe), "serve", "--port", str(port), "--parallel", str(parallel)]
    env = {**os.environ, "SHIMMY_STORE": "none", "SHIMMY_THREADS": str(threads), "SHIMMY_LOG_LEVEL": "warning"}
    if n_ctx:
        env["SHIMMY_N_CTX"] = str(n_ctx)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        load_s = _wait_ready(url, proc)
        time.sleep(1.0)
        after_load = _status_kib(proc.pid, "VmRSS")
        peak, stop = [after_load], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _status_kib(proc.pid, "VmRSS"))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        errors: list[str] = []
        workers = [threading.Thread(target=_client, args=(url, requests, max_tokens, errors)) for _ in range(clients)]
        t0 = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - t0
        under_load = peak[0]
        story_s = _create_story(url, story) if story else None
        stop.set()
        sampler.join()
        hwm = _status_kib(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"parallel": parallel, "threads": threads, "clients": clients, "requests": clients * requests,
            "max_tokens": max_tokens, "errors": len(errors), "load_s": round(load_s, 1),
            "rss_after_load_mib": round(after_load / 1024), "rss_peak_under_load_mib": round(under_load / 1024),
            "load_test_s": round(elapsed, 1), "story": story, "story_s": story_s and round(story_s, 1),
            "rss_peak_with_story_mib": round(peak[0] / 1024), "vm_hwm_mib": round(hwm / 1024)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=3, help="requests per client")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--n-ctx", type=int, default=None)
    ap.add_argument("--story", default="carroll-alice", help="bundled novel to analyse after the clients "
                    "('none': skip)")
    args = ap.parse_args()
    story = None if args.story == "none" else args.story
    print(json.dumps(measure(args.parallel, args.clients, args.requests, args.max_tokens, args.threads,
                             args.n_ctx, story)))


if __name__ == "__main__":
    main()
