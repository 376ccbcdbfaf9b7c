"""Characters: finding person names, telling them from places, merging aliases.

Three steps, each a pure function:

1. :func:`scan_names` finds capitalised name forms in a region of the text (with an
   optional title such as ``Mr.``), and records the evidence around each one: a
   title, a speech verb ("said Emma"), a person verb, a place preposition ("at
   Hartfield"), a place word ("Kellynch Hall"), and the next gendered pronoun.
2. The evidence is summed per form in the ``names`` table (additive, so
   :meth:`Story.append` only scans new text), and :func:`is_person` decides per form.
3. :func:`cluster` merges the person forms into characters: full names first, then
   titled surnames ("Mr Bennet" and "Mrs Bennet" stay apart, "Miss Woodhouse" joins
   "Emma Woodhouse"), given names and nicknames ("Lizzy" -> "Elizabeth"), bare
   surnames.  Ids already given out are kept (stable ``character_id``).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

from .lexicon import (
    FEMALE_NAMES, FEMALE_TITLES, FIRST_NAME_TITLES, MALE_NAMES, MALE_TITLES, NICKNAMES,
    NOT_NAMES, PERSON_VERBS, PLACE_WORDS, SPEECH_VERBS, TITLES,
)

__all__ = ["scan_names", "count_lower", "is_person", "cluster", "parse_surface", "slug"]

_TITLE_ALT = "|".join(sorted(TITLES, key=len, reverse=True))
_WORD = r"[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?"
_SP = r"(?:[ \t]*\n[ \t]*|[ \t]+)"
NAME_RE = re.compile(
    rf"(?<![A-Za-z'\-])(?:(?P<title>{_TITLE_ALT})\.?{_SP})?"
    rf"(?P<name>{_WORD}(?:{_SP}(?!(?:{_TITLE_ALT})\b){_WORD}){{0,2}})(?![A-Za-z])"
)
_TAG_BEFORE = re.compile(rf"\b(?:{SPEECH_VERBS})\s+$")
_PERSON_AFTER = re.compile(
    rf"^(?:\s+\w+ly)?\s+(?:{SPEECH_VERBS}|{PERSON_VERBS})\b|^,\s+who\b|^'s\s+(?:own\s+)?"
    r"(?:eyes|face|hair|hand|hands|heart|voice|mother|father|sister|brother|husband|wife|"
    r"friend|daughter|son|smile|look|manner|name)\b"
)
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


def scan_names(text: str, start: int, end: int,
               quote_spans: list[tuple[int, int]] = ()) -> list[dict]:
    """Find name forms in ``text[start:end]`` with their context evidence.

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
        while words and words[0] in NOT_NAMES and not (
                words[0] in CALENDAR and len(words) > 1 and not title):
            article = words[0] == "The"
            s = text.index(words[0], s) + len(words[0])
            while s < len(text) and text[s].isspace():
                s += 1
            words = words[1:]
            title = None
        if not words:
            continue
        cut = next((i for i, w in enumerate(words) if w in NOT_NAMES and not (
            w in CALENDAR and i < len(words) - 1)), len(words))
        words = words[:cut]
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
        place = (not title and bool(_PLACE_BEFORE.search(before))) or (
            last in PLACE_WORDS and not (len(words) > 1 and _given_gender(words[0])))
        person = bool(title) or bool(_TAG_BEFORE.search(before)) or bool(
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


def count_lower(text: str, words: list[str], start: int = 0, end: int | None = None
                ) -> Counter:
    """Count lowercase occurrences of ``words`` (given capitalised) in a region."""
    words = [w for w in words if w.isalpha()]
    if not words:
        return Counter()
    pat = re.compile(r"\b(" + "|".join(re.escape(w.lower()) for w in set(words)) + r")\b")
    return Counter(m.group(1) for m in pat.finditer(text, start, len(text) if end is None else end))


def is_person(surface: str, count: int, initial: int, lower: int, person: int,
              place: int, accepted: set[str] = frozenset()) -> bool:
    """Decide from the summed evidence whether a name form names a person."""
    title, words, definite = parse_surface(surface)
    if not words or (words[-1] in PLACE_WORDS and not _given_gender(words[0])):
        return False
    if title:
        return place * 2 <= count
    if any(w in NOT_NAMES and not (w in CALENDAR and i < len(words) - 1)
           for i, w in enumerate(words)):
        return False
    if definite:
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
    if word in FEMALE_NAMES:
        return "female"
    if word in MALE_NAMES:
        return "male"
    return None


class _Person:
    __slots__ = ("first", "last", "gender", "titles", "surfaces", "count", "titled_full")

    def __init__(self, first, last, gender):
        self.first, self.last, self.gender = first, last, gender
        self.titles: set = set()
        self.surfaces: list[str] = []
        self.count = 0
        self.titled_full = False

    def add(self, surface, count, title):
        self.surfaces.append(surface)
        self.count += count
        if title:
            self.titles.add(title)


def _compatible(p: _Person, gender: str | None) -> bool:
    return gender is None or p.gender is None or p.gender == gender


def cluster(forms: dict[str, int], votes: dict[str, tuple[int, int]],
            old: dict[str, str], taken: set[str] = frozenset()
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

    Returns
    -------
    (dict, dict)
        Surface -> character_id, and character_id -> ``{"name", "gender"}``.
    """
    order = sorted(forms, key=lambda s: (-forms[s], s))
    parsed = {s: parse_surface(s) for s in order}
    persons: list[_Person] = []
    full: dict[tuple, _Person] = {}
    owner: dict[str, _Person] = {}
    # 1. full names (two or more words)
    for s in order:
        title, words, definite = parsed[s]
        if definite or len(words) < 2:
            continue
        g = _gender_of_title(title) or _given_gender(words[0])
        key = (words[0], words[-1])
        p = full.get(key)
        if p is None or not _compatible(p, g):
            p = _Person(words[0], words[-1], g)
            persons.append(p)
            full.setdefault(key, p)
        p.gender = p.gender or g
        p.add(s, forms[s], title)
        p.titled_full = p.titled_full or bool(title)
        owner[s] = p
    by_first: dict[str, list[_Person]] = {}
    for p in persons:
        by_first.setdefault(p.first, []).append(p)
    titled_surname: dict[tuple, _Person] = {}
    # 2. title + one word
    for s in order:
        title, words, definite = parsed[s]
        if definite or not title or len(words) != 1:
            continue
        w, g = words[0], _gender_of_title(title)
        cands = [p for p in by_first.get(w, []) if _compatible(p, g)]
        for formal in NICKNAMES.get(w, ()):
            cands += [p for p in by_first.get(formal, []) if _compatible(p, g)]
        if cands and (title in FIRST_NAME_TITLES or (title == "Miss" and not any(
                p.last == w for p in persons))):
            p = max(cands, key=lambda p: p.count)
        else:
            key = (title, w)
            p = titled_surname.get(key)
            if p is None:
                same = [q for q in persons if q.last == w and q.first is not None
                        and _compatible(q, g) and title in ("Mr", "Miss")]
                if title == "Miss":
                    same = [q for q in same if q.gender == "female" and q.titles <= {"Miss"}]
                else:
                    same = [q for q in same if not q.titled_full and not q.titles]
                if len(same) == 1:
                    p = same[0]
                else:
                    p = _Person(None, w, g)
                    persons.append(p)
                titled_surname[key] = p
        p.gender = p.gender or g
        p.add(s, forms[s], title)
        owner[s] = p
    # 3. bare single words and "the X" (formal given names before nicknames)
    for s in sorted(order, key=lambda s: (s in NICKNAMES, -forms[s], s)):
        title, words, definite = parsed[s]
        if s in owner:
            continue
        if definite:
            p = _Person(None, None, None)
            persons.append(p)
        else:
            w = words[0]
            cands = list(by_first.get(w, []))
            for formal in NICKNAMES.get(w, ()):
                cands += by_first.get(formal, [])
            sur = [p for p in persons if p.last == w]
            male = [p for p in sur if "Mr" in p.titles or (p.first is None and p.gender == "male")]
            cands += male or sur
            if cands:
                p = max(cands, key=lambda p: p.count)
            else:
                p = _Person(w, None, _given_gender(w))
                persons.append(p)
                by_first.setdefault(w, []).append(p)
        p.add(s, forms[s], title)
        owner[s] = p
    # 4. names, genders and ids
    persons = [p for p in persons if p.surfaces]
    persons.sort(key=lambda p: -p.count)
    used = set(taken)
    claimed: dict[str, _Person] = {}
    for p in persons:
        weights = Counter()
        for s in p.surfaces:
            if s in old:
                weights[old[s]] += forms[s]
        for cid, _ in weights.most_common():
            if cid not in claimed:
                claimed[cid] = p
                break
    surf_map: dict[str, str] = {}
    info: dict[str, dict] = {}
    used |= set(claimed)
    pid = {id(p): cid for cid, p in claimed.items()}
    for p in persons:
        multi = [s for s in p.surfaces if len(parsed[s][1]) >= 2]
        if multi:
            name = max(multi, key=lambda s: (forms[s], -len(s), s))
        else:
            name = max(p.surfaces, key=lambda s: (forms[s] * (3 if parsed[s][0] else 1), s))
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
