"""The narrative on/off experiment: does narrative context make continuations more consistent?

>>> res = sl.experiments.continuation("datasets", n_prompts=4)   # doctest: +SKIP
>>> res.summary                                                   # doctest: +SKIP

For passages cut from the corpus (at paragraph ends, at seeded positions), the model
continues the text under three conditions, with the same seeds:

``off``
    the passage only;
``on``
    the passage plus the story's narrative context (:func:`shimmy_lab.context`) as a
    system message;
``stabilized``
    as ``on``, best of ``n_candidates`` by drift (Re3-style reranking).

Each continuation is scored by the project's own detectors (drift score and its
components, insight counts by kind) and by simple fluency measures (distinct-2,
repeated trigrams, words). :attr:`ContinuationResult.summary` gives the mean of each
score per condition with a bootstrap 95% interval, and the paired difference from
``off``. The detectors judge the outputs, so a hand-checked sample is reported
alongside in ``docs/experiments.md``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .engines import Engine
from .eval.corpus import as_works, read_work_text
from .story import Story

__all__ = ["continuation", "ContinuationResult", "fluency", "bootstrap_ci", "CONDITIONS"]

CONDITIONS = ("off", "on", "stabilized")
_PROMPT = "Continue this story with the next paragraph. Keep the same characters, tense and point of view.\n\n"


@dataclass
class ContinuationResult:
    """Tidy results (one row per passage x condition) and their summary."""

    results: pd.DataFrame
    summary: pd.DataFrame
    params: dict[str, Any]

    def _repr_html_(self) -> str:
        return self.summary.to_html(float_format=lambda x: f"{x:.3f}")


def fluency(text: str) -> dict[str, float]:
    """Distinct-2 (unique bigrams / bigrams), repeated-trigram share, and word count."""
    words = re.findall(r"[A-Za-z']+", text.lower())
    bigrams = list(zip(words, words[1:]))
    trigrams = list(zip(words, words[1:], words[2:]))
    distinct2 = len(set(bigrams)) / len(bigrams) if bigrams else 0.0
    repeated = 1 - len(set(trigrams)) / len(trigrams) if trigrams else 0.0
    return {"words": float(len(words)), "distinct_2": distinct2, "repeated_3": repeated}


def bootstrap_ci(values: Sequence[float], n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def _passages(text: str, n: int, rng: random.Random, min_words: int, window_words: int) -> list[tuple[int, str]]:
    """``n`` cut points at paragraph ends, each with the story text up to it (a window)."""
    ends = [m.start() for m in re.finditer(r"\n\s*\n", text)]
    words_before = np.cumsum([len(text[a:b].split()) for a, b in zip([0, *ends], ends)]) if ends else []
    eligible = [e for e, w in zip(ends, words_before) if w >= min_words]
    picks = sorted(rng.sample(eligible, min(n, len(eligible)))) if eligible else []
    out = []
    for cut in picks:
        start = cut
        count = 0
        while start > 0 and count < window_words:  # walk back to keep about window_words of story
            prev = text.rfind("\n\n", 0, start - 1)
            prev = 0 if prev < 0 else prev
            count += len(text[prev:start].split())
            start = prev
        out.append((cut, text[start:cut].strip()))
    return out


def _tail(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[-words:])


def _generate(engine, messages, seed: int, max_tokens: int, temperature: float) -> str:
    out = engine.chat(messages, max_tokens=max_tokens, temperature=temperature, seed=seed)
    return out["choices"][0]["message"]["content"].strip()


def _score(story, text: str) -> dict[str, Any]:
    from .assistant import drift  # lazy: keeps this module's import light

    row: dict[str, Any] = {"text": text, **fluency(text)}
    if not text.strip():
        row.update(drift_score=1.0, insights=0)
        return row
    report = drift(story, text)
    row["drift_score"] = float(report.score)
    for k, v in report.components.items():
        row[f"drift_{k}"] = float(v)
    row["insights"] = len(report.insights)
    for kind, count in report.insights["kind"].value_counts().items() if len(report.insights) else []:
        row[f"n_{kind}"] = int(count)
    return row


def continuation(corpus: Any = "datasets", engine: Any = None, n_prompts: int = 4, *,
                 conditions: Sequence[str] = CONDITIONS, n_candidates: int = 3, max_tokens: int = 80,
                 temperature: float = 0.8, prompt_words: int = 250, window_words: int = 20000,
                 min_words: int = 3000, assertiveness: float = 0.8, seed: int = 0,
                 progress: bool = True) -> ContinuationResult:
    """Run the narrative on/off experiment.

    Parameters
    ----------
    corpus
        As for :func:`shimmy_lab.evaluate` (folder, paths, dataset name, ``"datasets"``, DataFrame).
    engine
        An engine, a model id/path, or None for the bundled model.
    n_prompts
        Passages per work.
    conditions
        Any of ``"off"``, ``"on"``, ``"stabilized"``.
    n_candidates
        Candidates of the ``stabilized`` condition.
    max_tokens, temperature
        Generation settings (the same for every condition; seeds are shared).
    prompt_words
        Words of the passage shown to the model.
    window_words, min_words
        The story the context and the detectors see is up to ``window_words`` before
        the cut; cuts come after at least ``min_words`` words.
    assertiveness
        Of the narrative context.
    seed
        Seeds the passage choice and the generations.

    Returns
    -------
    ContinuationResult
    """
    from .assistant import analyze, context  # lazy: keeps this module's import light
    from .lab import load_engine  # lazy: keeps this module's import light

    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown condition(s) {sorted(unknown)}; choose from {CONDITIONS}")
    if not isinstance(engine, Engine):
        engine = load_engine(engine)
    rng = random.Random(seed)
    jobs = []
    for work in as_works(corpus):
        text = read_work_text(work)
        for k, (cut, window) in enumerate(_passages(text, n_prompts, rng, min_words, window_words)):
            jobs.append((work.work_id, k, cut, window))
    bar = None
    if progress:
        from tqdm.auto import tqdm  # lazy: tqdm.auto loads ipywidgets in a notebook

        bar = tqdm(total=len(jobs), desc="continuation", unit="passage")
    rows = []
    for work_id, k, cut, window in jobs:
        story = analyze(Story.from_text(window, title=work_id))
        user = {"role": "user", "content": _PROMPT + _tail(window, prompt_words)}
        brief = context(story, assertiveness=assertiveness)
        gen_seed = seed * 100003 + len(rows)
        for cond in conditions:
            msgs = [user] if cond == "off" or not brief else [{"role": "system", "content": brief}, user]
            n = n_candidates if cond == "stabilized" else 1
            scored = [_score(story, _generate(engine, msgs, gen_seed + i, max_tokens, temperature)) for i in range(n)]
            best = min(scored, key=lambda r: r["drift_score"])
            rows.append({"work_id": work_id, "passage": k, "cut": cut, "condition": cond, "seed": gen_seed,
                         "candidates": n, "context_words": len(brief.split()) if cond != "off" else 0, **best})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    results = pd.DataFrame(rows)
    params = dict(n_prompts=n_prompts, conditions=list(conditions), n_candidates=n_candidates,
                  max_tokens=max_tokens, temperature=temperature, prompt_words=prompt_words,
                  window_words=window_words, assertiveness=assertiveness, seed=seed, model=engine.info.id)
    return ContinuationResult(results, summarize(results), params)


def summarize(results: pd.DataFrame, metrics: Sequence[str] = ("drift_score", "insights", "distinct_2",
                                                                 "repeated_3", "words")) -> pd.DataFrame:
    """Mean per condition with bootstrap 95% intervals, and the paired difference from ``off``."""
    rows = []
    base = results[results["condition"] == "off"].set_index(["work_id", "passage"])
    for cond, grp in results.groupby("condition", sort=False):
        row: dict[str, Any] = {"condition": cond, "n": len(grp)}
        for m in metrics:
            if m not in grp:
                continue
            lo, hi = bootstrap_ci(grp[m])
            row[m] = grp[m].mean()
            row[f"{m}_ci"] = f"[{lo:.3f}, {hi:.3f}]"
        if cond != "off" and len(base) and "drift_score" in grp:
            paired = grp.set_index(["work_id", "passage"])["drift_score"] - base["drift_score"]
            lo, hi = bootstrap_ci(paired.dropna())
            row["drift_vs_off"] = paired.mean()
            row["drift_vs_off_ci"] = f"[{lo:.3f}, {hi:.3f}]"
        rows.append(row)
    return pd.DataFrame(rows)
