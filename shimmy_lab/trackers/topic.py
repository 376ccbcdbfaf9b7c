"""Topic drift: a paragraph that belongs to no part of the story around it.

Used by :mod:`shimmy_lab.trackers.drift` on the story's own paragraphs and on candidate
text.  A paragraph is judged on four signals of its narration (quotes removed):

* ``novel`` -- share of its content words the story uses nowhere else;
* ``local`` -- share of its content words found in the text around it
  (:data:`WINDOW` characters on each side, the paragraph itself excluded);
* ``people`` -- rate of personal pronouns (a story is about people; a recipe, a
  contract or a match report is not);
* ``mentions`` -- how many times it names one of the story's characters;
* ``new_names`` -- capitalised words inside a sentence that the story uses nowhere
  else: a paragraph from another book brings its own people and places.

It is ``topic_drift`` when it names none of the story's characters, shares little
with the text around it and brings much vocabulary of its own, and either speaks of
no one, or is almost all new vocabulary, or names people and places of its own.  Vocabulary alone (the former rule) flagged
descriptive paragraphs of the story itself: a landscape, a shop window, a fair; these
name the story's people or share words with the pages around them.
"""

from __future__ import annotations

import re
from collections import Counter

from . import _util as U

__all__ = ["topic_signals", "is_unrelated", "topic_row", "WINDOW"]

#: characters of text on each side a paragraph is compared with
WINDOW = 3000
#: thresholds of :func:`is_unrelated` (measured in docs/narrative.md, "Topic drift")
MIN_CONTENT = 20
MIN_NOVEL = 0.25
MAX_LOCAL = 0.2
MAX_PEOPLE = 0.05
HIGH_NOVEL = 0.45
NEW_NAMES = 2
_CAP = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}\b")
_PEOPLE = frozenset("i me my we us our you your he him his she her hers they them their".split())


def topic_signals(text: str, start: int, end: int, narration: str, vocab: Counter,
                  exclude: Counter | None, mentions: int) -> dict[str, float]:
    """The four signals of ``text[start:end]`` (see the module docstring).

    Parameters
    ----------
    text
        The whole text the paragraph sits in (story, or candidate after the story).
    start, end
        The paragraph's span in ``text``.
    narration
        The paragraph with its quotations removed.
    vocab
        Word counts of the story.
    exclude
        Word counts of the paragraph itself when it is part of ``vocab`` (its own words
        do not make it familiar), else ``None``.
    mentions
        Mentions of the story's characters in the paragraph.

    Returns
    -------
    dict
        ``n_content``, ``novel``, ``local``, ``people``, ``mentions``, ``new_names``.
    """
    exclude = exclude or Counter()
    toks = U.words(narration)
    cw = [w for w in toks if len(w) > 2 and w not in U.STOPWORDS]
    n = max(len(cw), 1)
    near = set(U.words(text[max(0, start - WINDOW):start] + " " + text[end:end + WINDOW]))
    return {"n_content": len(cw),
            "novel": sum(vocab.get(w, 0) - exclude.get(w, 0) <= 0 for w in cw) / n,
            "local": sum(w in near for w in cw) / n,
            "people": sum(t in _PEOPLE for t in toks) / max(len(toks), 1),
            "mentions": int(mentions),
            "new_names": sum(1 for w in set(_CAP.findall(narration))
                             if vocab.get(w.lower(), 0) - exclude.get(w.lower(), 0) <= 0)}


def is_unrelated(sig: dict[str, float], min_novel: float = MIN_NOVEL,
                 continuation: bool = False) -> bool:
    """Whether the signals of :func:`topic_signals` make the paragraph a ``topic_drift``.

    It names no character, has at least :data:`MIN_CONTENT` content words, fewer than
    :data:`MAX_LOCAL` of them in the text around it, at least ``min_novel`` of them new
    to the story, and either speaks of no one (personal pronouns under
    :data:`MAX_PEOPLE`), or is almost all new vocabulary (:data:`HIGH_NOVEL`), or names
    at least :data:`NEW_NAMES` people or places the story never names elsewhere.

    With ``continuation`` (the paragraph continues the story rather than sits in it) the
    names are no evidence: a story that moves on meets people and places it has not
    named yet.  Nor is speaking of no one when the paragraph is told in the story's own
    tense (``sig["told"]``): that is the story describing a place or a scene it has not
    shown yet.  Then only almost all new vocabulary makes it unrelated.
    """
    own = sig.get("new_names", 0) >= NEW_NAMES and not continuation
    nobody = sig["people"] < MAX_PEOPLE and not (continuation and sig.get("told", False))
    return (sig["n_content"] >= MIN_CONTENT and sig["mentions"] == 0
            and sig["local"] < MAX_LOCAL and sig["novel"] >= min_novel
            and (nobody or sig["novel"] >= HIGH_NOVEL or own))


def topic_row(sig: dict[str, float], start: int, end: int, system: str) -> dict:
    """The ``topic_drift`` insight row of a paragraph :func:`is_unrelated` judged unrelated."""
    severity = min(1.0, 0.5 + sig["novel"] - sig["local"])
    names = (f"; it names {sig['new_names']} people or places the story never names elsewhere"
             if sig.get("new_names") else "")
    return U.insight(system, "topic_drift", "important", severity,
                     "Passage unrelated to the story",
                     f"It names none of the story's characters{names}; {sig['novel']:.0%} of its "
                     f"content words appear nowhere else in the story and only {sig['local']:.0%} "
                     "in the pages around it.", start, end, [],
                     "Tie the passage to the story's people, places and open threads, or cut it.")
