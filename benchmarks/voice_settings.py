"""Voice-drift recall of two settings side by side on the benchmark's own draws (fast).

Usage::

    .venv/bin/python benchmarks/voice_settings.py 0,1,2,3,4    # seeds; ~80 min on 2 cores
    .venv/bin/python benchmarks/voice_settings.py 0,1,2,3,4 --default-only
    .venv/bin/python benchmarks/voice_settings.py 5,6,7,8,9 --default-only --no-clean  # recall only

Settings compared: the fit measured against a baseline that mixes the line alone with the
line after passages from other books (reference weight 0.75, threshold 0.93: the default)
and against the line alone (weight 0, threshold 0.85: the default before the reference
baseline); both with the default context (``fit.CONTEXT_TOKENS``, 384 tokens; set it to 768
to measure the longer context) and the titled-name term.

The voice_drift decision for a line depends only on that line (its lexical score against the
story, its fit to the story before it), so in the perturbed excerpts the model scores only the
lines overlapping the injected span: the recall is the one ``benchmarks/detectors.py --kind
voice_drift`` reports.  The clean pass runs the real pipeline for the current setting; for the
previous one it is skipped (17 clean false alarms in its full run, with 384 tokens of context).
"""

from __future__ import annotations

import importlib
import sys
import time

import numpy as np
import pandas as pd

from shimmy_lab.assistant import analyze as _analyze
from shimmy_lab.trackers import fit, voice

P = importlib.import_module("shimmy_lab.eval.perturb")  # the module (``eval.perturb`` is also a function)
# reference weight, threshold, run the clean pass
SETTINGS = [(fit.REFERENCE_WEIGHT, voice.FIT_THRESHOLD, True), (0.0, 0.85, False)]
_real_fit, _real_perturb = fit.line_fit, P.perturb
_last: dict = {}


def remember_perturbation(*args, **kwargs):
    """The benchmark's perturbation, remembered so the scorer knows the injected span."""
    _last["p"] = p = _real_perturb(*args, **kwargs)
    return p


def last_perturbation():
    """The perturbation the benchmark made last (its ``start`` and ``end`` are the injected span)."""
    return _last["p"]


def injected_only(engine, text, spans, *args, **kwargs):
    """``line_fit`` of the spans overlapping the injected one (``nan`` elsewhere)."""
    p, spans = _last["p"], list(spans)
    keep = [i for i, (s, e) in enumerate(spans) if s < p.end and e > p.start]
    out = np.full(len(spans), np.nan)
    if keep:
        out[keep] = _real_fit(engine, text, [spans[i] for i in keep], *args, **kwargs)
    return out


def run(seeds: list[int], weight: float, threshold: float, clean: bool) -> pd.DataFrame:
    """Recall (and, with ``clean``, false alarms) of one setting."""
    fit.REFERENCE_WEIGHT, voice.FIT_THRESHOLD = weight, threshold

    def analyze(st, kind=None):
        if kind is None and not clean:
            st.tables["insights"] = pd.DataFrame(columns=["kind", "start", "end", "message"])
            return st
        fit.line_fit = _real_fit if kind is None else injected_only
        return _analyze(st, systems=("characters", "drift"), voice_model="bundled")

    return P.benchmark(kinds=["voice_drift"], trials=4, excerpt_words=10000, seed=seeds,
                       analyze=analyze, verbose=True)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seeds = [int(s) for s in (args[0] if args else "0").split(",")]
    P.perturb = remember_perturbation
    for weight, threshold, clean in SETTINGS[:1] if "--default-only" in sys.argv else SETTINGS:
        t0 = time.perf_counter()
        df = run(seeds, weight, threshold, clean and "--no-clean" not in sys.argv)
        print(f"=== reference weight {weight}, threshold {threshold}: {time.perf_counter() - t0:.0f} s")
        print(df.to_string(index=False))
        print("pooled", df.found.sum(), "/", df.trials.sum(), round(df.found.sum() / df.trials.sum(), 3),
              flush=True)


if __name__ == "__main__":
    main()
