"""Helpers shared by the widgets: story ids in a Lab, HTML of spans and tables."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

__all__ = ["story_id_in", "span_html", "frame_html", "ensure_analyzed", "UPDATE_EVENTS"]

#: Deprecated (the widgets subscribe to :class:`~shimmy_lab.lab.StoryChanged` now): the
#: old ``Lab.notify`` names after which a widget showing a story refreshed
UPDATE_EVENTS = ("story_updated", "story_appended", "story_changed", "story_added")


def story_id_in(lab: Any, story: Any) -> str | None:
    """The id under which ``story`` is attached to ``lab`` (None if it is not)."""
    for sid, st in getattr(lab, "stories", {}).items():
        if st is story:
            return sid
    return None


def span_html(text: str, start: int, end: int, context: int = 300) -> str:
    """The passage ``text[start:end]`` highlighted, with ``context`` characters around."""
    a, b = max(0, start - context), min(len(text), end + context)
    e = html.escape
    return ("<div class='shimmy-span' style='white-space:pre-wrap;font-family:Georgia,serif;"
            "border-left:4px solid #1f77b4;padding:6px 10px;max-height:240px;overflow:auto'>"
            + ("\u2026" if a else "") + e(text[a:start])
            + f"<mark data-start='{start}' data-end='{end}'>{e(text[start:end])}</mark>"
            + e(text[end:b]) + ("\u2026" if b < len(text) else "") + "</div>")


def frame_html(df: pd.DataFrame, max_rows: int = 50) -> str:
    """A compact HTML table of ``df`` (escaped, at most ``max_rows`` rows)."""
    if not len(df):
        return "<i>nothing to show</i>"
    return df.head(max_rows).to_html(index=False, escape=True, border=0,
                                     classes="shimmy-table", na_rep="")


def ensure_analyzed(story: Any, force: bool = False) -> Any:
    """Run the narrative systems when the story has grown since the last analysis.

    A story already analysed to its end (by ``sl.analyze`` or an earlier call) is left
    as it is; a re-analysis uses the systems, assertiveness and voice model of the last one.
    """
    from ..assistant import analyze  # lazy: keeps this module's import light

    done = story.uns.get("narrative_analysed_to")
    if force or done != len(story.text) or "insights" not in story.tables:
        last = story.uns.get("params", {}).get("assistant", {})
        analyze(story, systems=last.get("systems"), assertiveness=last.get("assertiveness"),
                voice_model=last.get("voice_model"))
    return story


#: the old spelling (one name per concept: analyze)
ensure_analysed = ensure_analyzed
