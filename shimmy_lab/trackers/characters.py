"""Character consistency: voices, relationships, fact contradictions, dead characters.

One public entry, :func:`characters`.  It reads ``quotes``, ``characters``,
``mentions``, ``facts``, ``sentences`` and ``scenes`` and writes

* ``voice`` -- a stylometric fingerprint per character from attributed dialogue
  (function-word profile, sentence and word length, punctuation, contractions,
  vocabulary) with the nearest other voice by a Burrows-Delta-like distance;
* ``relationships`` -- co-presence in scenes, vocative address, sentiment;
* insights ``voice_drift`` (a line far from its speaker's voice: vocabulary the
  story never uses elsewhere, style unlike the speaker's), ``fact_contradiction``
  (a fact restated with an incompatible value) and ``dead_character_acts`` (a
  character the story has killed speaks or acts later, outside memory cues).
"""

from __future__ import annotations

import bisect
import json
import re
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any, Iterable

import numpy as np
import pandas as pd

from . import _util as U

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


# -- voice ---------------------------------------------------------------------------
def line_features(text: str) -> dict[str, float]:
    """Stylometric features of one stretch of dialogue."""
    toks = U.words(text)
    n = max(len(toks), 1)
    nsent = max(len(re.findall(r"[.!?]+(?:\s|$)", text)), 1)
    fw = np.zeros(len(U.FUNCTION_WORDS))
    for t in toks:
        j = U.FW_INDEX.get(t)
        if j is not None:
            fw[j] += 1
    return {"n": len(toks), "sent_len": len(toks) / nsent,
            "word_len": float(np.mean([len(t) for t in toks])) if toks else 0.0,
            "contr": len(U.CONTRACTION_RE.findall(text)) / n,
            "q": text.count("?") / nsent, "ex": text.count("!") / nsent,
            "comma": text.count(",") / n, "fw": fw / n}


def _delta(a: np.ndarray, b: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> float:
    return float(np.mean(np.abs((a - mu) / sd - (b - mu) / sd)))


def voice_profiles(story: Any, min_words: int = 150) -> pd.DataFrame:
    """Per-character voice fingerprints (the ``voice`` table)."""
    q = U.table(story, "quotes")
    q = q[q["speaker"].notna()]
    names = U.names_by_id(story)
    rows = []
    for cid, g in q.groupby("speaker", sort=False):
        txt = " ".join(g["text"].astype(str))
        f = line_features(txt)
        if f["n"] < min_words:
            continue
        toks = U.words(txt)[:500]
        rows.append({"character_id": str(cid), "name": names.get(str(cid), str(cid)),
                     "quotes": len(g), "words": f["n"], "mean_sentence_len": f["sent_len"],
                     "mean_word_len": f["word_len"], "contraction_rate": f["contr"],
                     "question_rate": f["q"], "exclaim_rate": f["ex"], "comma_rate": f["comma"],
                     "type_token": len(set(toks)) / max(len(toks), 1), "_fw": f["fw"],
                     "start": int(g["start"].min()), "end": int(g["end"].max())})
    if len(rows) >= 2:
        mat = np.vstack([r["_fw"] for r in rows])
        mu, sd = mat.mean(0), mat.std(0) + 1e-4
        for i, r in enumerate(rows):
            d = [(_delta(mat[i], mat[j], mu, sd), rows[j]["character_id"])
                 for j in range(len(rows)) if j != i]
            r["delta_nearest"], r["nearest"] = min(d)
    for r in rows:
        fw = r.pop("_fw")
        r["function_words"] = json.dumps({w: round(float(x), 4) for w, x in
                                          zip(U.FUNCTION_WORDS, fw) if x > 0})
    return pd.DataFrame(rows)


def bigrams(tokens: list[str]) -> Counter:
    """Counts of adjacent word pairs."""
    return Counter(zip(tokens, tokens[1:]))


def voice_line_score(line: str, spk_counts: Counter, spk_total: int,
                     story_counts: Counter, exclude: Counter | None = None,
                     story_bigrams: Counter | None = None) -> tuple[float, dict]:
    """How far one line is from its speaker's voice and the story's language (0..1) and why.

    score = 0.6 x share of the line's content words the story never uses elsewhere
    + 0.35 x (share its speaker never uses elsewhere - 0.5)+
    + 0.6 x (share of its word pairs, function words included, the story never uses
    elsewhere - 0.3)+ (only with ``story_bigrams``).  The word-pair term sees phrasing
    ("I dare say", "upon my word") that single words made of common vocabulary miss.
    """
    exclude = exclude or Counter()
    cw = U.content_words(line)
    if len(cw) < 4:
        return 0.0, {}
    novel = sum(1 for w in cw if story_counts.get(w, 0) - exclude.get(w, 0) <= 0) / len(cw)
    spk_new = sum(1 for w in cw if spk_counts.get(w, 0) - exclude.get(w, 0) <= 0) / len(cw)
    bnov = 0.0
    if story_bigrams is not None:
        toks = U.words(line)
        own = bigrams(toks) if exclude else Counter()
        pairs = list(zip(toks, toks[1:]))
        bnov = sum(1 for b in pairs if story_bigrams.get(b, 0) - own.get(b, 0) <= 0) / max(len(pairs), 1)
    score = float(np.clip(0.6 * novel + 0.35 * max(spk_new - 0.5, 0.0)
                          + 0.6 * max(bnov - 0.3, 0.0), 0.0, 1.0))
    return score, {"novel": novel, "speaker_new": spk_new, "pairs_new": bnov}


#: Lines shorter than this (in words) are not checked for voice drift: a few words carry
#: too little evidence, and most of the false alarms were short lines.
MIN_VOICE_LINE_WORDS = 10


def _voice_drift(story: Any, names: dict[str, str], threshold: float, min_quotes: int,
                 system: str = SYSTEM, min_line_words: int = MIN_VOICE_LINE_WORDS) -> list[dict]:
    q = U.table(story, "quotes")
    q = q[q["speaker"].notna() & (q["confidence"] >= 0.6)]
    if not len(q):
        return []
    toks = U.words(story.text)
    story_counts = Counter(toks)
    story_bigrams = bigrams(toks)
    spk: dict[str, Counter] = defaultdict(Counter)
    for cid, t in zip(q["speaker"].astype(str), q["text"].astype(str)):
        spk[cid].update(U.words(t))
    nq = q["speaker"].value_counts()
    out = []
    for r in q.itertuples():
        cid = str(r.speaker)
        if nq.get(cid, 0) < min_quotes:
            continue
        line_words = U.words(str(r.text))
        if len(line_words) < min_line_words:
            continue
        exc = Counter(line_words)
        score, why = voice_line_score(str(r.text), spk[cid], sum(spk[cid].values()),
                                      story_counts, exc, story_bigrams)
        if score < threshold:
            continue
        who = names.get(cid, cid)
        out.append(U.insight(
            system, "voice_drift", "important", score, f"Line unlike {who}'s voice",
            f"{why['novel']:.0%} of its content words and {why['pairs_new']:.0%} of its word "
            f"pairs appear nowhere else in the story, {why['speaker_new']:.0%} of its words "
            f"never in {who}'s dialogue.", int(r.start), int(r.end),
            [who], f"Rewrite the line in {who}'s usual vocabulary and rhythm."))
    return out


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


def characters(story: Any, voice_threshold: float = 0.62, min_quotes: int = 5,
               min_voice_words: int = 150, min_line_words: int = MIN_VOICE_LINE_WORDS) -> Any:
    """Character consistency: ``voice`` and ``relationships`` tables plus insights.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story`.
    voice_threshold
        Minimum :func:`voice_line_score` for a ``voice_drift`` insight.
    min_quotes
        Speakers with fewer attributed quotes are not checked for voice drift.
    min_voice_words
        Minimum words of dialogue for a character to get a ``voice`` row.
    min_line_words
        Lines with fewer words are not checked for voice drift.

    Returns
    -------
    Story
        The same story, with ``voice``, ``relationships`` and the ``characters``
        insights written.
    """
    names = U.names_by_id(story)
    U.put(story, "voice", voice_profiles(story, min_voice_words))
    U.put(story, "relationships", relationships(story))
    rows = _fact_contradictions(U.table(story, "facts"), names)
    rows += _dead_acts(story, names)
    rows += _voice_drift(story, names, voice_threshold, min_quotes, SYSTEM, min_line_words)
    U.set_insights(story, SYSTEM, rows)
    U.record_params(story, SYSTEM, voice_threshold=voice_threshold, min_quotes=min_quotes,
                    min_voice_words=min_voice_words, min_line_words=min_line_words)
    return story
