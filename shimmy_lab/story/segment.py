"""Structure: chapters, scenes, paragraphs and sentences, with character offsets.

All functions are pure and work on a region ``text[start:]`` of the full story
text, so :meth:`Story.append` can analyse only new text; offsets are absolute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SegState", "segment", "split_sentences", "parse_numeral", "ABBREVIATIONS"]

PARA_RE = re.compile(r"\S(?:[^\n]|\n(?![ \t]*(?:\n|$)))*")
BREAK_RE = re.compile(r"^[\s*#~=+\-.\u2022]{1,}$")
_NUM_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()
_NUM = r"(?:[IVXLCDM]+|\d+|" + "|".join(_NUM_WORDS) + r")"
HEAD_RE = re.compile(
    r"^(?P<kind>chapter|book|part|volume|stave|canto)\s+(?P<num>" + _NUM + r")\b\.?"
    r"(?:\s*[.:\-\u2014]*\s*(?P<title>\S.*))?$",
    re.IGNORECASE | re.DOTALL,
)
ROMAN_HEAD_RE = re.compile(r"^(?P<num>[IVXLC]+)\.\s+(?P<title>[A-Z][^\n]{0,80})$")
CAPS_RE = re.compile(r"^[A-Z][A-Z0-9 ,;:'\u2019!?&\-]{2,80}$")
_LEVEL = {"volume": 0, "book": 0, "part": 0, "chapter": 1, "stave": 1, "canto": 1}

#: words that end with a period without ending a sentence (compared lowercase)
ABBREVIATIONS = frozenset(
    "mr mrs ms messrs mme mlle dr st sr jr rev hon col capt gen lt sgt prof esq "
    "vs etc viz cf ibid no vol ch fig mt ft approx dept i.e e.g a.m p.m".split()
)
SENT_END_RE = re.compile(
    r"(?:[.!?]+|\u2026)[\"'\u2019\u201d)\]_]*(?=\s+[\"'\u2018\u201c(\[_]*[A-Z0-9]|\s*$)"
)


def parse_numeral(tok: str) -> int | None:
    """Parse a roman, arabic or English-word numeral (``'XIV'``, ``'12'``, ``'three'``)."""
    t = tok.strip().rstrip(".")
    if t.isdigit():
        return int(t)
    low = t.lower()
    if low in _NUM_WORDS:
        return _NUM_WORDS.index(low) + 1
    vals = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
    if not low or any(ch not in vals for ch in low):
        return None
    total = 0
    for a, b in zip(low, low[1:] + " "):
        v = vals[a]
        total += -v if b != " " and vals[b] > v else v
    return total


@dataclass
class SegState:
    """Where a region starts: the indices reached so far in the story."""

    chapter: int = 0  #: current chapter index
    scene: int = 0  #: current scene index (next new scene gets scene + 1)
    paragraph: int = 0  #: next paragraph index
    sentence: int = 0  #: next sentence index
    part: str | None = None  #: current VOLUME/BOOK label
    heading_mode: str | None = None  #: 'chapter', 'roman' or 'caps' once decided
    has_scene: bool = False  #: a scene row exists for the current chapter


def _heading(body: str, mode: str | None) -> tuple[str, dict] | None:
    """Classify a short paragraph as a heading; returns (mode, info) or None."""
    if len(body) > 120 or body.count("\n") > 1:
        return None
    line = " ".join(body.split())
    m = HEAD_RE.match(line)
    if m and (m.group("title") is None or len(m.group("title")) < 90):
        kind = m.group("kind").lower()
        return "chapter", {
            "level": 1 if mode == "book" else _LEVEL[kind],
            "label": f"{m.group('kind')} {m.group('num')}",
            "number": parse_numeral(m.group("num")),
            "title": m.group("title"),
        }
    if mode in (None, "roman"):
        m = ROMAN_HEAD_RE.match(line)
        if m:
            return "roman", {"level": 1, "label": m.group("num"),
                             "number": parse_numeral(m.group("num")), "title": m.group("title")}
    if mode == "caps" and CAPS_RE.match(line) and sum(ch.isalpha() for ch in line) >= 4:
        return "caps", {"level": 1, "label": line, "number": None, "title": line}
    return None


def _guess_mode(text: str, spans: list[tuple[int, int]]) -> str | None:
    """Decide which heading style the text uses (first analysis only)."""
    counts = {"chapter": 0, "roman": 0, "caps": 0}
    levels = set()
    for s, e in spans:
        body = text[s:e]
        h = _heading(body, None)
        if h:
            counts[h[0]] += 1
            if h[0] == "chapter":
                levels.add(h[1]["level"])
        elif len(body) <= 80 and "\n" not in body and CAPS_RE.match(body) and \
                sum(ch.isalpha() for ch in body) >= 4:
            counts["caps"] += 1
    if counts["chapter"]:
        return "book" if levels == {0} else "chapter"
    if counts["roman"] >= 2:
        return "roman"
    if counts["caps"] >= 3:
        return "caps"
    return None


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentence spans (absolute offsets).

    A sentence ends at ``.``, ``!``, ``?`` (plus closing quotes/brackets) followed
    by whitespace and a capital, digit or opening quote, unless the word before
    the period is an abbreviation (``Mr.``, ``St.``) or a single-letter initial.
    """
    out = []
    s = start
    chunk = text[start:end]
    for m in SENT_END_RE.finditer(chunk):
        e = start + m.end()
        if chunk[m.start()] == ".":
            j = m.start()
            i = j
            while i > 0 and (chunk[i - 1].isalpha() or chunk[i - 1] == "."):
                i -= 1
            word = chunk[i:j].lower()
            if word in ABBREVIATIONS or (len(word) == 1 and chunk[i].isupper()):
                continue
        if e > s:
            out.append((s, e))
        s = e
        while s < end and text[s].isspace():
            s += 1
    if s < end and text[s:end].strip():
        out.append((s, end))
    return out


def segment(text: str, start: int, st: SegState) -> dict[str, list[dict]]:
    """Segment ``text[start:]`` into rows; updates ``st`` in place.

    Returns
    -------
    dict
        ``chapters`` (new chapter rows; ``end`` filled later), ``scenes`` (new scene
        rows), ``paragraphs`` and ``sentences`` rows with absolute offsets.
    """
    spans = []
    for m in PARA_RE.finditer(text, start):
        s, e = m.start(), m.end()
        while e > s and text[e - 1].isspace():
            e -= 1
        spans.append((s, e))
    if st.heading_mode is None:
        st.heading_mode = _guess_mode(text, spans)
    chapters: list[dict] = []
    scenes: list[dict] = []
    paras: list[dict] = []
    sents: list[dict] = []
    prev_end = start
    pending_title: dict | None = None
    for s, e in spans:
        body = text[s:e]
        h = _heading(body, st.heading_mode) if st.heading_mode else None
        gap = text.count("\n", prev_end, s)
        prev_end = e
        if st.paragraph == 0 and not (h is not None and h[1]["level"] == 1):
            chapters.append({"chapter": 0, "number": None, "label": None, "title": None,
                             "part": None, "start": s, "end": None, "body_start": s})
        if h is not None and h[1]["level"] == 0:
            st.part = h[1]["label"]
            paras.append(_para(st, s, e, "heading"))
            continue
        if h is not None:
            info = h[1]
            st.chapter += 1
            st.scene += 1
            chapters.append({"chapter": st.chapter, "number": info["number"],
                             "label": info["label"], "title": info["title"], "part": st.part,
                             "start": s, "end": None, "body_start": e})
            scenes.append({"scene": st.scene, "chapter": st.chapter, "start": s,
                           "end": None, "break_kind": "chapter"})
            st.has_scene = True
            paras.append(_para(st, s, e, "heading"))
            pending_title = chapters[-1] if not info["title"] else None
            continue
        if pending_title is not None:
            line = " ".join(body.split())
            if len(line) <= 80 and "\n" not in body and CAPS_RE.match(line):
                pending_title["title"] = line
                pending_title["body_start"] = e
                paras.append(_para(st, s, e, "heading"))
                pending_title = None
                continue
        pending_title = None
        if BREAK_RE.match(body) and "*" in body or body.strip() in ("#", "~"):
            if not (paras and paras[-1]["kind"] == "break"):
                st.scene += 1
                scenes.append({"scene": st.scene, "chapter": st.chapter, "start": s,
                               "end": None, "break_kind": "asterisks"})
                st.has_scene = True
            paras.append(_para(st, s, e, "break"))
            continue
        if not st.has_scene or (gap >= 4 and paras and paras[-1]["kind"] == "text"):
            st.scene += 1
            scenes.append({"scene": st.scene, "chapter": st.chapter, "start": s,
                           "end": None, "break_kind": "chapter" if not st.has_scene else "blank"})
            st.has_scene = True
        paras.append(_para(st, s, e, "text"))
        pid = paras[-1]["paragraph"]
        for a, b in split_sentences(text, s, e):
            sents.append({"sentence": st.sentence, "paragraph": pid,
                          "chapter": st.chapter, "start": a, "end": b})
            st.sentence += 1
    return {"chapters": chapters, "scenes": scenes, "paragraphs": paras, "sentences": sents}


def _para(st: SegState, s: int, e: int, kind: str) -> dict:
    row = {"paragraph": st.paragraph, "chapter": st.chapter, "scene": st.scene,
           "start": s, "end": e, "kind": kind, "n_quotes": 0}
    st.paragraph += 1
    return row
