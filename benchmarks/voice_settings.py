"""Voice-drift recall of two settings side by side on the benchmark's own draws (fast).

Usage::

    .venv/bin/python benchmarks/voice_settings.py 0,1,2,3,4    # seeds; ~15 min on 2 cores

Settings compared: 384 tokens of context with the titled-name term (the default) and
192 tokens without it (the previous default).

The voice_drift decision for a line depends only on that line (its lexical score against the
story, its fit to the story before it), so the model scores only lines overlapping the injected
span: recall is the benchmark's.  The clean pass runs the real pipeline (new setting only).
"""
import sys, time
import numpy as np
import importlib
import pandas as pd
P = importlib.import_module("shimmy_lab.eval.perturb")
from shimmy_lab.trackers import fit, voice
from shimmy_lab.assistant import analyze as _analyze

seeds = [int(s) for s in sys.argv[1].split(",")]
configs = [(384, 0.3), (192, 0.0)]
real_fit = fit.line_fit
real_perturb = P.perturb
LAST = {}

def perturb(*a, **k):
    p = real_perturb(*a, **k); LAST["p"] = p; return p

def restricted(engine, text, spans, *a, **k):
    p = LAST.get("p")
    spans = list(spans)
    keep = [i for i, (s, e) in enumerate(spans) if p is None or (s < p.end and e > p.start)]
    out = np.full(len(spans), np.nan)
    if keep:
        out[keep] = real_fit(engine, text, [spans[i] for i in keep], *a, **k)
    return out

P.perturb = perturb
for ctx, w in configs:
    fit.CONTEXT_TOKENS, voice.NAME_WEIGHT = ctx, w
    t0 = time.perf_counter()
    def analyze(st, kind=None):
        if kind is None:
            LAST.pop("p", None)
            if ctx != 384:   # the clean pass of the previous setting is known (20 alarms); skip it
                st.tables["insights"] = pd.DataFrame(columns=["kind", "start", "end", "message"])
                return st
            fit.line_fit = real_fit
        else:
            fit.line_fit = restricted
        return _analyze(st, systems=("characters", "drift"), voice_model="bundled")
    df = P.benchmark(kinds=["voice_drift"], trials=4, excerpt_words=10000, seed=seeds, analyze=analyze, verbose=True)
    print(f"=== context {ctx} tokens, name weight {w}: {time.perf_counter() - t0:.0f} s")
    print(df.to_string(index=False))
    print("pooled", df.found.sum(), "/", df.trials.sum(), round(df.found.sum() / df.trials.sum(), 3), flush=True)
