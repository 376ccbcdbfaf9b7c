"""Speaker attribution: a first-person narrator, and speakers named by a description."""

from __future__ import annotations

from shimmy_lab.story import Story
from shimmy_lab.story.characters import _vocative
from shimmy_lab.story.dialogue import first_person, is_first_person

FIRST = '''CHAPTER I

I had walked down to the harbour that morning because my lodgings were cold and I
could not sleep. I found Walter Pryce on the quay, mending a net, and I sat beside him.

"You look tired, Harold," he said.

"I am tired," I said. "I have not slept for two nights."

"Then sit, Harold, and watch the boats."

"I will," I answered.

"Good man. The tide is turning, Harold."

"So it is," said I.

"You never listen to me."

"I always listen."

I watched the water for a long time. My hands were cold and my coat was wet through.

"Harold, will you come to supper?" Walter asked.

"Gladly," I said.
'''

UNNAMED = '''I remember the winter my uncle came home. I was small then, and my sister was smaller.
I kept to my room most days and I wrote in my book.

Agnes Hale knocked at my door one evening.

"Are you awake?" she asked.

"I am," I said.

"Come down, then. Supper is ready."

"In a minute," I said.
'''

THIRD = '''Martha Quill opened the letter at the window. It read: "I am well, and I hope you are.
I will come in the spring. I send my love." She folded it away.

"Who is it from?" asked Susan Reed.

"From my brother," said Martha. "He is coming home."

"I am glad," said Susan.

Martha smiled at her and went out into the garden, where the roses were in bloom.
'''


def test_first_person_counts_only_narration():
    text = 'I went home. "I am here, and I am tired," she said. I slept.'
    spans = [(13, 43)]
    n, words = first_person(text, spans)
    assert n == 2 and words > 0
    assert is_first_person(40, 1000) and not is_first_person(4, 1000)
    assert not is_first_person(3, 10)  # too few to tell


def test_narrator_named_by_vocatives_takes_tags_and_turns():
    st = Story.from_text(FIRST)
    ch = st.characters.set_index("character_id")
    q = st.quotes.sort_values("start").reset_index(drop=True)
    harold = [c for c, n in ch["name"].items() if "Harold" in n]
    assert harold, ch
    hid = harold[0]
    # "I said", "I answered", "said I" are the narrator's, named by what Walter calls him
    for frag in ("I am tired", "I will", "So it is", "Gladly"):
        row = q[q["text"].str.startswith(frag)]
        assert row["speaker"].iloc[0] == hid, (frag, row)
    # untagged turns alternate between Walter and the narrator
    assert q[q["text"].str.startswith("You never")]["speaker"].iloc[0] != hid
    assert q[q["text"].str.startswith("I always")]["speaker"].iloc[0] == hid
    assert st.uns["params"]["narrator"] == hid


def test_unnamed_narrator_is_a_character():
    st = Story.from_text(UNNAMED)
    ch = st.characters.set_index("character_id")
    assert "narrator" in ch.index
    assert ch.loc["narrator", "name"] == "the narrator"
    q = st.quotes
    assert set(q.loc[q["text"].str.startswith(("I am", "In a minute")), "speaker"]) == {"narrator"}
    assert q.loc[q["text"].str.startswith("Are you"), "speaker"].iloc[0] != "narrator"


def test_third_person_story_with_a_letter_has_no_narrator():
    st = Story.from_text(THIRD)
    assert "narrator" not in set(st.characters["character_id"])
    assert "narrator" not in st.uns["params"]
    q = st.quotes
    assert q.loc[q["text"].str.startswith("From my"), "speaker"].notna().all()


DESCRIBED = '''Count Orlov came in from the rain and Peter Vane rose to meet him.

"You are late," said Peter Vane.

"The roads are bad," said the count. "Very bad."

A stranger in a grey coat stood by the fire.

"Is there a room for the night?" said the stranger.

"Ask the landlord," Peter Vane answered.

"I have asked him twice," said the stranger.

The old man turned from the window. "Sit down, both of you," said the old man.

Peter Vane laughed.
'''


def test_descriptions_link_to_names_or_become_speakers():
    st = Story.from_text(DESCRIBED)
    q = st.quotes

    def who(start: str) -> str:
        return q.loc[q["text"].str.startswith(start), "speaker"].iloc[0]

    ch = st.characters.set_index("character_id")
    count = who("The roads are bad")
    assert "Orlov" in ch.loc[count, "name"]
    stranger = who("Is there a room")
    assert stranger == who("I have asked him twice")
    assert ch.loc[stranger, "name"] == "the stranger"
    # "the old man" stands for a man of the scene who did not speak last
    assert who("Sit down, both of you") in {count, who("You are late")}


def test_a_description_said_once_is_a_speaker_of_its_own_but_a_group_is_nobody():
    text = ('Anne Wood sat by the fire.\n\n"Tickets, please," said the guard.\n\n'
            '"Here," said Anne Wood.\n\n"Hurrah!" cried the voices in the corridor.\n\n'
            '"Let me see," said the child pressing forward.\n')
    st = Story.from_text(text)
    assert set(st.characters["character_id"]) == {"anne_wood", "the_guard", "the_child"}
    assert list(st.quotes["speaker"])[:2] + list(st.quotes["speaker"])[3:] == [
        "the_guard", "anne_wood", "the_child"]
    assert st.quotes["method"].iloc[2] != "tag"  # "the voices" are no one speaker


def test_vocative_evidence():
    assert _vocative('"', ", come here")
    assert _vocative('"Oh, ', "! there you are")
    assert _vocative('"Come here, ', '." He')
    assert not _vocative('"', ',"')  # the quote is only the name
    assert not _vocative('"I know ', " well")


def test_append_keeps_the_narrator_and_descriptions():
    for text in (FIRST, DESCRIBED):
        whole = Story.from_text(text)
        cut = text.index("\n\n", len(text) // 2) + 2
        part = Story.from_text(text[:cut])
        part.append(text[cut:])
        assert list(part.quotes["speaker"]) == list(whole.quotes["speaker"])
        assert set(part.characters["character_id"]) == set(whole.characters["character_id"])


BEATS = '''John Hill and Tom Gray sat by the stove in the cold office.

"Shall we go?" said John Hill.

"Not yet," said Tom Gray.

He walked to the window and looked out at the rain for a long while.

"It will not stop," he said.

"Then we stay," said John Hill.

"Is it late?" John Hill looked at the clock.

"Nearly nine."
'''


def test_pronoun_after_narration_and_action_beats():
    st = Story.from_text(BEATS)
    q = st.quotes

    def who(start: str) -> str:
        return q.loc[q["text"].str.startswith(start), "speaker"].iloc[0]

    tom, john = who("Not yet"), who("Shall we go")
    assert tom != john
    # narration between two of Tom's turns: "he" may be the last speaker again
    assert who("It will not stop") == tom
    # the question and its answer are two people's
    assert {who("Is it late"), who("Nearly nine")} == {tom, john}
    # no speech verb, but John's action follows his question: where no turn-taking weighs
    # against it (the talk opens with it), the beat decides (against it, the model learnt
    # from PDNC that the alternation mostly wins)
    opening = ('John Hill and Tom Gray sat by the stove in the cold office. Tom Gray read.\n\n'
               '"Is it late?" John Hill looked at the clock.\n')
    assert Story.from_text(opening).quotes["speaker"].iloc[-1] == "john_hill"


SELF_NAMED = '''I came to the mill late in the autumn. I had no friends there, and my boots were
worn through. I asked the first man I met for work, and I waited while he looked me over.

"Who are you?" said the miller, Saul Brand.

"My name is Robin Ashe," I said. "I can work."

"Can you lift a sack?"

"I can," I answered.

Robin Ashe was a name nobody there had heard before.
'''


def test_narrator_named_by_my_name_is():
    st = Story.from_text(SELF_NAMED)
    q = st.quotes
    sp = q.loc[q["text"].str.startswith("My name is"), "speaker"].iloc[0]
    name = st.characters.set_index("character_id").loc[sp, "name"]
    assert name == "Robin Ashe"
    assert q.loc[q["text"].str.startswith("I can"), "speaker"].iloc[0] == sp


def test_a_described_speaker_takes_the_sex_of_the_pronouns_after_its_tags():
    first = ('Anne Wood stood at the gate.\n\n"Move on," said the beadle, drawing himself up.\n\n'
             '"I will," said Anne Wood.\n\n')
    rest = '"See that you do," said the beadle, and he shut the gate.\n'
    whole = Story.from_text(first + rest)
    sex = dict(zip(whole.characters["character_id"], whole.characters["gender"]))
    assert sex["the_beadle"] == "male"
    st = Story.from_text(first)
    st.append(rest)
    assert dict(zip(st.characters["character_id"], st.characters["gender"]))["the_beadle"] == "male"


def test_the_sex_a_description_tells():
    from shimmy_lab.story.lexicon import noun_gender

    got = [noun_gender(d) for d in ("the old man", "the cabman", "the landlady", "the hostess",
                                    "the washerwoman", "the stranger", "the witness", "the Jew")]
    assert got == ["male", "male", "female", "female", "female", None, None, None]


def test_a_description_ends_before_an_adverb():
    text = ('Anne Wood sat by the fire.\n\n"Tickets, please," said the guard outside.\n\n'
            '"Here," said Anne Wood.\n')
    st = Story.from_text(text)
    assert st.quotes["speaker"].iloc[0] == "the_guard"
