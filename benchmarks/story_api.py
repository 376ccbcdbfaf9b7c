"""Story creation and append through the HTTP API, with the default analysis.

Starts the real server (``shimmy_lab.serve(background=True)`` on a free loopback port),
then times ``POST /narrative/stories`` with a ``--words``-word text (the start of Emma,
cut at a paragraph break) and ``POST /narrative/stories/{id}/append`` of one paragraph,
each the median of ``--runs`` runs (a new story id each run).  Goal: the creation of a
20,000-word story answers in under 10 s.

Usage::

    .venv/bin/python benchmarks/story_api.py [--words 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time


def _excerpt(words: int) -> str:
    import shimmy_lab as sl

    text = sl.datasets.load("austen-emma")
    spans = [m.start() for m in re.finditer(r"\S+", text)]
    cut = text.find("\n\n", spans[min(words, len(spans) - 1)])
    return text[:cut] if cut > 0 else text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    import httpx

    from shimmy_lab.server.run import serve

    text = _excerpt(a.words)
    extra = '"I wonder what Mr. Knightley will say to all this," said Emma, and went to the window.'
    store = tempfile.mkdtemp(prefix="shimmy-bench-store-")  # every create/append is saved, as served
    handle = serve(background=True, port=0, config_reload=0, store=store)
    try:
        handle.wait_ready(120)
        base = handle.base_url.rsplit("/v1", 1)[0]
        create, append = [], []
        with httpx.Client(base_url=base, timeout=600) as c:
            for i in range(a.runs):
                t0 = time.perf_counter()
                r = c.post("/narrative/stories", json={"text": text, "title": "Emma",
                                                       "story_id": f"emma-{i}"})
                create.append(time.perf_counter() - t0)
                r.raise_for_status()
                t0 = time.perf_counter()
                c.post(f"/narrative/stories/emma-{i}/append", json={"text": extra}).raise_for_status()
                append.append(time.perf_counter() - t0)
    finally:
        handle.stop()
        shutil.rmtree(store, ignore_errors=True)
    print(f"POST /narrative/stories, {len(text.split()):,} words, default analysis: median "
          f"{statistics.median(create):.2f} s over {a.runs} runs (max {max(create):.2f} s; goal < 10 s); "
          f"append of one paragraph: median {statistics.median(append):.2f} s")


if __name__ == "__main__":
    main()
