"""Independent flaw sets: apply a hand-written set of injected flaws and score detectors on it.

A flaw set is a folder in the form of ``flaws-dev`` (written by other hands than the
detectors'): ``injections.json``, an ``apply.py`` that writes the injected copies and a
``spans.json``, and a README that fixes the scoring.  This module runs the set's own
``apply.py`` (so the injection rule is the set's, not ours), runs a detector on every
injected copy and on the clean texts, and scores as the set's README says:

* a flaw is *found* by an insight of its kind whose ``[start, end)`` overlaps the
  injected span (or one of its ``also`` spans, or the earlier statement of its group);
* a ``dead_character_acts`` flaw is found by an insight of that kind that lies at or
  after the injection start and names the character (any name form; the last token of
  the flaw's ``name`` is enough, matched case-insensitively);
* each insight counts toward one flaw at most; each flaw is found once at most;
* false alarms are the insights of the six kinds on the clean texts.

The set's files are read where they are and never copied.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

__all__ = ["KINDS", "apply_flaw_set", "score_insights", "clean_alarms", "run_flaw_set",
           "candidate_cases", "score_candidates", "clean_candidate_cases"]

KINDS = ("fact_contradiction", "dead_character_acts", "voice_drift", "pov_shift",
         "tense_shift", "topic_drift")


def apply_flaw_set(folder: str | Path, datasets: str | Path, out: str | Path,
                   match_style: bool = True) -> tuple[dict[str, str], list[dict]]:
    """Write the injected copies of a flaw set with the set's own ``apply.py``.

    Parameters
    ----------
    folder
        The flaw set (holds ``apply.py`` and ``injections.json``).
    datasets
        Folder of the clean texts (``<text_id>.txt``).
    out
        Folder the copies and ``spans.json`` are written to.
    match_style
        Hide the surface cues of the injections (``--match-style``): wrapped like the
        file, indented like its paragraphs.

    Returns
    -------
    texts, spans
        ``{text_id: injected text}`` and the set's span records.
    """
    folder, out = Path(folder), Path(out)
    script = folder / "apply.py"
    if not script.is_file():
        raise FileNotFoundError(f"no apply.py in the flaw set folder {folder}")
    cmd = [sys.executable, str(script), "--datasets", str(datasets), "--out", str(out)]
    if match_style:
        cmd.append("--match-style")
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{script} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
    spans = json.loads((out / "spans.json").read_text(encoding="utf-8"))
    ids = sorted({r["text_id"] for r in spans})
    texts = {t: (out / f"{t}.txt").read_text(encoding="utf-8") for t in ids}
    return texts, spans


def _overlaps(a: int, b: int, spans: Iterable[Iterable[int]]) -> bool:
    return any(a < e and b > s for s, e in spans)


def _names_character(row: Any, name: str) -> bool:
    last = name.split()[-1].lower()
    hay = " ".join([str(c) for c in (row.characters if isinstance(row.characters, list)
                                     else list(row.characters or []))]
                   + [str(row.title), str(row.message)]).lower()
    return last in hay or name.lower() in hay


def score_insights(insights: pd.DataFrame, spans: list[dict]) -> pd.DataFrame:
    """Match one text's insights to its flaws, as the flaw set's README scores.

    Parameters
    ----------
    insights
        The detector's insights on the injected copy (columns ``kind``, ``start``,
        ``end``, ``characters``, ``title``, ``message``).
    spans
        The span records of the flaws of this text.

    Returns
    -------
    pandas.DataFrame
        One row per flaw: ``id, text_id, kind, found, insight`` (the matching insight's
        position in ``insights``, or -1).
    """
    used: set[int] = set()
    rows = []
    ins = insights.reset_index(drop=True)
    for rec in sorted(spans, key=lambda r: r["span"][0]):
        kind, (s, e) = rec["kind"], rec["span"]
        hit = -1
        for i, r in enumerate(ins.itertuples(index=False)):
            if i in used or r.kind != kind:
                continue
            a, b = int(r.start), int(r.end)
            if kind == "dead_character_acts":
                ok = a >= s and _names_character(r, rec.get("name", ""))
            else:
                ok = _overlaps(a, b, [rec["span"]] + rec.get("also_spans", [])
                               + rec.get("group_spans", []))
            if ok:
                hit = i
                break
        if hit >= 0:
            used.add(hit)
        rows.append({"id": rec["id"], "text_id": rec["text_id"], "kind": kind,
                     "found": hit >= 0, "insight": hit})
    return pd.DataFrame(rows, columns=["id", "text_id", "kind", "found", "insight"])


def clean_alarms(texts: dict[str, str], analyze: Callable[[str], Any]) -> pd.DataFrame:
    """Insights of the six kinds on clean texts (every one a false alarm).

    Parameters
    ----------
    texts
        ``{name: text}``.
    analyze
        Called with a text, returns a story with an ``insights`` table.

    Returns
    -------
    pandas.DataFrame
        One row per text: ``name, words, seconds`` and a count per kind.
    """
    rows = []
    for name, text in texts.items():
        t0 = time.perf_counter()
        story = analyze(text)
        sec = time.perf_counter() - t0
        ins = story.insights
        row = {"name": name, "words": len(text.split()), "seconds": round(sec, 2)}
        for k in KINDS:
            row[k] = int((ins["kind"] == k).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def run_flaw_set(folder: str | Path, datasets: str | Path, analyze: Callable[[str], Any],
                 match_style: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply a flaw set, run ``analyze`` on each injected copy and score it.

    Parameters
    ----------
    folder, datasets, match_style
        As :func:`apply_flaw_set`.
    analyze
        Called with a text, returns a story with an ``insights`` table.

    Returns
    -------
    flaws, stories
        One row per flaw (see :func:`score_insights`) and the analysed stories by text id.
    """
    with tempfile.TemporaryDirectory() as tmp:
        texts, spans = apply_flaw_set(folder, datasets, tmp, match_style)
    frames, stories = [], {}
    for tid, text in texts.items():
        story = analyze(text)
        if story.text != text:
            raise ValueError(f"{tid}: the reader changed the text; offsets would not match")
        stories[tid] = story
        frames.append(score_insights(story.insights, [r for r in spans if r["text_id"] == tid]))
    return pd.concat(frames, ignore_index=True), stories


def _paragraph_start(text: str, pos: int) -> int:
    cut = text.rfind("\n\n", 0, pos)
    return 0 if cut < 0 else cut + 2


def candidate_cases(texts: dict[str, str], spans: list[dict], injections: list[dict],
                    words: int = 300) -> list[dict]:
    """Each flaw as a drift check of a continuation: the story before it, ``words`` words after.

    The story is cut at the start of the paragraph that holds the flaw (for
    ``dead_character_acts``, the paragraph of the first later act, ``later_evidence``,
    so the death is in the story); the candidate is the text from there, ``words``
    words long and at least the whole flaw.

    Returns
    -------
    list of dict
        ``id, text_id, kind, name, story, candidate, span`` (the flaw's span in the
        candidate, for dead characters the act's).
    """
    evidence = {o["id"]: o.get("later_evidence", "") for o in injections}
    out = []
    for rec in spans:
        text = texts[rec["text_id"]]
        s, e = rec["span"]
        if rec["kind"] == "dead_character_acts":
            ev = evidence.get(rec["id"], "")
            pos = text.find(ev, e) if ev else -1
            if pos < 0:
                continue
            s, e = pos, pos + len(ev)
        cut = _paragraph_start(text, s)
        tail = text[cut:]
        n, end = 0, len(tail)
        for i, ch in enumerate(tail):
            if ch.isspace() and i and not tail[i - 1].isspace():
                n += 1
                if n >= words and cut + i >= e:
                    end = i
                    break
        out.append({"id": rec["id"], "text_id": rec["text_id"], "kind": rec["kind"],
                    "name": rec.get("name", ""), "story": text[:cut], "candidate": tail[:end],
                    "span": [s - cut, e - cut]})
    return out


def score_candidates(cases: list[dict], check: Callable[[str, str], pd.DataFrame]) -> pd.DataFrame:
    """Run a drift check on each case of :func:`candidate_cases` and score it.

    ``check(story_text, candidate)`` returns the insights with offsets into the
    candidate.  A flaw is found by an insight of its kind overlapping its span in the
    candidate (a dead character: one naming the character anywhere in the candidate).
    """
    rows = []
    for c in cases:
        ins = check(c["story"], c["candidate"])
        rec = {"id": c["id"], "text_id": c["text_id"], "kind": c["kind"], "span": c["span"],
               "name": c["name"]}
        if c["kind"] == "dead_character_acts":
            rec["span"] = [0, len(c["candidate"])]
        found = score_insights(ins, [rec])["found"].iloc[0]
        rows.append({"id": c["id"], "text_id": c["text_id"], "kind": c["kind"],
                     "found": bool(found), "insights": len(ins)})
    return pd.DataFrame(rows)


def clean_candidate_cases(texts: dict[str, str], per_text: int = 5, words: int = 300) -> list[dict]:
    """Continuations of clean texts, every one in keeping with its story (for false alarms).

    ``per_text`` cuts evenly spaced from 30% to 90% of each text, at paragraph starts.
    """
    out = []
    for name, text in texts.items():
        for k in range(per_text):
            at = int(len(text) * (0.3 + 0.6 * k / max(per_text - 1, 1)))
            cut = text.find("\n\n", at)
            if cut < 0:
                continue
            cut += 2
            toks = text[cut:].split()[:words]
            end = cut
            for t in toks:
                end = text.index(t, end) + len(t)
            out.append({"name": name, "story": text[:cut], "candidate": text[cut:end]})
    return out
