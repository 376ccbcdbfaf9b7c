"""Character consistency: voices, relationships, fact contradictions, dead characters.

One public entry, :func:`characters`.  It reads ``quotes``, ``characters``,
``mentions``, ``facts``, ``sentences`` and ``scenes`` and writes

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
from itertools import combinations
from typing import Any, Iterable

import numpy as np
import pandas as pd

from . import _util as U
from . import fit as _fit
from .fit import fit_engine
from . import voice as _voice
from .voice import MIN_VOICE_LINE_WORDS, VOICE_THRESHOLD, voice_drift_rows, voice_profiles

log = logging.getLogger(__name__)

__all__ = ["characters"]

SYSTEM = "characters"
SINGLE_VALUED = ("eye_colour", "hair_colour", "age")
_SAME = [{"grey", "gray"}, {"fair", "blond", "blonde", "golden", "flaxen", "yellow", "light",
                            "sandy"}, {"red", "auburn", "ginger", "gold-red", "chestnut"},
         {"white", "grey", "gray", "silver"}, {"black", "dark", "raven"}, {"brown", "dark"},
         {"brown", "chestnut"}, {"brown", "hazel"}]
ACT_VERBS = (r"said|says|replied|asked|cried|answered|exclaimed|whispered|shouted|called|"
             r"walked|came|comes|went|goes|ran|runs|entered|enters|smiled|smiles|laughed|"
             r"laughs|looked|looks|nodded|nods|took|takes|gave|stood|stands|sat|sits|rose|"
             r"opened|opens|turned|turns|spoke|speaks|wrote|waved|stepped|knocked|arrived|"
             r"arrives|returned|sighed|frowned|grinned|shook|reached|picked|handed|hurried")
_ACT_AFTER = re.compile(rf"[ \t]*(?:\w+ly[ \t]+)?(?:{ACT_VERBS})\b")
#: strong cues: a memory / flashback frame even from the sentence before
MEMORY_CUES = re.compile(
    r"\b(?:remember\w*|recall\w*|recollect\w*|memor\w+|dream\w*|ghost\w*|spirit|vision|"
    r"used to|years ago|long ago|in those days|before (?:his|her|their) death|"
    r"when (?:he|she) was alive|portrait|grave|the late|flashback|"
    r"imagin\w+|fancied|seemed to hear|had (?:once|often|always)|would often)\b", re.I)
#: weak cues (polysemous: "once" = one time, "would have" = a counterfactual): they
#: frame an act only in its own sentence or the sentence before in the same paragraph;
#: a letter is a cue when it carries words ("in her letter", "a letter from"), not when
#: it is an object handed across a table
WEAK_CUES = re.compile(r"\b(?:once|as if|would have|picture|always|often|"
                       r"in (?:his|her|their|a|the|that) letter|letters? (?:from|of)|wrote)\b", re.I)


def _compatible(attr: str, a: str, b: str, chapter_gap: int) -> bool:
    if a == b:
        return True
    if attr == "age":
        try:
            x, y = int(a), int(b)
        except ValueError:
            return True
        return y > x and chapter_gap >= 3 and y - x <= 10
    return any(a in g and b in g for g in _SAME)


def _fact_contradictions(facts: pd.DataFrame, names: dict[str, str],
                         reference: pd.DataFrame | None = None, system: str = SYSTEM) -> list[dict]:
    """Facts restated with an incompatible value (later fact against the first one)."""
    out: list[dict] = []
    ref = facts if reference is None else reference
    ref = ref[ref["attribute"].isin(SINGLE_VALUED)].sort_values("start")
    first: dict = {}
    for r in ref.itertuples():
        first.setdefault((r.subject, r.attribute), r)
    cand = facts[facts["attribute"].isin(SINGLE_VALUED)].sort_values("start")
    for r in cand.itertuples():
        f = first.get((r.subject, r.attribute))
        if f is None or (reference is None and f.start == r.start):
            continue
        gap = int(r.chapter) - int(f.chapter) if reference is None else 99
        if reference is not None and r.attribute == "age":
            gap = 0
        row = contradiction_row(r.subject, r.attribute, str(f.value), int(f.start), str(r.value),
                                int(r.start), int(r.end), gap, names, system)
        if row is not None:
            out.append(row)
    return out


def contradiction_row(subject: str, attribute: str, first: str, first_start: int, value: str,
                      start: int, end: int, gap: int, names: dict[str, str],
                      system: str = SYSTEM) -> dict | None:
    """A ``fact_contradiction`` row when ``value`` is incompatible with ``first``."""
    if _compatible(attribute, first, value, gap):
        return None
    who = names.get(subject, subject)
    attr = attribute.replace("_", " ")
    return U.insight(
        system, "fact_contradiction", "critical", 0.9,
        f"{who}'s {attr}: {first} or {value}?",
        f"{who}'s {attr} was established as '{first}' (offset {first_start}) and is now "
        f"given as '{value}'.", start, end, [who],
        f"Keep {who}'s {attr} '{first}', or make the change explicit in the story.")


def _death_positions(story: Any) -> dict[str, int]:
    f = U.table(story, "facts")
    d = f[f["attribute"] == "death"]
    if len(d) and "quotes" in getattr(story, "tables", {}):
        told = [not U.quote_mask(story, int(s), int(e)) for s, e in zip(d["start"], d["end"])]
        d = d[told]
    return {str(k): int(v) for k, v in d.groupby("subject")["start"].min().items()}


def _memory_context(text: str, pos: int, sent_starts: list[int], sent_ends: list[int]) -> bool:
    """A memory cue around ``pos`` (sentences as sorted start / end lists)."""
    if not sent_starts:
        return memory_cue(text, pos, max(0, pos - 300), pos, pos + 200)
    k = max(bisect.bisect_right(sent_starts, pos) - 1, 0)
    return memory_cue(text, pos, sent_starts[max(k - 1, 0)], sent_starts[k], sent_ends[k])


def memory_cue(text: str, pos: int, prev_start: int, cur_start: int, cur_end: int) -> bool:
    """A memory or flashback cue frames the act at ``pos``: a strong cue in its sentence
    or the one before, a weak cue in its sentence or the one before in the same paragraph."""
    hi = max(cur_end, pos + 1)
    if MEMORY_CUES.search(text, prev_start, hi):
        return True
    cur_start = min(cur_start, pos)
    lo = prev_start if "\n\n" not in text[prev_start:cur_start] else cur_start
    return bool(WEAK_CUES.search(text, lo, hi))


def dead_act_rows(text: str, deaths: dict[str, int], quotes: Iterable[tuple],
                  mentions: Iterable[tuple], sent_starts: list[int], sent_ends: list[int],
                  names: dict[str, str], system: str = SYSTEM, max_per: int = 10**9,
                  min_conf: float = 0.8) -> list[dict]:
    """``dead_character_acts`` rows from plain lists.

    ``quotes`` are (start, end, speaker, confidence), ``mentions`` (start, end,
    character_id, in_quote); ``deaths`` maps a character to the offset of its death."""
    events: list[tuple[int, int, str, str]] = []
    for s, e, spk, conf in quotes:
        if spk in deaths and s > deaths[spk] and conf >= min_conf:
            events.append((int(s), int(e), spk, "speaks"))
    for s, e, cid, in_q in mentions:
        if cid in deaths and not in_q and s > deaths[cid] + 40:
            am = _ACT_AFTER.match(text, int(e), min(len(text), int(e) + 40))
            if am:
                events.append((int(s), am.end(), cid, "acts"))
    out, seen = [], set()
    per: dict[str, int] = defaultdict(int)
    for s, e, cid, how in sorted(events):
        key = (cid, bisect.bisect_right(sent_starts, s))
        if key in seen or per[cid] >= max_per or _memory_context(text, s, sent_starts, sent_ends):
            continue
        seen.add(key)
        per[cid] += 1
        who = names.get(cid, cid)
        out.append(U.insight(
            system, "dead_character_acts", "critical", 0.85 if how == "speaks" else 0.75,
            f"{who} {how} after dying",
            f"{who} died earlier (offset {deaths[cid]}) but {how} here, with no memory or "
            "flashback cue nearby.", s, e, [who],
            f"Frame it as a memory or flashback, give the {'line' if how == 'speaks' else 'action'} "
            f"to another character, or revise {who}'s death."))
    return out


def _dead_acts(story: Any, names: dict[str, str], system: str = SYSTEM,
               max_per: int = 10**9, min_conf: float = 0.8) -> list[dict]:
    """Quotes and actions of characters after their death fact (at most ``max_per``
    per character).  Only death facts told by the narrator count (outside quotes):
    a death reported in dialogue may be rumour, threat or figure of speech.  A quote
    counts only with direct speaker evidence (``min_conf`` 0.8: a speech tag or a tagged
    quote in the same paragraph); turn-taking guesses are too weak for a dead speaker."""
    deaths = _death_positions(story)
    if not deaths:
        return []
    q = U.table(story, "quotes")
    q = q[q["speaker"].astype(object).isin(list(deaths))]
    quotes = zip(q["start"].astype(int), q["end"].astype(int), q["speaker"].astype(str),
                 q["confidence"].astype(float))
    m = U.table(story, "mentions")
    m = m[m["character_id"].isin(list(deaths))]
    ments = zip(m["start"].astype(int), m["end"].astype(int), m["character_id"].astype(str),
                m["in_quote"].fillna(False).astype(bool))
    sents = U.table(story, "sentences")
    return dead_act_rows(story.text, deaths, quotes, ments, sents["start"].astype(int).tolist(),
                         sents["end"].astype(int).tolist(), names, system, max_per, min_conf)


def relationships(story: Any) -> pd.DataFrame:
    """Pairs of characters: co-presence in scenes, addresses, sentiment."""
    m = U.table(story, "mentions")
    if not len(m):
        return pd.DataFrame()
    sc_loc = U.locator(story, "scenes", "scene")
    starts = m["start"].astype(int).to_numpy()
    sc_starts = np.asarray(sc_loc[0] or [0])
    scene_of = np.asarray(sc_loc[1] or [0])[np.clip(np.searchsorted(sc_starts, starts, "right") - 1, 0, None)]
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
    q = U.table(story, "quotes")
    q = q[q["speaker"].notna() & q["addressee"].notna()]
    for a, b in zip(q["speaker"].astype(str), q["addressee"].astype(str)):
        if a != b:
            key = tuple(sorted((a, b)))
            pairs.setdefault(key, {"copresence": 0, "addresses": 0, "first": (0, 0)})["addresses"] += 1
    # sentiment of sentences naming both
    lex = U.affect()
    sents = U.table(story, "sentences")
    sent_loc = (sents["start"].astype(int).tolist(), list(range(len(sents))))
    per_sent: dict[int, set] = defaultdict(set)
    for cid, s in zip(ids, starts):
        per_sent[U.unit_at(sent_loc, int(s))].add(cid)
    senti: dict[tuple[str, str], list[float]] = defaultdict(list)
    for si, who in per_sent.items():
        if len(who) < 2:
            continue
        r = sents.iloc[si]
        vals = [v[0] for w in U.words(story.text[int(r.start):int(r.end)])
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


def characters(story: Any, voice_threshold: float = VOICE_THRESHOLD, min_quotes: int = 5,
               min_voice_words: int = 150, min_line_words: int = MIN_VOICE_LINE_WORDS,
               voice_model: Any = None, fit_threshold: float | None = None) -> Any:
    """Character consistency: ``voice`` and ``relationships`` tables plus insights.

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

    Returns
    -------
    Story
        The same story, with ``voice``, ``relationships`` and the ``characters``
        insights written.
    """
    fit_threshold = _voice.FIT_THRESHOLD if fit_threshold is None else float(fit_threshold)
    names = U.names_by_id(story)
    U.put(story, "voice", voice_profiles(story, min_voice_words))
    U.put(story, "relationships", relationships(story))
    rows = _fact_contradictions(U.table(story, "facts"), names)
    rows += _dead_acts(story, names)
    model_name, model_error = _model_name(voice_model), None
    if voice_model is not None:
        try:
            voice_model = fit_engine(voice_model)
        except Exception as exc:  # the lexical check still runs
            model_error = f"{type(exc).__name__}: {exc}"
            log.warning("voice model %s unavailable, lexical voice check only: %s", model_name, model_error)
            voice_model = None
    rows += voice_drift_rows(story, names, voice_threshold, min_quotes, SYSTEM, min_line_words,
                             voice_model, fit_threshold)
    U.set_insights(story, SYSTEM, rows)
    U.record_params(story, SYSTEM, voice_threshold=voice_threshold, min_quotes=min_quotes,
                    min_voice_words=min_voice_words, min_line_words=min_line_words,
                    voice_model=model_name, voice_model_error=model_error, fit_threshold=fit_threshold,
                    fit_context_tokens=_fit.CONTEXT_TOKENS, fit_reference_weight=_fit.REFERENCE_WEIGHT,
                    fit_reference_tokens=_fit.REFERENCE_TOKENS)
    return story


def _model_name(model: Any) -> str | None:
    """How a voice model is recorded in the parameters (an engine by its model id)."""
    if model is None or isinstance(model, str):
        return model
    return str(getattr(model, "model_id", type(model).__name__))
