"""Attribute statements (shimmy_lab.story.attributes) and the contradictions built on them."""

from __future__ import annotations

import pytest

import shimmy_lab as sl
from shimmy_lab.story.attributes import age_interval, age_value, find_statements
from shimmy_lab.trackers.characters import _compatible, characters, contradiction_row

PEOPLE = {"Walter Pym": ("walter", "male"), "Walter": ("walter", "male"),
          "Mr Pym": ("walter", "male"), "Agnes Lowe": ("agnes", "female"),
          "Agnes": ("agnes", "female"), "Dr Crane": ("crane", "male"), "Crane": ("crane", "male"),
          "Hugh": ("hugh", "male"), "Mary": ("mary", "female")}


def _read(text: str, quotes: list[tuple[int, int]] = ()) -> list[tuple]:
    """Statements of a small text: names found by scanning PEOPLE, one sentence per '. '."""
    import re

    mentions = []
    for surface, (cid, _) in sorted(PEOPLE.items(), key=lambda x: -len(x[0])):
        for m in re.finditer(r"\b" + re.escape(surface).replace(r"\ ", r"\s+") + r"\b", text):
            if not any(s <= m.start() < e for s, e, _ in mentions):
                mentions.append((m.start(), m.end(), cid))
    sents, start = [], 0
    for m in re.finditer(r"[.!?]\"?(?:\s+|$)", text):
        sents.append((start, m.end()))
        start = m.end()
    if start < len(text):
        sents.append((start, len(text)))
    gender = {cid: g for cid, g in PEOPLE.values()}
    rows = find_statements(text, sents, sorted(mentions), gender, list(quotes))
    return [(r["subject"], r["attribute"], r["value"]) for r in rows]


def test_ages_in_words():
    assert age_value("four-and-twenty") == 24
    assert age_value("fifty-three") == 53
    assert age_value("forty") == 40
    assert age_interval(50, "nearly") == (46, 50)
    assert age_interval(30, "not yet") == (24, 29)


def test_possessive_pronoun_and_descriptions():
    text = ("Walter Pym came down the lane. He was a tall, dark man of five-and-thirty, "
            "with grey eyes and a slow smile. Agnes Lowe waited at the gate; her hair, "
            "which was a pale gold, hung loose. Dr Crane, short and fair, stood beside her.")
    got = set(_read(text))
    assert {("walter", "height", "tall"), ("walter", "colouring", "dark"),
            ("walter", "age", "35"), ("walter", "eye_colour", "grey"),
            ("agnes", "hair_colour", "gold")} <= got
    assert ("crane", "height", "short") in got and ("crane", "colouring", "fair") in got


def test_other_peoples_eyes_are_not_the_subjects():
    text = ("Agnes Lowe looked a long while into Walter's face. She saw that his eyes were "
            "brown. A stranger came in from the yard. He had blue eyes and a red beard.")
    got = set(_read(text))
    assert ("walter", "eye_colour", "brown") in got
    assert not any(s == "agnes" and a == "eye_colour" for s, a, _ in got)
    # the stranger is nobody we know: the blue eyes belong to no character
    assert not any(v == "blue" for _, _, v in got)


def test_hypothetical_negated_and_idiom_are_skipped():
    text = ("If Walter Pym had been a man of sixty, nobody would have wondered. "
            "Agnes was not tall. Hugh was, in short, a disappointment to his mother.")
    got = _read(text)
    assert not [g for g in got if g[1] in ("age", "height")]


def test_family_statements():
    text = ("Hugh had been an only child. Mary, his sister, kept house for him. "
            "Dr Crane was a bachelor. Then he went home to his wife and their three children.")
    got = set(_read(text))
    assert ("hugh", "family", "only child") in got
    assert ("mary", "family", "siblings") in got
    assert ("crane", "family", "single") in got
    assert ("crane", "family", "children 3") in got


def test_compatible_values():
    assert _compatible("eye_colour", "dark", "brown", 0)
    assert _compatible("eye_colour", "blue", "grey", 0)
    assert not _compatible("eye_colour", "blue", "brown", 0)
    assert not _compatible("eye_colour", "blue", "green", 0)
    assert _compatible("hair_colour", "black", "grey", 5)  # hair greys
    assert not _compatible("hair_colour", "light", "brown", 0)
    assert _compatible("age", "40", "37-43", 0)
    assert not _compatible("age", "24", "42", 1)
    assert _compatible("age", "24", "27", 12)  # years pass over a novel
    assert not _compatible("age", "35", "25", 12)  # but nobody grows younger
    assert not _compatible("family", "only child", "siblings", 0)
    assert not _compatible("family", "single", "children 5", 0)
    assert _compatible("family", "single", "married", 6)  # married at the end of the book
    assert not _compatible("family", "married", "single", 6)
    assert _compatible("family", "children 4", "children 5", 5)  # a birth
    assert not _compatible("height", "tall", "short", 0)
    assert not _compatible("residence", "Kellow Hall", "Bristol", 3)
    assert _compatible("residence", "Kellow", "Kellow Hall", 3)
    assert _compatible("residence", "Kellow Hall", "now Bristol", 3)  # moved
    assert not _compatible("hair_colour", "dark colouring", "golden", 0)  # a dark man, golden hair
    assert _compatible("hair_colour", "fair colouring", "brown", 0)  # fair skin, brown hair


def test_contradiction_row_names_both_statements():
    text = "Walter had grey eyes. Much later: Walter had brown eyes."
    row = contradiction_row("walter", "eye_colour", "grey", 0, "brown", 34, 55, 1,
                            {"walter": "Walter"}, first_end=20, text=text)
    assert row["start"] == 34 and row["end"] == 55
    assert "grey" in row["message"] and "brown" in row["message"]
    assert "Walter had grey eyes" in row["message"] and "0-20" in row["message"]
    assert contradiction_row("walter", "eye_colour", "grey", 0, "grey", 34, 55, 1, {}) is None


def _story(paragraphs: list[str]) -> str:
    filler = ("Walter Pym walked to the mill with Agnes Lowe, and they talked of the harvest. "
              '"It will be a good year," said Walter. "I hope so," said Agnes.')
    return "\n\n".join([filler] * 3 + paragraphs + [filler] * 2) + "\n"


def _contradictions(text: str):
    s = characters(sl.Story.from_text(text))
    ins = s.tables["insights"]
    return s, ins[ins["kind"] == "fact_contradiction"]


def test_story_flags_the_later_statement():
    early = "Walter Pym, then a fellow of six-and-twenty, had grey eyes like his mother."
    late = "Walter leaned on the gate, and his brown eyes followed the cart down the road."
    s, hits = _contradictions(_story([early, "The day was warm.", late]))
    assert len(hits) == 1
    r = hits.iloc[0]
    assert "brown" in s.text[r.start:r.end]
    assert "grey" in r.message and "brown" in r.message


def test_story_without_conflicts_is_quiet():
    early = "Walter Pym, then a fellow of six-and-twenty, had dark eyes like his mother."
    late = ("Walter leaned on the gate, and his brown eyes followed the cart. "
            "Agnes Lowe said that he must be forty at least, and laughed at him.")
    dialogue = '"Walter is a man of fifty," said Agnes, "and his eyes are blue."'
    s, hits = _contradictions(_story([early, late, dialogue]))
    assert not len(hits)


@pytest.mark.parametrize("later", [
    "Agnes was an only child, without a brother or a sister living.",
    "Agnes Lowe was short and fair and quick on her feet.",
])
def test_story_family_and_figure(later):
    early = ("Agnes Lowe was a tall, dark woman. Her brother, Walter Pym, was the miller, "
             "and Walter was fond of his sister Agnes.")
    s, hits = _contradictions(_story([early, "The day was warm.", later]))
    assert len(hits) >= 1
    assert all(s.text.index(later[:20]) <= r.start for r in hits.itertuples())


@pytest.mark.parametrize("text,want", [
    ("Walter Pym, whose eyes were as blue as the sea, came in.", ("walter", "eye_colour", "blue")),
    ("The dark eyes of Walter Pym were on her.", ("walter", "eye_colour", "dark")),
    ("Agnes Lowe came in. Her hair--black as a raven--was loose.", ("agnes", "hair_colour", "black")),
    ("Walter Pym had a shock of red hair.", ("walter", "hair_colour", "red")),
    ("Walter Pym had a golden-brown beard.", ("walter", "beard_colour", "brown")),
    ("Then came the grey-eyed Mr Pym.", ("walter", "eye_colour", "grey")),
    ("Walter Pym came in. His eyes were grey and his hair was black.", ("walter", "hair_colour", "black")),
    ("Walter Pym was in his fiftieth year.", ("walter", "age", "49")),
    ("Hugh was in his early thirties.", ("hugh", "age", "30-33")),
    ("Agnes Lowe had just turned forty.", ("agnes", "age", "40")),
    ("Agnes Lowe was the mother of six children.", ("agnes", "family", "children 6")),
    ("Hugh had two sons and a daughter.", ("hugh", "family", "sons 2")),
    ("Walter had two brothers.", ("walter", "family", "siblings")),
    ("Walter Pym had been married for twenty years.", ("walter", "family", "married long")),
    ("Walter Pym had lived all his life in Bristol.", ("walter", "residence", "Bristol")),
    ("Walter Pym came back to his house in Bristol.", ("walter", "residence", "Bristol")),
    ("Agnes Lowe was a blonde young woman, slight and quick.", ("agnes", "hair_colour", "blonde")),
])
def test_phrasings(text, want):
    assert want in _read(text)


@pytest.mark.parametrize("text", [
    "Agnes Lowe was the mother of six children.",  # six is no age
    "Walter was not an only child.",
    "Walter was neither tall nor short.",
    "Walter came in. He looked forty.",  # an appearance, not an age
    "Walter Pym looked at the sea. The blue eyes of the sailor were on him.",
    "Walter Pym wore a tall hat and was short of breath.",
])
def test_phrasings_that_state_nothing(text):
    got = _read(text)
    assert not [g for g in got if g[1] in ("age", "height", "eye_colour")], got
    assert ("walter", "family", "only child") not in got
