"""The analysis cache of the server: L1 in the process, L2 in the story folder, L3 in Redis.

What is cached is the *result of one narrative analysis* (:func:`shimmy_lab.analyze`) of
one text: the tables the narrative systems wrote (``insights``, ``dna``, ``voice``, ...)
and what they recorded in ``story.uns`` (their parameters, ``recursion``,
``narrative_analysed_to``). The Story tables (chapters, quotes, characters, ...) are not:
a story read from the same text already has them, and reading is the cheaper half.

The key is a hash of the text (SHA-256), the systems run, the voice model, the
assertiveness, the story's fixed cast and the package version: an analysis depends on
those only (the systems are deterministic), so the same text analysed the same way on
any replica, under any story id, before or after a restart, is one entry. A story
version would do within one store, but a text hash also matches across stores and ids.
Stories analysed while narrative plugins are registered are not cached (a plugin keeps
state across calls).

Levels, looked up in order; a hit at a lower level fills the upper ones:

* **L1**: a dict in the process, the ``[cache] entries`` most recently used entries;
* **L2**: files in ``<store>/.analysis/`` when the server has a folder store (one file per
  entry, written atomically, no fsync: a lost entry is a miss; ``folder_entries`` at most);
* **L3**: Redis keys ``<prefix>:analysis:<key>`` when the server has ``--redis``, expiring
  after ``redis_ttl`` seconds. Redis errors count as misses (the cache never fails a request).

L2 and L3 entries are one blob: a JSON header (the ``uns`` part) and the tables as
Parquet, as :meth:`Story.save <shimmy_lab.story.Story.save>` writes them. Alongside each
entry the cache remembers, per text, the key of the last analysis stored for it
(``<prefix>:analysis-of:<text hash>`` in Redis): a replica that replays another
replica's append (:class:`~shimmy_lab.server.store.RedisStore`) takes that analysis, so
replicas hold equal tables whatever their resource levels.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import os
import struct
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .._version import __version__

__all__ = ["AnalysisCache", "analysis_key", "text_hash", "dumps", "loads", "CACHE_LEVELS"]

log = logging.getLogger("shimmy_lab.server")
#: The levels, in lookup order (the label of the cache metrics).
CACHE_LEVELS = ("l1", "l2", "l3")
_MAGIC = b"SHIMMY-ANALYSIS-1\n"
_FOLDER = ".analysis"


def text_hash(text: str) -> str:
    """SHA-256 of a story text (hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def analysis_key(story: Any, systems: list[str], voice_model: Any, assertiveness: float,
                 text_sha: str | None = None, params: dict[str, Any] | None = None) -> str:
    """The cache key of analysing ``story`` with ``systems`` (resolved), ``voice_model``,
    ``assertiveness`` and the systems' ``params`` (the settings' ``[narrative.params]``)."""
    cast = story.uns.get("params", {}).get("cast")
    parts = {"v": __version__, "text": text_sha or text_hash(story.text), "systems": list(systems),
             "voice_model": None if voice_model is None else str(voice_model),
             "assertiveness": round(float(assertiveness), 6), "cast": cast, "params": params or {}}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


# ---------------------------------------------------------------------------- payloads
def _tracker_names(story: Any) -> list[str]:
    from ..story import schema  # lazy: keeps this module's import light

    return [name for name in story.tables if name not in schema.TABLES]


def capture(story: Any, before_tables: dict[str, int], before_uns: dict[str, int],
            before_params: dict[str, int], systems: list[str]) -> dict[str, Any]:
    """What an analysis wrote: the tables it replaced and the ``uns`` entries it set."""
    from ..story import schema  # lazy: keeps this module's import light

    tables = {n: df for n, df in story.tables.items()
              if n not in schema.TABLES and before_tables.get(n) != id(df)}
    uns = {k: v for k, v in story.uns.items() if k != "params" and before_uns.get(k) != id(v)}
    params = story.uns.get("params", {})
    uns["params"] = {k: v for k, v in params.items()
                     if k in systems or k == "assistant" or before_params.get(k) != id(v)}
    uns["narrative_analysed_to"] = story.uns.get("narrative_analysed_to", len(story.text))
    return {"tables": tables, "uns": json.loads(json.dumps(uns, default=str))}


def apply(story: Any, payload: dict[str, Any]) -> Any:
    """Write a cached analysis into ``story`` (copies: the entry stays as it is)."""
    for name, df in payload["tables"].items():
        story.tables[name] = df.copy()
    for key, value in payload["uns"].items():
        if key == "params":
            story.uns.setdefault("params", {}).update(copy.deepcopy(value))
        else:
            story.uns[key] = copy.deepcopy(value)
    return story


def dumps(payload: dict[str, Any]) -> bytes:
    """One entry as bytes: magic, a JSON header (``uns``, table sizes), the tables as Parquet."""
    blobs, index = [], []
    for name, df in payload["tables"].items():
        buffer = io.BytesIO()
        df.to_parquet(buffer, index=False)
        blobs.append(buffer.getvalue())
        index.append([name, len(blobs[-1])])
    head = json.dumps({"uns": payload["uns"], "tables": index}, default=str).encode()
    return _MAGIC + struct.pack(">I", len(head)) + head + b"".join(blobs)


def loads(data: bytes) -> dict[str, Any]:
    """The entry written by :func:`dumps` (``ValueError`` if it is not one)."""
    import pandas as pd  # lazy: keeps this module's import light

    from ..story.io import _lists_back  # lazy: keeps this module's import light
    from ..story.schema import rename_old  # lazy: keeps this module's import light

    if not data.startswith(_MAGIC):
        raise ValueError("not an analysis cache entry")
    at = len(_MAGIC)
    (size,) = struct.unpack(">I", data[at:at + 4])
    head = json.loads(data[at + 4:at + 4 + size])
    at += 4 + size
    tables = {}
    for name, length in head["tables"]:
        # an entry written before a column was renamed gets today's names, as Story.load does
        tables[name] = _lists_back(rename_old(name, pd.read_parquet(io.BytesIO(data[at:at + length]))))
        at += length
    return {"tables": tables, "uns": head["uns"]}


# ---------------------------------------------------------------------------- levels
class _Folder:
    """L2: entry files in a folder (atomic writes, oldest removed past ``limit``)."""

    def __init__(self, root: Path, limit: int):
        self.root, self.limit = root, limit
        self._writes = 0

    def get(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except OSError:
            return None

    def put(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{uuid.uuid4().hex[:8]}"
        tmp.write_bytes(data)
        os.replace(tmp, self.root / name)
        self._writes += 1
        if self._writes % 64 == 0:
            self.prune()

    def prune(self) -> None:
        files = sorted((p for p in self.root.iterdir() if not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime)
        for old in files[:max(0, len(files) - self.limit)]:
            old.unlink(missing_ok=True)


class _Redis:
    """L3: entries in Redis with a time to live; errors are misses."""

    def __init__(self, url: str, prefix: str, ttl: int):
        import redis  # lazy: redis, only with a redis:// URL

        self._errors = redis.RedisError
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=5.0)
        self.prefix, self.ttl = prefix, ttl

    def get(self, name: str) -> bytes | None:
        try:
            return self.redis.get(f"{self.prefix}:{name}")
        except self._errors as exc:
            log.warning("analysis cache: Redis read failed (%s)", exc)
            return None

    def put(self, name: str, data: bytes) -> None:
        try:
            self.redis.set(f"{self.prefix}:{name}", data, ex=self.ttl)
        except self._errors as exc:
            log.warning("analysis cache: Redis write failed (%s)", exc)

    def close(self) -> None:
        self.redis.close()


class AnalysisCache:
    """Runs :func:`shimmy_lab.analyze` through the cache levels (one per app, ``app.state.cache``).

    Parameters
    ----------
    entries : int
        L1 size (entries; 0: no L1).
    folder : Path, optional
        L2 folder (``<store>/.analysis``); None: no L2.
    folder_entries : int
        L2 size (files).
    redis_url : str, optional
        L3 Redis; None: no L3.
    prefix : str
        Prefix of the L3 keys.
    ttl : int
        Seconds an L3 entry lives.
    metrics : Metrics, optional
        Gets ``observe_cache(level, hit)`` and ``observe_analysis(seconds_by_system)``.

    Attributes
    ----------
    analyses : int
        Analyses run (cache misses), for tests and ``/health``.
    counts : dict
        ``(level, "hit" | "miss") -> n``.
    """

    def __init__(self, entries: int = 128, folder: str | Path | None = None, folder_entries: int = 2048,
                 redis_url: str | None = None, prefix: str = "shimmy", ttl: int = 7 * 24 * 3600,
                 metrics: Any = None):
        self.entries = entries
        self._l1: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._of: OrderedDict[str, str] = OrderedDict()  # text hash -> key of its last analysis
        self._guard = threading.Lock()
        self._l2 = _Folder(Path(folder), folder_entries) if folder is not None else None
        self._l3 = _Redis(redis_url, f"{prefix}:analysis", ttl) if redis_url else None
        self.metrics = metrics
        self.analyses = 0
        self.counts: dict[tuple[str, str], int] = {}

    @classmethod
    def for_app(cls, settings: Any, store: Any, metrics: Any = None) -> "AnalysisCache":
        """The cache of an app: L2 in a folder store's folder, L3 on the app's Redis (``[cache]`` settings)."""
        c = settings.cache
        root = getattr(store, "root", None)
        folder = Path(root) / _FOLDER if c.folder and root is not None and not store.shared else None
        redis_url = settings.redis if c.redis else None
        return cls(c.entries, folder, c.folder_entries, redis_url, getattr(store, "prefix", "shimmy"),
                   c.redis_ttl, metrics)

    @property
    def levels(self) -> list[str]:
        """The levels this cache has (``l1``, ``l2``, ``l3``)."""
        return [name for name, on in zip(CACHE_LEVELS, (self.entries > 0, self._l2, self._l3)) if on]

    # ------------------------------------------------------------------ lookups
    def _count(self, level: str, hit: bool) -> None:
        result = "hit" if hit else "miss"
        with self._guard:
            self.counts[(level, result)] = self.counts.get((level, result), 0) + 1
        if self.metrics is not None:
            self.metrics.observe_cache(level, hit)

    def get(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """(the entry, the level that had it), or (None, None); a lower level's hit fills the upper ones."""
        if self.entries > 0:
            with self._guard:
                found = self._l1.get(key)
                if found is not None:
                    self._l1.move_to_end(key)
            self._count("l1", found is not None)
            if found is not None:
                return found, "l1"
        for level, store in (("l2", self._l2), ("l3", self._l3)):
            if store is None:
                continue
            data = store.get(key)
            payload = _loads_or_none(data)
            self._count(level, payload is not None)
            if payload is not None:
                self._fill(key, payload, data, above=level)
                return payload, level
        return None, None

    def _fill(self, key: str, payload: dict[str, Any], data: bytes | None, above: str) -> None:
        self._remember(key, payload)
        if above == "l3" and self._l2 is not None:
            self._l2.put(key, data if data is not None else dumps(payload))

    def _remember(self, key: str, payload: dict[str, Any]) -> None:
        if self.entries <= 0:
            return
        with self._guard:
            self._l1[key] = payload
            self._l1.move_to_end(key)
            while len(self._l1) > self.entries:
                self._l1.popitem(last=False)

    def put(self, key: str, text_sha: str, payload: dict[str, Any]) -> None:
        """Store an entry at every level, and remember it as the last analysis of its text."""
        payload = {"tables": {n: df.copy() for n, df in payload["tables"].items()}, "uns": payload["uns"]}
        self._remember(key, payload)
        with self._guard:
            self._of[text_sha] = key
            self._of.move_to_end(text_sha)
            while len(self._of) > max(1, 4 * self.entries):
                self._of.popitem(last=False)
        if self._l2 is None and self._l3 is None:
            return
        data = dumps(payload)
        for store in (self._l2, self._l3):
            if store is not None:
                store.put(key, data)
                store.put(f"of-{text_sha}", key.encode())

    def last_key(self, text_sha: str) -> str | None:
        """The key of the last analysis stored for a text (L1, then L2, then L3), or None."""
        with self._guard:
            key = self._of.get(text_sha)
        for store in (self._l2, self._l3):
            if key is None and store is not None:
                raw = store.get(f"of-{text_sha}")
                key = raw.decode() if raw else None
        return key

    # ------------------------------------------------------------------ analysis
    def analyze(self, story: Any, settings: Any, systems: Any = None, voice_model: Any = "none",
                replay: bool = False) -> tuple[Any, str]:
        """``sl.analyze(story, systems, settings, voice_model)`` through the cache.

        With ``replay`` (another replica's append being replayed) the last analysis stored
        for the text is taken whatever its systems were. Returns ``(story, source)``:
        ``source`` is the level that had the analysis (``l1``, ``l2``, ``l3``) or
        ``"analysis"`` when it ran.
        """
        # lazy: keeps this module's import light
        from ..assistant import enabled_systems, resolve_voice_model
        from ..plugins import plugins

        voice = resolve_voice_model(voice_model, settings)
        run = enabled_systems(systems, settings)
        if plugins():  # plugins keep state between calls: always run
            return self._run(story, settings, run, voice), "analysis"
        sha = text_hash(story.text)
        last = self.last_key(sha) if replay else None
        if last is not None:
            payload, level = self.get(last)
            if payload is not None:
                return apply(story, payload), level
        key = analysis_key(story, run, voice, settings.narrative.assertiveness, sha, settings.narrative.params)
        payload, level = self.get(key) if key != last else (None, None)
        if payload is not None:
            return apply(story, payload), level
        before = ({n: id(df) for n, df in story.tables.items()}, {k: id(v) for k, v in story.uns.items()},
                  {k: id(v) for k, v in story.uns.get("params", {}).items()})
        self._run(story, settings, run, voice)
        self.put(key, sha, capture(story, *before, systems=run))
        return story, "analysis"

    def _run(self, story: Any, settings: Any, systems: list[str], voice: Any) -> Any:
        from ..assistant import analyze  # lazy: keeps this module's import light

        analyze(story, systems=systems, settings=settings, voice_model="none" if voice is None else voice)
        with self._guard:
            self.analyses += 1
        if self.metrics is not None:
            self.metrics.observe_analysis(story.uns.get("params", {}).get("assistant", {}).get("seconds", {}))
        return story

    def close(self) -> None:
        if self._l3 is not None:
            self._l3.close()


def _loads_or_none(data: bytes | None) -> dict[str, Any] | None:
    if not data:
        return None
    try:
        return loads(data)
    except Exception as exc:  # a damaged entry is a miss
        log.warning("analysis cache: unreadable entry (%s)", exc)
        return None
