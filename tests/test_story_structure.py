"""Structure detection: chapters, scenes, paragraphs, sentences."""

from __future__ import annotations

import pytest

from shimmy_lab.story import Story
from shimmy_lab.eval.labelled import dataset_story
from shimmy_lab.story.segment import parse_numeral, split_sentences


@pytest.fixture(scope="module")
def emma_story() -> Story:
    return dataset_story("austen-emma")


def test_parse_numeral():
    assert parse_numeral("XIV") == 14
    assert parse_numeral("12") == 12
    assert parse_numeral("three") == 3
    assert parse_numeral("MCMIV") == 1904
    assert parse_numeral("Q") is None


def test_roman_and_arabic_chapters_with_parts():
    text = ("Preface words here.\n\nBOOK I\n\nCHAPTER I\n\nOne. Two.\n\nCHAPTER II. The Storm\n\n"
            "Rain fell.\n\nBOOK II\n\nChapter 12\n\nLast words.\n")
    s = Story.from_text(text)
    ch = s.chapters
    assert list(ch["chapter"]) == [0, 1, 2, 3]
    assert list(ch["number"].fillna(-1)) == [-1, 1, 2, 12]
    assert ch.loc[2, "title"] == "The Storm"
    assert list(ch["part"].fillna("")) == ["", "BOOK I", "BOOK I", "BOOK II"]
    for r in ch.itertuples():
        assert s.text[r.start:r.end].strip()
    assert s.text[ch.loc[3, "start"]:ch.loc[3, "body_start"]] == "Chapter 12"
    assert ch["end"].iloc[-1] == len(s.text)


def test_book_only_headings_are_chapters():
    s = Story.from_text("BOOK I\n\nAlpha.\n\nBOOK II\n\nBeta.\n")
    assert list(s.chapters["label"]) == ["BOOK I", "BOOK II"]


def test_no_headings_is_one_chapter():
    s = Story.from_text("Just a text.\n\nWith two paragraphs.\n")
    assert len(s.chapters) == 1
    assert s.chapters.loc[0, "chapter"] == 0
    assert len(s.paragraphs) == 2


def test_scenes_split_on_asterisks_and_blank_runs():
    text = "CHAPTER I\n\nA.\n\n* * *\n\nB.\n\n\n\n\nC.\n"
    s = Story.from_text(text)
    assert list(s.scenes["break_kind"]) == ["chapter", "asterisks", "blank"]
    assert s.text[s.scenes.loc[2, "start"]:s.scenes.loc[2, "end"]].strip() == "C."
    assert set(s.paragraphs["kind"]) == {"heading", "text", "break"}


def test_sentences_keep_abbreviations_and_quotes():
    text = ('Mr. Bennet went to St. Paul\'s with Dr. Jones and G. K. Chesterton. '
            '"Is it?" said she. "Yes!" He left. Mrs. Long stayed.')
    spans = split_sentences(text, 0, len(text))
    got = [text[a:b] for a, b in spans]
    assert got == [
        "Mr. Bennet went to St. Paul's with Dr. Jones and G. K. Chesterton.",
        '"Is it?" said she.',
        '"Yes!"',
        "He left.",
        "Mrs. Long stayed.",
    ]


def test_paragraph_offsets_are_exact(emma_story):
    s = emma_story
    p = s.paragraphs
    first = p[p["kind"] == "text"].iloc[1]
    assert s.text[first.start:first.end].startswith("Emma Woodhouse, handsome, clever, and rich")
    assert s.text[first.start:first.end].endswith("vex her.")
    assert len(s.chapters) == 56  # front matter + 55 chapters of three volumes
    assert s.chapters["part"].iloc[-1] == "VOLUME III"
    assert s.chapters.loc[1, "label"] == "CHAPTER I"
