"""Narrative plugins: events in text order, insights merged, a failing plugin switched off."""

import pytest

import shimmy_lab as sl
from shimmy_lab import plugins

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
    assert [e.start for e in counter.events] == sorted(e.start for e in counter.events)
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
