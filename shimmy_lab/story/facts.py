"""Facts: attribute assertions about characters, found by patterns.

Each pattern names a subject (a character name, resolved to a ``character_id``) and
a value; the row keeps the span of the whole assertion.  Attributes: ``eye_colour``,
``hair_colour``, ``age``, ``occupation``, ``residence``, relations (``sister_of``,
``brother_of``, ``married_to``, ``daughter_of``, ``son_of``, ``father_of``,
``mother_of``, ``niece_of``, ``nephew_of``, ``cousin_of``, ``aunt_of``, ``uncle_of``)
and ``death`` (read by :mod:`shimmy_lab.story.deaths`).  The patterns are deliberately
literal: they are precise on the phrasings they know ("Kitty's eyes were green", "Mr.
Collins, who was forty years old", "Jane, Elizabeth's sister") and silent otherwise.
"""

from __future__ import annotations

import bisect
import re
from typing import Callable, Collection

from .attributes import _TEENS, _TENS, _UNITS, age_value
from .characters import _TITLE_ALT
from .deaths import death_facts
from .lexicon import NOT_NAMES

__all__ = ["extract_facts", "PATTERNS", "number_value"]

EYE = r"blue|grey|gray|green|brown|hazel|black|dark|violet|amber"
HAIR = (r"black|brown|fair|golden|red|auburn|chestnut|flaxen|white|grey|gray|silver|sandy|"
        r"dark|light|yellow|blond|blonde|gold-red|ginger|raven")
NUM = (rf"(?:(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(_UNITS)}))?|{'|'.join(_TEENS)}"
       rf"|{'|'.join(_UNITS)}|\d{{1,3}})")
OCC = ("apothecary|surgeon|physician|doctor|lawyer|attorney|solicitor|clergyman|vicar|curate|"
       "rector|parson|priest|farmer|merchant|banker|governess|teacher|schoolmaster|"
       "schoolmistress|soldier|sailor|officer|admiral|servant|butler|housekeeper|maid|nurse|"
       "poet|painter|artist|writer|detective|policeman|inspector|professor|philosopher|"
       "anarchist|criminologist|clerk|shopkeeper|baker|butcher|carpenter|blacksmith|miller|"
       "shepherd|judge|magistrate|tailor|gardener|coachman|footman|steward|tutor|scholar|"
       "musician|actor|actress|architect|engineer|journalist|editor|novelist|baronet|"
       "woodcutter|fisherman|hunter|king|queen|prince|princess|widow|spinster|bachelor")
REL = ("sister|brother|daughter|son|wife|husband|father|mother|niece|nephew|cousin|aunt|"
       "uncle")
# a name never runs across a paragraph break ("...began the Professor.\n\nSyme's eyes")
_SP = r"(?:[\x20\t]+(?:\n[\x20\t]*)?|\n[\x20\t]*)"  # no literal space: _p rewrites those
_N = rf"(?:(?:{_TITLE_ALT})\.?{_SP})?[A-Z][a-z]+(?:{_SP}[A-Z][a-z]+){{0,2}}"
_PLACE = r"(?:the\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2}"


def _p(pat: str) -> re.Pattern:
    """Compile with spaces meaning any whitespace and {N}/{M} name groups."""
    pat = pat.replace("{N}", f"(?P<n>{_N})").replace("{M}", f"(?P<m>{_N})")
    return re.compile(pat.replace(" ", r"\s+"))


#: (name, attribute or None when the 'rel' group names it, compiled regex)
PATTERNS: list[tuple[str, str | None, re.Pattern]] = [
    ("eyes_were", "eye_colour", _p(rf"{{N}}'s eyes,? (?:(?:which|that) )?(?:were|are) (?:(?:of )?(?:a|an|the) )?"
                                   rf"(?:[a-z]+ ){{0,2}}?(?P<v>{EYE})\b")),
    ("had_eyes", "eye_colour", _p(rf"{{N}},? (?:had|has) (?:a pair of )?(?:[a-z]+,? ){{0,2}}?"
                                  rf"(?P<v>{EYE}) eyes\b")),
    ("poss_eyes", "eye_colour", _p(rf"{{N}}'s (?:[a-z]+,? ){{0,2}}?(?P<v>{EYE}) eyes\b")),
    ("x_eyed", "eye_colour", _p(rf"\b(?P<v>{EYE})-eyed {{N}}")),
    ("with_eyes", "eye_colour", _p(rf"{{N}}, (?:with|whose) (?:his |her )?(?:[a-z]+ )?"
                                   rf"(?P<v>{EYE}) eyes\b")),
    ("hair_was", "hair_colour", _p(rf"{{N}}'s hair,? (?:(?:which|that) )?(?:was|is) (?:(?:of )?(?:a|an|the) )?"
                                   rf"(?:[a-z]+ ){{0,2}}?(?P<v>{HAIR})\b")),
    ("had_hair", "hair_colour", _p(rf"{{N}},? (?:had|has) (?:[a-z]+,? ){{0,2}}?(?P<v>{HAIR}) hair\b")),
    ("poss_hair", "hair_colour", _p(rf"{{N}}'s (?:[a-z]+,? ){{0,2}}?(?P<v>{HAIR}) hair\b")),
    ("x_haired", "hair_colour", _p(rf"\b(?P<v>{HAIR})-haired {{N}}")),
    ("with_hair", "hair_colour", _p(rf"{{N}}, (?:with|whose) (?:his |her )?(?:[a-z]+ )?"
                                    rf"(?P<v>{HAIR}) hair\b")),
    ("years_old", "age", _p(rf"{{N}},? (?:who (?:was|is)|was|is|being|now|then) "
                            rf"(?:(?:just|only|nearly|almost|about|full|barely|past|scarcely|"
                            rf"now|then|not yet) ){{0,2}}(?P<v>{NUM}) (?:years? (?:of age|old)|years\b)")),
    ("of_age", "age", _p(rf"{{N}}, (?:a|an) (?:[a-z]+ )?(?:man|woman|girl|boy|lady|gentleman|"
                         rf"child|youth|maid) of (?:about )?(?P<v>{NUM})\b")),
    ("aged", "age", _p(rf"{{N}},? aged (?P<v>{NUM})\b")),
    ("year_old", "age", _p(rf"\b(?P<v>{NUM})-year-old {{N}}")),
    ("was_occ", "occupation", _p(rf"{{N}},? (?:was|is|became|had been) (?:a|an|the) "
                                 rf"(?:[a-z]+ )?(?P<v>{OCC})\b(?! of)")),
    ("appos_occ", "occupation", _p(rf"{{N}}, (?:a|an|the) (?:[a-z]+ )?(?P<v>{OCC})\b[,.;]")),
    ("lived_at", "residence", _p(rf"{{N}},? (?:lived|lives|resided|resides|dwelt|was living|"
                                 rf"settled) (?:at|in) (?P<v>{_PLACE})")),
    ("name_of", "residence", _p(rf"{{N}}, of (?P<v>[A-Z][a-z]+(?: (?:Hall|Park|Abbey|Lodge|"
                                rf"House|Place|Farm|Cottage|Manor|Street|Square|Court|Castle|"
                                rf"Grange|Mill|Vicarage))?),")),
    ("rel_of", None, _p(rf"{{N}},? (?:was|is|being|had been) (?:the )?(?:[a-z]+ )?"
                        rf"(?P<rel>{REL}) of {{M}}")),
    ("appos_rel", None, _p(rf"{{N}}, {{M}}'s (?:[a-z]+ )?(?P<rel>{REL})\b")),
    ("poss_rel", None, _p(rf"{{M}}'s (?:[a-z]+ )?(?P<rel>{REL}),? {{N}}\b")),
    ("married", "married_to", _p(rf"{{N}},? (?:was |had been |is |had )?(?:married to|married) {{M}}")),
]
_REL_ATTR = {"wife": "married_to", "husband": "married_to"}


def number_value(v: str) -> str:
    """Normalise an age written in words ('forty-two') to digits ('42')."""
    n = age_value(v)
    return str(n) if n else v.lower()


def _clean(name: str) -> str:
    words = name.replace(".", " ").split()
    while words and words[0] in NOT_NAMES and not (len(words) > 1 and words[0] in ("Mr", "Mrs", "Miss", "Sir", "Lady", "Dr")):
        words = words[1:]
    return " ".join(words)


def extract_facts(text: str, start: int, end: int, resolve: Callable[[str], str | None],
                  chapter_starts: list[int], chapter_ids: list[int],
                  gender: Callable[[str], str | None] | None = None,
                  former: Collection[str] = ()) -> list[dict]:
    """Find facts in ``text[start:end]``; names are resolved with ``resolve``.

    Deaths come from :func:`shimmy_lab.story.deaths.death_facts` (``gender`` maps a
    character_id to 'male' / 'female' to resolve "he died" to a character; ``former``:
    name forms given up at a change of name, whose "the late X" is no death)."""
    out: list[dict] = []
    seen: set[tuple] = set()
    for pname, attr, rx in PATTERNS:
        for m in rx.finditer(text, start, end):
            subj = resolve(_clean(m.group("n")))
            if subj is None:
                continue
            gd = m.groupdict()
            value_id = None
            if gd.get("m") is not None:
                value_id = resolve(_clean(gd["m"]))
                if value_id is None or value_id == subj:
                    continue
                value = value_id
            else:
                value = gd["v"].lower() if attr != "residence" else " ".join(gd["v"].split())
                if attr == "age":
                    value = number_value(value)
            a = attr or _REL_ATTR.get(gd["rel"], gd["rel"] + "_of")
            ci = bisect.bisect_right(chapter_starts, m.start()) - 1
            row = {"subject": subj, "attribute": a, "value": value, "value_id": value_id,
                   "start": m.start(), "end": m.end(),
                   "chapter": chapter_ids[ci] if ci >= 0 else 0, "pattern": pname}
            key = (subj, a, value, m.start())
            if key not in seen:
                seen.add(key)
                out.append(row)
            if a == "married_to" and value_id:
                rkey = (value_id, a, subj, m.start())
                if rkey not in seen:
                    seen.add(rkey)
                    out.append({**row, "subject": value_id, "value": subj, "value_id": subj})
    out += death_facts(text, start, end, resolve, chapter_starts, chapter_ids, gender, former)
    out.sort(key=lambda r: (r["start"], r["subject"], r["attribute"]))
    return out
