"""Interactive widgets (``sl.widgets``): the only module that imports ipywidgets.

* :class:`Dashboard` — tabs of ``sl.pl`` figures, an insights table filtered by
  system / kind / character that jumps to the passage, and a character sheet;
  it refreshes when the story changes (a ``StoryChanged`` event of the shared ``Lab``).
* :class:`Writer` — prompt, model picker, assertiveness slider, streamed
  generation, the drift report of each candidate and an "append to story" button.
"""

from __future__ import annotations

from .dashboard import Dashboard
from .writer import Writer

__all__ = ["Dashboard", "Writer"]
