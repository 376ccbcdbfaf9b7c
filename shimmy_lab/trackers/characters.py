"""Character consistency: voices, relationships, fact contradictions, dead characters.

Two public entries: :func:`compute` (pure: tables in, tables out) and :func:`characters`
(``tl.characters``: reads a story's tables, calls :func:`compute`, writes).  It reads
``quotes``, ``characters``, ``mentions``, ``facts``, ``sentences``, ``scenes``, ``names``
and ``chapters`` (:data:`INPUTS`) and writes

* ``voice`` -- a stylometric fingerprint per character from attributed dialogue
  (function-word profile, sentence and word length, punctuation, contractions,
  vocabulary) with the nearest other voice by a Burrows-Delta-like distance
  (:mod:`shimmy_lab.trackers.voice`);
* ``relationships`` -- co-presence in scenes, vocative address, sentiment;
* insights ``voice_drift`` (a line far from its speaker's voice: vocabulary the
  story never uses elsewhere, style unlike the speaker's and, with a scoring model,
  a line its context does not predict), ``fact_contradiction`` (a fact restated with
  an incompatible value) and ``dead_character_acts`` (a character the story has
  killed speaks or acts later, outside memory cues).
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..story.attributes import find_statements
from ..story.characters import TITLES
from ..story.pipeline import _resolver
from ..story.deaths import death_name, told_deaths
from . import _util as U
from . import fit as _fit
from . import schema
from . import voice as _voice
from .afterlife import dead_act_events
from .fit import fit_engine
from .systems import System
from .voice import MIN_VOICE_LINE_WORDS, VOICE_THRESHOLD, voice_drift_rows, voice_profiles

log = logging.getLogger(__name__)

__all__ = ["characters", "compute", "CharactersParams", "INPUTS"]

SYSTEM = "characters"
#: the tables :func:`compute` reads (besides the text)
INPUTS = ("quotes", "characters", "mentions", "facts", "sentences", "scenes", "names", "chapters")
#: attributes a character has one value of at a time (values that disagree conflict)
SINGLE_VALUED = ("eye_colour", "hair_colour", "age", "hair_amount", "height", "colouring", "family",
                 "beard_colour", "residence")
_SAME = [{"grey", "gray"}, {"fair", "blond", "blonde", "golden", "gold", "flaxen", "yellow", "light",
                            "sandy"}, {"red", "auburn", "ginger", "gold-red", "chestnut", "sandy",
                                       "carroty", "tawny"},
         {"white", "grey", "gray", "silver"}, {"black", "dark", "raven", "coal-black", "jet-black"},
         {"brown", "dark"}, {"brown", "chestnut"}, {"brown", "hazel"}, {"blue", "grey"},
         {"green", "hazel"}, {"dark", "hazel"}, {"blue", "violet"}, {"brown", "tawny"}]
#: hair colours that age brings to any hair: compatible with every colour
_GREYING = {"grey", "gray", "white", "silver", "iron-grey"}
_AGE_DROP, _AGE_RISE, _AGE_RISE_NEAR = 4, 10, 6
#: strong cues: a memory / flashback frame even from the sentence before
MEMORY_CUES = re.compile(
    r"\b(?:remember\w*|recall\w*|recollect\w*|memor\w+|dream\w*|ghost\w*|spirit|vision|"
    r"used to|years ago|long ago|in those days|before (?:his|her|their) death|"
    r"when (?:he|she) was alive|portrait|grave|the late|flashback|"
    r"imagin\w+|fancied|seemed to hear|had (?:once|often|always)|would often)\b", re.I)
#: weak cues (polysemous: "once" = one time, "would have" = a counterfactual; not "at
#: once", "once more", "having once": now, again, as soon as): they
#: frame an act only in its own sentence or the sentence before in the same paragraph;
#: a letter is a cue when it carries words ("in her letter", "a letter from"), not when
#: it is an object handed across a table
WEAK_CUES = re.compile(r"\b(?:(?<!\bat )(?<!\bhaving )once(?! more| again)|as if|would have|picture|always|often|"
                       r"in (?:his|her|their|a|the|that) letter|letters? (?:from|of)|wrote)\b", re.I)


def _age_range(v: str) -> tuple[int, int] | None:
    """'24' -> (24, 24); '46-50' -> (46, 50); anything else None."""
    parts = v.split("-")
    try:
        lo, hi = (int(parts[0]), int(parts[-1]))
    except ValueError:
        return None
    return (lo, hi) if len(parts) <= 2 else None


def _family_compatible(a: str, b: str, gap: int) -> bool:
    """Family facts, ``a`` told before ``b``, ``gap`` chapters apart."""
    kids_a = a.startswith(("children ", "sons ", "daughters "))
    kids_b = b.startswith(("children ", "sons ", "daughters "))
    wed = ("married", "married long")
    if {a, b} <= {"only child", "alone", "siblings"} and "siblings" in (a, b) and a != b:
        return False  # an only child / alone in the world, and a brother or sister
    if a in ("alone", "alone but siblings") and (b in wed or kids_b):
        return False
    if b in ("alone", "alone but siblings") and (a in wed or kids_a):
        return False
    if a in wed and b == "single" or a == "single" and b == "married long":
        return False  # a bachelor after a wife; a bachelor with years of marriage
    if a == "single" and b == "married":
        return gap > 0  # married since (a later chapter)
    if a == "single" and kids_b or kids_a and b == "single":
        return gap > 2 and a == "single"
    if "childless" in (a, b) and (kids_a or kids_b):
        return a == "childless" and gap > 2
    if kids_a and kids_b:
        if a.split()[0] != b.split()[0]:
            return True  # two sons among four children
        try:
            x, y = int(a.split()[1]), int(b.split()[1])
        except ValueError:
            return True
        return abs(y - x) < 2
    return True


def _compatible(attr: str, a: str, b: str, chapter_gap: int) -> bool:
    """Whether ``b`` (told later, ``chapter_gap`` chapters on) can hold beside ``a``."""
    if a == b:
        return True
    if attr == "age":
        x, y = _age_range(a), _age_range(b)
        if x is None or y is None:
            return True
        if y[1] < x[0]:
            return x[0] - y[1] < _AGE_DROP
        if y[0] > x[1]:
            return y[0] - x[1] < (_AGE_RISE_NEAR if chapter_gap < 3 else _AGE_RISE)
        return True
    if attr == "family":
        return _family_compatible(a, b, chapter_gap)
    if attr == "residence":  # a move ("now at Bath") or one place inside the other's name
        return a.startswith("now ") or b.startswith("now ") or a in b or b in a
    if attr in ("hair_amount", "height", "colouring"):
        return False  # two values each: bald / thick, tall / short, fair / dark
    if attr == "hair_colour" and ("colouring" in a or "colouring" in b):
        return _colouring_compatible(a, b)
    if attr in ("hair_colour", "beard_colour") and (a in _GREYING or b in _GREYING):
        return True
    return any(a in g and b in g for g in _SAME)


_FAIR_HAIR = {"fair", "blond", "blonde", "golden", "gold", "flaxen", "yellow"}
_BLACK_HAIR = {"black", "raven", "jet-black", "coal-black"}


def _colouring_compatible(a: str, b: str) -> bool:
    """A fair or dark person ('fair colouring') against a hair colour: a dark man with
    golden hair, a fair one with black hair, conflict (two colourings are compared as
    ``colouring``)."""
    if "colouring" in a and "colouring" in b:
        return True
    col, hair = (a, b) if "colouring" in a else (b, a)
    if col.startswith("dark"):
        return hair not in _FAIR_HAIR
    return hair not in _BLACK_HAIR


def _statement_rows(view: Any) -> list[dict]:
    """Attribute statements of :mod:`shimmy_lab.story.attributes` with their chapters
    (``view``: the text and tables, a :class:`~shimmy_lab.trackers._util.StoryView`)."""
    text = view.text
    nm = U.table(view, "names")
    resolve = _resolver({str(a): str(c) for a, c in zip(nm["surface"], nm["character_id"])
                         if pd.notna(c)}) if len(nm) else None
    sents = U.table(view, "sentences")
    m = U.table(view, "mentions")
    ch = U.table(view, "characters")
    q = U.table(view, "quotes")
    if not len(m) or not len(ch):
        return []
    gender = dict(zip(ch["character_id"].astype(str), ch["gender"].astype(object)))
    rows = find_statements(
        text, list(zip(sents["start"].astype(int), sents["end"].astype(int))),
        list(zip(m["start"].astype(int), m["end"].astype(int), m["character_id"].astype(str))),
        {k: (v if isinstance(v, str) else None) for k, v in gender.items()},
        sorted(zip(q["start"].astype(int), q["end"].astype(int))) if len(q) else [], resolve,
        aliases={str(c): str(a).split("|") for c, a in zip(ch["character_id"], ch["aliases"])})
    chs, chi = U.locator(view, "chapters", "chapter")
    for r in list(rows):
        k = bisect.bisect_right(chs, r["start"]) - 1
        r["chapter"] = chi[k] if k >= 0 else 0
        if r["attribute"] == "colouring":  # a fair / dark person is checked against hair too
            rows.append({**r, "attribute": "hair_colour", "value": f"{r['value']} colouring"})
    rows.sort(key=lambda r: r["start"])
    return rows


def _same_person(ch: pd.DataFrame) -> dict[str, str]:
    """Characters split by the name clusterer that are one person: a bare name
    ("Syme", "President") and the one character whose name ends with it ("Gabriel
    Syme", "the President").  Titled names ("Mr Martin") are left alone (``ch``: the
    ``characters`` table)."""
    if not len(ch):
        return {}
    ids, nms = ch["character_id"].astype(str).tolist(), ch["name"].astype(str).tolist()
    by_last: dict[str, list[str]] = defaultdict(list)
    for cid, nm in zip(ids, nms):
        if " " in nm:
            by_last[nm.split()[-1]].append(cid)
    out = {cid: by_last[nm][0] for cid, nm in zip(ids, nms)
           if " " not in nm and len(by_last.get(nm, [])) == 1}
    # "Miss Mary Morstan" and "Mary Morstan": a full name with and without a title, one gender
    gender = ch["gender"].astype(object).tolist()
    untitled = {nm: (cid, g) for cid, nm, g in zip(ids, nms, gender)
                if len(nm.split()) >= 2 and nm.split()[0] not in TITLES}
    for cid, nm, g in zip(ids, nms, gender):
        words = nm.split()
        if len(words) >= 3 and words[0] in TITLES:
            hit = untitled.get(" ".join(words[1:]))
            if hit and hit[0] != cid and isinstance(g, str) and g == hit[1]:
                out.setdefault(cid, hit[0])
    return out


def fact_contradiction_insights(facts: pd.DataFrame, names: dict[str, str],
                                reference: pd.DataFrame | None = None, system: str = SYSTEM,
                                statements: list[dict] | None = None, text: str = "",
                                same: dict[str, str] | None = None, flag_from: int = 0) -> list[dict]:
    """Facts restated with an incompatible value.

    Without ``reference``: every fact of ``facts`` (single-valued attributes) and every
    statement of ``statements`` (:func:`_statement_rows`) joins its character's profile
    in story order; a statement that conflicts with an earlier one of the same attribute
    is flagged at its own span, with the earlier one as evidence (at most one insight
    per character and attribute; two statements both inside dialogue do not count).
    Only statements at or after ``flag_from`` are flagged (a candidate read after its
    story: the story's own conflicts are not the candidate's).
    With ``reference``: each fact against the first fact of ``reference``."""
    if reference is not None:
        return _reference_contradictions(facts, reference, names, system)
    items = _profile_items(facts, statements or [])
    for r in items:
        r["subject"] = (same or {}).get(r["subject"], r["subject"])
    out: list[dict] = []
    spans: set[int] = set()
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    for r in items:
        by_key[(r["subject"], r["attribute"])].append(r)
    for (subj, attr), rows in by_key.items():
        for i, r in enumerate(rows):
            if r["in_quote"] or r["start"] < flag_from:
                continue  # a speaker's guess, opinion or lie is no statement of the story's
            bad = [e for e in rows[:i] if e["start"] != r["start"]
                   and not _compatible(attr, str(e["value"]), str(r["value"]),
                                       int(r["chapter"]) - int(e["chapter"]))]
            if not bad:
                continue
            if r["start"] in spans:
                break
            e = min(bad, key=lambda x: (x["in_quote"], x["how"] != "name", x["start"]))
            row = contradiction_row(subj, attr, str(e["value"]), int(e["start"]), str(r["value"]),
                                    int(r["start"]), int(r["end"]),
                                    int(r["chapter"]) - int(e["chapter"]), names, system,
                                    first_end=int(e["end"]), text=text)
            if row is not None:
                out.append(row)
                spans.add(r["start"])
                break
    return sorted(out, key=lambda x: x["start"])


def _profile_items(facts: pd.DataFrame, statements: list[dict]) -> list[dict]:
    """Facts and statements in story order, one per subject, attribute and place."""
    items = [dict(r) for r in statements]
    if len(facts):
        sib = facts[facts["attribute"].isin(["sister_of", "brother_of"])]
        for r in sib.itertuples():  # "Jane, Elizabeth's sister": both have a sibling
            for who in (r.subject, r.value_id):
                if isinstance(who, str):
                    items.append({"subject": who, "attribute": "family", "value": "siblings",
                                  "start": int(r.start), "end": int(r.end),
                                  "chapter": int(r.chapter), "in_quote": False, "how": "name"})
        f = facts[facts["attribute"].isin(SINGLE_VALUED)]
        for r in f.itertuples():
            items.append({"subject": r.subject, "attribute": r.attribute, "value": str(r.value),
                          "start": int(r.start), "end": int(r.end), "chapter": int(r.chapter),
                          "in_quote": False, "how": "name"})
    items.sort(key=lambda r: (r["start"], r["how"] != "name"))
    out: list[dict] = []
    last_end: dict[tuple, int] = {}
    for r in items:
        key = (r["subject"], r["attribute"], r["value"])
        if last_end.get(key, -1) > r["start"]:
            continue  # the same statement read twice
        last_end[key] = int(r["end"])
        out.append(r)
    return out


def _reference_contradictions(facts: pd.DataFrame, reference: pd.DataFrame,
                              names: dict[str, str], system: str) -> list[dict]:
    """Each fact of ``facts`` against the first fact of ``reference``."""
    out: list[dict] = []
    ref = reference[reference["attribute"].isin(SINGLE_VALUED)].sort_values("start")
    first: dict = {}
    for r in ref.itertuples():
        first.setdefault((r.subject, r.attribute), r)
    cand = facts[facts["attribute"].isin(SINGLE_VALUED)].sort_values("start")
    for r in cand.itertuples():
        f = first.get((r.subject, r.attribute))
        if f is None:
            continue
        gap = 0 if r.attribute == "age" else 99
        row = contradiction_row(r.subject, r.attribute, str(f.value), int(f.start), str(r.value),
                                int(r.start), int(r.end), gap, names, system)
        if row is not None:
            out.append(row)
    return out


def contradiction_row(subject: str, attribute: str, first: str, first_start: int, value: str,
                      start: int, end: int, gap: int, names: dict[str, str],
                      system: str = SYSTEM, first_end: int | None = None,
                      text: str = "") -> dict | None:
    """A ``fact_contradiction`` row when ``value`` is incompatible with ``first``.

    The row's span is the later statement ``[start, end)``; the message names the
    earlier one (its offsets and, with ``text``, its words)."""
    if _compatible(attribute, first, value, gap):
        return None
    who = names.get(subject, subject)
    attr = attribute.replace("_", " ")
    where = f"offset {first_start}" if first_end is None else f"offsets {first_start}-{first_end}"
    if text and first_end is not None:
        quoted = " ".join(text[first_start:first_end].split())
        where += f': "{quoted[:160]}"'
    now = f' in "{" ".join(text[start:end].split())[:160]}"' if text else ""
    return U.insight(
        system, "fact_contradiction", "critical", 0.9,
        f"{who}'s {attr}: {first} or {value}?",
        f"{who}'s {attr} was established as '{first}' ({where}) and is now "
        f"given as '{value}'{now}.", start, end, [who],
        f"Keep {who}'s {attr} '{first}', or make the change explicit in the story.")


def _death_positions(text: str, facts: pd.DataFrame,
                     q: pd.DataFrame) -> dict[str, list[tuple[int, int, str]]]:
    """The deaths the story tells, by character: ``(start, end, name form)``
    (:func:`shimmy_lab.story.deaths.told_deaths`: the narrator's, and reports of a
    burial or a killing in dialogue), from its text, ``facts`` and quotes ``q``."""
    d = facts[facts["attribute"] == "death"]
    if not len(d):
        return {}
    told = told_deaths(text, zip(d["subject"].astype(str), d["start"].astype(int),
                                 d["end"].astype(int), d["pattern"].astype(str)),
                       list(zip(q["start"].astype(int), q["end"].astype(int))))
    return {cid: [(s, e, death_name(text, s, e, p)) for s, e, p in ds]
            for cid, ds in told.items()}


def _memory_context(text: str, pos: int, sent_starts: list[int], sent_ends: list[int],
                    act_end: int | None = None) -> bool:
    """A memory cue around ``pos`` (sentences as sorted start / end lists; ``act_end``:
    the end of the act's own words, see :func:`memory_cue`)."""
    if not sent_starts:
        return memory_cue(text, pos, max(0, pos - 300), pos, pos + 200, act_end)
    k = max(bisect.bisect_right(sent_starts, pos) - 1, 0)
    return memory_cue(text, pos, sent_starts[max(k - 1, 0)], sent_starts[k], sent_ends[k], act_end)


_CLAUSE_END = re.compile(r"[,;:.!?]")


def memory_cue(text: str, pos: int, prev_start: int, cur_start: int, cur_end: int,
               act_end: int | None = None) -> bool:
    """A memory or flashback cue frames the act at ``pos``: a strong cue in its sentence
    or the one before, a weak cue in its sentence or the one before in the same paragraph.

    With ``act_end`` (the end of the act's own words, "Tom fancied"), those words are no
    cue (the dead man who *fancies* or *remembers* acts), and a weak cue after the act
    counts only in the act's own clause ("Tom said in his letter", not "Tom came in,
    and Ada read a letter from her sister").
    """
    hi = max(cur_end, pos + 1)
    skip = (pos, act_end) if act_end is not None else (hi, hi)
    if MEMORY_CUES.search(text, prev_start, skip[0]) or MEMORY_CUES.search(text, skip[1], hi):
        return True
    cur_start = min(cur_start, pos)
    lo = prev_start if "\n\n" not in text[prev_start:cur_start] else cur_start
    if act_end is None:
        return bool(WEAK_CUES.search(text, lo, hi))
    m = _CLAUSE_END.search(text, act_end, hi)
    return bool(WEAK_CUES.search(text, lo, pos) or WEAK_CUES.search(text, act_end, m.start() if m else hi))


def dead_act_rows(text: str, deaths: dict[str, Any], quotes: Iterable[tuple],
                  mentions: Iterable[tuple], sent_starts: list[int], sent_ends: list[int],
                  names: dict[str, str], system: str = SYSTEM, max_per: int = 1,
                  min_conf: float = 0.8) -> list[dict]:
    """``dead_character_acts`` rows from plain lists: the first act of a dead character
    after each of its deaths (:func:`shimmy_lab.trackers.afterlife.dead_act_events`),
    at most ``max_per`` per character.

    ``quotes`` are (start, end, speaker, confidence), ``mentions`` (start, end,
    character_id, in_quote); ``deaths`` maps a character to the offset of its death,
    or to a list of its deaths as (start, end, name form)."""
    ds = {str(c): ([(int(v), int(v), "")] if isinstance(v, (int, np.integer)) else list(v))
          for c, v in deaths.items()}
    framed = lambda pos, end=None: _memory_context(  # noqa: E731
        text, pos, sent_starts, sent_ends, end)
    events = dead_act_events(text, ds, quotes, mentions, sent_ends, min_conf, framed)
    out = []
    per: dict[str, int] = defaultdict(int)
    for s, e, cid, how, (d0, d1, _form) in events:
        if per[cid] >= max_per:
            continue
        per[cid] += 1
        who = names.get(cid, cid)
        told = " ".join(text[max(d0, 0):d1].split())
        told = f" ('{told[:120]}{'...' if len(told) > 120 else ''}')" if d0 >= 0 and told else ""
        out.append(U.insight(
            system, "dead_character_acts", "critical", 0.85 if how == "speaks" else 0.75,
            f"{who} {how} after dying",
            f"{who} died earlier (offset {d0}){told} but {how} here, with no memory or "
            "flashback cue nearby.", s, e, [who],
            f"Frame it as a memory or flashback, give the {'line' if how == 'speaks' else 'action'} "
            f"to another character, or revise {who}'s death."))
    return out


def dead_act_insights(view: Any, names: dict[str, str], system: str = SYSTEM,
                      max_per: int = 2, min_conf: float = 0.8) -> list[dict]:
    """Quotes and actions of characters after their death fact (the first after each
    death, at most ``max_per`` per character), from ``view``: the text and tables (a
    :class:`~shimmy_lab.trackers._util.StoryView`; a story reads the same).  Only deaths
    the story tells count (:func:`_death_positions`): a plain "he is dead" in dialogue
    may be rumour, threat or figure of speech.  A quote counts only with direct speaker
    evidence (``min_conf`` 0.8: a speech tag or a tagged quote in the same paragraph);
    turn-taking guesses are too weak for a dead speaker."""
    q = U.table(view, "quotes")
    deaths = _death_positions(view.text, U.table(view, "facts"), q)
    if not deaths:
        return []
    q = q[q["speaker"].astype(object).isin(list(deaths))]
    quotes = zip(q["start"].astype(int), q["end"].astype(int), q["speaker"].astype(str),
                 q["confidence"].astype(float))
    m = U.table(view, "mentions")
    m = m[m["character_id"].isin(list(deaths))]
    ments = zip(m["start"].astype(int), m["end"].astype(int), m["character_id"].astype(str),
                m["in_quote"].fillna(False).astype(bool))
    sents = U.table(view, "sentences")
    return dead_act_rows(view.text, deaths, quotes, ments, sents["start"].astype(int).tolist(),
                         sents["end"].astype(int).tolist(), names, system, max_per, min_conf)


def relationships(text: str, m: pd.DataFrame, scenes: pd.DataFrame, q: pd.DataFrame,
                  sents: pd.DataFrame) -> pd.DataFrame:
    """Pairs of characters: co-presence in scenes, addresses, sentiment (from the text and
    its ``mentions``, ``scenes``, ``quotes`` and ``sentences``)."""
    if not len(m):
        return pd.DataFrame()
    starts = m["start"].astype(int).to_numpy()
    sc_starts = np.asarray(scenes["start"].astype(int).tolist() or [0])
    scene_of = np.asarray(scenes["scene"].astype(int).tolist() or [0])[np.clip(np.searchsorted(sc_starts, starts, "right") - 1, 0, None)]
    ids = m["character_id"].astype(str).to_numpy()
    chap = m["chapter"].astype(int).to_numpy()
    main = set(pd.Series(ids).value_counts().loc[lambda s: s >= 3].index)
    pairs: dict[tuple[str, str], dict] = {}
    by_scene: dict[int, dict[str, int]] = defaultdict(dict)
    for cid, sc, s, ch in zip(ids, scene_of, starts, chap):
        if cid in main and cid not in by_scene[int(sc)]:
            by_scene[int(sc)][cid] = (int(s), int(ch))
    for sc, who in by_scene.items():
        for a, b in combinations(sorted(who), 2):
            p = pairs.setdefault((a, b), {"copresence": 0, "addresses": 0, "first": who[b]})
            p["copresence"] += 1
            p["first"] = min(p["first"], max(who[a], who[b]))
    q = q[q["speaker"].notna() & q["addressee"].notna()]
    for a, b in zip(q["speaker"].astype(str), q["addressee"].astype(str)):
        if a != b:
            key = tuple(sorted((a, b)))
            pairs.setdefault(key, {"copresence": 0, "addresses": 0, "first": (0, 0)})["addresses"] += 1
    # sentiment of sentences naming both
    lex = U.affect()
    sent_loc = (sents["start"].astype(int).tolist(), list(range(len(sents))))
    per_sent: dict[int, set] = defaultdict(set)
    for cid, s in zip(ids, starts):
        per_sent[U.unit_at(sent_loc, int(s))].add(cid)
    senti: dict[tuple[str, str], list[float]] = defaultdict(list)
    for si, who in per_sent.items():
        if len(who) < 2:
            continue
        r = sents.iloc[si]
        vals = [v[0] for w in U.words(text[int(r.start):int(r.end)])
                if (v := U.lemma_lookup(w, lex)) is not None]
        for a, b in combinations(sorted(who), 2):
            senti[(a, b)].append(float(np.mean(vals)) if vals else 0.0)
    rows = []
    for (a, b), p in pairs.items():
        s, ch = p["first"]
        rows.append({"source": a, "target": b, "copresence": p["copresence"],
                     "addresses": p["addresses"],
                     "sentiment": float(np.mean(senti[(a, b)])) if senti.get((a, b)) else np.nan,
                     "first_chapter": ch, "start": s, "end": s})
    df = pd.DataFrame(rows)
    return df.sort_values(["copresence", "addresses"], ascending=False) if len(df) else df


@dataclass(frozen=True)
class CharactersParams:
    """Parameters of :func:`characters` (see there)."""

    voice_threshold: float = VOICE_THRESHOLD
    min_quotes: int = 5
    min_voice_words: int = 150
    min_line_words: int = MIN_VOICE_LINE_WORDS
    voice_model: Any = None
    fit_threshold: float | None = None
    fit_context_tokens: int | None = None
    name_weight: float | None = None


def characters(story: Any, voice_threshold: float = CharactersParams.voice_threshold,
               min_quotes: int = CharactersParams.min_quotes,
               min_voice_words: int = CharactersParams.min_voice_words,
               min_line_words: int = CharactersParams.min_line_words,
               voice_model: Any = CharactersParams.voice_model,
               fit_threshold: float | None = CharactersParams.fit_threshold,
               fit_context_tokens: int | None = CharactersParams.fit_context_tokens,
               name_weight: float | None = CharactersParams.name_weight) -> Any:
    """Character consistency: ``voice`` and ``relationships`` tables plus insights.

    Reads the tables of :data:`INPUTS`, calls :func:`compute`, writes its output.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story`.
    voice_threshold
        Minimum :func:`~shimmy_lab.trackers.voice.voice_line_score` for a ``voice_drift``
        insight (without ``voice_model``).
    min_quotes
        Speakers with fewer attributed quotes are not checked for voice drift (quotes attributed
        at any confidence count; only lines attributed with confidence >= 0.6 are judged).
    min_voice_words
        Minimum words of dialogue for a character to get a ``voice`` row.
    min_line_words
        Lines with fewer words are not checked for voice drift.
    voice_model
        ``None`` (lexical voice check only), or a scoring engine, model id or
        ``"bundled"``: unusual lines are then also scored by how well the story before
        them predicts them (:func:`shimmy_lab.trackers.fit.line_fit`); slower
        (about 2-3 s per scored line on 2 cores with the bundled model) and better.
        :func:`shimmy_lab.analyze` passes the bundled model unless told otherwise.
        A model that cannot be loaded is logged and recorded in the parameters
        (``voice_model_error``); the lexical check then runs alone.
    fit_threshold
        Minimum combined score for a ``voice_drift`` insight with ``voice_model``
        (default :data:`shimmy_lab.trackers.voice.FIT_THRESHOLD`, read at call time).
    fit_context_tokens
        Tokens of story before a line the model stage reads (default
        :data:`shimmy_lab.trackers.fit.CONTEXT_TOKENS`).
    name_weight
        Added to a model-scored line that names a titled person the story mentions nowhere
        else (default :data:`shimmy_lab.trackers.voice.NAME_WEIGHT`).

    Returns
    -------
    Story
        The same story, with ``voice``, ``relationships`` and the ``characters``
        insights written (:func:`compute`), its parameters as run in
        ``story.uns["params"]["characters"]``.
    """
    params = CharactersParams(voice_threshold, min_quotes, min_voice_words, min_line_words, voice_model,
                              fit_threshold, fit_context_tokens, name_weight)
    return U.write(story, SYSTEM, compute(U.inputs(story, INPUTS), params), params)


def compute(tables: Mapping[str, Any],
            params: CharactersParams = CharactersParams()) -> dict[str, pd.DataFrame]:
    """Voices, relationships and the character insights of a text and its tables (pure).

    Parameters
    ----------
    tables : mapping
        The tables of :data:`INPUTS` (an absent one reads as empty) and the story text
        under ``"text"`` (:data:`shimmy_lab.trackers.systems.TEXT`).  Not modified.
    params : CharactersParams
        Its parameters (see :func:`characters`).  ``voice_model`` is one of them, as an
        engine or a model id (``"bundled"``): an id is loaded here through
        :func:`shimmy_lab.trackers.fit.fit_engine` (kept in the default lab), the one
        thing :func:`compute` reaches outside its arguments for.

    Returns
    -------
    dict of str to DataFrame
        ``"voice"``, ``"relationships"``, ``"insights"`` (``voice_drift``,
        ``fact_contradiction``, ``dead_character_acts``) and ``"params"``: the
        parameters as run, one row (the defaults of ``None`` fields read now, the voice
        model by name, ``voice_model_error`` when it could not be loaded).

    Examples
    --------
    >>> from shimmy_lab.trackers.characters import compute
    >>> out = compute({"text": ""})
    >>> sorted(out), len(out["voice"])
    (['insights', 'params', 'relationships', 'voice'], 0)
    """
    view = U.StoryView(tables)
    ran = _as_run(params)
    names = U.names_by_id(view)
    voice = schema.coerce("voice", voice_profiles(view, params.min_voice_words))
    rel = schema.coerce("relationships", relationships(
        view.text, U.table(view, "mentions"), U.table(view, "scenes"), U.table(view, "quotes"),
        U.table(view, "sentences")))
    rows = fact_contradiction_insights(U.table(view, "facts"), names, statements=_statement_rows(view),
                                       text=view.text, same=_same_person(U.table(view, "characters")))
    rows += dead_act_insights(view, names)
    engine, ran["voice_model_error"] = _voice_engine(params.voice_model)
    rows += voice_drift_rows(view, names, params.voice_threshold, params.min_quotes, SYSTEM,
                             params.min_line_words, engine, ran["fit_threshold"],
                             ran["fit_context_tokens"], ran["name_weight"])
    return {"voice": voice, "relationships": rel, "insights": U.insights_frame(SYSTEM, rows),
            "params": pd.DataFrame([ran])}


def _as_run(params: CharactersParams) -> dict[str, Any]:
    """The parameters recorded for a run: ``None`` fields as their defaults now, the voice
    model by name (``voice_model_error`` filled in by :func:`compute`)."""
    return {"voice_threshold": params.voice_threshold, "min_quotes": params.min_quotes,
            "min_voice_words": params.min_voice_words, "min_line_words": params.min_line_words,
            "voice_model": _model_name(params.voice_model), "voice_model_error": None,
            "fit_threshold": (_voice.FIT_THRESHOLD if params.fit_threshold is None
                              else float(params.fit_threshold)),
            "fit_context_tokens": (_fit.CONTEXT_TOKENS if params.fit_context_tokens is None
                                   else int(params.fit_context_tokens)),
            "name_weight": _voice.NAME_WEIGHT if params.name_weight is None else float(params.name_weight),
            "fit_reference_weight": _fit.REFERENCE_WEIGHT, "fit_reference_tokens": _fit.REFERENCE_TOKENS}


def _voice_engine(model: Any) -> tuple[Any, str | None]:
    """The engine of the voice model ``model`` (``None`` without one) and, when it cannot
    be loaded, why (the lexical check then runs alone)."""
    if model is None:
        return None, None
    try:
        return fit_engine(model), None
    except Exception as exc:  # the lexical check still runs
        error = f"{type(exc).__name__}: {exc}"
        log.warning("voice model %s unavailable, lexical voice check only: %s", _model_name(model), error)
        return None, error


def _model_name(model: Any) -> str | None:
    """How a voice model is recorded in the parameters (an engine by its model id)."""
    if model is None or isinstance(model, str):
        return model
    return str(getattr(model, "model_id", type(model).__name__))


#: the former private names (``trackers/drift.py`` imports ``_fact_contradictions``)
_fact_contradictions = fact_contradiction_insights
_dead_acts = dead_act_insights


#: the system in the registry (:mod:`shimmy_lab.trackers.systems`)
CHARACTERS = System("characters", characters, CharactersParams, tables=("voice", "relationships"),
                    compute=compute, rank=10)
