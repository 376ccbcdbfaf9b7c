"""Story: dialogue, characters, facts, schema, append, save/load, datasets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.eval.labelled import dataset_story, evaluate
from shimmy_lab.story import Story, read_text, schema

PP = '''CHAPTER I

Mr. Bennet was among the earliest of those who waited on Mr. Bingley.

"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is let at last?"

Mr. Bennet replied that he had not.

"Do you not want to know who has taken it?" cried Mrs. Bennet impatiently.

"You want to tell me, and I have no objection to hearing it."

"Why, my dear, you must know that Netherfield is taken by a young man."

"What is his name?"

"Bingley."

CHAPTER II

Miss Elizabeth Bennet was the second daughter. Elizabeth laughed at Mr. Bennet.

"Lizzy," said Jane, "you are too hard."

"Eliza, come here," said Mrs. Bennet. Lizzy smiled. Kitty's eyes were green.
Mr. Collins, who was forty years old, bowed to Kitty.

"Nonsense, Kitty," said Elizabeth. In October they went to London and to Meryton.
Mr. Bennet lived at Longbourn. Kitty came too, and Kitty sat with Elizabeth at Meryton.
'''


@pytest.fixture(scope="module")
def pp() -> Story:
    return Story.from_text(PP, title="PP")


@pytest.fixture(scope="module")
def emma_story() -> Story:
    return dataset_story("austen-emma")


def test_every_table_matches_schema(pp, emma_story):
    for s in (pp, emma_story):
        s.validate()
        for name in schema.TABLES:
            assert name in s.tables
            assert len(s.tables[name]) > 0, name
    d = schema.describe()
    assert set(d["table"]) == set(schema.TABLES)
    assert d["meaning"].str.len().min() > 5


def test_aliases_merge_and_titles_split(pp):
    lizzy = pp.character("Lizzy")
    assert lizzy is not None
    assert pp.character("Elizabeth") == lizzy == pp.character("Eliza")
    assert pp.character("Miss Elizabeth Bennet") == lizzy
    mr, mrs = pp.character("Mr. Bennet"), pp.character("Mrs. Bennet")
    assert mr and mrs and len({mr, mrs, lizzy}) == 3
    ch = pp.characters.set_index("character_id")
    assert ch.loc[mr, "gender"] == "male" and ch.loc[lizzy, "gender"] == "female"
    for place in ("Meryton", "London", "October", "Longbourn", "Netherfield Park"):
        assert pp.character(place) is None, place


def test_quotes_and_speakers(pp):
    q = pp.quotes
    first = q.iloc[0]
    assert pp.text[first.start:first.end] == '"My dear Mr. Bennet,"'
    assert first.addressee == pp.character("Mr Bennet")
    by = dict(zip(q["text"].str.strip(), q["speaker"]))
    assert by["Do you not want to know who has taken it?"] == pp.character("Mrs Bennet")
    assert by["Lizzy,"] == pp.character("Jane")
    assert by["you are too hard."] == pp.character("Jane")
    assert by["Nonsense, Kitty,"] == pp.character("Elizabeth")
    # untagged two-person exchange: turn-taking
    assert by["You want to tell me, and I have no objection to hearing it."] == pp.character("Mr Bennet")
    assert by["What is his name?"] == pp.character("Mr Bennet")
    assert by["Bingley."] == pp.character("Mrs Bennet")
    assert ((q["confidence"] > 0) == q["speaker"].notna()).all()


def test_curly_single_and_multiparagraph_quotes():
    s = Story.from_text("\u201cHello,\u201d said Anna. \u201cBye.\u201d\n\n"
                        "\"First part of a long speech\n\n\"and its second part,\" said Anna.\n")
    q = s.quotes
    assert list(q["text"].str.strip()) == ["Hello,", "Bye.",
                                           "First part of a long speech\n\n\"and its second part,"]
    assert list(q["n_paragraphs"]) == [1, 1, 2]
    a = Story.from_text("'I can't,' said Alice, 'it's the Queen's.'\n\n'Why?' said Alice.\n")
    assert list(a.quotes["text"]) == ["I can't,", "it's the Queen's.", "Why?"]


def test_a_closing_mark_whose_opening_was_lost_opens_nothing():
    # a speech broken by verse: its last paragraph has a closing mark but no opening one
    s = Story.from_text('"I remember the verse," said Mr. Woodhouse. "It goes:\n\n'
                        "    Kitty, a fair but frozen maid,\n    Kindled a flame I yet deplore.\n\n"
                        'And that is all I can recollect of it. You said you had got it."\n\n'
                        '"Yes, papa, it is written out in our second page," said Emma.\n\n'
                        '"Then read it to me," said Mr. Woodhouse.\n')
    texts = list(s.quotes["text"].str.strip())
    assert texts[-2:] == ["Yes, papa, it is written out in our second page,", "Then read it to me,"]
    by = dict(zip(texts, s.quotes["speaker"]))
    assert by["Yes, papa, it is written out in our second page,"] == s.character("Emma")
    assert by["Then read it to me,"] == s.character("Mr. Woodhouse")
    assert not any(t.startswith('"') or t.endswith('"') for t in texts)


def test_facts_injected(pp):
    f = pp.facts
    kitty, collins = pp.character("Kitty"), pp.character("Mr. Collins")
    eye = f[(f["subject"] == kitty) & (f["attribute"] == "eye_colour")].iloc[0]
    assert eye.value == "green" and pp.text[eye.start:eye.end] == "Kitty's eyes were green"
    age = f[(f["subject"] == collins) & (f["attribute"] == "age")].iloc[0]
    assert age.value == "40" and pp.text[age.start:age.end].startswith("Mr. Collins, who was forty")
    assert age.chapter == 2
    res = f[f["attribute"] == "residence"]
    assert list(res["value"]) == ["Longbourn"]


def test_death_sets_status():
    s = Story.from_text('"Hello," said Tom Brown.\n\n"Hi," said Mary Green.\n\n'
                        'Tom Brown died in the night. Mary Green wept.\n')
    st = s.characters.set_index("name")["status"]
    assert st["Tom Brown"] == "dead" and st["Mary Green"] == "alive"


def test_append_is_incremental_and_consistent(pp):
    cut = PP.index("CHAPTER II")
    s = Story.from_text(PP[:cut])
    s.append(PP[cut:])
    s.validate()
    for name in ("chapters", "paragraphs", "sentences", "quotes", "facts"):
        a, b = s.tables[name], pp.tables[name]
        assert a[["start", "end"]].equals(b[["start", "end"]]), name
    assert set(s.characters["character_id"]) == set(pp.characters["character_id"])
    # mid-paragraph append: the open paragraph is re-read
    t = Story.from_text('"Come in," said Tom')
    t.append(' Brown. "Sit down."\n\nTom Brown sat.\n')
    assert list(t.quotes["text"]) == ["Come in,", "Sit down."]
    assert len(t.paragraphs) == 2


def test_save_load_roundtrip(tmp_path, pp):
    pp.save(tmp_path / "s")
    pp.save(tmp_path / "s")  # overwrite keeps one version
    back = Story.load(tmp_path / "s")
    assert back == pp
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(back.tables[name], pp.tables[name])
    assert len([p for p in (tmp_path / "s").iterdir() if p.name.startswith("v-")]) == 1


def test_load_rejects_other_versions(tmp_path, pp):
    v = pp.save(tmp_path / "s")
    m = json.loads((v / "manifest.json").read_text())
    m["schema_version"] = 99
    (v / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="schema version 99"):
        Story.load(tmp_path / "s")
    m["schema_version"] = 0
    (v / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="no migration"):
        Story.load(tmp_path / "s")


def test_save_is_atomic_when_killed(tmp_path, pp):
    target = tmp_path / "s"
    pp.save(target)
    code = (
        "import sys, time, pandas as pd\n"
        "from shimmy_lab.story import Story\n"
        "orig = pd.DataFrame.to_parquet\n"
        "def slow(self, *a, **k):\n"
        "    orig(self, *a, **k); print('writing', flush=True); time.sleep(0.5)\n"
        "pd.DataFrame.to_parquet = slow\n"
        "s = Story.from_text('A new story. \"Hi,\" said Tom.')\n"
        f"s.save({str(target)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert Story.load(target) == pp
    pp.save(target)  # a later save cleans up the crashed temp folder
    assert not [p for p in target.iterdir() if p.name.startswith(".tmp")]


def test_read_text_strips_gutenberg(tmp_path):
    body = "CHAPTER I\n\n\"Hi,\" said Tom Brown.\n"
    raw = ("The Project Gutenberg EBook of X\r\n\r\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\n\r\n"
           + body.replace("\n", "\r\n") + "\r\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\r\nlicence text\r\n")
    p = tmp_path / "x.txt"
    p.write_bytes(raw.encode("utf-8"))
    s = read_text(p)
    assert s.text == body
    assert s.title == "x"
    assert s.quotes.loc[0, "speaker"] == s.character("Tom Brown")


def test_repr_html(pp):
    h = pp._repr_html_()
    assert "<table>" in h and "Mr Bennet" in h
    assert "quotes" in repr(pp)


def test_datasets():
    df = sl.datasets.list()
    assert len(df) >= 5
    assert {"name", "title", "author", "source", "licence", "sha256", "words"} <= set(df.columns)
    assert sl.datasets.verify()["ok"].all()
    assert sl.datasets.load("carroll-alice").startswith("[Alice's Adventures in Wonderland")
    assert sl.datasets.path("austen-emma").exists()
    with pytest.raises(KeyError, match="known datasets"):
        sl.datasets.load("nope")


def test_evaluation_figures():
    r = evaluate(Path(__file__).parent / "data" / "story_eval.json")
    q = r["quotes"]
    assert (q["recall"] >= 0.95).all() and (q["precision"] >= 0.95).all()
    acc = q["speaker_correct"].sum() / q["speaker_n"].sum()
    assert acc >= 0.85
    assert r["characters"]["recall"].min() >= 0.5
    assert r["facts"].loc[0, "recall"] >= 0.8 and r["facts"].loc[0, "precision"] >= 0.8


def test_text_ending_in_a_sentence_opener_and_all_datasets_read():
    Story.from_text("Hello there. The").validate()
    for name in ("bryant-stories", "chesterton-brown"):
        s = dataset_story(name)
        s.validate()
        assert len(s.chapters) > 10 and len(s.quotes) > 500


def test_a_term_quoted_inside_a_sentence_is_no_speech():
    text = ('He had always held the word "jolly" to be vulgar, and he walked to the '
            '"Three Bells" without a word.\n\n"Stop thief!" they shouted, and ran.\n\n'
            'She said nothing but "never mind" and left.\n')
    story = sl.Story.from_text(text)
    assert story.quotes["text"].str.strip(" ,.!").tolist() == ["Stop thief", "never mind"]


def test_a_short_name_goes_to_the_full_name_that_uses_it():
    text = ("Thomas Gradwell was a stern man. Tom Gradwell was his son.\n\n"
            '"I shall go out," said Tom.\n\n"You will not," said Thomas Gradwell.\n\n'
            '"But I must," said Tom.\n')
    story = sl.Story.from_text(text)
    assert story.character("Tom") == story.character("Tom Gradwell") != story.character("Thomas Gradwell")


def test_a_titled_surname_joins_the_full_name_unless_named_together():
    one = ("Mr. Toby Crackit came in from the rain.\n\n"
           '"Wet night," said Mr. Crackit, and sat down.\n\n'
           '"It is," said Nancy.\n\n"Wetter yet," said Mr. Crackit.\n')
    story = sl.Story.from_text(one)
    assert story.character("Mr. Crackit") == story.character("Mr. Toby Crackit")
    two = ("Mr. Knightley and Mr. John Knightley walked in together.\n\n"
           '"Good day," said Mr. Knightley.\n\n'
           "Mr. John Knightley nodded to Mr. Knightley and sat down.\n\n"
           '"Cold," said Mr. John Knightley.\n')
    story = sl.Story.from_text(two)
    assert story.character("Mr. Knightley") != story.character("Mr. John Knightley")
