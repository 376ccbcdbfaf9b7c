"""Idiolects: how like a speaker's tagged lines an untagged line reads.

Each speaker's lines that a speech tag names ("said Stephen") give a word profile; the
turn model (:mod:`.turns`, feature ``idiolect``) weighs how much likelier an untagged line
is under a candidate's profile than under everyone's (a log-likelihood ratio with the
profile smoothed towards everyone's words, Dirichlet prior :data:`PRIOR_WORDS`).  Dialect
("thou", "wi'"), forms of address ("sir", "my dear") and pet words are what it catches; a
speaker with few tagged lines scores near 0, as does a short line.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable

__all__ = ["Idiolects", "words"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[!?;]|--")

#: weight of everyone's word use in a speaker's profile (in words): a speaker's own use
#: counts once they have said about this many words (PDNC dev, held out by
#: tools/train_turns.py: 50 -> 0.795, 200 -> 0.799, 1000 -> 0.804, 3000 -> 0.801,
#: 10000 -> 0.800; without the feature 0.795)
PRIOR_WORDS = 1000.0

#: the score is cut to +-this (a long speech would otherwise outweigh every other feature;
#: held out as above: 3 -> 0.803, 8 -> 0.804, 20 -> 0.803)
LIMIT = 8.0


def words(text: str) -> list[str]:
    """The lower-case words and the marks ``! ? ; --`` of ``text``."""
    return _WORD.findall(text.lower())


class Idiolects:
    """Word profiles of speakers, from ``(speaker, text)`` pairs of tagged lines.

    Parameters
    ----------
    lines
        ``(character id, line text)`` of the lines whose speaker a tag names.
    """

    def __init__(self, lines: Iterable[tuple[str, str]]):
        self.counts: dict[str, Counter] = {}
        for cid, text in lines:
            self.counts.setdefault(cid, Counter()).update(words(text))
        self.total = {c: sum(n.values()) for c, n in self.counts.items()}
        self.everyone: Counter = Counter()
        for n in self.counts.values():
            self.everyone.update(n)
        self.n = sum(self.everyone.values())
        self.vocab = len(self.everyone) + 1

    def _p(self, w: str) -> float:
        return (self.everyone.get(w, 0) + 1.0) / (self.n + self.vocab)

    def score(self, cid: str, line: list[str]) -> float | None:
        """log P(line | cid's profile) - log P(line | everyone's), cut to +-:data:`LIMIT`
        (None for a speaker with no tagged line).  ``line``: its :func:`words`."""
        mine = self.counts.get(cid)
        if not mine:
            return None
        n = self.total[cid]
        s = 0.0
        for w in line:
            p = self._p(w)
            s += math.log((mine.get(w, 0) + PRIOR_WORDS * p) / (n + PRIOR_WORDS)) - math.log(p)
        return max(-LIMIT, min(LIMIT, s))
