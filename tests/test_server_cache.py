"""The analysis cache (L1 memory, L2 store folder, L3 Redis): entries, keys, fills, and that a
story read or a ``/drift`` on an unchanged story runs no analysis (analyses are counted)."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import shimmy_lab as sl
import shimmy_lab.assistant as assistant
from shimmy_lab.server.app import create_app
from shimmy_lab.server.cache import AnalysisCache, analysis_key, dumps, loads
from shimmy_lab.settings import Settings
from shimmy_lab.story import schema as story_schema

TEXT = ("CHAPTER I\n\nKitty had blue eyes and lived in Bath. \"Where is the letter, Tom?\" asked Kitty.\n\n"
        "\"I burned it,\" said Tom. Kitty looked at the fire.\n")
MORE = "\n\nTom died in the winter. Kitty kept his old watch on the mantel."


@pytest.fixture
def analyses(monkeypatch):
    """Counts every call of ``sl.analyze`` (the narrative systems), whoever makes it."""
    calls = []
    real = assistant.analyze

    def counting(*args, **kwargs):
        calls.append(kwargs.get("systems"))
        return real(*args, **kwargs)

    monkeypatch.setattr(assistant, "analyze", counting)
    return calls


def app_client(**overrides) -> tuple[TestClient, object]:
    settings = Settings.load(**{"config_reload": 0, "resources_level": "normal", **overrides})
    app = create_app(sl.Lab(), settings)
    return TestClient(app), app


def tracker_tables(story) -> dict[str, pd.DataFrame]:
    return {n: df for n, df in story.tables.items() if n not in story_schema.TABLES}


def assert_same_analysis(a, b) -> None:
    ta, tb = tracker_tables(a), tracker_tables(b)
    assert set(ta) == set(tb) and ta
    for name in ta:
        pd.testing.assert_frame_equal(ta[name].reset_index(drop=True), tb[name].reset_index(drop=True),
                                      check_dtype=False, obj=name)
    assert a.uns["params"]["assistant"]["systems"] == b.uns["params"]["assistant"]["systems"]


# ----------------------------------------------------------------------------- entries and keys
def test_an_entry_written_with_the_old_column_names_reads_with_the_new():
    story = sl.analyze(sl.Story.from_text(TEXT + MORE), voice_model="none")
    payload = {"tables": tracker_tables(story), "uns": {}}
    old = {name: df.rename(columns={new: o for o, new in story_schema.RENAMED.get(name, {}).items()})
           for name, df in payload["tables"].items()}
    assert "unit" in old["dna"].columns and "open_loops" in old["engagement"].columns
    back = loads(dumps({"tables": old, "uns": {}}))["tables"]
    for name, df in payload["tables"].items():
        pd.testing.assert_frame_equal(back[name], df.reset_index(drop=True), check_dtype=False, obj=name)


def test_an_entry_round_trips_through_bytes():
    story = sl.analyze(sl.Story.from_text(TEXT + MORE), voice_model="none")
    cache = AnalysisCache(entries=4)
    fresh = sl.Story.from_text(TEXT + MORE)
    settings = Settings.load(store="none")
    cache.analyze(fresh, settings)
    payload = cache._l1[next(iter(cache._l1))]
    back = loads(dumps(payload))
    assert set(back["tables"]) == set(payload["tables"]) and back["uns"] == payload["uns"]
    again = sl.Story.from_text(TEXT + MORE)
    from shimmy_lab.server.cache import apply

    apply(again, back)
    assert_same_analysis(story, again)
    ins = again.tables["insights"]
    assert all(isinstance(v, list) for v in ins["characters"])  # list cells come back as lists
    with pytest.raises(ValueError):
        loads(b"not an entry")


def test_the_key_names_text_systems_voice_and_assertiveness():
    a, b = sl.Story.from_text(TEXT), sl.Story.from_text(TEXT + MORE)
    base = analysis_key(a, ["characters"], None, 0.6)
    assert base == analysis_key(sl.Story.from_text(TEXT), ["characters"], None, 0.6)  # any story of that text
    assert len({base, analysis_key(b, ["characters"], None, 0.6), analysis_key(a, ["drift"], None, 0.6),
                analysis_key(a, ["characters"], "bundled", 0.6), analysis_key(a, ["characters"], None, 0.2)}) == 5


def test_l1_is_bounded_and_least_recently_used_leaves(analyses):
    cache, settings = AnalysisCache(entries=2), Settings.load(store="none")
    texts = [TEXT + f"\n\nLine {i}." for i in range(3)]
    for t in texts:
        cache.analyze(sl.Story.from_text(t), settings)
    assert len(cache._l1) == 2 and len(analyses) == 3
    _, source = cache.analyze(sl.Story.from_text(texts[2]), settings)
    assert source == "l1" and len(analyses) == 3
    _, source = cache.analyze(sl.Story.from_text(texts[0]), settings)  # evicted: analysed again
    assert source == "analysis" and len(analyses) == 4
    assert cache.counts[("l1", "hit")] == 1 and cache.counts[("l1", "miss")] == 4


# ----------------------------------------------------------------------------- the app: folder store
def test_reads_and_drift_of_an_unchanged_story_run_no_analysis(tmp_path, analyses):
    c, app = app_client(store=str(tmp_path))
    assert c.post("/narrative/stories", json={"text": TEXT, "story_id": "k"}).status_code == 201
    assert c.post("/narrative/stories/k/append", json={"text": MORE}).status_code == 200
    assert len(analyses) == 2
    c2, app2 = app_client(store=str(tmp_path), resources_max_stories=1)  # a restart, at most one story in memory
    c2.post("/narrative/stories", json={"text": TEXT, "story_id": "other", "analyze": False})
    for _ in range(2):  # loaded from the store, evicted by "other", loaded again
        assert c2.get("/narrative/stories/k").status_code == 200
        assert c2.get("/narrative/stories/k/insights").status_code == 200
        assert c2.get("/narrative/stories/k/tables/dna").status_code == 200
        assert c2.get("/narrative/stories/k/context").status_code == 200
        r = c2.post("/narrative/stories/k/drift", json={"text": "Kitty's eyes were green."})
        assert r.status_code == 200 and r.json()["insights"]
        c2.get("/narrative/stories/other")
    assert len(analyses) == 2 and app2.state.cache.analyses == 0
    assert_same_analysis(app.state.lab.stories["k"], app2.state.store.load("k"))


def test_l2_in_the_store_folder_survives_a_restart(tmp_path, analyses):
    c, app = app_client(store=str(tmp_path))
    c.post("/narrative/stories", json={"text": TEXT, "story_id": "a"})
    assert (tmp_path / ".analysis").is_dir() and c.get("/narrative/stories").json()["data"][0]["id"] == "a"
    c2, app2 = app_client(store=str(tmp_path))  # new process: L1 empty
    body = c2.post("/narrative/stories", json={"text": TEXT, "story_id": "b"}).json()
    assert body["analysis"]["source"] == "l2" and len(analyses) == 1
    assert_same_analysis(app.state.lab.stories["a"], app2.state.lab.stories["b"])
    body = c2.post("/narrative/stories", json={"text": TEXT, "story_id": "c"}).json()
    assert body["analysis"]["source"] == "l1"  # the L2 hit filled L1
    metrics = c2.get("/metrics").text
    for line in ('shimmy_analysis_cache_total{level="l1",result="hit"} 1.0',
                 'shimmy_analysis_cache_total{level="l1",result="miss"} 1.0',
                 'shimmy_analysis_cache_total{level="l2",result="hit"} 1.0'):
        assert line in metrics
    assert c2.get("/health").json()["cache"] == {"levels": ["l1", "l2"], "analyses": 0}


def test_cache_settings_switch_levels_off(tmp_path, analyses):
    c, app = app_client(store=str(tmp_path), cache_entries=0, cache_folder=False)
    assert app.state.cache.levels == []
    c.post("/narrative/stories", json={"text": TEXT, "story_id": "a"})
    c.post("/narrative/stories", json={"text": TEXT, "story_id": "b"})
    assert len(analyses) == 2 and not (tmp_path / ".analysis").exists()


def test_damaged_l2_entries_are_misses(tmp_path, analyses):
    c, _ = app_client(store=str(tmp_path))
    c.post("/narrative/stories", json={"text": TEXT, "story_id": "a"})
    for f in (tmp_path / ".analysis").iterdir():
        f.write_bytes(b"garbage")
    c2, _ = app_client(store=str(tmp_path))
    assert c2.post("/narrative/stories", json={"text": TEXT, "story_id": "b"}).json()["analysis"]["source"] \
        == "analysis"


def test_plugins_bypass_the_cache(analyses, monkeypatch):
    monkeypatch.setattr("shimmy_lab.plugins.plugins", lambda: {"p": object()})
    cache, settings = AnalysisCache(entries=4), Settings.load(store="none")
    monkeypatch.setattr(assistant, "analyze", lambda story, **kw: analyses.append(1) or story)
    for _ in range(2):
        assert cache.analyze(sl.Story.from_text(TEXT), settings)[1] == "analysis"
    assert len(analyses) == 2 and not cache.counts


# ----------------------------------------------------------------------------- L3: Redis
def test_redis_errors_are_misses(analyses):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cache = AnalysisCache(entries=0, redis_url=f"redis://127.0.0.1:{port}/0")
    story, source = cache.analyze(sl.Story.from_text(TEXT), Settings.load(store="none"))
    assert source == "analysis" and "insights" in story.tables and cache.counts[("l3", "miss")] == 1


redis_tests = pytest.importorskip("test_server_redis")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if redis_tests.REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (make redis)")
    server = redis_tests.RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.kill()


def test_a_replica_reads_another_replicas_story_without_analysis(redis_url, analyses):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    a, app_a = app_client(redis=redis_url, store="none")
    b, app_b = app_client(redis=redis_url, store="none", resources_level="minimal")  # a busier replica
    assert a.post("/narrative/stories", json={"text": TEXT, "story_id": "k"}).status_code == 201
    assert a.post("/narrative/stories/k/append", json={"text": MORE}).status_code == 200
    assert len(analyses) == 2
    assert b.get("/narrative/stories/k").status_code == 200  # replays the log: every analysis from L3
    assert b.post("/narrative/stories/k/drift", json={"text": "Tom laughed."}).status_code == 200
    assert len(analyses) == 2 and app_b.state.cache.analyses == 0
    assert app_b.state.cache.counts[("l3", "hit")] == 2
    assert_same_analysis(app_a.state.lab.stories["k"], app_b.state.lab.stories["k"])
    assert a.post("/narrative/stories/k/append", json={"text": "\n\nKitty wept."}).status_code == 200
    assert b.get("/narrative/stories/k/insights").status_code == 200  # catches up: from L3 again
    assert len(analyses) == 3 and app_b.state.cache.analyses == 0
    assert_same_analysis(app_a.state.lab.stories["k"], app_b.state.lab.stories["k"])
    assert 'shimmy_analysis_cache_total{level="l3",result="hit"} 3.0' in b.get("/metrics").text
    assert app_b.state.cache.levels == ["l1", "l3"]
