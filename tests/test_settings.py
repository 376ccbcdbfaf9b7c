"""Settings: CLI/overrides > SHIMMY_* > shimmy.toml > defaults, with the source of each value."""

from __future__ import annotations

import pytest

from shimmy_lab.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    import os

    for key in list(os.environ):
        if key.startswith("SHIMMY_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults():
    s = Settings.load()
    assert (s.host, s.port, s.api_keys, s.cors_origins, s.parallel) == ("127.0.0.1", 11435, [], [], "auto")
    assert s.narrative.enabled is True and 0 <= s.narrative.assertiveness <= 1
    assert set(s.sources().values()) == {"default"}


def test_precedence(monkeypatch, tmp_path):
    (tmp_path / "shimmy.toml").write_text(
        'port = 9001\nhost = "0.0.0.0"\nparallel = 3\nlog_level = "DEBUG"\n[narrative]\nassertiveness = 0.8\n')
    monkeypatch.setenv("SHIMMY_PORT", "9002")
    monkeypatch.setenv("SHIMMY_PARALLEL", "4")
    monkeypatch.setenv("SHIMMY_NARRATIVE_ENABLED", "false")
    s = Settings.load(parallel=5, queue_size=None)
    assert (s.port, s.host, s.parallel, s.log_level) == (9002, "0.0.0.0", 5, "debug")
    assert s.narrative.enabled is False and s.narrative.assertiveness == 0.8
    src = s.sources()
    assert src["parallel"] == "cli" and src["port"] == "env" and src["host"].startswith("toml:")
    assert src["narrative.enabled"] == "env" and src["narrative.assertiveness"].startswith("toml:")
    assert src["queue_size"] == "default"


def test_config_path_from_argument_and_env(monkeypatch, tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("port = 1111\n")
    b.write_text("[server]\nport = 2222\nmax-body-bytes = 10\n")
    monkeypatch.setenv("SHIMMY_CONFIG", str(b))
    assert Settings.load().port == 2222 and Settings.load().max_body_bytes == 10
    assert Settings.load(config=a).port == 1111
    with pytest.raises(FileNotFoundError):
        Settings.load(config=tmp_path / "missing.toml")


def test_port_auto_lists_and_validation(monkeypatch):
    assert Settings.load(port="auto").port == "auto"
    assert Settings.load(port="8080").port == 8080
    monkeypatch.setenv("SHIMMY_API_KEYS", "k1, k2")
    monkeypatch.setenv("SHIMMY_CORS_ORIGINS", '["http://localhost:3000"]')
    s = Settings.load()
    assert s.api_keys == ["k1", "k2"] and s.cors_origins == ["http://localhost:3000"]
    assert ("api_keys", ["***", "***"], "env") in s.table()
    with pytest.raises(ValueError):
        Settings.load(parallel=0)
    with pytest.raises(ValueError):
        Settings.load(port="eighty")
    with pytest.raises(ValueError):
        Settings.load(narrative_assertiveness=3)


def test_key_file_and_engine_kwargs(tmp_path):
    f = tmp_path / "keys.txt"
    f.write_text("# comment\nsecret-1\n\nsecret-2\n")
    s = Settings.load(api_keys=["inline"], api_key_file=str(f), parallel=2, threads=3, n_ctx=1024)
    assert s.all_api_keys() == ["inline", "secret-1", "secret-2"]
    assert s.engine_kwargs() == {"n_ctx": 1024, "n_threads": 3}


def test_kv_unified_is_off_by_default_and_reaches_the_llama_engines(monkeypatch, tmp_path):
    s = Settings.load(threads=2)
    assert s.kv_unified is False and "kv_unified" not in s.engine_kwargs()  # other engines never see it
    assert Settings.load(kv_unified=True, threads=2).engine_kwargs() == {"n_threads": 2, "kv_unified": True}
    monkeypatch.setenv("SHIMMY_KV_UNIFIED", "true")
    env = Settings.load()
    assert env.kv_unified is True and env.sources()["kv_unified"] == "env"
    monkeypatch.delenv("SHIMMY_KV_UNIFIED")
    (tmp_path / "shimmy.toml").write_text("kv_unified = true\n")
    assert Settings.load().kv_unified is True
    with pytest.raises(ValueError, match="kv_unified"):
        Settings.load(kv_unified="sometimes")


def test_reload_keeps_overrides(tmp_path):
    cfg = tmp_path / "shimmy.toml"
    cfg.write_text("max_prompt_tokens = 10\n")
    s = Settings.load(port=1234)
    cfg.write_text("max_prompt_tokens = 20\nport = 99\n")
    r = s.reload()
    assert r.max_prompt_tokens == 20 and r.port == 1234


def test_parallel_auto_takes_a_slot_per_core_up_to_four(monkeypatch):
    from shimmy_lab.settings import auto_slots

    assert [auto_slots(c) for c in (1, 2, 3, 4, 16)] == [1, 2, 3, 4, 4]
    monkeypatch.setattr("shimmy_lab.settings.usable_cores", lambda: 2)
    auto = Settings.load()
    assert auto.slots() == 2 and auto.adaptive_threads and auto.engine_kwargs()["n_threads"] == 2
    fixed = Settings.load(parallel=2)
    assert fixed.slots() == 2 and not fixed.adaptive_threads and fixed.engine_kwargs()["n_threads"] == 1
    assert not Settings.load(threads=1).adaptive_threads  # fixed threads: no sharing
    monkeypatch.setenv("SHIMMY_PARALLEL", "3")
    assert Settings.load().parallel == 3
    for bad in (0, 65, "many"):
        with pytest.raises(ValueError, match="parallel"):
            Settings.load(parallel=bad)


def test_model_paths_and_datasets_are_settings(monkeypatch, tmp_path):
    import os

    from shimmy_lab import datasets
    from shimmy_lab.registry import search_paths

    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("SHIMMY_MODEL_PATHS", f"{a}{os.pathsep}{b}")
    monkeypatch.setenv("SHIMMY_DATASETS", str(tmp_path))
    s = Settings.load()
    assert s.model_paths == [a, b] and s.datasets == tmp_path
    assert [p for src, p in search_paths() if src == "env"] == [a, b]
    assert datasets.root() == tmp_path
    assert Settings.load(model_paths=[str(a)]).model_paths == [a]


def test_narrative_params_reach_the_analysis(tmp_path, monkeypatch):
    """``[narrative.params.<system>]`` in shimmy.toml: the systems' parameters of every
    analysis given these settings (an explicit ``params=`` wins field by field), part of
    the server's analysis cache key; JSON on the command line."""
    import shimmy_lab as sl
    from shimmy_lab.assistant import settings_params
    from shimmy_lab.server.cache import analysis_key

    monkeypatch.chdir(tmp_path)
    (tmp_path / "shimmy.toml").write_text("[narrative.params.dna]\nmax_insights = 2\nmin_shared = 3\n")
    s = Settings.load()
    assert s.narrative.params == {"dna": {"max_insights": 2, "min_shared": 3}}
    text = ("Ann met Bob at the mill. " * 3 + "\n\n") * 4
    story = sl.analyze(text, systems=["dna"], settings=s)
    assert story.uns["params"]["dna"]["max_insights"] == 2 and story.uns["params"]["dna"]["min_shared"] == 3
    story = sl.analyze(text, systems=["dna"], settings=s, params={"dna": {"max_insights": 5}})
    assert story.uns["params"]["dna"]["max_insights"] == 5 and story.uns["params"]["dna"]["min_shared"] == 3
    assert settings_params(None, None) == {}
    keys = {analysis_key(story, ["dna"], None, 0.6, "x", p) for p in (None, {}, s.narrative.params)}
    assert len(keys) == 2  # no params and empty params are the same analysis
    assert Settings.load(narrative_params='{"dna": {"max_insights": 1}}').narrative.params["dna"] == {"max_insights": 1}
    with pytest.raises(Exception, match="not a JSON object"):
        Settings.load(narrative_params="{dna")
    bad = Settings(narrative={"params": {"dnaa": {"max_insights": 1}}})
    with pytest.raises(ValueError, match="unknown narrative system"):
        sl.analyze(text, systems=["dna"], settings=bad)
