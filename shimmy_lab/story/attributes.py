"""Attribute statements about characters, as a novelist writes them.

:func:`find_statements` reads a text for what a character looks like and who their
family is -- eye and hair colour, baldness, height, fair or dark colouring, age, and
family (an only child, siblings, a bachelor, a wife, a number of children) and where
they live -- and ties each statement to the character it is about.

The reading is built from a few general parts rather than one pattern per phrasing:

* cue words (``eyes``, ``hair``, ``-eyed``, ``bald``, ages written ``forty`` or
  ``four-and-twenty``, family words) pick the sentences that a handful of patterns
  read (so the reading costs a fraction of a second on a long novel);
* the holder of an attribute is a name (``Harriet's eyes``), a possessive pronoun
  (``her eyes``) or the subject of a description (``He was a tall, dark man``,
  ``She had grey eyes``, ``Tom, short and fair, ...``);
* pronouns are resolved to the character last named as the subject of a chain of
  sentences about a person of that gender (a sentence whose first person of that
  gender is a pronoun continues the chain; an unnamed ``a man`` / ``the stranger``
  breaks it, so nothing is said about unnamed people);
* hypotheticals, negations, disguises and flashback ages ("when he was ten") are
  skipped; ages are ranges ("nearly fifty" is 46-50).

Each statement is a dict with ``subject``, ``attribute``, ``value``, ``start``,
``end``, ``in_quote`` and ``how`` (``"name"`` or ``"pronoun"``).  Values are plain
strings (see :func:`age_interval` for ages); whether two values conflict is decided by
:func:`shimmy_lab.trackers.characters._compatible`.
"""

from __future__ import annotations

import bisect
import re
from typing import Callable, Iterable

from .characters import _TITLE_ALT

__all__ = ["find_statements", "age_value", "age_interval", "ATTRIBUTES"]

#: attributes this module states (besides the ``eye_colour`` / ``hair_colour`` / ``age``
#: of :mod:`shimmy_lab.story.facts`)
ATTRIBUTES = ("eye_colour", "hair_colour", "beard_colour", "hair_amount", "height", "colouring",
              "age", "family", "residence")

_UNITS = "one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_U, _T, _D = "|".join(_UNITS), "|".join(_TEENS), "|".join(_TENS)
#: an age: "four-and-twenty", "forty-two", "forty two", "seventeen", "42"
AGE = (rf"(?:(?:{_U})[- ]and[- ](?:{_D})|(?:{_D})(?:[- ](?:{_U}))?|{_T}|{_U}|\d{{1,2}})(?![\w-])")
_NUM_WORDS = rf"(?:{_D}|{_T}|{_U}|\d{{1,2}})"

EYE_COLOURS = {"blue", "grey", "gray", "green", "brown", "hazel", "black", "dark", "violet"}
HAIR_COLOURS = {"black", "brown", "fair", "golden", "gold", "red", "auburn", "chestnut", "flaxen", "white",
                "grey", "gray", "silver", "sandy", "dark", "light", "yellow", "blond", "blonde",
                "ginger", "raven", "carroty", "tawny", "coal-black", "jet-black", "iron-grey"}
_THICK = {"thick", "abundant", "bushy", "shaggy", "luxuriant", "curly", "curling", "wavy",
          "flowing", "plentiful", "heavy", "dense", "tangled", "unruly", "crisp"}
#: adjectives of a person's body that may stand in a list with "fair" / "dark"
_PHYS = {"tall", "short", "stout", "stoutish", "plump", "thin", "slender", "slight", "broad",
         "lean", "fat", "small", "big", "large", "little", "handsome", "pretty", "lanky", "lame",
         "sturdy", "burly", "heavy", "spare", "squat", "young", "old", "elderly", "middle-aged",
         "muscular", "powerful", "strong", "pale", "sallow", "ruddy", "florid", "swarthy",
         "well-made", "well-built", "good-looking", "delicate", "graceful", "bald", "bearded",
         "clean-shaven", "fair-haired", "dark-haired", "blue-eyed", "grey-eyed", "brown-eyed"}
_INTENS = {"very", "rather", "quite", "extremely", "remarkably", "unusually", "exceedingly",
           "somewhat", "uncommonly", "singularly", "particularly", "so", "too", "tolerably",
           "decidedly", "exceptionally", "fairly", "a", "an", "the", "and", "but", "yet", "most"}
_PERSON_M = ("man|gentleman|fellow|boy|lad|youth|chap|husband|father|son|uncle|king|prince|"
             "priest|monk|waiter|footman|butler|sailor|soldier|officer|clergyman|stranger|"
             "old man|old gentleman")
_PERSON_F = "woman|lady|girl|wife|mother|daughter|aunt|maid|queen|widow|spinster|lass|nurse"
_PERSON_N = f"{_PERSON_M}|{_PERSON_F}|person|creature|child|figure|individual|being|personage"
_PERSON_RX = re.compile(rf"^(?:{_PERSON_N})s?$")

_RANKS = {"Admiral", "Captain", "Colonel", "Doctor", "Dr", "General", "Inspector", "Major",
          "Professor", "Sergeant", "Lieutenant", "Count", "Baron", "Father", "Reverend", "Squire",
          "Marquis", "Duke", "Secretary", "President", "Judge", "Superintendent"}
_THE_RANK = re.compile(r"\b[Tt]he\s+(" + "|".join(sorted(_RANKS)) + r")\b(?!\s+[A-Z])")
_PREP_BEFORE = re.compile(r"\b(?:of|to|with|by|for|at|from|on|upon|about|towards?|than|like|into|"
                          r"under|over|after|before|behind|beside|near|against|without|between|"
                          r"among|through)\s+$", re.I)
_UPPER = re.compile(r"\b[A-Z]{2,}(?:[ \t]+[A-Z]{2,}){0,2}\b")
_NAME = (rf"(?<![A-Za-z])(?=[A-Z])(?:[A-Z]{{2,}}(?:[ \t]+[A-Z]{{2,}}){{0,2}}(?![a-z])|"
         rf"(?:(?:{_TITLE_ALT})\.?[ \t]*\n?[ \t]*)?[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?"
         rf"(?:[ \t]*\n?[ \t]*[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?){{0,2}})")
_SUBJ = rf"(?=[A-Zhs])(?P<subj>\b(?:[Hh]e|[Ss]he)\b|{_NAME})"
_POSS = rf"(?=[A-Zh])(?P<poss>\b(?:[Hh]is|[Hh]er)\b|(?P<pname>{_NAME})'s\b)"


def _rx(pat: str) -> re.Pattern:
    """Compile with a literal space meaning any run of whitespace (one line break)."""
    return re.compile(pat.replace(" ", r"\s+"))


# -- cues -------------------------------------------------------------------------------
_FUNC = r"(?!(?:and|or|of|to|with|his|her|the|a|an|their|its|my|your|in|on|at|for|from|by)\b)"
_MOD = rf"(?:{_FUNC}[a-z]+(?:-[a-z]+)?,? ){{0,4}}?"   # adjectives before a noun (lazy)
_POST = (r"(?P<post>(?:(?:(?:,|\s*--|\s*\u2014)\s*|\s+)(?:(?:which|that) )?(?:(?:were|was|are|is) )?"
         r"(?:(?:of|so|as) )?(?:[a-z]+(?:-[a-z]+)? ){0,5}(?:[a-z]+(?:-[a-z]+)?))?)")
_PARTS = r"eyes|hair|locks|curls|head|beard|moustache|mustache|whiskers"
_WHOSE_PART = _rx(rf"(?P<subj>{_NAME}),? whose (?P<mods>{_MOD})(?P<part>{_PARTS})\b{_POST}")
_PART_OF = _rx(rf"\b(?:[Tt]he|[Tt]hose) (?P<mods>{_MOD})(?P<part>eyes|hair|beard) of (?P<subj>{_NAME})"
               rf"(?!'s)")
_POSS_PART = _rx(rf"{_POSS} (?P<mods>{_MOD})(?P<part>{_PARTS})\b{_POST}")
_COMPOUND = _rx(r"\b(?P<col>[a-z]+(?:-[a-z]+)?)-(?P<part>eyed|haired|headed)\b")
#: the name a compound adjective stands before: "the grey-eyed (old) Mr Pym"
_COMPOUND_NAME = re.compile(rf"(?:(?!(?:and|or|with|of|to|for|{_PERSON_N})\b)[a-z]+(?:-[a-z]+)?,?\s+)?"
                            rf"(?P<subj>{_NAME})")
_INSERT = (r"(?:, (?:[a-z]+ ){1,4}[a-z]+,|,? (?:who|then|now|also|too|himself|herself|still|"
           r"already|always|certainly|indeed|evidently|obviously|clearly|really))?")
_CLAUSE = r"(?P<win>[^.;:!?\"\n]*(?:\n(?!\s*\n)[^.;:!?\"\n]*){0,3})"  # to the clause's end
_DESC = _rx(rf"{_SUBJ}{_INSERT},? (?P<verb>(?:had )?(?:just |lately |only )?turned|"
            rf"was|is|had been|looked|seemed|appeared|had|has)\b{_CLAUSE}")
_APPOS = _rx(rf"(?P<subj>{_NAME}), (?P<win>(?:(?:a|an|then|now|still|already|short|tall|fair|dark|"
             rf"stout|thin|lean|plump|small|big|young|old|elderly) )[^.;:!?\"\n]*"
             rf"(?:\n(?!\s*\n)[^.;:!?\"\n]*){{0,2}})")
_AGE_OF = _rx(rf"\b(?P<pre>(?:[a-z]+(?:-[a-z]+)?,? ){{0,3}})?(?P<noun>{_PERSON_N}) of "
              rf"(?P<q>(?:(?:about|nearly|almost|some|perhaps|barely|scarcely|only|just|past|over|"
              rf"upwards of|not more than|under|full|hardly|at least|near|close on|close upon|"
              rf"not yet|well over|little more than|little under) )*)(?P<num>{AGE})"
              rf"(?! (?:years? (?:ago|before|since|back|later|after)|miles|pounds|guineas|feet|"
              rf"inches|stone|thousand|hundred|children|sons|daughters|boys|girls|brothers|sisters|"
              rf"people|men|women|others|of|or|to)\b)")
_AGE_YEARS = _rx(rf"\b(?P<verb>felt|feel|feels|feeling|bore|bear|bears|carried|carries|carry|"
                 rf"despite|spite of|with all|for all|every one of|all) (?:his|her) "
                 rf"(?P<num>{AGE}) years\b(?! (?:of|at|as|with|ago|since|before|later|afterwards))")
_SIBLING = _rx(rf"{_POSS} (?:(?:elder|younger|eldest|youngest|only|own|twin|half|dear|poor|"
               rf"little|big|favourite|beloved|late) )?(?P<rel>brother|sister|brothers|sisters)\b"
               rf"(?![-'](?:in|law))(?! (?:officer|officers|anarchist|anarchists|artist|artists|"
               rf"poet|poets|clergyman|sailor|sailors|soldier|soldiers|in-law|-in-law|member|"
               rf"members|conspirator|conspirators|councillor|councillors|traveller|travellers)\b)")
_SIB_APPOS = _rx(rf"(?:\b(?:[Hh]is|[Hh]er)\b|{_NAME}'s) (?:(?:elder|younger|eldest|youngest|own|"
                 rf"twin|half) )?(?:brother|sister),? (?P<subj>{_NAME})\b"
                 rf"|(?P<subj2>{_NAME}), (?:\b(?:his|her)\b|{_NAME}'s) (?:(?:elder|younger|eldest|"
                 rf"youngest|own|twin|half) )?(?:brother|sister)\b(?![-'])")
_SPOUSE = _rx(rf"{_POSS} (?:(?:own|young|pretty|dear|poor|good|excellent|charming|little|"
              rf"lovely|old|sweet) )?(?P<rel>wife|husband)\b(?P<kids> and (?:their|his|her) "
              rf"(?P<n>{_NUM_WORDS}) children)?(?P<yrs>[^.;!?]{{0,80}}?\b(?P<yn>{_NUM_WORDS}) "
              rf"years of (?:his|her|their) marriage)?")
_KIDS = _rx(rf"{_POSS} (?P<n>{_NUM_WORDS}) (?:(?:little|young|small|fine|dear|own|grown-up) )?"
            rf"(?P<kind>children|sons|daughters)\b"
            rf"|{_SUBJ} (?:had|has|had had) (?P<n2>{_NUM_WORDS}|no) (?:(?:little|young|small|fine|"
            rf"own|grown-up) )?(?P<kind2>children|sons|daughters)\b")
_PARENT_OF = _rx(rf"{_SUBJ},? (?:was|is|had been|became) (?:now )?(?:the )?(?:proud )?(?:father|mother) "
                 rf"of (?P<n>{_NUM_WORDS}) ?(?P<kind>children|sons|daughters)?\b(?! (?:years|miles|of))")
_HAS_SIB = _rx(rf"{_SUBJ},? (?:had|has) (?:(?:{_NUM_WORDS}|an?) )(?:(?:elder|younger|older|twin|half) )?"
               rf"(?:brothers?|sisters?)\b(?![-'])")
_PLACE = r"(?P<place>(?:the )?(?!No\b)[A-Z][a-z]+(?:(?: |-)(?:[A-Z][a-z]+|on|upon|under|in)){0,3})"
_LIVES = _rx(rf"{_SUBJ},? (?:(?:had|has) )?(?:(?:always|then|now|still|long) )?(?:lived|lives|resided|"
             rf"resides|dwelt|dwells|had his home|had her home|made his home|made her home)"
             rf"(?P<how> (?:alone|quietly|all (?:his|her) life|for (?:{_NUM_WORDS}|many|some) years|"
             rf"with [a-z]+(?: [a-z]+)?)){{0,2}},? (?:in|at) {_PLACE}")
_HOME = _rx(rf"{_POSS} (?:(?:own|old|little|new|country|town) )?(?:house|home|cottage|lodgings|rooms|"
            rf"farm|estate|seat|residence|villa|flat|mansion) (?:in|at) {_PLACE}")
#: a move: the place a statement gives is where the character lives now, not always
_MOVED = re.compile(r"\b(?:moved|removed|settled|taken a house|new home|now|since|had gone|"
                    r"went to live|come to live|came to live|for the (?:summer|winter|season))\b")
_SIB_OF = _rx(rf"\b(?:[Tt]he|an?|[Hh]is|[Hh]er) (?:(?:elder|younger|eldest|youngest|only|twin|half|own) )?"
              rf"(?:brother|sister) of (?P<subj>{_NAME})")
_ONLY = _rx(rf"{_SUBJ},? (?:(?:had|has) )?(?:(?:been|was|is) )?(?:(?:an|the) only child\b"
            rf"|(?:had |has )?(?:neither|no) (?:brother|brothers|sister|sisters) (?:n?or) "
            rf"(?:brother|brothers|sister|sisters)\b)")
_SINGLE = _rx(rf"{_SUBJ},? (?:(?:was|is|had been|remained|lived and died|died) (?:(?:still|then|now|"
              rf"always|all his life|all her life) )?(?:an? (?:(?:old|confirmed|young|elderly|"
              rf"inveterate|lonely) )?)?(?P<w>bachelor|spinster|old maid)\b"
              rf"|(?:had )?never (?:been )?married\b|(?:was|is) (?:still )?unmarried\b)")
_ALONE = _rx(rf"{_SUBJ},? (?:had|has) (?:no|not a) (?:relation|relations|relative|relatives|kin|kindred|"
             rf"family|soul)(?: (?:in|on) (?:the|this) (?:world|earth))?(?P<but>,? (?:but|except|save))?")
_WIFE_SUBJ = _rx(rf"{_SUBJ},? (?:was|is|had been|has been) married"
                 rf"(?: (?:for )?(?P<yn>{_NUM_WORDS}) years)?\b(?! to\b)")
_HEIGHT_ADJ = {"tall": "tall", "short": "short", "diminutive": "short", "squat": "short",
               "dwarfish": "short", "towering": "tall", "gigantic": "tall", "lanky": "tall",
               "small": "short"}

#: the sentence before the cue says it is not a statement of fact
_HYPO = re.compile(r"\b(?:if|unless|as though|as if|suppos\w*|imagin\w*|fanc(?:y|ied|ies)|wish\w*|"
                   r"pretend\w*|dream\w*|disguis\w*|wig|dyed|dye|painted|false|sham|mask\w*|"
                   r"whether|like a|like an|resembl\w*|portrait|"
                   r"picture|statue|image|doll|mistook|mistaken|said to)\b", re.I)
_NEG = re.compile(r"\b(?:not|no|never|nor|neither|hardly|scarcely|n't|no longer|less)\W+(?:\w+\W+)?$", re.I)
_FLASHBACK = re.compile(r"\b(?:when|until|till|since|before|after|while|whilst|by the time|as|"
                        r"at the age|once|in those days|years ago|then,? as)\W+(?:\w+\W+){0,2}$", re.I)
_PRON = re.compile(r"\b(?:(?P<m>[Hh]e|[Hh]im|[Hh]is|[Hh]imself)|(?P<f>[Ss]he|[Hh]er|[Hh]ers|[Hh]erself))\b")
_NOUN_M = re.compile(rf"\b(?:[Aa]n?|[Tt]he|[Tt]his|[Tt]hat|[Aa]nother) (?:[a-z]+(?:-[a-z]+)?,? ){{0,2}}?"
                     rf"(?:{_PERSON_M})\b".replace(" ", r"\s+"))
_NOUN_F = re.compile(rf"\b(?:[Aa]n?|[Tt]he|[Tt]his|[Tt]hat|[Aa]nother) (?:[a-z]+(?:-[a-z]+)?,? ){{0,2}}?"
                     rf"(?:{_PERSON_F})\b".replace(" ", r"\s+"))


#: cheap cue words (found with ``str.find``): only sentences holding one are read by
#: the patterns of their group
_CUE_PART = ("eye", "hair", "lock", "curl", "head", "beard", "moustache", "mustache", "whisker")
_CUE_DESC = ("eye", "hair", "lock", "curl", "beard", "moustache", "whisker", "tall", "short",
             "fair", "dark", "swarth", "blond", "bald", "diminutive", "squat", "dwarf", "tower",
             "gigantic", "lanky", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
             "eighty", "ninety", "teen", "tieth", "ties", "-and-", "year", "Twenty", "Thirty", "Forty",
             "Fifty", "Sixty", "Seventy", "Eighty", "0", "1", "2", "3", "4", "5", "6", "7",
             "8", "9")
_CUE_YEARS = ("years",)
_CUE_HOME = ("lived", "lives", "resided", "resides", "dwelt", "dwells", "home", "house", "cottage",
             "lodgings", "rooms", "farm", "estate", "seat", "residence", "villa", "flat", "mansion")
_CUE_FAMILY = ("brother", "sister", "wife", "husband", "children", "sons", "daughters",
               "bachelor", "spinster", "old maid", "married", "only child", "relation", "kin",
               "family", "father of", "mother of", "soul in")


def _cue_spans(text: str, start: int, end: int, cues: tuple[str, ...],
               rd: "_Reader") -> list[tuple[int, int]]:
    """Merged sentence spans in ``[start, end)`` that hold a cue word."""
    if not rd.sent_starts:
        return [(start, end)]
    hits: set[int] = set()
    for cue in cues:
        i = text.find(cue, start, end)
        while i >= 0:
            k = rd.sentence(i)
            hits.add(k)
            i = text.find(cue, max(rd.sent_bounds(k)[1], i + 1), end)
    out: list[tuple[int, int]] = []
    for k in sorted(hits):
        s, e = rd.sent_bounds(k)
        s, e = max(s, start), min(e, end)
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        elif s < e:
            out.append((s, e))
    return out


def _scan(rx: re.Pattern, text: str, spans: list[tuple[int, int]], resume: str | None = None):
    """Matches of ``rx`` in each span (each starting once).  With ``resume``, the next
    search starts at the end of that group, not of the match (a match may overlap the
    next: "his eyes were grey and his hair was black")."""
    last = -1
    for s, e in spans:
        pos = s
        while pos < e:
            m = rx.search(text, pos, e)
            if m is None:
                break
            if m.start() > last:
                last = m.start()
                yield m
            pos = max(m.end(resume) if resume else m.end(), m.start() + 1)


def age_value(word: str) -> int | None:
    """An age written in words or digits as an int: 'four-and-twenty' -> 24."""
    w = word.lower().replace("\n", " ")
    if w.strip().isdigit():
        return int(w)
    total = 0
    for part in re.split(r"[-\s]+", w):
        if part in _UNITS:
            total += _UNITS.index(part) + 1
        elif part in _TEENS:
            total += _TEENS.index(part) + 10
        elif part in _TENS:
            total += (_TENS.index(part) + 2) * 10
        elif part != "and":
            return None
    return total or None


def age_interval(num: int, qual: str) -> tuple[int, int]:
    """The range of ages a qualified number allows ('nearly fifty' -> (46, 50))."""
    q = " ".join(qual.lower().split())
    if re.search(r"nearly|almost|close|not quite", q):
        return num - 4, num
    if re.search(r"not yet|under|not more than|little under", q):
        return num - 6, num - 1
    if re.search(r"past|over|upwards|at least|full|little more", q):
        return num, num + 7
    if re.search(r"about|some|perhaps|near", q):
        return num - 3, num + 3
    return num, num


_STOP_POST = {"on", "at", "to", "upon", "towards", "toward", "into", "in", "from", "with", "by",
              "for", "and", "or", "but", "his", "her", "their", "its", "over", "under",
              "like", "than", "when", "while", "fixed", "turned", "fell", "rested", "met",
              "wandered", "glanced", "looked", "sought", "followed", "dropped", "filled",
              "full", "lit", "grew", "went", "became", "half", "shut", "closed", "open",
              "opened", "wide", "blazing", "flashed", "shone", "sparkled", "glittered", "had",
              "have", "were", "was", "seemed", "looking", "staring", "gazing"}
_SUPER = {"bluest": "blue", "darkest": "dark", "darker": "dark", "blackest": "black",
          "greyest": "grey", "fairest": "fair", "fairer": "fair", "reddest": "red",
          "lightest": "light", "greenest": "green", "brownest": "brown", "palest": "pale",
          "gray": "grey"}


def _norm(word: str) -> str:
    """'bluest' -> 'blue', 'golden-brown' -> 'brown', 'raven-black' -> 'black'."""
    w = _SUPER.get(word, word)
    if "-" in w and w not in HAIR_COLOURS:
        last = w.split("-")[-1]
        if last in EYE_COLOURS or last in HAIR_COLOURS:
            return _SUPER.get(last, last)
    return w


def _part_values(part: str, mods_text: str, post_text: str) -> list[tuple[str, str]]:
    """(attribute, value) of a body-part phrase: modifiers before the noun ('dark brown
    eyes'), else words after it ('eyes, which were a pale grey', 'hair as black as')."""
    mods = [_norm(w.strip(",")) for w in mods_text.split()]
    post: list[str] = []
    words = [w.strip(",") for w in post_text.replace("--", " ").replace("\u2014", " ").split()
             if w.strip(",")]
    while words and words[0] in ("which", "that", "were", "was", "are", "is", "of", "so", "as"):
        words = words[1:]
    for i, w in enumerate(words):
        if w == "and" and i + 1 < len(words) and words[i + 1] not in _MOD_STOP \
                and words[i + 1] not in _STOP_POST:
            continue  # "thick and black"
        if w in _STOP_POST or w == "as":
            break
        post.append(_norm(w))
    out: list[tuple[str, str]] = []
    if part == "eyes":
        val = _colour(mods, EYE_COLOURS) or _colour(post, EYE_COLOURS)
        if val:
            out.append(("eye_colour", val))
    elif part == "head":
        if "bald" in mods:
            out.append(("hair_amount", "bald"))
    elif part in ("beard", "moustache", "mustache", "whiskers"):
        val = _colour(mods, HAIR_COLOURS) or _colour(post, HAIR_COLOURS)
        if val:
            out.append(("beard_colour", val))
    else:
        val = _colour(mods, HAIR_COLOURS) or _colour(post, HAIR_COLOURS)
        if val:
            out.append(("hair_colour", val))
        if any(w in _THICK for w in mods + post):
            out.append(("hair_amount", "thick"))
    return out


def _colour(words: Iterable[str], allowed: set[str]) -> str | None:
    """The head colour of a list of modifiers ('dark brown' -> 'brown', 'dark' -> 'dark')."""
    found = [w for w in words if w in allowed]
    if not found:
        return None
    head = [w for w in found if w not in ("dark", "light")]
    return (head or found)[-1].replace("gray", "grey")


class _Reader:
    """Holder resolution over one text: names (mentions), pronouns and sentences."""

    def __init__(self, text: str, sentences: list[tuple[int, int]],
                 mentions: list[tuple[int, int, str]], gender: dict[str, str | None],
                 resolve: Callable[[str], str | None] | None,
                 quote_spans: list[tuple[int, int]] = (),
                 aliases: dict[str, list[str]] | None = None):
        self.text = text
        self.q_starts = [a for a, _ in quote_spans]
        self.q_ends = [b for _, b in quote_spans]
        # "the Major" / "NUTT": a rank or a surname that only one character bears
        self.by_title: dict[str, str | None] = {}
        self.by_last: dict[str, str | None] = {}
        for cid, forms in (aliases or {}).items():
            for form in forms:
                words = form.replace(".", " ").split()
                if len(words) > 1 and words[0] in _RANKS:
                    self.by_title[words[0]] = cid if self.by_title.get(words[0], cid) == cid else None
                if words:
                    w = words[-1]
                    self.by_last[w] = cid if self.by_last.get(w, cid) == cid else None
        self.sent_starts = [s for s, _ in sentences]
        self.sent_ends = [e for _, e in sentences]
        ms = sorted(mentions)
        self.m_start = [s for s, _, _ in ms]
        self.m_end = [e for _, e, _ in ms]
        self.m_cid = [c for _, _, c in ms]
        self.gender = gender
        self.resolve = resolve

    #: characters of sentences without a person of the pronoun's gender that a chain
    #: may cross
    MAX_GAP = 600

    def in_quote(self, pos: int) -> bool:
        i = bisect.bisect_right(self.q_starts, pos) - 1
        return i >= 0 and self.q_ends[i] > pos

    def sentence(self, pos: int) -> int:
        return max(bisect.bisect_right(self.sent_starts, pos) - 1, 0)

    def sent_bounds(self, k: int) -> tuple[int, int]:
        if not self.sent_starts:
            return 0, len(self.text)
        return self.sent_starts[k], self.sent_ends[k]

    def name_at(self, start: int, end: int) -> str | None:
        """The character named in ``text[start:end]`` (the last mention inside it)."""
        i = bisect.bisect_right(self.m_start, end - 1) - 1
        while i >= 0 and self.m_start[i] >= start - 1:
            if self.m_end[i] <= end + 1:
                return self.m_cid[i]
            i -= 1
        if self.resolve is not None:
            surface = " ".join(self.text[start:end].replace(".", " ").split())
            if surface.isupper():
                return self._upper_name(surface)
            return self.resolve(surface)
        return None

    def _entities(self, lo: int, hi: int, g: str,
                  narration: bool = False) -> list[tuple[int, str, str | None]]:
        """Persons of gender ``g`` ('m' / 'f') in ``[lo, hi)``: (pos, 'name'|'pron'|'noun', cid).

        With ``narration``, persons inside quotations are left out (a name spoken in
        dialogue is not what the narrator's next "he" refers to)."""
        gname = "male" if g == "m" else "female"
        out = []
        i = bisect.bisect_left(self.m_start, lo)
        while i < len(self.m_start) and self.m_start[i] < hi:
            if self.gender.get(self.m_cid[i]) == gname:
                out.append((self.m_start[i], "name", self.m_cid[i]))
            i += 1
        for m in _PRON.finditer(self.text, lo, hi):
            if m.group(g):
                out.append((m.start(), "pron", None))
        for m in _UPPER.finditer(self.text, lo, hi):  # "MR EDWARD NUTT sat at his desk"
            cid = self._upper_name(m.group(0))
            if cid is not None and self.gender.get(cid) == gname:
                out.append((m.start(), "name", cid))
        for m in _THE_RANK.finditer(self.text, lo, hi):  # "the Major"
            cid = self.by_title.get(m.group(1))
            if cid is not None and self.gender.get(cid) == gname:
                out.append((m.start(), "name", cid))
        names = [p for p, _, _ in out if _ == "name"]
        for m in (_NOUN_M if g == "m" else _NOUN_F).finditer(self.text, lo, hi):
            # "Mr Elton, the young man" names the noun: only an unnamed person counts
            if not any(abs(m.start() - p) < 40 for p in names):
                out.append((m.start(), "noun", None))
        if narration:
            out = [x for x in out if not self.in_quote(x[0])]
        out.sort(key=lambda x: x[0])
        return out

    def pronoun(self, pos: int, word: str, max_back: int = 30) -> str | None:
        """The character a he/she/his/her at ``pos`` refers to, or None when unsure.

        The first person of that gender in the pronoun's sentence (before it), else in
        the sentences before: a name is the referent, an unnamed person ('a man', 'the
        stranger') means None, and a pronoun continues the chain one sentence back."""
        g = "m" if word.lower() in ("he", "his", "him", "himself") else "f"
        k = self.sentence(pos)
        narration = not self.in_quote(pos)
        gaps = 0
        for j in range(k, max(k - max_back, -1), -1):
            s, e = self.sent_bounds(j)
            ents = self._entities(s, pos if j == k else e, g, narration)
            if not ents:
                if j != k:
                    gaps += e - s  # text about nobody of that gender breaks the chain
                    if gaps > self.MAX_GAP:
                        return None
                continue
            if j == k:  # "the Marquis de St. Eustache, his teeth shining in his beard"
                last = max((i for i, x in enumerate(ents) if x[1] == "name"), default=None)
                if last is not None and all(x[1] == "pron" for x in ents[last + 1:]):
                    nxt = ents[last + 1][0] if last + 1 < len(ents) else pos
                    if re.fullmatch(r"[^,;:!?]{0,30},\s*", self.text[ents[last][0]:nxt]):
                        return ents[last][2]
            _, kind, cid = ents[0]
            if kind == "noun":
                return None
            if kind == "name":
                if j != k and gaps and _PREP_BEFORE.search(self.text, max(0, ents[0][0] - 12), ents[0][0]):
                    return None  # "... of Admiral and Mrs Croft", sentences back: a passing name
                return cid if self._single_referent(cid, ents, pos, g, j == k) else None
        return None

    def _single_referent(self, cid: str, ents: list, pos: int, g: str, same: bool) -> bool:
        """No sign that the pronoun means another person of its gender: "Syme watched
        him" (an object pronoun after the name) or "His face ..., that Syme thought"
        (the name close after the pronoun)."""
        if not same and any(k == "pron" and self.text[p:p + 3].lower() == "him"
                            and p > ents[0][0] for p, k, _ in ents):
            return False
        s, e = self.sent_bounds(self.sentence(pos))
        after = self._entities(pos + 1, min(e, pos + 80), g, not self.in_quote(pos))
        return not any(k == "name" and c == cid for _, k, c in after)

    def _upper_name(self, word: str) -> str | None:
        words = [w.capitalize() for w in word.split()]
        if words and words[0] in ("Mr", "Mrs", "Dr", "Miss", "Sir", "Lady"):
            cand = [" ".join(words), " ".join(words[:1] + words[-1:])]
        else:
            cand = [" ".join(words), words[-1] if words else ""]
        for c in cand:
            cid = self.resolve(c) if c else None
            if cid is not None:
                return cid
        return self.by_last.get(words[-1]) if words else None

    def holder(self, m: re.Match, group: str = "subj") -> tuple[str | None, str]:
        """Resolve a ``subj`` / ``poss`` group of a match to (character, how)."""
        s, e = m.span(group)
        word = m.group(group)
        if word.lower() in ("he", "she", "his", "her"):
            return self.pronoun(s, word), "pronoun"
        if word.endswith("'s"):
            e -= 2
        return self.name_at(s, e), "name"


def _fix_gender(gender: dict[str, str | None]) -> dict[str, str | None]:
    return {k: ({"m": "male", "f": "female"}.get(v, v) if isinstance(v, str) else None)
            for k, v in gender.items()}


class _Found:
    """The statements found so far (one per character, attribute, value and place) and
    the checks every reading step shares."""

    def __init__(self, text: str, rd: _Reader, quote_spans: list[tuple[int, int]]) -> None:
        self.text, self.rd = text, rd
        self.q_starts = [s for s, _ in quote_spans]
        self.q_ends = [e for _, e in quote_spans]
        self.out: list[dict] = []
        self.seen: set[tuple] = set()

    def in_quote(self, pos: int) -> bool:
        i = bisect.bisect_right(self.q_starts, pos) - 1
        return i >= 0 and self.q_ends[i] > pos

    def ok_context(self, pos: int) -> bool:
        """No hypothetical, disguise or negation in the sentence before ``pos``."""
        s, _ = self.rd.sent_bounds(self.rd.sentence(pos))
        lo = max(s, pos - 250)
        if _HYPO.search(self.text, lo, pos):
            return False
        return not _NEG.search(self.text[max(lo, pos - 40):pos])

    def flashback(self, pos: int) -> bool:
        """A time clause ("when", "since", "at the age", "once") just before ``pos``."""
        return bool(_FLASHBACK.search(self.text[max(0, pos - 40):pos]))

    def add(self, cid: str | None, how: str, attr: str, value: str | None, s: int, e: int) -> None:
        if cid is None or value is None:
            return
        key = (cid, attr, value, s)
        if key in self.seen:
            return
        self.seen.add(key)
        self.out.append({"subject": cid, "attribute": attr, "value": value, "start": s, "end": e,
                         "in_quote": self.in_quote(s), "how": how})


def _read_parts(f: _Found, spans: dict) -> None:
    """Possessive + eyes / hair: "her eyes, of a deep brown", "Tom, whose hair was red"."""
    for rx, grp in ((_POSS_PART, "poss"), (_WHOSE_PART, "subj"), (_PART_OF, "subj")):
        for m in _scan(rx, f.text, spans[_CUE_PART], "part"):
            found = _part_values(m.group("part"), m.group("mods"), m.groupdict().get("post") or "")
            if not found or not f.ok_context(m.start()):
                continue
            cid, how = f.rd.holder(m, grp)
            for attr, val in found:
                f.add(cid, how, attr, val, m.start(), m.end())


def _read_descriptions(f: _Found, spans: dict) -> None:
    """Descriptions: "He was a tall, dark man", "She had grey eyes", "Tom, short and fair"."""
    for rx in (_DESC, _APPOS):
        for m in _scan(rx, f.text, spans[_CUE_DESC]):
            verb = m.groupdict().get("verb") or "appos"
            win = _window(m.group("win"))
            found = _describe(win, verb) if win.strip() and not verb.endswith("turned") else []
            if verb in ("was", "is", "appos") or verb.endswith("turned"):
                found += _ages_in(win)
            if not found or not f.ok_context(m.start("subj") + 1) or f.flashback(m.start()):
                continue
            cid, how = f.rd.holder(m, "subj")
            ws = m.start("win")
            for attr, val in found:
                f.add(cid, how, attr, val, m.start(), ws + len(win))


def _read_compounds(f: _Found, spans: dict) -> None:
    """"the grey-eyed Mr. Tom", "a bald-headed man"."""
    text = f.text
    for m in _scan(_COMPOUND, text, spans[_CUE_PART]):
        col, part = m.group("col"), m.group("part")
        after = text[m.end():m.end() + 60].lstrip()
        nm = _COMPOUND_NAME.match(after)
        if not nm or not f.ok_context(m.start()):
            continue
        col = _norm(col)
        off = m.end() + (len(text[m.end():m.end() + 60]) - len(text[m.end():m.end() + 60].lstrip()))
        cid = f.rd.name_at(off + nm.start("subj"), off + nm.end("subj"))
        if part == "eyed":
            f.add(cid, "name", "eye_colour", _colour([col], EYE_COLOURS), m.start(), off + nm.end())
        elif part == "haired":
            f.add(cid, "name", "hair_colour", _colour([col], HAIR_COLOURS), m.start(), off + nm.end())
        elif col == "bald":
            f.add(cid, "name", "hair_amount", "bald", m.start(), off + nm.end())


def _read_ages(f: _Found, spans: dict) -> None:
    """Ages: "all of her sixty-one years"."""
    for m in _scan(_AGE_YEARS, f.text, spans[_CUE_YEARS]):
        n = age_value(m.group("num"))
        pm = re.search(r"\b(?:his|her)\b", m.group(0))
        if n is None or n < 10 or not f.ok_context(m.start()):
            continue
        cid = f.rd.pronoun(m.start() + pm.start(), pm.group(0))
        f.add(cid, "pronoun", "age", f"{n}", m.start(), m.end())


def _read_family(f: _Found, spans: dict) -> None:
    """Only child, single, alone, siblings ("his brother", "Tom's sister Ann")."""
    text, rd, cue = f.text, f.rd, spans[_CUE_FAMILY]
    for m in _scan(_ONLY, text, cue):
        if f.ok_context(m.start("subj") + 1):
            cid, how = rd.holder(m, "subj")
            f.add(cid, how, "family", "only child", m.start(), m.end())
    for m in _scan(_SINGLE, text, cue):
        if f.ok_context(m.start("subj") + 1) and not f.flashback(m.start()):
            cid, how = rd.holder(m, "subj")
            f.add(cid, how, "family", "single", m.start(), m.end())
    for m in _scan(_ALONE, text, cue):
        if not f.ok_context(m.start() + 1):
            continue
        cid, how = rd.holder(m, "subj")
        f.add(cid, how, "family", "alone but siblings" if m.group("but") else "alone",
              m.start(), m.end())
    for m in _scan(_SIBLING, text, cue):
        if f.ok_context(m.start()) and not _FAMILY_FIGURE.match(text, m.end()):
            cid, how = rd.holder(m, "poss")
            f.add(cid, how, "family", "siblings", m.start(), m.end())
    for m in _scan(_SIB_APPOS, text, cue):
        g = "subj" if m.group("subj") else "subj2"
        f.add(rd.name_at(*m.span(g)), "name", "family", "siblings", m.start(), m.end())


_NOT_SPOUSE_BEFORE = re.compile(
    r"\b(?:be|become|became|make|made|marry|married|as|for|into|future|"
    r"would-be|intended|late|dead|former|first|widow|widower|loses?|lost|"
    r"death of|buried)\W+(?:\w+\W+)?$", re.I)


def _read_spouses(f: _Found, spans: dict) -> None:
    """"his wife" (married; a future, late or lost spouse does not count), "his wife and
    their three children", "her husband ... twenty years of their marriage"."""
    text = f.text
    for m in _scan(_SPOUSE, text, spans[_CUE_FAMILY]):
        before = text[max(0, m.start() - 30):m.start()]
        if _NOT_SPOUSE_BEFORE.search(before) \
                or re.match(r"\s*(?:that|who|was to be|to be|elect)\b", text[m.end():m.end() + 20]) \
                or not f.ok_context(m.start()):
            continue
        cid, how = f.rd.holder(m, "poss")
        if m.group("n"):
            f.add(cid, how, "family", f"children {age_value(m.group('n'))}", m.start(), m.end())
        if m.group("yn"):
            f.add(cid, how, "family", "married long", m.start(), m.end())
        elif not m.group("n"):
            f.add(cid, how, "family", "married", m.start(), m.end())


def _read_children(f: _Found, spans: dict) -> None:
    """"her two sons", "he had no children", "Tom was the father of three"."""
    for m in _scan(_KIDS, f.text, spans[_CUE_FAMILY]):
        if not f.ok_context(m.start()):
            continue
        grp = "poss" if m.group("poss") else "subj"
        cid, how = f.rd.holder(m, grp)
        n = m.group("n") or m.group("n2")
        kind = m.group("kind") or m.group("kind2")
        f.add(cid, how, "family", "childless" if n == "no" else f"{kind} {age_value(n)}",
              m.start(), m.end())
    for m in _scan(_PARENT_OF, f.text, spans[_CUE_FAMILY]):
        if f.ok_context(m.start("subj") + 1):
            cid, how = f.rd.holder(m, "subj")
            f.add(cid, how, "family", f"{m.group('kind') or 'children'} {age_value(m.group('n'))}",
                  m.start(), m.end())


def _read_homes(f: _Found, spans: dict) -> None:
    """Residence: "she lived at Highbury", "his house in Kent" ("now ..." after a move)."""
    text, rd = f.text, f.rd
    for rx, grp in ((_LIVES, "subj"), (_HOME, "poss")):
        for m in _scan(rx, text, spans[_CUE_HOME]):
            if not f.ok_context(m.start() + 1) or f.flashback(m.start()):
                continue
            cid, how = rd.holder(m, grp)
            place = " ".join(m.group("place").split())
            place = place[4:] if place.startswith("the ") else place
            s0, e0 = rd.sent_bounds(rd.sentence(m.start()))
            if _MOVED.search(text, s0, max(e0, m.end())):
                place = "now " + place
            f.add(cid, how, "residence", place, m.start(), m.end())


def _read_more_family(f: _Found, spans: dict) -> None:
    """"he had two brothers", "the sister of Tom", "Tom was married for ten years" (read
    after the homes)."""
    text, rd, cue = f.text, f.rd, spans[_CUE_FAMILY]
    for m in _scan(_HAS_SIB, text, cue):
        if f.ok_context(m.start("subj") + 1):
            cid, how = rd.holder(m, "subj")
            f.add(cid, how, "family", "siblings", m.start(), m.end())
    for m in _scan(_SIB_OF, text, cue):
        if f.ok_context(m.start()) and not _FAMILY_FIGURE.match(text, m.end()):
            f.add(rd.name_at(*m.span("subj")), "name", "family", "siblings", m.start(), m.end())
    for m in _scan(_WIFE_SUBJ, text, cue):
        if not f.ok_context(m.start() + 1) or f.flashback(m.start()):
            continue
        cid, how = rd.holder(m, "subj") if m.group("subj") else (None, "")
        f.add(cid, how, "family", "married long" if m.groupdict().get("yn") else "married",
              m.start(), m.end())


#: the reading steps of :func:`find_statements`, in order (the first of two equal
#: statements at one place is kept)
_STEPS = (_read_parts, _read_descriptions, _read_compounds, _read_ages, _read_family,
          _read_spouses, _read_children, _read_homes, _read_more_family)


def find_statements(text: str, sentences: list[tuple[int, int]],
                    mentions: list[tuple[int, int, str]], gender: dict[str, str | None],
                    quote_spans: list[tuple[int, int]] = (),
                    resolve: Callable[[str], str | None] | None = None,
                    start: int = 0, end: int | None = None,
                    aliases: dict[str, list[str]] | None = None) -> list[dict]:
    """Attribute statements in ``text[start:end]``, each tied to a character.

    Parameters
    ----------
    text
        The story text.
    sentences
        Sorted ``(start, end)`` of the sentences (narration and dialogue).
    mentions
        ``(start, end, character_id)`` of the name mentions.
    gender
        ``character_id -> "male" | "female" | None``.
    quote_spans
        Sorted ``(start, end)`` of quotations: statements inside get ``in_quote``.
    resolve
        Optional ``surface -> character_id`` for names without a mention.
    start, end
        The range to read.
    aliases
        Optional ``character_id -> name forms``: a rank ("the Major") or a surname in
        capitals ("NUTT") that only one character bears names that character.

    Returns
    -------
    list of dict
        ``subject``, ``attribute``, ``value``, ``start``, ``end``, ``in_quote``, ``how``.
    """
    end = len(text) if end is None else end
    rd = _Reader(text, list(sentences), list(mentions), _fix_gender(gender), resolve,
                 list(quote_spans), aliases)
    f = _Found(text, rd, list(quote_spans))
    spans = {cue: _cue_spans(text, start, end, cue, rd)
             for cue in (_CUE_PART, _CUE_DESC, _CUE_YEARS, _CUE_FAMILY, _CUE_HOME)}
    for step in _STEPS:
        step(f, spans)
    f.out.sort(key=lambda r: (r["start"], r["subject"], r["attribute"]))
    return f.out


_FAMILY_FIGURE = re.compile(r"\s+(?:officer|anarchist|poet|artist|in\s+arms|of\s+the)\b")
#: a description window ends at a clause that describes someone or something else
_WIN_STOP = re.compile(r"\b(?:who|whom|whose|which|when|while|whilst|where|but|though|although|"
                       r"because|than|whereas|if|unless|like|as if|as though|until|till|after|"
                       r"before|since|said|says|cried|replied|answered|asked|of whom|that)\b"
                       r"|\b(?:[Hh]e|[Ss]he|[Tt]hey|[Ii]t|I|[Yy]ou|[Ww]e)\b")


def _window(win: str) -> str:
    m = _WIN_STOP.search(win)
    return win[:m.start()] if m else win


_HEAD_OF = {"head", "shock", "mass", "masses", "mop", "crop", "mane", "wealth", "tangle", "profusion",
            "thatch", "quantity", "bristle", "fringe", "tuft", "cloud", "plenty", "abundance"}
_MOD_STOP = {"his", "her", "their", "its", "my", "your", "with", "had", "has", "and", "or", "of",
             "the", "a", "an", "those", "these", "that", "this", ",", "in", "on", "at", "to",
             "whose", "no", "not"}


def _describe(win: str, verb: str) -> list[tuple[str, str]]:
    """(attribute, value) pairs in a description window of a person."""
    out: list[tuple[str, str]] = []
    toks = re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*|,", win)
    low = [verb] + [t.lower() for t in toks]
    # eyes / hair with their modifiers, not owned by another possessive
    for i, t in enumerate(low):
        if t in ("eyes", "hair", "locks", "curls", "beard", "moustache", "whiskers"):
            mods: list[str] = []
            j = i - 1
            while j >= 0 and low[j] not in _MOD_STOP and len(mods) < 5:
                mods.insert(0, low[j])
                j -= 1
            # "with blue eyes", "had grey eyes", "..., light hair": the subject's own;
            # "his eyes", "those blue eyes", "a pair of": someone else's or another pass's
            if j >= 1 and low[j] in ("a", "an", "the") and low[j - 1] in ("with", "had", "has",
                                                                          "and", ","):
                j -= 1
            if j >= 0 and low[j] not in ("with", "had", "has", ",", "and", "of"):
                continue
            if j >= 0 and low[j] == "of" and not (j > 0 and low[j - 1] in _HEAD_OF):
                continue
            out += _part_values(t, " ".join(mods), "")
    if verb in ("had", "has"):
        return out
    # a person-describing adjective list: "a tall, dark man", "short, plump, and fair"
    lists = _adjective_lists(low[1:])
    for adjs, head in lists:
        for a in adjs:
            if a in _HEIGHT_ADJ:
                out.append(("height", _HEIGHT_ADJ[a]))
            if a in ("bald", "bald-headed", "baldheaded", "bald-pated"):
                out.append(("hair_amount", "bald"))
            if a.endswith("-haired") and a[:-7] in HAIR_COLOURS:
                out.append(("hair_colour", _colour([a[:-7]], HAIR_COLOURS)))
            if a.endswith("-eyed") and a[:-5] in EYE_COLOURS:
                out.append(("eye_colour", _colour([a[:-5]], EYE_COLOURS)))
        col = [a for a in adjs if a in ("fair", "dark", "swarthy", "blond", "blonde")]
        others = [a for a in adjs if a in _PHYS and a not in ("fair", "dark")]
        if col and (others or head):
            c = col[-1]
            out.append(("colouring", "dark" if c in ("dark", "swarthy") else "fair"))
            if c in ("blond", "blonde"):
                out.append(("hair_colour", c))
    return out


def _adjective_lists(low: list[str]) -> list[tuple[list[str], bool]]:
    """Runs of person adjectives at the head of a window ("a tall, dark man, short and
    broad"), each with whether a person noun heads it.  The first run starts within
    the first three words, and each later run follows the one before (after its noun
    and a comma): an adjective further on describes something else ("in short")."""
    out = []
    i = 0
    n = len(low)
    while i < n and low[i] in _INTENS and i < 3:
        i += 1
    while i < n:
        adjs: list[str] = []
        j = i
        while j < n and (low[j] in _PHYS or low[j] in _INTENS or low[j] == ","
                         or low[j] in _LIST_ADJ
                         or (low[j].endswith(("-haired", "-eyed", "-necked", "-shouldered",
                                             "-faced", "-limbed", "-built", "-looking")))):
            if low[j] not in _INTENS and low[j] != ",":
                adjs.append(low[j])
            j += 1
        if not adjs:
            break
        nxt = low[j] if j < n else ""
        head = bool(_PERSON_RX.match(nxt))
        # "short of breath", "a tall hat": the last adjective modifies something else
        if nxt and not head and low[j - 1] != "," and nxt not in (
                "with", "in", "for", "to", "yet", "but", "as", "enough", "beyond", "by", "on", "at"):
            adjs = adjs[:-1]
        if nxt == "of" or nxt.endswith("-sighted"):
            adjs = []
        if adjs and adjs[-1] == "short" and nxt in ("with", "in") and j + 1 < n \
                and low[j + 1] in ("him", "her", "them", "me", "us", "you", "his", "their", "manner"):
            adjs = adjs[:-1]  # "short with her": curt, not small
        out.append((adjs, head))
        if not head:
            break
        i = j + 1
    return out


_LIST_ADJ = {"fair", "dark", "swarthy", "blond", "blonde", "bald-headed", "baldheaded", "bald-pated",
             "diminutive", "dwarfish", "towering", "gigantic", "lanky"}


_AGE_IN = re.compile(rf"^\s*(?:(?:then|now|still|already|but|only|just|barely|scarcely|nearly|almost|"
                     rf"about|past|over|full|hardly|not yet|under|quite|well|little more than|some|"
                     rf"perhaps|probably|upwards of|at least|turned|close on|close upon|near)\s+)*"
                     rf"(?P<num>{AGE})(?P<after>\s+years?\s+(?:old|of\s+age)|\s+years\b)?"
                     rf"(?=\s*(?:[,.;:!?\-]|$|and\b|but\b|or\b|when\b|last\b|next\b|in\s+[A-Z]|on\b|"
                     rf"the\s+\d|the\s+(?:first|second|third|\w+th)\b))", re.I)


_ORD = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
        "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
        "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
        "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50,
        "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90}
_DECADES = {"teens": 13, "twenties": 20, "thirties": 30, "forties": 40, "fifties": 50,
            "sixties": 60, "seventies": 70, "eighties": 80, "nineties": 90}
_IN_HIS = re.compile(r"^\s*(?:(?:then|now|still|already|well|but|just)\s+)*in\s+(?:his|her)\s+"
                     r"(?:(?P<part>early|late|middle|mid)[\s-]+)?(?P<dec>" + "|".join(_DECADES) + r")\b"
                     r"|^\s*(?:(?:then|now|still|already|but|just)\s+)*in\s+(?:his|her)\s+"
                     r"(?P<ord>(?:(?:" + "|".join(_UNITS) + r")[\s-]+and[\s-]+)?[a-z]+(?:[\s-][a-z]+)?)"
                     r"\s+year\b", re.I)


def _ordinal(words: str) -> int | None:
    """'fiftieth' -> 50, 'one-and-twentieth' -> 21, 'twenty-first' -> 21."""
    total = 0
    for part in re.split(r"[\s-]+", words.lower()):
        if part in _ORD:
            total += _ORD[part]
        elif part in _UNITS:
            total += _UNITS.index(part) + 1
        elif part in _TENS:
            total += (_TENS.index(part) + 2) * 10
        elif part != "and":
            return None
    return total or None


def _ages_in(win: str) -> list[tuple[str, str]]:
    """An age in a description window: 'four-and-twenty', 'a young man of forty',
    'in his fiftieth year', 'in her early thirties'."""
    m = _IN_HIS.match(win)
    if m and m.group("dec"):
        d = _DECADES[m.group("dec").lower()]
        lo, hi = {"early": (d, d + 3), "late": (d + 6, d + 9)}.get(
            (m.group("part") or "").lower(), (d + 3, d + 7) if m.group("part") else (d, d + 9))
        return [("age", f"{lo}-{hi}")]
    if m and m.group("ord"):
        n = _ordinal(m.group("ord"))
        return [("age", f"{n - 1}")] if n and n > 10 else []
    m = _AGE_IN.match(win)
    if m:
        n = age_value(m.group("num"))
        if n is not None and (n >= 10 or m.group("after")):
            q = win[:m.start("num")]
            lo, hi = age_interval(n, q)
            return [("age", f"{lo}" if lo == hi else f"{lo}-{hi}")]
    m = _AGE_OF.search(win)
    if m and m.start() < 60:
        n = age_value(m.group("num"))
        if n is not None:
            lo, hi = age_interval(n, m.group("q") or "")
            return [("age", f"{lo}" if lo == hi else f"{lo}-{hi}")]
    return []
