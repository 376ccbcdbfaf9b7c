"""Narrative plugins: events as the analysis runs, insights merged, a failing plugin switched off."""

import pytest

import shimmy_lab as sl
from shimmy_lab import plugins
from narrative_texts import STORY

TEXT = ('CHAPTER I\n\n"Where is the key?" asked Anna.\n\n"In the well," said Tom.\n\n* * *\n\n'
        'Anna ran to the well.\n\nCHAPTER II\n\nThe key was gone.\n')


class Counter:
    name = "counter"

    def __init__(self):
        self.events, self.inits, self.closed = [], 0, False

    def initialize(self, story):
        self.inits += 1

    def on_event(self, event):
        self.events.append(event)

    def insights(self, story):
        q = [e for e in self.events if e.kind == "dialogue_spoken"]
        return [{"kind": "dialogue_count", "title": f"{len(q)} lines of dialogue", "start": q[0].start,
                 "end": q[-1].end, "priority": "minor"}] if q else []

    def shutdown(self):
        self.closed = True


class Broken(Counter):
    name = "broken"

    def on_event(self, event):
        raise RuntimeError("boom")


@pytest.fixture
def counter():
    plugin = plugins.register(Counter())
    yield plugin
    plugins.unregister("counter")
    plugins.unregister("broken")


def test_events_and_insights(counter):
    story = sl.analyze(TEXT)
    kinds = [e.kind for e in counter.events]
    assert kinds.count("dialogue_spoken") == 2 and "character_introduced" in kinds
    assert "chapter_complete" in kinds and "scene_complete" in kinds
    # first the story's own events in text order, then those of each system as it finishes
    first = kinds.index("system_finished")
    story_events = counter.events[:first]
    assert [e.start for e in story_events] == sorted(e.start for e in story_events)
    assert {e.kind for e in story_events} == {"character_introduced", "dialogue_spoken", "scene_complete",
                                              "chapter_complete"}
    finished = [e for e in counter.events if isinstance(e, plugins.SystemFinished)]
    assert [e.system for e in finished] == story.uns["params"]["assistant"]["systems"]
    assert all(e.error is None and e.seconds >= 0 and e.end == len(story.text) for e in finished)
    row = story.insights[story.insights["system"] == "counter"].iloc[0]
    assert row["title"] == "2 lines of dialogue" and story.text[row["start"]:row["end"]].startswith('"Where')


def test_append_does_not_replay_old_events(counter):
    story = sl.analyze(TEXT)
    n = len(counter.events)
    story.append('\n\n"Found it," said Anna.\n')
    sl.analyze(story)
    new = counter.events[n:]
    assert [e.kind for e in new if e.kind == "dialogue_spoken"] == ["dialogue_spoken"]
    assert counter.inits == 1


def test_failing_plugin_is_disabled_and_analysis_goes_on(counter):
    plugins.register(Broken())
    story = sl.analyze(TEXT)
    failed = story.uns["params"]["assistant"]["plugins_failed"]
    assert "boom" in failed["broken"] and "broken" not in plugins.plugins()
    assert (story.insights["system"] == "counter").any()


def test_register_checks_the_protocol():
    with pytest.raises(TypeError, match="NarrativePlugin"):
        plugins.register(object())


def test_unregister_shuts_down(counter):
    plugins.unregister("counter")
    assert counter.closed


class Quotes(Counter):
    """Subscribes to one event kind only."""

    name = "quotes"
    subscribes = ("dialogue_spoken",)


def test_a_plugin_gets_only_the_event_kinds_it_subscribes_to():
    plugin = plugins.register(Quotes())
    try:
        story = sl.analyze(TEXT)
    finally:
        plugins.unregister("quotes")
    assert [e.kind for e in plugin.events] == ["dialogue_spoken", "dialogue_spoken"]
    assert (story.insights["system"] == "quotes").any()


def test_unknown_event_kinds_are_refused():
    bad = Quotes()
    bad.subscribes = ("dialogue_spoken", "quote_heard")
    with pytest.raises(ValueError, match="quote_heard"):
        plugins.register(bad)
    assert "quotes" not in plugins.plugins()


class Watcher(Counter):
    """Looks at the story's tables when each system finishes."""

    name = "watcher"
    subscribes = ("system_finished", "thread_opened", "insight_raised")

    def initialize(self, story):
        self.story, self.seen = story, []

    def on_event(self, event):
        super().on_event(event)
        self.seen.append((event.kind, getattr(event, "system", None), sorted(self.story.tables)))


def test_events_are_published_as_each_system_finishes():
    plugin = plugins.register(Watcher())
    try:
        story = sl.analyze(STORY)
    finally:
        plugins.unregister("watcher")
    at = {system: tables for kind, system, tables in plugin.seen if kind == "system_finished"}
    assert "dna" in at["dna"] and "engagement" not in at["dna"]  # published before engagement ran
    assert "engagement" in at["engagement"]
    kinds = [k for k, _, _ in plugin.seen]
    assert kinds.index("thread_opened") < [s for _, s, _ in plugin.seen].index("dna")  # dna's threads, then dna finished
    raised = {(e.data["kind"], e.data["title"]) for e in plugin.events if e.kind == "insight_raised"}
    assert set(zip(story.insights["kind"], story.insights["title"])) <= raised  # ranked from those raised


def test_a_failing_system_is_reported_in_its_event(monkeypatch):
    import dataclasses

    from shimmy_lab.trackers import systems

    def boom(story, **params):
        raise RuntimeError("no")

    original = systems.get("recursion")
    systems.register(dataclasses.replace(original, func=boom))
    plugin = plugins.register(Watcher())
    try:
        with pytest.warns(RuntimeWarning, match="recursion"):
            sl.analyze(TEXT)
    finally:
        plugins.unregister("watcher")
        systems.register(original)
    ev = next(e for e in plugin.events if getattr(e, "system", None) == "recursion")
    assert ev.error == "RuntimeError: no"


def test_publish_story_replays_the_events_of_a_story_analysed_without_analyze(counter):
    story = sl.Story.from_text(STORY)
    sl.tl.dna(story)
    rows, failed = plugins.publish_story(story)
    assert failed == {} and rows and rows[0]["system"] == "counter"
    opened = [e for e in counter.events if e.kind == "thread_opened"]
    assert len(opened) == story.tables["dna"]["kind"].isin(["contradiction", "pressure"]).sum() > 0
    assert story.uns["events_to"] == len(story.text)
    assert plugins.publish_story(story)[0] and len(counter.events) == len(counter.events)  # nothing new



def test_a_plugin_may_subscribe_to_an_event_type():
    plugin = Quotes()
    plugin.subscribes = (plugins.SystemFinished, "dialogue_spoken")
    plugins.register(plugin)
    try:
        story = sl.analyze(TEXT, systems=["characters", "dna"])
    finally:
        plugins.unregister("quotes")
    assert {e.kind for e in plugin.events} == {"system_finished", "dialogue_spoken"}
    assert [e.system for e in plugin.events if isinstance(e, plugins.SystemFinished)] == ["characters", "dna"]
    assert story.uns["params"]["assistant"]["plugins_failed"] == {}


def test_event_data_uses_the_table_names_and_answers_the_old_keys_with_a_warning(counter):
    story = sl.Story.from_text(STORY)
    sl.tl.dna(story)
    plugins.publish_story(story)
    opened = next(e for e in counter.events if e.kind == "thread_opened")
    scene = next(e for e in counter.events if e.kind == "scene_complete")
    assert set(opened.data) == {"unit_id", "kind"} and set(scene.data) == {"scene"}
    with pytest.warns(DeprecationWarning, match="'unit_id'"):
        assert opened.data["unit"] == opened.data["unit_id"]
    with pytest.warns(DeprecationWarning, match="'scene'"):
        assert scene.data["index"] == scene.data["scene"]
    with pytest.raises(KeyError):
        opened.data["answers"]
