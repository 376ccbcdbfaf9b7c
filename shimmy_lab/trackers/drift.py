"""Drift stabilizer: how far text departs from the story's facts, voices, POV, tense, topic.

One public entry, :func:`drift`:

* ``drift(story)`` scans the story's own paragraphs against the rest of the story
  and writes ``pov_shift``, ``tense_shift`` and ``topic_drift`` insights;
* ``drift(story, candidate)`` checks a candidate continuation against the story and
  returns a :class:`DriftReport` (score in [0, 1], insights with offsets into the
  candidate), combining the signals above with the character checks of
  :mod:`~shimmy_lab.trackers.characters` (fact contradictions, dead characters who
  act, lines far from their speaker's voice).

Signals are per paragraph of narration (quotes removed): narrative person is the
rate of first-person pronouns; tense is the share of present-tense markers among
tense markers; topic is the share of content words and names the story never uses
elsewhere.  Each is compared with the story's own baseline (median over paragraphs).
"""

from __future__ import annotations

import re
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _util as U
from . import schema
from .characters import _dead_acts, _fact_contradictions, voice_line_score

__all__ = ["drift", "DriftReport"]

SYSTEM = "drift"
FIRST = frozenset("i me my mine myself we us our ours ourselves".split())
THIRD = frozenset("he him his himself she her hers herself they them their".split())
PRESENT = frozenset("is are am has does says goes comes sees knows thinks looks seems feels "
                    "takes makes gives stands sits walks turns tells asks wants can will "
                    "isn't aren't doesn't don't hasn't won't can't".split())
PAST = frozenset("was were had did said went came saw knew thought looked seemed felt took "
                 "made gave stood sat walked turned told asked wanted could would wasn't "
                 "weren't didn't hadn't couldn't wouldn't".split())
_PRON_VERB = re.compile(r"\b(?:he|she|it)\s+([a-z]+)\b")
_QUOTE_RE = re.compile(r"\"[^\"]*\"|\u201c[^\u201d]*\u201d|(?<![A-Za-z])'[^'\n]{2,}?'(?![A-Za-z])")
_CAP_RE = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}\b")


@dataclass
class DriftReport:
    """Result of :func:`drift` on a candidate text.

    Attributes
    ----------
    score
        0 (in keeping with the story) .. 1 (departs strongly).
    insights
        Insights with ``start``/``end`` offsets into the candidate text.
    components
        Per-signal scores (pov, tense, topic, facts, dead, voice), each 0..1.
    suggestion
        One sentence that steers back.
    """

    score: float
    insights: pd.DataFrame
    components: dict[str, float] = field(default_factory=dict)
    suggestion: str = ""

    def _repr_html_(self) -> str:
        return (f"<b>drift</b> {self.score:.2f} &middot; {len(self.insights)} insights"
                f"<br>{self.suggestion}")


def _signals(narr: str, vocab: Counter | None = None, exclude: Counter | None = None,
             names: set[str] | None = None) -> dict[str, float]:
    """Person, tense and novelty signals of one stretch of narration."""
    toks = U.words(narr)
    n = len(toks)
    first = sum(t in FIRST for t in toks)
    third = sum(t in THIRD for t in toks)
    pres = sum(t in PRESENT for t in toks)
    past = sum(t in PAST for t in toks)
    for m in _PRON_VERB.finditer(narr.lower()):
        v = m.group(1)
        if v.endswith("ed"):
            past += 1
        elif v.endswith("s") and not v.endswith("ss") and v not in PRESENT and v not in ("was", "has", "is"):
            pres += 1
    lines = [ln for ln in narr.split("\n") if ln.strip()]
    verse = len(lines) >= 4 and sum(ln[:1].isspace() or len(ln) < 45 for ln in lines) > 0.6 * len(lines)
    out = {"verse": verse, "n": n, "first": first / max(n, 1), "n_first": first, "third": third / max(n, 1),
           "present": pres / max(pres + past, 1), "n_tense": pres + past}
    if vocab is not None:
        exclude = exclude or Counter()
        cw = [w for w in toks if len(w) > 2 and w not in U.STOPWORDS]
        out["n_content"] = len(cw)
        out["novel"] = (sum(vocab.get(w, 0) - exclude.get(w, 0) <= 0 for w in cw)
                        / max(len(cw), 1))
        caps = set(_CAP_RE.findall(narr))
        out["new_names"] = len([c for c in caps if names is not None and c not in names
                                and c.lower() not in vocab]) if names is not None else 0
    return out


class _Baseline:
    """What the story is like: vocabulary, names, person and tense baselines."""

    def __init__(self, story: Any) -> None:
        text = story.text
        self.vocab = Counter(U.words(text))
        self.words = sum(self.vocab.values())
        nm = U.table(story, "names")
        self.names = {w for s in nm["surface"].astype(str) for w in s.split()}
        p = U.table(story, "paragraphs")
        p = p[p["kind"] == "text"]
        rows = []
        for s, e in zip(p["start"].astype(int), p["end"].astype(int)):
            narr = U.narration(text, s, e, U.quote_mask(story, s, e))
            sig = _signals(narr)
            if sig["n"] >= 30:
                rows.append((sig["first"], sig["present"], sig["n_tense"]))
        arr = np.array(rows) if rows else np.zeros((1, 3))
        self.first = float(np.median(arr[:, 0]))
        self.present = float(np.median(arr[arr[:, 2] >= 3, 1])) if (arr[:, 2] >= 3).any() else 0.0
        self.first_person = self.first >= 0.02


_CACHE: dict[int, tuple[Any, int, _Baseline]] = {}


def _baseline(story: Any) -> _Baseline:
    hit = _CACHE.get(id(story))
    if hit is not None and hit[0]() is story and hit[1] == len(story.text):
        return hit[2]
    b = _Baseline(story)
    _CACHE[id(story)] = (weakref.ref(story), len(story.text), b)
    for k in [k for k, v in _CACHE.items() if v[0]() is None]:
        del _CACHE[k]
    return b


def _paragraph_insights(sig: dict, base: _Baseline, s: int, e: int, min_words: int,
                        topic_threshold: float) -> list[dict]:
    out = []
    if sig["n"] < min_words or sig.get("verse"):
        return out
    if not base.first_person and sig["first"] >= 0.025 and sig["n_first"] >= 3 \
            and sig["first"] > 1.2 * sig["third"]:
        sev = min(1.0, sig["first"] / 0.06)
        out.append(U.insight(SYSTEM, "pov_shift", "important", sev,
                             "Narration switches to the first person",
                             f"{sig['n_first']} first-person pronouns in narration while the "
                             "story is told in the third person.", s, e, [],
                             "Keep the narrator in the third person (he/she, not I/we)."))
    if base.present <= 0.4 and sig["n_tense"] >= 5 and sig["present"] >= 0.65:
        out.append(U.insight(SYSTEM, "tense_shift", "important", sig["present"],
                             "Narration switches to the present tense",
                             f"{sig['present']:.0%} of tense markers in narration are present "
                             f"tense; the story's narration is past tense "
                             f"({base.present:.0%} present).", s, e, [],
                             "Keep the narration in the past tense."))
    score = sig.get("novel", 0.0) + 0.05 * min(sig.get("new_names", 0), 4)
    if sig.get("n_content", 0) >= 20 and score >= topic_threshold and base.words >= 2000:
        out.append(U.insight(SYSTEM, "topic_drift", "important", min(1.0, score),
                             "Passage unrelated to the story",
                             f"{sig['novel']:.0%} of its content words and "
                             f"{sig['new_names']} names appear nowhere else in the story.",
                             s, e, [], "Tie the passage to the story's people, places and "
                             "open threads."))
    return out


def _scan_story(story: Any, min_words: int, topic_threshold: float) -> None:
    base = _baseline(story)
    text = story.text
    p = U.table(story, "paragraphs")
    p = p[p["kind"] == "text"]
    rows = []
    for s, e in zip(p["start"].astype(int), p["end"].astype(int)):
        narr = U.narration(text, s, e, U.quote_mask(story, s, e))
        exc = Counter(U.words(text[s:e]))
        sig = _signals(narr, base.vocab, exc, base.names)
        if sig["new_names"]:
            sig["new_names"] = 0  # names of the story itself are in `names`; see candidate mode
        rows += _paragraph_insights(sig, base, s, e, min_words, topic_threshold)
    U.set_insights(story, SYSTEM, rows)


def _map_ids(story: Any, cand: Any) -> dict[str, str]:
    """Candidate character_id -> story character_id (by names and aliases)."""
    out = {}
    for r in U.table(cand, "characters").itertuples():
        for alias in [str(r.name)] + str(r.aliases).split("|"):
            cid = story.character(alias)
            if cid:
                out[str(r.character_id)] = cid
                break
    return out


def _candidate(story: Any, candidate: str, min_words: int, topic_threshold: float,
               voice_threshold: float) -> DriftReport:
    from ..story import Story

    base = _baseline(story)
    cand = Story.from_text(candidate)
    idmap = _map_ids(story, cand)
    names = U.names_by_id(story)
    rows: list[dict] = []
    paras = U.table(cand, "paragraphs")
    paras = paras[paras["kind"] == "text"]
    for s, e in zip(paras["start"].astype(int), paras["end"].astype(int)):
        narr = U.narration(candidate, s, e, U.quote_mask(cand, s, e))
        sig = _signals(narr, base.vocab, None, base.names)
        rows += _paragraph_insights(sig, base, s, e, min(min_words, 15), topic_threshold)
    # facts against the story's facts
    cf = U.table(cand, "facts").copy()
    if len(cf):
        cf["subject"] = cf["subject"].map(lambda c: idmap.get(str(c), "?" + str(c)))
        rows += _fact_contradictions(cf, names, reference=U.table(story, "facts"), system=SYSTEM)
    # dead characters acting: story deaths, candidate quotes and mentions
    dead = U.table(story, "characters")
    dead = set(dead.loc[dead["status"] == "dead", "character_id"].astype(str))
    if dead:
        shadow = _Shadow(cand, idmap, dead)
        rows += _dead_acts(shadow, names, system=SYSTEM)
    # voice of attributed candidate lines
    q = U.table(cand, "quotes")
    sq = U.table(story, "quotes")
    for r in q[q["speaker"].notna()].itertuples():
        cid = idmap.get(str(r.speaker))
        if cid is None:
            continue
        spk = Counter(U.words(" ".join(sq.loc[sq["speaker"] == cid, "text"].astype(str))))
        if sum(spk.values()) < 150:
            continue
        score, why = voice_line_score(str(r.text), spk, sum(spk.values()), base.vocab)
        if score >= voice_threshold:
            who = names.get(cid, cid)
            rows.append(U.insight(SYSTEM, "voice_drift", "important", score,
                                  f"Line unlike {who}'s voice",
                                  f"{why['novel']:.0%} of its content words are new to the story "
                                  f"and {why['speaker_new']:.0%} new to {who}.",
                                  int(r.start), int(r.end), [who],
                                  f"Rewrite the line in {who}'s usual vocabulary."))
    ins = schema.coerce("insights", rows)
    comp = {k: float(ins.loc[ins["kind"] == k, "severity"].max()) if (ins["kind"] == k).any()
            else 0.0 for k in ("pov_shift", "tense_shift", "topic_drift", "fact_contradiction",
                               "dead_character_acts", "voice_drift")}
    # soft topic signal even below the insight threshold
    allsig = _signals(U.narration(candidate, 0, len(candidate), U.quote_mask(cand, 0, len(candidate))),
                      base.vocab, None, base.names)
    comp["topic_soft"] = float(min(1.0, allsig.get("novel", 0.0) / max(topic_threshold, 1e-6)))
    score = 1.0 - float(np.prod([1.0 - 0.9 * v for k, v in comp.items() if k != "topic_soft"]))
    score = max(score, 0.5 * comp["topic_soft"])
    ins = ins.sort_values("severity", ascending=False).reset_index(drop=True)
    sugg = str(ins["suggestion"].iloc[0]) if len(ins) else "In keeping with the story."
    return DriftReport(round(min(score, 1.0), 4), ins, comp, sugg)


class _Shadow:
    """A candidate story seen with the main story's ids and death facts."""

    def __init__(self, cand: Any, idmap: dict[str, str], dead: set[str]) -> None:
        self.text = cand.text
        t = dict(cand.tables)
        q = t["quotes"].copy()
        q["speaker"] = q["speaker"].map(lambda c: idmap.get(str(c), c) if pd.notna(c) else c)
        m = t["mentions"].copy()
        m["character_id"] = m["character_id"].map(lambda c: idmap.get(str(c), str(c)))
        t["quotes"], t["mentions"] = q, m
        t["facts"] = pd.DataFrame({"subject": sorted(dead), "attribute": "death",
                                   "start": -1000, "end": -999})  # died before the candidate
        self.tables = t


def drift(story: Any, candidate: str | None = None, min_words: int = 40,
          topic_threshold: float = 0.34, voice_threshold: float = 0.5) -> Any:
    """Measure drift of a candidate continuation, or scan the story's own paragraphs.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story`.
    candidate
        Text to check against the story.  ``None`` scans the story itself and
        writes ``pov_shift``, ``tense_shift`` and ``topic_drift`` insights.
    min_words
        Paragraphs with fewer narration words are not judged.
    topic_threshold
        Share of never-seen content words (plus 0.05 per unknown name) that makes a
        ``topic_drift``.
    voice_threshold
        Minimum voice score of a ``voice_drift`` (candidate mode).

    Returns
    -------
    DriftReport or Story
        A report for a candidate, else the story with the drift insights written.
    """
    if candidate is not None:
        return _candidate(story, candidate, min_words, topic_threshold, voice_threshold)
    _scan_story(story, min_words, topic_threshold)
    U.record_params(story, SYSTEM, min_words=min_words, topic_threshold=topic_threshold,
                    voice_threshold=voice_threshold)
    return story
