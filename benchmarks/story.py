"""Benchmark and evaluation of shimmy_lab.story.

Run from the repository root::

    .venv/bin/python benchmarks/story.py

Prints precision/recall for quote detection, speaker attribution, character
detection and fact extraction on the hand-labelled set (tests/data/story_eval.json),
then speed on the longest novel in datasets/: words/s of a full read, the cost of
appending its last third to a story holding the first two thirds versus reading that
third alone (same run), and peak RSS of a full read in a fresh process.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import shimmy_lab as sl  # noqa: E402
from shimmy_lab.story import Story  # noqa: E402
from shimmy_lab.eval.labelled import evaluate  # noqa: E402


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    r = evaluate(Path(__file__).resolve().parents[1] / "tests" / "data" / "story_eval.json")
    q = r["quotes"]
    print("== quality (hand-labelled set: tests/data/story_eval.json)")
    for row in q.itertuples():
        print(f"quotes   {row.dataset:22s} P={row.precision:.3f} R={row.recall:.3f} "
              f"(gold {row.gold}, predicted {row.predicted})  speaker accuracy="
              f"{row.speaker_accuracy:.3f} ({row.speaker_correct}/{row.speaker_n}) "
              f"coverage={row.speaker_coverage:.2f}  [{row.scene}]")
    tp, g, p = q["tp"].sum(), q["gold"].sum(), q["predicted"].sum()
    print(f"quotes   ALL                    P={tp / p:.3f} R={tp / g:.3f}  speaker accuracy="
          f"{q['speaker_correct'].sum() / q['speaker_n'].sum():.3f} "
          f"({q['speaker_correct'].sum()}/{q['speaker_n'].sum()})")
    for row in r["characters"].itertuples():
        print(f"characters {row.dataset:20s} P={row.precision:.3f} R={row.recall:.3f} "
              f"(gold {row.gold}, predicted {row.predicted}) missed={row.missed}")
    f = r["facts"].iloc[0]
    print(f"facts    injected+clean Emma   P={f.precision:.3f} R={f.recall:.3f} "
          f"(gold {f.gold}, predicted {f.predicted})")
    print(f"         missed: {f.missed}")
    print(f"         wrong:  {f.wrong}")

    df = sl.datasets.list()
    name = df.sort_values("words").iloc[-1]["name"]
    text = sl.datasets.load(name)
    words = len(text.split())
    print(f"\n== speed on {name} ({words:,} words, {len(text):,} chars)")
    full = _best(lambda: Story.from_text(text))
    print(f"full read: {full:.2f} s = {words / full:,.0f} words/s = {len(text) / full:,.0f} chars/s")
    cut = text.index("\n\n", 2 * len(text) // 3)
    head, tail = text[:cut], text[cut:]
    base = Story.from_text(head)

    def do_append():
        s = Story(base.text, base.title, dict(base.uns),
                  {k: v.copy() for k, v in base.tables.items()})
        t0 = time.perf_counter()
        s.append(tail)
        return time.perf_counter() - t0

    app = min(do_append() for _ in range(3))
    alone = _best(lambda: Story.from_text(tail))
    print(f"append last third to first two thirds: {app:.2f} s; reading the last third alone: "
          f"{alone:.2f} s; ratio {app / alone:.2f} (goal <= 1.5)")
    code = ("import sys; sys.path.insert(0, %r)\n"
            "def rss(k):\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith(k): return int(line.split()[1])\n"
            "import shimmy_lab as sl; from shimmy_lab.story import Story\n"
            "t = sl.datasets.load(%r); Story.from_text('warm up. \"Hi,\" said Tom.')\n"
            "a = rss('VmRSS')\n"
            "s = Story.from_text(t)\n"
            "print(a, rss('VmRSS'), rss('VmHWM'))\n") % (str(Path(__file__).resolve().parents[1]), name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, hwm = (int(x) / 1024 for x in out.stdout.split())
    print(f"memory (fresh process, /proc/self/status): RSS {before:.0f} MiB after imports, "
          f"{after:.0f} MiB holding the story, peak {hwm:.0f} MiB; the read itself adds "
          f"{hwm - before:.0f} MiB at peak for {words:,} words "
          f"(~{(hwm - before) * 200_000 / words:.0f} MiB scaled to 200k words)")
    s = Story.from_text(text)
    print(f"tables: " + ", ".join(f"{k}={len(v)}" for k, v in s.tables.items()))


if __name__ == "__main__":
    main()
