"""A package that extends shimmy-lab through its entry points (tests/test_plugin_package.py).

- ``PARAGRAPH_WORDS``: a narrative system (group ``shimmy_lab.systems``) that reads the
  ``dna`` table and writes ``paragraph_words``;
- ``DemoPlugin``: a narrative plugin (same group) with HTTP routes under
  ``/plugins/demo`` and a middleware that stamps every response;
- ``LegacyPlugin``: a plugin under the older group ``shimmy_lab.plugins``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from fastapi import APIRouter, Request

from shimmy_lab.trackers.systems import System


@dataclass(frozen=True)
class ParagraphWordsParams:
    min_words: int = 1


def paragraph_words(story, min_words: int = ParagraphWordsParams.min_words):
    """Words per paragraph, and how many CAPR units each holds (reads ``dna``)."""
    paras = story.tables["paragraphs"]
    dna = story.tables.get("dna", pd.DataFrame({"start": []}))
    rows = []
    for r in paras.itertuples():
        words = len(story.text[r.start:r.end].split())
        if words >= min_words:
            units = int(((dna["start"] >= r.start) & (dna["start"] < r.end)).sum())
            rows.append({"start": int(r.start), "end": int(r.end), "words": words, "units": units})
    story.tables["paragraph_words"] = pd.DataFrame(rows, columns=["start", "end", "words", "units"])
    story.uns.setdefault("params", {})["paragraph_words"] = {"min_words": min_words}
    return story


PARAGRAPH_WORDS = System("paragraph_words", paragraph_words, ParagraphWordsParams,
                         tables=("paragraph_words",), requires=("dna",))


class Stamp:
    """ASGI middleware: an ``x-demo-plugin`` header on every response."""

    def __init__(self, app, value: str = "1"):
        self.app, self.value = app, value.encode()

    async def __call__(self, scope, receive, send):
        async def stamped(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-demo-plugin", self.value)]
            await send(message)

        await self.app(scope, receive, stamped if scope["type"] == "http" else send)


class DemoPlugin:
    """Counts the events it gets; serves them under ``/plugins/demo``."""

    name = "demo"
    subscribes = ("dialogue_spoken", "system_finished")
    middleware = [(Stamp, {"value": "demo"})]

    def __init__(self):
        self.events = []
        self.router = APIRouter()
        self.router.add_api_route("/events", self.list_events, methods=["GET"])
        self.router.add_api_route("/stories", self.stories, methods=["GET"])

    async def list_events(self):
        return {"plugin": self.name, "kinds": [e.kind for e in self.events]}

    async def stories(self, request: Request):
        return {"stories": sorted(request.app.state.lab.stories)}

    def initialize(self, story):
        pass

    def on_event(self, event):
        self.events.append(event)

    def insights(self, story):
        return []

    def shutdown(self):
        pass


class LegacyPlugin(DemoPlugin):
    """The same, under the older entry-point group, without routes."""

    name = "legacy"
    middleware = ()

    def __init__(self):
        self.events = []
        self.router = None
