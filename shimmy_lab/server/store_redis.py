"""The story store shared by several server processes: :class:`RedisStore` (``--redis URL``).

Import it from :mod:`shimmy_lab.server.store` (``from shimmy_lab.server.store import
RedisStore`` keeps working); the interface, errors and story ids it uses are in
:mod:`shimmy_lab.server.store_base`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Any

from .store_base import StoreConflictError, StoreUnavailableError, StoryStore, _valid, check_story_id

__all__ = ["RedisStore"]

log = logging.getLogger("shimmy_lab.server")


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
        # lazy: redis, only with a redis:// URL
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
        from ..story import Story  # lazy: keeps this module's import light

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
    with tempfile.TemporaryDirectory(prefix="shimmy-snapshot-") as tmp:
        story.save(Path(tmp) / "story")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(Path(tmp) / "story", arcname="story")
    return buffer.getvalue()


def _from_snapshot(data: bytes) -> Any:
    from ..story import Story  # lazy: keeps this module's import light

    with tempfile.TemporaryDirectory(prefix="shimmy-snapshot-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            tar.extractall(tmp, filter="data")
        return Story.load(Path(tmp) / "story")


def _split_version(version: str) -> tuple[str, int]:
    generation, _, count = version.partition(".")
    return generation, int(count or 0)


def _without_password(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)
