"""Test helper: the turns a reader records on a whole text and on an append of its end."""

from __future__ import annotations

from shimmy_lab.story import Story
from shimmy_lab.story.turns import recording

#: narration long enough to end a conversation
FAR = ("The lane ran on between the hedges for a long while. " * 6 + "\n\n") * 3


def whole_and_appended(head: str, tail: str) -> tuple[list[dict], list[dict]]:
    """The turns recorded reading ``head + FAR + tail`` at once, and appending ``tail`` to a
    story of ``head + FAR``."""
    with recording() as whole:
        Story.from_text(head + FAR + tail)
    story = Story.from_text(head + FAR)
    with recording() as appended:
        story.append(tail)
    return whole, appended
