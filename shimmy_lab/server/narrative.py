"""Narrative-aware serving: the ``/narrative`` routes and the story path of a chat request.

Stories live in the shared :class:`~shimmy_lab.Lab` (``lab.stories``), so a story
attached in a notebook cell is the one the endpoint sees, and the other way round.

A chat completion names a story with ``metadata.story_id`` (or the header
``X-Shimmy-Story``); so do a completion (the context goes in front of its prompt:
:meth:`NarrativeJob.prompt`) and a response of ``/v1/responses``. Then, when
``[narrative] enabled`` is true:

1. the story's context (:func:`shimmy_lab.context`) is put in front of the messages
   as a system message, its size following ``metadata.assertiveness`` or the setting;
2. with ``metadata.stabilize = "N"`` N candidates are sampled and the one with the
   lowest drift is returned (every candidate's score is reported);
3. the answer is checked with :func:`shimmy_lab.drift` and carries an extra
   ``narrative`` object (ignored by OpenAI clients): ``story_id``, ``drift_score``,
   ``components``, ``suggestion``, ``insights``, ``candidates``, ``appended``;
4. with ``metadata.append = "true"`` the text is appended to the story.

Every story created or appended through these routes is saved in the app's story store
(``app.state.store``, :mod:`shimmy_lab.server.store`, the ``store`` setting) before the
response is sent, inside the story's lock. Stored stories are listed when the app
starts and loaded into ``lab.stories`` when a request first names them. Story ids are
checked by :func:`~shimmy_lab.server.store.check_story_id` wherever they come in.

With a store shared by replicas (``--redis``: :class:`~shimmy_lab.server.store.RedisStore`)
every request that names a story checks the stored version first and catches up
(:func:`current_story`), and an append also holds the story's lock in the store, so the
appends of all replicas are applied in one order (:func:`append_text`). Kept in
``app.state.story_versions``: for each story in memory, the stored version it is.

Every analysis goes through the app's analysis cache (``app.state.cache``,
:mod:`shimmy_lab.server.cache`) at the level of the resource manager
(``app.state.resources``, :mod:`shimmy_lab.server.resources`), which decides the systems
an append runs. At most ``[resources] max_stories`` stored stories stay in memory (the
least recently used leave it; the store keeps them), and the insights raised by each
story's appends are remembered (``GET .../insights?history=true``), the newest
``[resources] insight_history``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..assistant import context, drift, enabled_systems
from ..errors import InvalidParameterError, ShimmyError
from ..lab import StoryChanged
from ..report import story_page
from ..story import Story
from .schemas import ERROR_RESPONSES, openapi_body, parse
from .store import InvalidStoryIdError, StoreConflictError, check_story_id, story_id_from_title
from .tracing import set_attributes, span

__all__ = ["router", "StoryLocks", "StoryNotFoundError", "story_for_request", "NarrativeJob", "current_story",
           "add_story", "append_text", "remove_story", "bad_story_path", "trim_memory", "replay_analysis"]

router = APIRouter(responses=ERROR_RESPONSES)


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
        names = sorted(available)
        known = ", ".join(names[:20]) + (f" ... ({len(names)} in all)" if len(names) > 20 else "") or "none"
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


# ------------------------------------------------------------------------- stories: memory + store
def current_story(app: Any, story_id: str) -> Any:
    """The story ``story_id``: the one in ``lab.stories``, else loaded from the store (then kept
    in ``lab.stories``). Raises :class:`InvalidStoryIdError` or :class:`StoryNotFoundError`.

    With a shared store (Redis) the story held in memory is checked against the stored
    version first (one read) and caught up when another replica changed it: the texts it
    lacks are replayed, or it is loaded again when it was replaced; a story deleted by
    another replica leaves memory (404).
    """
    check_story_id(story_id)
    lab, store = app.state.lab, app.state.store
    story = lab.stories.get(story_id)
    app.state.story_memory.touch(story_id)
    if story is not None and not store.shared:
        return story
    loaded = False
    with app.state.story_locks(story_id):  # one load, even when several requests name it at once
        story = lab.stories.get(story_id)
        if story is not None and store.shared:
            story = _catch_up(app, story_id, story)
        if story is None:
            try:
                story, version = store.load_version(story_id)
            except KeyError:
                raise StoryNotFoundError(story_id, [*lab.stories, *store.ids()]) from None
            lab.add_story(story, story_id)
            app.state.story_versions[story_id] = (story, version)
            loaded = True
    if loaded:
        trim_memory(app)
    return story


def trim_memory(app: Any) -> list[str]:
    """Take the least recently used stored stories out of memory until at most
    ``[resources] max_stories`` are there (a story busy in another request stays); returns their ids."""
    versions = app.state.story_versions

    def stored(story_id: str) -> bool:
        held = versions.get(story_id)
        return held is not None and held[1] is not None and app.state.lab.stories.get(story_id) is held[0]

    def evict(story_id: str) -> bool:
        lock = app.state.story_locks(story_id)
        if not lock.acquire(blocking=False):
            return False
        try:
            if stored(story_id):
                _forget(app, story_id)
            return True
        finally:
            lock.release()

    cap = app.state.settings.resources.max_stories
    return app.state.story_memory.trim(app.state.lab.stories, stored, cap, evict)


def _catch_up(app: Any, story_id: str, story: Any) -> Any:
    """``story`` (held in memory) brought to the shared store's version, or None to load it again."""
    store, versions = app.state.store, app.state.story_versions
    held = versions.get(story_id)
    if held is None or held[0] is not story:
        return story  # attached in this process only (a notebook): memory wins, as with a folder
    current = store.version(story_id)
    if current == held[1]:
        return story
    change = store.changes(story_id, held[1]) if current is not None else None
    _forget(app, story_id)
    if change is None:
        return None  # replaced or deleted by another replica: load it again (or 404)
    version, texts = change
    store.replay(story, texts)  # if it fails the story has left memory: the next request loads it
    app.state.lab.stories[story_id] = story
    versions[story_id] = (story, version)
    app.state.lab.publish(StoryChanged(story_id, "synced", story))
    return story


def _forget(app: Any, story_id: str) -> None:
    """Take a story out of memory (the store keeps it)."""
    app.state.lab.stories.pop(story_id, None)
    app.state.story_versions.pop(story_id, None)


async def _get(request: Request, story_id: str) -> Any:
    check_story_id(story_id)
    story = request.app.state.lab.stories.get(story_id)
    if story is not None and not request.app.state.store.shared:
        request.app.state.story_memory.touch(story_id)
        return story
    return await run_in_threadpool(current_story, request.app, story_id)


def add_story(app: Any, story: Any, story_id: str | None = None) -> tuple[str, str | None]:
    """Save a new story in the store, then attach it to the lab; returns (its id, its version).

    Without ``story_id`` the id is made from the title, else it is the first free ``story-N``.
    An existing story of the same id is replaced.
    """
    locks = app.state.story_locks
    if story_id is None:
        story_id = story_id_from_title(story.title or "")
    if story_id:
        with locks(check_story_id(story_id)):
            version = _attach(app, story_id, story)
    else:
        with locks.index:  # a new story-N
            taken = {*app.state.lab.stories, *app.state.store.ids()}
            story_id = next(f"story-{n}" for n in range(1, len(taken) + 2) if f"story-{n}" not in taken)
            with locks(story_id):
                version = _attach(app, story_id, story)
    trim_memory(app)
    return story_id, version


def _attach(app: Any, story_id: str, story: Any) -> str | None:
    version = app.state.store.save(story_id, story)
    app.state.lab.add_story(story, story_id)
    app.state.story_versions[story_id] = (story, version)
    app.state.story_memory.touch(story_id)
    app.state.insight_history.drop(story_id)
    return version


#: Attempts of an append whose story another replica changed meanwhile (shared store only).
APPEND_ATTEMPTS = 3


def append_text(app: Any, story_id: str, text: str, info: dict[str, Any] | None = None) -> tuple[Any, str | None]:
    """Append ``text`` to a story, re-run the narrative systems and save it, in the story's lock
    (and, with a shared store, the story's lock in the store); then tell the lab's subscribers
    (a :class:`~shimmy_lab.lab.StoryChanged` of reason ``appended``).
    Returns (the story, its new version).

    When any step fails the story leaves memory if the store holds it, so the next request
    reads the last saved version, not a half-appended one. An append that finds the stored
    story changed by another replica (:class:`~shimmy_lab.server.store.StoreConflictError`)
    is tried again on the caught-up story, up to :data:`APPEND_ATTEMPTS` times. ``info``, when
    given, receives the analysis' ``level``, ``systems`` and ``source`` (see :func:`_analyze`).
    """
    with span("narrative.append", **{"shimmy.story_id": story_id, "shimmy.append_chars": len(text)}):
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                story, version = _append_once(app, story_id, text, info)
                break
            except StoreConflictError:
                if attempt == APPEND_ATTEMPTS:
                    raise
    app.state.lab.publish(StoryChanged(story_id, "appended", story))
    return story, version


def _append_once(app: Any, story_id: str, text: str, info: dict[str, Any] | None) -> tuple[Any, str | None]:
    store = app.state.store
    with app.state.story_locks(story_id), store.lock(story_id):
        story = current_story(app, story_id)  # caught up with the store
        held = app.state.story_versions.get(story_id)
        stored = held[1] if held is not None and held[0] is story else None
        try:
            before = _insight_ids(story)
            story.append(text)
            done = _analyze(app, story, append=True)
            if info is not None:
                info.update(done)
            version = store.append(story_id, story, text, stored)
        except BaseException:
            if stored is not None and app.state.lab.stories.get(story_id) is story:
                _forget(app, story_id)
            raise
        app.state.story_versions[story_id] = (story, version)
        _raised(app, story_id, story, before, version)
    return story, version


def _insight_ids(story: Any) -> set[str]:
    ins = story.tables.get("insights")
    return set() if ins is None or not len(ins) else set(ins["insight_id"].astype(str))


def _raised(app: Any, story_id: str, story: Any, before: set[str], version: str | None) -> None:
    """Count the insights an analysis raised (not in ``before``) and add them to the story's history."""
    ins = story.tables.get("insights")
    if ins is None or not len(ins):
        return
    new = ins[~ins["insight_id"].astype(str).isin(before)]
    if not len(new):
        return
    app.state.metrics.observe_insights(new["kind"].astype(str), "analysis")
    cap = app.state.settings.resources.insight_history
    if cap > 0:
        when = int(time.time())
        rows = [{**r, "version": version, "raised_at": when} for r in _records(new)]
        app.state.insight_history.add(story_id, rows, cap)


def remove_story(app: Any, story_id: str) -> bool:
    """Remove a story from the lab and from the store; returns whether it existed."""
    check_story_id(story_id)
    with app.state.story_locks(story_id):
        in_memory = app.state.lab.stories.pop(story_id, None) is not None
        app.state.story_versions.pop(story_id, None)
        app.state.story_memory.forget(story_id)
        app.state.insight_history.drop(story_id)
        stored = app.state.store.delete(story_id)
    if in_memory or stored:
        app.state.lab.publish(StoryChanged(story_id, "removed"))
    return in_memory or stored


_STORY_PATHS = ("/narrative/stories/", "/narrative/visualize/")


def bad_story_path(scope: dict[str, Any]) -> InvalidStoryIdError | None:
    """The error for a request whose path names an invalid story id, else None.

    Reads the path as it was sent (``raw_path``), so an encoded slash (``..%2Fx``) is seen
    as part of the id, not as a separator that would only make the route unknown.
    """
    raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
    path = raw.decode("latin-1").split("?", 1)[0]
    for prefix in _STORY_PATHS:
        if path.startswith(prefix):
            segment = unquote(path[len(prefix):].split("/", 1)[0], errors="replace")
            try:
                check_story_id(segment)
            except InvalidStoryIdError as exc:
                return exc if segment else None
    return None


def _summary(story_id: str, story: Any, app: Any = None, version: str | None = None) -> dict[str, Any]:
    summary = {k: v for k, v in story.summary().items() if k != "title"}
    ins = story.tables.get("insights")
    top = _records(ins.head(5)) if ins is not None else []
    out = {"id": story_id, "object": "story", "title": story.title, "summary": summary, "top_insights": top,
           "loaded": True}
    if app is not None:
        version = version or app.state.store.version(story_id)
        out.update(stored=version is not None, version=version)
    return out


def _analyze(app: Any, story: Any, append: bool = True) -> dict[str, Any]:
    """Analyse ``story`` through the app's cache, at the resource manager's level; returns
    ``{"level", "systems", "source"}`` (``source``: the cache level that had it, or ``"analysis"``).

    An append runs the level's systems; a create (``append=False``) every enabled one. The
    model stage of ``voice_drift`` runs at the ``maximum`` level only.
    """
    settings = app.state.settings  # the whole Settings: [narrative] is read from it
    plan = app.state.resources.plan(append=append)
    systems = enabled_systems(plan.systems, settings)
    with span("narrative.analysis", **{"shimmy.narrative.level": plan.level, "shimmy.narrative.systems": systems,
                                       "shimmy.story_chars": len(story.text)}) as current:
        _, source = app.state.cache.analyze(story, settings, systems, plan.voice_model)
        if current is not None:
            current.set_attribute("shimmy.cache.source", source)
    return {"level": plan.level, "systems": systems, "source": source}


def replay_analysis(app: Any) -> Any:
    """The analysis a shared store replays after each stored text: the one the writing
    replica stored in the cache for that text, else one at this replica's level."""
    def run(story: Any) -> Any:
        plan = app.state.resources.plan(append=True)
        app.state.cache.analyze(story, app.state.settings, plan.systems, plan.voice_model, replay=True)
        return story
    return run


def _normal_id(story_id: str) -> str:
    """A requested story id as ``Lab.add_story`` writes it (stripped, lowercase, spaces as '-'), checked."""
    return check_story_id(story_id.strip().lower().replace(" ", "-"))


@router.post("/narrative/stories", status_code=201, openapi_extra=openapi_body(StoryCreate))
async def create_story(request: Request):
    body = await parse(request, StoryCreate)
    app = request.app
    wanted = None if body.story_id is None else _normal_id(body.story_id)

    info: dict[str, Any] = {}

    def build():
        story = Story.from_text(body.text, title=body.title)
        if body.analyze:
            info.update(_analyze(app, story, append=False))
        return story

    story = await run_in_threadpool(build)
    sid, version = await run_in_threadpool(add_story, app, story, wanted)
    if body.analyze:
        app.state.metrics.observe_insights(story.tables["insights"]["kind"].astype(str), "analysis")
    out = _summary(sid, story, app, version)
    if info:
        out["analysis"] = info
    return JSONResponse(out, status_code=201)


@router.get("/narrative/stories")
async def list_stories(request: Request):
    """Loaded stories (their summaries) first, then the stored ones not loaded yet (id only)."""
    app = request.app
    loaded = dict(app.state.lab.stories)
    stored = app.state.store.ids()
    on_disk = set(stored)
    data = [{**_summary(sid, s), "stored": sid in on_disk} for sid, s in loaded.items()]
    data += [{"id": sid, "object": "story", "loaded": False, "stored": True} for sid in stored if sid not in loaded]
    return {"object": "list", "data": data}


@router.get("/narrative/stories/{story_id}")
async def get_story(request: Request, story_id: str):
    return _summary(story_id, await _get(request, story_id), request.app)


@router.delete("/narrative/stories/{story_id}")
async def delete_story(request: Request, story_id: str):
    check_story_id(story_id)
    app = request.app
    if not await run_in_threadpool(remove_story, app, story_id):
        raise StoryNotFoundError(story_id, [*app.state.lab.stories, *app.state.store.ids()])
    return {"id": story_id, "object": "story.deleted", "deleted": True}


@router.post("/narrative/stories/{story_id}/append", openapi_extra=openapi_body(StoryText))
async def append_story(request: Request, story_id: str):
    body = await parse(request, StoryText)
    check_story_id(story_id)
    return await run_in_threadpool(_append_and_summarise, request.app, story_id, body.text)


def _append_and_summarise(app: Any, story_id: str, text: str) -> dict[str, Any]:
    info: dict[str, Any] = {}
    with app.state.story_locks(story_id):  # the summary is of the version just saved (an RLock)
        story, version = append_text(app, story_id, text, info)
        return {**_summary(story_id, story, app, version), "analysis": info}


@router.get("/narrative/stories/{story_id}/insights")
async def story_insights(request: Request, story_id: str, history: bool = False):
    """The story's insights; with ``history=true`` the insights its appends raised, oldest first."""
    story = await _get(request, story_id)
    if history:
        return {"object": "list", "data": request.app.state.insight_history.get(story_id)}
    ins = story.tables.get("insights")
    return {"object": "list", "data": _records(ins) if ins is not None else []}


@router.get("/narrative/stories/{story_id}/tables/{name}")
async def story_table(request: Request, story_id: str, name: str):
    story = await _get(request, story_id)
    if name not in story.tables:
        raise InvalidParameterError(f"Unknown table {name!r}. Tables: {', '.join(sorted(story.tables))}.",
                                    param="name", code="table_not_found")
    return {"object": "list", "table": name, "data": _records(story.tables[name])}


@router.post("/narrative/stories/{story_id}/drift", openapi_extra=openapi_body(StoryText))
async def story_drift(request: Request, story_id: str):
    body = await parse(request, StoryText)
    story = await _get(request, story_id)
    report = await run_in_threadpool(_drift, story, body.text, request.app, story_id)
    return {"object": "narrative.drift", "story_id": story_id, **report}


@router.get("/narrative/stories/{story_id}/context")
async def story_context(request: Request, story_id: str, assertiveness: float | None = None,
                        max_tokens: int = 300):
    story = await _get(request, story_id)
    a = request.app.state.settings.narrative.assertiveness if assertiveness is None else assertiveness
    if not 0 <= a <= 1:
        raise InvalidParameterError("assertiveness must be between 0 and 1.", param="assertiveness")
    return {"object": "narrative.context", "story_id": story_id, "assertiveness": a,
            "context": context(story, assertiveness=a, max_tokens=max_tokens)}


@router.get("/narrative/visualize/{story_id}", response_class=HTMLResponse)
async def visualize(request: Request, story_id: str):
    story = await _get(request, story_id)
    return HTMLResponse(await run_in_threadpool(story_page, story, story_id))


def _drift(story: Any, text: str, app: Any = None, story_id: str | None = None) -> dict[str, Any]:
    with span("narrative.drift", **{"shimmy.story_id": story_id, "shimmy.candidate_chars": len(text)}) as current:
        report = drift(story, text)
        if current is not None:
            current.set_attribute("shimmy.drift_score", float(report.score))
    if app is not None and len(report.insights):
        app.state.metrics.observe_insights(report.insights["kind"].astype(str), "drift")
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
        with span("narrative.context", **{"shimmy.story_id": self.story_id,
                                          "shimmy.narrative.assertiveness": self.assertiveness}):
            brief = context(self.story, assertiveness=self.assertiveness)
        if not brief:
            return messages
        if messages and messages[0]["role"] == "system":
            return [{"role": "system", "content": brief + "\n\n" + messages[0]["content"]}, *messages[1:]]
        return [{"role": "system", "content": brief}, *messages]

    def prompt(self, prompt: str) -> str:
        """A completion ``prompt`` with the story context in front."""
        with span("narrative.context", **{"shimmy.story_id": self.story_id,
                                          "shimmy.narrative.assertiveness": self.assertiveness}):
            brief = context(self.story, assertiveness=self.assertiveness)
        return brief + "\n\n" + prompt if brief else prompt

    def finish(self, texts: list[str]) -> tuple[int, dict[str, Any]]:
        """Score every candidate; returns (index of the best, the ``narrative`` object)."""
        reports = [_drift(self.story, t, self.app, self.story_id) if t.strip() else
                   {"drift_score": 1.0, "components": {}, "suggestion": "", "insights": []} for t in texts]
        best = min(range(len(texts)), key=lambda i: reports[i]["drift_score"])
        self.app.state.metrics.drift.observe(reports[best]["drift_score"])
        out = {"story_id": self.story_id, **reports[best], "stabilize": self.stabilize,
               "candidates": [{"index": i, "drift_score": r["drift_score"]} for i, r in enumerate(reports)],
               "chosen": best, "appended": False, "level": self.app.state.resources.level()}
        if self.append and texts[best].strip():
            info: dict[str, Any] = {}
            append_text(self.app, self.story_id, "\n\n" + texts[best].strip(), info)
            out.update(appended=True, level=info.get("level", out["level"]))
        return best, out


def story_for_request(request: Request, metadata: dict[str, str] | None) -> NarrativeJob | None:
    """The narrative job of a generating request (chat, completions, responses), or None when it
    names no story or narrative is off."""
    metadata = metadata or {}
    story_id = metadata.get("story_id") or request.headers.get("x-shimmy-story")
    if not story_id or not request.app.state.settings.narrative.enabled:
        return None
    set_attributes(**{"shimmy.story_id": story_id})  # on the request's span, when tracing
    return NarrativeJob(request.app, story_id, current_story(request.app, story_id), metadata)
