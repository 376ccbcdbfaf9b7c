"""What every story store shares: the :class:`StoryStore` interface, its errors and the
story ids (:func:`check_story_id`).

The stores themselves are :mod:`shimmy_lab.server.store` (folder, none) and
:mod:`shimmy_lab.server.store_redis` (Redis); import everything from
:mod:`shimmy_lab.server.store`, which re-exports these names.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, ShimmyError

__all__ = ["StoryStore", "check_story_id", "story_id_from_title", "InvalidStoryIdError", "StoreInUseError",
           "StoreUnavailableError", "StoreConflictError", "STORY_ID_PATTERN", "MAX_STORY_ID_LENGTH"]

#: Longest accepted story id (characters).
MAX_STORY_ID_LENGTH = 128
#: What a story id looks like (the whole id must match; see :mod:`shimmy_lab.server.store`).
STORY_ID_PATTERN = r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?"
_STORY_ID = re.compile(STORY_ID_PATTERN)
_WINDOWS_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                            *(f"lpt{i}" for i in range(10))})


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
