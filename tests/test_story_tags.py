"""Speech tags the reader finds however the narration phrases them."""

from __future__ import annotations

import pandas as pd

from shimmy_lab.story import Story

HEAD = '''CHAPTER I

Mr. Edgar Vance and Miss Clara Finch walked by the river in the evening, and the boats went by.

"The water is high," said Mr. Vance.

"It rained all week," said Miss Finch.

'''


def _speakers(text: str) -> dict[str, tuple[str, str]]:
    """Quote (with its marks) -> (speaker's name, the mention the speaker was read from)."""
    story = Story.from_text(text)
    q = story.quotes
    names = dict(zip(story.characters["character_id"], story.characters["name"]))
    return {f"\"{t}\"": (names.get(s), story.text[int(a):int(b)] if pd.notna(a) else None)
            for t, s, a, b in zip(q["text"], q["speaker"], q["speaker_start"], q["speaker_end"])}


def test_an_introduction_is_read_past_a_word_that_names_nobody():
    # the first capitalised word ("With") is no speaker: the reader goes on to "Clara"
    text = HEAD + ('"Then the bridge will close," said Miss Finch.\n\nMr. Vance was silent. '
                   'With a little reserve of manner, Miss Finch continued:\n\n"You will wait for me, I hope."\n')
    assert _speakers(text)['"You will wait for me, I hope."'] == ("Miss Finch", "Miss Finch")


def test_an_object_pronoun_is_no_speaker_of_an_introduction():
    text = HEAD + ('"Then the bridge will close," said Mr. Vance.\n\n'
                   'Two minutes after her leaving the bank, Edgar Vance said--\n\n"We should turn back."\n')
    assert _speakers(text)['"We should turn back."'] == ("Mr Vance", "Edgar Vance")


def test_a_tag_before_the_quote_with_a_clause_between_subject_and_verb():
    text = HEAD + ('Miss Finch picked up a stone, and said: "This one is smooth."\n\n'
                   'Mr. Vance looked across the water at her, and said, compressing his lips, "Throw it."\n')
    got = _speakers(text)
    assert got['"This one is smooth."'] == ("Miss Finch", "Miss Finch")
    assert got['"Throw it."'] == ("Mr Vance", "Mr. Vance")


def test_a_pronoun_tag_finds_a_person_named_long_before():
    filler = ("The river ran on between the willows and the long grass of the meadows. " * 10 + "\n\n") * 6
    text = HEAD + filler + '\n\n"Look at the light!" he cried.\n'
    assert _speakers(text)['"Look at the light!"'] == ("Mr Vance", "he")


def test_a_pronoun_tag_does_not_reach_into_the_chapter_before():
    # a tale of a collection: "she" of a fairy nobody names is not the last tale's heroine
    text = ("CHAPTER I\n\nMiss Clara Finch kept the lighthouse all her life.\n\n"
            "\"The lamp is lit,\" said Miss Finch.\n\nCHAPTER II\n\n"
            + ("The lazy man and the busy man walked along the road in the heat of the day. " * 8 + "\n\n") * 6
            + "A lady stood on a golden ball that rolled along the road.\n\n\"Follow me!\" she said.\n")
    assert _speakers(text)['"Follow me!"'][0] != "Miss Finch"


def test_a_short_quotation_after_a_word_of_the_sentence_is_a_term_not_speech():
    from shimmy_lab.story.dialogue import quoted_term

    text = ('Anne had reached the dignity of being "a fine girl." The years passed by her.\n\n'
            'There was a silence, and then in a low voice\n\n"I hope she does."\n\n'
            'The beadle could not think of the word "tenterhooks," and his face grew red.\n\n'
            'She heard him cry "Stop thief!" at once.\n')
    spans = [(m.start(), m.end()) for m in __import__("re").finditer(r'"[^"]*"', text)]
    assert [quoted_term(text, s, e) for s, e in spans] == [True, False, True, False]


def test_her_mother_is_no_miss_of_the_family():
    from shimmy_lab.story.dialogue import _Ctx, _who

    ctx = _Ctx(resolve=lambda form: None, gender={"jane_bates": "female", "miss_bates": "female"},
               names={"jane_bates": "Jane Bates", "miss_bates": "Miss Bates"},
               m_starts=[0], m_ids=["jane_bates"])
    # "'...,' said her mother" after Jane Bates spoke: not Miss Bates, her unmarried aunt
    assert _who(ctx, "her mother", 100, 90, ["jane_bates"], "jane_bates") is None
    ctx.names["mrs_bates"], ctx.gender["mrs_bates"] = "Mrs Bates", "female"
    assert _who(ctx, "her mother", 100, 90, ["jane_bates"], "jane_bates") == "mrs_bates"


def test_the_voice_of_someone_is_theirs_and_a_set_apart_description_is_a_speaker():
    text = HEAD + (
        '"Who is there?" cried the voice of old Mr. Vance from the stair.\n\n'
        '"A friend," said the gentleman in the white waistcoat.\n\n'
        '"Then come up," said Miss Finch in a low voice.\n\n'
        '"I will not," said the gentleman in the white waistcoat.\n\n'
        '"As you like," said the girl with a smile.\n')
    who = _speakers(text)
    assert who['"Who is there?"'] == (who['"The water is high,"'][0], "the voice of old Mr. Vance")
    # the whole description names him, and its second tag finds the same speaker
    assert who['"A friend,"'][0] == who['"I will not,"'][0] == "the gentleman in the white waistcoat"
    assert who['"Then come up,"'][0] == who['"It rained all week,"'][0]
    # "with a smile" is how the line is said: the girl is read as "she" is (no new speaker)
    assert who['"As you like,"'] == (who['"It rained all week,"'][0], "the girl")


def test_a_description_of_age_fits_a_grown_person_or_a_young_one():
    text = HEAD + ('Mr. Brownlow looked long at Oliver Twist.\n\n'
                   '"Come here, child," said the old gentleman.\n')
    # Oliver is named last, but "the old gentleman" is the one called by a title
    assert _speakers(text)['"Come here, child,"'] == ("Mr Brownlow", "the old gentleman")
    text = HEAD + ('Mrs. Finch looked long at Clara.\n\n'
                   '"May I go?" asked the girl.\n')
    # Clara is Miss Clara Finch; "the girl" is no Mrs, though Mrs. Finch is the subject
    assert _speakers(text)['"May I go?"'][0] == "Miss Finch"


def test_narration_that_describes_someone_offers_them_to_a_he_or_she():
    text = ('Miss Clara Finch sat alone at the table by the window.\n\n'
            '"Is it far to the bridge?" asked Miss Finch.\n\n'
            'The waiter nodded his head and swept the crumbs from the table with his cloth. '
            '"Not far," he said. "Ten minutes."\n')
    st = Story.from_text(text)
    q = st.quotes.set_index("text")
    # no man is named: the "he" is the waiter the narration describes, and his second line too
    assert q.loc["Not far,", "speaker"] == q.loc["Ten minutes.", "speaker"] == "the_waiter"
    assert q.loc["Not far,", "method"] == "tag" and q.loc["Ten minutes.", "method"] == "paragraph"
    assert st.characters.set_index("character_id").loc["the_waiter", "gender"] == "male"


def test_a_bare_surname_shared_by_a_man_and_his_wife_is_the_man():
    text = ('Mr. Hall and Mrs. Hall stood in the bar of the inn. Mr. Hall was slow.\n\n'
            '"He is a queer one," said Mrs. Hall.\n\n'
            '"Summat wrong," said Hall.\n')
    who = _speakers(text)
    assert who['"Summat wrong,"'] == ("Mr Hall", "Hall")
    assert who['"He is a queer one,"'][0] == "Mrs Hall"


def test_a_bare_surname_a_he_follows_is_not_the_wife_of_that_name():
    text = ('Mrs. Braddocks was giving a dance, and Mrs. Braddocks wanted us there.\n\n'
            '"You are coming, aren\'t you?" Braddocks asked, looking at his glass.\n\n'
            '"I wish people would come earlier," Braddocks said, and he went off.\n\n'
            '"I dare say," said Mrs. Braddocks. She smiled.\n')
    st = Story.from_text(text)
    who = _speakers(text)
    assert who['"You are coming, aren\'t you?"'][0] == who['"I wish people would come earlier,"'][0] == "Braddocks"
    assert who['"I dare say,"'][0] == "Mrs Braddocks"
    assert st.characters.set_index("name").loc["Braddocks", "gender"] == "male"


def test_a_line_named_by_its_kind_with_whose_it_is():
    text = HEAD + ('Mr. Vance looked at her.\n\n"I cannot stay," was her reply.\n\n'
                   'Miss Finch\'s answer was, "Then go."\n\n"As you please," had been Mr. Vance\'s reply.\n')
    who = _speakers(text)
    assert who['"I cannot stay,"'] == (who['"It rained all week,"'][0], "her")
    assert who['"Then go."'] == (who['"It rained all week,"'][0], "Miss Finch")
    assert who['"As you please,"'] == (who['"The water is high,"'][0], "Mr. Vance")


def test_a_description_of_one_sex_that_finds_nobody_is_still_of_that_sex():
    # no woman is named in this chapter nor lately: "said the girl" is left to the turn
    # model's choice among the women it has as candidates (none), not to turn-taking among
    # everyone, which gave the line to Mr. Dunn
    text = HEAD + "The river ran on past the mill and under the bridge. " * 70 + (
        '\n\nCHAPTER II\n\nMr. Vance and Mr. Dunn walked alone by the river.\n\n'
        '"Is anyone there?" called Mr. Vance.\n\n"I hear nobody," said Mr. Dunn.\n\n'
        '"Listen again," said Mr. Vance.\n\n"Only me," said the girl.\n')
    assert _speakers(text)['"Only me,"'] == (None, "the girl")


def test_her_mother_who_finds_nobody_is_not_the_daughter():
    # no Mrs Finch in sight: "said her mother" stays unattributed rather than going to the
    # one woman of the scene, whom "her" stands for
    text = HEAD + "The river ran on past the mill and under the bridge. " * 70 + (
        '\n\nCHAPTER II\n\nMiss Finch sat in the garden with a book.\n\n'
        '"What is a salad garden?" Miss Finch asked.\n\n"A garden of salads," said her mother.\n')
    assert _speakers(text)['"A garden of salads,"'] == (None, "her mother")


def test_the_latter_and_the_former_are_of_the_two_just_named():
    text = HEAD + ('Mrs. Weston and Miss Bates met them at the door.\n\n'
                   '"My dear Miss Finch," said the latter, "do come in."\n\n'
                   'Mr. Knight and Mr. Dunn came up the path together.\n\n'
                   '"We are late," said the former.\n')
    who = _speakers(text)
    assert who['"My dear Miss Finch,"'] == ("Miss Bates", "the latter")
    assert who['"We are late,"'] == ("Mr Knight", "the former")
