"""Who a description or a pronoun in a speech tag stands for ("said the old gentleman",
"she replied", "said the gentleman in the white waistcoat"), and the person a paragraph of
narration describes before a line ("The waiter nodded his head ...").

The functions take the reader's context (``ctx``, :class:`shimmy_lab.story.dialogue._Ctx`):
``recent``, ``between``, ``chapter_start``, ``gender``, ``names``, ``lead``, ``described``,
``described_at``, ``describe`` and ``by_word``.  :mod:`.dialogue` uses them; they use
nothing of it.
"""

from __future__ import annotations

import re
from typing import Callable

from .characters import slug
from .lexicon import FEMALE_PERSON_NOUNS, MALE_PERSON_NOUNS, ROLE_NOUNS

__all__ = ["DESCRIBED_REACH", "PRONOUN_REACH", "described_referent", "head_words", "narrated_person",
           "pronoun_referent"]


#: last words of "the ..." that name no speaker
_NOT_SPEAKERS = frozenset("first second third same one two three rest whole last next way words "
                          "thing things question answer reply letter note paper book story fact moment "
                          "matter truth end latter's".split())

#: how far (characters) a speaker known by a description is still the one "the <description>"
#: names: "the man" of one chapter is not the man of the next
DESCRIBED_REACH = 5000

#: how far back (characters) a "he"/"she" tag looks for a person of its gender when none
#: was named in the context's last ``recent`` window ("'The eyes again!' he cried", the
#: murderer named pages before), never past the start of the chapter (the tales of a
#: collection are its chapters: "'Follow me!' she said" of a fairy is not the last tale's
#: heroine)
PRONOUN_REACH = 30000


def pronoun_referent(ctx, g: str, pos: int, para_start: int, speakers: list[str],
                     prev_speaker: str | None, exclude: str | None = None,
                     fits: Callable[[str], bool] | None = None) -> str | None:
    """The character of gender ``g`` "he" / "she" (or "the old man") stands for: the
    subject of the paragraph, else one named in the narration since the last quote, else
    a speaker of the conversation or a character named lately who did not speak last.
    ``fits``: of these, the ones a description fits, when there are any ("the old man" is
    someone called by a title, :func:`_age_fit`)."""
    fits = fits or (lambda c: True)
    subject = ctx.recent(pos, pos - para_start + 1)[::-1][:1]
    if subject and ctx.gender.get(subject[0]) == g and subject[0] != exclude and fits(subject[0]):
        return subject[0]
    cands = ctx.recent(para_start, para_start - ctx.lead) if ctx.lead < para_start else []
    cands += speakers[::-1] + ctx.recent(pos)
    cands = [c for c in cands if ctx.gender.get(c) == g and c != exclude]
    cands = [c for c in cands if fits(c)] or cands
    if not cands:  # nobody of that gender named lately: the last one named before in the chapter
        reach = min(PRONOUN_REACH, pos - ctx.chapter_start(pos))
        cands = [c for c in ctx.recent(pos, reach) if ctx.gender.get(c) == g and c != exclude][:1]
    if exclude:
        return (cands or [None])[0]
    if para_start - ctx.lead > 5:  # narration came between: the last speaker may go on
        return (cands or [None])[0]
    other = [c for c in cands if c != prev_speaker]
    return (other or cands or [None])[0]


#: last words of a description that are no noun it could be headed by ("the voice close
#: behind", "the unnatural young"): cut off its end
_NOT_HEADS = frozenset("young old little faint loud close low high deep clear heavy sharp sudden "
                       "behind near nearest farther further poor dear good great kind wretched "
                       "unhappy unfortunate worthy honest excellent".split())
#: plural heads that are no plural in "-s": a group, no one speaker
_GROUPS = frozenset("people men women children folk gentlemen ladies".split())


def head_words(words: list[str]) -> list[str] | None:
    """The words of a description up to its head noun (a trailing participle or adjective
    cut off: "the child pressing" is "the child"); None for a group ("the voices", "the
    two women") or when no head is left."""
    cut = next((i for i, w in enumerate(words) if i and len(w) > 4 and w.endswith(("ing", "ed"))), len(words))
    words = list(words[:cut])
    while words and words[-1] in _NOT_HEADS:
        words.pop()
    if not words:
        return None
    head = words[-1]
    if head in _GROUPS or (head.endswith("s") and not head.endswith(("ss", "us", "is"))):
        return None
    return words


def described_referent(ctx, words: list[str], pos: int, para_start: int, speakers: list[str],
                       prev_speaker: str | None, exclude: str | None, new: bool = True,
                       indefinite: bool = False) -> str | None:
    """The speaker of "said the <words>": "the latter" / "the former" is the second / first
    of the last two people the narration since the last line names, else, as "the other",
    the one who spoke before the last speaker; "the old man", "the girl" stand for a character as "he" and "she" do, one
    their age fits (:func:`_age_fit`); "the count", "the Hatter" for the character whose
    name holds the word (the one named last, if several); "the gentleman in the white
    waistcoat" (:func:`_set_apart`) and any other description (``new``) is a speaker of
    its own.  With
    ``indefinite`` ("said a tall man", "cried a voice") the speaker is someone new, never a
    character already named: a speaker of its own, "the tall man" from then on."""
    apart = next((i for i, w in enumerate(words) if i and w in ("in", "with")), None)
    if apart is not None and not indefinite:
        if _MANNER.isdisjoint(words[apart:]) and words[apart + 1:apart + 2] == ["the"]:
            return _set_apart(ctx, words, apart, pos, new)
        words = words[:apart]  # "the girl in a hoarse voice": the girl
    words = head_words(words)
    if words is None:
        return None
    if indefinite:
        if not new or not words or words[-1] in _NOT_SPEAKERS:
            return None
        if "in" in words:  # "a lady in the group": the lady
            words = words[:words.index("in")]
        return ctx.describe("the " + " ".join(words), pos) if words else None
    known = slug("the " + " ".join(words))
    if known in ctx.described and known != exclude \
            and pos - ctx.described_at.get(known, pos) < DESCRIBED_REACH:  # "the tall man" after "said a tall man"
        ctx.described_at[known] = pos
        return known
    head = words[-1]
    if head in ("latter", "former"):  # "Mrs. Weston and Miss Bates met them at the door. '...,'
        named = [c for c in ctx.recent(pos, pos - ctx.lead + 1) if c != exclude][:2]  # said the latter"
        if len(named) == 2:
            return named[0] if head == "latter" else named[1]
    if head in ("other", "latter", "former"):
        return next((c for c in speakers[::-1] if c not in (prev_speaker, exclude)), None)
    if head in _NOT_SPEAKERS:
        return None
    g = "male" if head in MALE_PERSON_NOUNS else "female" if head in FEMALE_PERSON_NOUNS else None
    if g:
        return pronoun_referent(ctx, g, pos, para_start, speakers, prev_speaker, exclude, _age_fit(ctx, words))
    cands = ctx.by_word(head) - {exclude}
    if cands:
        near = [c for c in speakers[::-1] + ctx.recent(pos) if c in cands]
        if near:
            return near[0]
        return next(iter(cands)) if len(cands) == 1 else None
    if not new:
        return None
    return ctx.describe("the " + " ".join(words), pos)


#: titles of grown people ("the old gentleman" is rather Mr Brownlow than Oliver; "the girl"
#: no Mrs)
_GROWN = re.compile(r"(?:Mr|Mrs|Sir|Lady|Lord|Dr|Doctor|Rev|Reverend|Captain|Colonel|Admiral|General|"
                    r"Inspector|Professor|Madame|Monsieur|Major)\b")
_OLD = frozenset("old elderly aged".split())
_YOUNG = frozenset("boy girl lad lass child youth maiden young little".split())


def _age_fit(ctx, words: list[str]) -> Callable[[str], bool] | None:
    """Which characters a description of age fits, by their titles: "the old man" one called
    Mr, Sir, Dr ...; "the girl", "the young man" one who is not.  None for other descriptions."""
    if _OLD & set(words):
        return lambda c: bool(_GROWN.match(ctx.names.get(c) or ""))
    if _YOUNG & set(words):
        return lambda c: not _GROWN.match(ctx.names.get(c) or "")
    return None


#: words after "in"/"with" that tell how a line is said, not who says it ("said the Jew in a
#: low voice", "with the same smile")
_MANNER = frozenset("voice voices tone manner air way whisper undertone accent look looks smile "
                    "same former usual meantime hope expectation".split())


def _set_apart(ctx, words: list[str], apart: int, pos: int, new: bool) -> str | None:
    """The speaker of "said the gentleman in the white waistcoat" (``words`` after "the";
    ``apart`` the index of "in"/"with"): a speaker of its own, named by the whole of it
    (none for a group: "the men in the cart")."""
    if head_words(words[:apart]) is None:
        return None
    desc = "the " + " ".join(words)
    return ctx.describe(desc, pos) if new or slug(desc) in ctx.described else None


#: a person described as the subject of a clause of narration ("the porter stopped me", "a
#: small, dark, brisk man in the dress of a coachman accosted us", "the little man with the
#: papers slipped into the seat"): the description, its article, head noun and the verb after
_NARRATED = re.compile(
    r"\b(?P<art>[Tt]he|[Aa]n?)\s+(?P<words>(?:(?!(?:the|a|an|and|or|but|of|in|on|at|to|with|by|from|"
    r"his|her|their|was|had|who|which|that)\b)[a-z-]+,?\s+){0,3}?(?P<head>[a-z]+))"
    r"(?P<apart>\s+(?:in|with)\s+the\s+[a-z-]+(?:\s+[a-z-]+)?)?(?:\s+[a-z]+ly)?\s+(?P<verb>[a-z]+)\b")
#: verbs of the past that are no "-ed" form, after a described subject
_PAST = frozenset("came stood sat spoke took went began made gave saw turned ran got put held rose drew "
                  "shook bent let kept led left felt knew thought was had did could would struck fell "
                  "threw caught brought laid told said sprang swung broke bore wore".split())


def narrated_person(text: str, span: tuple[int, int], ctx, speakers: list[str],
                     prev_sp: str | None, para_start: int) -> str | None:
    """The person the narration ``span`` last describes as a subject (:data:`_NARRATED`,
    head noun in :data:`~shimmy_lab.story.lexicon.ROLE_NOUNS`): someone new for "a stranger
    came in", the one "the doctor" or "the porter" stands for (:func:`described_referent`); not a
    bare "the man" or "the girl", which stand for people already in the scene."""
    last = None
    for m in _NARRATED.finditer(text, *span):
        if m.group("head") in ROLE_NOUNS and (m.group("verb").endswith("ed") or m.group("verb") in _PAST):
            last = m
    if last is None or ctx.between(last.end(), span[1]):
        return None
    words = last.group("words").replace(",", " ").split()
    indefinite = last.group("art").lower() != "the"
    if last.group("apart"):
        words += last.group("apart").split()
    elif not indefinite and last.group("head") in MALE_PERSON_NOUNS | FEMALE_PERSON_NOUNS:
        return None
    return described_referent(ctx, words, last.start(), para_start, speakers, prev_sp, None, True, indefinite)
