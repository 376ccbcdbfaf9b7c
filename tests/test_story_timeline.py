"""The ``timeline`` table: one row per character and scene, counts checked by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.story import Story, schema
from shimmy_lab.story.timeline import timeline_table

# Two chapters; chapter II has three scenes. Tom dies in scene 3 and speaks in a dream in scene 4.
TEXT = '''CHAPTER I

Anna Grey walked to the quarry with Tom Reed. Anna carried the lamp.

"The rope is frayed," said Anna.

"It will hold, Anna," said Tom.

Mary Hale watched them from the gate. "Has Tom died down there?" cried Mary.

CHAPTER II

"Where has Tom gone?" asked Mary.

"To the quarry again, Mary," said Anna.

* * *

Tom Reed died in the winter. Anna wept for Tom.

"He was a kind man," said Mary.

* * *

That spring Anna dreamed of the quarry.

"Mind the rope," said Tom.
'''

NA = None
# character_id, chapter, scene, mentions, quotes, addressed, status (counted by hand)
EXPECTED = [
    ("anna_grey", 1, 1, 4, 1, 1, NA),   # Anna Grey, Anna carried, said Anna, "hold, Anna"
    ("mary_hale", 1, 1, 2, 1, 0, NA),   # Mary Hale, cried Mary
    ("tom_reed", 1, 1, 3, 1, 2, NA),    # Tom Reed, said Tom, "Has Tom died" (a question: no death)
    ("anna_grey", 2, 2, 1, 1, 1, NA),
    ("mary_hale", 2, 2, 2, 1, 1, NA),   # asked Mary, "again, Mary"
    ("tom_reed", 2, 2, 1, 0, 0, NA),    # "Where has Tom gone?"
    ("anna_grey", 2, 3, 1, 0, 0, NA),
    ("mary_hale", 2, 3, 1, 1, 0, NA),
    ("tom_reed", 2, 3, 2, 0, 0, "dies"),  # Tom Reed died, wept for Tom
    ("anna_grey", 2, 4, 1, 0, 0, NA),
    ("tom_reed", 2, 4, 1, 1, 0, "dead"),  # a dead character who speaks
]
COLS = ["character_id", "chapter", "scene", "mentions", "quotes", "addressed", "status"]


@pytest.fixture(scope="module")
def story() -> Story:
    return Story.from_text(TEXT, title="Quarry")


def _rows(tl: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in r)
            for r in tl[COLS].astype(object).itertuples(index=False)]


def test_counts_by_hand(story):
    tl = story.timeline
    schema.validate("timeline", tl, story.text)
    assert _rows(tl) == EXPECTED
    sc = story.scenes.set_index("scene")
    for r in tl.itertuples():  # start/end is the scene's span
        assert (r.start, r.end) == (sc.loc[r.scene, "start"], sc.loc[r.scene, "end"])


def test_totals_match_the_other_tables(story):
    tl = story.timeline
    per = tl.groupby("character_id")[["mentions", "quotes"]].sum()
    ch = story.characters.set_index("character_id")
    assert (per["mentions"] == ch.loc[per.index, "mentions"]).all()
    assert (per["quotes"] == ch.loc[per.index, "quotes"]).all()
    assert tl["addressed"].sum() == story.quotes["addressee"].notna().sum() == 5
    dead = set(ch.index[ch["status"] == "dead"])
    assert set(tl.loc[tl["status"] == "dies", "character_id"]) == dead == {"tom_reed"}
    by_chapter = tl.groupby(["character_id", "chapter"])["mentions"].sum()
    assert by_chapter[("tom_reed", 1)] == 3 and by_chapter[("tom_reed", 2)] == 4


def test_death_in_dialogue_counts_only_when_told(story):
    """A death asked about in a quote does not count; without the text, every death fact does."""
    tables = dict(story.tables)
    s = story.text.index("Tom died down")
    asked = {"subject": "tom_reed", "attribute": "death", "value": "dead", "start": s,
             "end": s + len("Tom died"), "chapter": 1, "pattern": "died"}
    tables["facts"] = schema.coerce("facts", pd.concat(
        [story.facts, schema.coerce("facts", [asked])], ignore_index=True))
    told = timeline_table(tables, story.text)
    assert _rows(told) == EXPECTED
    every = timeline_table(tables).set_index(["character_id", "scene"])["status"]
    assert every[("tom_reed", 1)] == "dies" and every[("tom_reed", 3)] == "dead"


def test_append_gives_the_same_timeline(story):
    for marker in ("CHAPTER II", "* * *\n\nThat spring", "Tom Reed died"):
        cut = TEXT.index(marker)
        s = Story.from_text(TEXT[:cut], title="Quarry")
        assert len(s.timeline)
        s.append(TEXT[cut:])
        pd.testing.assert_frame_equal(s.timeline, story.timeline)


def test_empty_and_unanalysed():
    assert len(Story.from_text("").timeline) == 0
    assert list(Story.from_text("No one here.").timeline.columns) == [
        c.name for c in schema.columns("timeline")]
    tables = {n: schema.empty(n) for n in schema.TABLES}
    assert timeline_table(tables).equals(schema.empty("timeline"))


def test_speaker_never_named_has_a_row():
    """An unnamed first-person narrator speaks but is never named: mentions 0."""
    s = Story.from_text('"Good morning, Mr. Hart," I said.\n\n"Morning," said Mr. Hart. '
                        '"You are early."\n\n"I could not sleep," I said. I looked at the sea.\n\n'
                        'I walked home alone. I had my breakfast. I was tired. I slept.\n')
    assert _rows(s.timeline) == [("mr_hart", 0, 1, 2, 2, 2, NA), ("narrator", 0, 1, 0, 2, 2, NA)]


def test_old_saved_story_rebuilds_the_timeline(tmp_path, story):
    v = story.save(tmp_path / "s")
    assert Story.load(tmp_path / "s") == story
    # a story saved before the timeline table existed: no file, not in the manifest
    m = json.loads((v / "manifest.json").read_text())
    del m["tables"]["timeline"]
    (v / "manifest.json").write_text(json.dumps(m))
    (v / "timeline.parquet").unlink()
    back = Story.load(tmp_path / "s")
    pd.testing.assert_frame_equal(back.timeline, story.timeline)
    assert back == story


def test_plot_draws_from_the_timeline(story):
    pytest.importorskip("plotly")
    fig = sl.pl.character_timeline(story, by="scene")
    heat = next(t for t in fig.data if t.name == "mentions")
    names = list(heat.y)
    tom, anna = names.index("Tom Reed"), names.index("Anna Grey")
    assert [list(r) for r in heat.z][tom] == [3, 1, 2, 1]
    assert "1 quotes spoken · 0 addressed" in heat.text[tom][3]
    assert "4 mentions · 1 quotes spoken · 1 addressed" in heat.text[anna][0]
    death = next(t for t in fig.data if t.name == "death")
    assert list(death.x) == ["sc3"] and list(death.y) == ["Tom Reed"]
    assert "Tom Reed died" in death.hovertext[0]
    chap = sl.pl.character_timeline(story)
    heat = next(t for t in chap.data if t.name == "mentions")
    assert list(heat.x) == ["ch1", "ch2"] and [list(r) for r in heat.z][tom] == [3, 4]
    assert list(next(t for t in chap.data if t.name == "death").x) == ["ch2"]


def test_on_a_novel():
    emma = sl.datasets.load("austen-emma")
    s = Story.from_text(emma[: len(emma) // 4])
    tl = timeline_table(s.tables, s.text)
    assert tl["mentions"].sum() == len(s.mentions)
    assert tl["quotes"].sum() == s.quotes["speaker"].notna().sum()
