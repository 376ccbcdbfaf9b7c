"""Story reads and appends with 1 vs 2 server replicas sharing Redis, and the version check.

Usage::

    .venv/bin/python benchmarks/replicas.py [--seconds 10] [--clients 4]

Starts a real ``redis-server`` (append-only, fsync always) in a temp folder and real
``shimmy-lab serve --redis`` processes on loopback; creates a short story, then for 1 and 2
replicas runs ``--clients`` threads for ``--seconds`` each doing story reads
(``GET /narrative/stories/{id}``) spread over the replicas, then the same with appends of
one short paragraph.  Prints requests/s side by side and the ratio 2/1 (two cores bound
it: each replica and Redis share them).  The version check a replica makes per story
request is timed directly (one GET of the story's version key through the store): median
over 2,000 calls (goal < 2 ms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
STORY = ('"Where is the key?" asked Ann.\n\n"Under the mat," said Tom.\n\n'
         'Ann found it and opened the door. The hall was cold and quiet.\n')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.RedisError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def start_server(redis_url: str, folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIMMY_")}
    proc = subprocess.Popen([sys.executable, "-m", "shimmy_lab", "serve", "--port", str(port), "--redis", redis_url,
                             "--store", "none", "--n-ctx", "256", "--config-reload", "0", "--log-level", "warning"],
                            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(900):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(url)


def load(urls: list[str], path: str, clients: int, seconds: float, append: bool) -> float:
    """Requests/s of ``clients`` threads for ``seconds``, each thread on one replica in turn."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        with httpx.Client(base_url=urls[i % len(urls)], timeout=120) as c:
            while time.monotonic() < stop:
                if append:
                    r = c.post(path + "/append", json={"text": f"\n\nAnn waited ({i}.{done[i]}).\n"})
                else:
                    r = c.get(path)
                r.raise_for_status()
                done[i] += 1
    t0 = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def version_check_ms(redis_url: str, n: int = 2000) -> float:
    sys.path.insert(0, str(ROOT))
    from shimmy_lab.server.store import open_store

    store = open_store(None, redis=redis_url)
    ids = store.ids()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        store.version(ids[0])
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=4)
    a = ap.parse_args()
    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        print("redis-server is not installed (make redis): nothing to measure")
        sys.exit(0)
    tmp = Path(tempfile.mkdtemp(prefix="shimmy-replicas-"))
    redis_proc, redis_url = start_redis(tmp)
    servers = []
    try:
        servers = [start_server(redis_url, tmp) for _ in range(2)]
        urls = [u for _, u in servers]
        r = httpx.post(urls[0] + "/narrative/stories", json={"text": STORY, "story_id": "bench"}, timeout=120)
        r.raise_for_status()
        rows = []
        for kind, append in (("reads", False), ("appends", True)):
            one = load(urls[:1], "/narrative/stories/bench", a.clients, a.seconds, append)
            two = load(urls, "/narrative/stories/bench", a.clients, a.seconds, append)
            rows.append((kind, one, two))
        print(f"{a.clients} clients, {a.seconds:g} s each, story of {len(STORY.split())} words growing with the appends")
        print(f"{'requests/s':12s} {'1 replica':>10s} {'2 replicas':>11s} {'ratio':>6s}")
        for kind, one, two in rows:
            print(f"{kind:12s} {one:10.1f} {two:11.1f} {two / one:6.2f}")
        print(f"version check (one read of the story's version in Redis): median {version_check_ms(redis_url):.3f} ms "
              "over 2,000 calls (goal < 2 ms)")
    finally:
        for proc, _ in servers:
            proc.kill()
            proc.wait()
        redis_proc.kill()
        redis_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
