"""The Story object: a text read into pandas tables with character offsets.

>>> import shimmy_lab as sl
>>> story = sl.Story.from_text('"Come here, Emma," said Mr. Knightley.')
>>> story.quotes[["text", "speaker"]]          # doctest: +SKIP

See ``docs/story.md`` and :mod:`shimmy_lab.story.schema`.
"""

from __future__ import annotations

from . import schema
from .story import Story, read_text

__all__ = ["Story", "read_text", "schema"]
