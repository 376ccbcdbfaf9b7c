"""Voice of a character: fingerprints of their dialogue and the ``voice_drift`` check.

Helpers of :func:`shimmy_lab.trackers.characters.characters` (the system entry):

* :func:`voice_profiles` -- the ``voice`` table, a stylometric fingerprint per
  character (function-word profile, sentence and word length, punctuation,
  contractions, vocabulary) with the nearest other voice by a Burrows-Delta-like
  distance;
* :func:`voice_drift_rows` -- ``voice_drift`` insights, lines far from their speaker's
  voice.  It works in two stages:

  1. **lexical** (always): :func:`voice_line_score`, the share of the line's words and
     word pairs the story never uses elsewhere and its speaker never uses (a word in
     any inflection, :func:`word_forms`);
  2. **model** (when a scoring model is given): lines the lexical stage finds at all
     unusual, and short lines of common words that share little with their
     surroundings, are scored by :func:`shimmy_lab.trackers.fit.line_fit` -- how much
     more predictable the line is after the story before it than on its own and after
     passages from other books.  A line from another book or in another voice gains
     little from its context.
     The two are combined as ``lexical + (0.5 - fit) + 0.05 x log(min(words, 48))``
     (longer lines give a steadier fit), + 0.3 when the line names a titled person
     ("Mr. Knightley", "Colonel Campbell") the story mentions nowhere else: a line
     brought from another story tends to carry its people with it.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from . import _util as U
from .fit import fit_engine, line_fit

__all__ = ["line_features", "voice_profiles", "bigrams", "voice_line_score", "line_scores", "voice_drift_rows",
           "unknown_titled_names", "MIN_VOICE_LINE_WORDS", "VOICE_THRESHOLD", "FIT_THRESHOLD",
           "NAME_WEIGHT", "candidate_gate", "spoken_words", "word_forms",
           "voice_content_words"]

#: Lines shorter than this (in words) are not checked for voice drift: a few words carry
#: too little evidence, and most of the false alarms were short lines.
MIN_VOICE_LINE_WORDS = 10
#: ``quotes.method`` values of speakers found by turn-taking alone (not judged for voice)
TURN_METHODS = ("turn", "vocative")
#: Minimum lexical score of a ``voice_drift`` insight without a scoring model.
VOICE_THRESHOLD = 0.62
#: Minimum combined score of a ``voice_drift`` insight with a scoring model.
FIT_THRESHOLD = 0.93
#: Lines whose lexical score reaches this go to the model ...
FIT_CANDIDATE = 0.25
#: ... and so do lines with fewer than 4 content words of which at most this share
#: occurs in the 3,000 characters around the line.
FIT_LOCAL_SHARE = 0.4
#: Added to the combined score of a line naming a titled person the story mentions
#: nowhere else (see :func:`unknown_titled_names`).
NAME_WEIGHT = 0.3
_FIT_WEIGHT, _FIT_CENTRE, _FIT_LENGTH, _FIT_WORDS = 1.0, 0.5, 0.05, 48
_WINDOW = 3000
_TITLES = ("Mr", "Mrs", "Miss", "Ms", "Dr", "Colonel", "Captain", "Lady", "Sir", "Lord", "Professor",
           "Father", "Aunt", "Uncle", "Admiral", "General", "Major")
_NAME = r"[A-Z][a-z]+(?:[A-Z][a-z]+)*\b"  # "Knightley", "MacNab"
_TITLED = re.compile(r"\b(?:%s)\.?\s+(%s)" % ("|".join(_TITLES), _NAME))
_CAPITALISED = re.compile(r"\b" + _NAME)


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
        r.setdefault("delta_nearest", np.nan)  # a lone voice has no nearest one
        r.setdefault("nearest", None)
        fw = r.pop("_fw")
        r["function_words"] = json.dumps({w: round(float(x), 4) for w, x in
                                          zip(U.FUNCTION_WORDS, fw) if x > 0})
    return pd.DataFrame(rows)


def bigrams(tokens: list[str]) -> Counter:
    """Counts of adjacent word pairs."""
    return Counter(zip(tokens, tokens[1:]))


#: a quotation inside a line ("it says 'Ales'", "the motto is 'argent a chevron'"): a
#: word, an inscription or another person's words the speaker quotes, not their voice
_NESTED = re.compile("(?<![\\w])[`'\u2018\"\u201c](?=[\\w])"
                     "[^`'\u2018\u2019\"\u201c\u201d]{1,160}?[\\w.,;:!?-][`'\u2019\"\u201d](?![\\w])")


#: a closing quotation mark (after punctuation, before a space) and an opening one
_CLOSING = re.compile("[.,;:!?][`'\u2019\"\u201d](?=\\s|$)")
_OPENING = re.compile("(?<![\\w])[`'\u2018\"\u201c](?=[\\w])")


def spoken_words(line: str) -> str:
    """``line`` without the quotations it holds (see :data:`_NESTED`), and without the
    text before a closing quotation mark that nothing opens (the reader took the opening
    mark for the line's own: "are argent a chevron.' The motto varies.").

    Examples
    --------
    >>> spoken_words("The sign says 'Fresh Eggs', and I don't believe it.")
    "The sign says  , and I don't believe it."
    >>> spoken_words("Fresh Eggs.' That is what the sign says.")
    ' That is what the sign says.'
    """
    line = _NESTED.sub(" ", line)
    m = _CLOSING.search(line)
    if m and not _OPENING.search(line, 0, m.start()):
        line = line[m.end():]
    return line


#: inflectional endings and what a stem ends in without them ("tastes" -> "taste",
#: "cleared" -> "clear", "carries" -> "carry", "making" -> "make")
_ENDINGS = (("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
            ("ing", "e"))
_INFLECT = ("", "s", "es", "ed", "d", "ing")


@lru_cache(maxsize=1 << 16)
def word_forms(word: str) -> tuple[str, ...]:
    """``word`` and its inflectional relatives: the same word for the voice check.

    A line that says "tastes" or "accounting" where the story says "taste" and
    "account" uses no new vocabulary.  The stems are found by stripping one regular
    ending (stems of at least 3 letters); the relatives are the stems with the regular
    endings put back.  Forms that are not words match nothing.

    Examples
    --------
    >>> "taste" in word_forms("tastes") and "tasting" in word_forms("tastes")
    True
    >>> "clear" in word_forms("cleared")
    True
    """
    stems = {word}
    for end, put in _ENDINGS:
        if word.endswith(end) and len(word) - len(end) >= 3:
            stems.add(word[:len(word) - len(end)] + put)
    forms = set(stems)
    for st in stems:
        forms.update(st + e for e in _INFLECT)
        if st.endswith("e"):
            forms.add(st[:-1] + "ing")
        if st.endswith("y"):
            forms.update((st[:-1] + "ies", st[:-1] + "ied"))
    return tuple(sorted(forms))


def voice_content_words(line: str) -> list[str]:
    """Content words of ``line`` (:func:`~shimmy_lab.trackers._util.content_words`) less
    contractions of function words ("they've", "there's", "doesn't"): a speaker who never
    said "they've" before says nothing new with it.

    Examples
    --------
    >>> voice_content_words("I'm glad they've begun; there's no doubt it doesn't matter.")
    ['glad', 'begun', 'doubt', 'matter']
    """
    return [w for w in U.content_words(line)
            if not ("'" in w and (w.endswith("n't") or w.split("'")[0] in U.STOPWORDS))]


def _uses(counts: Any, exclude: Counter, word: str) -> int:
    """Uses of ``word`` or an inflection of it (:func:`word_forms`) in ``counts``, less ``exclude``."""
    return sum(counts.get(f, 0) - exclude.get(f, 0) for f in word_forms(word))


def voice_line_score(line: str, spk_counts: Counter, spk_total: int,
                     story_counts: Counter, exclude: Counter | None = None,
                     story_bigrams: Counter | None = None) -> tuple[float, dict]:
    """How far one line is from its speaker's voice and the story's language (0..1) and why.

    score = 0.6 x share of the line's content words the story never uses elsewhere
    + 0.35 x (share its speaker never uses elsewhere - 0.5)+
    + 0.6 x (share of its word pairs, function words included, the story never uses
    elsewhere - 0.3)+ (only with ``story_bigrams``).  The word-pair term sees phrasing
    ("I dare say", "upon my word") that single words made of common vocabulary miss.
    A word counts as used when any inflection of it is (:func:`word_forms`: "tastes"
    where the story says "taste" is no new vocabulary).  Quotations inside the line are
    not the speaker's words (:func:`spoken_words`).
    """
    exclude = exclude or Counter()
    line = spoken_words(line)
    cw = voice_content_words(line)
    if len(cw) < 4:
        return 0.0, {}
    novel = sum(1 for w in cw if _uses(story_counts, exclude, w) <= 0) / len(cw)
    spk_new = sum(1 for w in cw if _uses(spk_counts, exclude, w) <= 0) / len(cw)
    bnov = 0.0
    if story_bigrams is not None:
        toks = U.words(line)
        own = bigrams(toks) if exclude else Counter()
        pairs = list(zip(toks, toks[1:]))
        bnov = sum(1 for b in pairs if story_bigrams.get(b, 0) - own.get(b, 0) <= 0) / max(len(pairs), 1)
    score = float(np.clip(0.6 * novel + 0.35 * max(spk_new - 0.5, 0.0)
                          + 0.6 * max(bnov - 0.3, 0.0), 0.0, 1.0))
    return score, {"novel": novel, "speaker_new": spk_new, "pairs_new": bnov}


def local_share(text: str, start: int, end: int, content: list[str], window: int = _WINDOW) -> float:
    """Share of ``content`` words found within ``window`` characters around ``text[start:end]``."""
    if not content:
        return 0.0
    near = set(U.words(text[max(0, start - window):start] + " " + text[end:end + window]))
    return sum(1 for w in content if w in near) / len(content)


def unknown_titled_names(text: str, start: int, end: int, counts: Counter | None = None) -> list[str]:
    """Titled people named in ``text[start:end]`` that the rest of ``text`` never mentions.

    Parameters
    ----------
    text
        The story text.
    start, end
        Character offsets of the line.
    counts
        Counts of the capitalised words of ``text`` (computed when not given; pass
        them when checking many lines of one text).

    Returns
    -------
    list of str
        The titled names ("Colonel Campbell"), in order of appearance.

    Examples
    --------
    >>> t = "Mr. Elton came. 'Mr. Elton and Colonel Campbell are here,' said Emma."
    >>> unknown_titled_names(t, 16, 56)
    ['Colonel Campbell']
    """
    if counts is None:
        counts = Counter(_CAPITALISED.findall(text))
    line = text[start:end]
    own = Counter(_CAPITALISED.findall(line))
    return [m.group(0) for m in _TITLED.finditer(line) if counts.get(m.group(1), 0) - own[m.group(1)] <= 0]


def combined_score(lexical: float, fit: float, words: int, unknown_names: int = 0,
                   name_weight: float | None = None) -> float:
    """Score of the model stage.

    ``lexical + (0.5 - fit) + 0.05 x log(min(words, 48))``, + ``name_weight`` (default
    :data:`NAME_WEIGHT`) when the line names at least one titled person the story mentions
    nowhere else.
    """
    name_weight = NAME_WEIGHT if name_weight is None else float(name_weight)
    return (lexical + _FIT_WEIGHT * (_FIT_CENTRE - fit) + _FIT_LENGTH * math.log(min(max(words, 1), _FIT_WORDS))
            + (name_weight if unknown_names else 0.0))


def candidate_gate(lexical: Any, n_content: Any, local: Any, min_lexical: float | None = None,
                   max_local: float | None = None) -> Any:
    """Which lines the model stage scores (elementwise on arrays or Series).

    A line with a lexical score >= ``min_lexical`` (default :data:`FIT_CANDIDATE`), or
    with fewer than 4 content words of which at most ``max_local`` (default
    :data:`FIT_LOCAL_SHARE`) occur in the 3,000 characters around it.  The defaults are
    read at call time.
    """
    min_lexical = FIT_CANDIDATE if min_lexical is None else min_lexical
    max_local = FIT_LOCAL_SHARE if max_local is None else max_local
    return (lexical >= min_lexical) | ((n_content < 4) & (local <= max_local))


def line_scores(story: Any, model: Any = None, min_quotes: int = 5,
                min_line_words: int = MIN_VOICE_LINE_WORDS, context_tokens: int | None = None,
                name_weight: float | None = None) -> pd.DataFrame:
    """Both stages of the ``voice_drift`` check for every attributed line it judges.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story` with ``quotes``.
    model
        ``None`` (lexical stage only), or a scoring engine, model id or ``"bundled"``
        (see :func:`shimmy_lab.trackers.fit.fit_engine`).
    min_quotes
        Speakers with fewer attributed quotes are not judged (quotes attributed
        at any confidence count; only lines attributed with confidence >= 0.6 are judged).
    min_line_words
        Lines with fewer words are not judged.
    context_tokens, name_weight
        Of the model stage: tokens of story before a line
        (:func:`shimmy_lab.trackers.fit.line_fit`; default its ``CONTEXT_TOKENS``) and the
        weight of unknown titled names (:func:`combined_score`; default :data:`NAME_WEIGHT`).

    Returns
    -------
    pandas.DataFrame
        One row per judged line: ``speaker``, ``start``, ``end``, ``words``,
        ``lexical`` (:func:`voice_line_score`) and its parts ``novel``,
        ``speaker_new``, ``pairs_new``; ``local_share`` (share of its content words
        within 3,000 characters); ``candidate`` (sent to the model); ``fit`` (nats
        per token, ``nan`` unless scored); ``unknown_names`` (titled people the story
        mentions nowhere else, see :func:`unknown_titled_names`; listed for scored
        lines) and ``score`` (the combined score for scored lines, else the lexical
        one).
    """
    lines = _eligible_lines(story, min_quotes, min_line_words)
    cols = ["speaker", "start", "end", "words", "lexical", "novel", "speaker_new", "pairs_new",
            "local_share", "candidate", "fit", "unknown_names", "score"]
    if not lines:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(lines)
    df["local_share"] = [local_share(story.text, s, e, c) for s, e, c in
                         zip(df["start"], df["end"], df["content"])]
    df["candidate"] = candidate_gate(df["lexical"], df["content"].map(len), df["local_share"])
    df["fit"] = np.nan
    df["unknown_names"] = [[] for _ in range(len(df))]
    df["score"] = df["lexical"]
    if model is not None and df["candidate"].any():
        engine = fit_engine(model)
        cand = df.index[df["candidate"]]
        fits = line_fit(engine, story.text, list(zip(df.loc[cand, "start"], df.loc[cand, "end"])),
                        context_tokens=context_tokens)
        caps = Counter(_CAPITALISED.findall(story.text))
        unknown = [unknown_titled_names(story.text, s, e, caps)
                   for s, e in zip(df.loc[cand, "start"], df.loc[cand, "end"])]
        df.loc[cand, "fit"] = fits
        for i, u in zip(cand, unknown):
            df.at[i, "unknown_names"] = u
        df.loc[cand, "score"] = [combined_score(lx, f, n, len(u), name_weight) if f == f else lx for lx, f, n, u in
                                 zip(df.loc[cand, "lexical"], fits, df.loc[cand, "words"], unknown)]
    return df[cols].reset_index(drop=True)


def _eligible_lines(story: Any, min_quotes: int, min_line_words: int) -> list[dict]:
    """Attributed lines long enough to judge, with their lexical score and its parts."""
    q = U.table(story, "quotes")
    q = q[q["speaker"].notna()]
    # a speaker is judged on the lines the story gives them, however surely each is attributed ...
    nq = q["speaker"].astype(str).value_counts()
    # ... and only on (and against) the lines attributed with confidence by what the text
    # says (a tag, the paragraph's subject): a turn-taking guess that reads unlike its
    # speaker is more often a wrong guess than a wrong voice
    q = q[(q["confidence"] >= 0.6) & ~q["method"].isin(TURN_METHODS)]
    if not len(q):
        return []
    toks = U.words(story.text)
    story_counts, story_bigrams = Counter(toks), bigrams(toks)
    spk: dict[str, Counter] = defaultdict(Counter)
    for cid, t in zip(q["speaker"].astype(str), q["text"].astype(str)):
        spk[cid].update(U.words(t))
    out = []
    for r in q.itertuples():
        cid, line = str(r.speaker), str(r.text)
        line_words = U.words(line)
        if nq.get(cid, 0) < min_quotes or len(line_words) < min_line_words:
            continue
        score, why = voice_line_score(line, spk[cid], sum(spk[cid].values()), story_counts,
                                      Counter(line_words), story_bigrams)
        out.append({"speaker": cid, "start": int(r.start), "end": int(r.end), "text": line,
                    "words": len(line_words), "lexical": score, "novel": why.get("novel", 0.0),
                    "speaker_new": why.get("speaker_new", 0.0), "pairs_new": why.get("pairs_new", 0.0),
                    "content": U.content_words(line)})
    return out


def voice_drift_rows(story: Any, names: dict[str, str], threshold: float = VOICE_THRESHOLD,
                     min_quotes: int = 5, system: str = "characters",
                     min_line_words: int = MIN_VOICE_LINE_WORDS, model: Any = None,
                     fit_threshold: float | None = None, context_tokens: int | None = None,
                     name_weight: float | None = None) -> list[dict]:
    """``voice_drift`` insight rows for the attributed lines of ``story``.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story` with ``quotes``.
    names
        Character id -> display name.
    threshold
        Minimum lexical score of a line the model did not score (every line without
        ``model``).
    min_quotes
        Speakers with fewer attributed quotes are not checked (quotes attributed
        at any confidence count; only lines attributed with confidence >= 0.6 are judged).
    min_line_words
        Lines with fewer words are not checked.
    model
        ``None`` (lexical stage only), or a scoring engine, model id or ``"bundled"``
        (see :func:`shimmy_lab.trackers.fit.fit_engine`) for the model stage.
    fit_threshold
        Minimum combined score of a line the model scored (used with ``model``; default
        :data:`FIT_THRESHOLD`, read at call time).
    context_tokens, name_weight
        Of the model stage, as in :func:`line_scores`.

    Returns
    -------
    list of dict
        Insight rows.
    """
    fit_threshold = FIT_THRESHOLD if fit_threshold is None else fit_threshold
    df = line_scores(story, model, min_quotes, min_line_words, context_tokens, name_weight)
    scored = df["fit"].notna()
    df = df[(scored & (df["score"] >= fit_threshold)) | (~scored & (df["score"] >= threshold))]
    out = []
    for r in df.itertuples():
        who = names.get(r.speaker, r.speaker)
        msg = (f"{r.novel:.0%} of its content words and {r.pairs_new:.0%} of its word pairs appear "
               f"nowhere else in the story, {r.speaker_new:.0%} of its words never in {who}'s dialogue.")
        if r.fit == r.fit:
            msg += (f" The story before it makes it {r.fit:+.2f} nats/token more predictable "
                    "(lines that belong there usually gain 0.4-1.0).")
        if r.unknown_names:
            msg += f" It names {', '.join(r.unknown_names)}, mentioned nowhere else in the story."
        out.append(U.insight(system, "voice_drift", "important", float(min(r.score, 1.0)),
                             f"Line unlike {who}'s voice", msg, int(r.start), int(r.end), [who],
                             f"Rewrite the line in {who}'s usual vocabulary and rhythm, "
                             "and tie it to what is said around it."))
    return out
