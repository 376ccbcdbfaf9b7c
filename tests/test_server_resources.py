"""The resource manager (``[resources]``): levels from CPU and memory use at every threshold
edge (an injected monitor, no real load), what each level runs on an append, the level in
``/health``, the ``narrative`` object and ``/metrics``, and the bounded histories."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import shimmy_lab as sl
from shimmy_lab.server.app import create_app
from shimmy_lab.server.resources import (InsightHistory, PsutilMonitor, ResourceManager, StoryMemory, Usage,
                                         level_for, plan_for)
from shimmy_lab.settings import LEVELS, ResourceSettings, Settings
from shimmy_lab.trackers import SYSTEMS


@pytest.fixture(autouse=True)
def _auto_level(monkeypatch):
    """These tests choose levels themselves: no level pinned by the test environment (conftest)."""
    monkeypatch.delenv("SHIMMY_RESOURCES_LEVEL", raising=False)

TEXT = ("CHAPTER I\n\nKitty had blue eyes and lived in Bath. \"Where is the letter, Tom?\" asked Kitty.\n\n"
        "\"I burned it,\" said Tom. Kitty looked at the fire.\n")


class Monitor:
    """A monitor that answers what the test sets, and counts its samples."""

    def __init__(self, cpu: float = 0.0, memory: float = 0.0):
        self.usage, self.samples = Usage(cpu, memory), 0

    def __call__(self) -> Usage:
        self.samples += 1
        return self.usage


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# ----------------------------------------------------------------------------- thresholds
@pytest.mark.parametrize("cpu, level", [(0.0, "maximum"), (49.99, "maximum"), (50.0, "normal"), (84.99, "normal"),
                                        (85.0, "reduced"), (94.99, "reduced"), (95.0, "minimal"), (100.0, "minimal")])
def test_cpu_edges(cpu, level):
    assert level_for(Usage(cpu, 0.0), ResourceSettings()) == level


@pytest.mark.parametrize("memory, level", [(59.99, "maximum"), (60.0, "normal"), (79.99, "normal"), (80.0, "reduced"),
                                           (89.99, "reduced"), (90.0, "minimal")])
def test_memory_edges(memory, level):
    assert level_for(Usage(0.0, memory), ResourceSettings()) == level


def test_the_lower_of_cpu_and_memory_wins_and_thresholds_are_settings():
    r = ResourceSettings()
    assert level_for(Usage(10, 85), r) == "reduced" and level_for(Usage(90, 10), r) == "reduced"
    assert level_for(Usage(60, 70), r) == "normal" and level_for(Usage(99, 99), r) == "minimal"
    custom = ResourceSettings(cpu_maximum_below=20, cpu_normal_below=30, cpu_reduced_below=40)
    assert [level_for(Usage(c, 0), custom) for c in (19, 20, 30, 40)] == ["maximum", "normal", "reduced", "minimal"]


def test_settings_from_toml_env_and_flags(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from shimmy_lab.cli import app as cli_app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "shimmy.toml").write_text('[resources]\ncpu_normal_below = 70\nminimal_systems = ["drift"]\n'
                                          'max_stories = 3\n')
    monkeypatch.setenv("SHIMMY_RESOURCES_LEVEL", "reduced")
    s = Settings.load()
    assert (s.resources.cpu_normal_below, s.resources.minimal_systems, s.resources.max_stories) == (70, ["drift"], 3)
    assert s.resources.level == "reduced" and s.sources()["resources.level"] == "env"
    with pytest.raises(ValueError):
        Settings.load(resources_level="turbo")
    seen = []
    monkeypatch.setattr("shimmy_lab.server.run.serve", lambda settings: seen.append(settings))
    result = CliRunner().invoke(cli_app, ["serve", "--resources-level", "minimal", "--resources-cpu-maximum-below",
                                          "40", "--log-format", "json"])
    assert result.exit_code == 0, result.output
    assert (seen[0].resources.level, seen[0].resources.cpu_maximum_below, seen[0].log_format) == ("minimal", 40, "json")


# ----------------------------------------------------------------------------- the manager
def test_manager_samples_once_per_interval_and_reports():
    monitor, clock, seen = Monitor(10, 10), Clock(), []
    settings = Settings.load(store="none", resources_interval=2.0)
    manager = ResourceManager(lambda: settings, monitor, clock, on_level=lambda lv, u: seen.append(lv))
    assert manager.level() == "maximum" and monitor.samples == 1
    monitor.usage = Usage(96, 10)
    clock.now = 1.99
    assert manager.level() == "maximum" and monitor.samples == 1  # the sample is still fresh
    clock.now = 2.0
    assert manager.level() == "minimal" and monitor.samples == 2 and seen == ["maximum", "minimal"]
    assert manager.status() == {"level": "minimal", "mode": "auto", "cpu_percent": 96.0, "memory_percent": 10.0}
    fixed = Settings.load(store="none", resources_level="reduced")
    manager._settings = lambda: fixed
    assert manager.level() == "reduced" and monitor.samples == 2 and seen[-1] == "reduced"


def test_plans_of_each_level(monkeypatch):
    settings = Settings.load(store="none", narrative_voice_model="bundled")
    plans = {lv: plan_for(lv, settings) for lv in LEVELS}
    assert plans["maximum"].systems is None and plans["maximum"].voice_model == "bundled"
    assert plans["normal"].systems is None and plans["normal"].voice_model == "none"
    assert plans["reduced"].systems == ("characters", "drift", "dna", "engagement")
    assert plans["minimal"].systems == ("characters",) and plans["minimal"].voice_model == "none"
    assert plan_for("minimal", settings, append=False).systems is None  # a create runs every system
    monkeypatch.setenv("SHIMMY_NARRATIVE_DNA", "0")  # a system switched off stays off at every level
    assert "dna" not in plan_for("reduced", settings.reload()).systems


def test_unknown_systems_stop_the_app_at_start():
    with pytest.raises(ValueError, match="dnaa"):
        create_app(sl.Lab(), Settings.load(store="none", resources_reduced_systems=["characters", "dnaa"]))


def test_psutil_monitor_reads_the_machine():
    usage = PsutilMonitor()()
    assert 0 <= usage.cpu <= 100 and 0 < usage.memory <= 100


# ----------------------------------------------------------------------------- in the app
def app_with(monitor: Monitor, store, **overrides) -> tuple[TestClient, object]:
    settings = Settings.load(store=str(store), config_reload=0, resources_interval=0, **overrides)
    app = create_app(sl.Lab(), settings)
    app.state.resources._monitor = monitor
    return TestClient(app), app


@pytest.mark.parametrize("cpu, level, systems", [
    (10, "maximum", list(SYSTEMS)), (60, "normal", list(SYSTEMS)),
    (90, "reduced", ["characters", "drift", "dna", "engagement"]), (99, "minimal", ["characters"])])
def test_append_runs_the_systems_of_the_level(tmp_path, cpu, level, systems):
    monitor = Monitor(10, 10)
    c, app = app_with(monitor, tmp_path)
    assert c.post("/narrative/stories", json={"text": TEXT, "story_id": "k"}).status_code == 201
    monitor.usage = Usage(cpu, 10)
    r = c.post("/narrative/stories/k/append", json={"text": "\n\nTom died in the winter."})
    assert r.status_code == 200, r.text
    assert r.json()["analysis"]["level"] == level and r.json()["analysis"]["systems"] == systems
    assert app.state.lab.stories["k"].uns["params"]["assistant"]["systems"] == systems
    health = c.get("/health").json()
    assert health["status"] == "ok" and health["resources"]["level"] == level
    metrics = c.get("/metrics").text
    assert f"shimmy_resource_level {float(LEVELS.index(level))}" in metrics
    assert f"shimmy_resource_cpu_percent {float(cpu)}" in metrics


def test_create_runs_every_system_even_at_minimal(tmp_path):
    c, _ = app_with(Monitor(99, 99), tmp_path)
    body = c.post("/narrative/stories", json={"text": TEXT, "story_id": "k"}).json()
    assert body["analysis"]["level"] == "minimal" and body["analysis"]["systems"] == list(SYSTEMS)


def test_chat_narrative_object_names_the_level(tmp_path):
    """The chat hook (``NarrativeJob``): its ``narrative`` object says the level of its append."""
    from shimmy_lab.server.narrative import NarrativeJob

    c, app = app_with(Monitor(90, 10), tmp_path)
    c.post("/narrative/stories", json={"text": TEXT, "story_id": "k"})
    job = NarrativeJob(app, "k", app.state.lab.stories["k"], {"append": "true"})
    _, out = job.finish(["Kitty smiled at the fire."])
    assert out["level"] == "reduced" and out["appended"] is True
    assert app.state.lab.stories["k"].uns["params"]["assistant"]["systems"] == ["characters", "drift", "dna",
                                                                                "engagement"]
    assert "shimmy_drift_score_count 1.0" in c.get("/metrics").text


# ----------------------------------------------------------------------------- bounded histories
def test_story_memory_keeps_the_most_recently_used(tmp_path):
    c, app = app_with(Monitor(), tmp_path, resources_max_stories=2)
    for sid in ("a", "b", "c"):
        assert c.post("/narrative/stories", json={"text": TEXT, "story_id": sid, "analyze": False}).status_code == 201
    assert set(app.state.lab.stories) == {"b", "c"}  # "a" left memory, not the store
    assert c.get("/narrative/stories/a").status_code == 200  # loaded again: now "b" is the oldest
    assert set(app.state.lab.stories) == {"c", "a"}
    listed = {s["id"]: s["loaded"] for s in c.get("/narrative/stories").json()["data"]}
    assert listed == {"a": True, "c": True, "b": False}
    app.state.lab.add_story(sl.Story.from_text(TEXT), "notebook")  # not stored: never evicted
    c.get("/narrative/stories/b")
    assert "notebook" in app.state.lab.stories and len(set(app.state.lab.stories) - {"notebook"}) == 2
    assert 'shimmy_stories{where="memory"} 3.0' in c.get("/metrics").text
    assert 'shimmy_stories{where="store"} 3.0' in c.get("/metrics").text


def test_a_busy_story_is_not_evicted():
    memory = StoryMemory()
    for sid in ("a", "b", "c"):
        memory.touch(sid)
    busy = {"a"}
    evicted = memory.trim({"a": 1, "b": 1, "c": 1}, lambda s: True, 1, lambda s: s not in busy)
    assert evicted == ["b"]
    assert memory.trim({"a": 1}, lambda s: True, 0, lambda s: True) == []  # 0: no cap


def test_insight_history_is_bounded(tmp_path):
    history = InsightHistory()
    history.add("k", [{"n": i} for i in range(5)], cap=3)
    assert history.get("k") == [{"n": 2}, {"n": 3}, {"n": 4}]
    c, app = app_with(Monitor(), tmp_path, resources_insight_history=1)
    c.post("/narrative/stories", json={"text": TEXT, "story_id": "k"})
    c.post("/narrative/stories/k/append", json={"text": "\n\nTom died in the winter. Tom laughed at Kitty."})
    c.post("/narrative/stories/k/append", json={"text": "\n\nTom sang a song to Kitty."})
    rows = c.get("/narrative/stories/k/insights", params={"history": "true"}).json()["data"]
    assert len(rows) == 1 and rows[0]["version"] and rows[0]["kind"]
    assert 'shimmy_insights_raised_total{kind="dead_character_acts",source="analysis"}' in c.get("/metrics").text
    c.delete("/narrative/stories/k")
    assert app.state.insight_history.get("k") == []
