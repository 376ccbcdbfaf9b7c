"""The analysis cache: a cache hit (L1 memory, L2 store folder, L3 Redis) against a cold analysis.

Usage::

    .venv/bin/python benchmarks/cache.py [--dataset carroll-alice] [--chars 40000] [--reps 7]

Reads ``--chars`` characters of a bundled novel into a story, then times
:meth:`AnalysisCache.analyze <shimmy_lab.server.cache.AnalysisCache.analyze>` on freshly
read copies of it (the reading itself is not timed): cold (an empty cache: the narrative
systems run, lexical voice check), an L1 hit (the tables copied out of memory), an L2 hit
(one file read and its Parquet tables decoded) and, when ``redis-server`` is installed,
an L3 hit (one GET from a local Redis, decoded). Rounds are interleaved (cold, L1, L2, L3,
then again) so other load on the machine falls on all alike. Prints the medians and the
ratio cold / hit. Then the case the cache is for: a replica that loads a story of
``--appends`` appends from Redis replays its log, with an analysis after each text,
against the same load when the writer's analyses are in L3.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SHIMMY_NARRATIVE_VOICE_MODEL", "none")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def start_redis(folder: Path):
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(exe, os.X_OK):
        return None, None
    from test_server_redis import RedisServer

    server = RedisServer(folder)
    server.start()
    return server, server.url


def measure_levels(text: str, reps: int, redis_url: str | None, folder: Path) -> dict[str, list[float]]:
    import shimmy_lab as sl
    from shimmy_lab.server.cache import AnalysisCache
    from shimmy_lab.settings import Settings

    settings = Settings.load(store="none")
    caches = {"l1": AnalysisCache(entries=8), "l2": AnalysisCache(entries=0, folder=folder / "l2")}
    if redis_url:
        caches["l3"] = AnalysisCache(entries=0, redis_url=redis_url, prefix="bench")
    for cache in caches.values():  # fill each level once
        cache.analyze(sl.Story.from_text(text), settings)
    times: dict[str, list[float]] = {"cold": [], **{k: [] for k in caches}}
    for _ in range(reps):
        cold = AnalysisCache(entries=0)
        story = sl.Story.from_text(text)
        times["cold"].append(timed(lambda: cold.analyze(story, settings)))
        for level, cache in caches.items():
            story = sl.Story.from_text(text)
            times[level].append(timed(lambda: cache.analyze(story, settings)))
            assert cache.counts.get((level, "hit")), f"{level} did not hit"
    return times


def measure_replay(text: str, appends: int, redis_url: str, reps: int) -> dict[str, list[float]]:
    import redis

    import shimmy_lab as sl
    from shimmy_lab.server.cache import AnalysisCache
    from shimmy_lab.server.store import RedisStore
    from shimmy_lab.settings import Settings

    settings = Settings.load(store="none")
    parts = [text[i * len(text) // (appends + 1):(i + 1) * len(text) // (appends + 1)] for i in range(appends + 1)]
    redis.Redis.from_url(redis_url).flushdb()
    writer_cache = AnalysisCache(entries=0, redis_url=redis_url, prefix="replay")
    writer = RedisStore(redis_url, analyze=lambda s: writer_cache.analyze(s, settings), prefix="replay",
                        snapshot_chars=10**9)
    story = writer_cache.analyze(sl.Story.from_text(parts[0]), settings)[0]
    version = writer.save("s", story)
    for part in parts[1:]:
        story.append(part)
        writer_cache.analyze(story, settings)
        version = writer.append("s", story, part, version)
    times: dict[str, list[float]] = {"replay, no cache": [], "replay, L3 hits": []}
    for _ in range(reps):
        plain = RedisStore(redis_url, analyze=lambda s: sl.analyze(s, settings=settings), prefix="replay",
                           snapshot_chars=10**9)
        times["replay, no cache"].append(timed(lambda: plain.load("s")))
        reader_cache = AnalysisCache(entries=0, redis_url=redis_url, prefix="replay")
        cached = RedisStore(redis_url, analyze=lambda s: reader_cache.analyze(s, settings, replay=True)[0],
                            prefix="replay", snapshot_chars=10**9)
        times["replay, L3 hits"].append(timed(lambda: cached.load("s")))
        assert reader_cache.analyses == 0
    return times


def report(title: str, times: dict[str, list[float]], base: str) -> None:
    print(f"\n{title}")
    print(f"{'':<22}{'median s':>12}   ratio {base} / this")
    ref = statistics.median(times[base])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<22}{med:>12.4f}   {ref / med:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="carroll-alice")
    parser.add_argument("--chars", type=int, default=40_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--appends", type=int, default=5)
    args = parser.parse_args()
    from shimmy_lab import datasets

    text = datasets.load(args.dataset, strip=True)[:args.chars]
    with tempfile.TemporaryDirectory(prefix="shimmy-cache-bench-") as tmp:
        server, url = start_redis(Path(tmp))
        try:
            print(f"{args.dataset}, {len(text):,} characters, {args.reps} interleaved rounds, "
                  f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
            report("analysis of a story read from text", measure_levels(text, args.reps, url, Path(tmp)), "cold")
            if url:
                report(f"a replica loads the story from Redis ({args.appends} appends after the create)",
                       measure_replay(text, args.appends, url, max(3, args.reps // 2)), "replay, no cache")
            else:
                print("\nredis-server is not installed (make redis): no L3 figures")
        finally:
            if server is not None:
                server.kill()
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
