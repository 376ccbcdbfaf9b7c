"""Character consistency: voices, relationships, fact contradictions, dead characters."""

from __future__ import annotations

import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.trackers import schema
from shimmy_lab.trackers.characters import characters, line_features, voice_line_score
from narrative_texts import STORY


@pytest.fixture(scope="module")
def story():
    s = sl.Story.from_text(STORY, title="mill")
    characters(s)
    return s


def _kind(s, kind):
    ins = s.tables["insights"]
    return ins[ins["kind"] == kind]


def test_fact_contradiction_at_the_later_span(story):
    hits = _kind(story, "fact_contradiction")
    assert len(hits) == 1
    r = hits.iloc[0]
    assert "green" in story.text[r.start:r.end]
    assert r.priority == "critical" and r.characters == ["Kitty Bell"]
    assert "blue" in r.message


def test_dead_character_speaks(story):
    hits = _kind(story, "dead_character_acts")
    spans = [story.text[r.start:r.end] for r in hits.itertuples()]
    assert any("Well done, sister" in s for s in spans)
    # the memory "as Mr Grey had said" is not about Tom; Tom's earlier lines are not flagged
    assert all(r.start > story.text.index("Tom died") for r in hits.itertuples())


def test_memory_cue_suppresses(story):
    text = STORY.replace('"Well done, sister," said Tom, and he sat down beside her.',
                         'She remembered how Tom smiled at her once, long ago.')
    s = characters(sl.Story.from_text(text))
    assert not len(_kind(s, "dead_character_acts"))


def test_tables_follow_schema(story):
    for name in ("voice", "relationships", "insights"):
        schema.validate(name, story.tables[name], story.text)
    rel = story.tables["relationships"]
    pair = rel[(rel["source"].isin(["kitty_bell", "tom"])) & (rel["target"].isin(["kitty_bell", "tom"]))]
    assert len(pair) == 1 and pair["copresence"].iloc[0] >= 2
    assert story.uns["params"]["characters"]["voice_threshold"] == 0.5


def test_line_features_and_voice_score():
    f = line_features("I don't know. Don't you? Well!")
    assert f["n"] == 6 and f["contr"] > 0.3 and f["q"] > 0 and f["ex"] > 0
    from collections import Counter
    story_counts = Counter("the mill river money winter kitty tom secret".split())
    near, _ = voice_line_score("the mill and the river and the money", Counter(), 0, story_counts)
    far, why = voice_line_score("quantum entanglement bewilders radiologists forever", Counter(), 0,
                                story_counts)
    assert near == 0.0 or near < far
    assert far >= 0.75 and why["novel"] == 1.0


def test_voice_on_a_novel():
    text = sl.datasets.load("austen-emma")[:250_000]
    s = characters(sl.Story.from_text(text))
    voice = s.tables["voice"].set_index("character_id")
    emma = s.character("Emma")
    assert emma in voice.index
    assert voice.loc[emma, "words"] > 1000
    assert voice["delta_nearest"].notna().all()
    # a line from another book, attributed to Emma, is flagged
    foreign = ('\n\n"The anarchist philosophers of Saffron Park denounce the policeman, the '
               'lamp-post and the omnibus alike," said Emma.\n\n')
    s2 = characters(sl.Story.from_text(text + foreign))
    hits = _kind(s2, "voice_drift")
    assert (hits["start"] >= len(text)).any()
