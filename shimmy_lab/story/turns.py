"""Turn-taking: who speaks an untagged line of a conversation, from all the evidence at once.

A conversation is a run of quote paragraphs (see :func:`shimmy_lab.story.dialogue.attribute`).
Its anchored turns (a speech tag, the paragraph's subject) are known; every other turn is
decided left to right by a small log-linear model over the *candidates* of the turn: the
speakers of the turns before, the speakers of the anchors ahead, the people the lines call
by name, the people named in the narration of the paragraph and just before it, the
first-person narrator and the characters named lately.  Besides where a candidate spoke
and was named, the model weighs how like the candidate's tagged lines the line reads
(:mod:`.idiolect`) and whether the line calls someone of the candidate's sex "sir" or
"ma'am".  Each candidate is described by
:data:`FEATURES`; the weights (``data/turns.json``) are learnt from annotated novels by
``tools/train_turns.py``, which also reports the cross-validated accuracy (train on all
novels but one, test on that one).

The model replaces a parity rule ("even distance from an anchor: the anchor's speaker"),
which fails wherever a speaker goes on for two paragraphs or a third person joins in.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["FEATURES", "KINDS", "TurnModel", "turn_features", "load_model", "current_model", "recording"]

#: what the model knows of a candidate ``c`` of turn ``k`` (one column each)
FEATURES = (
    "spoke_1",          # c spoke the turn before
    "spoke_2",          # c spoke two turns before
    "spoke_3",          # c spoke three turns before
    "alternates",       # c spoke two turns before and not the turn before
    "spoke_1_gap",      # c spoke the turn before and narration came between
    "last_other",       # c is the latest speaker other than the one of the turn before
    "anchor_ahead_even",  # the nearest anchor ahead is c, an even number of turns away (1/d)
    "anchor_ahead_odd",   # ... an odd number of turns away (1/d)
    "anchor_behind_even",  # the nearest anchor behind is c, even distance (1/d)
    "anchor_behind_odd",
    "anchor_across_narration",  # the nearest anchor (either side) is c, with narration between (1/d)
    "called_before",    # the turn before calls c by name ("..., Tom?")
    "called_here",      # this turn calls c by name (then c is not the speaker)
    "named_here",       # c is named in this paragraph's narration
    "named_between",    # c is named in the narration since the turn before
    "narrator_here",    # c is the narrator and the narration of this paragraph says "I"
    "pronoun_here",     # the narration of this paragraph opens a sentence with c's "He"/"She"
    "lead",             # c is the subject of the narration before the line ("Ann smiled. '...'")
    "beat",             # c acts right after the line ("'...' Ann smiled.")
    "described",        # the narration before the line describes c, naming no one ("The porter stopped me.")
    "named_in_line",    # c is named inside this turn's own lines (people seldom name themselves)
    "named_in_previous",  # c is named inside the lines of the turn before
    "answers",          # c alternates and the turn before asked a question
    "recent",           # 1 / (1 + rank of c among the characters named lately)
    "conversation",     # log(1 + anchored turns of c in this conversation)
    "rule",             # c is the reader's rule choice for the "he"/"she" of a speech tag
    "prominence",       # log(1 + tagged turns of c in the text) / log(1 + those of the most tagged)
    "idiolect",         # how much likelier the line is in c's words than in everyone's (.idiolect)
    "addressed_sex",    # the line calls someone "sir", "ma'am", "papa"... of c's sex
)


def turn_features(k: int, speakers: list[str | None], anchored: list[bool],
                  addressees: list[str | None], gaps: list[int], named_here: list[str],
                  named_between: list[str], narrator: str | None, recent: list[str],
                  i_here: bool = False, pronoun_here: str | None = None,
                  gender: dict[str, str | None] | None = None, hint: tuple[str, str] | None = None,
                  in_line: list[str] = (), in_previous: list[str] = (), asked: bool = False,
                  rule: str | None = None, prominence: dict[str, float] | None = None,
                  idiolect: Callable[[str], float | None] | None = None,
                  addressed: str | None = None) -> tuple[list[str], np.ndarray]:
    """The candidates of turn ``k`` of a conversation and their feature rows.

    Parameters
    ----------
    k
        The turn to decide.
    speakers
        The speaker of every turn of the conversation so far (decided or anchored; None
        when unknown); turns after ``k`` count only where ``anchored``.
    anchored
        Whether each turn's speaker comes from a tag or the paragraph's subject.
    addressees
        The character each turn calls by name, or None.
    gaps
        Narration paragraphs between each turn and the one before.
    named_here, named_between
        Characters named in the narration of turn ``k``'s paragraph, and between the turn
        before and this one.
    narrator
        The first-person narrator's id, or None.
    recent
        Characters named lately, the latest first.
    i_here, pronoun_here
        Whether the narration of turn ``k``'s paragraph has the narrator's "I" as a subject;
        ``"male"`` or ``"female"`` when it opens a sentence with "He" or "She".
    gender
        Character id -> ``"male"``, ``"female"`` or None.
    hint
        ``("lead", id)`` or ``("beat", id)``: the character the narration before the
        line, or the action right after it, is about, when the reader names one
        (:func:`~shimmy_lab.story.dialogue.attribute`).
    in_line, in_previous
        Characters named inside the quotes of turn ``k`` and of the turn before.
    asked
        Whether the last line of the turn before ends with a question mark.
    rule
        For a tag's "he"/"she": the reader's rule choice (:func:`~shimmy_lab.story.dialogue.attribute`).
    prominence, idiolect
        Character id -> their share of the text's tagged speech, 0..1 (absent: 0); -> how
        much likelier this turn's lines are in their words than in everyone's
        (:meth:`~shimmy_lab.story.idiolect.Idiolects.score`; None, no tagged line: the others' mean).
    addressed
        The sex of whom this turn's lines call "sir", "ma'am", "papa"... (``addressed_sex``), or None.

    Returns
    -------
    (list of str, numpy.ndarray)
        The candidate ids and a ``(len(candidates), len(FEATURES))`` array.
    """
    h = _history(k, speakers, anchored, addressees)
    cands = list(dict.fromkeys(c for c in [*h["candidates"], addressees[k], hint and hint[1], rule,
                                           *named_here, *named_between, narrator, *recent[:3], *h["conv"]] if c))
    X = _line_columns(cands, gender or {}, idiolect, addressed)
    rank = {c: i for i, c in enumerate(recent)}
    for r, c in enumerate(cands):
        row = X[r]
        _history_row(row, c, k, h, gaps)
        row[_COL["called_here"]] = c == addressees[k]
        row[_COL["named_here"]] = c in named_here
        row[_COL["named_between"]] = c in named_between
        row[_COL["narrator_here"]] = c == narrator and i_here
        row[_COL["pronoun_here"]] = pronoun_here is not None and (gender or {}).get(c) == pronoun_here
        row[_COL["rule"]] = c == rule
        if hint and hint[1] == c:
            row[_COL[hint[0]]] = 1.0
        row[_COL["recent"]] = 1.0 / (1 + rank[c]) if c in rank else 0.0
        row[_COL["named_in_line"]] = c in in_line
        row[_COL["named_in_previous"]] = c in in_previous
        row[_COL["answers"]] = asked and c == h["before"][1] and c != h["before"][0]
        row[_COL["prominence"]] = (prominence or {}).get(c, 0.0)
    return cands, X


def _line_columns(cands: list[str], gender: dict[str, str | None],
                  idiolect: Callable[[str], float | None] | None, addressed: str | None) -> np.ndarray:
    """A feature array for ``cands`` with the columns that read the line's words filled:
    ``addressed_sex``, and ``idiolect`` (each candidate's score, the mean of the others' for
    one with no tagged line, no evidence either way; all 0 when no candidate has one)."""
    X = np.zeros((len(cands), len(FEATURES)))
    if addressed is not None:
        X[:, _COL["addressed_sex"]] = [gender.get(c) == addressed for c in cands]
    scores = [idiolect(c) for c in cands] if idiolect is not None else []
    known = [v for v in scores if v is not None]
    if known:
        mean = sum(known) / len(known)
        X[:, _COL["idiolect"]] = [mean if v is None else v for v in scores]
    return X


#: features of earlier models, no longer computed: their weights in a model file are ignored
#: ("narrator": a prior for the first-person narrator, whose sign depended on the novels
#: trained on)
RETIRED = frozenset(["narrator"])

#: the column of each feature
_COL = {f: i for i, f in enumerate(FEATURES)}


def _history(k: int, speakers: list[str | None], anchored: list[bool], addressees: list[str | None]) -> dict:
    """What the speakers around turn ``k`` say: the three before it, the latest other one,
    the nearest anchors ahead and behind (distance, speaker), the anchored turns per speaker,
    whom the turn before calls by name, and those of them who are candidates."""
    before = [speakers[k - j] if k - j >= 0 else None for j in (1, 2, 3)]
    h = {
        "before": before,
        "last_other": next((speakers[j] for j in range(k - 1, -1, -1)
                            if speakers[j] and speakers[j] != before[0]), None),
        "ahead": next(((d, speakers[k + d]) for d in range(1, len(speakers) - k)
                       if anchored[k + d] and speakers[k + d]), None),
        "behind": next(((d, speakers[k - d]) for d in range(1, k + 1)
                        if anchored[k - d] and speakers[k - d]), None),
        "conv": Counter(sp for sp, a in zip(speakers, anchored) if a and sp),
        "called_before": addressees[k - 1] if k else None,
    }
    h["candidates"] = [*before, h["last_other"], h["ahead"] and h["ahead"][1], h["behind"] and h["behind"][1],
                       h["called_before"]]
    return h


def _history_row(row: np.ndarray, c: str, k: int, h: dict, gaps: list[int]) -> None:
    """Fill the turn-taking features of candidate ``c`` (:func:`_history` ``h``) into ``row``."""
    b1, b2, b3 = h["before"]
    row[_COL["spoke_1"]] = c == b1
    row[_COL["spoke_2"]] = c == b2
    row[_COL["spoke_3"]] = c == b3
    row[_COL["alternates"]] = c == b2 and c != b1
    row[_COL["spoke_1_gap"]] = c == b1 and gaps[k] > 0
    row[_COL["last_other"]] = c == h["last_other"]
    for name, anchor in (("ahead", h["ahead"]), ("behind", h["behind"])):
        if anchor and anchor[1] == c:
            d = anchor[0]
            row[_COL[f"anchor_{name}_{'even' if d % 2 == 0 else 'odd'}"]] = 1.0 / d
            lo, hi = (k, k + d) if name == "ahead" else (k - d, k)
            if any(gaps[j] for j in range(lo + 1, hi + 1)):
                row[_COL["anchor_across_narration"]] += 1.0 / d
    row[_COL["called_before"]] = c == h["called_before"]
    row[_COL["conversation"]] = math.log1p(h["conv"].get(c, 0))


#: the two choices the model makes: the speaker of an untagged turn, and the person the
#: "he"/"she" of a speech tag stands for (among the candidates of that gender)
KINDS = ("turn", "pronoun")


class TurnModel:
    """A log-linear choice among a turn's candidates.

    Parameters
    ----------
    weights
        One weight per name of :data:`FEATURES` (missing names weigh 0), for untagged turns.
    pronoun
        The weights for a tag's "he"/"she" (same features); None: the tag keeps the
        reader's rule choice (feature ``rule``).
    """

    def __init__(self, weights: dict[str, float], pronoun: dict[str, float] | None = None):
        unknown = (set(weights) | set(pronoun or {})) - set(FEATURES) - RETIRED
        if unknown:
            raise ValueError(f"unknown turn features: {sorted(unknown)}")
        self.weights = {f: v for f, v in weights.items() if f not in RETIRED}
        self.pronoun = ({f: v for f, v in pronoun.items() if f not in RETIRED} if pronoun is not None
                        else {"rule": 10.0})
        self._w = {"turn": np.array([weights.get(f, 0.0) for f in FEATURES]),
                   "pronoun": np.array([self.pronoun.get(f, 0.0) for f in FEATURES])}

    def probabilities(self, cands: list[str], X: np.ndarray, kind: str = "turn") -> np.ndarray:
        """The probability of each candidate (rows of ``X``); ``kind`` is one of :data:`KINDS`."""
        s = X @ self._w[kind]
        p = np.exp(s - s.max()) if len(s) else s
        return p / p.sum() if len(s) else p

    def choose(self, cands: list[str], X: np.ndarray, kind: str = "turn") -> tuple[str | None, float]:
        """The most likely candidate and its probability (None, 0.0 when there is none)."""
        if not cands:
            return None, 0.0
        p = self.probabilities(cands, X, kind)
        i = int(p.argmax())
        return cands[i], float(p[i])

    def to_json(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "weights": self.weights, "pronoun": self.pronoun}


_DATA = Path(__file__).with_name("data") / "turns.json"

#: hand-set weights (alternate, follow the anchors' parity, the one called by name answers):
#: the start of training, and the model when no learnt one is shipped
PRIOR = {"alternates": 2.0, "spoke_1": -1.0, "anchor_ahead_even": 2.0, "anchor_ahead_odd": -1.0,
         "anchor_behind_even": 1.0, "anchor_behind_odd": -0.5, "called_before": 1.5,
         "called_here": -3.0, "named_here": 0.5, "lead": 2.0, "beat": 2.0, "recent": 0.5}

#: while :func:`recording` runs: the model in use and every decided turn (for training)
_RECORD: dict[str, Any] | None = None


@contextmanager
def recording(model: TurnModel | None = None) -> Iterator[list[dict[str, Any]]]:
    """Collect ``{"start", "end", "candidates", "X", "kind"}`` of every turn decided while the
    block runs, reading with ``model`` instead of the shipped one when given (training)."""
    global _RECORD
    out: list[dict[str, Any]] = []
    _RECORD = {"model": model, "turns": out}
    try:
        yield out
    finally:
        _RECORD = None


def record(start: int, end: int, cands: list[str], X: np.ndarray, kind: str = "turn") -> None:
    """Keep one decided turn (paragraph ``start``..``end``; ``kind`` of :data:`KINDS`) while
    :func:`recording`."""
    if _RECORD is not None:
        _RECORD["turns"].append({"start": start, "end": end, "candidates": cands, "X": X, "kind": kind})


def current_model() -> TurnModel:
    """The model to read with: the one given to :func:`recording`, else the shipped one."""
    if _RECORD is not None and _RECORD["model"] is not None:
        return _RECORD["model"]
    return load_model()


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> TurnModel:
    """The turn model in ``path`` (default: the shipped ``data/turns.json``; :data:`PRIOR`
    when no model is shipped)."""
    p = Path(path) if path else _DATA
    if path is None and not p.is_file():
        return TurnModel(PRIOR)
    data = json.loads(p.read_text(encoding="utf-8"))
    return TurnModel(data["weights"], data.get("pronoun"))
