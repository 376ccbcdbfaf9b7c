"""Narrative-aware serving: the ``/narrative`` routes and the story path of a chat request.

Stories live in the shared :class:`~shimmy_lab.Lab` (``lab.stories``), so a story
attached in a notebook cell is the one the endpoint sees, and the other way round.

A chat completion names a story with ``metadata.story_id`` (or the header
``X-Shimmy-Story``). Then, when ``[narrative] enabled`` is true:

1. the story's context (:func:`shimmy_lab.context`) is put in front of the messages
   as a system message, its size following ``metadata.assertiveness`` or the setting;
2. with ``metadata.stabilize = "N"`` N candidates are sampled and the one with the
   lowest drift is returned (every candidate's score is reported);
3. the answer is checked with :func:`shimmy_lab.drift` and carries an extra
   ``narrative`` object (ignored by OpenAI clients): ``story_id``, ``drift_score``,
   ``components``, ``suggestion``, ``insights``, ``candidates``, ``appended``;
4. with ``metadata.append = "true"`` the text is appended to the story.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..assistant import analyze, context, drift
from ..errors import InvalidParameterError, ShimmyError
from ..report import story_page
from ..story import Story
from .schemas import parse

__all__ = ["router", "StoryLocks", "StoryNotFoundError", "story_for_request", "NarrativeJob"]

router = APIRouter()


class StoryLocks:
    """One lock per story id, per app: a story is mutated by one append at a time, and
    stories of other ids (or of another app in the same process) do not wait for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        #: held while a new story is given its id and added to the lab
        self.index = threading.Lock()

    def __call__(self, story_id: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(story_id, threading.RLock())


class StoryNotFoundError(ShimmyError, LookupError):
    """No story with this id is attached to the lab."""

    status = 404
    default_code = "story_not_found"

    def __init__(self, story_id: str, available: list[str]):
        known = ", ".join(sorted(available)) or "none"
        super().__init__(f"The story {story_id!r} does not exist. Stories: {known}.", param="story_id")


class StoryCreate(BaseModel):
    text: str = Field(min_length=1)
    title: str | None = None
    story_id: str | None = None
    analyze: bool = True


class StoryText(BaseModel):
    text: str = Field(min_length=1)


def _records(df: Any) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", date_format="iso")) if len(df) else []


def _get(request: Request, story_id: str):
    stories = request.app.state.lab.stories
    if story_id not in stories:
        raise StoryNotFoundError(story_id, list(stories))
    return stories[story_id]


def _summary(story_id: str, story: Any) -> dict[str, Any]:
    summary = {k: v for k, v in story.summary().items() if k != "title"}
    ins = story.tables.get("insights")
    top = _records(ins.head(5)) if ins is not None else []
    return {"id": story_id, "object": "story", "title": story.title, "summary": summary, "top_insights": top}


def _analyze(story: Any, settings: Any) -> Any:
    return analyze(story, settings=settings)  # the whole Settings: [narrative] is read from it


@router.post("/narrative/stories", status_code=201)
async def create_story(request: Request):
    body = await parse(request, StoryCreate)
    lab = request.app.state.lab
    settings = request.app.state.settings

    def build():
        story = Story.from_text(body.text, title=body.title)
        return _analyze(story, settings) if body.analyze else story

    story = await run_in_threadpool(build)
    with request.app.state.story_locks.index:
        sid = lab.add_story(story, body.story_id or body.title)
    return JSONResponse(_summary(sid, story), status_code=201)


@router.get("/narrative/stories")
async def list_stories(request: Request):
    stories = request.app.state.lab.stories
    return {"object": "list", "data": [_summary(sid, s) for sid, s in stories.items()]}


@router.get("/narrative/stories/{story_id}")
async def get_story(request: Request, story_id: str):
    return _summary(story_id, _get(request, story_id))


@router.post("/narrative/stories/{story_id}/append")
async def append_story(request: Request, story_id: str):
    body = await parse(request, StoryText)
    story = _get(request, story_id)
    await run_in_threadpool(append_text, request.app, story_id, story, body.text)
    return _summary(story_id, story)


def append_text(app: Any, story_id: str, story: Any, text: str) -> None:
    """Append ``text`` to a story, re-run the narrative systems, tell the lab's listeners."""
    with app.state.story_locks(story_id):
        story.append(text)
        _analyze(story, app.state.settings)
    app.state.lab.notify("story_changed", story_id)


@router.get("/narrative/stories/{story_id}/insights")
async def story_insights(request: Request, story_id: str):
    story = _get(request, story_id)
    ins = story.tables.get("insights")
    return {"object": "list", "data": _records(ins) if ins is not None else []}


@router.get("/narrative/stories/{story_id}/tables/{name}")
async def story_table(request: Request, story_id: str, name: str):
    story = _get(request, story_id)
    if name not in story.tables:
        raise InvalidParameterError(f"Unknown table {name!r}. Tables: {', '.join(sorted(story.tables))}.",
                                    param="name", code="table_not_found")
    return {"object": "list", "table": name, "data": _records(story.tables[name])}


@router.post("/narrative/stories/{story_id}/drift")
async def story_drift(request: Request, story_id: str):
    body = await parse(request, StoryText)
    story = _get(request, story_id)
    report = await run_in_threadpool(_drift, story, body.text)
    return {"object": "narrative.drift", "story_id": story_id, **report}


@router.get("/narrative/stories/{story_id}/context")
async def story_context(request: Request, story_id: str, assertiveness: float | None = None,
                        max_tokens: int = 300):
    story = _get(request, story_id)
    a = request.app.state.settings.narrative.assertiveness if assertiveness is None else assertiveness
    if not 0 <= a <= 1:
        raise InvalidParameterError("assertiveness must be between 0 and 1.", param="assertiveness")
    return {"object": "narrative.context", "story_id": story_id, "assertiveness": a,
            "context": context(story, assertiveness=a, max_tokens=max_tokens)}


@router.get("/narrative/visualize/{story_id}", response_class=HTMLResponse)
async def visualize(request: Request, story_id: str):
    story = _get(request, story_id)
    return HTMLResponse(await run_in_threadpool(story_page, story, story_id))


def _drift(story: Any, text: str) -> dict[str, Any]:
    report = drift(story, text)
    return {"drift_score": round(float(report.score), 4),
            "components": {k: round(float(v), 4) for k, v in report.components.items()},
            "suggestion": report.suggestion, "insights": _records(report.insights)}


# ------------------------------------------------------------------------- chat hook
def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class NarrativeJob:
    """The story side of one chat request (built by :func:`story_for_request`)."""

    def __init__(self, app: Any, story_id: str, story: Any, metadata: dict[str, str]):
        self.app, self.story_id, self.story = app, story_id, story
        settings = app.state.settings.narrative
        try:
            self.assertiveness = float(metadata.get("assertiveness", settings.assertiveness))
            self.stabilize = int(metadata.get("stabilize", 1))
        except ValueError:
            raise InvalidParameterError("metadata.assertiveness must be a number and metadata.stabilize an "
                                        "integer.", param="metadata") from None
        if not 0 <= self.assertiveness <= 1 or not 1 <= self.stabilize <= 16:
            raise InvalidParameterError("metadata.assertiveness must be in [0, 1] and metadata.stabilize "
                                        "in [1, 16].", param="metadata")
        self.append = _flag(metadata.get("append", "false"))

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``messages`` with the story context in front (merged into a leading system message)."""
        brief = context(self.story, assertiveness=self.assertiveness)
        if not brief:
            return messages
        if messages and messages[0]["role"] == "system":
            return [{"role": "system", "content": brief + "\n\n" + messages[0]["content"]}, *messages[1:]]
        return [{"role": "system", "content": brief}, *messages]

    def finish(self, texts: list[str]) -> tuple[int, dict[str, Any]]:
        """Score every candidate; returns (index of the best, the ``narrative`` object)."""
        reports = [_drift(self.story, t) if t.strip() else {"drift_score": 1.0, "components": {},
                                                              "suggestion": "", "insights": []} for t in texts]
        best = min(range(len(texts)), key=lambda i: reports[i]["drift_score"])
        out = {"story_id": self.story_id, **reports[best], "stabilize": self.stabilize,
               "candidates": [{"index": i, "drift_score": r["drift_score"]} for i, r in enumerate(reports)],
               "chosen": best, "appended": False}
        if self.append and texts[best].strip():
            append_text(self.app, self.story_id, self.story, ("\n\n" + texts[best].strip()))
            out["appended"] = True
        return best, out


def story_for_request(request: Request, metadata: dict[str, str] | None) -> NarrativeJob | None:
    """The narrative job of a chat request, or None when it names no story or narrative is off."""
    metadata = metadata or {}
    story_id = metadata.get("story_id") or request.headers.get("x-shimmy-story")
    if not story_id or not request.app.state.settings.narrative.enabled:
        return None
    return NarrativeJob(request.app, story_id, _get(request, story_id), metadata)
