"""Where the server keeps the responses of ``/v1/responses`` (``store: true``).

Stored responses live where the stories live (:mod:`shimmy_lab.server.store`), chosen by
the same settings, behind one small interface, :class:`ResponseStore`:

* ``--store DIR`` (a :class:`~shimmy_lab.server.store.FolderStore`):
  :class:`FolderResponses`, one JSON file per response in ``DIR/.responses/``, each
  written atomically (a temporary file, ``fsync``, then ``os.replace``), so a crash
  leaves the old file or the new one. The folder name begins with a dot, so no story
  id can name it.
* ``--redis URL`` (a :class:`~shimmy_lab.server.store.RedisStore`):
  :class:`RedisResponses`, one key per response, ``<prefix>:response:<id>``, on the
  story store's own connection, kept :data:`REDIS_TTL` seconds (30 days, as OpenAI
  keeps responses), shared by every replica.
* ``--store none`` (a :class:`~shimmy_lab.server.store.NullStore`):
  :class:`MemoryResponses`, a bounded LRU in this process (:data:`MEMORY_ITEMS` responses).

A stored record is a dict: ``response`` (the ``Response`` object as sent) and
``input_items`` (every item the model saw before its output, each with an id: the
previous response's items and output when it continued one, then its own input).

>>> store = MemoryResponses(max_items=2)
>>> store.put("resp_1", {"response": {"id": "resp_1"}, "input_items": []})
>>> store.get("resp_1")["response"]["id"], store.get("resp_2")
('resp_1', None)
"""

from __future__ import annotations

import collections
import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..story.io import fsync_dir
from .store import FolderStore, RedisStore, StoryStore

__all__ = ["ResponseStore", "FolderResponses", "RedisResponses", "MemoryResponses", "open_responses",
           "valid_response_id", "MEMORY_ITEMS", "REDIS_TTL"]

#: Responses kept by :class:`MemoryResponses` (the least recently used go first).
MEMORY_ITEMS = 1000
#: Seconds a response is kept in Redis.
REDIS_TTL = 30 * 24 * 3600
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def valid_response_id(response_id: Any) -> bool:
    """Whether ``response_id`` can name a stored response (letters, digits, ``_``, ``-``; at most 128)."""
    return isinstance(response_id, str) and _ID.fullmatch(response_id) is not None


class ResponseStore:
    """Storage of stored responses (the interface). Every method may be called from several threads."""

    #: where the responses are (shown in logs)
    location: str | None = None

    def get(self, response_id: str) -> dict[str, Any] | None:
        """The stored record of ``response_id``, or None."""
        raise NotImplementedError

    def put(self, response_id: str, record: dict[str, Any]) -> None:
        """Store ``record`` under ``response_id`` (replacing one of the same id)."""
        raise NotImplementedError

    def delete(self, response_id: str) -> bool:
        """Remove a stored response; returns whether it was stored."""
        raise NotImplementedError


class MemoryResponses(ResponseStore):
    """A bounded LRU of records in this process (lost when it ends)."""

    location = "memory"

    def __init__(self, max_items: int = MEMORY_ITEMS):
        self.max_items = max_items
        self._items: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, response_id: str) -> dict[str, Any] | None:
        with self._lock:
            raw = self._items.get(response_id)
            if raw is None:
                return None
            self._items.move_to_end(response_id)
        return json.loads(raw)  # a copy: a caller never changes the stored record

    def put(self, response_id: str, record: dict[str, Any]) -> None:
        raw = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self._items[response_id] = raw
            self._items.move_to_end(response_id)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def delete(self, response_id: str) -> bool:
        with self._lock:
            return self._items.pop(response_id, None) is not None


class FolderResponses(ResponseStore):
    """One JSON file per response in ``root`` (written atomically; created by the first put)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.location = str(self.root)

    def _path(self, response_id: str) -> Path | None:
        return self.root / f"{response_id}.json" if valid_response_id(response_id) else None

    def get(self, response_id: str) -> dict[str, Any] | None:
        path = self._path(response_id)
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path is not None else None
        except (OSError, ValueError):
            return None

    def put(self, response_id: str, record: dict[str, Any]) -> None:
        path = self._path(response_id)
        if path is None:
            raise ValueError(f"invalid response id {response_id!r}")
        new = not self.root.is_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        if new:
            fsync_dir(self.root.parent)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(self.root)

    def delete(self, response_id: str) -> bool:
        path = self._path(response_id)
        if path is None:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(self.root)
        return True


class RedisResponses(ResponseStore):
    """Records in Redis under ``<prefix>:response:<id>`` (the story store's connection), kept ``ttl`` s."""

    def __init__(self, stories: RedisStore, ttl: int = REDIS_TTL):
        self.stories = stories
        self.location = stories.location
        self.ttl = ttl

    def _key(self, response_id: str) -> str:
        return f"{self.stories.prefix}:response:{response_id}"

    def get(self, response_id: str) -> dict[str, Any] | None:
        if not valid_response_id(response_id):
            return None
        with self.stories._answers():
            raw = self.stories.redis.get(self._key(response_id))
        return json.loads(raw) if raw is not None else None

    def put(self, response_id: str, record: dict[str, Any]) -> None:
        if not valid_response_id(response_id):
            raise ValueError(f"invalid response id {response_id!r}")
        with self.stories._answers():
            self.stories.redis.set(self._key(response_id), json.dumps(record, ensure_ascii=False), ex=self.ttl)

    def delete(self, response_id: str) -> bool:
        if not valid_response_id(response_id):
            return False
        with self.stories._answers():
            return bool(self.stories.redis.delete(self._key(response_id)))


def open_responses(stories: StoryStore) -> ResponseStore:
    """The response store that goes with the story store ``stories`` (see the module docstring)."""
    if isinstance(stories, RedisStore):
        return RedisResponses(stories)
    if isinstance(stories, FolderStore):
        return FolderResponses(stories.root / ".responses")
    return MemoryResponses()

