"""Character consistency: voices, relationships, fact contradictions, dead characters."""

from __future__ import annotations

import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.trackers import schema
from shimmy_lab.trackers.characters import characters
from shimmy_lab.trackers.voice import line_features, voice_line_score
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
    assert story.uns["params"]["characters"]["voice_threshold"] == 0.62


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


def test_fact_phrasings_which_were_and_two_qualifiers():
    from shimmy_lab.story.facts import extract_facts

    def resolve(n):
        return {"Kitty": "kitty", "Tom": "tom"}.get(n)

    text = ("There was a brightness in Kitty's eyes, which were hazel as the sea. "
            "Tom was then scarcely 29 years of age. Kitty's hair, which was red, shone. "
            "Tom's wide grey eyes went round the room.")
    got = {(f["subject"], f["attribute"], f["value"]) for f in
           extract_facts(text, 0, len(text), resolve, [0], [0])}
    assert got == {("kitty", "eye_colour", "hazel"), ("tom", "age", "29"),
                   ("kitty", "hair_colour", "red"), ("tom", "eye_colour", "grey")}


def test_the_late_as_speaker_or_agent_is_no_death():
    from shimmy_lab.story.facts import extract_facts

    def resolve(n):
        return {"Gogol": "gogol", "Mr Smith": "mr_smith"}.get(n)

    text = ('"Right oh!" said the late Gogol. Then the late Gogol scrambled into a cab. '
            "They spoke of the late Mr Smith with respect.")
    deaths = [f for f in extract_facts(text, 0, len(text), resolve, [0], [0])
              if f["attribute"] == "death"]
    assert [(f["subject"], text[f["start"]:f["end"]]) for f in deaths] == [
        ("mr_smith", "the late Mr Smith")]


def test_weak_memory_cue_only_in_the_same_paragraph():
    from shimmy_lab.trackers.characters import memory_cue

    text = "It would have been a fine evening.\n\nTom came to the door and knocked."
    cur = text.index("Tom")
    # "would have" (a counterfactual) in the previous paragraph does not frame Tom's act
    assert not memory_cue(text, cur, 0, cur, len(text))
    text2 = "She remembered that evening.\n\nTom came to the door and knocked."
    cur2 = text2.index("Tom")
    assert memory_cue(text2, cur2, 0, cur2, len(text2))  # a strong cue does
    text3 = "It was as if nothing had changed. Tom came to the door."
    cur3 = text3.index("Tom")
    assert memory_cue(text3, cur3, 0, cur3, len(text3))  # a weak cue in the same paragraph
    text4 = "Tom laughed, and handed the letter across the table."
    assert not memory_cue(text4, 0, 0, 0, len(text4))  # a letter handed over is no memory
    text5 = "As Tom said in his letter, the mill was sold."
    assert memory_cue(text5, 3, 0, 0, len(text5))


def test_dead_speaker_needs_direct_attribution():
    text = ("Tom Bell lived at the mill with his sister Kitty Bell.\n\n"
            + "\n\n".join(f'"Line number {i} of the talk," said Tom Bell. "Yes," said Kitty.'
                          for i in range(3))
            + "\n\nTom Bell died that winter, and was buried in the churchyard.\n\n"
            '"I have come back to settle this matter," said Tom Bell.\n\n')
    s = sl.Story.from_text(text)
    characters(s)
    hits = _kind(s, "dead_character_acts")
    assert len(hits) >= 1
    assert "come back" in s.text[hits.iloc[0].start:hits.iloc[0].end] or \
        "said Tom" in s.text[hits.iloc[0].start:hits.iloc[0].end]


def test_voice_score_sees_unfamiliar_phrasing():
    from collections import Counter

    from shimmy_lab.trackers import _util as U
    from shimmy_lab.trackers.voice import bigrams

    story = ("the miller said the river was high and the money was gone and kitty said "
             "the winter was long and tom said the mill was cold ") * 20
    toks = U.words(story)
    counts, pairs = Counter(toks), bigrams(toks)
    own = "the river was high and the mill was cold and the money was gone"
    odd = "gone was the money, cold the river, long high mill kitty winter tom said"
    s_own, w_own = voice_line_score(own, counts, 0, counts, None, pairs)
    s_odd, w_odd = voice_line_score(odd, counts, 0, counts, None, pairs)
    # same vocabulary (no new words), but the word pairs of `odd` are new to the story
    assert w_own["novel"] == w_odd["novel"] == 0.0
    assert w_own["pairs_new"] < 0.1 and w_odd["pairs_new"] > 0.6
    assert s_own == 0.0 < s_odd


def test_fact_name_does_not_run_across_a_paragraph_break():
    from shimmy_lab.story.facts import extract_facts

    def resolve(n):
        return {"Syme": "syme", "Father Brown": "brown", "Professor Syme": "prof"}.get(n)

    text = ('"Then what?" began the Professor.\n\nSyme\'s eyes were a deep green.\n\n'
            "XII. The Tale of Father Brown\n\n\nFather Brown had blue eyes that missed nothing.")
    got = [(f["subject"], f["value"]) for f in extract_facts(text, 0, len(text), resolve, [0], [0])]
    assert got == [("syme", "green"), ("brown", "blue")]


def test_short_lines_are_not_checked_for_voice():
    text = sl.datasets.load("austen-emma")[:200_000]
    short = '\n\n"Quantum radiologists bewilder anarchists," said Emma.\n\n'
    s = characters(sl.Story.from_text(text + short))
    hits = _kind(s, "voice_drift")
    assert not (hits["start"] >= len(text)).any()
    assert s.uns["params"]["characters"]["min_line_words"] == 10
