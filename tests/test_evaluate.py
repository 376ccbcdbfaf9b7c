"""Batch evaluation: corpora, error rows, the cache, and the Dask backend on a LocalCluster."""

import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.eval.corpus import CorpusError, as_works
from shimmy_lab.eval.evaluate import evaluate

STORY = ('CHAPTER I\n\n"Where is the key?" asked Anna.\n\n"In the well," said Tom.\n\n'
         'CHAPTER II\n\nAnna went to the well. "It is gone," she said.\n')
COLS = ["work_id", "level", "chapter", "status", "words", "quotes", "characters", "facts", "checksum"]


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "a.txt").write_text(STORY)
    (tmp_path / "b.txt").write_text(STORY.replace("Anna", "Maria"))
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    return tmp_path


def test_rows_per_work_and_chapter_with_error_rows(corpus):
    res = evaluate(corpus, systems=[], progress=False)
    works = res[res["level"] == "work"].set_index("work_id")
    assert works.loc["a", "status"] == "ok" and works.loc["a", "quotes"] == 3
    assert works.loc["binary", "error"].startswith("ValueError: binary file")
    assert "empty text" in works.loc["empty", "error"]
    assert "not UTF-8" in works.loc["latin1", "error"] and "offset 3" in works.loc["latin1", "error"]
    chapters = res[(res["level"] == "chapter") & (res["work_id"] == "a")]
    assert chapters["chapter"].tolist() == [1, 2] or chapters["chapter"].tolist() == [0, 1, 2]
    assert chapters["quotes"].sum() == 3
    assert works.loc["a", "version"] == sl.__version__ and len(works.loc["a", "checksum"]) == 64


def test_cache_resumes_and_skips_done_works(corpus, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = evaluate(corpus, systems=[], cache=cache, progress=False)
    assert len(list(cache.glob("*.parquet"))) == 2  # only the works that succeeded
    import shimmy_lab.eval.evaluate as ev

    calls = []
    real = ev.evaluate_work
    monkeypatch.setattr(ev, "evaluate_work", lambda w, s, **kw: calls.append(w.work_id) or real(w, s, **kw))
    again = evaluate(corpus, systems=[], cache=cache, progress=False)
    assert sorted(calls) == ["binary", "empty", "latin1"]  # broken works are retried, good ones reused
    pd.testing.assert_frame_equal(first[COLS], again[COLS], check_dtype=False)
    assert not list(cache.glob("*.tmp"))


def test_dataframe_and_list_corpora(corpus):
    df = pd.DataFrame({"title": ["one", "two"], "text": [STORY, STORY]})
    assert [w.work_id for w in as_works(df)] == ["one", "two"]
    assert len(as_works([corpus / "a.txt", corpus / "b.txt"])) == 2
    with pytest.raises(CorpusError, match="no 'text' column"):
        as_works(pd.DataFrame({"x": [1]}))
    with pytest.raises(CorpusError, match="datasets:"):
        as_works("no-such-corpus")
    with pytest.raises(ValueError, match="unknown backend"):
        evaluate(df, backend="spark")


def test_dask_local_cluster_equals_local_backend(corpus):
    local = evaluate(corpus, systems=[], progress=False)
    dask = evaluate(corpus, systems=[], backend="dask", n_workers=2, progress=False)
    pd.testing.assert_frame_equal(local[COLS], dask[COLS], check_dtype=False)


def test_metrics_of_every_system(corpus):
    res, ins = evaluate(corpus, progress=False, return_insights=True)
    work = res[(res["level"] == "work") & (res["work_id"] == "a")].iloc[0]
    for col in ("open_threads", "freedom_score", "capr_units", "tension_mean", "echoes", "recursion_density",
                "insights"):
        assert col in res.columns and work[col] == work[col], col  # present and not NaN
    assert 0 <= work["freedom_score"] <= 1
    chapters = res[(res["level"] == "chapter") & (res["work_id"] == "a")]
    assert chapters["echoes"].sum() <= work["echoes"]  # chapter rows count only their own spans
    if len(ins):
        assert set(ins["work_id"]) <= {"a", "b"}
