"""Quotes: the mention the speaker was read from (speaker_start/end) and the addressee."""

from __future__ import annotations

import pandas as pd
import pytest

from shimmy_lab.story import Story, schema

TEXT = '''CHAPTER I

Mrs. Hollis and her son Peter sat by the fire in the long room, and the rain beat on the glass.

"The roof will leak again tonight," cried Mrs. Hollis.

"It will hold," he replied at once.

Mrs. Hollis said, "You mended the shed in the spring."

"Not the roof," said she. "The roof is older than you."

"Then I shall go up tomorrow."

"Take the ladder, Peter."

"Well," Peter said to Mrs. Hollis, "I will take it."
'''

# three speakers in a row: the middle one answers one and is answered by another
THREE = '''Anna Webb, Bertram Cole and Clara Finch stood at the gate of the orchard in the evening.

"The apples are late this year," said Anna Webb.

"The frost was hard in May," said Bertram Cole to Clara Finch.

"My mother lost every plum," said Clara Finch.

"Then we shall have no jam," said Bertram Cole.
'''


def _mention(story: Story, i: int) -> str | None:
    q = story.quotes.iloc[i]
    if pd.isna(q["speaker_start"]):
        assert pd.isna(q["speaker_end"])
        return None
    return story.text[int(q["speaker_start"]):int(q["speaker_end"])]


def _at(text: str, word: str, nth: int = 0) -> tuple[int, int]:
    i = -1
    for _ in range(nth + 1):
        i = text.index(word, i + 1)
    return i, i + len(word)


def test_speaker_mention_is_the_span_of_the_tag_name_or_pronoun():
    st = Story.from_text(TEXT)
    q = st.quotes
    assert q["speaker_start"].dtype == "Int64" and q["speaker_end"].dtype == "Int64"
    spans = list(zip(q["speaker_start"].astype(object), q["speaker_end"].astype(object)))
    assert spans[0] == _at(TEXT, "Mrs. Hollis", 1)  # cried Mrs. Hollis (not the narration's)
    he, she = TEXT.index(" he replied") + 1, TEXT.index("said she") + 5
    assert spans[1] == (he, he + 2)
    assert spans[2] == _at(TEXT, "Mrs. Hollis", 2)  # Mrs. Hollis said, "..."
    assert spans[3] == spans[4] == (she, she + 3)  # "said she. "..."": the paragraph's tag
    peter = TEXT.index("Peter said to")  # after the first quote, before the second
    assert spans[7] == spans[8] == (peter, peter + 5)
    assert [_mention(st, i) for i in range(len(q))] == [
        "Mrs. Hollis", "he", "Mrs. Hollis", "she", "she", None, None, "Peter", "Peter"]
    assert list(q["method"]) == ["tag", "tag", "tag", "tag", "paragraph", "turn", "vocative", "tag", "tag"]
    assert list(q["speaker"]) == ["mrs_hollis", "peter", "mrs_hollis", "mrs_hollis", "mrs_hollis",
                                  "peter", "mrs_hollis", "peter", "peter"]


def test_the_paragraph_convention_shares_the_tag_mention():
    st = Story.from_text(TEXT)
    q = st.quotes
    para = q[q["method"] == "paragraph"].iloc[0]
    tagged = q[(q["paragraph"] == para["paragraph"]) & (q["method"] == "tag")].iloc[0]
    assert (para["speaker_start"], para["speaker_end"]) == (tagged["speaker_start"], tagged["speaker_end"])


def test_addressee_from_vocative_tag_and_the_other_speaker():
    st = Story.from_text(TEXT)
    assert list(st.quotes["addressee"]) == ["peter", "mrs_hollis", "peter", "peter", "peter",
                                            "mrs_hollis", "peter", "mrs_hollis", "mrs_hollis"]
    three = Story.from_text(THREE)
    # Anna is answered by Bertram; Bertram speaks "to Clara Finch"; Clara sits between
    # Bertram's two lines; Bertram's last line answers Clara
    assert list(three.quotes["speaker"]) == ["anna_webb", "bertram_cole", "clara_finch", "bertram_cole"]
    assert list(three.quotes["addressee"]) == ["bertram_cole", "clara_finch", "bertram_cole", "clara_finch"]


def test_a_turn_between_two_other_speakers_is_to_the_one_a_tag_says_answers():
    text = THREE.replace(" to Clara Finch", "")
    st = Story.from_text(text)
    assert list(st.quotes["speaker"]) == ["anna_webb", "bertram_cole", "clara_finch", "bertram_cole"]
    assert st.quotes["addressee"].iloc[1] == "clara_finch"  # "said Clara Finch" answers
    # the answer is Clara's by the narration, not a tag: Anna or Clara, none is given
    text = text.replace('"My mother lost every plum," said Clara Finch.',
                        'Clara Finch shook her head. "My mother lost every plum."')
    st = Story.from_text(text)
    assert list(st.quotes["speaker"]) == ["anna_webb", "bertram_cole", "clara_finch", "bertram_cole"]
    assert list(st.quotes["method"]) == ["tag", "tag", "subject", "tag"]
    assert pd.isna(st.quotes["addressee"].iloc[1])


def test_a_speech_intro_in_the_narration_before_gives_its_mention():
    text = ('Mrs. Hollis put down her cup, and after a while she said to her son:\n\n'
            '"You will fall and break your neck."\n\n"I will not," said Peter Hollis.\n')
    st = Story.from_text(text)
    # the subject of "said" is "she" (Mrs. Hollis): the mention is the pronoun the line is read from
    assert [_mention(st, i) for i in range(2)] == ["she", "Peter Hollis"]
    assert list(st.quotes["speaker"]) == ["mrs_hollis", "peter_hollis"]
    assert int(st.quotes["speaker_start"].iloc[0]) == text.index("she said")
    assert int(st.quotes["speaker_start"].iloc[1]) == text.index("Peter Hollis")


def test_a_story_saved_without_the_mention_columns_loads(tmp_path):
    st = Story.from_text(TEXT)
    v = st.save(tmp_path / "s")
    old = pd.read_parquet(v / "quotes.parquet").drop(columns=["speaker_start", "speaker_end"])
    old.to_parquet(v / "quotes.parquet", index=False)
    back = Story.load(tmp_path / "s")
    schema.validate("quotes", back.quotes, back.text)
    assert back.quotes["speaker_start"].isna().all() and back.quotes["speaker_end"].isna().all()
    assert list(back.quotes["speaker"]) == list(st.quotes["speaker"])


def test_an_indefinite_description_in_a_tag_is_someone_new():
    """'"...," cried a tall man': a speaker nobody named, 'the tall man' from then on; not the
    last person named."""
    text = ('Mr. Brown came into the yard. Mr. Brown looked about him.\n\n'
            '"Stop that cart!" cried a tall man.\n\n'
            'Mr. Brown turned round.\n\n'
            '"Why?" said Mr. Brown.\n\n'
            '"Because it is mine," said the tall man.\n')
    story = Story.from_text(text)
    q = story.quotes.set_index("text")
    assert q.loc["Stop that cart!", "speaker"] == q.loc["Because it is mine,", "speaker"]
    assert q.loc["Stop that cart!", "speaker"] != q.loc["Why?", "speaker"]
    names = dict(zip(story.characters["character_id"], story.characters["name"]))
    assert names[q.loc["Stop that cart!", "speaker"]] == "the tall man"


def test_a_bare_surname_in_a_tag_is_the_one_person_of_that_surname():
    """'said Hall' where the text names one Hall, 'Mr. Hall' (a surname that is also a word
    for a building): him."""
    text = ('Mr. Hall kept the inn. Mr. Hall was a slow man, and Mr. Hall liked his ale. '
            'Mary Jones worked for him.\n\n'
            '"Shut the door," said Hall.\n\n'
            '"I will," said Mary Jones.\n')
    story = Story.from_text(text)
    q = story.quotes.set_index("text")
    names = dict(zip(story.characters["character_id"], story.characters["name"]))
    assert names.get(q.loc["Shut the door,", "speaker"]) == "Mr Hall"


def _speakers(text):
    story = Story.from_text(text)
    names = dict(zip(story.characters["character_id"], story.characters["name"]))
    return [names.get(s) for s in story.quotes["speaker"]], story


def test_a_speaker_set_off_from_the_verb_by_a_clause_is_read():
    text = ('Mary Hale and Anne Cole sat in the parlour with their work.\n\n'
            'Mary Hale, who had occasion to note down the day of the month, exclaimed, '
            '"Dear me, is this the day they come?"\n\n'
            'Anne Cole, sighing over the letter as she unfolded it, said, "It is."\n')
    said, _ = _speakers(text)
    assert said == ["Mary Hale", "Anne Cole"]


def test_a_wife_named_by_her_husbands_names_does_not_take_his_given_name():
    text = ('Charles Musgrove came in with his wife. Mrs Charles Musgrove sat down. '
            'Mrs Charles Musgrove was tired. Mrs Charles Musgrove sighed.\n\n'
            '"We walked too far," said Charles.\n\n"You always do," said Mrs Charles Musgrove.\n')
    said, story = _speakers(text)
    aliases = dict(zip(story.characters["name"], story.characters["aliases"]))
    assert "Charles" not in aliases["Mrs Charles Musgrove"].split("|")
    assert said == ["Charles Musgrove", "Mrs Charles Musgrove"]


def test_a_bare_surname_used_as_a_vocative_is_the_addressee():
    text = ('Jonathan Small sat in the cabin with Athelney Jones and the doctor.\n\n'
            '"This is your doing, Small," said Athelney Jones.\n\n'
            '"Yes, I have put it away," he cried.\n')
    story = Story.from_text(text)
    q = story.quotes
    assert q["addressee"].iloc[0] == "jonathan_small"


def test_a_description_names_the_same_speaker_only_nearby():
    far = "The road went on and on through the fields and the woods. " * 120  # ~7,000 characters
    text = ('Tom Reed walked to the market.\n\n"Fine apples!" said a stout man.\n\n'
            '"How much?" asked Tom Reed.\n\n"A penny," said the stout man.\n\n' + far + '\n\n'
            'Tom Reed came home to Ned Vane.\n\n"Back already?" said the stout man.\n')
    story = Story.from_text(text)
    sp = story.quotes["speaker"].tolist()
    assert sp[0] == sp[2] == "the_stout_man"  # said a stout man ... said the stout man
    assert sp[3] != "the_stout_man"  # chapters later, "the stout man" is someone of that scene


def test_an_ing_lead_in_after_a_clause_of_another_subject_is_not_read():
    text = ('Tom Parker stood by the stream.\n\n"Who is there?" said Tom Parker.\n\n'
            'As he stood, her voice came from the air, saying, sadly, "Learn to be humble."\n')
    st = Story.from_text(text)
    assert st.quotes["speaker"].iloc[1] != "tom_parker" or st.quotes["method"].iloc[1] != "tag"


LEAD_INS = [
    # the one heard speaking is the speaker, not the hearer
    ('Alice Webb sat by the fire. After a minute or two Alice Webb heard Tom Parker say in a '
     'low voice, to the company generally,\n\n"You are all pardoned."\n\n"That is good," said '
     'Alice Webb.\n', ["tom_parker", "alice_webb"], "Tom Parker"),
    # an -ing verb in the paragraph before; a lead-in with no closing mark
    ('Tom Parker came in. He brought all the music to her, and Alice Webb took the opportunity '
     'of whispering,\n\n"You speak too plain."\n\nThere was a silence, and then Tom Parker said '
     'in a curious, strained voice\n\n"I hope she does."\n', ["alice_webb", "tom_parker"], "Alice Webb"),
    # an -ing verb inside the line's paragraph, another subject's clause before it
    ('Tom Parker came in.\n\n"I was a wretch," said Tom Parker.\n\nBut he laughed so heartily '
     'at it, that Alice Webb could not help saying, "You had great amusement in tricking us all."\n',
     ["tom_parker", "alice_webb"], "Alice Webb"),
]


@pytest.mark.parametrize("text, speakers, mention", LEAD_INS)
def test_a_lead_in_gives_the_speaker_and_its_mention(text, speakers, mention):
    st = Story.from_text(text)
    assert list(st.quotes["speaker"]) == speakers
    assert mention in [_mention(st, i) for i in range(len(st.quotes))]
