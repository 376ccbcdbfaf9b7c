"""Characters: finding person names, telling them from places, merging aliases.

Three steps, each a pure function:

1. :func:`scan_names` finds capitalised name forms in a region of the text (with an
   optional title such as ``Mr.``), and records the evidence around each one: a
   title, a speech verb ("said Emma"), a person verb, a place preposition ("at
   Hartfield"), a place word ("Kellynch Hall"), and the next gendered pronoun.
2. The evidence is summed per form in the ``names`` table (additive, so
   :meth:`Story.append` only scans new text), and :func:`is_person` decides per form.
3. :func:`cluster` merges the person forms into characters: full names first ("Mr
   William Sikes" and "Mr Bill Sikes" are one), then titled surnames ("Mr Bennet" and
   "Mrs Bennet" stay apart, "Miss Woodhouse" joins "Emma Woodhouse", "Mr Elton" the
   "Rev Philip Elton", "Mr Losberne" "Doctor Losberne"), "the X" forms ("the Colonel" is
   the one Colonel, "the Rabbit" "the White Rabbit"), given names and nicknames
   ("Lizzy" -> "Elizabeth", "Michael" -> "Mike Campbell"), bare surnames; last, the
   changes of name the text tells (:func:`scan_name_changes`: "Miss Hamilton, now Mrs
   Smith", "Mr Bumble had married Mrs Corney"), whose two names are one person named by
   the later one.  Ids already given out are kept (stable ``character_id``).

A cast list given by the user (:func:`parse_cast`) fixes characters: its name forms
(:func:`cast_forms`) are persons whatever the evidence says and belong to their member;
:func:`cluster` starts from the members, so other forms can still join them ("Miss
Emma Woodhouse" joins a member "Emma Woodhouse") or become characters of their own.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

import pandas as pd

from .lexicon import (
    ALSO_MR, FEMALE_NAMES, FEMALE_NOUNS, FEMALE_TITLES, FIRST_NAME_TITLES, MALE_NAMES, MALE_NOUNS,
    MALE_TITLES, NICKNAMES, NOT_NAMES, PERSON_VERBS, PLACE_WORDS, SAME_TITLE, SPEECH_VERBS, TITLES,
)

__all__ = ["scan_names", "count_lower", "is_person", "cluster", "parse_surface", "slug",
           "parse_cast", "cast_forms", "cast_words", "name_key", "description_pattern",
           "scan_descriptions", "scan_name_changes"]

_TITLE_ALT = "|".join(sorted(TITLES, key=len, reverse=True))
_WORD = r"[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?"
_SP = r"(?:[ \t]*\n[ \t]*|[ \t]+)"
#: lower-case particles of a surname after a title ("Professor de Worms", "Herr von Stein")
PARTICLES = frozenset("de van von du da di del der".split())
NAME_RE = re.compile(
    rf"(?<![A-Za-z'\-])(?:(?P<title>{_TITLE_ALT})\.?{_SP})?"
    rf"(?P<name>(?(title)(?:(?:{'|'.join(sorted(PARTICLES))}){_SP})?)"
    rf"{_WORD}(?:{_SP}(?!(?:{_TITLE_ALT})\b){_WORD}){{0,2}})(?![A-Za-z])"
)
_TAG_BEFORE = re.compile(rf"\b(?:{SPEECH_VERBS})\s+$")
_PERSON_AFTER = re.compile(
    rf"^(?:\s+\w+ly)?\s+(?:{SPEECH_VERBS}|{PERSON_VERBS})\b|^,\s+who\b|^'s\s+(?:own\s+)?"
    r"(?:eyes|face|hair|hand|hands|heart|voice|mother|father|sister|brother|husband|wife|"
    r"friend|daughter|son|smile|look|manner|name)\b"
)
#: "St." or "Saint" right before a name ("St. Paul's": with a possessive, a place)
_SAINT_BEFORE = re.compile(r"\b(?:St\.?|Saint)\s+$")
_PLACE_BEFORE = re.compile(r"\b(?:at|in|near|into|through|towards|toward|within|round)\s+$")
_PRONOUN_AFTER = re.compile(r"^[^.!?;\"\u201c\u201d]{0,80}?\b(he|his|him|himself|she|her|hers|herself)\b")
_MALE_PRON = {"he", "his", "him", "himself"}
CALENDAR = frozenset("January February March April May June July August September October "
                     "November December Monday Tuesday Wednesday Thursday Friday Saturday "
                     "Sunday".split())


def slug(name: str) -> str:
    """Lowercase ``name`` and join its words with ``_`` (the id form)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "character"


def parse_surface(surface: str) -> tuple[str | None, list[str], bool]:
    """Split a normalised surface into (title, words, definite) parts."""
    definite = surface.startswith("the ")
    parts = surface[4:].split() if definite else surface.split()
    title = parts[0] if parts and parts[0] in TITLES and len(parts) > 1 else None
    return title, parts[1:] if title else parts, definite


def name_key(form: str) -> str:
    """A name form as surfaces are written: periods dropped ("Mr. Hall" -> "Mr Hall"),
    one space between words, a leading "The" lower-cased ("The Vicar" -> "the Vicar")."""
    key = " ".join(form.replace(".", " ").split())
    return "the " + key[4:] if key.startswith("The ") else key


_CAST_KEYS = ("name", "aliases", "gender", "character_id")


def _cast_text(value, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if not name_key(value):
        raise ValueError(f"{what} is empty")
    return value.strip()


def _missing(value) -> bool:
    """None, NaN or NA (an empty DataFrame cell)."""
    if value is None:
        return True
    if isinstance(value, (str, list, tuple, set, frozenset, dict)):
        return False

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _cast_aliases(value, who: str) -> list[str]:
    if _missing(value):
        return []
    if isinstance(value, str):
        value = [a for a in value.split("|") if a.strip()]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(f"aliases of {who} must be a list of strings or a '|'-separated string, "
                        f"not {type(value).__name__}")
    return [_cast_text(a, f"an alias of {who}") for a in value]


def _cast_gender(value, who: str) -> str | None:
    if _missing(value):
        return None
    if not isinstance(value, str) or value.strip().lower() not in ("male", "female"):
        raise ValueError(f"gender of {who} must be 'male', 'female' or None, not {value!r}")
    return value.strip().lower()


def parse_cast(characters) -> list[dict]:
    """Check a cast list given by the user and put it in the form a story keeps.

    Parameters
    ----------
    characters
        A DataFrame with a ``name`` column and optional ``aliases``, ``gender`` and
        ``character_id`` columns, or a list of dicts with these keys.  ``aliases``: a
        list of strings or one '|'-separated string; ``gender``: 'male', 'female' or
        None; ``character_id``: the id to give (default: :func:`slug` of the name,
        ``_2``... when two names give the same slug).  The result of this function
        is a valid input.

    Returns
    -------
    list of dict
        One per member, JSON-serialisable: ``character_id``, ``name``, ``aliases``
        (list, the name left out), ``gender``.

    Raises
    ------
    TypeError
        ``characters`` is not a DataFrame or list of dicts, or a name or alias is no string.
    ValueError
        An unknown key, a member without a name, a gender that is not 'male'/'female'/None,
        a name form (:func:`name_key`, case ignored) claimed by two members, or a
        ``character_id`` given twice.
    """
    if isinstance(characters, pd.DataFrame):
        rows = characters.to_dict("records")
    elif isinstance(characters, (list, tuple)):
        rows = list(characters)
    else:
        raise TypeError("characters must be a DataFrame or a list of dicts with keys "
                        f"'name', 'aliases', 'gender', not {type(characters).__name__}")
    cast: list[dict] = []
    owner: dict[str, tuple[int, str]] = {}
    used: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TypeError(f"cast member {i} must be a dict, not {type(row).__name__}")
        extra = sorted(set(map(str, row)) - set(_CAST_KEYS))
        if extra:
            raise ValueError(f"cast member {i} has unknown key(s) {extra}; expected 'name', "
                             "'aliases', 'gender' (and optionally 'character_id')")
        if _missing(row.get("name")):
            raise ValueError(f"cast member {i} has no name")
        name = _cast_text(row["name"], f"the name of cast member {i}")
        who = f"cast member {i} ({name!r})"
        aliases = [a for a in dict.fromkeys(_cast_aliases(row.get("aliases"), who)) if a != name]
        for form in [name, *aliases]:
            key = name_key(form).lower()
            if owner.setdefault(key, (i, name))[0] != i:
                raise ValueError(f"the name form {form!r} is claimed by two cast members: "
                                 f"{owner[key][1]!r} and {name!r}")
        if _missing(row.get("character_id")):
            cid, k = slug(name), 2
            while cid in used:
                cid, k = f"{slug(name)}_{k}", k + 1
        else:
            cid = _cast_text(row["character_id"], f"the character_id of {who}")
            if cid in used:
                raise ValueError(f"the character_id {cid!r} of {who} is already another "
                                 "member's")
        used.add(cid)
        cast.append({"character_id": cid, "name": name, "aliases": aliases,
                     "gender": _cast_gender(row.get("gender"), who)})
    return cast


#: short forms of titles as a description says them ("Dr Kemp" is "the doctor")
_TITLE_WORDS = {"dr": "doctor", "capt": "captain", "col": "colonel", "gen": "general",
                "rev": "reverend", "prof": "professor"}
#: words of NOT_NAMES that a cast's name does not make names ("The Man With The Beard")
_FUNCTION_WORDS = frozenset("A An The Of And Or In On At To By For From With Upon Into".split())


def cast_words(cast: list[dict]) -> frozenset:
    """Words of the cast's names that :func:`scan_names` must keep although they are in
    :data:`~shimmy_lab.story.lexicon.NOT_NAMES` ("Will Ladislaw", "May Welland")."""
    return frozenset(w for m in cast for f in [m["name"], *m["aliases"]]
                     for w in parse_surface(name_key(f))[1]
                     if w in NOT_NAMES and w not in _FUNCTION_WORDS and w not in TITLES)


def cast_forms(cast: list[dict]) -> dict[str, str]:
    """Name form -> character_id for a cast from :func:`parse_cast`.

    Each member's name and aliases as :func:`name_key` writes them, and the variants
    no other member gives: "March Hare" and "the March Hare" either way; a "the X" form
    with X capitalised, and as the text says a description ("the stranger") unless a
    word of it is in another member's name ("the doctor" when one member is "The
    Doctor" and another "Doctor Losberne": it is left to the scene).
    """
    owners: dict[str, set[str]] = {}
    for m in cast:
        for f in [m["name"], *m["aliases"]]:
            key = name_key(f)
            if not key.startswith("the "):
                for w in key.lower().split():
                    owners.setdefault(_TITLE_WORDS.get(w, w), set()).add(m["character_id"])
    out = {name_key(f): m["character_id"] for m in cast for f in [m["name"], *m["aliases"]]}
    for key, cid in list(out.items()):  # variants never take a form another member gives
        if key.startswith("the "):
            rest = " ".join(w[:1].upper() + w[1:] for w in key[4:].split())
            out.setdefault("the " + rest, cid)
            if key[4:5].isupper():  # "The March Hare" is "March Hare" too
                out.setdefault(rest, cid)
            if not any(owners.get(w, set()) - {cid} for w in key[4:].lower().split()):
                out.setdefault("the " + key[4:].lower(), cid)
        elif not parse_surface(key)[0]:
            out.setdefault("the " + key, cid)  # "March Hare" is "the March Hare" too
    return out


#: a name spoken to someone: opening a quote ("'Tom, come here'", "'Oh, Tom!'") or
#: closing a clause ("'Come here, Tom.'", "'Look, Tom, ...'")
_VOC_OPEN = re.compile(r"[\"\u201c\u2018'](?:(?:Oh|O|Ah|Well|Yes|No|Dear|My dear|Hello|Good-bye|Goodbye),?\s+)?$")
_VOC_CLAUSE = re.compile(r"\w,\s(?:(?:my\s+)?dear\s+|old\s+)?$")


def _vocative(before: str, after: str) -> bool:
    """Whether a name in a quote, between ``before`` and ``after``, is a vocative."""
    if after[:1] in ",!" and after[1:2] not in "\"\u201d'\u2019" and _VOC_OPEN.search(before):
        return True  # a quote that is only the name ("'Like Algabeno,' I said") names no one
    return bool(_VOC_CLAUSE.search(before)) and (
        after[:1] in "!?" or after[:2] in (". ", ".\"", ".\u201d", ".'", ".\u2019", ", ") or after == ".")


def _is_initial(text: str, s: int) -> bool:
    j = s - 1
    newlines = 0
    while j >= 0 and s - j < 40:
        c = text[j]
        if c == "\n":
            newlines += 1
            if newlines >= 2:
                return True
        elif c not in " \t\"'_(*[\u201c\u2018":
            return c in ".!?:\u2014" or (c == "-" and j > 0 and text[j - 1] == "-")
        j -= 1
    return j < 0


def _title_case_line(text: str, pos: int) -> bool:
    """Whether the line holding ``pos`` capitalises its words as a heading does ("Chapter
    XIV: How Lucy Faced the External Situation Bravely"): three words or more, and three
    in four of those of four letters or more capitalised."""
    lo, hi = text.rfind("\n", 0, pos) + 1, text.find("\n", pos)
    line = text[lo:hi if hi >= 0 else len(text)]
    words = re.findall(r"[A-Za-z]+", line)
    long = [w for w in words if len(w) >= 4]
    return len(line) < 120 and len(words) >= 3 and bool(long) and \
        4 * sum(w[0].isupper() for w in long) >= 3 * len(long)


def _lower_in(text: str, word: str) -> bool:
    """Whether ``text`` has ``word`` in lower case (a word of the language, not a name)."""
    return re.search(rf"(?<![A-Za-z]){re.escape(word.lower())}(?![A-Za-z])", text) is not None


def scan_names(text: str, start: int, end: int,
               quote_spans: list[tuple[int, int]] = (), keep: frozenset = frozenset()) -> list[dict]:
    """Find name forms in ``text[start:end]`` with their context evidence.

    ``keep``: words of :data:`~shimmy_lab.story.lexicon.NOT_NAMES` read as names here
    (the words of a cast's names, :func:`cast_words`: "Will", "May").

    Returns
    -------
    list of dict
        One per occurrence: ``surface``, ``start``, ``end``, ``initial``, ``person``,
        ``place``, ``male``, ``female``, ``in_quote``.
    """
    qstarts = [q[0] for q in quote_spans]
    out = []
    for m in NAME_RE.finditer(text, start, end):
        title = m.group("title")
        words = m.group("name").split()
        s = m.start("name")
        # drop sentence-openers glued to a name ("Dear Emma", "Poor Harriet")
        article = False
        while words and words[0] in NOT_NAMES and words[0] not in keep and not (
                words[0] in CALENDAR and len(words) > 1 and not title):
            article = words[0] == "The"
            s = text.index(words[0], s) + len(words[0])
            while s < len(text) and text[s].isspace():
                s += 1
            words = words[1:]
            title = None
        if not words:
            continue
        cut = next((i for i, w in enumerate(words) if w in NOT_NAMES and w not in keep and not (
            w in CALENDAR and i < len(words) - 1)), len(words))
        words = words[:cut]
        if len(words) > 1 and _title_case_line(text, s):  # "How Lucy Faced the External Situation"
            words = words[:1 + next((i for i, w in enumerate(words[1:]) if _lower_in(text, w)), len(words))]
        if not words or (len(words) == 1 and len(words[0]) < 2):
            continue
        ms = m.start() if title else s
        last = words[-1]
        me = text.index(last, s) + len(last)
        if title:
            surface = f"{title} " + " ".join(words)
        elif article or text[max(0, ms - 4):ms] == "the ":
            surface = "the " + " ".join(words)
        else:
            surface = " ".join(words)
        before = text[max(0, ms - 24):ms]
        after = text[me:me + 100]
        # "St. Paul's", "St. James's": a church, a street, a palace, not a saint
        saint_place = bool(_SAINT_BEFORE.search(before)) and after.startswith(("'s", "\u2019s"))
        place = (not title and bool(_PLACE_BEFORE.search(before))) or _names_place(title, words) or saint_place
        person = (bool(title) and not saint_place) or bool(_TAG_BEFORE.search(before)) or bool(
            _PERSON_AFTER.match(after))
        pm = _PRONOUN_AFTER.match(after)
        male = female = 0
        if pm:
            if pm.group(1) in _MALE_PRON:
                male = 1
            else:
                female = 1
        i = bisect.bisect_right(qstarts, ms) - 1
        in_quote = i >= 0 and quote_spans[i][0] <= ms < quote_spans[i][1]
        person = person or (in_quote and _vocative(before, after))
        out.append({"surface": surface, "start": ms, "end": me,
                    "initial": _is_initial(text, ms), "person": person and not place,
                    "place": place, "male": male, "female": female, "in_quote": in_quote})
    return out


#: words of descriptions that fit anyone ("the old woman", "the girl"): not scanned as mentions
_GENERIC = MALE_NOUNS | FEMALE_NOUNS | frozenset(
    "old young little elder younger first second third other same".split())


def description_pattern(forms: dict[str, str]) -> re.Pattern | None:
    """A regex for the lower-case descriptions among a cast's forms (``cast_forms``:
    "the stranger"), or None when there are none.  Descriptions that fit anyone ("the
    old woman") are left out: they stay speaker tags, not mentions."""
    descs = sorted({f[4:] for f in forms if f.startswith("the ") and f[4:] == f[4:].lower()
                    and not set(f[4:].split()) <= _GENERIC}, key=len, reverse=True)
    if not descs:
        return None
    alt = "|".join(r"\s+".join(map(re.escape, d.split())) for d in descs)
    return re.compile(rf"(?<![A-Za-z'\-])[Tt]he\s+(?P<desc>{alt})(?![A-Za-z])")


def scan_descriptions(text: str, start: int, end: int, pattern: re.Pattern | None,
                      quote_spans: list[tuple[int, int]] = ()) -> list[dict]:
    """Occurrences of a cast's descriptions (:func:`description_pattern`) in
    ``text[start:end]``, as :func:`scan_names` gives name forms (surface "the stranger")."""
    if pattern is None:
        return []
    qstarts = [q[0] for q in quote_spans]
    out = []
    for m in pattern.finditer(text, start, end):
        i = bisect.bisect_right(qstarts, m.start()) - 1
        in_quote = i >= 0 and quote_spans[i][0] <= m.start() < quote_spans[i][1]
        out.append({"surface": "the " + " ".join(m.group("desc").split()), "start": m.start(),
                    "end": m.end(), "initial": _is_initial(text, m.start()), "person": True,
                    "place": False, "male": 0, "female": 0, "in_quote": in_quote})
    return out


#: what the text says between two name forms (``a`` then ``b``) when it tells a change of
#: name: "Miss Hale, now Mrs Rowe" (``b`` is the name now), "Mrs Rowe, formerly Miss Hale",
#: "Mr Leek, late Crump" ("late" after a comma: the name before), "Mrs Rowe (poor Miss
#: Hale that was)" (with :data:`_THAT_WAS` after ``b``); a marriage between them: "Mr Rowe
#: had married Miss Hale", "Mr Rowe's marriage with Miss Hale", "Hal Rowe's wife Mary"
_CHANGE_LINKS = (
    ("now", re.compile(r"\s*[,(]\s*now\s+")),
    ("formerly", re.compile(r"\s*[,(]\s*(?:late|formerly|n[\u00e9e]e|born)\s+")),
    ("that was", re.compile(r"\s*(?:[(,:]|--|\u2014)\s*(?:(?:poor|dear|old|the)\s+)?")),
    ("married", re.compile(r"\s+(?:(?:had|has|have|was|is|were)\s+)?(?:(?:been|just|lately|since)\s+)?"
                           r"married\s+(?:to\s+)?(?:(?:old|young|a)\s+)?")),
    ("married", re.compile(r"'s\s+marriage\s+(?:with|to)\s+(?:a\s+)?")),
    ("married", re.compile(r"'s\s+(?:young\s+)?wife,?\s+")),
)
#: a name given after "now" or "formerly" ends there: "Miss Hale, now Mrs Rowe, had ..."
_ENDS = re.compile(r"\s*(?:[,;:.!?)]|--|\u2014)")
#: "Miss Hale that was," (the name she had), closing the clause
_THAT_WAS = re.compile(r",?\s+that\s+was\s*(?:[,;:.!?)]|--|\u2014)")
#: a wish, a question or a denial before "married" in the sentence ("I wish he had married ...")
_UNREAL = re.compile(r"\b(?:if|wish|wished|would|should|could|might|hope|hoped|not|never|whether|"
                     r"unless|rather|instead)\b", re.IGNORECASE)
#: where a change may be told (a quick filter before :data:`_CHANGE_LINKS` are tried)
_CHANGE_CUE = re.compile(r"[,(]\s*(?:now|late|formerly|n[\u00e9e]e|born)\s+[A-Z]"
                         r"|\bthat\s+was\s*[,;:.!?)\-\u2014]"
                         r"|\bmarried\s+(?:to\s+)?(?:(?:old|young|a)\s+)?[A-Z]"
                         r"|'s\s+marriage\s+(?:with|to)\b"
                         r"|'s\s+(?:young\s+)?wife,?\s+[A-Z]")


def _spouse_forms(man: str) -> list[str]:
    """The forms his wife goes by, most precise first: "Mr John Rowe" -> "Mrs John Rowe",
    "Mrs Rowe"; "Sir Hal Rowe" -> "Lady Rowe" too."""
    title, words, _ = parse_surface(man)
    out = [f"Mrs {' '.join(words)}"] if len(words) > 1 else []
    out.append(f"Mrs {words[-1]}")
    if title in ("Sir", "Lord"):
        out.append(f"Lady {words[-1]}")
    return out


def _form_gender(surface: str) -> str | None:
    """The sex a name form tells by its title or its given name, else None."""
    title, words, _ = parse_surface(surface)
    return _gender_of_title(title) or (None if title or len(words) > 2 else _given_gender(words[0]))


def _marriage(text: str, a: dict, b: dict) -> dict | None:
    """The change of name "a married b" tells: the woman's name form becomes her husband's
    (:func:`_spouse_forms`); None when neither or both are women, when the man is named by
    a given name only, or when the sentence wishes, asks or denies it."""
    ga, gb = _form_gender(a["surface"]), _form_gender(b["surface"])
    if (ga == "female") == (gb == "female"):
        return None
    woman, man = (a, b) if ga == "female" else (b, a)
    title, words, definite = parse_surface(man["surface"])
    if definite or (not title and len(words) == 1 and _given_gender(words[0])):
        return None
    lead = re.split(r"[.!?;\"\u201c\u201d]", text[max(0, a["start"] - 80):a["start"]])[-1]
    tail = re.split(r"(?<=[.!?])", text[b["end"]:b["end"] + 120], maxsplit=1)[0]
    if _UNREAL.search(lead) or _UNREAL.search(tail) or tail.rstrip().endswith("?"):
        return None
    return {"former": woman["surface"], "current": _spouse_forms(man["surface"]),
            "kind": "married", "husband": man["surface"], "start": a["start"]}


def _change(text: str, a: dict, b: dict) -> dict | None:
    """The change of name told between two successive name forms ``a`` and ``b``, or None.

    Not when ``b`` is a possessive ("married Miss Hale's sister"); an apposition not
    between two bare words ("Come, Jane, now Mary!") nor between two sexes.
    """
    if text.startswith(("'s", "\u2019s"), b["end"]):
        return None
    for kind, link in _CHANGE_LINKS:
        if not link.fullmatch(text, a["end"], b["start"]):
            continue
        if kind == "married":
            return _marriage(text, a, b)
        ga, gb = _form_gender(a["surface"]), _form_gender(b["surface"])
        if (ga and gb and ga != gb) or " " not in a["surface"] + b["surface"]:
            return None
        after = text[b["end"]:b["end"] + 40]
        if kind == "that was" and _THAT_WAS.match(after):
            return {"former": b["surface"], "current": [a["surface"]], "kind": kind, "start": a["start"]}
        if kind in ("now", "formerly") and _ENDS.match(after):
            old, new = (a, b) if kind == "now" else (b, a)
            return {"former": old["surface"], "current": [new["surface"]], "kind": kind,
                    "start": a["start"]}
    return None


def scan_name_changes(text: str, start: int = 0, end: int | None = None) -> list[dict]:
    """Changes of name the text tells in ``text[start:end]`` (marriage above all).

    A change is told by an apposition ("Miss Hale, now Mrs. Rowe", "Mrs. Rowe, formerly
    Miss Hale", "Mr. Leek, late Crump", "Mrs. Rowe (poor Miss Hale that was)") or by a
    marriage ("Mr. Rowe had married Miss Hale", "Mr. Rowe's marriage with Miss Hale",
    "Hal Rowe's wife Mary"), the woman then going by her husband's name; not by a wish, a
    question or a denial ("I wish he had married Miss Hale").  Names are only ever
    adjacent to the cue, so co-occurrence is never read as a change.

    Returns
    -------
    list of dict
        One per change, in text order: ``former`` (the name form given up, as
        :func:`scan_names` writes it), ``current`` (the forms the person goes by after it,
        most precise first: for a marriage her husband's, "Mrs John Rowe", "Mrs Rowe"),
        ``kind`` ("now", "formerly", "that was" or "married"), ``start``, and for a
        marriage ``husband`` (his name form).  :func:`cluster` takes them.
    """
    end = len(text) if end is None else end
    out, seen = [], set()
    for cue in _CHANGE_CUE.finditer(text, start, end):
        lo, hi = max(start, cue.start() - 90), min(end, cue.end() + 90)
        occ = [c for c in scan_names(text, lo, hi) if c["surface"].split()[0] != "the"]
        for a, b in zip(occ, occ[1:]):
            if (a["start"], b["start"]) in seen:
                continue
            seen.add((a["start"], b["start"]))
            hit = _change(text, a, b)
            if hit is not None:
                out.append(hit)
    return sorted(out, key=lambda h: h["start"])


def count_lower(text: str, words: list[str], start: int = 0, end: int | None = None
                ) -> Counter:
    """Count lowercase occurrences of ``words`` (given capitalised) in a region."""
    words = [w for w in words if w.isalpha()]
    if not words:
        return Counter()
    pat = re.compile(r"\b(" + "|".join(re.escape(w.lower()) for w in set(words)) + r")\b")
    return Counter(m.group(1) for m in pat.finditer(text, start, len(text) if end is None else end))


#: titles a surname follows, so "Mrs. Hall" is a person where "Kellynch Hall" is a place
_SURNAME_TITLES = frozenset("Mr Mrs Miss Ms Mister Dr Doctor Madame Mme Mademoiselle Mlle Monsieur "
                            "Herr Signor Captain Colonel Major Inspector Sergeant Admiral".split())


def _names_place(title: str | None, words: list[str]) -> bool:
    """Whether a name form's last word makes it a place ("Kellynch Hall", "the Crown Inn").

    Not when a given name leads it ("Eliza Lodge") or when it is one surname after a
    person's title ("Mrs. Hall", "Mr. Wood").
    """
    if words[-1] not in PLACE_WORDS:
        return False
    if title and title.rstrip(".") in _SURNAME_TITLES and len(words) == 1:
        return False
    return not (len(words) > 1 and _given_gender(words[0]))


def is_person(surface: str, count: int, initial: int, lower: int, person: int,
              place: int, accepted: set[str] = frozenset()) -> bool:
    """Decide from the summed evidence whether a name form names a person."""
    title, words, definite = parse_surface(surface)
    if not words or _names_place(title, words):
        return False
    if title:
        return place * 2 <= count
    if any(w in NOT_NAMES and not (w in CALENDAR and i < len(words) - 1)
           for i, w in enumerate(words)):
        return False
    if definite:
        if len(words) == 1 and words[0] in TITLES:  # "the Admiral", "the Professor": its holder
            return place * 2 < count and lower * 2 <= count
        return person >= 2 and person > place and lower * 2 <= count
    mid = count - initial
    if len(words) == 1:
        w = words[0]
        if place * 2 >= count or lower * 2 > count:
            return False
        given = w in FEMALE_NAMES or w in MALE_NAMES or w in NICKNAMES
        if given or w in accepted:
            return place == 0 or person > place
        if lower * 2 > max(mid, 0) or mid < 1:
            return False
        return person >= 1 and person > place
    if place * 2 >= count:
        return False
    first, lastw = words[0], words[-1]
    del lastw
    return (first in FEMALE_NAMES or first in MALE_NAMES or first in accepted
            or (person >= 1 and person > place))


def _gender_of_title(title: str | None) -> str | None:
    if title in MALE_TITLES:
        return "male"
    if title in FEMALE_TITLES:
        return "female"
    return None


def _given_gender(word: str) -> str | None:
    """The sex a given name tells, or a nickname through its formal names ("Sissy")."""
    if word in FEMALE_NAMES:
        return "female"
    if word in MALE_NAMES:
        return "male"
    formal = {"female" if f in FEMALE_NAMES else "male" if f in MALE_NAMES else None
              for f in NICKNAMES.get(word, ())} - {None}
    return formal.pop() if len(formal) == 1 else None


def _title_kind(title: str | None) -> str | None:
    """One spelling per title ("Doctor" is "Dr", "Mademoiselle" is "Miss")."""
    return SAME_TITLE.get(title, title) if title else title


#: :data:`~shimmy_lab.story.lexicon.ALSO_MR` as :func:`_title_kind` writes them
_ALSO_MR = frozenset(map(_title_kind, ALSO_MR))


def _same_given(a: str, b: str) -> bool:
    """Whether two given names are one name ("Bill" and "William", "Tom" and "Tommy")."""
    return a == b or bool({a, *NICKNAMES.get(a, ())} & {b, *NICKNAMES.get(b, ())})


class _Person:
    __slots__ = ("first", "last", "gender", "titles", "surfaces", "count", "titled_full", "others", "married",
                 "former")

    def __init__(self, first, last, gender):
        self.first, self.last, self.gender = first, last, gender
        self.titles: set = set()  # as _title_kind writes them
        self.surfaces: list[str] = []
        self.count = 0
        self.titled_full = False
        self.others: set = set()  # other given names of full names merged in
        self.married = False  # named by her husband's names ("Mrs Charles Musgrove")
        self.former: set = set()  # forms the text says were given up ("Miss Taylor that was")

    def add(self, surface, count, title):
        self.surfaces.append(surface)
        self.count += count
        if title:
            self.titles.add(_title_kind(title))

    def absorb(self, other: "_Person") -> None:
        """Take ``other``'s forms, titles and given names (it is the same person)."""
        self.surfaces += other.surfaces
        self.count += other.count
        self.titles |= other.titles
        self.titled_full = self.titled_full or other.titled_full
        self.gender = self.gender or other.gender
        self.others |= {other.first, *other.others} - {self.first, None}
        self.former |= other.former


def _named_with(m: "_Merge", surface: str, p: _Person) -> bool:
    """Whether ``surface`` is named in the same paragraphs as one of ``p``'s forms."""
    return bool(m.together) and any(frozenset((surface, f)) in m.together for f in p.surfaces)


def _compatible(p: _Person, gender: str | None) -> bool:
    return gender is None or p.gender is None or p.gender == gender


def cluster(forms: dict[str, int], votes: dict[str, tuple[int, int]],
            old: dict[str, str], taken: set[str] = frozenset(), cast: list[dict] = (),
            together: set[frozenset] | None = None, changes: list[dict] = ()
            ) -> tuple[dict[str, str], dict[str, dict]]:
    """Merge person name forms into characters.

    Parameters
    ----------
    forms
        Person surface -> occurrence count.
    votes
        Surface -> (male, female) pronoun votes.
    old
        Surface -> character_id already given out (kept where possible).
    taken
        Ids that must not be reused for new characters.
    cast
        Members from :func:`parse_cast`: each is a character with its id, name and
        gender (inferred when None); its forms (:func:`cast_forms`) are its own and the
        other forms join it as they would join a character found in the text.
    together
        Pairs of surfaces (frozensets) named in the same paragraphs often enough to be
        two people ("Mr. Knightley" and "Mr. John Knightley"): a titled surname joins a
        full name with the same title ("Mr Sikes", "Mr Bill Sikes") only when it is not
        named together with one of its forms. None (no such evidence): it never
        joins a titled full name.
    changes
        Changes of name the text tells (:func:`scan_name_changes`): the person of the
        former form and the person of the form after the change are one (see
        :func:`_join_changes`); the former form never names the character.

    Returns
    -------
    (dict, dict)
        Surface -> character_id, and character_id -> ``{"name", "gender"}`` (every
        cast member included, named in the text or not).
    """
    misprints = _misprints(forms)
    forms = {s: n for s, n in forms.items() if s not in misprints}
    order = sorted(forms, key=lambda s: (-forms[s], s))
    m = _Merge(forms, {s: parse_surface(s) for s in order}, order, together)
    cmap = cast_forms(list(cast))
    m.members, m.cast_word = _seed_cast(cast, cmap, forms, m.parsed, m.persons, m.full, m.titled_surname,
                                        m.by_first, m.owner)
    _join_full_names(m)
    _join_titled_words(m)
    _join_definite(m)
    _join_bare_words(m, votes)
    _join_changes(m, changes)
    surf_map, info = _name_characters(m, votes, old, taken, cmap)
    surf_map.update({s: surf_map[t] for s, t in misprints.items() if t in surf_map})
    return surf_map, info


def _misprints(forms: dict[str, int]) -> dict[str, str]:
    """Name forms used once or twice that are one letter off a form used ten times as often
    ("Mr Browlow" beside "Mr Brownlow", "Rachel" beside "Rachael": a misprint or a variant
    spelling): rare form -> the common one, where exactly one common form is that close."""
    common: dict[int, list[str]] = {}
    for t, n in forms.items():
        if n >= 10:
            common.setdefault(len(t.split()), []).append(t)
    out = {}
    for s, n in forms.items():
        if n <= 2:
            hits = [t for t in common.get(len(s.split()), []) if forms[t] >= 10 * n and _one_letter_off(s, t)]
            if len(hits) == 1:
                out[s] = hits[0]
    return out


def _one_letter_off(a: str, b: str) -> bool:
    """Whether the rare form ``a`` and the common form ``b`` differ in one word only, of five
    letters or more with the same first letter, by one letter added, dropped or changed (not
    by an "s" the rare one adds, a plural, nor by its last letter changed, another name)."""
    diff = [(x, y) for x, y in zip(a.split(), b.split()) if x != y]
    if len(diff) != 1:
        return False
    x, y = diff[0]
    rare = x
    if min(len(x), len(y)) < 5 or x[0] != y[0] or abs(len(x) - len(y)) > 1:
        return False
    if len(x) == len(y):  # a last letter changed makes another name ("Maria", "Marie")
        return sum(c != d for c, d in zip(x, y)) == 1 and x[-1] == y[-1]
    short, long = sorted((x, y), key=len)
    if long == short + "s" and long == rare:  # "the Knightleys", "Mrs. Eltons": a family, a plural
        return False
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


class _Merge:
    """What :func:`cluster` builds up, step by step: the persons and the indexes that let
    a name form find the person it joins."""

    def __init__(self, forms: dict[str, int], parsed: dict, order: list[str],
                 together: set[frozenset] | None):
        self.forms, self.parsed, self.order, self.together = forms, parsed, order, together
        self.persons: list[_Person] = []
        self.full: dict[tuple, _Person] = {}  # (first, last) -> person
        self.owner: dict[str, _Person] = {}  # surface -> person it joined
        self.titled_surname: dict[tuple, _Person] = {}  # (title kind, surname) -> person
        self.by_first: dict[str, list[_Person]] = {}  # given name -> persons
        self.definite: dict[tuple, _Person] = {}  # words of "the X" or of a bare word -> person
        self.members: dict[int, dict] = {}  # id(person) -> cast member
        self.cast_word: dict[str, list] = {}  # word -> cast members with it in a name


def _join_full_names(m: _Merge) -> None:
    """Step 1: full names (two or more words); then every person is known by its given name."""
    for s in m.order:
        title, words, definite = m.parsed[s]
        if definite or len(words) < 2 or s in m.owner:
            continue
        g = _gender_of_title(title) or _given_gender(words[0])
        # "Mrs Charles Musgrove" goes by her husband's names: "Charles" is not hers
        married = g == "female" and _given_gender(words[0]) == "male"
        first = None if words[0] in PARTICLES else words[0]  # "Professor de Worms": no given name
        key = (first, words[-1]) if not married else (title, *words)
        p = m.full.get(key) or _member_full(m.cast_word, words, g)
        if p is None or not _compatible(p, g):
            p = _Person(first, words[-1], g)
            m.persons.append(p)
            m.full.setdefault(key, p)
        p.gender = p.gender or g
        p.add(s, m.forms[s], title)
        p.titled_full = p.titled_full or bool(title)
        p.married = p.married or married
        m.owner[s] = p
    _join_same_given(m)
    for p in m.persons:
        if id(p) not in m.members and not p.married:
            for first in ({p.first} | p.others) - {None}:
                m.by_first.setdefault(first, []).append(p)


def _join_same_given(m: _Merge) -> None:
    """Full names of one surname whose given names are one name are one person when both
    are called by one title ("Mr Bill Sikes", "Mr William Sikes") or both given names are
    familiar ("Tom Chitling", "Tommy Chitling"); a familiar and a formal given name with no
    title in common stay apart ("Tom Gradgrind" and "Mr Thomas Gradgrind"; in Hard Times
    both are the father, and the bare "Tom", his son, joins "Tom Gradgrind": a known error,
    docs/story.md)."""
    found = [p for p in m.persons if p.first and p.last and id(p) not in m.members]
    gone: set[int] = set()
    for i, p in enumerate(found):
        for q in found[i + 1:]:
            if id(p) in gone or id(q) in gone or p.last != q.last or p.first == q.first \
                    or not _same_given(p.first, q.first) or not _compatible(p, q.gender):
                continue
            if p.titles & q.titles or (p.first in NICKNAMES and q.first in NICKNAMES):
                p.absorb(q)
                gone.add(id(q))
                for s in q.surfaces:
                    m.owner[s] = p
                m.full[(q.first, q.last)] = p
    m.persons[:] = [p for p in m.persons if id(p) not in gone]


def _join_titled_words(m: _Merge) -> None:
    """Step 2: a title and one word ("Mr Sikes", "Miss Emma", "Sir Walter")."""
    for s in m.order:
        title, words, definite = m.parsed[s]
        if definite or not title or len(words) != 1 or s in m.owner:
            continue
        w, g = words[0], _gender_of_title(title)
        p = _one_member(m.cast_word, w, g)  # "Mr Ratcliffe" is the one member "Inspector Ratcliffe"
        if p is None:
            p = _titled_given(m, title, w, g) or _titled_surname(m, s, title, w, g)
        p.gender = p.gender or g
        p.add(s, m.forms[s], title)
        m.owner[s] = p


def _titled_given(m: _Merge, title: str, w: str, g: str | None) -> _Person | None:
    """The person a title and a given name ("Sir Walter", "Mr Harry", "Lady Brett") is: the
    most named one with that given name (else the formal name of that nickname, else the
    one nickname of that formal name: "Miss Louisa" is "Loo Bounderby"), when the title
    takes a given name or ``w`` is no one's surname; else None."""
    cands = [p for p in m.by_first.get(w, []) if _compatible(p, g)] or [
        p for f in NICKNAMES.get(w, ()) for p in m.by_first.get(f, []) if _compatible(p, g)] or [
        p for p in [_one_familiar(m, w)] if p is not None and _compatible(p, g)]
    if cands and (title in FIRST_NAME_TITLES or not any(p.last == w for p in m.persons)):
        return max(cands, key=lambda p: p.count)
    return None


def _titled_surname(m: _Merge, s: str, title: str, w: str, g: str | None) -> _Person:
    """The person "Mr Sikes" (``s``: ``title`` and surname ``w``) is: the one full name with
    that surname it may join, else the one person of a calling that is "Mr" too ("Doctor
    Losberne"), else a person of its own (one per title and surname)."""
    kind = _title_kind(title)
    p = m.titled_surname.get((kind, w))
    if p is None:
        p = _full_name_of(m, s, kind, w, g) or _calling_of(m, s, kind, w)
    if p is None:
        p = _Person(None, w, g)
        m.persons.append(p)
    m.titled_surname[(kind, w)] = p
    return p


def _full_name_of(m: _Merge, s: str, kind: str, w: str, g: str | None) -> _Person | None:
    """The full name of surname ``w`` that ``s`` (title ``kind`` and ``w``) joins, or None.

    "Miss Woodhouse" joins the one woman of that surname never called otherwise than Miss;
    "Mr Sikes" an untitled full name ("Bill Sikes"), or one called Mr ("Mr Bill Sikes") or
    by a calling that is Mr too ("the Rev Cuthbert Eager"); "Captain Wentworth" and "Lady
    Ashley" a full name with that title.  Not one it is named together with (a father, a
    brother); of several, the one called by the title (:func:`_dominant`).
    """
    same = [q for q in m.persons if q.last == w and q.first is not None and _compatible(q, g)]
    if kind == "Miss":
        same = [q for q in same if q.gender == "female" and q.titles <= {"Miss"}]
        return same[0] if len(same) == 1 else None
    allowed = {kind} | (_ALSO_MR if kind == "Mr" else set())
    same = [q for q in same if (q.titles and (kind in q.titles or q.titles <= allowed)
                                and m.together is not None) or (not q.titles and kind in ("Mr", "Master"))]
    if kind != "Master":  # a boy's title: "Master Bates" beside "Charley Bates" is no father of his
        same = [q for q in same if not _named_with(m, s, q)]
    if len(same) > 1:
        same = [q for q in same if kind in q.titles]
    return _dominant(same)


def _dominant(persons: list[_Person]) -> _Person | None:
    """The one of ``persons``, or the one named more than twice as often as all the others."""
    persons = sorted(persons, key=lambda p: -p.count)
    if persons and persons[0].count > 2 * sum(p.count for p in persons[1:]):
        return persons[0]
    return None


def _calling_of(m: _Merge, s: str, kind: str, w: str) -> _Person | None:
    """"Mr Losberne" is "Doctor Losberne" and the other way round (a calling whose holder
    is Mr too, :data:`~shimmy_lab.story.lexicon.ALSO_MR`), when there is one such person
    and the two are not named together."""
    kinds = _ALSO_MR if kind == "Mr" else {"Mr"} if kind in _ALSO_MR else set()
    hits = {id(p): p for k in kinds for p in [m.titled_surname.get((k, w))]
            if p is not None and not _named_with(m, s, p)}
    return next(iter(hits.values())) if len(hits) == 1 else None


def _one_titled(m: _Merge, word: str) -> _Person | None:
    """The person called by the title ``word`` ("the Colonel", "Admiral"): the one who is,
    or the one named more than twice as often as all the others who are; else None."""
    kind = _title_kind(word)
    return _dominant([p for p in m.persons if kind in p.titles])


def _join_definite(m: _Merge) -> None:
    """Step 3: "the X" forms, longest first: "the Colonel" is the one Colonel, "the Rabbit"
    the one "the White Rabbit"; others are persons of their own."""
    rest = [s for s in m.order if s not in m.owner and m.parsed[s][2]]
    for s in sorted(rest, key=lambda s: (-len(m.parsed[s][1]), -m.forms[s], s)):
        words = tuple(m.parsed[s][1])
        p = m.definite.get(words)
        if p is None and len(words) == 1 and words[0] in TITLES:
            p = _one_titled(m, words[0])
        if p is None:
            longer = {id(q): q for k, q in m.definite.items()
                      if len(k) > len(words) and k[-len(words):] == words}
            p = next(iter(longer.values())) if len(longer) == 1 else None
        if p is None:
            p = _Person(None, None, None)
            m.persons.append(p)
        m.definite.setdefault(words, p)
        p.add(s, m.forms[s], m.parsed[s][0])
        m.owner[s] = p


def _join_bare_words(m: _Merge, votes: dict[str, tuple[int, int]] | None = None) -> None:
    """Step 4: bare single words (formal given names before nicknames): a given name, a
    surname, the X of "the X", the one person called by a title ("Admiral"), the one
    person called by a nickname of a formal name ("Michael" for "Mike Campbell").  A bare
    surname that the pronouns after it make a man (``votes``) is no woman of that surname
    ("Braddocks said. He ..." beside "Mrs. Braddocks": her husband)."""
    votes = votes or {}
    for s in sorted(m.order, key=lambda s: (s in NICKNAMES, -m.forms[s], s)):
        if s in m.owner:
            continue
        title, words, _ = m.parsed[s]
        w = words[0]
        # "Tom" is the Tom of "Tom Gradgrind" before the Thomas of "Thomas Gradgrind"
        cands = list(m.by_first.get(w, [])) or [
            p for formal in NICKNAMES.get(w, ()) for p in m.by_first.get(formal, [])]
        sur = [p for p in m.persons if p.last == w]
        male, female = votes.get(s, (0, 0))
        if male > female and male >= 2:
            sur = [p for p in sur if p.gender != "female"]
        cands += [p for p in sur if p.gender == "male"] or sur
        p = _one_member(m.cast_word, w, None)
        if p is None and cands:
            p = max(cands, key=lambda p: p.count)
        if p is None:
            p = m.definite.get((w,)) or (_one_titled(m, w) if w in TITLES else None) or _one_familiar(m, w)
        if p is None:
            p = _Person(w, None, _given_gender(w))
            m.persons.append(p)
            m.by_first.setdefault(w, []).append(p)
        elif p.first is None and p not in m.by_first.get(w, ()):  # "Nancy" of "Miss Nancy"
            m.by_first.setdefault(w, []).append(p)
        p.add(s, m.forms[s], title)
        m.owner[s] = p


def _join_changes(m: _Merge, changes: list[dict]) -> None:
    """Step 5: a name form given up ("Miss Taylor that was", "Mr Weston married Miss
    Taylor") and the first of the forms after it that names a person (``current``) are
    one person; the former form is kept out of the names (:func:`_name_characters`).

    Not when the sexes differ or both are cast members, nor, for a marriage, when the
    wife's form may be another woman's (:func:`_wife_of`).
    """
    for ch in changes:
        _check_change(ch)
    for ch in changes:
        old = m.owner.get(ch["former"])
        form = next((f for f in ch["current"] if f in m.owner), None)
        if old is None or form is None or m.owner[form] is old:
            continue
        new = m.owner[form]
        if (id(old) in m.members and id(new) in m.members) or not _compatible(new, old.gender) \
                or (ch["kind"] == "married" and not _wife_of(m, ch, form, old)):
            continue
        keep, gone = (old, new) if id(old) in m.members else (new, old)
        keep.absorb(gone)
        keep.former.add(ch["former"])
        for s in gone.surfaces:
            m.owner[s] = keep
        m.persons[:] = [p for p in m.persons if p is not gone]


def _check_change(change) -> None:
    """Raise ValueError unless ``change`` is a change of name as :func:`scan_name_changes`
    gives it (the keys :func:`cluster` reads)."""
    need = {"former", "current", "kind"} | ({"husband"} if isinstance(change, dict)
                                            and change.get("kind") == "married" else set())
    if not isinstance(change, dict) or need - set(change):
        raise ValueError(f"a change of name must be a dict with the keys {sorted(need)} "
                         f"(see scan_name_changes), not {change!r}")
    if not isinstance(change["current"], (list, tuple)):
        raise ValueError(f"the 'current' of a change of name must be a list of name forms, "
                         f"not {change['current']!r}")


def _wife_of(m: _Merge, change: dict, form: str, woman: _Person) -> bool:
    """Whether ``form`` ("Mrs Weston") may be the woman a marriage ``change`` tells of:
    "Mr Weston" is the husband (or no one), so "Mrs Weston" is not his mother nor his
    brother's wife, and the two have no different given names (two women)."""
    husband, wife = m.owner.get(change["husband"]), m.owner[form]
    mr = m.owner.get(" ".join(["Mr", *parse_surface(form)[1]]))
    if husband is None or wife is husband or (mr is not None and mr is not husband):
        return False
    return not (woman.first and wife.first and not _same_given(woman.first, wife.first))


def _one_familiar(m: _Merge, formal: str) -> _Person | None:
    """The person whose given name is a nickname of ``formal`` ("Mike" for "Michael"): the
    one (:func:`_dominant`) such person."""
    hits = {id(p): p for nick, formals in NICKNAMES.items() if formal in formals
            for p in m.by_first.get(nick, ())}
    return _dominant(list(hits.values()))


def _name_characters(m: _Merge, votes: dict, old: dict[str, str], taken: set[str], cmap: dict[str, str]
                     ) -> tuple[dict[str, str], dict[str, dict]]:
    """Step 6: names, genders and ids (a person keeps the id most of its forms had); the
    name is the most used full name (:func:`_full_names`), else the most used form,
    titled ones counting thrice; never a name the text says was given up (``former``:
    "Mrs Bumble", not "Mrs Corney", though the story calls her so more often)."""
    forms, parsed, members = m.forms, m.parsed, m.members
    persons = [p for p in m.persons if p.surfaces or id(p) in members]
    persons.sort(key=lambda p: -p.count)
    cast_ids = {mb["character_id"] for mb in members.values()}
    used = set(taken) | cast_ids
    claimed: dict[str, _Person] = {}
    for p in persons:
        weights = Counter()
        for s in p.surfaces:
            if s in old:
                weights[old[s]] += forms[s]
        for cid, _ in weights.most_common():
            if cid not in claimed and cid not in cast_ids and id(p) not in members:
                claimed[cid] = p
                break
    surf_map: dict[str, str] = {}
    info: dict[str, dict] = {}
    used |= set(claimed)
    pid = {id(p): cid for cid, p in claimed.items()}
    for p in persons:
        mb = members.get(id(p))
        if mb is not None:
            cid = mb["character_id"]
            info[cid] = {"name": mb["name"],
                         "gender": mb["gender"] or _cluster_gender(p, parsed, forms, votes)}
            surf_map.update({f: c for f, c in cmap.items() if c == cid})
            surf_map.update({s: cid for s in p.surfaces})
            continue
        multi = [s for s in _full_names(p, parsed, forms) if s not in p.former]
        if multi:
            name = max(multi, key=lambda s: (forms[s], -len(s), s))
        else:
            name = max([s for s in p.surfaces if s not in p.former] or p.surfaces,
                       key=lambda s: (forms[s] * (3 if parsed[s][0] else 1), s))
        cid = pid.get(id(p))
        if cid is None:
            base = slug(name)
            cid, k = base, 2
            while cid in used:
                cid, k = f"{base}_{k}", k + 1
            used.add(cid)
        info[cid] = {"name": name, "gender": _cluster_gender(p, parsed, forms, votes)}
        for s in p.surfaces:
            surf_map[s] = cid
    return surf_map, info


def _full_names(p: _Person, parsed: dict, forms: dict) -> list[str]:
    """The full names that may name ``p``: not one seen once beside a titled form ("Mr
    Beebe", not "Reverend Arthur Beebe"), nor one with a nickname of the given name ``p``
    is most called by ("Louisa", not "Loo Bounderby", her married name)."""
    multi = [s for s in p.surfaces if len(parsed[s][1]) >= 2]
    if any(parsed[s][0] for s in p.surfaces if s not in multi):
        multi = [s for s in multi if forms[s] >= 2]
    given = [s for s in p.surfaces if not parsed[s][0] and not parsed[s][2]
             and s != p.last and s not in TITLES and " " not in s]
    if given:
        first = max(given, key=lambda s: (forms[s], s))
        multi = [s for s in multi if first not in NICKNAMES.get(parsed[s][1][0], ())]
    return multi


def _one_member(cast_word: dict, word: str, gender: str | None):
    """The one cast member (person) of gender ``gender`` that has ``word`` (or the
    formal name of a nickname) in its names, else None."""
    hits = {id(p): p for w in (word, *NICKNAMES.get(word, ())) for p in cast_word.get(w, ())
            if _compatible(p, gender)}
    return next(iter(hits.values())) if len(hits) == 1 else None


def _member_full(cast_word: dict, words: list[str], gender: str | None):
    """The one cast member a full name not in the cast belongs to: the only member with
    its last word, when its first word is one of that member's ("Master Charles Bates"
    for "Charley Bates") or no name at all ("Old Stephen" for "Stephen Blackpool")."""
    hit = _one_member(cast_word, words[-1], gender)
    if hit is None:
        return None
    first = words[0]
    same = {first, *NICKNAMES.get(first, ())} | {n for n, f in NICKNAMES.items() if first in f}
    if any(hit in cast_word.get(w, ()) for w in same):
        return hit
    return hit if first not in cast_word and not _given_gender(first) and first not in NICKNAMES \
        else None


def _seed_cast(cast, cmap, forms, parsed, persons, full, titled_surname, by_first, owner):
    """One person per cast member, registered under its full names, titled surnames
    and given names so that other forms can join it; the member's forms (``cmap``,
    :func:`cast_forms`) found in the text (``forms``) are its own.  Returns id(person)
    -> member, and word -> the members with that word in a name (titles left out)."""
    members: dict[int, dict] = {}
    cast_word: dict[str, list] = {}
    for m in cast:
        mine = [k for k, c in cmap.items() if c == m["character_id"]]
        keys = [k for k in map(name_key, [m["name"], *m["aliases"]]) if not k.startswith("the ")]
        parts = [parse_surface(k) for k in keys]
        multi = [w for _, w, _ in parts if len(w) >= 2]
        first = multi[0][0] if multi else next((w[0] for t, w, _ in parts if not t), None)
        last = multi[0][-1] if multi else next((w[0] for t, w, _ in parts if t), None)
        title = next((t for t, _, _ in parts if t), None)
        p = _Person(first, last, m["gender"] or _gender_of_title(title) or _given_gender(first or ""))
        persons.append(p)
        members[id(p)] = m
        for t, w, _ in parts:
            if t:
                p.titles.add(_title_kind(t))
            if len(w) >= 2:
                full.setdefault((w[0], w[-1]), p)
                p.titled_full = p.titled_full or bool(t)
            elif t:
                titled_surname.setdefault((_title_kind(t), w[0]), p)
            if not t:
                by_first.setdefault(w[0], []).append(p)
            for x in w:
                if p not in cast_word.setdefault(x, []):
                    cast_word[x].append(p)
        for s in mine:
            if s in forms:
                p.add(s, forms[s], parsed[s][0])
                owner[s] = p
    return members, cast_word


def _cluster_gender(p: _Person, parsed, forms, votes) -> str | None:
    tm = sum(forms[s] for s in p.surfaces if _gender_of_title(parsed[s][0]) == "male")
    tf = sum(forms[s] for s in p.surfaces if _gender_of_title(parsed[s][0]) == "female")
    if tm or tf:
        return "male" if tm > tf else "female" if tf > tm else None
    if p.first and _given_gender(p.first):
        return _given_gender(p.first)
    m = sum(votes.get(s, (0, 0))[0] for s in p.surfaces)
    f = sum(votes.get(s, (0, 0))[1] for s in p.surfaces)
    if m + f >= 2 and max(m, f) >= 0.65 * (m + f):
        return "male" if m > f else "female"
    return None
