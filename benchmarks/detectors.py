"""Perturbation benchmark of the narrative detectors (recall and false alarms).

Usage::

    .venv/bin/python benchmarks/detectors.py [--trials 4] [--words 10000] [--seed 0]

Injects known flaws (contradicting eye/hair colour or age, a dead character who
speaks or acts, a line from another book in a character's mouth, a first-person or
present-tense rewrite of a narration paragraph, a paragraph from another book) into
excerpts of every bundled text, and runs the clean full texts to count false alarms.
"""

from __future__ import annotations

import argparse
import time

from shimmy_lab.eval.perturb import benchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=4, help="injections per kind and text")
    ap.add_argument("--words", type=int, default=10000, help="excerpt size in words")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="print the missed injections")
    a = ap.parse_args()
    t0 = time.perf_counter()
    df = benchmark(trials=a.trials, excerpt_words=a.words, seed=a.seed, verbose=a.verbose)
    print(df.to_string(index=False))
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
