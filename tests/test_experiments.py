"""The narrative on/off experiment: scoring helpers and a small real run on the bundled model."""

import numpy as np
import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab import experiments as ex


def test_fluency_measures():
    f = ex.fluency("the cat sat on the mat the cat sat on the mat")
    assert f["words"] == 12 and f["repeated_3"] > 0.3 and f["distinct_2"] < 0.7
    assert ex.fluency("")["words"] == 0


def test_bootstrap_interval_covers_the_mean():
    rng = np.random.default_rng(1)
    x = rng.normal(0.5, 0.1, 200)
    lo, hi = ex.bootstrap_ci(x)
    assert lo < x.mean() < hi and hi - lo < 0.05


def test_summary_pairs_conditions():
    res = pd.DataFrame({"work_id": ["a"] * 4, "passage": [0, 0, 1, 1], "condition": ["off", "on"] * 2,
                        "drift_score": [0.5, 0.3, 0.6, 0.4], "insights": [1, 0, 2, 1]})
    summary = ex.summarize(res, metrics=("drift_score", "insights")).set_index("condition")
    assert summary.loc["on", "drift_vs_off"] == pytest.approx(-0.2)
    assert summary.loc["off", "n"] == 2


def test_unknown_condition():
    with pytest.raises(ValueError, match="unknown condition"):
        ex.continuation(pd.DataFrame({"text": ["x"]}), engine=object(), conditions=("maybe",))


@pytest.mark.slow
def test_small_real_run(llama_engine):
    text = sl.datasets.load("carroll-alice", strip=True)
    corpus = pd.DataFrame({"title": ["alice"], "text": [text[:40000]]})
    res = ex.continuation(corpus, llama_engine, n_prompts=1, n_candidates=2, max_tokens=12,
                          min_words=1500, window_words=3000, progress=False)
    r = res.results
    assert list(r["condition"]) == ["off", "on", "stabilized"]
    assert r["text"].str.len().gt(0).all() and r["drift_score"].between(0, 1).all()
    assert r.loc[r["condition"] == "off", "context_words"].item() == 0
    assert r.loc[r["condition"] == "on", "context_words"].item() > 0
    assert r.loc[r["condition"] == "stabilized", "candidates"].item() == 2
    assert set(res.summary["condition"]) == {"off", "on", "stabilized"}
    assert res.params["model"] == "smollm2-135m-instruct"
