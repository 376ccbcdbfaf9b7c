"""Lab events: typed StoryChanged events with a reason, subscribed to by type, published as
they happen (lab, widgets, server); the old ``notify`` names and ``listeners`` still work,
with a deprecation warning."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import shimmy_lab as sl
from shimmy_lab.lab import STORY_CHANGE_REASONS, StoryChanged
from shimmy_lab.server.app import create_app
from shimmy_lab.settings import Settings


class Edited(StoryChanged):
    """A subclass: subscribers of StoryChanged receive it too."""


def test_subscribe_publish_unsubscribe():
    lab = sl.Lab(entries=[])
    seen, other = [], []
    stop = lab.subscribe(StoryChanged, seen.append)
    lab.subscribe(int, other.append)  # another event type: never called here
    sid = lab.add_story(sl.Story(text="x", title="The Mill"))
    assert [(e.story_id, e.reason) for e in seen] == [("the-mill", "added")]
    assert seen[0].story is lab.stories[sid]
    lab.publish(Edited("the-mill", "changed"))
    assert type(seen[-1]) is Edited and other == []
    stop()
    lab.publish(StoryChanged("the-mill", "appended"))
    assert len(seen) == 2
    lab.unsubscribe(StoryChanged, seen.append)  # not subscribed any more: no error


def test_reason_is_checked():
    assert STORY_CHANGE_REASONS == ("added", "appended", "synced", "changed", "removed")
    with pytest.raises(ValueError, match="unknown reason 'updated'"):
        StoryChanged("a", "updated")


def test_deprecated_notify_and_listeners_still_work():
    lab = sl.Lab(entries=[])
    story = sl.Story(text="x")
    lab.stories["mill"] = story
    typed, old = [], []
    lab.subscribe(StoryChanged, typed.append)
    with pytest.warns(DeprecationWarning, match="subscribe"):
        lab.listeners.append(lambda *a: old.append(a))
    for name, reason in (("story_updated", "changed"), ("story_appended", "appended"),
                         ("story_changed", "changed"), ("story_added", "added")):
        with pytest.warns(DeprecationWarning, match="publish"):
            lab.notify(name, "mill")
        assert (typed[-1].story_id, typed[-1].reason, typed[-1].story) == ("mill", reason, story)
        assert old[-1] == (name, "mill")
    with pytest.warns(DeprecationWarning):
        lab.notify("story_updated", story)  # a story object instead of an id
    assert typed[-1].story_id is None and typed[-1].story is story
    n = len(typed)
    with pytest.warns(DeprecationWarning):
        lab.notify("model_loaded", "x")  # no typed event for other names
    assert len(typed) == n and old[-1] == ("model_loaded", "x")
    lab.publish(StoryChanged("mill", "synced", story))  # old listeners hear the old names
    assert old[-1] == ("story_changed", "mill")
    lab.publish(StoryChanged("mill", "removed"))
    assert old[-1] == ("story_removed", "mill")


def test_the_server_publishes_appends_and_removals(tmp_path):
    lab = sl.Lab(entries=[])
    seen = []
    lab.subscribe(StoryChanged, seen.append)
    c = TestClient(create_app(lab, Settings.load(store=str(tmp_path), config_reload=0)))
    r = c.post("/narrative/stories", json={"text": "Mira rowed.\n", "story_id": "boat", "analyze": False})
    assert r.status_code == 201, r.text
    r = c.post("/narrative/stories/boat/append", json={"text": "Oskar waved.\n"})
    assert r.status_code == 200, r.text
    assert c.delete("/narrative/stories/boat").status_code == 200
    assert [(e.story_id, e.reason) for e in seen] == [("boat", "added"), ("boat", "appended"),
                                                      ("boat", "removed")]
    assert seen[1].story.text.endswith("Oskar waved.\n") and seen[2].story is None


def test_docstring_examples_of_the_events_and_the_systems_registry():
    import doctest

    import shimmy_lab.lab
    import shimmy_lab.trackers.systems

    for module in (shimmy_lab.lab, shimmy_lab.trackers.systems):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
        assert result.attempted and result.failed == 0, module.__name__
