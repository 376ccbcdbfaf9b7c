"""Where the server keeps the stories of ``/narrative/stories``: a small interface and a folder.

:class:`StoryStore` is what the narrative routes need from storage: the stored ids, a
story's current version, load, save and delete. :class:`FolderStore` keeps each story
in ``DIR/<story_id>/`` with :meth:`Story.save <shimmy_lab.story.Story.save>` (a new
complete version folder, then the ``CURRENT`` pointer replaced atomically), so a crash
at any moment leaves the last complete save; :class:`NullStore` keeps nothing (stories
live in the lab's memory only); :class:`RedisStore` (in :mod:`~shimmy_lab.server.store_redis`,
imported from here) keeps the stories' texts in Redis, shared by every server process that
names the same Redis (``shared = True``: the server checks a story's version per request
and catches up, and holds the store's :meth:`~StoryStore.lock` around an append). The
interface, its errors and the story ids are in :mod:`~shimmy_lab.server.store_base`; this
module re-exports them.

Story ids come in from requests (the ``story_id`` of a create, path parameters, chat
``metadata.story_id``) and become folder names, so every one is checked by
:func:`check_story_id` against :data:`STORY_ID_PATTERN`: 1 to
:data:`MAX_STORY_ID_LENGTH` characters, lowercase ASCII letters, digits, ``.``, ``_``
and ``-``, beginning and ending with a letter or a digit (so no ``..``, no slash, no
NUL, no hidden name), and not a name Windows reserves (``con``, ``nul``, ``com1``, ...).

>>> check_story_id("pride-and-prejudice.v2")
'pride-and-prejudice.v2'
>>> story_id_from_title("Pride & Prejudice")
'pride-prejudice'
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

from ..story import Story
from ..story.io import fsync_dir
from .store_base import (MAX_STORY_ID_LENGTH, STORY_ID_PATTERN, InvalidStoryIdError, StoreConflictError,
                         StoreInUseError, StoreUnavailableError, StoryStore, _valid, check_story_id,
                         story_id_from_title)
from .store_redis import RedisStore

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no folder lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["StoryStore", "FolderStore", "NullStore", "RedisStore", "open_store", "check_story_id",
           "story_id_from_title", "InvalidStoryIdError", "StoreInUseError", "StoreUnavailableError",
           "StoreConflictError", "STORY_ID_PATTERN", "MAX_STORY_ID_LENGTH"]

_TRASH = ".deleted-"  # a deleted story's folder, renamed away before it is removed
log = logging.getLogger("shimmy_lab.server")


class NullStore(StoryStore):
    """No storage: the stories live in the lab's memory only (``store = "none"``)."""

    def ids(self) -> list[str]:
        return []

    def version(self, story_id: str) -> str | None:
        return None

    def load(self, story_id: str) -> Any:
        raise KeyError(story_id)

    def save(self, story_id: str, story: Any) -> str | None:
        return None

    def delete(self, story_id: str) -> bool:
        return False


class FolderStore(StoryStore):
    """Stories in ``root/<story_id>/``, each saved atomically by :meth:`Story.save`.

    The index of stored ids is read once when the store opens (folder names that hold
    a ``CURRENT`` pointer: a story whose first save never completed is not listed) and
    kept up to date by :meth:`save` and :meth:`delete`. So one store owns a folder: the
    first save or delete takes an exclusive lock on ``root/.lock`` (``flock``, held until
    the store is closed or the process ends), removes what a crashed delete left and
    reads the index again; a save or delete of a second process, or of a second
    ``FolderStore`` of the same folder, raises :class:`StoreInUseError`. A store that
    only reads takes no lock (it warns when it opens a folder another process owns).
    :func:`open_store` hands every app of a process the same store. :meth:`delete`
    renames the folder to a hidden name before removing it, so a crash never leaves half
    a story under its id. Saves and deletes of one id are serialised here too.

    Parameters
    ----------
    root : str or Path
        The folder (created by the first save if missing).

    Raises
    ------
    NotADirectoryError
        ``root`` is a file.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        self.location = str(self.root)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._lock_file: Any = None
        self._ids: set[str] = set()
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"the story store {self.root} is not a folder")
        self._ids = self._scan()
        holder = self._lock_holder()
        if holder is not None:
            log.warning("the story store %s is in use by process %s: this server cannot save stories in it",
                        self.root, holder)

    def _scan(self) -> set[str]:
        if not self.root.is_dir():  # made by the first save
            return set()
        return {p.name for p in self.root.iterdir() if _is_story_folder(p)}

    def _try_lock(self) -> tuple[Any, str | None]:
        """(the open, locked ``.lock`` file, None), or (None, the holder's pid) when another holds it."""
        fh = open(self.root / ".lock", "a+", encoding="ascii")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            return None, holder
        return fh, None

    def _lock_holder(self) -> str | None:
        if fcntl is None or not (self.root / ".lock").exists():
            return None
        fh, holder = self._try_lock()
        if fh is not None:
            fh.close()  # free: closing the file releases the lock
        return holder

    def _own(self) -> None:
        """Take the folder for this store (first save or delete): the lock, then a fresh index."""
        with self._guard:
            if self._lock_file is not None or fcntl is None:
                return
            self.root.mkdir(parents=True, exist_ok=True)
            for _ in range(3):  # another store's check at its start holds the lock for an instant
                fh, holder = self._try_lock()
                if fh is not None:
                    break
                time.sleep(0.02)
            else:
                raise StoreInUseError(self.root, holder or "?")
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            self._lock_file = fh
            for leftover in self.root.glob(_TRASH + "*"):  # a delete that crashed half-way
                shutil.rmtree(leftover, ignore_errors=True)
            self._ids = self._scan()

    def close(self) -> None:
        """Release the folder (also done when the store is garbage-collected or the process ends)."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _lock(self, story_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(story_id, threading.Lock())

    def ids(self) -> list[str]:
        with self._guard:
            return sorted(self._ids)

    def __contains__(self, story_id: object) -> bool:
        with self._guard:
            return story_id in self._ids

    def version(self, story_id: str) -> str | None:
        try:
            return (self.root / check_story_id(story_id) / "CURRENT").read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def load(self, story_id: str) -> Any:
        if story_id not in self:
            raise KeyError(story_id)
        with self._lock(story_id):
            return Story.load(self.root / story_id)

    def save(self, story_id: str, story: Any) -> str:
        folder = self.root / check_story_id(story_id)
        self._own()
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock(story_id):
            new = not folder.exists()
            version = story.save(folder).name
            if new:
                fsync_dir(self.root)  # the new folder's name survives a power cut too
            with self._guard:
                self._ids.add(story_id)
        return version

    def delete(self, story_id: str) -> bool:
        folder = self.root / check_story_id(story_id)
        self._own()
        with self._lock(story_id):
            with self._guard:
                was = story_id in self._ids
                self._ids.discard(story_id)
            if not folder.exists():
                return was
            trash = self.root / f"{_TRASH}{story_id}-{uuid.uuid4().hex[:8]}"
            os.rename(folder, trash)
            fsync_dir(self.root)
        shutil.rmtree(trash, ignore_errors=True)
        return was

    def __repr__(self) -> str:
        return f"<FolderStore {self.location} stories={len(self._ids)}>"


_OPEN: weakref.WeakValueDictionary[str, FolderStore] = weakref.WeakValueDictionary()
_OPEN_GUARD = threading.Lock()


def open_store(store: str | Path | None, redis: str | None = None, analyze: Any = None) -> StoryStore:
    """The store of the ``store`` and ``redis`` settings: a :class:`RedisStore` when ``redis``
    is a URL (``store`` is then not used; ``analyze`` is its replay analysis), else a
    :class:`NullStore` for None, else the :class:`FolderStore` of that folder (the same
    object for every app of this process while one uses it: the folder has one owner)."""
    if redis:
        return RedisStore(redis, analyze=analyze)
    if store is None:
        return NullStore()
    key = str(Path(store).expanduser().resolve())
    with _OPEN_GUARD:
        found = _OPEN.get(key)
        if found is None:
            found = _OPEN[key] = FolderStore(key)
        return found


def _is_story_folder(path: Path) -> bool:
    return _valid(path.name) and (path / "CURRENT").is_file()
