"""Dialogue: quoted spans and who speaks them.

:func:`find_quotes` pairs quote marks paragraph by paragraph (straight or curly,
double or single quotes; a quote left open at the end of a paragraph continues when
the next paragraph opens with a quote mark, the usual convention for long speeches).

:func:`attribute` finds speakers, strongest evidence first:

1. ``tag``: a speech verb and a name, pronoun, relation or description next to the
   quote ("said Emma", "she replied", "cried his wife", "Mr. Knightley said, ...",
   "said the count", "the stranger answered").  "I said" is the first-person narrator's
   (``_Ctx.narrator``; :func:`first_person` tells a story told by an "I").  A description
   is the character whose name holds its last word ("the count" is Count Orlov), stands
   for a character of the scene as "he" and "she" do ("the old man", "the girl"), or is a
   speaker of its own named by it ("the stranger", kept when it speaks twice).
2. ``paragraph``: another quote in the same paragraph has a tag (one speaker per
   paragraph is the convention in prose fiction).
3. ``subject``: the paragraph's narration opens with a character's name
   ("Emma laughed. 'Oh ...'").
4. ``vocative`` / ``turn``: in a run of quote paragraphs, speakers alternate; a name
   used as a vocative inside the quote is the addressee, not the speaker.  In a story
   told by an "I", the narrator is the likeliest other participant of a conversation.

``speaker_start``/``speaker_end`` is the span of the tag's name, pronoun or description
the speaker was read from (``tag`` and ``paragraph``; NA for the others).  Once every
speaker is decided, a quote with no vocative is addressed to the character the tag names
("said Emma to Harriet"), else to the other speaker of a two-person exchange.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from typing import Any, Callable

import numpy as np

from .characters import _MALE_PRON, _PRONOUN_AFTER, _TITLE_ALT, slug
from .idiolect import Idiolects, words
from .lexicon import RELATION_NOUNS, SPEECH_VERBS, noun_gender
from .descriptions import described_referent, narrated_person, pronoun_referent
from .turns import TurnModel, current_model, record, turn_features

__all__ = ["detect_style", "find_quotes", "attribute", "first_person", "is_first_person"]

_OPEN_SINGLE = re.compile(r"(?:^|(?<=[\s(\[\u2014\-\"]))['\u2018](?=[^\s'])", re.M)


def detect_style(text: str) -> str:
    """Return ``'double'`` or ``'single'``: which quote marks carry the dialogue."""
    dbl = text.count('"') + text.count("\u201c") + text.count("\u201d")
    sgl = len(_OPEN_SINGLE.findall(text))
    return "single" if sgl > 2 * max(dbl, 1) else "double"


_FIRST = re.compile(r"\b(?:I|[Mm]e|[Mm]y|[Mm]yself)\b")
#: first-person pronouns per 1,000 words of narration above which the narrator is a character
#: (first-person novels run at 30-50, third-person ones below 5 even with an aside or a letter)
FIRST_PERSON_RATE = 12.0


def first_person(text: str, spans: list[tuple[int, int]], start: int = 0,
                 end: int | None = None) -> tuple[int, int]:
    """Count first-person pronouns and words in the narration of ``text[start:end]``.

    ``spans`` are the (sorted) quote spans; what they cover is speech, not narration.

    Returns
    -------
    (int, int)
        Pronouns (*I, me, my, myself*) outside quotes, and narration words (estimated
        from its length, six characters a word).
    """
    end = len(text) if end is None else end
    starts = [s for s, _ in spans]
    n = 0
    for m in _FIRST.finditer(text, start, end):
        i = bisect.bisect_right(starts, m.start()) - 1
        if i < 0 or spans[i][1] <= m.start():
            n += 1
    quoted = sum(max(0, min(e, end) - max(s, start)) for s, e in spans)
    return n, max(0, end - start - quoted) // 6


def is_first_person(pronouns: int, words: int) -> bool:
    """Whether narration with these counts (:func:`first_person`) is told by an "I"."""
    return pronouns >= 5 and pronouns * 1000 >= FIRST_PERSON_RATE * max(words, 1)


def _marks(text: str, s: int, e: int, style: str) -> list[tuple[int, str]]:
    out = []
    chars = "\"\u201c\u201d" if style == "double" else "'\u2018\u2019"
    for i in range(s, e):
        c = text[i]
        if c not in chars:
            continue
        if c in "\u201c\u2018":
            kind = "open"
        elif c == "\u201d":
            kind = "close"
        elif c == '"':
            # a word or sentence mark before it, a space or punctuation after it: it can only
            # close (met with no quote open, it closes one whose opening mark was lost -- a
            # speech broken by verse, ``...you had got it."`` -- and opens nothing)
            prev = text[i - 1] if i > s else " "
            nxt = text[i + 1] if i + 1 < e else " "
            closes = (prev.isalnum() or prev in ".,;:!?") and (nxt.isspace() or nxt in ".,;:!?)")
            kind = "close" if closes else "toggle"
        else:  # ' or right single quote: apostrophe, opening or closing?
            prev = text[i - 1] if i > s else " "
            nxt = text[i + 1] if i + 1 < e else " "
            if prev.isalnum() and nxt.isalnum():
                continue  # don't, it's
            can_open = (prev.isspace() or prev in "([\u2014-\"") and not nxt.isspace()
            can_close = not prev.isspace() and (nxt.isspace() or nxt in ".,;:!?)\u2014-\"")
            if c == "\u2019" and not can_close:
                continue
            kind = "toggle" if can_open and can_close else "open" if can_open else \
                "close" if can_close else None
            if kind is None:
                continue
        out.append((i, kind))
    return out


def find_quotes(text: str, paragraphs: list[dict], style: str) -> list[dict]:
    """Pair quote marks in ``paragraphs`` (rows with start/end/kind/paragraph/chapter).

    Returns
    -------
    list of dict
        Quote rows: start, end (marks included), paragraph, chapter, text, n_paragraphs.
    """
    quotes: list[dict] = []
    open_at: int | None = None
    open_para: dict | None = None
    n_par = 0
    prev: dict | None = None
    for p in paragraphs:
        if p["kind"] != "text":
            if open_at is not None and prev is not None:
                quotes.append(_q(text, open_at, prev["end"], open_para, n_par))
                open_at = None
            continue
        marks = _marks(text, p["start"], p["end"], style)
        if open_at is not None:
            if marks and marks[0][0] == p["start"] and marks[0][1] != "close":
                marks = marks[1:]
                n_par += 1
            else:
                quotes.append(_q(text, open_at, prev["end"], open_para, n_par))
                open_at = None
        for pos, kind in marks:
            if open_at is None:
                if kind != "close":
                    open_at, open_para, n_par = pos, p, 1
            elif kind != "open":
                quotes.append(_q(text, open_at, pos + 1, open_para, n_par))
                open_at = None
        prev = p
    if open_at is not None and prev is not None:
        quotes.append(_q(text, open_at, prev["end"], open_para, n_par))
    return [q for q in quotes if q["text"].strip() and not quoted_term(text, q["start"], q["end"])]


#: words near a quote that make it speech even inside a sentence ("shouting 'Stop thief!'")
_SPEECH_NEAR = re.compile(rf"\b(?:{SPEECH_VERBS}|say|says|saying|tell|told|call|called|cry)\b",
                          re.IGNORECASE)


def quoted_term(text: str, start: int, end: int) -> bool:
    """Whether the quote ``text[start:end]`` is a term quoted inside a sentence, not speech.

    A scare-quoted word, a name of an inn or a phrase the narrator holds at a distance
    ("the singular coincidence of 'jemmies' being..."; "the dignity of being 'a fine
    girl.'"): at most four words, right after a lower-case word of the same sentence (no
    comma, colon or paragraph break between), not an exclamation or question, and no speech
    verb within a few words either side.
    """
    inner = text[start + 1:end - 1].strip()
    if len(inner.split()) > 4 or inner[-1:] in "!?":
        return False
    before = text[max(0, start - 25):start]
    after = text[end:end + 25]
    prev, nxt = before.rstrip()[-1:], after.lstrip()[:1]
    if not (prev.isalpha() and prev.islower()) or before.rstrip(" \t").endswith("\n"):
        return False  # not after a word of the same sentence (a paragraph opens with it)
    return not (_SPEECH_NEAR.search(before) or _SPEECH_NEAR.search(after))


def _q(text: str, s: int, e: int, para: dict, n: int) -> dict:
    inner = text[s + 1:e - 1] if text[e - 1] in "\"'\u201d\u2019" else text[s + 1:e]
    return {"start": s, "end": e, "paragraph": para["paragraph"], "chapter": para["chapter"],
            "text": inner, "n_paragraphs": n, "speaker": None, "confidence": 0.0,
            "method": "none", "addressee": None, "speaker_start": None, "speaker_end": None}


_NAMEP = rf"(?:(?:{_TITLE_ALT})\.?\s+)?[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+){{0,2}}"
#: one word of a description ("the old man", "the stranger"): no function word, no adverb
_DW = (r"(?!(?:and|as|at|but|by|for|from|in|into|of|on|or|to|up|with|who|whom|that|which|then|"
       r"again|once|still|now|too|very|quite|also|not|had|has|was|is|were|would|could|should|did|"
       r"does|do|might|must|may|will|shall|being|having|after|before|over|through|without|"
       r"he|she|they|it|we|you|i|his|its|their|them|him|her|whose|aloud|inside|outside|somewhat|"
       r"ahead|back|away|forward|there|here|below|above|within)\b)"
       r"(?![a-z]+ly\b)[a-z]+(?:-[a-z]+)?")
#: "the voice of old Mr. Emerson", "the muffled voice of the Dodger": the one whose voice it is
_VOICE_PREFIX = r"the\s+(?:[a-z]+\s+)?voice\s+of\s+(?:(?:old|young|little|poor)\s+)?"
_VOICE_OF = rf"{_VOICE_PREFIX}(?:{_NAMEP}|the\s+(?:[A-Z][a-z]+|{_DW}))"
_WHO = (rf"(?P<who>{_VOICE_OF}|(?:his|her|the)\s+(?:{RELATION_NOUNS})\b|the\s+(?:[A-Z][a-z]+\s+)?[A-Z][a-z]+"
        rf"|(?:the\s+(?:[a-z]+(?:-[a-z]+)?\s+){{1,2}})?{_NAMEP}|(?:his|her|their|my)\s+{_NAMEP}|[Tt]he(?:\s+{_DW}){{1,3}}"
        rf"|he|she|him|her|I)")
#: a speech tag right after a quote may also name someone new: "said a looker-on", "cried a voice"
#: a description that tells one person from the others by what is with them or where they
#: are ("the gentleman in the white waistcoat", "the man with the black beard"): the whole of
#: it names the speaker (:data:`_MANNER` tells "in a low voice" from it)
_SET_APART = rf"the(?:\s+{_DW}){{1,3}}\s+(?:in|with)\s+the(?:\s+{_DW}){{1,3}}"
_WHO_AFTER = _WHO.replace("(?P<who>", rf"(?P<who>(?:a|an)(?:\s+{_DW}){{1,3}}(?:\s+in\s+the\s+{_DW})?|{_SET_APART}|", 1)
_TO = rf"(?:\s+(?:to|at)\s+(?P<to>{_NAMEP}))?"
#: a line named by its kind, with whose it is: "'...,' was her reply", "Elizabeth's reply was,"
_SAYING_NOUN = (r"(?:[a-z]+\s+){0,2}(?:reply|answer|rejoinder|response|remark|retort|exclamation|"
                r"comment|declaration|injunction|amendment|language|words|cry|question|observation|"
                r"greeting|advice)")
_AFTER_POSS = re.compile(rf"^[\s,;:\-\u2014]*(?:was|had been)\s+(?P<who>his|her|{_NAMEP}(?=['\u2019]s\b))"
                         rf"(?:['\u2019]s)?\s+{_SAYING_NOUN}\b(?P<to>)")
_POSS_BEFORE = re.compile(rf"(?<!\w)(?P<who>{_NAMEP})['\u2019]s\s+{_SAYING_NOUN}\s+(?:was|had been)"
                          rf"\s*[,:;.\-\u2014]*\s*$")
_AFTER1 = re.compile(rf"^[\s,;:\-\u2014]*(?:{SPEECH_VERBS})\s+{_WHO_AFTER}(?![a-z]){_TO}")
_AFTER2 = re.compile(rf"^[\s,;:\-\u2014]*{_WHO_AFTER}(?:\s+[a-z]+ly)?\s+(?:{SPEECH_VERBS})\b{_TO}")
#: "say" and the -ing forms of the speech verbs ("took the opportunity of whispering,";
#: "giving a gentle sigh, and saying,")
_SAYING = (r"say|saying|whispering|adding|replying|exclaiming|crying|asking|observing|answering|"
           r"continuing|muttering|murmuring|repeating|calling")
#: the verbs of narration that leads into a line: the tag verbs and :data:`_SAYING`
_LEAD_VERBS = rf"(?:{SPEECH_VERBS}|says|thus|{_SAYING})"
#: what may follow that verb up to the line: a phrase with no sentence end and no clause of
#: another subject ("said in a small and quiet voice"; not "returned, and she talked of ...")
_LEAD_TAIL = (r"(?:(?!\b(?:and|but|while|when|as|till|until|that|so)\s+(?:he|she|they|I|it|we)\b)"
              r"[^.;!?\"\u201c\u201d]){0,70}(?:[,:]|--|\u2014)?\s*$")
#: between the speaker and the verb, no other subject ("Jane Fairfax, this charming Mr. Dixon,
#: and the not going to Ireland, she said,"; "he laughed so heartily that Emma could not help saying,")
_LEAD_GAP = (r"(?:(?!\b(?:he|she|I|they)\b|\b(?:that|and|but|when|while|as|till|until|so)\s+[A-Z])"
             r"[^.;!?\"]){0,60}?")
_INTRO = re.compile(rf"(?<!\w){_WHO}\b{_LEAD_GAP}\b{_LEAD_VERBS}\b{_LEAD_TAIL}")
#: the same before a line inside its paragraph, with "say" or an -ing form only and no comma
#: between the speaker and the verb ("Emma could not help saying,"; not "As he stood, her
#: voice came from the air, saying,"): :data:`_BEFORE` reads the tags of the finite verbs
_SAYING_BEFORE = re.compile(rf"(?<!\w){_WHO}\b(?:(?!\b(?:he|she|I|they)\b)[^.;!?\",]){{0,60}}?"
                            rf"\b(?:{_SAYING})\b{_LEAD_TAIL}")
#: the one the narration hears speak is the speaker ("Alice heard the Rabbit say,"; "to hear
#: her father say,"), not the hearer
_HEARD = re.compile(rf"\b(?:heard|hear|hears|hearing)\s+{_WHO}\s+(?:say|says|cry|exclaim|add|whisper|"
                    rf"mutter|murmur|call|ask|repeat|reply|answer)\b{_LEAD_TAIL}")
#: a clause set off by commas between a speaker and the speech verb ("Mary, who had
#: occasion to note the day, exclaimed,"; "Mrs Smith, sighing over it, said--")
_ASIDE = r"(?:\s*,[^.;!?\"\u201c\u201d]{3,100},)"
#: a phrase after the speech verb of a tag before the quote ("said, compressing his lips";
#: "said, with the simplicity of a child")
_TAIL = r"(?:\s*,\s*[a-z][^.;!?\"\u201c\u201d,]{2,60})?"
_BEFORE = re.compile(
    rf"{_WHO}(?:{_ASIDE}|\s+[^.;!?\"\u201c\u201d]{{1,80}}?,?\s+and)?(?:\s+[a-z]+ly)?\s+(?:{SPEECH_VERBS})"
    rf"(?:\s+(?:to|at)\s+(?:him|her|them|(?P<to>{_NAMEP})))?"
    rf"(?:\s*,?\s+[a-z]+ly)?{_TAIL}\s*[,;:.\u2014\-]*\s*$"
)
_VOC = re.compile(rf"^(?:(?:Oh|O|Ah|Well|Dear|My dear|Come|No|Yes|Nay),?\s+)?(?P<name>{_NAMEP})\s*(?=[,!])"
                  rf"|[,;]\s+(?:my\s+(?:dear\s+)?|dear\s+)?(?P<name2>{_NAMEP})\s*(?=[,.!?;]|$)")

#: words of name forms that do not identify a character ("the master" is no "Master Bates")
_NOT_NAME_WORDS = frozenset(["the", "mr", "mrs", "miss", "ms", "de", "la", "le", "von", "van", "of",
                             *RELATION_NOUNS.split("|")])

#: the speaker's action right after a quote, in a sentence of its own ("'No.' Cohn turned away.")
_BEAT = re.compile(rf"[ \t]*(?P<who>{_NAMEP}|He|She|I)\s+(?:[a-z]+ly\s+)?[a-z]+ed\b")

#: short forms of titles, as a description says them ("Dr Kemp" is "the doctor")
_TITLE_WORD = {"dr": "doctor", "capt": "captain", "col": "colonel", "gen": "general",
               "rev": "reverend", "prof": "professor", "st": "saint", "mme": "madame"}

#: the narrator as the subject of a clause ("I looked", "and I said")
_I_SUBJECT = re.compile(r"\bI\b(?!')")
#: the gender a tag's pronoun gives its speaker
_PRONOUN_GENDER = {"he": "male", "she": "female"}
#: the same for the possessive of "'...,' was her reply"
_POSSESSIVE_GENDER = {"his": "male", "her": "female"}

#: a sentence of narration that opens with a pronoun subject ("He shook his head.")
_HE_SHE = re.compile(r"(?:^\s*|[.!?\u201d\"]\s+)(He|She)\b")
#: narration that opens with the narrator as subject ("I shook my head. 'No.'")
_I_OPENS = re.compile(r"^\W*(?:(?:And|But|Then|So|Now)\s+)?I\s+[a-z]")

Resolver = Callable[[str], "str | None"]

#: a speaker known only by a description ("the stranger") is a character from this many quotes
#: on (the reader drops the others' speaker: ``pipeline.MIN_DESCRIBED``, the same rule). One:
#: PDNC names its minor speakers by their descriptions ("The Sleepy-faced Carpenter"), so a
#: one-line describer is someone (PDNC dev 0.798 -> 0.800 from 2; main characters split 0.244
#: -> 0.252)
MIN_DESCRIBED = 1

#: the character id of a first-person narrator nobody has named yet (as the reader gives it)
UNNAMED_NARRATOR = "narrator"


class _Ctx:
    """What attribution needs to know about characters and mentions."""

    def __init__(self, resolve: Resolver, gender: dict, names: dict,
                 m_starts: list[int], m_ids: list[str], narrator: str | None = None,
                 forms: dict[str, str] | None = None,
                 quoted: tuple[list[int], list[str]] = ([], []), chapter_starts: list[int] = ()):
        self.resolve, self.gender, self.names = resolve, gender, names
        #: where each chapter starts, sorted (a "he"/"she" reaches back no further)
        self.chapter_starts = list(chapter_starts)
        self.m_starts, self.m_ids = m_starts, m_ids
        #: the name mentions inside quotes: (sorted starts, character ids)
        self.q_starts, self.q_ids = quoted
        #: the first-person narrator's character id ("I said"), None in a third-person story
        self.narrator = narrator
        #: every name form -> character id (for "the Hatter", "the count": a word of a form)
        self.forms = forms if forms is not None else {}
        self._words: dict[str, set[str]] | None = None
        #: speakers known only by a description ("the stranger"): id -> name
        self.described: dict[str, str] = {}
        #: where each of them was last named by a tag (a description is reused nearby only)
        self.described_at: dict[str, int] = {}
        #: where the narration since the last quote paragraph starts (set by :func:`attribute`)
        self.lead = 0
        #: each speaker's share of the tagged turns, 0..1 on a log scale (set by :func:`_fill`)
        self.prominence: dict[str, float] = {}
        #: the word profiles of the speakers' tagged lines (set by :func:`_fill`)
        self.idiolects: Idiolects | None = None
        #: (speaker, text) of the lines tagged in the text read before (an append learns from them)
        self.tagged_lines: list[tuple[str, str]] = []
        #: tagged turns per speaker in the text read before (an append counts them too)
        self.tagged_before: Counter = Counter()
        #: described speakers: (male, female) pronouns after their tags, and those sexed by them
        self.votes: dict[str, tuple[int, int]] = {}
        self.voted: set[str] = set()

    def by_word(self, word: str) -> set[str]:
        """Characters one of whose name forms holds ``word`` (lower case; "doctor" finds "Dr")."""
        if self._words is None:
            self._words = {}
            for form, cid in list(self.forms.items()) + [(n, c) for c, n in self.names.items()]:
                for w in form.split():
                    w = w.lower().rstrip(".")
                    if w not in _NOT_NAME_WORDS:
                        self._words.setdefault(_TITLE_WORD.get(w, w), set()).add(cid)
        return self._words.get(word, set())

    def describe(self, desc: str, pos: int) -> str:
        """The id of the speaker known as ``desc`` ("the stranger") at ``pos``: a character
        of that name if there is one, else a new one (kept in :attr:`described`)."""
        cid = slug(desc)
        if cid not in self.gender or cid in self.described:
            self.described.setdefault(cid, desc)
            self.described_at[cid] = pos
            self.gender.setdefault(cid, noun_gender(re.split(r"\s+(?:in|with)\s+", desc)[0]))
        return cid

    def vote_gender(self, cid: str, pronoun: str) -> None:
        """Count a pronoun that follows a tag naming the described speaker ``cid`` ("said the
        beadle, drawing himself up"); the speaker's sex, unknown from its description, is
        that of the pronouns, at least two thirds of them."""
        if cid not in self.described:
            return
        m, f = self.votes.get(cid, (0, 0))
        m, f = (m + 1, f) if pronoun in _MALE_PRON else (m, f + 1)
        self.votes[cid] = (m, f)
        if self.gender.get(cid) is None or cid in self.voted:
            self.voted.add(cid)
            self.gender[cid] = "male" if 3 * m >= 2 * (m + f) else "female" if 3 * f >= 2 * (m + f) else None

    def recent(self, pos: int, window: int = 3000) -> list[str]:
        i = bisect.bisect_left(self.m_starts, pos)
        out: list[str] = []
        j = i - 1
        while j >= 0 and pos - self.m_starts[j] < window and len(out) < 8:
            cid = self.m_ids[j]
            if cid not in out:
                out.append(cid)
            j -= 1
        return out

    def chapter_start(self, pos: int) -> int:
        """Where the chapter holding ``pos`` starts (0 when no chapter is known)."""
        i = bisect.bisect_right(self.chapter_starts, pos) - 1
        return self.chapter_starts[i] if i >= 0 else 0

    def between(self, start: int, end: int) -> list[str]:
        """Characters named in the narration between ``start`` and ``end``, in order, once each."""
        lo, hi = bisect.bisect_left(self.m_starts, start), bisect.bisect_left(self.m_starts, end)
        return list(dict.fromkeys(self.m_ids[lo:hi]))

    def named_in(self, spans: list[tuple[int, int]]) -> list[str]:
        """Characters named inside the quotes ``spans`` (vocatives included), once each."""
        out: list[str] = []
        for s, e in spans:
            lo, hi = bisect.bisect_left(self.q_starts, s), bisect.bisect_left(self.q_starts, e)
            out += self.q_ids[lo:hi]
        return list(dict.fromkeys(out))

    def by_surname(self, word: str) -> str | None:
        """The one character whose name ends with ``word`` ("Hall": Mr Hall), or None when
        none or several do; of one man and women who share it, the man (narration calls a
        man by his bare surname, "said Hall", and his wife "Mrs. Hall")."""
        hits = [cid for cid, name in self.names.items() if name.split()[-1:] == [word]]
        men = [c for c in hits if self.gender.get(c) == "male"]
        if len(hits) > 1 and len(men) == 1 and all(self.gender.get(c) == "female" for c in hits if c != men[0]):
            return men[0]
        return hits[0] if len(hits) == 1 else None

    def surname(self, cid: str) -> str | None:
        name = self.names.get(cid) or ""
        parts = name.split()
        return parts[-1] if len(parts) >= 2 else None


def _who(ctx: _Ctx, who: str, pos: int, para_start: int, speakers: list[str],
         prev_speaker: str | None, exclude: str | None = None, new: bool = True,
         addressee: str | None = None) -> str | None:
    low = who.lower()
    voice = re.match(_VOICE_PREFIX, who)
    if voice:  # "the voice of old Mr. Emerson": Mr Emerson
        return _who(ctx, who[voice.end():], pos, para_start, speakers, prev_speaker, exclude, False, addressee)
    if low in ("he", "she", "him", "her", "his"):
        g = "male" if low in ("he", "him", "his") else "female"
        return pronoun_referent(ctx, g, pos, para_start, speakers, prev_speaker, exclude)
    if low == "i":
        return ctx.narrator
    m = _RELATIVE.match(low)
    if m:
        cid, _, _ = _relative(ctx, m, pos, speakers, addressee)
        if cid or m.group(1) != "the":
            return cid
    if re.match(r"(?:his|her|their|my)\s+[A-Z]", who):  # "said her Uncle Arthur"
        who = who.split(None, 1)[1]
    if re.match(r"an?\s", low):  # "said a looker-on": someone the text has not named, "the looker-on" later
        words = low.split()[1:]
        return described_referent(ctx, words, pos, para_start, speakers, prev_speaker, exclude, new, indefinite=True)
    cid = ctx.resolve(" ".join(who.replace(".", " ").split()))
    if cid is None and re.fullmatch(r"[A-Z][a-z]+", who):  # "said Hall": the one person of that surname
        cid = ctx.by_surname(who)
    lead = re.match(r"the\s+(?:[a-z-]+\s+)+(?=[A-Z])", who)
    if cid is None and lead:  # "the good-hearted Mrs. Weston", "the unnatural young Thomas Gradgrind"
        cid = ctx.resolve(" ".join(who[lead.end():].replace(".", " ").split()))
    if cid is None and low.startswith("the "):
        cid = described_referent(ctx, low.split()[1:], pos, para_start, speakers, prev_speaker, exclude, new)
    return cid


_RELATIVE = re.compile(rf"(his|her|the)\s+({RELATION_NOUNS})\b")
#: the sex a relation tells, and the title of its "Mrs"/"Mr" form
_RELATION_SEX = {"wife": "female", "lady": "female", "mother": "female", "sister": "female",
                 "daughter": "female", "aunt": "female", "niece": "female", "husband": "male",
                 "father": "male", "brother": "male", "son": "male", "uncle": "male", "nephew": "male"}
_RELATION_TITLE = {"wife": "Mrs", "lady": "Mrs", "mother": "Mrs", "husband": "Mr", "father": "Mr"}


def _relative(ctx: _Ctx, m: re.Match, pos: int, speakers: list[str], addressee: str | None
              ) -> tuple[str | None, str | None, str | None]:
    """Who "said his wife" (``m``, a :data:`_RELATIVE` match) is: the character of the
    relation's sex with the surname of the one "his"/"her" stands for ("'My dear Tom,' said
    his wife": Tom's wife), or None; with that one (``base``) and the relation's sex."""
    g = "male" if m.group(1) == "his" else "female" if m.group(1) == "her" else None
    base = next((c for c in [addressee, *speakers[::-1], *ctx.recent(pos)]
                 if c and (g is None or ctx.gender.get(c) == g)), None)
    sur = ctx.surname(base) if base else None
    want = _RELATION_SEX.get(m.group(2))
    if sur:
        title = _RELATION_TITLE.get(m.group(2))
        hits = [cid for cid, name in ctx.names.items()
                if cid != base and name.split()[-1] == sur and ctx.gender.get(cid) == want
                and not (title == "Mrs" and name.startswith("Miss "))]  # a wife, a mother: no Miss
        hits.sort(key=lambda c: not ctx.names[c].startswith(f"{title} ")) if title else None
        if hits:
            return hits[0], base, want
    return None, base, want


def attribute(text: str, quotes: list[dict], paragraphs: dict[int, dict], ctx: _Ctx,
              prior: list[tuple[int, str | None]] = ()) -> None:
    """Fill ``speaker``, ``confidence``, ``method``, ``addressee``, ``speaker_start`` and
    ``speaker_end`` of ``quotes`` in place.

    ``prior`` is the (paragraph, speaker) list of the quote paragraphs just before
    ``quotes`` (for turn-taking across an :meth:`Story.append`).
    """
    by_para: dict[int, list[dict]] = {}
    for q in quotes:
        by_para.setdefault(q["paragraph"], []).append(q)
    turns: list[dict] = []  # one per quote paragraph: pid, speaker, conf, addressee
    seq = [{"pid": pid, "speaker": sp, "conf": 1.0, "addr": None, "fixed": True}
           for pid, sp in prior]
    last_pid = prior[-1][0] if prior else None
    for pid in sorted(by_para):
        p = paragraphs[pid]
        if last_pid is not None and _gap(paragraphs, last_pid, pid) > 1:
            seq = []
        lp = paragraphs.get(last_pid) if last_pid is not None else None
        ctx.lead = lp["end"] if lp is not None else p["start"]
        last_pid = pid
        turn = _turn(text, pid, by_para[pid], paragraphs, ctx, seq)
        seq.append(turn)
        turns.append(turn)
    allt = [{"pid": pid, "speaker": sp, "conf": 1.0, "addr": None, "fixed": sp is not None,
             "how": "prior", "qs": []} for pid, sp in prior] + turns
    convs = _fill(text, allt, paragraphs, ctx)
    for t in turns:
        for q in t["qs"]:
            if q["speaker"] is None and t["speaker"] is not None:
                q.update(speaker=t["speaker"], confidence=round(t["conf"], 3),
                         method="paragraph" if t["how"] == "tag" else t["how"])
                if t["how"] == "tag" and t["mention"]:
                    q["speaker_start"], q["speaker_end"] = t["mention"]
    _addressees(allt, convs, ctx)


def _turn(text: str, pid: int, qs: list[dict], paragraphs: dict[int, dict], ctx: _Ctx, seq: list[dict]) -> dict:
    """The turn of quote paragraph ``pid``: its tags (each quote's own speaker), the
    paragraph's speaker where a tag or an introduction in the paragraph before gives one, the
    addressee, and a hint for the turn model. ``seq`` is the conversation's turns so far."""
    p = paragraphs[pid]
    speakers = [t["speaker"] for t in seq if t["speaker"]]
    prev_sp = seq[-1]["speaker"] if seq else None
    found, conf, how = None, 0.0, "none"
    mention: tuple[int, int] | None = None  # span of the tag's name or pronoun
    tag_to: dict[int, str] = {}  # quote index -> character named in "said X to Y"
    pron: dict | None = None  # the paragraph's speaker came from a tag's "he"/"she"
    by_pronoun: list[tuple[int, str]] = []  # (quote index, gender) of quotes a "he"/"she" tags
    unresolved: dict | None = None  # a "he"/"she" tag that found nobody: the turn model chooses
    for k, q in enumerate(qs):
        tag = _tag(text, k, qs, p, ctx, speakers, prev_sp)
        if tag is None:
            continue
        if tag["cid"] is None:
            by_pronoun.append((k, tag["gender"]))
            unresolved = unresolved or {"gender": tag["gender"], "exclude": tag["exclude"], "rule": None}
            continue
        if tag["to"] and tag["to"] != tag["cid"]:
            tag_to[k] = tag["to"]
        if tag["gender"]:
            by_pronoun.append((k, tag["gender"]))
        if found is None:
            found, conf, how = tag["cid"], q["confidence"], "tag"
            mention = (q["speaker_start"], q["speaker_end"])
            pron = {"gender": tag["gender"], "exclude": tag["exclude"], "rule": tag["cid"]} if tag["gender"] else None
    addr = next((q["addressee"] for q in qs if q["addressee"]), None)
    if found is None:
        intro = _intro(text, pid, qs, paragraphs, ctx, speakers)
        if intro:
            found, conf, how = intro["cid"], 0.8, "tag"
            mention = intro["mention"]
            pron = {"gender": intro["gender"], "exclude": None, "rule": found} if intro["gender"] else None
    if found is None and unresolved:
        pron, conf, how = unresolved, 0.85, "tag"
    hint = _hint(text, qs, p, ctx, speakers, prev_sp, pron, paragraphs.get(pid - 1)) \
        if found is None or pron else None
    if found is not None and found == addr:
        found, conf, how, mention, pron = None, 0.0, "none", None, None
    if pron:  # the quotes whose "he"/"she" the turn model may give to someone else
        pron["quotes"] = [k for k, g in by_pronoun if g == pron["gender"] and qs[k]["speaker"] == found]
    return {"pid": pid, "speaker": found, "conf": conf, "addr": addr, "how": how,
            "fixed": found is not None, "hint": hint, "qs": qs, "mention": mention, "to": tag_to,
            "pron": pron}


def _tag(text: str, k: int, qs: list[dict], p: dict, ctx: _Ctx, speakers: list[str],
         prev_sp: str | None) -> dict | None:
    """Read quote ``k``'s vocative (its addressee) and speech tag; give the quote the tag's
    speaker. Returns the tag (``cid``, ``gender`` of a "he"/"she", ``to``: the character named in
    "said X to Y", ``exclude``) or None."""
    q = qs[k]
    nxt = qs[k + 1]["start"] if k + 1 < len(qs) else p["end"]
    prv = qs[k - 1]["end"] if k else p["start"]
    after = text[q["end"]:min(nxt, q["end"] + 120)]
    before = text[max(prv, q["start"] - 120):q["start"]]
    vm = _VOC.search(q["text"])
    if vm:
        called = vm.group("name") or vm.group("name2")
        a = ctx.resolve(" ".join(called.replace(".", " ").split()))
        if a is None and re.fullmatch(r"[A-Z][a-z]+", called):  # "..., Small": by the surname
            a = ctx.by_surname(called)
        if a:
            q["addressee"] = a
    m = _AFTER1.match(after) or _AFTER2.match(after) or _AFTER_POSS.match(after)
    new = m is not None  # a description right after the quote may name a new speaker
    if m is not None:
        off = q["end"]  # where the tag regex was run
        to = m.group("to")
        to = ctx.resolve(" ".join(to.replace(".", " ").split())) if to else None
        excl = to if new else None
        cid = _who(ctx, m.group("who"), q["start"], p["start"], speakers, prev_sp, excl, new, q["addressee"])
    else:
        off, excl = max(prv, q["start"] - 120), None
        def who_of(who: str) -> str | None:
            return _who(ctx, who, q["start"], p["start"], speakers, prev_sp, None, False, q["addressee"])

        m, cid = _heard(before, 0, len(before), who_of)
        if cid is None:
            m, cid = _subject(_BEFORE, before, 0, len(before), who_of)
        if cid is None:
            m, cid = _subject(_SAYING_BEFORE, before, 0, len(before), who_of)
        if cid is None:
            m, cid = _subject(_POSS_BEFORE, before, 0, len(before), who_of)
        to = m and m.groupdict().get("to")
        to = ctx.resolve(" ".join(to.replace(".", " ").split())) if to else None
    gender = None if m is None else _PRONOUN_GENDER.get(m.group("who").lower()) or (
        _POSSESSIVE_GENDER.get(m.group("who").lower()) if m.re is _AFTER_POSS else None)
    # "said the girl" who finds no girl keeps her sex; "said her mother" too, and she is not
    # the one "her" stands for
    sex = gender or (noun_gender(m.group("who")) if m is not None and not cid else None)
    rel = _RELATIVE.match(m.group("who").lower()) if sex and not cid and not gender else None
    if rel:
        excl = _relative(ctx, rel, q["start"], speakers, q["addressee"])[1] or excl
    if not cid and not sex:
        return None
    q.update(speaker=cid, confidence=0.95 if m.group("who")[0].isupper() else 0.85,
             method="tag", speaker_start=off + m.start("who"), speaker_end=off + m.end("who"))
    if not cid:  # "he said", "said the girl", "said her mother" and no one of that sex in sight:
        return {"cid": None, "gender": sex, "to": to, "exclude": excl}  # the turn model chooses
    pm = _PRONOUN_AFTER.match(text[q["speaker_end"]:min(nxt, q["speaker_end"] + 100)])
    if pm and cid in ctx.described and pm.group(1) not in ("him", "her"):  # "said the beadle, drawing
        ctx.vote_gender(cid, pm.group(1))  # himself up": a man ("to her" may be the one spoken to)
    return {"cid": cid, "gender": gender, "to": to, "exclude": excl}


def _subject(regex: re.Pattern, text: str, pos: int, endpos: int,
             who_of: Callable[[str], str | None]) -> tuple[re.Match | None, str | None]:
    """The first match of a tag pattern whose speaker names a character.

    "With a little reserve of manner, Emma continued:" is Emma's, not "With"'s; an object
    pronoun ("him", "her") is no subject here ("Two minutes after her entering the room,
    Captain Wentworth said--").

    Parameters
    ----------
    regex
        A pattern with a ``who`` group (:data:`_INTRO`, :data:`_BEFORE`).
    text, pos, endpos
        Where to search (``regex.search(text, pos, endpos)``).
    who_of
        The ``who`` group's text -> character id, or None.

    Returns
    -------
    (re.Match or None, str or None)
        The match and its character, or ``(None, None)``.
    """
    while True:
        m = regex.search(text, pos, endpos)
        if m is None:
            return None, None
        who = m.group("who")
        cid = who_of(who) if who.lower() not in ("him", "her") else None
        if cid:
            return m, cid
        pos = m.start("who") + 1


def _heard(text: str, pos: int, endpos: int,
           who_of: Callable[[str], str | None]) -> tuple[re.Match | None, str | None]:
    """The speaker of narration that hears someone speak (:data:`_HEARD`) right before a line:
    the match and its character, or ``(None, None)``. "him"/"her" are the speaker here."""
    m = _HEARD.search(text, pos, endpos)
    if m is None:
        return None, None
    who = m.group("who")
    cid = who_of({"him": "he", "her": "she"}.get(who.lower(), who))
    return (m, cid) if cid else (None, None)


def _intro(text: str, pid: int, qs: list[dict], paragraphs: dict[int, dict], ctx: _Ctx,
           speakers: list[str]) -> dict | None:
    """The speaker a narration paragraph introduces right before quote paragraph ``pid``
    ("Then she said:"): ``cid``, ``mention`` (its span) and ``gender`` of a "he"/"she"; or None."""
    p, prevp = paragraphs[pid], paragraphs.get(pid - 1)
    if prevp is None or prevp["kind"] != "text" or text[p["start"]:qs[0]["start"]].strip():
        return None
    at = max(prevp["start"], prevp["end"] - 220)

    def who_of(who: str) -> str | None:
        return _who(ctx, who, prevp["end"], prevp["start"], speakers, None, new=False)

    im, cid = _heard(text, at, prevp["end"], who_of)
    if cid is None:
        im, cid = _subject(_INTRO, text, at, prevp["end"], who_of)
    if cid is None:
        return None
    return {"cid": cid, "mention": (im.start("who"), im.end("who")),
            "gender": _PRONOUN_GENDER.get(im.group("who").lower())}


def _hint(text: str, qs: list[dict], p: dict, ctx: _Ctx, speakers: list[str], prev_sp: str | None,
          pron: dict | None, prevp: dict | None = None) -> tuple[str, str] | None:
    """Who the narration says acts, a guess the turn model weighs: ``("lead", id)`` for the
    subject of the narration before the line, ``("described", id)`` for a person that
    narration (or a paragraph of narration just before) describes and names nobody ("the
    porter stopped me", "a small, dark man accosted us"), ``("beat", id)`` for one acting
    right after it ("'Is that so?' Cohn turned to me."; not looked for when a "he"/"she"
    tags the line)."""
    narr = text[p["start"]:qs[0]["start"]]
    first = ctx.recent(qs[0]["start"], len(narr) + 1)
    if ctx.narrator and _I_OPENS.match(narr):
        return ("lead", ctx.narrator)
    if narr.strip() and first:
        return ("lead", first[-1])
    span = (p["start"], qs[0]["start"]) if narr.strip() else (
        (max(prevp["start"], prevp["end"] - 300), prevp["end"]) if prevp is not None and prevp["kind"] == "text"
        and not ctx.between(prevp["start"], prevp["end"]) else None)
    cid = narrated_person(text, span, ctx, speakers, prev_sp, p["start"]) if span else None
    if cid:
        return ("described", cid)
    if pron:
        return None
    bm = _BEAT.match(text, qs[0]["end"], min(p["end"], qs[0]["end"] + 80))
    cid = _who(ctx, bm.group("who"), qs[0]["start"], p["start"], speakers, prev_sp, new=False) if bm else None
    return ("beat", cid) if cid else None


#: tagged turns the text must hold for the speakers' shares of them (feature ``prominence``)
#: to count in full; fewer (a chapter, a short story) count in proportion, as a few tags
#: tell little of who speaks most
PROMINENCE_TAGS = 100


def _fill(text: str, turns: list[dict], paragraphs: dict[int, dict], ctx: _Ctx) -> list[list[int]]:
    """Turn-taking: give the untagged quote paragraphs a speaker.

    Turns are cut into conversations (at most one short narration paragraph between quote
    paragraphs); each conversation is decided by the turn model (:mod:`.turns`).

    Returns
    -------
    list of list of int
        The conversations, as indices into ``turns``.
    """
    convs: list[list[int]] = []
    for i, t in enumerate(turns):
        if convs and _gap(paragraphs, turns[convs[-1][-1]]["pid"], t["pid"], 400) <= 1:
            convs[-1].append(i)
        else:
            convs.append([i])
    tagged = ctx.tagged_before + Counter(t["speaker"] for t in turns if t["fixed"] and t["speaker"])
    top = math.log1p(max(tagged.values(), default=0)) or 1.0
    sure = min(1.0, sum(tagged.values()) / PROMINENCE_TAGS)
    ctx.prominence = {c: sure * math.log1p(n) / top for c, n in tagged.items()}
    ctx.idiolects = Idiolects(ctx.tagged_lines + tagged_lines(text, [q for t in turns for q in t["qs"]]))
    model = current_model()
    for conv in convs:
        _decide(text, conv, turns, paragraphs, ctx, model)
    return convs


def _addressees(turns: list[dict], convs: list[list[int]], ctx: _Ctx) -> None:
    """Give the quotes of ``turns`` with no vocative an addressee once speakers are decided.

    The character named in the tag ("said Emma to Harriet"), else the other speaker of
    the exchange: the one who speaks the turn before or after, when that is one person;
    when they are two people (a three-person exchange), the one who answers, if a tag
    tells who that is, else none.  A speaker known only by a description ("the
    stranger") that speaks fewer than :data:`MIN_DESCRIBED` times counts as unknown: the
    reader drops it.  On PDNC's development novels (pooled) this took addressee recall
    from 0.10 to 0.79 at a precision of 0.85 (vocatives alone 0.84; without the
    three-person rule 0.71 and 0.85).  The turn model never sees these: its ``addr``
    stays the vocative.
    """
    n = Counter(q["speaker"] for t in turns for q in t["qs"] if q["speaker"] in ctx.described)
    unknown = {None, *(c for c in ctx.described if n[c] < MIN_DESCRIBED)}
    for conv in convs:
        ts = [turns[i] for i in conv]
        for k, t in enumerate(ts):
            around = {ts[j]["speaker"] for j in (k - 1, k + 1) if 0 <= j < len(ts)}
            other = around - unknown - {t["speaker"]}
            for j, q in enumerate(t["qs"]):
                if q["addressee"] or q["speaker"] is None:
                    continue
                to = t.get("to", {}).get(j)
                if to:
                    q["addressee"] = to
                elif q["speaker"] != t["speaker"]:
                    continue
                elif len(other) == 1:
                    q["addressee"] = next(iter(other))
                elif len(other) == 2 and ts[k + 1]["fixed"]:  # the one who answers, by a tag
                    q["addressee"] = ts[k + 1]["speaker"]


def _narration(p: dict, qs: list[dict]) -> list[tuple[int, int]]:
    """The spans of paragraph ``p`` outside its quotes ``qs``."""
    out, at = [], p["start"]
    for q in qs:
        out.append((at, q["start"]))
        at = q["end"]
    return out + [(at, p["end"])]


#: the turn model's probability x this is about the share of its choices that are right: on
#: PDNC dev (tools/train_turns.py's reads), choices made with probability 0.7-0.8 were right
#: 0.67 of the time, 0.9-0.95: 0.85, 0.95-1: 0.80. So a turn guess stays below a tag (0.85,
#: 0.95), and the checks that judge only surely attributed lines (``confidence >= 0.6``)
#: judge the ones it is fairly sure of.
_TURN_CALIBRATION = 0.85


#: readings of a conversation kept while its turns are decided (a beam search: one wrong
#: turn need not drag the ones after it along, as a left-to-right choice does). On PDNC
#: dev (benchmarks/attribution.py): 4 -> 0.801, 8 -> 0.803 (0.785 held out), 16 and 32 ->
#: 0.802, at 41k, 40k and 34k words/s
BEAM = 8


def _decide(text: str, conv: list[int], turns: list[dict], paragraphs: dict[int, dict], ctx: _Ctx,
            model: TurnModel, beam: int | None = None) -> None:
    """Give the untagged turns of one conversation a speaker with the turn model, and let it
    choose whom each tag's "he"/"she" stands for: the most likely reading of the whole
    conversation that a beam search of width ``beam`` (default :data:`BEAM`) finds, left to right."""
    beam = beam or BEAM
    ts = [turns[i] for i in conv]
    anchored = [bool(t["fixed"] and t["speaker"]) for t in ts]
    addressees = [t["addr"] for t in ts]
    gaps = [0] + [_gap(paragraphs, a["pid"], b["pid"]) for a, b in zip(ts, ts[1:])]
    # (log-probability, speakers, choices made: (turn, candidates, features, probability))
    states = [(0.0, [t["speaker"] if t["fixed"] else None for t in ts], [])]
    for k, t in enumerate(ts):
        if (t["fixed"] and not t.get("pron")) or t["pid"] not in paragraphs:
            continue
        known = _turn_context(text, k, ts, paragraphs, ctx)
        grown = []
        for logp, speakers, made in states:
            cands, X = turn_features(k, speakers, anchored, addressees, gaps, **known)
            cands, X, kind = _candidates(t, cands, X, ctx)
            if not cands:
                grown.append((logp, speakers, made))
                continue
            p = model.probabilities(cands, X, kind)
            for i in np.argsort(-p, kind="stable")[:beam]:
                chosen = list(speakers)
                chosen[k] = cands[i]
                grown.append((logp + math.log(max(p[i], 1e-12)), chosen, made + [(k, cands, X, float(p[i]))]))
        states = sorted(grown, key=lambda s: -s[0])[:beam]
    _, speakers, made = states[0]
    for k, cands, X, prob in made:
        _settle(ts[k], speakers[k], cands, X, prob, paragraphs[ts[k]["pid"]])


def _turn_context(text: str, k: int, ts: list[dict], paragraphs: dict[int, dict], ctx: _Ctx) -> dict:
    """What :func:`~shimmy_lab.story.turns.turn_features` knows of turn ``k`` besides the
    speakers: the narration around it, the names in it and in the lines."""
    t = ts[k]
    p = paragraphs[t["pid"]]
    prev = paragraphs.get(ts[k - 1]["pid"]) if k else None
    lead = prev["end"] if prev is not None else p["start"]
    spans = _narration(p, t["qs"])
    he = next((m.group(1) for a, b in spans for m in [_HE_SHE.search(text[a:b])] if m), None)
    prev_qs = ts[k - 1].get("qs") or [] if k else []
    pron = t.get("pron")
    recent = ctx.recent(p["start"])
    if pron:
        recent = [c for c in recent if ctx.gender.get(c) == pron["gender"]]
    said = " ".join(str(q["text"]) for q in t["qs"])
    return {"named_here": ctx.between(p["start"], p["end"]), "named_between": ctx.between(lead, p["start"]),
            "narrator": ctx.narrator, "recent": recent,
            "i_here": bool(ctx.narrator) and any(_I_SUBJECT.search(text, a, b) for a, b in spans),
            "pronoun_here": {"He": "male", "She": "female"}.get(he), "gender": ctx.gender,
            "hint": t.get("hint"), "in_line": ctx.named_in([(q["start"], q["end"]) for q in t["qs"]]),
            "in_previous": ctx.named_in([(q["start"], q["end"]) for q in prev_qs]),
            "asked": bool(prev_qs) and str(prev_qs[-1]["text"]).rstrip().endswith("?"),
            "rule": pron and pron["rule"], "prominence": ctx.prominence,
            "idiolect": _idiolect(ctx.idiolects, said), "addressed": _addressed_sex(said)}


_SIR = re.compile(r"(?:^|[,;:!?\-]\s*|\b(?:my\s+)?(?:dear|good)\s+)(?P<w>sir|papa|pa|father|uncle|my lord|"
                  r"madam|ma'am|mum|miss|mamma|mama|ma|mother|aunt|my lady)\s*(?:[,.!?;]|--|$)", re.I)
_SIR_SEX = {"sir": "male", "papa": "male", "pa": "male", "father": "male", "uncle": "male", "my lord": "male"}


def _addressed_sex(line: str) -> str | None:
    """The sex of the person a line calls "sir", "papa", "ma'am", "miss"... (None when it calls
    nobody so, or both sexes)."""
    sexes = {_SIR_SEX.get(m.group("w").lower(), "female") for m in _SIR.finditer(line)}
    return sexes.pop() if len(sexes) == 1 else None


def tagged_lines(text: str, quotes) -> list[tuple[str, str]]:
    """``(speaker, text)`` of the quotes whose speaker a tag names by a name, a description or
    the narrator's "I" ("said Emma", "said the beadle", "I said"; not "he said" or "she said",
    whose speaker is a guess): the lines the
    speakers' idiolects are learnt from (:mod:`.idiolect`).  ``quotes``: dicts or rows with
    ``method``, ``speaker``, ``speaker_start``, ``speaker_end`` (None when unknown) and ``text``."""
    out = []
    for q in quotes:
        if q["method"] != "tag" or not isinstance(q["speaker"], str) or not isinstance(q["text"], str):
            continue
        s, e = q["speaker_start"], q["speaker_end"]
        if s is None or e is None or text[int(s):int(e)].lower() not in ("he", "she"):
            out.append((q["speaker"], q["text"]))
    return out


def _idiolect(idiolects: Idiolects | None, said: str) -> Callable[[str], float | None] | None:
    """Candidate id -> the idiolect score of the words ``said`` (computed once per candidate)."""
    if idiolects is None:
        return None
    line = words(said)
    cache: dict[str, float | None] = {}

    def score(cid: str) -> float | None:
        if cid not in cache:
            cache[cid] = idiolects.score(cid, line)
        return cache[cid]
    return score


def _candidates(t: dict, cands: list[str], X, ctx: _Ctx) -> tuple[list[str], Any, str]:
    """The candidates of turn ``t`` and the kind of choice: for a tag's "he"/"she", only the
    characters of that gender (and not the one the tag says the line is said to)."""
    pron = t.get("pron")
    if not pron:
        return cands, X, "turn"
    keep = [i for i, c in enumerate(cands) if c != pron["exclude"] and (
        ctx.gender.get(c) == pron["gender"] or (c in ctx.described and ctx.gender.get(c) is None))]
    return [cands[i] for i in keep], X[keep], "pronoun"


def _settle(t: dict, sp: str, cands: list[str], X, prob: float, p: dict) -> None:
    """Give turn ``t`` the speaker ``sp`` the search chose (for a tag's "he"/"she": the quotes
    that pronoun tags follow the choice) and record the choice for training."""
    pron = t.get("pron")
    record(p["start"], p["end"], cands, X, "pronoun" if pron else "turn")
    if pron:
        for j in pron["quotes"]:
            t["qs"][j]["speaker"] = sp
        t["speaker"] = sp
        return
    how = "subject" if t.get("hint") and sp == t["hint"][1] else "vocative" if t["addr"] else "turn"
    t.update(speaker=sp, conf=round(_TURN_CALIBRATION * prob, 3), how=how)


def _gap(paragraphs: dict[int, dict], a: int, b: int, longest: int | None = None) -> int:
    """Text paragraphs strictly between paragraph a and b (headings and, with
    ``longest``, narration paragraphs longer than that count as breaks)."""
    n = 0
    for pid in range(a + 1, b):
        p = paragraphs.get(pid)
        if p is None or p["kind"] != "text":
            return 99
        if longest is not None and p["end"] - p["start"] > longest:
            return 99
        n += 1
    return n


def narrator_votes(rows, narrator: str) -> dict[str, int]:
    """Names the other speakers call the narrator: the vocative addressees of the quote
    paragraphs next to one the narrator is tagged in ("'Well, Tom?' -- 'Yes,' I said.").
    An addressee that is the unnamed narrator itself (:data:`UNNAMED_NARRATOR`, given by
    turn-taking, since no vocative can name it) is no vote.

    ``rows`` are (paragraph, speaker, method, addressee) of the story's quotes.
    """
    mine = {p for p, sp, how, _ in rows if sp == narrator and how == "tag"}
    votes: dict[str, int] = {}
    seen = set()
    for p, sp, _, a in rows:
        if a == UNNAMED_NARRATOR:  # no name: the line is the narrator's by turn-taking
            continue
        if a and p not in mine and (p - 1 in mine or p + 1 in mine) \
                and (p, a) not in seen:
            seen.add((p, a))
            votes[a] = votes.get(a, 0) + 1
    return votes
