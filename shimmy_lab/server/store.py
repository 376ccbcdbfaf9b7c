"""Where the server keeps the stories of ``/narrative/stories``: a small interface and a folder.

:class:`StoryStore` is what the narrative routes need from storage: the stored ids, a
story's current version, load, save and delete. :class:`FolderStore` keeps each story
in ``DIR/<story_id>/`` with :meth:`Story.save <shimmy_lab.story.Story.save>` (a new
complete version folder, then the ``CURRENT`` pointer replaced atomically), so a crash
at any moment leaves the last complete save; :class:`NullStore` keeps nothing (stories
live in the lab's memory only); :class:`RedisStore` keeps the stories' texts in Redis,
shared by every server process that names the same Redis (``shared = True``: the server
checks a story's version per request and catches up, and holds the store's
:meth:`~StoryStore.lock` around an append).

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

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, ShimmyError
from ..story.io import fsync_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no folder lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["StoryStore", "FolderStore", "NullStore", "RedisStore", "open_store", "check_story_id",
           "story_id_from_title", "InvalidStoryIdError", "StoreInUseError", "StoreUnavailableError",
           "StoreConflictError", "STORY_ID_PATTERN", "MAX_STORY_ID_LENGTH"]

#: Longest accepted story id (characters).
MAX_STORY_ID_LENGTH = 128
#: What a story id looks like (the whole id must match; see the module docstring).
STORY_ID_PATTERN = r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?"
_STORY_ID = re.compile(STORY_ID_PATTERN)
_WINDOWS_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                            *(f"lpt{i}" for i in range(10))})
_TRASH = ".deleted-"  # a deleted story's folder, renamed away before it is removed
log = logging.getLogger("shimmy_lab.server")


class InvalidStoryIdError(InvalidParameterError):
    """A story id that is not 1-128 characters of ``a-z``, ``0-9``, ``.``, ``_``, ``-`` (400)."""

    default_code = "invalid_story_id"

    def __init__(self, story_id: Any):
        text = str(story_id)
        shown = repr(text) if len(text) <= 40 else repr(text[:40]) + f"... ({len(text)} characters)"
        super().__init__(
            f"Invalid story id {shown}: a story id is 1 to {MAX_STORY_ID_LENGTH} characters: lowercase letters "
            "a-z, digits, '.', '_' and '-', beginning and ending with a letter or a digit, and not a device "
            "name Windows reserves (con, nul, com1, ...).", param="story_id")


def check_story_id(story_id: Any) -> str:
    """Return ``story_id`` if it is a valid story id, else raise :class:`InvalidStoryIdError`."""
    if not _valid(story_id):
        raise InvalidStoryIdError(story_id)
    return story_id


def _valid(story_id: Any) -> bool:
    return (isinstance(story_id, str) and len(story_id) <= MAX_STORY_ID_LENGTH
            and _STORY_ID.fullmatch(story_id) is not None and story_id.split(".")[0] not in _WINDOWS_NAMES)


def story_id_from_title(title: str) -> str:
    """A valid story id made from a title (lowercased, other characters runs become ``-``); may be empty."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", title.strip().lower()).strip("._-")
    if slug.split(".")[0] in _WINDOWS_NAMES:
        slug = "story-" + slug
    return slug[:MAX_STORY_ID_LENGTH].rstrip("._-")


class StoryStore:
    """Storage of the server's stories (the interface; :class:`FolderStore` implements it).

    Every method may be called from several threads; the server serialises the calls
    for one story id (its per-story lock), not the calls for different ids.
    """

    #: where the stories are (shown in logs), or None
    location: str | None = None
    #: True when other server processes change the stories too (check the version per request)
    shared: bool = False

    def ids(self) -> list[str]:
        """The stored story ids, sorted (cheap: no story is loaded)."""
        raise NotImplementedError

    def __contains__(self, story_id: object) -> bool:
        return story_id in self.ids()

    def version(self, story_id: str) -> str | None:
        """The current version of a stored story (changes on every save), None if not stored."""
        raise NotImplementedError

    def load(self, story_id: str) -> Any:
        """The stored story (a :class:`~shimmy_lab.story.Story`); ``KeyError`` if not stored."""
        raise NotImplementedError

    def save(self, story_id: str, story: Any) -> str | None:
        """Store ``story`` under ``story_id`` (completely or not at all); returns the new version."""
        raise NotImplementedError

    def delete(self, story_id: str) -> bool:
        """Remove a stored story; returns whether it was stored."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the store holds (a lock, a connection)."""

    def load_version(self, story_id: str) -> tuple[Any, str | None]:
        """(the stored story, its version), read together; ``KeyError`` if not stored."""
        return self.load(story_id), self.version(story_id)

    def append(self, story_id: str, story: Any, text: str, version: str | None) -> str | None:
        """Store ``story``, which is the stored version ``version`` with ``text`` appended;
        returns the new version. (Here: :meth:`save`; a shared store stores only ``text``,
        and raises :class:`StoreConflictError` when the stored version is no longer ``version``.)"""
        return self.save(story_id, story)

    def changes(self, story_id: str, version: str) -> tuple[str, list[str]] | None:
        """(the current version, the texts appended since ``version``), or None when the story
        was replaced or deleted since, or loading it is cheaper than replaying (then load it
        again). Only a shared store answers."""
        return None

    def lock(self, story_id: str) -> Any:
        """A context manager held around an append: serialises the appends of every process
        that shares the store (here: nothing, one process owns the store)."""
        return contextlib.nullcontext()


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


class StoreInUseError(ShimmyError, RuntimeError):
    """Another process (or another :class:`FolderStore` of this process) owns the story folder (503)."""

    status = 503
    type = "server_error"
    default_code = "store_in_use"

    def __init__(self, root: Path, holder: str):
        super().__init__(f"The story store {root} is in use by process {holder}: one server process owns a "
                         "store folder (give each server its own --store).")


class StoreUnavailableError(ShimmyError, RuntimeError):
    """The shared story store (Redis) does not answer (503, with ``Retry-After``)."""

    status = 503
    type = "server_error"
    default_code = "store_unavailable"

    def __init__(self, location: str | None, reason: Any, retry_after: int = 1):
        super().__init__(f"The story store {location} is unavailable ({reason}). Stories are served again "
                         f"when it is back; plain chat completions still work. Retry after {retry_after} s.")
        self.retry_after = retry_after


class StoreConflictError(StoreUnavailableError):
    """Another replica changed the story during an append (its lock had expired); retried by the server."""

    default_code = "story_conflict"


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
        from ..story import Story

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


class RedisStore(StoryStore):
    """Stories kept in Redis and shared by every server process that names the same Redis.

    Redis holds each story's text, not its tables: the text it was created with and the
    list of the texts appended to it, with a version ``<generation>.<count>`` (the
    generation is new at each create, the count is the number of texts). A replica
    rebuilds a story by replaying the texts (:meth:`Story.from_text
    <shimmy_lab.story.Story.from_text>`, then :meth:`~shimmy_lab.story.Story.append`,
    running ``analyze`` after each step as the replica that wrote it did) and catches up
    with a story it holds by replaying only the texts it lacks (:meth:`changes`). A story
    of ``snapshot_chars`` characters or more also gets a snapshot (the folder of
    :meth:`Story.save <shimmy_lab.story.Story.save>`, as a tar, tagged with its version),
    written by the replica that creates or appends it: replaying a long story's analysis
    takes seconds where loading a snapshot takes a fraction of one, so a replica loads the
    newest snapshot and replays only the texts after it. Keys, under ``prefix``:
    ``<prefix>:ids`` (the set of story ids), and per story ``<prefix>:story:<id>:version``,
    ``:texts`` (a list), ``:meta`` (JSON: title, whether the created story was analysed),
    ``:snapshot``, ``:snapshot_version`` and ``:lock``.

    An append is stored under a Redis lock of the story (:meth:`lock`, ``lock_timeout``
    seconds at most) and written only if the version is still the one the replica
    appended to (``WATCH``/``MULTI``), so two replicas never interleave and an expired
    lock cannot reorder appends (:class:`StoreConflictError`, which the server retries).
    Redis errors (down, loading, read-only) raise :class:`StoreUnavailableError` (503).

    Parameters
    ----------
    url : str
        ``redis://[:password@]host:port/db`` (or ``rediss://``, ``unix://``).
    analyze : callable, optional
        ``analyze(story)``: the narrative analysis the server runs after a create (when
        asked) and after every append; replayed when a story is rebuilt.
    prefix : str
        Prefix of every key (several deployments can share one Redis).
    lock_timeout : float
        Seconds an append may hold a story's lock, and wait for it.
    snapshot_chars : int
        Length of text from which a story's saves and appends also store a snapshot.
    """

    shared = True

    def __init__(self, url: str, analyze: Any = None, prefix: str = "shimmy", lock_timeout: float = 30.0,
                 snapshot_chars: int = 50_000):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._redis_errors = redis.RedisError
        self._watch_error = redis.WatchError
        # one quick retry: a pooled connection left over from before a Redis restart fails once
        options = dict(socket_connect_timeout=1.0, socket_timeout=5.0, retry=Retry(NoBackoff(), 1))
        self.redis = redis.Redis.from_url(url, decode_responses=True, **options)
        self._bytes = redis.Redis.from_url(url, **options)  # snapshots are bytes
        self.location = _without_password(url)
        self.analyze = analyze
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.snapshot_chars = snapshot_chars

    def _key(self, story_id: str, part: str) -> str:
        return f"{self.prefix}:story:{check_story_id(story_id)}:{part}"

    @contextlib.contextmanager
    def _answers(self):
        """Redis errors as :class:`StoreUnavailableError`."""
        try:
            yield
        except self._redis_errors as exc:
            if isinstance(exc, self._watch_error):
                raise
            raise StoreUnavailableError(self.location, f"{type(exc).__name__}: {exc}") from exc

    def ids(self) -> list[str]:
        with self._answers():
            return sorted(self.redis.smembers(f"{self.prefix}:ids"))

    def __contains__(self, story_id: object) -> bool:
        if not _valid(story_id):
            return False
        with self._answers():
            return bool(self.redis.sismember(f"{self.prefix}:ids", story_id))

    def version(self, story_id: str) -> str | None:
        with self._answers():
            return self.redis.get(self._key(story_id, "version"))

    def _read(self, story_id: str, start: int) -> tuple[str | None, str | None, list[str]]:
        """(version, meta, texts[start:]) read in one transaction."""
        with self._answers():
            pipe = self.redis.pipeline(transaction=True)
            pipe.get(self._key(story_id, "version"))
            pipe.get(self._key(story_id, "meta"))
            pipe.lrange(self._key(story_id, "texts"), start, -1)
            version, meta, texts = pipe.execute()
        return version, meta, texts

    def load_version(self, story_id: str) -> tuple[Any, str]:
        from ..story import Story

        with self._answers():
            pipe = self._bytes.pipeline(transaction=True)
            pipe.get(self._key(story_id, "version"))
            pipe.get(self._key(story_id, "meta"))
            pipe.lrange(self._key(story_id, "texts"), 0, -1)
            pipe.get(self._key(story_id, "snapshot_version"))
            pipe.get(self._key(story_id, "snapshot"))
            version, meta, texts, snap_version, snapshot = pipe.execute()
        if version is None or meta is None or not texts:
            raise KeyError(story_id)
        version, texts = version.decode(), [t.decode("utf-8") for t in texts]
        generation, count = _split_version(version)
        snap = _split_version(snap_version.decode()) if snap_version and snapshot else None
        if snap is not None and snap[0] == generation and 1 <= snap[1] <= count:
            story, done = _from_snapshot(snapshot), snap[1]
        else:
            info = json.loads(meta)
            story, done = Story.from_text(texts[0], title=info.get("title")), 1
            if info.get("analyzed") and self.analyze is not None:
                self.analyze(story)
        for text in texts[done:]:
            self._replay(story, text)
        return story, version

    def load(self, story_id: str) -> Any:
        return self.load_version(story_id)[0]

    def _replay(self, story: Any, text: str) -> None:
        story.append(text)
        if self.analyze is not None:
            self.analyze(story)

    def changes(self, story_id: str, version: str) -> tuple[str, list[str]] | None:
        generation, count = _split_version(version)
        current, _, texts = self._read(story_id, count)
        if current is None or _split_version(current)[0] != generation:
            return None
        with self._answers():
            snap = self.redis.get(self._key(story_id, "snapshot_version"))
        if snap is not None and _split_version(snap)[0] == generation and _split_version(snap)[1] > count:
            return None  # a newer snapshot: loading it is cheaper than replaying
        if _split_version(current)[1] != count + len(texts):  # pragma: no cover - read in one transaction
            return None
        return current, texts

    def replay(self, story: Any, texts: list[str]) -> Any:
        """Append ``texts`` (from :meth:`changes`) to ``story`` as the replica that wrote them did."""
        for text in texts:
            self._replay(story, text)
        return story

    def save(self, story_id: str, story: Any) -> str:
        version = f"{uuid.uuid4().hex[:12]}.1"
        meta = json.dumps({"title": story.title, "analyzed": "narrative_analysed_to" in story.uns})
        texts = self._key(story_id, "texts")
        with self._answers():
            pipe = self.redis.pipeline(transaction=True)
            pipe.delete(texts)
            pipe.rpush(texts, story.text)
            pipe.set(self._key(story_id, "meta"), meta)
            pipe.set(self._key(story_id, "version"), version)
            pipe.delete(self._key(story_id, "snapshot"), self._key(story_id, "snapshot_version"))
            pipe.sadd(f"{self.prefix}:ids", story_id)
            pipe.execute()
        self._snapshot(story_id, story, version)
        return version

    def _snapshot(self, story_id: str, story: Any, version: str) -> None:
        """Store a snapshot of ``story`` (at ``version``) if it is long enough and newer than the stored one."""
        if len(story.text) < self.snapshot_chars:
            return
        data = _to_snapshot(story)
        generation, count = _split_version(version)
        key = self._key(story_id, "snapshot_version")
        with self._answers(), self._bytes.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                old = pipe.get(key)
                if old is not None:
                    old_generation, old_count = _split_version(old.decode())
                    if old_generation == generation and old_count >= count:
                        return
                pipe.multi()
                pipe.set(self._key(story_id, "snapshot"), data)
                pipe.set(key, version)
                pipe.execute()
            except self._watch_error:  # another replica stored one meanwhile: keep it
                return

    def append(self, story_id: str, story: Any, text: str, version: str | None) -> str:
        if version is None:
            return self.save(story_id, story)
        generation, count = _split_version(version)
        new = f"{generation}.{count + 1}"
        key = self._key(story_id, "version")
        with self._answers(), self.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                if pipe.get(key) != version:
                    raise StoreConflictError(self.location, f"the story {story_id!r} changed during the append")
                pipe.multi()
                pipe.rpush(self._key(story_id, "texts"), text)
                pipe.set(key, new)
                pipe.execute()
            except self._watch_error:
                raise StoreConflictError(self.location, f"the story {story_id!r} changed during the append") \
                    from None
        try:
            self._snapshot(story_id, story, new)
        except StoreUnavailableError as exc:  # the append is stored; a snapshot only saves time
            log.warning("no snapshot of the story %r: %s", story_id, exc)
        return new

    def delete(self, story_id: str) -> bool:
        with self._answers():
            pipe = self.redis.pipeline(transaction=True)
            pipe.srem(f"{self.prefix}:ids", story_id)
            pipe.delete(*(self._key(story_id, part) for part in ("version", "texts", "meta", "snapshot",
                                                                 "snapshot_version")))
            removed, _ = pipe.execute()
        return bool(removed)

    @contextlib.contextmanager
    def lock(self, story_id: str):
        lock = self.redis.lock(self._key(story_id, "lock"), timeout=self.lock_timeout,
                               blocking_timeout=self.lock_timeout)
        with self._answers():
            got = lock.acquire()
        if not got:
            raise StoreUnavailableError(self.location, f"the story {story_id!r} stayed locked by another "
                                        f"replica for {self.lock_timeout:g} s")
        try:
            yield
        finally:
            try:
                lock.release()
            except self._redis_errors as exc:  # expired, or Redis went away: it expires by itself
                log.warning("the Redis lock of the story %r was not released: %s", story_id, exc)

    def close(self) -> None:
        self.redis.close()
        self._bytes.close()

    def __repr__(self) -> str:
        return f"<RedisStore {self.location} prefix={self.prefix!r}>"


def _to_snapshot(story: Any) -> bytes:
    """``story`` saved by :meth:`Story.save`, as the bytes of a tar of the folder."""
    import io
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory(prefix="shimmy-snapshot-") as tmp:
        story.save(Path(tmp) / "story")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(Path(tmp) / "story", arcname="story")
    return buffer.getvalue()


def _from_snapshot(data: bytes) -> Any:
    import io
    import tarfile
    import tempfile

    from ..story import Story

    with tempfile.TemporaryDirectory(prefix="shimmy-snapshot-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            tar.extractall(tmp, filter="data")
        return Story.load(Path(tmp) / "story")


def _split_version(version: str) -> tuple[str, int]:
    generation, _, count = version.partition(".")
    return generation, int(count or 0)


def _without_password(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)


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
