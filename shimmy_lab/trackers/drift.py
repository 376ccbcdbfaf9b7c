"""Drift stabilizer: how far text departs from the story's facts, voices, POV, tense, topic.

One public entry, :func:`drift` (``tl.drift``):

* ``drift(story)`` scans the story's own paragraphs against the rest of the story
  and writes ``pov_shift``, ``tense_shift`` and ``topic_drift`` insights: :func:`scan`,
  which reads the story's tables, calls the pure :func:`compute` (tables in, insights
  out) and writes;
* ``drift(story, candidate)`` checks a candidate continuation against the story and
  returns a :class:`DriftReport` (score in [0, 1], insights with offsets into the
  candidate), combining the signals above with the character checks of
  :mod:`~shimmy_lab.trackers.characters` (fact contradictions, dead characters who
  act, lines far from their speaker's voice).

Person and tense are judged per sentence of narration (quotes removed) against the
story's own baseline by :mod:`~shimmy_lab.trackers.person_tense`: a run of sentences in
the present tense or the first person, in a story told in the past tense and the third
person, with the span of those sentences.  Topic is judged per paragraph by
:mod:`~shimmy_lab.trackers.topic`: a paragraph that names none of the story's characters,
shares little with the text around it and brings much vocabulary of its own.

Both modes read the story against one baseline (:class:`_Baseline`: its vocabulary, the
person and tense of its narration, what the candidate reader needs), built once per text
and tables and kept in a small cache keyed by a hash of the text and the identity of the
tables it reads (:func:`_baseline_of`), so the checks of candidates after ``sl.analyze``
read the baseline its scan built.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..story.attributes import find_statements
from ..story.characters import scan_names
from ..story.dialogue import _Ctx, attribute, detect_style, find_quotes
from ..story.facts import extract_facts
from ..story.pipeline import _resolver
from ..story.segment import SegState, segment
from . import _util as U
from . import person_tense as PT
from . import schema
from . import topic as T
from .characters import (_death_positions, _fact_contradictions, _profile_items, _same_person,
                         _statement_rows, dead_act_rows)
from .systems import System
from .voice import MIN_VOICE_LINE_WORDS, TURN_METHODS, bigrams, voice_line_score

__all__ = ["drift", "scan", "compute", "DriftReport", "DriftParams", "INPUTS"]

SYSTEM = "drift"
#: the tables :func:`compute` and the candidate checks read (besides the text): those of
#: the story's baseline
INPUTS = ("names", "paragraphs", "sentences", "quotes", "mentions", "characters", "chapters", "facts")
#: baselines kept (the least recently used dropped first): one per text and tables
BASELINE_CACHE_SIZE = 8
#: a chapter's first paragraph shorter than this (characters) may be a summary or an
#: epigraph; its person and tense are not judged
SUMMARY_CHARS = 300
#: least lexical voice score of a candidate's line (:func:`~.voice.voice_line_score`).  A
#: little higher than the story's own threshold (:data:`~.voice.VOICE_THRESHOLD`): a
#: continuation's words are new against the story so far, not against the whole book, so
#: ordinary lines score higher (clean 300-word continuations, with inflections read as the
#: same word: 2 of 126 judged lines reach 0.62, the highest 0.64; 0.75 before that change)
CANDIDATE_VOICE_THRESHOLD = 0.65
#: characters of story before a candidate read with it for its statements (pronouns
#: in the candidate's first sentences refer to people named just before)
STATEMENT_CONTEXT = 3000


@dataclass(frozen=True)
class DriftParams:
    """Parameters of :func:`drift` (see there) other than ``candidate``."""

    min_words: int = 40
    topic_threshold: float = T.MIN_NOVEL
    voice_threshold: float = CANDIDATE_VOICE_THRESHOLD


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


def _is_verse(narr: str) -> bool:
    """Four or more short or indented lines: verse, whose words are not the narrator's."""
    lines = [ln for ln in narr.split("\n") if ln.strip()]
    return len(lines) >= 4 and sum(ln[:1].isspace() or len(ln) < 45 for ln in lines) > 0.6 * len(lines)


class _Baseline:
    """What the story is like: vocabulary, names, person and tense baselines, read from
    ``view`` (its text and the tables of :data:`INPUTS`, kept: the lazy parts read them)."""

    def __init__(self, view: U.StoryView) -> None:
        self.view = view
        text = view.text
        toks = U.words(text)
        self.vocab = Counter(toks)
        self.words = sum(self.vocab.values())
        nm = U.table(view, "names")
        self.narration = _read_narration(view, self.vocab)
        self.first = self.narration.base.first
        self.present = self.narration.base.present
        self.first_person = self.narration.first_person
        # what the light candidate reader needs (plain dicts, built once per story text)
        surf = {str(a): str(c) for a, c in zip(nm["surface"], nm["character_id"]) if pd.notna(c)}
        self.resolve = _resolver(surf)
        ch = U.table(view, "characters")
        self.char_names = dict(zip(ch["character_id"].astype(str), ch["name"].astype(str)))
        self.gender = {c: (g if pd.notna(g) else None)
                       for c, g in zip(ch["character_id"].astype(str), ch["gender"])}
        #: the deaths the story tells: character -> [(start, end, name form)]
        self.deaths = _death_positions(text, U.table(view, "facts"), U.table(view, "quotes"))
        # what the story says of its characters, for the candidate's statements to meet
        self.same = _same_person(ch)
        self.last_chapter = int(U.table(view, "chapters")["chapter"].max()) \
            if len(U.table(view, "chapters")) else 0
        self.aliases = {str(c): str(a).split("|") for c, a in zip(ch["character_id"], ch["aliases"])}
        tail = max(0, len(text) - STATEMENT_CONTEXT)
        se = U.table(view, "sentences")
        self.sentence_starts = se["start"].astype(int).tolist()
        self.sentence_ends = se["end"].astype(int).tolist()
        self.tail_sentences = [(a, b) for a, b in zip(self.sentence_starts, self.sentence_ends)
                               if a >= tail]
        me = U.table(view, "mentions")
        self.tail_mentions = [(int(a), int(b), str(c)) for a, b, c in
                              zip(me["start"], me["end"], me["character_id"]) if a >= tail]
        self.tail_quotes = [(a, b) for a, b in U.quote_mask(view, tail, len(text))]
        q = U.table(view, "quotes")
        q = q[q["speaker"].notna()]
        self.speaker_words: dict[str, Counter] = {}
        for cid, t in zip(q["speaker"].astype(str), q["text"].astype(str)):
            self.speaker_words.setdefault(cid, Counter()).update(U.words(t))
        self._told: dict[tuple, _StoryBaseline] = {}

    # read only when a candidate is checked (the story scan of sl.analyze needs neither)
    @cached_property
    def word_pairs(self) -> Counter:
        """Word pairs of the story (the voice check of candidate lines)."""
        return bigrams(U.words(self.view.text))

    @cached_property
    def lower_words(self) -> frozenset[str]:
        """Words the story writes in lower case (ordinary words, not names)."""
        return frozenset(re.findall(r"\b[a-z]+\b", self.view.text))

    @cached_property
    def profile(self) -> list[dict]:
        """The story's statements and single-valued facts in story order (see
        :func:`shimmy_lab.trackers.characters._profile_items`)."""
        return _profile_items(U.table(self.view, "facts"), _statement_rows(self.view))

    @cached_property
    def detected_style(self) -> str:
        """The quote style of the text, for a story whose reader recorded none."""
        return detect_style(self.view.text)

    def told(self, narrator: str | None, style: str | None) -> _StoryBaseline:
        """This baseline with what a story's reader recorded (the same object for the same
        values)."""
        key = (narrator, style)
        with _BASELINES_LOCK:
            if key not in self._told:
                self._told[key] = _StoryBaseline(self, narrator, style or self.detected_style)
            return self._told[key]


class _StoryBaseline:
    """A :class:`_Baseline` (its attributes read through) with what the story's reader
    recorded in ``uns["params"]``: ``narrator`` (the first-person narrator's id, ``None``
    in a third-person story) and ``style`` (the quote style)."""

    def __init__(self, base: _Baseline, narrator: str | None, style: str) -> None:
        self.base, self.narrator, self.style = base, narrator, style

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)


def _read_narration(view: Any, vocab: Counter) -> PT.Narration:
    """Person and tense of the story's narration, sentence by sentence (see
    :mod:`~shimmy_lab.trackers.person_tense`).  Only sentences of text paragraphs are read,
    and not those of a short first paragraph of a chapter (a summary or an epigraph:
    "In which Anne visits her sister")."""
    nm = U.table(view, "names")
    people = nm["character_id"].notna()
    if "person" in nm:
        people |= nm["person"].fillna(0).astype(int) > 0
    names = {w for s in nm.loc[people, "surface"].astype(str) for w in s.split()
             if w[:1].isupper()}
    p = U.table(view, "paragraphs")
    p = p[p["kind"] == "text"]
    first = p.groupby("chapter", sort=False).head(1)
    short = first[(first["end"] - first["start"]) < SUMMARY_CHARS]
    keep = set(p["paragraph"].astype(int)) - set(short["paragraph"].astype(int))
    se = U.table(view, "sentences")
    se = se[se["paragraph"].astype(int).isin(keep)]
    qt = U.table(view, "quotes")
    return PT.read_story(
        view.text, zip(qt["start"].astype(int).tolist(), qt["end"].astype(int).tolist()),
        zip(se["start"].astype(int).tolist(), se["end"].astype(int).tolist(),
            se["paragraph"].astype(int).tolist()), vocab, names)


#: (hash of the text, its length, the id of each table of INPUTS or None) -> baseline, a
#: bounded LRU.  An entry's baseline holds its text and tables, so no id of its key can be
#: another object's while it lives (a new text or a table replaced is another key), and a
#: hit is checked against its text (equal strings: no hash collision is taken for a hit)
_BASELINES: OrderedDict[tuple, _Baseline] = OrderedDict()
_BASELINES_LOCK = threading.RLock()


def _baseline_key(tables: Mapping[str, Any]) -> tuple:
    """The cache key of the baseline of ``tables`` (the text under :data:`~._util.TEXT`:
    ``hash`` of a ``str`` is computed once and kept by the string, so a lookup is cheap)."""
    text = str(tables.get(U.TEXT, ""))
    return (hash(text), len(text), *(id(tables[n]) if n in tables else None for n in INPUTS))


def _baseline_of(tables: Mapping[str, Any]) -> _Baseline:
    """The baseline of a text and its tables (the mapping a ``compute`` takes), read once
    per text and tables (at most :data:`BASELINE_CACHE_SIZE` kept)."""
    key, text = _baseline_key(tables), str(tables.get(U.TEXT, ""))
    with _BASELINES_LOCK:
        hit = _BASELINES.get(key)
        if hit is not None and hit.view.text == text:
            _BASELINES.move_to_end(key)
            return hit
    own = {n: tables[n] for n in INPUTS if n in tables}  # what the baseline reads and keeps
    b = _Baseline(U.StoryView({U.TEXT: text, **own}))
    with _BASELINES_LOCK:
        hit = _BASELINES.get(key)
        if hit is not None and hit.view.text == text:  # another thread read it meanwhile
            b = hit
        _BASELINES[key] = b
        _BASELINES.move_to_end(key)
        while len(_BASELINES) > BASELINE_CACHE_SIZE:
            _BASELINES.popitem(last=False)
    return b


def _baseline(story: Any) -> _StoryBaseline:
    """The baseline of ``story`` (the one its scan read, while cached) with its reader's
    narrator and quote style."""
    params = story.uns.get("params", {})
    return _baseline_of(U.inputs(story, INPUTS)).told(params.get("narrator"), params.get("quote_style"))


def _topic_rows(text: str, s: int, e: int, narr: str, base: _Baseline, exclude: Counter | None,
                mentions: int, min_words: int, min_novel: float, told: bool = False) -> list[dict]:
    """The ``topic_drift`` row of paragraph ``text[s:e]``, if :mod:`.topic` judges it unrelated
    (a continuation of the story when ``exclude`` is ``None``: the paragraph is not in it;
    ``told``: it is told in the story's tense)."""
    if len(U.words(narr)) < min_words or _is_verse(narr) or base.words < 2000:
        return []
    sig = T.topic_signals(text, s, e, narr, base.vocab, exclude, mentions)
    sig["told"] = told
    unrelated = T.is_unrelated(sig, min_novel, continuation=exclude is None)
    return [T.topic_row(sig, s, e, SYSTEM)] if unrelated else []


def _scan_rows(view: U.StoryView, base: _Baseline, min_words: int, min_novel: float) -> list[dict]:
    """The ``pov_shift``, ``tense_shift`` and ``topic_drift`` rows of the story's own paragraphs."""
    text = view.text
    p = U.table(view, "paragraphs")
    p = p[p["kind"] == "text"]
    m = U.table(view, "mentions").sort_values("start")
    ms = m["start"].to_numpy(dtype=np.int64)
    mid = m["character_id"].astype(str).tolist()
    total = Counter(mid)
    rows = []
    for s, e in zip(p["start"].astype(int), p["end"].astype(int)):
        narr = U.narration(text, s, e, U.quote_mask(view, s, e))
        # the story's characters: people it names outside this paragraph too (a paragraph
        # from another book brings people of its own, whom the reader takes for characters)
        here = Counter(mid[int(np.searchsorted(ms, s)):int(np.searchsorted(ms, e))])
        named = sum(n for cid, n in here.items() if total[cid] > n)
        rows += _topic_rows(text, s, e, narr, base, Counter(U.words(text[s:e])), named,
                            min_words, min_novel)
    rows += PT.insight_rows(SYSTEM, base.narration, base.narration.runs)
    return rows


def compute(tables: Mapping[str, Any], params: DriftParams = DriftParams()) -> dict[str, pd.DataFrame]:
    """The drift of the story's own paragraphs: person, tense and topic (pure).

    Parameters
    ----------
    tables : mapping
        The tables of :data:`INPUTS` (an absent one reads as empty) and the story text
        under ``"text"`` (:data:`shimmy_lab.trackers.systems.TEXT`).  Not modified; the
        baseline read from them is cached (see :func:`_baseline_of`), so the candidate
        checks of the same story reuse it.
    params : DriftParams
        Its parameters (see :func:`drift`; ``voice_threshold`` is for candidates only).

    Returns
    -------
    dict of str to DataFrame
        ``"insights"``: the ``pov_shift``, ``tense_shift`` and ``topic_drift`` insights.

    Examples
    --------
    >>> from shimmy_lab.trackers.drift import compute
    >>> out = compute({"text": ""})
    >>> sorted(out), len(out["insights"])
    (['insights'], 0)
    """
    view = U.StoryView(tables)
    rows = _scan_rows(view, _baseline_of(tables), params.min_words, params.topic_threshold)
    return {"insights": U.insights_frame(SYSTEM, rows)}


_EMPTY: list[pd.DataFrame] = []


def _empty_insights() -> pd.DataFrame:
    if not _EMPTY:
        _EMPTY.append(schema.coerce("insights", []))
    return _EMPTY[0].copy()


def _stranger(surface: str, lower: frozenset[str]) -> bool:
    """Whether a name the story has no character for is a person's (a man or woman the
    candidate names): not "the Major" (a rank the statement reader resolves itself), not
    an ordinary word capitalised at a sentence start ("Standing": the story writes it
    in lower case)."""
    words = surface.split()
    if not words or words[0].lower() == "the":
        return False
    return len(words) > 1 or words[0].lower() not in lower


def _read_candidate(base: _Baseline, candidate: str) -> dict:
    """Read a candidate with plain Python: paragraphs, sentences, quotes (attributed with
    the story's characters), mentions and facts -- no pandas tables."""
    seg = segment(candidate, 0, SegState())
    paras = seg["paragraphs"]
    quotes = find_quotes(candidate, paras, base.style)
    spans = [(q["start"], q["end"]) for q in quotes]
    ments, others = [], []
    for c in scan_names(candidate, 0, len(candidate), spans):
        cid = base.resolve(c["surface"])
        if cid is not None:
            ments.append((c["start"], c["end"], cid, bool(c["in_quote"])))
        elif (c.get("male") or c.get("female")) and _stranger(c["surface"], base.lower_words):
            others.append((c["start"], c["end"], "?" + " ".join(c["surface"].split()),
                           "male" if c.get("male") else "female"))
    narr = [(s, cid) for s, _, cid, inq in ments if not inq]
    ctx = _Ctx(base.resolve, base.gender, base.char_names, [s for s, _ in narr],
               [c for _, c in narr], narrator=base.narrator)
    attribute(candidate, quotes, {p["paragraph"]: p for p in paras}, ctx, [])
    facts = extract_facts(candidate, 0, len(candidate), base.resolve, [0], [0])
    return {"paragraphs": paras, "sentences": seg["sentences"], "quotes": quotes,
            "spans": spans, "mentions": ments, "others": others, "facts": facts}


class _Sum:
    """Two counts read as one (``get`` only): the story's and the candidate's."""

    def __init__(self, a: Counter, b: Counter) -> None:
        self.a, self.b = a, b

    def get(self, key: Any, default: int = 0) -> int:
        return self.a.get(key, 0) + self.b.get(key, 0)


def _candidate_contradictions(story: Any, base: _Baseline, cand: dict, candidate: str,
                              names: dict[str, str]) -> list[dict]:
    """``fact_contradiction`` rows of the candidate's statements against the story's.

    The candidate is read for statements (:func:`shimmy_lab.story.attributes.find_statements`)
    after the last :data:`STATEMENT_CONTEXT` characters of the story, then the story's
    statements and facts and the candidate's meet in one profile per character, as
    :func:`shimmy_lab.trackers.characters.characters` does for a whole story; only
    conflicts at the candidate's statements are kept, with offsets into the candidate.
    """
    text = story.text
    off = len(text) + 2
    whole = text + "\n\n" + candidate
    gender = {k: (v if isinstance(v, str) else None) for k, v in base.gender.items()}
    # people the story has no character for are named too: a "his" after one of them is
    # theirs, not the last character's ("the Marquis sat there, his beard black")
    gender.update({cid: g for _, _, cid, g in cand["others"]})
    sents = base.tail_sentences + [(int(x["start"]) + off, int(x["end"]) + off) for x in cand["sentences"]]
    ments = base.tail_mentions + sorted([(s + off, e + off, cid) for s, e, cid, _ in cand["mentions"]]
                                        + [(s + off, e + off, cid) for s, e, cid, _ in cand["others"]])
    quotes = base.tail_quotes + [(s + off, e + off) for s, e in cand["spans"]]
    found = find_statements(whole, sents, ments, gender, quotes, base.resolve, start=off,
                            aliases=base.aliases)
    for r in found:
        r["chapter"] = base.last_chapter
    facts = pd.DataFrame(cand["facts"])
    if len(facts):
        facts = facts.assign(start=facts["start"] + off, end=facts["end"] + off,
                             chapter=base.last_chapter)
    rows = _fact_contradictions(facts, names, system=SYSTEM, statements=base.profile + found,
                                text=whole, same=base.same, flag_from=off)
    return [{**r, "start": r["start"] - off, "end": r["end"] - off,
             "insight_id": f"{SYSTEM}-fact_contradiction-{r['start'] - off}"}
            for r in rows if r["start"] >= off]


def _candidate(story: Any, candidate: str, min_words: int, min_novel: float,
               voice_threshold: float) -> DriftReport:
    base = _baseline(story)
    cand = _read_candidate(base, candidate)
    names = base.char_names
    spans = cand["spans"]
    rows: list[dict] = []
    # a candidate paragraph is compared with the end of the story and the rest of the candidate
    tail = story.text[-T.WINDOW:] + "\n\n"
    around = tail + candidate
    sent_rows = [(x["start"], x["end"], x["paragraph"]) for x in cand["sentences"]]
    marked = PT.mark_candidate(base.narration, candidate, spans, sent_rows)
    # a paragraph told in the story's own past tense is narration: the story describing
    # a place or a scene it has not shown yet
    told = PT.past_paragraphs(marked) if base.narration.judges("present") else set()
    for p in cand["paragraphs"]:
        if p["kind"] != "text":
            continue
        s, e = int(p["start"]), int(p["end"])
        narr = U.narration(candidate, s, e, [(a, b) for a, b in spans if b > s and a < e])
        named = sum(s <= m[0] < e for m in cand["mentions"])
        for r in _topic_rows(around, s + len(tail), e + len(tail), narr, base, None, named,
                             min(min_words, 15), min_novel, p["paragraph"] in told):
            rows.append({**r, "start": s, "end": e, "insight_id": f"{SYSTEM}-topic_drift-{s}"})
    # person and tense of the candidate's sentences against the story's
    rows += PT.insight_rows(SYSTEM, base.narration, PT.check_text(
        base.narration, candidate, spans, sent_rows, marked))
    rows += _candidate_contradictions(story, base, cand, candidate, names)
    # dead characters acting: the story's deaths, the candidate's quotes and mentions
    if base.deaths:
        off = len(story.text) + 2
        sents = cand["sentences"]
        acts = dead_act_rows(story.text + "\n\n" + candidate, base.deaths,
                             [(q["start"] + off, q["end"] + off, q["speaker"], q["confidence"])
                              for q in cand["quotes"] if q["speaker"]],
                             [(s + off, e + off, cid, inq) for s, e, cid, inq in cand["mentions"]],
                             base.sentence_starts + [x["start"] + off for x in sents],
                             base.sentence_ends + [x["end"] + off for x in sents], names, SYSTEM)
        rows += [{**r, "start": r["start"] - off, "end": r["end"] - off,
                  "insight_id": f"{SYSTEM}-dead_character_acts-{r['start'] - off}"}
                 for r in acts if r["start"] >= off]
    # voice of attributed candidate lines: a word or word pair the candidate uses outside
    # the line is no more new than one the story uses (as the story's own lines are judged)
    ctoks = U.words(candidate)
    words_seen, pairs_seen = _Sum(base.vocab, Counter(ctoks)), _Sum(base.word_pairs, bigrams(ctoks))
    for q in cand["quotes"]:
        cid = q["speaker"]
        spk = base.speaker_words.get(cid) if cid else None
        if spk is None or sum(spk.values()) < 150 or q["confidence"] < 0.6 or q["method"] in TURN_METHODS:
            continue
        line = U.words(str(q["text"]))
        if len(line) < MIN_VOICE_LINE_WORDS:
            continue
        own = Counter(line)  # taken out of every count below, so it is counted in each first
        score, why = voice_line_score(str(q["text"]), _Sum(spk, own), sum(spk.values()) + len(line),
                                      words_seen, own, pairs_seen)
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
    whole = U.narration(candidate, 0, len(candidate), spans)
    soft = T.topic_signals(around, len(tail), len(around), whole, base.vocab, None, 0)["novel"]
    comp["topic_soft"] = float(min(1.0, soft / max(min_novel, 1e-6)))
    score = 1.0 - float(np.prod([1.0 - 0.9 * v for k, v in comp.items() if k != "topic_soft"]))
    score = max(score, 0.5 * comp["topic_soft"])
    rows.sort(key=lambda r: -r["severity"])
    ins = schema.coerce("insights", rows) if rows else _empty_insights()
    sugg = str(rows[0]["suggestion"]) if rows else "In keeping with the story."
    return DriftReport(round(min(score, 1.0), 4), ins, comp, sugg)


def drift(story: Any, candidate: str | None = None, min_words: int = DriftParams.min_words,
          topic_threshold: float = DriftParams.topic_threshold,
          voice_threshold: float = DriftParams.voice_threshold) -> Any:
    """Measure drift of a candidate continuation, or scan the story's own paragraphs.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story`.
    candidate
        Text to check against the story.  ``None`` scans the story itself and
        writes ``pov_shift``, ``tense_shift`` and ``topic_drift`` insights (:func:`scan`).
    min_words
        Paragraphs with fewer narration words are not judged.
    topic_threshold
        Least share of content words the story never uses elsewhere in a ``topic_drift``
        paragraph (which must also name none of the story's characters and share little
        with the text around it: :func:`shimmy_lab.trackers.topic.is_unrelated`).
    voice_threshold
        Minimum voice score of a ``voice_drift`` (candidate mode; see
        :data:`CANDIDATE_VOICE_THRESHOLD`).

    Returns
    -------
    DriftReport or Story
        A report for a candidate, else the story with the drift insights written.
    """
    if candidate is not None:
        return _candidate(story, candidate, min_words, topic_threshold, voice_threshold)
    return scan(story, min_words, topic_threshold, voice_threshold)


def scan(story: Any, min_words: int = DriftParams.min_words,
         topic_threshold: float = DriftParams.topic_threshold,
         voice_threshold: float = DriftParams.voice_threshold) -> Any:
    """``drift(story)``: scan the story's own paragraphs (the system's story function).

    Reads the tables of :data:`INPUTS`, calls :func:`compute`, writes its insights and
    records the parameters in ``story.uns["params"]["drift"]``.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story`.
    min_words, topic_threshold, voice_threshold
        As for :func:`drift`.

    Returns
    -------
    Story
        The story with the drift insights written.
    """
    params = DriftParams(min_words, topic_threshold, voice_threshold)
    return U.write(story, SYSTEM, compute(U.inputs(story, INPUTS), params), params)


#: the system in the registry (:mod:`shimmy_lab.trackers.systems`): its story function is
#: :func:`scan` (``drift`` without a candidate), its parameters those of both modes
DRIFT = System("drift", scan, DriftParams, compute=compute, rank=20)
