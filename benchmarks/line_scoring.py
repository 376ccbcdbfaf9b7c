"""Line scoring (the ``voice_drift`` model stage) on the bundled model: seconds per line with the
prefix's output logits skipped (the default) against computed, side by side.

Run::

    .venv/bin/python benchmarks/line_scoring.py [--lines 12] [--rounds 5]

Each round scores the same lines of Emma with :func:`shimmy_lab.trackers.fit.line_fit` (cache
cleared, reference passages included) once each way, in alternating order; medians and the
median ratio are printed, with the largest difference between the two ways' fits.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()

    import shimmy_lab as sl
    from shimmy_lab.engines import llama_cpp
    from shimmy_lab.trackers import fit

    text = sl.datasets.load("austen-emma")[:120_000]
    quotes = sl.Story.from_text(text).quotes
    quotes = quotes[quotes["text"].str.split().str.len() >= 10]
    step = max(1, len(quotes) // opts.lines)
    spans = list(zip(quotes["start"], quotes["end"]))[::step][: opts.lines]
    engine = fit.fit_engine("bundled")
    skip = llama_cpp._eval_without_logits

    def computed(llm, tokens):  # the previous behaviour: every row's logits
        llm.eval(tokens)

    def run(way):
        llama_cpp._eval_without_logits = skip if way == "skipped" else computed
        fit.clear_cache()
        engine._logits_llm().reset()
        t0 = time.perf_counter()
        out = fit.line_fit(engine, text, spans)
        return (time.perf_counter() - t0) / len(spans), out

    run("skipped")  # warm-up: loads the model, reads the passages once
    times = {"skipped": [], "computed": []}
    ratios, diff = [], 0.0
    for i in range(opts.rounds):
        ways = ["skipped", "computed"] if i % 2 == 0 else ["computed", "skipped"]
        got = {}
        for way in ways:
            dt, got[way] = run(way)
            times[way].append(dt)
        ratios.append(times["skipped"][-1] / times["computed"][-1])
        diff = max(diff, float(np.nanmax(np.abs(got["skipped"] - got["computed"]))))
    llama_cpp._eval_without_logits = skip
    print(f"# line scoring: bundled SmolLM2, {len(spans)} lines of Emma, {opts.rounds} rounds, medians")
    for way, ts in times.items():
        print(f"prefix logits {way:<9} {statistics.median(ts):.3f} s per line")
    print(f"ratio skipped / computed: {statistics.median(ratios):.3f} (median of per-round ratios)")
    print(f"largest fit difference between the two: {diff:.2e} nats/token")


if __name__ == "__main__":
    main()
