"""A package installed through its entry points (tests/data/demo_plugin: a dist-info on
sys.path, as pip would leave it) adds a narrative system, a plugin with HTTP routes and
middleware, and a plugin under the older ``shimmy_lab.plugins`` group."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import shimmy_lab as sl
from shimmy_lab import plugins
from shimmy_lab.server.app import create_app
from shimmy_lab.settings import Settings
from shimmy_lab.trackers import SYSTEMS, systems
from narrative_texts import STORY

SITE = Path(__file__).parent / "data" / "demo_plugin"


@pytest.fixture
def demo_package():
    """The demo package installed (its folder on sys.path) for one test."""
    sys.path.insert(0, str(SITE))
    importlib.invalidate_caches()
    plugins.plugins(refresh=True)
    systems.systems(refresh=True)
    yield
    sys.path.remove(str(SITE))
    for name in ("demo", "legacy"):
        plugins.unregister(name)
    systems.unregister("paragraph_words")
    plugins.plugins(refresh=True)
    systems.systems(refresh=True)


def test_the_package_registers_a_system_and_two_plugins(demo_package):
    assert systems.names()[:len(SYSTEMS)] == list(SYSTEMS) and "paragraph_words" in systems.names()
    assert systems.names().index("paragraph_words") > systems.names().index("dna")  # requires dna
    assert {"demo", "legacy"} <= set(plugins.plugins())
    assert systems.unloaded() == {} and plugins.disabled() == {}
    assert "paragraph_words" not in SYSTEMS  # the built-in ones only


def test_analyze_runs_the_packages_system_in_order(demo_package):
    story = sl.analyze(STORY, params={"paragraph_words": {"min_words": 3}})
    pw = story.tables["paragraph_words"]
    assert len(pw) and (pw["words"] >= 3).all() and pw["units"].sum() == len(story.tables["dna"])
    assert story.uns["params"]["paragraph_words"] == {"min_words": 3}
    assert "paragraph_words" in story.uns["params"]["assistant"]["systems"]
    demo = plugins.plugins()["demo"]
    finished = [e.system for e in demo.events if e.kind == "system_finished"]
    assert finished == story.uns["params"]["assistant"]["systems"]
    assert {e.kind for e in plugins.plugins()["legacy"].events} == {"dialogue_spoken", "system_finished"}
    with pytest.raises(systems.MissingPrerequisiteError, match=r"run tl\.dna first"):
        systems.run(sl.Story.from_text(STORY), "paragraph_words")
    off = sl.analyze(STORY, systems=[s for s in systems.names() if s != "paragraph_words"])
    assert "paragraph_words" not in off.tables


def test_the_plugins_routes_and_middleware_are_served(demo_package):
    lab = sl.Lab(entries=[])
    lab.add_story(sl.Story.from_text(STORY), "mill")
    app = create_app(lab, Settings.load(store="none", config_reload=0))
    assert app.state.plugins == ["demo"]  # legacy has neither routes nor middleware
    client = TestClient(app)
    r = client.get("/plugins/demo/stories")
    assert r.status_code == 200 and r.json() == {"stories": ["mill"]}
    assert r.headers["x-demo-plugin"] == "demo" and r.headers["x-request-id"]
    assert client.get("/health").headers["x-demo-plugin"] == "demo"
    missing = client.get("/plugins/demo/nowhere")
    assert missing.status_code == 404


def test_plugin_routes_sit_behind_the_api_keys(demo_package):
    app = create_app(sl.Lab(entries=[]), Settings.load(store="none", config_reload=0, api_keys=["k1"]))
    client = TestClient(app)
    denied = client.get("/plugins/demo/events")
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "missing_api_key"
    ok = client.get("/plugins/demo/events", headers={"Authorization": "Bearer k1"})
    assert ok.status_code == 200 and ok.json()["plugin"] == "demo"


def test_a_broken_entry_point_is_reported_not_raised(tmp_path):
    info = tmp_path / "broken_ext-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-ext\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[shimmy_lab.systems]\nnothing = os:sep\n"
                                           "gone = no_such_module_xyz:System\nclash = clash_ext:DNA\n")
    (tmp_path / "clash_ext.py").write_text("from shimmy_lab.trackers.systems import System\n"
                                           "DNA = System('dna', lambda story: story)\n")
    builtin = systems.get("dna")
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        assert systems.names(refresh=True) == list(SYSTEMS)
        assert "neither a NarrativePlugin nor a System" in systems.unloaded()["nothing"]
        assert "no_such_module_xyz" in plugins.disabled()["gone"]
        assert "already registered" in systems.unloaded()["clash"] and systems.get("dna") is builtin
        assert sl.analyze("CHAPTER I\n\nAnna ran.\n").uns["params"]["assistant"]["failed"] == {}
    finally:
        sys.path.remove(str(tmp_path))
        plugins.plugins(refresh=True)
        systems.systems(refresh=True)
    assert "gone" not in plugins.disabled()  # read again: the package is gone


class _NoRoutes:
    """A plugin registered in Python whose router is not one."""

    name = "no_routes"
    router = "not a router"

    def initialize(self, story):
        pass

    def on_event(self, event):
        pass

    def insights(self, story):
        return []

    def shutdown(self):
        pass


def test_a_plugin_whose_routes_cannot_be_installed_is_left_out(caplog):
    plugins.register(_NoRoutes())
    try:
        app = create_app(sl.Lab(entries=[]), Settings.load(store="none", config_reload=0))
    finally:
        plugins.unregister("no_routes")
    assert app.state.plugins == [] and "no_routes" in caplog.text
    assert TestClient(app).get("/health").status_code == 200
