"""Narrative person and tense of narration, sentence by sentence, against the story's baseline.

Used by :mod:`shimmy_lab.trackers.drift` on the story's own sentences and on candidate
text.  There is no parser: each sentence of narration (quotes blanked out, offsets kept)
gets two cheap estimates.

* **Tense.**  Finite present verbs with a specific subject: a character's name,
  *he/she/it*, *they*, or *the* + noun, followed by an ``-s`` form (*lingers*, *leans*)
  or a base form after *they*; *is/are* + ``-ing`` or *not*.  Whether a word ending in
  ``-s`` is a verb is learnt from the story itself (:class:`Verbs`: *leans* is a verb
  when *leaned* or *leaning* occurs, and not a plural noun when the story says *the
  leans*).  Past verbs are counted the same way, plus *was/were/had/did*.
* **Person.**  First-person pronouns in narration (*I, me, my, we, us, our*), weighted:
  a narrator's aside (*I suppose*, *I am afraid*) counts half, *my* + a relation (*my
  own mother*) double; the plural counts only when it acts in the past (*we sang*), not
  in a general remark (*we lose the sense of proportion*, *our midst*), and a vocative
  (*oh, my friends*, *my dear*) not at all.

A *run* is a stretch of neighbouring sentences of one paragraph with such marks; it is a
``tense_shift`` (:data:`PRESENT_RUN`) or a ``pov_shift`` (:data:`FIRST_RUN`) when it has
enough of them and stands alone:

* the story as a whole is told in the past tense and the third person
  (:class:`Baseline`; first-person novels are quiet on person);
* few sentences around the run (:data:`CONTEXT`) are in the same mode or speak as *I*
  or to *you*: a letter, a newspaper article or a tale told in the first person is a
  section of the story, not a slip;
* the story's narrator does not do it all through (:data:`HABIT`: Dickens's "I wish
  some well-fed philosopher..." and present-tense asides); then only a long run counts.

Paragraphs of verse, paragraphs where a quotation mark was left unpaired (dialogue the
quote finder missed), and sentences that address *you* are not judged; in a story told
in the third person, present verbs beside *I/we/you* are a speech or the narrator's
comment, not the scene.  A candidate continuation (:func:`check_text`) has no context
test: all of it may have turned.
"""

from __future__ import annotations

import copy
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from . import _util as U

__all__ = ["Verbs", "Baseline", "Sentence", "Run", "Narration", "mark_sentences", "find_runs",
           "masked_text", "read_story", "check_text", "mark_candidate", "past_paragraphs",
           "insight_rows", "is_verse",
           "PRESENT_RUN", "FIRST_RUN"]

_TOK = re.compile(r"[A-Za-z]+(?:['\u2019-][A-Za-z]+)*|[.;:!?,()\u2014]|--")
#: present-tense weight a run needs (two finite present verbs with specific subjects)
PRESENT_RUN = 2.0
#: first-person weight a run needs (one *I* or *me* that is not an aside)
FIRST_RUN = 1.0
#: sentences on each side of a run that make its context, and how many of them may share
#: its mode (or speak as *I* or to *you*) before the run counts as a section of the story
#: rather than a slip
CONTEXT = 25
CONTEXT_MAX = 3
#: a story with this many runs of one mode has a narrator who writes that way; then a
#: run needs a weight of :data:`HABIT_WEIGHT` (several sentences of it)
HABIT = 5
HABIT_WEIGHT = 6.0

_PRES3 = frozenset("is has does says goes".split())
_PRES_PLURAL = frozenset("are have do am".split())
_MODAL_PRESENT = frozenset("can".split())
_PAST_AUX = frozenset("was were had did".split())
_PAST_IRREGULAR = frozenset("""was were had did said went came saw knew thought looked seemed
felt took made gave stood sat told began became brought held kept left got found heard ran
spoke wrote rose fell lay chose could would meant sent understood grew drew threw caught
taught bought fought sought struck stuck swung flung hung rang sang sprang sank drank ate
fed led fled met slept wept crept swept knelt dealt won shook woke bore wore tore swore
forgot forgave rode strode drove broke froze stole wound bound hid bit lit slid clung dug
spun shot lost paid laid""".split())
#: irregular past forms of common verbs (a stem is a verb when its past occurs)
_IRREGULAR_PAST_OF = {b: tuple(p.split("/")) for b, p in (x.split(":") for x in """
blow:blew throw:threw grow:grew know:knew draw:drew fly:flew strike:struck slide:slid
ride:rode write:wrote rise:rose fall:fell come:came run:ran sit:sat stand:stood take:took
give:gave break:broke speak:spoke drive:drove swim:swam sing:sang ring:rang drink:drank
sink:sank begin:began shake:shook wake:woke tear:tore wear:wore swear:swore bear:bore
steal:stole freeze:froze choose:chose hide:hid bite:bit light:lit hang:hung swing:swung
cling:clung dig:dug spin:spun shoot:shot lose:lost pay:paid lay:laid lie:lay keep:kept
sleep:slept weep:wept creep:crept sweep:swept kneel:knelt feel:felt deal:dealt meet:met
lead:led read:read feed:fed flee:fled leave:left bring:brought think:thought buy:bought
fight:fought seek:sought catch:caught teach:taught tell:told sell:sold hold:held
find:found bind:bound wind:wound grind:ground see:saw go:went get:got win:won
stick:stuck spring:sprang/sprung say:said make:made hear:heard send:sent spend:spent
bend:bent lend:lent build:built mean:meant""".split())}
_ADVERBS = frozenset("""also always never often still just then now only even soon once quite
rather really almost already scarcely hardly nearly merely simply indeed instantly suddenly
slowly quickly actually certainly evidently presently immediately probably perhaps again
too gently softly quietly not decently""".split())
_NOT_VERB = frozenset("""is was has his its this thus us as yes less unless perhaps always
sometimes besides towards afterwards upwards downwards backwards forwards nevertheless
whereas means series species news whose alas upstairs downstairs indoors outdoors
overseas nowadays sideways""".split())
_FUNC = frozenset("""the a an and but or nor for so yet if when while as at in on of to by
with from this that these those there here then thus he she it they we i you his her its
their our my your no not all some any every each what which who whom whose how why where one
after before upon until though although because since""".split())
_DETERMINERS = frozenset("the this his her their its".split())
_POSSESSIVES = frozenset("his her their its".split())
_PLURAL_DETERMINERS = frozenset("the his her their its these those".split())
#: words after a determiner that are not the head of a subject ("the other is")
_NOT_SUBJECT = frozenset("other others former latter rest same whole first last next".split())
_ADJECTIVE_ENDINGS = ("able", "ible", "ous", "ful", "less", "ive", "ish", "ical")
#: words after "they" or a plural noun that are no present verb of the scene: modals
#: (FID or a general remark), the subjunctive "be", a first-person aside
_NOT_BASE = frozenset("""will shall may must can might could would should be wonder remember
mean""".split())
#: indefinite pronouns: "Nobody moves"
_INDEFINITE = frozenset("nobody somebody everybody anybody someone everyone anyone".split())
#: words before a determiner that make the clause a comparison or a general statement
#: ("as a tired man hears", "which a child feels")
_GENERIC_INTRO = frozenset("as like than which that whom".split())
_FIRST = frozenset("i me my myself we us our ours ourselves".split())
_SECOND = frozenset("you your yours yourself yourselves thou thee thy".split())
#: verbs of a narrator's aside: "I suppose", "I dare say", "I confess"
_ASIDE = frozenset("""suppose think fancy believe say confess admit regret dare fear trust
hope imagine own grant presume know""".split())
#: people a narrator may name as their own: "my own mother", "my grandfather"
_RELATIONS = frozenset("""mother father grandmother grandfather aunt uncle brother sister
cousin wife husband son daughter family parents nurse grandparents""".split())
#: where an -s word is a plural noun: "the leaves", "with sighs", "crushes of the"
_NOUN_CONTEXT = re.compile(r"\b(?:the|his|her|their|its|my|your|our|these|those|some|many|few|"
                           r"two|three|of|with)\s+([a-z]+s)\b|"
                           r"\b([a-z]+s)\s+of\s+(?:the|a|an|his|her|their)\b", re.I)
_VERSE_LINE = re.compile(r"\n[ \t]{2,}\S")
_LOOSE_QUOTE = re.compile(r"[\"\u201c\u201d]|(?:^|(?<=\s))['\u2018](?=[A-Za-z])")


class Verbs:
    """Which words are verbs, learnt from a story's own vocabulary.

    Parameters
    ----------
    vocab
        Lowercase word counts of the story.
    text
        The story's text (for the words it uses as plural nouns: *the leaves*).
    """

    def __init__(self, vocab: Counter, text: str) -> None:
        self.vocab = vocab
        self.extra: Counter = Counter()
        self.nouns = Counter((m.group(1) or m.group(2)).lower()
                             for m in _NOUN_CONTEXT.finditer(text))

    def with_text(self, text: str) -> "Verbs":
        """A copy that also knows the words of ``text`` (a candidate continuation)."""
        out = copy.copy(self)
        out.extra = Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))
        return out

    def _stem(self, b: str) -> bool:
        if len(b) < 2:
            return False
        forms = [b + "ed", b + "ing"]
        if b.endswith("e"):
            forms += [b + "d", b[:-1] + "ing"]
        if b.endswith("y"):
            forms.append(b[:-1] + "ied")
        if len(b) > 2 and b[-1] not in "aeiouwy":
            forms += [b + b[-1] + "ed", b + b[-1] + "ing"]
        forms += _IRREGULAR_PAST_OF.get(b, ())
        return any(f in self.vocab or f in self.extra for f in forms)

    def third(self, w: str, known: bool = True) -> bool:
        """Whether ``w`` is a third-person singular present form (*leans*, *does*).

        With ``known`` the stem must occur in the story as *-ed* or *-ing*."""
        if w in _PRES3:
            return True
        if len(w) < 4 or not w.endswith("s") or w in _NOT_VERB \
                or w.endswith(("ss", "us", "is", "ous", "wards", "ways")):
            return False
        if not known:
            return True
        stems = [w[:-1]]
        if w.endswith("es"):
            stems.append(w[:-2])
        if w.endswith("ies"):
            stems.append(w[:-3] + "y")
        return any(self._stem(b) for b in stems)

    def base(self, w: str) -> bool:
        """Whether ``w`` is a plain present form after *they* (*go*, *are*)."""
        if w in _PRES_PLURAL:
            return True
        if w.endswith(("ed", "s", "ly")) or w in _ADVERBS or w in _NOT_VERB or w in _FUNC \
                or w in _PAST_IRREGULAR:
            return False
        return self._stem(w)

    def noun(self, w: str) -> bool:
        """Whether the story uses ``w`` (an ``-s`` form) as a plural noun."""
        return w not in _PRES3 and self.nouns.get(w, 0) > 0


def is_verse(par: str) -> bool:
    """Whether a paragraph is set as verse: indented lines, or lines that open with a
    capital letter where prose would run on."""
    lines = [ln for ln in par.split("\n") if ln.strip()]
    if len(lines) < 3:
        return False
    if len(_VERSE_LINE.findall(par)) >= 2:
        return True
    caps = sum(ln.lstrip()[:1].isupper() for ln in lines[1:])
    return caps >= 0.75 * (len(lines) - 1)


@dataclass
class Sentence:
    """The person and tense marks of one sentence of narration."""

    start: int
    end: int
    paragraph: int
    present: float = 0.0
    past: float = 0.0
    first: float = 0.0
    judged: bool = True
    speech: bool = False
    verse: bool = False
    evidence_present: list[str] = field(default_factory=list)
    evidence_first: list[str] = field(default_factory=list)

    @property
    def is_present(self) -> bool:
        """Whether the sentence reads as present-tense narration."""
        return self.present >= 1 and self.present >= self.past

    @property
    def is_first(self) -> bool:
        """Whether the sentence is narrated in the first person."""
        return self.first >= 1


def masked_text(text: str, quotes: Iterable[tuple[int, int]]) -> str:
    """``text`` with quoted spans blanked out by spaces (offsets unchanged)."""
    parts, pos = [], 0
    for s, e in sorted(quotes):
        if e <= pos:
            continue
        s = max(s, pos)
        parts.append(text[pos:s])
        parts.append(" " * (e - s))
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def _tokens(narr: str, start: int, end: int) -> list[tuple[int, str]]:
    return [(m.start(), m.group(0)) for m in _TOK.finditer(narr, start, end)]


def _subject(i: int, toks: list[str], low: list[str], names: set[str],
             first_person: bool, last_present: int, verbs: Verbs) -> str | None:
    """What kind of subject ``toks[i]`` can be: a person ``"3"``, *nobody* ``"x"``, *it*
    ``"it"``, plural ``"p"``, a noun ``"n"`` (``"n0"`` opening the sentence: "The boat
    slides"; ``"na"`` after *a*), a plural noun ``"np"`` ("the horses stamp"), a
    capitalised word opening the sentence ``"cap"`` ("Night falls"), a coordinated verb
    slot ``"c"`` or none."""
    t, lo = toks[i], low[i]
    if lo in ("he", "she"):
        return "3"
    if lo in _INDEFINITE:
        return "x"
    if lo == "it":
        return "it"
    if lo == "they" or (first_person and lo in ("i", "we")):
        return "p"
    if t[0].isupper() and t.isalpha() and lo not in _FUNC and \
            (t in names or (i > 0 and toks[i - 1][:1].isupper() and toks[i - 1] in names)):
        return "3"
    if i == 0 and t[0].isupper() and t.isalpha() and lo not in _FUNC and not lo.endswith("s"):
        return "cap"
    if i > 0 and low[i - 1] in _PLURAL_DETERMINERS and lo.endswith("s") and \
            lo not in _NOT_VERB and verbs.noun(lo) and \
            not lo.endswith(("ss", "ness", "us", "is", "ics")):
        return "np"
    if not t.replace("-", "").isalpha() or lo in _FUNC or lo.endswith("s"):
        if lo in ("and", ",") and i - last_present <= 10:
            return "c"
        return None
    if lo.endswith(_ADJECTIVE_ENDINGS) or lo in _NOT_SUBJECT or \
            (lo.endswith("ed") and len(lo) > 4):
        return None
    prev = low[i - 1] if i > 0 else ""
    if prev in _DETERMINERS or prev in ("a", "an"):
        d = i - 1
    elif i > 1 and low[i - 2] in ("the", "a", "an") and prev.replace("-", "").isalpha():
        d = i - 2
    else:
        return None
    if d > 0 and low[d - 1] in _GENERIC_INTRO:
        return None
    if low[d] in ("a", "an"):
        return "na"
    if low[d] in _POSSESSIVES:
        return "nh"
    return "n0" if d == 0 else "n"


def _verb_at(i: int, toks: list[str], low: list[str], kind: str) -> int:
    """Index of the verb after the subject at ``i`` (skipping adverbs and, after a name,
    a short parenthesis: "Emma, meanwhile, sits"), or -1."""
    n = len(toks)
    j = i + 1
    if kind == "3" and j < n and toks[j] == ",":
        k = j + 1
        while k < n and k <= j + 4 and toks[k] != ",":
            k += 1
        if k + 1 < n and toks[k] == ",":
            j = k + 1
    while j < n and low[j] in _ADVERBS:
        j += 1
    return j if j < n and toks[j].isalpha() and toks[j].islower() else -1


_NOT_PARTICIPLE = frozenset("""nothing something anything everything thing morning evening
during being king ring sing spring string wing""".split())


def _progressive(i: int, low: list[str]) -> bool:
    """Whether ``low[i]`` is *is/are* of a present progressive after a subject."""
    if low[i] not in ("is", "are") or i == 0 or i + 1 >= len(low):
        return False
    nxt, prev = low[i + 1], low[i - 1]
    if not (nxt == "being" or (nxt.endswith("ing") and len(nxt) > 4
                               and nxt not in _NOT_PARTICIPLE)):
        return False
    return prev.isalpha() and prev not in ("there", "it", "what", "which", "that", "who",
                                           "this", "here")


def _finite_next(j: int, low: list[str]) -> bool:
    """Whether the word after ``low[j]`` is a finite verb (so ``low[j]`` is a noun)."""
    if j + 1 >= len(low):
        return False
    nxt = low[j + 1]
    return nxt in _PAST_IRREGULAR or nxt in _PRES3 or nxt in _PRES_PLURAL or \
        nxt in ("will", "would", "can", "could", "shall", "should", "must", "may", "might")


#: function words that can still open a subject slot
_SUBJECT_WORDS = frozenset("he she it they i we and".split())
#: weight of a present verb by the kind of its subject (see :func:`_subject`): a general
#: *it*, *a* + noun or a possessive + noun is often the narrator's comment, not the scene
_SUBJECT_WEIGHT = {"3": 1.0, "n": 1.0, "n0": 1.0, "p": 1.0, "it": 0.5, "na": 0.5, "nh": 0.5}


def _is_past(v: str) -> bool:
    return v in _PAST_IRREGULAR or (v.endswith("ed") and len(v) > 4)


def _tense_marks(toks: list[str], verbs: Verbs, names: set[str],
                 first_person: bool) -> tuple[float, float, list[str]]:
    """(present, past, present evidence) of one sentence's tokens."""
    low = [t.lower() for t in toks]
    pres = past = 0.0
    ev: list[str] = []
    used: set[int] = set()
    last, last_w = -99, 0.0
    for i, lo in enumerate(low):
        if lo in _PAST_AUX:
            past += 1
            continue
        if _progressive(i, low) and i + 1 not in used and i not in used:
            pres += 1.0  # "the shutters are being closed", "the crowd is coming"
            used.update((i, i + 1))
            last, last_w = i + 1, 1.0
            ev.append(f"{toks[i - 1]} {toks[i]} {toks[i + 1]}")
            continue
        if (lo in _FUNC and lo not in _SUBJECT_WORDS) or (not lo[0].isalpha() and lo != ","):
            continue  # cannot be a subject (a fast path: most words)
        kind = _subject(i, toks, low, names, first_person, last, verbs)
        if kind is None:
            continue
        j = _verb_at(i, toks, low, kind)
        if j < 0 or j in used:
            continue
        v = low[j]
        if kind == "it" and v in ("is", "has", "seems", "does"):
            continue  # "it is a truth", "it seems": general statements
        if kind in ("n", "n0", "na", "nh", "cap") and (verbs.noun(v) or _finite_next(j, low)):
            continue  # "the heavy hinges began": a plural noun, the subject of a verb
        w = last_w if kind == "c" else _SUBJECT_WEIGHT.get(kind, 1.0)
        prog = v in ("is", "are") and j + 1 < len(low) and (low[j + 1].endswith("ing")
                                                             or low[j + 1] == "not")
        if prog:
            hit = True
        elif kind in ("3", "n0", "x", "c"):
            # after a name, he/she or a verb of the same subject an -s word is a verb,
            # unless the story uses it as a plural noun and never as a verb stem
            # ("Catholic friends")
            hit = (verbs.third(v, known=verbs.noun(v))) or (kind != "c" and v in _MODAL_PRESENT)
        elif kind in ("n", "na", "nh", "it", "cap"):
            hit = verbs.third(v)
        else:
            hit = verbs.base(v) and v not in _ASIDE and v not in _NOT_BASE
            if kind == "np" and v == "like":
                hit = False  # "natural cheerfulness like Emma's"
            if v in _PRES_PLURAL:
                w = 0.5  # "they are", "they have": often a general remark
        if kind in ("n", "n0", "na", "nh", "x", "cap") and v in ("is", "has") and not prog:
            w = min(w, 0.5)  # "the conduct is mistaken": a general remark as often as a scene
        if hit:
            pres += w
            used.add(j)
            last, last_w = j, w
            ev.append(f"{toks[i]} {toks[j]}" if kind != "c" else toks[j])
        elif kind != "c" and _is_past(v):
            past += 1  # ("he was" counts twice: subject and auxiliary; a past clause weighs)
    return pres, past, ev


def _first_marks(toks: list[str]) -> tuple[float, int, list[str]]:
    """(weight, count, evidence) of the first-person words of one sentence's tokens.

    *I* and *me/my* count one each (half in an aside: "I suppose"); the plural counts
    when it tells what the narrator and others did ("we sang", "we were"), not in the
    narrator's general remarks ("we lose the sense of proportion", "our midst"), unless
    the sentence also has a first-person singular or a "we" that acts in the past."""
    low = [t.lower() for t in toks]
    w = plural = 0.0
    n = 0
    acting = False
    ev: list[str] = []
    for i, lo in enumerate(low):
        if lo not in _FIRST:
            continue
        t = toks[i]
        if lo == "i" and (t != "I" or (i > 0 and toks[i - 1][:1].isupper()
                                       and low[i - 1] not in _FUNC)):
            continue  # "James I", "Chapter I"
        if lo == "us" and t == "US":
            continue
        n += 1
        nxt = [x for x in low[i + 1:i + 4] if x not in _ADVERBS and x != "all"]
        nxt1 = nxt[0] if nxt else ""
        if lo in ("we", "us", "our", "ours", "ourselves"):
            if lo == "we" and (_is_past(nxt1) or nxt1 in ("remember", "recall")):
                acting = True
                w += 1.0
            else:
                plural += 0.5
            ev.append(" ".join(toks[i:i + 2]))
            continue
        back = [x for x in low[max(0, i - 3):i] if x.isalpha()]
        if lo == "my" and ((back and back[-1] in ("oh", "o", "ah")) or nxt1 == "dear"):
            continue  # "oh, my friends", "my dear": a speech or a letter
        if lo == "i" and (nxt1 in _ASIDE or (nxt1 == "am" and len(nxt) > 1
                                              and nxt[1] in ("afraid", "sure", "told"))):
            wt = 0.5  # "I suppose", "I dare say", "I am afraid"
        elif lo == "my" and (nxt1 in _RELATIONS or (nxt1 == "own" and len(nxt) > 1
                                                    and nxt[1] in _RELATIONS)):
            wt = 2.0  # "my own mother": the narrator's own people
        else:
            wt = 1.0
        if lo == "i" and wt == 1.0:
            acting = True
        w += wt
        ev.append(" ".join(toks[i:i + 2]))
    if acting:
        w += 2 * plural
    return w, n, ev


def mark_sentences(text: str, narr: str, sentences: Iterable[tuple[int, int, int]],
                   verbs: Verbs, names: set[str], first_person: bool,
                   candidate: bool = False) -> list[Sentence]:
    """Person and tense marks of each sentence of narration.

    Parameters
    ----------
    text
        The text.
    narr
        The text with quotes blanked out (:func:`masked_text`).
    sentences
        ``(start, end, paragraph)`` of each sentence, in text order.
    verbs
        The story's verb lexicon.
    names
        Name words of the story's people.
    first_person
        Whether the story is told in the first person (then *I/we* + a present verb is
        present-tense evidence).
    candidate
        The text is a candidate continuation, not the story: *I/we* + a present verb is
        present-tense evidence there too (a continuation that turns to "I walk" turns
        both person and tense), and only *you* makes a sentence speech.

    Returns
    -------
    list of Sentence
        Sentences with any narration; ``judged`` is False for verse, for paragraphs where
        a quotation mark is left unpaired, and for sentences that address *you*.
    """
    out: list[Sentence] = []
    bad_par: dict[int, bool] = {}
    bad_loose: dict[int, bool] = {}
    rows = list(sentences)
    par_span: dict[int, tuple[int, int]] = {}
    for s, e, p in rows:
        a, b = par_span.get(p, (s, e))
        par_span[p] = (min(a, s), max(b, e))
    for s, e, p in rows:
        toks = [t for _, t in _tokens(narr, s, e)]
        if not any(t[0].isalpha() for t in toks):
            continue
        if p not in bad_par:
            a, b = par_span[p]
            bad_loose[p] = bool(_LOOSE_QUOTE.search(narr, a, b))
            bad_par[p] = bad_loose[p] or is_verse(text[a:b])
        sen = Sentence(s, e, p)
        low = [t.lower() for t in toks]
        second = sum(t in _SECOND for t in low)
        if bad_par[p] or _VERSE_LINE.search(text, s, e):
            sen.judged = False
            sen.verse = not bad_loose.get(p, False)
        sen.present, sen.past, sen.evidence_present = _tense_marks(
            toks, verbs, names, first_person or candidate)
        sen.first, n_first, sen.evidence_first = _first_marks(toks)
        sen.speech = bool(second or any(x in ("i", "me", "my", "myself") for x in low))
        if second and second * 2 >= n_first:
            sen.judged = False  # a letter, a speech, an aside to the reader
        if not first_person and (second or (n_first and not candidate)):
            # in a story told in the third person, present verbs beside "I/we/you" are a
            # speech, a letter or the narrator's comment, not the scene
            sen.present, sen.evidence_present = 0.0, []
        out.append(sen)
    return out


@dataclass
class Run:
    """Neighbouring sentences of one paragraph in the same departing mode."""

    start: int
    end: int
    first_index: int
    last_index: int
    weight: float
    evidence: list[str]


def find_runs(sents: list[Sentence], mode: str, need: float,
              context: int | None = CONTEXT) -> list[Run]:
    """Runs of sentences in ``mode`` (``"present"`` or ``"first"``) that are slips.

    Parameters
    ----------
    sents
        Output of :func:`mark_sentences`.
    mode
        ``"present"`` (present-tense narration) or ``"first"`` (first-person narration).
    need
        Weight a run needs (present verbs or first-person words).
    context
        Sentences on each side that may not share the mode more than
        :data:`CONTEXT_MAX` times (``None``: no context test, for candidate text).

    Returns
    -------
    list of Run
    """
    def on(x: Sentence) -> bool:
        return x.judged and (x.is_present if mode == "present" else x.is_first)

    def weight(x: Sentence) -> float:
        return x.present if mode == "present" else x.first

    flags = [on(x) for x in sents]
    # sentences that depart in a weaker way, or speak to someone or as someone ("I",
    # "you": a letter, an article, dialogue the quote finder missed), make a context
    # the run belongs to
    loose = [(x.speech and not x.verse) or (x.judged and weight(x) > 0
                          and (mode != "present" or x.present >= x.past)) for x in sents]
    idx_on = [i for i, f in enumerate(loose) if f]
    runs: list[Run] = []
    i = 0
    n = len(sents)
    while i < n:
        if not flags[i] and not (mode == "present" and sents[i].judged
                                 and sents[i].present >= 2):
            i += 1
            continue
        j = i
        while j + 1 < n and sents[j + 1].paragraph == sents[i].paragraph and \
                (flags[j + 1] or (j + 2 < n and flags[j + 2] and
                                  sents[j + 2].paragraph == sents[i].paragraph)):
            j += 1
        span = sents[i:j + 1]
        w = sum(weight(x) for x in span if x.judged)
        if w >= need:
            if context is None or _alone(idx_on, i, j, context):
                ev = [e for x in span for e in (x.evidence_present if mode == "present"
                                                else x.evidence_first)]
                runs.append(Run(span[0].start, span[-1].end, i, j, w, ev))
        i = j + 1
    if context is not None and len(runs) >= HABIT:
        # the narrator does this all through the story ("I wish some well-fed
        # philosopher...", present-tense asides): only a strong run departs from it
        runs = [r for r in runs if r.weight >= max(need, HABIT_WEIGHT)]
    return runs


def _alone(idx_on: list[int], i: int, j: int, context: int) -> bool:
    """Whether few sentences within ``context`` of ``[i, j]`` share the run's mode."""
    before = bisect_left(idx_on, i) - bisect_left(idx_on, i - context)
    after = bisect_right(idx_on, j + context) - bisect_right(idx_on, j)
    return before + after <= CONTEXT_MAX


@dataclass
class Baseline:
    """How the story narrates: share of its judged sentences in the present tense and in
    the first person."""

    present: float
    first: float

    @classmethod
    def of(cls, sents: list[Sentence]) -> "Baseline":
        """The baseline of a story's marked sentences."""
        judged = [x for x in sents if x.judged]
        tensed = [x for x in judged if x.present + x.past > 0]
        pres = sum(x.present > x.past for x in tensed) / max(len(tensed), 1)
        first = sum(x.first >= 1 for x in judged) / max(len(judged), 1)
        return cls(pres, first)

    @property
    def past_tense(self) -> bool:
        """Whether the story is told in the past tense."""
        return self.present < 0.3

    @property
    def third_person(self) -> bool:
        """Whether the story is told in the third person."""
        return self.first < 0.1


#: the kind of insight of each mode
KIND = {"present": "tense_shift", "first": "pov_shift"}
NEED = {"present": PRESENT_RUN, "first": FIRST_RUN}


@dataclass
class Narration:
    """How a story narrates: its verb lexicon, people's names, baseline and own runs."""

    verbs: Verbs
    names: set[str]
    base: Baseline
    first_person: bool
    runs: dict[str, list[Run]]

    def judges(self, mode: str) -> bool:
        """Whether runs of ``mode`` depart from the story (past tense, third person)."""
        return self.base.past_tense if mode == "present" else self.base.third_person

    def habit(self, mode: str) -> bool:
        """Whether the story's narrator writes that way all through (see :data:`HABIT`)."""
        return len(self.runs.get(mode, [])) >= HABIT or \
            len(self.runs.get("_all_" + mode, [])) >= HABIT


def read_story(text: str, quotes: Iterable[tuple[int, int]],
               sentences: Iterable[tuple[int, int, int]], vocab: Counter,
               names: set[str]) -> Narration:
    """Mark a story's sentences, learn its baseline and find its own slips.

    Parameters
    ----------
    text
        The story's text.
    quotes
        ``(start, end)`` of its quotations.
    sentences
        ``(start, end, paragraph)`` of its sentences.
    vocab
        Lowercase word counts of the story.
    names
        Name words of its people (capitalised).

    Returns
    -------
    Narration
    """
    narr = masked_text(text, quotes)
    verbs = Verbs(vocab, text)
    rows = list(sentences)
    sents = mark_sentences(text, narr, rows, verbs, names, False)
    base = Baseline.of(sents)
    first_person = not base.third_person
    if first_person:
        sents = mark_sentences(text, narr, rows, verbs, names, True)
    nar = Narration(verbs, names, base, first_person, {})
    for mode in KIND:
        if nar.judges(mode):
            nar.runs["_all_" + mode] = find_runs(sents, mode, NEED[mode], None)
            nar.runs[mode] = find_runs(sents, mode, NEED[mode])
    return nar


def mark_candidate(nar: Narration, text: str, quotes: Iterable[tuple[int, int]],
                   sentences: Iterable[tuple[int, int, int]]) -> list[Sentence]:
    """The marks of a candidate text's sentences, read with the story's lexicon."""
    return mark_sentences(text, masked_text(text, quotes), sentences,
                          nar.verbs.with_text(text), nar.names, nar.first_person, True)


def past_paragraphs(sents: list[Sentence], min_past: float = 3.0) -> set[int]:
    """Paragraphs told in the past tense: at least ``min_past`` past marks and no sentence
    that reads as present-tense narration."""
    past: Counter = Counter()
    present: set[int] = set()
    for x in sents:
        past[x.paragraph] += x.past
        if x.is_present:
            present.add(x.paragraph)
    return {p for p, n in past.items() if n >= min_past and p not in present}


def check_text(nar: Narration, text: str, quotes: Iterable[tuple[int, int]],
               sentences: Iterable[tuple[int, int, int]],
               marked: list[Sentence] | None = None) -> dict[str, list[Run]]:
    """Runs of a candidate text that depart from the story of ``nar``.

    The whole candidate may be in the departing mode (no context test); in a story whose
    narrator has the habit a run needs :data:`HABIT_WEIGHT`.  ``marked``: the sentences
    already marked by :func:`mark_candidate`."""
    sents = marked if marked is not None else mark_candidate(nar, text, quotes, sentences)
    out = {}
    for mode in KIND:
        if nar.judges(mode):
            need = max(NEED[mode], HABIT_WEIGHT) if nar.habit(mode) else NEED[mode]
            out[mode] = find_runs(sents, mode, need, None)
    return out


def insight_rows(system: str, nar: Narration, runs: dict[str, list[Run]]) -> list[dict]:
    """Insight rows of the runs: the span of the sentences, their verbs or pronouns, and
    the story's baseline they depart from."""
    out = []
    for mode, rs in runs.items():
        if mode.startswith("_"):
            continue
        for r in rs:
            ev = ", ".join(dict.fromkeys(r.evidence))
            ev = ev if len(ev) <= 120 else ev[:117] + "..."
            sev = min(1.0, r.weight / (2.0 * NEED[mode]))
            if mode == "present":
                out.append(U.insight(
                    system, "tense_shift", "important", sev,
                    "Narration switches to the present tense",
                    f"Present-tense narration ({ev}) in a story told in the past tense "
                    f"({nar.base.present:.0%} of its narration sentences are in the present).",
                    r.start, r.end, [], "Keep the narration in the past tense."))
            else:
                out.append(U.insight(
                    system, "pov_shift", "important", sev,
                    "Narration switches to the first person",
                    f"First-person narration ({ev}) in a story told in the third person "
                    f"({nar.base.first:.1%} of its narration sentences say I or we).",
                    r.start, r.end, [],
                    "Keep the narrator in the third person (he/she, not I/we)."))
    return out
