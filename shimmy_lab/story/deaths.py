"""Deaths: which characters the story kills, and where.

:func:`death_facts` finds the assertions that a named character is dead and returns
them as ``death`` fact rows (the ``facts`` table).  It reads a death from

* a predicate (``died``, ``was dead``, ``had been killed``, ``was buried``,
  ``perished``, ``killed himself``, ``was found drowned``, ``lay in the churchyard``,
  ``was lost at sea``, ``did not live to see`` ...) whose subject is a name or
  ``he``/``she``: the subject is searched backwards in the sentence and may sit before
  a parenthesis ("X, who was never ill a day, died in May") or a chain of
  coordinated verbs ("X caught a chill and had died before morning"); ``he`` and
  ``she`` are resolved to the one character of that gender named in the sentence or
  the one before (the one opening a sentence when there are several);
* an object ("they buried X", "Y had killed X");
* a noun phrase (``the late X``; ``after the death of X``, ``since X's funeral``,
  ``X's body was found``, ``we attended his funeral``).

It refuses negated, hypothetical and figurative deaths ("nearly died", "might have
been killed", "if X died", "dead tired", "died away", "it will be the death of
me") and beliefs ("they thought X was dead").  The ``pattern`` column says how the
death was read (``died``, ``died_pronoun``, ``buried_object``, ``the_late``,
``death_of``); :func:`told_deaths` decides which deaths a story tells for true.
"""

from __future__ import annotations

import bisect
import re
from typing import Callable, Collection, Iterable

from .characters import _TITLE_ALT
from .lexicon import NOT_NAMES

__all__ = ["death_facts", "death_name", "told_deaths", "DEATH_PATTERNS", "name_words"]

_SP = r"(?:[\x20\t]+(?:\n[\x20\t]*)?|\n[\x20\t]*)"
_NAME = (rf"(?:(?:{_TITLE_ALT})\.?{_SP})?[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?"
         rf"(?:{_SP}(?!(?:{_TITLE_ALT})\b)[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?){{0,2}}")
_NAME_RE = re.compile(rf"(?<![A-Za-z'\-]){_NAME}(?![A-Za-z])")
_PRON_RE = re.compile(r"\b(?:[Hh]e|[Ss]he)\b")

#: adverbs that make a death not (yet) true
_NEG = (r"not|never|no|n't|nearly|almost|all but|half|hardly|scarcely|barely|practically|"
        r"virtually|well-nigh|as good as|would|could|should|might|may|must|shall|will|can|"
        r"ought|wish\w*|hope\w*|fear\w*|seem\w*|appear\w*|pretend\w*|feign\w*|likely|"
        r"perhaps|possibly|probably|going to|about to|to be|to have")
_NEG_RE = re.compile(rf"(?<![\w'])(?:{_NEG})(?![\w'])", re.I)
#: words before the subject that make the clause hypothetical or a belief
_FRAME_RE = re.compile(
    r"(?<![\w'])(?:if|unless|whether|lest|as if|as though|suppose|supposing|in case|"
    r"thought|think|thinks|thinking|believed?|believing|supposed|fancied|imagined|dreamed|"
    r"dreamt|dream|pretended|rumou?r\w*|feared|fear|afraid|wished|hoped|expected|"
    r"instead of|rather than|would|might|could|should|ready to|as good as|if only)(?![\w'])",
    re.I)
_ADV = (r"(?:then|already|just|soon|afterwards|at last|at length|suddenly|finally|lately|"
        r"recently|himself|herself|too|also|since|quite|long|now|indeed|actually|really|"
        r"certainly|after all|in the end|that night|that same night|next day|both|all|each|"
        r"[a-z]+ly)")
_AUX = r"(?:had|has|have|was|were|is|been|being|got)"
#: the death predicates (after the subject and its auxiliaries)
_PRED_RE = re.compile(
    r"\b(?:"
    r"(?P<died>died)\b(?!\s+(?:away|out|down|off|hard|within|inside|of\s+(?:laughing|laughter|"
    r"shame|fright|curiosity|envy|boredom|mortification|embarrassment|vexation|ennui|"
    r"impatience|fatigue|heat|cold|thirst|hunger)|a\s+(?:little|thousand)|to\s+(?:the|all|"
    r"sin|self)))"
    r"|(?P<dead>(?:was|were|is|lay|lies|fell|dropped|been|found)\s+(?:(?:already|quite|stone|"
    r"down|long|now|then|there|instantly|since)\s+)?dead)\b(?![\-'])(?!\s+(?:tired|drunk|asleep|"
    r"beat|set|against|sure|certain|silence|silent|still|white|weary|with|to\b|of\s+night|"
    r"or\s+alive|and\s+alive|man|body|leaves|letter|level|calm|heat|end|weight|march|lift|"
    r"shot|earnest|right|wrong|straight|stop|ahead|centre|center|serious))"
    r"|(?P<killed>(?:was|were|been|got|is)\s+(?:(?:then|soon|afterwards|at\s+last|instantly|found|"
    r"both|all|also|"
    r"accidentally|brutally|cruelly|foully|treacherously)\s+)?(?:killed|murdered|drowned|slain|"
    r"hanged|executed|assassinated|strangled|beheaded|guillotined|buried|stabbed\s+to\s+death|"
    r"burnt\s+to\s+death|burned\s+to\s+death|shot\s+dead|lost\s+at\s+sea))\b"
    r"(?!\s+(?:in\s+(?:thought|thoughts|meditation|reflection|reverie|(?:a|his|her|the)\s+"
    r"(?:book|books|papers|work|study|thoughts|newspaper|letter|reverie|hands|pillow|"
    r"country|depths|past))|with\s+(?:work|kindness|cares?)|by\s+inches|off\b|time\b))"
    r"|(?P<perished>perished|expired|passed\s+away|breathed\s+(?:his|her)\s+last|was\s+no\s+more"
    r"|(?:was|is)\s+no\s+longer\s+(?:alive|living|among\s+the\s+living)"
    r"|departed\s+this\s+life|(?:killed|hanged|drowned|poisoned)\s+(?:himself|herself)"
    r"|shot\s+(?:himself|herself)(?!\s+(?:in\s+the\s+(?:foot|leg|arm|hand|knee|shoulder)|by\s+"
    r"accident))|took\s+(?:his|her)\s+own\s+life"
    r"|committed\s+suicide|drowned(?=[\s,.;]))\b"
    # "was struck by a slate and killed on the spot"
    r"|(?P<andkilled>(?<=and\s)(?:killed|drowned|hanged|executed|buried|shot\s+dead)"
    r"(?=\s+(?:on\s+the\s+spot|instantly|outright|at\s+once|by\b|in\s+(?:the|a|an)\b|at\b|"
    r"on\s+(?:the|a)\b|within\b|before\b|after\b|that\b|next\b|the\s+(?:next|same|following)\b)))"
    r"|(?P<neck>broke\s+(?:his|her)\s+neck)\b"
    r"|(?P<never>never\s+(?:rose|woke|awoke|stirred|breathed|spoke)\s+again|never\s+(?:woke|awoke)"
    r"\s+(?:up|more)|never\s+recovered\s+consciousness)\b"
    r"|(?P<shot>(?:(?:was|were|been)\s+|(?<=,\s))shot\s+through\s+the\s+(?:heart|head|brain))\b"
    # "lay in the churchyard", "was in her coffin", "was laid in the grave"
    r"|(?P<grave>(?:(?:lay|lies|lain|was\s+lying|is\s+lying|was\s+laid|been\s+laid|was\s+put|"
    r"been\s+put)\s+(?:\w+\s+)?in\s+(?:the|his|her|a|an|its)\s+(?:[\w-]+\s+){0,2}"
    r"(?:grave|churchyard|burial-ground|burying-ground|cemetery|tomb|vault|coffin|sepulchre|"
    r"mausoleum)|(?:was|is|been)\s+in\s+(?:his|her)\s+(?:grave|coffin|tomb)"
    r"|(?:was|been)\s+laid\s+to\s+rest|(?:gone|went)\s+to\s+(?:his|her)\s+(?:grave|long\s+home|"
    r"last\s+rest|last\s+account)))\b"
    # "had been taken off by a fever", "was lost with his ship", "did not live to see"
    r"|(?P<off>(?:was|were|been)\s+(?:carried|taken|snatched|cut)\s+off\s+by\s+(?:(?:a|an|the)\s+)?"
    r"(?:[\w-]+\s+){0,2}(?:fever|disease|illness|consumption|cholera|small-?pox|plague|typhus|"
    r"typhoid|apoplexy|stroke|fit|decline|inflammation|pneumonia|dropsy|influenza|epidemic|"
    r"sickness|malady|complaint))\b"
    r"|(?P<lost>(?:was|were|been)\s+lost\s+(?:at\s+sea|with\s+(?:his|her|the|all)\s+(?:ship|"
    r"vessel|boat|hands|crew))|went\s+down\s+with\s+(?:his|her|the)\s+(?:ship|vessel|boat))\b"
    r"|(?P<succumbed>succumbed\s+to\s+(?:(?:a|an|the|his|her)\s+)?(?:[\w-]+\s+){0,2}(?:fever|"
    r"disease|illness|consumption|cholera|small-?pox|plague|typhus|typhoid|apoplexy|stroke|"
    r"inflammation|pneumonia|dropsy|influenza|sickness|malady|complaint|gout|wounds?|"
    r"injuries|hurts))\b"
    r"|(?P<nolive>(?:did\s+not|didn't|had\s+not|hadn't|never)\s+live(?:d)?\s+"
    r"(?:to\s+(?:see|know|hear|reach|"
    r"return|come|be)|till|until|through|out|beyond|long\s+enough))\b"
    r")")
# "departed this life for the time being", "was dead for a moment": no death
_TEMPORARY = re.compile(r"[\s,]*(?:\w+ly\s+)?for\s+(?:the\s+time|a\s+(?:moment|while|time|"
                        r"minute|second|few)|some\s+(?:moments|minutes|time))\b", re.I)
# object: "we buried X", "Y had killed X"
_OBJ_RE = re.compile(
    rf"\b(?P<verb>buried|killed|murdered|slew|strangled|assassinated|executed|beheaded)"
    rf"{_SP}(?P<n>{_NAME})(?![A-Za-z'\u2019])(?!{_SP}(?:in{_SP}(?:thought|a|his|her)|alive))")
# "the village followed X (him, her) to the churchyard": a funeral
_FOLLOWED_RE = re.compile(
    rf"\bfollowed{_SP}(?:(?P<pron>him|her)|(?P<n>{_NAME})){_SP}to{_SP}(?:the|his|her){_SP}"
    rf"(?:[\w-]+{_SP})?(?:grave|churchyard|burial-ground|burying-ground|cemetery|tomb|vault)\b")
# "Kemp's dead," said the constable: the contraction of 'is'
_IS_DEAD_RE = re.compile(rf"(?<![A-Za-z'\-])(?P<n>{_NAME})['\u2019]s{_SP}dead\b(?![\-'])"
                         rf"(?!{_SP}(?:tired|drunk|asleep|beat|set|against|sure|certain|to\b|"
                         rf"and{_SP}alive|or{_SP}alive|with|of{_SP}night|body|man|letter))")
# noun phrases: "the late X", "after the death of X", "since X's funeral"
_LATE_RE = re.compile(rf"\bthe{_SP}late{_SP}(?P<n>{_NAME})")
_NOUN = (r"(?:death|funeral|burial|murder|grave|corpse|dead\s+body|execution|drowning|decease|"
         r"demise)")
_DEATH_OF_RE = re.compile(
    rf"\b(?:(?P<pre>(?i:after|since|upon|on|at|till|until|before|by|from|of|over|for|mourned|"
    rf"mourning|lamented|avenged|witnessed|heard|learned|learnt|news|tidings|report|"
    rf"announced|caused|following|the))"
    rf"{_SP}the{_SP}(?:sudden{_SP}|untimely{_SP}|tragic{_SP}|sad{_SP}|early{_SP})?{_NOUN}"
    # a funeral, a coffin, a corpse need no preposition: "the coffin of X was carried out"
    rf"|(?i:the){_SP}(?:funeral|burial|coffin|corpse|dead{_SP}body|body|remains|grave))"
    rf"{_SP}of{_SP}(?P<n>{_NAME})")
_POSS_DEATH_RE = re.compile(
    rf"\b(?P<pre>(?i:after|since|upon|on|at|till|until|before|by|from|mourned|mourning|"
    rf"lamented|avenged|witnessed|following|of|over))"
    rf"{_SP}(?:poor{_SP})?(?P<n>{_NAME})['\u2019]s{_SP}"
    rf"(?:sudden{_SP}|untimely{_SP}|tragic{_SP}|sad{_SP})?{_NOUN}\b")
# "X's death, on the twentieth, threw all the town into mourning": a death as a subject
_POSS_SUBJ_RE = re.compile(
    rf"(?P<n>{_NAME})['\u2019]s{_SP}(?:sudden{_SP}|untimely{_SP}|tragic{_SP}|sad{_SP})?"
    rf"(?:(?:death|funeral|murder|burial|decease|demise)(?:,[^,.;:!?\"]{{1,80}},)?{_SP}"
    rf"(?:\w+ly{_SP})?(?:was|had|[a-z]+ed|threw|left|brought|came|made|cast|put|took|gave|fell|"
    rf"struck|broke|shook|occurred|meant)\b"
    rf"|(?:body|corpse|remains|dead{_SP}body){_SP}(?:was|were|had{_SP}been){_SP}(?:\w+ly{_SP})?"
    rf"(?:found|taken{_SP}(?:out|up|from)|recovered|pulled|dragged|fished|washed|brought{_SP}"
    rf"(?:home|back|up|out|ashore)|identified|buried|laid{_SP}out|carried{_SP}(?:out|home)))\b")
# "we attended his funeral": his / her stands for the one character named before
_PRON_NOUN_RE = re.compile(r"\b(?P<pron>[Hh]is|[Hh]er)\s+(?:funeral|burial|corpse|dead\s+body)\b")
# "said the late Gogol", "the late Mr Smith replied": the late X as the speaker or agent
# of the very sentence means "former", not "dead"
_LATE_SPEAKS_BEFORE = re.compile(
    r"\b(?:said|says|replied|answered|cried|asked|called|exclaimed|remarked|added|"
    r"observed|continued|whispered|shouted|went on)\s*$")
_LATE_ACTS_AFTER = re.compile(
    r"\s*,?\s*(?:\w+ly\s+)?(?:[a-z]{3,}ed|said|says|replied|answered|cried|asked|exclaimed|"
    r"remarked|"
    r"added|observed|continued|whispered|shouted|smiled|laughed|nodded|rose|stood|walked|"
    r"came|went|turned|looked)\b")
# "the death of me", "be the death of X": figure of speech
_FIGURE_BEFORE = re.compile(r"\b(?:be|been|being|is|was|were|prove|proved)\s+$", re.I)

#: (pattern name, what it reads) -- for the docs and the tests
DEATH_PATTERNS = {
    "died": "a named subject with a death predicate",
    "died_pronoun": "he/she with a death predicate, resolved to the one character named before",
    "buried_object": "a named object of buried/killed/murdered...",
    "the_late": "the late X",
    "death_of": "after the death of X, since X's funeral ...",
}
#: patterns that a character may say in dialogue and still tell a death, even hedged (a
#: report of a burial or killing); a plain "X died" in dialogue must not be hedged
REPORTED = frozenset({"buried_object", "death_of"})

# the gap between a subject and its predicate
_PAREN = r"(?:,[^,;:!?\"\u201c\u201d()]{1,160},|\s*\([^()]{1,160}\)|\s*--[^-;:!?\"]{1,160}--)"
_CHAIN = (rf"(?:\s+(?:{_AUX}\s+){{0,2}}(?:[a-z]+ed|[a-z]+en|[a-z]+wn|struck|fell|took|caught|"
          rf"grew|became|went|lay|lingered|"
          rf"sank|came|was|had)\b[^.;:!?\"\u201c\u201d]{{0,200}}?(?:(?:,|;)?\s+and\s+"
          rf"(?:then\s+|so\s+|finally\s+|at\s+last\s+)?|,\s*))")
_AUXADV = rf"(?:\s*,?\s*(?:(?:{_AUX}|{_ADV}),?\s+)*)"
_GAP_RE = re.compile(rf"(?:{_PAREN})?(?:{_CHAIN})?{_AUXADV}", re.I)
# "X and Y were both killed": the first of two subjects
_AND_BEFORE = re.compile(rf"(?<![A-Za-z'\-])(?P<n>{_NAME}),?{_SP}and{_SP}$")
# words before a name that make it an object, not the subject
_OBJECT_BEFORE = re.compile(
    r"(?<![\w'])(?:of|to|for|with|from|at|in|on|upon|than|like|about|by|towards|toward|"
    r"against|among|between|beside|behind|under|over|through|into|near|saw|told|asked|"
    r"heard|met|loved|married|visited|followed|called|see|tell|ask|meet|love|marry|visit|"
    r"follow|whom|whose)\s+$", re.I)
_ABBR = "".join(rf"(?<!\b{a})" for a in ("Mr", "Mrs", "Ms", "Dr", "St", "Rev", "Capt", "Col",
                                          "Gen", "Lt", "Prof", "Messrs", "Mme", "Mlle"))
# a death said in dialogue but not vouched for
_HEDGE_RE = re.compile(
    r"\b(?:say|says|said|think|thinks|believe|believes|suppose|hear|heard|told|tell|rumou?r\w*|"
    r"perhaps|maybe|for all|if|unless|whether|unless|must|may|might|would|could|should|will|"
    r"shall|as if|as though|seem\w*|pretend\w*|report\w*)\b", re.I)
# where a subordinate clause starts ("when it was not a week since we buried X")
_CLAUSE_CUT = re.compile(r"[,;:]|\b(?:since|when|that|after|and|but|because|as)\b")
_BOUNDARY = re.compile(rf"(?:(?:{_ABBR}(?<!\b[A-Z])\.|[!?])[\"'\u201d\u2019)\]]*\s|\n[\x20\t]*\n"
                       rf"|[\"\u201c\u201d])")


def name_words(name: str) -> list[str]:
    """The words of a name without titles or sentence openers ('Poor Mr. X' -> ['X'])."""
    words = name.replace(".", " ").split()
    while words and words[0] in NOT_NAMES and not (
            len(words) > 1 and words[0] in ("Mr", "Mrs", "Miss", "Sir", "Lady", "Dr")):
        words = words[1:]
    return words


def _clean(name: str) -> str:
    return " ".join(name_words(name))


#: cheap keys (plain substrings): the slow patterns are only tried near them
_PRED_KEYS = tuple("""died dead killed murdered drowned slain hanged executed assassinated
strangled beheaded guillotined buried stabbed burnt burned shot perished expired passed
breathed departed suicide neck never grave churchyard burial burying cemetery tomb vault
coffin sepulchre mausoleum laid lost succumbed""".split()) + (
    "no more", "no longer", "own life", "off by", "went down", "not live", "n't live", "not lived",
    "n't lived")
_OBJ_KEYS = ("buried", "killed", "murdered", "slew", "strangled", "assassinated", "executed",
             "beheaded")
_NOUN_KEYS = tuple("""death funeral burial murder grave corpse body remains execution drowning
decease demise coffin""".split())


def _keys(text: str, start: int, end: int, words: tuple[str, ...]) -> list[tuple[int, int]]:
    """Sorted (start, end) of the plain substrings ``words`` in ``text[start:end]``."""
    out = []
    for w in words:
        i = text.find(w, start, end)
        while i >= 0:
            j = i + len(w)
            if not (text[i - 1:i].isalpha() or text[j:j + 1].isalpha()):
                out.append((i, j))
            i = text.find(w, j, end)
    out.sort()
    return out


def _near(rx: re.Pattern, keys: tuple[str, ...], text: str, start: int, end: int, back: int,
          fwd: int):
    """Matches of ``rx`` around the substrings ``keys`` (starting at most ``back``
    characters before one and ending at most ``fwd`` after it): a fast scan for
    patterns that a name or a common word leads."""
    last = start
    for ks, ke in _keys(text, start, end, keys):
        if ks < last:
            continue
        for m in rx.finditer(text, max(last, ks - back), min(end, ke + fwd)):
            if m.start() <= ks and m.end() >= ke:
                last = m.end()
                yield m
                break


def _sentence_start(text: str, pos: int, floor: int) -> int:
    """Start of the sentence (or quote) holding ``pos`` (never before ``floor``)."""
    lo = max(floor, pos - 400)
    last = lo
    for m in _BOUNDARY.finditer(text, lo, pos):
        last = m.end()
    return last


def _hypothetical(text: str, clause_start: int, subj_start: int) -> bool:
    """A frame before the subject in the same clause: if, thought that, instead of..."""
    lo = max(clause_start, subj_start - 90)
    return bool(_FRAME_RE.search(text, lo, subj_start))


def _gap_ok(gap: str) -> bool:
    """The text between a subject and its predicate keeps them together, unnegated."""
    gap = re.sub(r"\s+", " ", gap) if "\n" in gap else gap
    m = _GAP_RE.fullmatch(gap)
    if not m:
        return False
    rest = re.sub(_PAREN, " ", gap, count=1) if gap.lstrip().startswith((",", "(", "--")) else gap
    return not _NEG_RE.search(rest)


def _subject(text: str, clause_start: int, pred_start: int, resolve: Callable[[str], str | None]
             ) -> tuple[str, int, int, bool] | None:
    """The subject of a predicate at ``pred_start``: (name, start, end, is_pronoun)."""
    cands: list[tuple[int, int, str, bool]] = []
    for m in _NAME_RE.finditer(text, clause_start, pred_start):
        cands.append((m.start(), m.end(), m.group(), False))
    for m in _PRON_RE.finditer(text, clause_start, pred_start):
        cands.append((m.start(), m.end(), m.group(), True))
    cands.sort(reverse=True)
    for s, e, name, pron in cands:
        if not pron:
            words = name_words(name)
            if not words or resolve(" ".join(words)) is None:
                continue
            s = s + name.find(words[0]) if words[0] not in (
                "Mr", "Mrs", "Miss", "Sir", "Lady", "Dr") else s
        if _OBJECT_BEFORE.search(text, max(clause_start, s - 20), s):
            continue
        if text.startswith(("'s", "\u2019s"), e):
            continue
        if _gap_ok(text[e:pred_start]):
            return name, s, e, pron
    return None


def _antecedent(text: str, pron_start: int, pronoun: str, floor: int,
                resolve: Callable[[str], str | None],
                gender: Callable[[str], str | None] | None) -> tuple[str, str, int] | None:
    """The one character of the pronoun's gender named in this or the sentence before."""
    s0 = _sentence_start(text, pron_start, floor)
    s1 = _sentence_start(text, max(floor, s0 - 2), floor) if s0 > floor else s0
    para = text.rfind("\n\n", floor, pron_start)
    lo = max(s1, para + 2 if para >= 0 else floor)
    want = "male" if pronoun.lower() == "he" else "female"
    found: dict[str, list] = {}
    for m in _NAME_RE.finditer(text, lo, pron_start):
        words = name_words(m.group())
        if not words or _OBJECT_BEFORE.search(text, max(lo, m.start() - 20), m.start()):
            continue
        cid = resolve(" ".join(words))
        if cid is None:
            continue
        g = gender(cid) if gender is not None else None
        if g is not None and g != want and g in ("male", "female"):
            continue
        if g is None and words[0] in ("Mrs", "Miss", "Lady") and want == "male":
            continue
        if g is None and words[0] in ("Mr", "Sir") and want == "female":
            continue
        first = not text[_sentence_start(text, m.start(), lo):m.start()].strip(" \t\n\"'\u201c")
        found.setdefault(cid, [m.group(), m.start(), g == want, False])
        found[cid][:2] = [m.group(), m.start()]
        found[cid][3] |= first
    for key in (2, 3):  # a known gender, then the subject that opens a sentence (centering)
        pick = {c: v for c, v in found.items() if v[key]}
        if pick and len(found) > 1:
            found = pick
    if len(found) != 1:
        return None
    cid, (name, pos, _, _) = next(iter(found.items()))
    return cid, name, pos


def _row(subj: str, name: str, start: int, end: int, pattern: str,
         chapter_starts: list[int], chapter_ids: list[int]) -> dict:
    ci = bisect.bisect_right(chapter_starts, start) - 1
    return {"subject": subj, "attribute": "death", "value": "dead", "value_id": None,
            "start": start, "end": end, "chapter": chapter_ids[ci] if ci >= 0 else 0,
            "pattern": pattern}


def death_name(text: str, start: int, end: int, pattern: str) -> str:
    """The name form a death fact was told with ('Mr. Grey', 'Hawkins').

    A subject death (``died``, ``died_pronoun``) starts at the name; the other patterns
    end with it."""
    names = [m for m in _NAME_RE.finditer(text, start, end) if name_words(m.group())]
    if not names:
        return ""
    m = names[0] if pattern in ("died", "died_pronoun") else names[-1]
    return " ".join(name_words(m.group()))


def _predicate_deaths(text: str, start: int, end: int, resolve, gender, cs, ci) -> list[dict]:
    out = []
    for m in _near(_PRED_RE, _PRED_KEYS, text, start, end, 40, 60):
        ps = m.start()
        if _TEMPORARY.match(text, m.end(), min(end, m.end() + 40)):
            continue
        cl = _sentence_start(text, ps, start)
        subj = _subject(text, cl, ps, resolve)
        if subj is None:
            continue
        name, s, e, pron = subj
        if _hypothetical(text, cl, s):
            continue
        if pron:
            ante = _antecedent(text, s, name, start, resolve, gender)
            if ante is None:
                continue
            cid, name, s = ante
            pattern = "died_pronoun"
        else:
            cid = resolve(_clean(name))
            pattern = "died"
            co = _AND_BEFORE.search(text, max(cl, s - 60), s)
            other = resolve(_clean(co.group("n"))) if co and not _OBJECT_BEFORE.search(
                text, max(cl, co.start() - 20), co.start()) else None
            if other is not None and other != cid:
                out.append(_row(other, co.group("n"), co.start(), m.end(), pattern, cs, ci))
        if cid is not None:
            out.append(_row(cid, name, s, m.end(), pattern, cs, ci))
    return out


def _object_deaths(text: str, start: int, end: int, resolve, cs, ci) -> list[dict]:
    out = []
    for m in _near(_OBJ_RE, _OBJ_KEYS, text, start, end, 0, 60):
        cl = _sentence_start(text, m.start(), start)
        before = _CLAUSE_CUT.split(text[max(cl, m.start() - 40):m.start()])[-1]
        if _NEG_RE.search(before) or _FRAME_RE.search(before) or re.search(
                r"\b(?:to|tried|try|trying|attempt\w*|want\w*|meant|means|mean|plan\w*|"
                r"threaten\w*|vow\w*|swore|swear\w*|nearly|almost|have)\s+$", before, re.I):
            continue
        cid = resolve(_clean(m.group("n")))
        if cid is not None:
            out.append(_row(cid, m.group("n"), m.start(), m.end(), "buried_object", cs, ci))
    return out


def _name_start(m: re.Match) -> int:
    """Where the name of group ``n`` starts once sentence openers are dropped ('If Kemp')."""
    name = m.group("n")
    words = name_words(name)
    if not words or words[0] in ("Mr", "Mrs", "Miss", "Sir", "Lady", "Dr"):
        return m.start("n")
    return m.start("n") + max(name.find(words[0]), 0)


def _other_deaths(text: str, start: int, end: int, resolve, gender, cs, ci) -> list[dict]:
    """Funerals ("followed him to the churchyard") and "X's dead" (said in dialogue)."""
    out = []
    for m in _near(_FOLLOWED_RE, ("followed",), text, start, end, 0, 80):
        cl = _sentence_start(text, m.start(), start)
        if _NEG_RE.search(text, max(cl, m.start() - 30), m.start()) or _hypothetical(
                text, cl, m.start()):
            continue
        if m.group("pron"):
            ante = _antecedent(text, m.start(), "he" if m.group("pron") == "him" else "she",
                               start, resolve, gender)
            if ante is not None:
                out.append(_row(ante[0], ante[1], ante[2], m.end(), "buried_object", cs, ci))
            continue
        cid = resolve(_clean(m.group("n")))
        if cid is not None:
            out.append(_row(cid, m.group("n"), m.start("n"), m.end(), "buried_object", cs, ci))
    for m in _near(_IS_DEAD_RE, ("dead",), text, start, end, 60, 10):
        ns = _name_start(m)
        cl = _sentence_start(text, m.start(), start)
        if _OBJECT_BEFORE.search(text, max(cl, ns - 20), ns) or _hypothetical(text, cl, ns):
            continue
        cid = resolve(_clean(m.group("n")))
        if cid is not None:
            out.append(_row(cid, m.group("n"), m.start(), m.end(), "died", cs, ci))
    return out


def _noun_deaths(text: str, start: int, end: int, resolve, cs, ci,
                 former: Collection[str] = ()) -> list[dict]:
    out = []
    for m in _near(_LATE_RE, ("late",), text, start, end, 5, 60):
        if _clean(m.group("n")) in former:  # "the late Mrs. Corney": her name before she married
            continue
        if (_LATE_SPEAKS_BEFORE.search(text, max(start, m.start() - 20), m.start())
                or _LATE_ACTS_AFTER.match(text, m.end(), min(end, m.end() + 30))):
            continue
        cid = resolve(_clean(m.group("n")))
        if cid is not None:
            out.append(_row(cid, m.group("n"), m.start(), m.end(), "the_late", cs, ci))
    for rx in (_DEATH_OF_RE, _POSS_DEATH_RE):
        for m in _near(rx, _NOUN_KEYS, text, start, end, 120, 60):
            cl = _sentence_start(text, m.start(), start)
            if _hypothetical(text, cl, m.start()) or _FIGURE_BEFORE.search(
                    text, max(start, m.start() - 12), m.start("pre") if m.group("pre") == "the"
                    else m.start()):
                continue
            if _NEG_RE.search(text, max(cl, m.start() - 30), m.start()):
                continue
            cid = resolve(_clean(m.group("n")))
            if cid is not None:
                out.append(_row(cid, m.group("n"), m.start(), m.end(), "death_of", cs, ci))
    return out


def _subject_noun_deaths(text: str, start: int, end: int, resolve, gender, cs, ci) -> list[dict]:
    out = []
    for m in _near(_POSS_SUBJ_RE, _NOUN_KEYS, text, start, end, 60, 180):
        ns = _name_start(m)
        cl = _sentence_start(text, m.start(), start)
        if (_OBJECT_BEFORE.search(text, max(cl, ns - 20), ns)
                or _hypothetical(text, cl, ns)):
            continue
        tail = text[m.start("n"):min(end, m.end() + 25)]
        if _NEG_RE.search(tail) or _FRAME_RE.search(tail):
            continue
        cid = resolve(_clean(m.group("n")))
        if cid is not None:
            out.append(_row(cid, m.group("n"), m.start(), m.end(), "death_of", cs, ci))
    for m in _near(_PRON_NOUN_RE, ("funeral", "burial", "corpse", "body"), text, start, end,
                   12, 12):
        cl = _sentence_start(text, m.start(), start)
        before = _CLAUSE_CUT.split(text[max(cl, m.start() - 40):m.start()])[-1]
        if (_NEG_RE.search(before) or _FRAME_RE.search(before)
                or text.startswith("own", m.end("pron") + 1)):
            continue
        pron = "he" if m.group("pron").lower() == "his" else "she"
        ante = _antecedent(text, m.start(), pron, start, resolve, gender)
        if ante is not None:
            cid, name, s = ante
            out.append(_row(cid, name, s, m.end(), "died_pronoun", cs, ci))
    return out


def death_facts(text: str, start: int, end: int, resolve: Callable[[str], str | None],
                chapter_starts: list[int], chapter_ids: list[int],
                gender: Callable[[str], str | None] | None = None,
                former: Collection[str] = ()) -> list[dict]:
    """Death facts in ``text[start:end]``.

    Parameters
    ----------
    text, start, end
        The text and the region to read.
    resolve
        Maps a name form ('Mr Peter Grey', 'Hawkins') to a ``character_id`` or None.
    chapter_starts, chapter_ids
        Sorted chapter starts and their ids (for the ``chapter`` column).
    gender
        Optional ``character_id -> 'male' | 'female' | None``; without it ``he``/``she``
        are resolved by titles only.
    former
        Name forms the text says a person gave up (a maiden name,
        :func:`~shimmy_lab.story.characters.scan_name_changes`): "the late Mrs. Corney"
        of a woman now Mrs. Bumble is no death.

    Returns
    -------
    list of dict
        Fact rows (``attribute`` ``death``, ``value`` ``dead``); a ``died_pronoun`` row
        spans from the name its pronoun stands for to the predicate.
    """
    rows = (_predicate_deaths(text, start, end, resolve, gender, chapter_starts, chapter_ids)
            + _object_deaths(text, start, end, resolve, chapter_starts, chapter_ids)
            + _noun_deaths(text, start, end, resolve, chapter_starts, chapter_ids, former)
            + _subject_noun_deaths(text, start, end, resolve, gender, chapter_starts,
                                   chapter_ids)
            + _other_deaths(text, start, end, resolve, gender, chapter_starts, chapter_ids))
    seen, out = set(), []
    for r in sorted(rows, key=lambda r: (r["start"], r["subject"])):
        key = (r["subject"], r["start"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def told_deaths(text: str, facts: Iterable[tuple[str, int, int, str]],
                quote_spans: list[tuple[int, int]]) -> dict[str, list[tuple[int, int, str]]]:
    """The deaths a story tells for true, by character: ``{cid: [(start, end, pattern)]}``.

    ``facts`` are (subject, start, end, pattern) of death facts; ``quote_spans`` the
    sorted (start, end) of the quotes.  A death told by the narrator counts; one told in
    dialogue counts only as a report (:func:`_reported`): a burial, a killing or a
    funeral ("since we buried X"), or a named character's plain death ("X died last
    June"), neither asked nor hedged.  "He is dead" in dialogue (whose 'he'?) and "they
    say X died" may be rumour, threat or figure of speech."""
    qs = [s for s, _ in quote_spans]
    out: dict[str, list[tuple[int, int, str]]] = {}
    for subj, s, e, pattern in facts:
        i = bisect.bisect_right(qs, s) - 1
        if i >= 0 and quote_spans[i][0] <= s < quote_spans[i][1]:
            qs_, qe = quote_spans[i]
            if not _reported(text, s, e, pattern, qs_, qe):
                continue
        out.setdefault(str(subj), []).append((int(s), int(e), str(pattern)))
    return out


def _reported(text: str, s: int, e: int, pattern: str, q_start: int, q_end: int) -> bool:
    """A death said in dialogue that the speaker reports as known: a burial, a killing,
    a funeral, or a named character's plain death ('Tom died last June'), neither asked
    ('Tom died?') nor hedged ('they say', 'for all I know', 'I suppose')."""
    if pattern not in REPORTED and pattern != "died":
        return False
    clause = text[_sentence_start(text, s, q_start):_clause_end(text, e, q_end)]
    return "?" not in clause and (pattern in REPORTED or not _HEDGE_RE.search(clause))


def _clause_end(text: str, pos: int, limit: int) -> int:
    m = re.compile(r"[.!?;]").search(text, pos, limit)
    return m.end() if m else limit
