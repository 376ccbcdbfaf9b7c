"""Reading plain-text books: Project Gutenberg header/footer removal."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["strip_gutenberg", "read_file"]

_START_RE = re.compile(
    r"^\s*\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG EBOOK[^\n]*\n"
    r"|^\*END\*THE SMALL PRINT![^\n]*\n",
    re.IGNORECASE | re.MULTILINE,
)
_END_RE = re.compile(
    r"^\s*\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG EBOOK"
    r"|^\s*End of (?:the |this )?Project Gutenberg'?s?\b"
    r"|^\s*End of The Project Gutenberg Etext",
    re.IGNORECASE | re.MULTILINE,
)
_PRODUCED_RE = re.compile(r"\A\s*(?:Produced by|Transcribed by|E-text prepared by)[^\n]*"
                          r"(?:\n[^\n]+)*\n\s*\n", re.IGNORECASE)


def strip_gutenberg(text: str) -> str:
    """Remove a Project Gutenberg licence header and footer, if present.

    Handles the modern ``*** START OF THE PROJECT GUTENBERG EBOOK ... ***`` /
    ``*** END OF ...`` markers, the 1990s "small print" block and the
    "End of the Project Gutenberg Etext" trailer.  A text without markers is
    returned unchanged (apart from newline normalisation).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    m = None
    for m in _START_RE.finditer(text):
        pass  # last start marker wins (small print may follow the title block)
    started = m is not None and m.end() < len(text) * 0.5
    if started:
        text = text[m.end():]
        text = _PRODUCED_RE.sub("", text, count=1)
    e = _END_RE.search(text)
    if e is not None and (started or e.start() > len(text) * 0.5):
        text = text[: e.start()]
    return text.strip("\n") + "\n"


def read_file(path: str | Path, encoding: str | None = None) -> str:
    """Read a text file (UTF-8, falling back to Latin-1) and strip Gutenberg boilerplate."""
    raw = Path(path).read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if encoding:
        text = raw.decode(encoding)
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    return strip_gutenberg(text)
