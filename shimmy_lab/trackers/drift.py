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
from .characters import SINGLE_VALUED, contradiction_row, dead_act_rows
from .voice import MIN_VOICE_LINE_WORDS, bigrams, voice_line_score

__all__ = ["drift", "DriftReport"]

SYSTEM = "drift"
FIRST = frozenset("i me my mine myself we us our ours ourselves".split())
SECOND = frozenset("you your yours yourself yourselves".split())
THIRD = frozenset("he him his himself she her hers herself they them their".split())
PRESENT = frozenset("is are am has does says goes comes sees knows thinks looks seems feels "
                    "takes makes gives stands sits walks turns tells asks wants can will "
                    "means begins becomes brings holds keeps leaves gets finds hears runs "
                    "speaks writes rises falls lies chooses shows tries "
                    "isn't aren't doesn't don't hasn't won't can't".split())
PAST = frozenset("was were had did said went came saw knew thought looked seemed felt took "
                 "made gave stood sat walked turned told asked wanted could would wasn't "
                 "meant began became brought held kept left got found heard ran "
                 "spoke wrote rose fell lay chose showed tried "
                 "weren't didn't hadn't couldn't wouldn't".split())
_PRON_VERB = re.compile(r"\b(?:he|she|it)\s+([a-z]+)\b")
# a name inside a sentence followed by a verb: "Anne belongs", "Anne walked"
_NAME_VERB = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+\s+([a-z]{3,})\b")
_NOT_VERBS = frozenset("always perhaps sometimes besides nevertheless towards afterwards "
                       "was has is his its thus unless less yes as us this".split())
POV_RATE, POV_RATIO = 0.02, 0.7
ADDRESS_YOU = 2
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
    for v in [m.group(1) for m in _PRON_VERB.finditer(narr.lower())] + \
            [m.group(1) for m in _NAME_VERB.finditer(narr)]:
        if v in PRESENT or v in PAST or v in _NOT_VERBS:
            continue
        if v.endswith("ed"):
            past += 1
        elif v.endswith("s") and not v.endswith(("ss", "us", "is", "ous")):
            pres += 1
    lines = [ln for ln in narr.split("\n") if ln.strip()]
    verse = len(lines) >= 4 and sum(ln[:1].isspace() or len(ln) < 45 for ln in lines) > 0.6 * len(lines)
    you = sum(t in SECOND for t in toks)
    out = {"verse": verse, "n": n, "n_you": you, "first": first / max(n, 1), "n_first": first, "third": third / max(n, 1),
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
        toks = U.words(text)
        self.vocab = Counter(toks)
        self.bigrams = bigrams(toks)
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
        # what the light candidate reader needs (plain dicts, built once per story text)
        from ..story.dialogue import detect_style
        from ..story.pipeline import _resolver

        surf = {str(a): str(c) for a, c in zip(nm["surface"], nm["character_id"]) if pd.notna(c)}
        self.resolve = _resolver(surf)
        ch = U.table(story, "characters")
        self.char_names = dict(zip(ch["character_id"].astype(str), ch["name"].astype(str)))
        self.gender = dict(zip(ch["character_id"].astype(str), ch["gender"]))
        self.dead = set(ch.loc[ch["status"] == "dead", "character_id"].astype(str))
        self.style = story.uns.get("params", {}).get("quote_style") or detect_style(text)
        f = U.table(story, "facts")
        f = f[f["attribute"].isin(SINGLE_VALUED)].sort_values("start", kind="stable")
        self.first_fact: dict[tuple[str, str], tuple[str, int]] = {}
        for subj, attr, val, st in zip(f["subject"].astype(str), f["attribute"].astype(str),
                                       f["value"].astype(str), f["start"].astype(int)):
            self.first_fact.setdefault((subj, attr), (val, int(st)))
        q = U.table(story, "quotes")
        q = q[q["speaker"].notna()]
        self.speaker_words: dict[str, Counter] = {}
        for cid, t in zip(q["speaker"].astype(str), q["text"].astype(str)):
            self.speaker_words.setdefault(cid, Counter()).update(U.words(t))


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
    # narration that addresses "you" (a letter, a speech, a preface, an aside to the
    # reader) is not a slip of the narrator's person or tense
    address = sig.get("n_you", 0) >= ADDRESS_YOU
    if not address and not base.first_person and sig["first"] >= POV_RATE and sig["n_first"] >= 3 \
            and sig["first"] > POV_RATIO * sig["third"]:
        sev = min(1.0, sig["first"] / 0.06)
        out.append(U.insight(SYSTEM, "pov_shift", "important", sev,
                             "Narration switches to the first person",
                             f"{sig['n_first']} first-person pronouns in narration while the "
                             "story is told in the third person.", s, e, [],
                             "Keep the narrator in the third person (he/she, not I/we)."))
    if not address and base.present <= 0.4 and sig["n_tense"] >= 5 and sig["present"] >= 0.65:
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


_EMPTY: list[pd.DataFrame] = []


def _empty_insights() -> pd.DataFrame:
    if not _EMPTY:
        _EMPTY.append(schema.coerce("insights", []))
    return _EMPTY[0].copy()


def _read_candidate(base: _Baseline, candidate: str) -> dict:
    """Read a candidate with plain Python: paragraphs, sentences, quotes (attributed with
    the story's characters), mentions and facts -- no pandas tables."""
    from ..story.characters import scan_names
    from ..story.dialogue import _Ctx, attribute, find_quotes
    from ..story.facts import extract_facts
    from ..story.segment import SegState, segment

    seg = segment(candidate, 0, SegState())
    paras = seg["paragraphs"]
    quotes = find_quotes(candidate, paras, base.style)
    spans = [(q["start"], q["end"]) for q in quotes]
    ments = []
    for c in scan_names(candidate, 0, len(candidate), spans):
        cid = base.resolve(c["surface"])
        if cid is not None:
            ments.append((c["start"], c["end"], cid, bool(c["in_quote"])))
    narr = [(s, cid) for s, _, cid, inq in ments if not inq]
    ctx = _Ctx(base.resolve, base.gender, base.char_names, [s for s, _ in narr],
               [c for _, c in narr])
    attribute(candidate, quotes, {p["paragraph"]: p for p in paras}, ctx, [])
    facts = extract_facts(candidate, 0, len(candidate), base.resolve, [0], [0])
    return {"paragraphs": paras, "sentences": seg["sentences"], "quotes": quotes,
            "spans": spans, "mentions": ments, "facts": facts}


def _candidate(story: Any, candidate: str, min_words: int, topic_threshold: float,
               voice_threshold: float) -> DriftReport:
    base = _baseline(story)
    cand = _read_candidate(base, candidate)
    names = base.char_names
    spans = cand["spans"]
    rows: list[dict] = []
    for p in cand["paragraphs"]:
        if p["kind"] != "text":
            continue
        s, e = int(p["start"]), int(p["end"])
        narr = U.narration(candidate, s, e, [(a, b) for a, b in spans if b > s and a < e])
        sig = _signals(narr, base.vocab, None, base.names)
        rows += _paragraph_insights(sig, base, s, e, min(min_words, 15), topic_threshold)
    # facts against the story's first statement of each
    for f in cand["facts"]:
        first = base.first_fact.get((str(f["subject"]), f["attribute"]))
        if first is None:
            continue
        gap = 0 if f["attribute"] == "age" else 99
        row = contradiction_row(str(f["subject"]), f["attribute"], first[0], first[1],
                                str(f["value"]), f["start"], f["end"], gap, names, SYSTEM)
        if row is not None:
            rows.append(row)
    # dead characters acting: story deaths, candidate quotes and mentions
    if base.dead:
        sents = cand["sentences"]
        rows += dead_act_rows(candidate, {c: -1000 for c in base.dead},  # died before it
                              [(q["start"], q["end"], q["speaker"], q["confidence"])
                               for q in cand["quotes"] if q["speaker"]],
                              cand["mentions"], [x["start"] for x in sents],
                              [x["end"] for x in sents], names, SYSTEM)
    # voice of attributed candidate lines
    for q in cand["quotes"]:
        cid = q["speaker"]
        spk = base.speaker_words.get(cid) if cid else None
        if spk is None or sum(spk.values()) < 150:
            continue
        if len(U.words(str(q["text"]))) < MIN_VOICE_LINE_WORDS:
            continue
        score, why = voice_line_score(str(q["text"]), spk, sum(spk.values()), base.vocab,
                                      None, base.bigrams)
        if score >= voice_threshold:
            who = names.get(cid, cid)
            rows.append(U.insight(SYSTEM, "voice_drift", "important", score,
                                  f"Line unlike {who}'s voice",
                                  f"{why['novel']:.0%} of its content words are new to the story "
                                  f"and {why['speaker_new']:.0%} new to {who}.",
                                  int(q["start"]), int(q["end"]), [who],
                                  f"Rewrite the line in {who}'s usual vocabulary."))
    comp = {k: 0.0 for k in ("pov_shift", "tense_shift", "topic_drift", "fact_contradiction",
                             "dead_character_acts", "voice_drift")}
    for r in rows:
        comp[r["kind"]] = max(comp[r["kind"]], float(r["severity"]))
    # soft topic signal even below the insight threshold
    allsig = _signals(U.narration(candidate, 0, len(candidate), spans), base.vocab, None,
                      base.names)
    comp["topic_soft"] = float(min(1.0, allsig.get("novel", 0.0) / max(topic_threshold, 1e-6)))
    score = 1.0 - float(np.prod([1.0 - 0.9 * v for k, v in comp.items() if k != "topic_soft"]))
    score = max(score, 0.5 * comp["topic_soft"])
    rows.sort(key=lambda r: -r["severity"])
    ins = schema.coerce("insights", rows) if rows else _empty_insights()
    sugg = str(rows[0]["suggestion"]) if rows else "In keeping with the story."
    return DriftReport(round(min(score, 1.0), 4), ins, comp, sugg)


def drift(story: Any, candidate: str | None = None, min_words: int = 40,
          topic_threshold: float = 0.34, voice_threshold: float = 0.62) -> Any:
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
