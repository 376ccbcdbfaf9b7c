"""Dead characters: which deaths the story tells, and the first act of the dead after them."""

from __future__ import annotations

import pytest

import shimmy_lab as sl
from shimmy_lab.story.deaths import death_facts, death_name, told_deaths
from shimmy_lab.trackers.afterlife import same_person
from shimmy_lab.trackers.characters import characters, dead_act_rows

CAST = {"Walter Pike": "walter", "Walter": "walter", "Pike": "walter", "Nora Vance": "nora",
        "Nora": "nora", "Mr Crane": "crane", "Ada": "ada", "Hugh": "hugh",
        "Mrs Lumley": "lumley", "Silas Marsh": "silas", "Silas": "silas"}
GENDER = {"walter": "male", "crane": "male", "hugh": "male", "silas": "male",
          "nora": "female", "ada": "female", "lumley": "female"}


def _resolve(name):
    return CAST.get(" ".join(name.replace(".", " ").split()))


def _deaths(text):
    return [(r["subject"], r["pattern"]) for r in
            death_facts(text, 0, len(text), _resolve, [0], [0], GENDER.get)]


@pytest.mark.parametrize("text, who", [
    ("Walter Pike, who had never known a day's illness, caught a chill on the Monday and "
     "was dead by the Friday.", "walter"),
    ("Mr. Crane had been taken with a fever at the inn, and had died before morning.", "crane"),
    ("It was the last letter Nora Vance ever wrote. She was drowned in the mill-race that "
     "same night.", "nora"),
    ("Ada sat alone. Since Silas had been hanged at the county town, nobody came.", "silas"),
    ("After Walter's funeral the house was shut up for a year.", "walter"),
    ("Mrs. Lumley had been dead these three days when the letter came.", "lumley"),
    ("Hugh's body was taken out of the river at dawn.", "hugh"),
    ("Nora did not live to see the spring.", "nora"),
    ("Silas Marsh lay in the little churchyard beside his mother.", "silas"),
    ("The news came that Walter Pike, the heir of the farm, had been killed on the road.",
     "walter"),
    ("Hugh was thrown from the cart and killed on the spot.", "hugh"),
    ("Ada spoke of the late Mr. Crane with great respect.", "crane"),
    ("Nora was no longer alive when the letter came.", "nora"),
    ("Walter Pike and Hugh were both killed at the crossing.", "walter"),
    ("Walter Pike and Hugh were both killed at the crossing.", "hugh"),
    ("The coffin of Mrs. Lumley was carried out on the Friday.", "lumley"),
    ('"Hugh died at sea last June," said Ada.', "hugh"),
])
def test_deaths_told_in_many_ways(text, who):
    assert who in {s for s, _ in _deaths(text)}


@pytest.mark.parametrize("text", [
    "Walter Pike nearly died of the fever that winter.",
    "Nora might have been killed if the horse had bolted.",
    "If Hugh died, the farm would go to his cousin.",
    "Instead of dying, as everyone expected, Nora lived on for twenty years.",
    "Silas was dead tired after the harvest.",
    "Ada was dead to the world until noon.",
    "Ada thought that Hugh was dead, but he came home at dusk.",
    "Walter's death would ruin them all.",
    "That boy will be the death of Mrs. Lumley.",
    "Silas was buried in thought and did not hear her.",
    "Hugh died of laughing at the parson's hat.",
    "Mrs. Lumley departed this life for the time being, and retired to her sofa.",
    "Nora was half dead with fatigue.",
    "The sound of the bell died away over the marsh, and Walter turned home.",
    "Hugh had almost drowned in the pond as a boy.",
])
def test_negated_hypothetical_and_figurative_deaths_are_none(text):
    assert _deaths(text) == []


def test_a_pronoun_needs_one_candidate():
    # two men named before 'he', neither opening the sentence: nobody is killed
    text = "At the gate Walter Pike and Mr. Crane quarrelled. He was killed that night."
    assert _deaths(text) == []
    # the man who opens the sentence, not the one he met, is 'he'
    text = "Walter Pike met Mr. Crane at the gate. He was killed that night on the road."
    assert _deaths(text) == [("walter", "died_pronoun")]
    # a woman and a man: 'she' is the woman
    text = "Nora Vance walked home with Hugh. She died in the night."
    assert _deaths(text) == [("nora", "died_pronoun")]


def test_dialogue_reports_count_and_rumours_do_not():
    def told(text):
        rows = death_facts(text, 0, len(text), _resolve, [0], [0], GENDER.get)
        quote = (text.index('"'), text.rindex('"') + 1)
        return set(told_deaths(text, [(r["subject"], r["start"], r["end"], r["pattern"])
                                      for r in rows], [quote]))

    assert told('"It is not a month since we buried Walter," said Ada.') == {"walter"}
    assert told('"Hugh died last June, at sea," said Ada.') == {"hugh"}
    assert told('"They say Hugh died in the war," said Ada.') == set()
    assert told('"Hugh died?" said Ada.') == set()


def test_death_name_is_the_form_told():
    text = "Ada wept. Since the death of Mr. Crane the farm was quiet."
    rows = death_facts(text, 0, len(text), _resolve, [0], [0])
    assert [death_name(text, r["start"], r["end"], r["pattern"]) for r in rows] == ["Mr Crane"]


def test_same_person_keeps_a_family_name_apart():
    assert not same_person("Mr Honeywood", "Freddy")
    assert not same_person("Mr Honeywood", "Freddy Honeywood")
    assert same_person("Mr Honeywood", "Honeywood")
    assert same_person("Bulstrode", "BULSTRODE")
    assert same_person("John Carver", "Mr. John Carver") and same_person("John Carver", "John")
    assert not same_person("Mrs Carver", "Mr Carver")


def _story(death: str, later: str) -> sl.Story:
    talk = "\n\n".join(f'"That is question number {i}," said Walter Pike. "Yes," said Ada.'
                       for i in range(3))
    text = (f"Walter Pike kept the mill with his sister Ada.\n\n{talk}\n\n{death}\n\n"
            "Ada kept the mill alone through the winter.\n\n" + later + "\n\n")
    return characters(sl.Story.from_text(text))


def _acts(s):
    ins = s.tables["insights"]
    return ins[ins["kind"] == "dead_character_acts"]


def test_dead_character_acts_once_at_the_first_act():
    s = _story("Walter Pike caught a chill at the fair and was dead by the Sunday.",
               "Walter came in from the yard and sat down by the fire.\n\n"
               '"A cold night," said Walter Pike.')
    hits = _acts(s)
    assert len(hits) == 1
    r = hits.iloc[0]
    assert s.text[r.start:r.end].startswith("Walter came") and "Walter Pike" in r.title
    assert "was dead by the Sunday" in r.message  # the death is the evidence
    assert s.tables["characters"].set_index("character_id").loc["walter_pike", "status"] == "dead"


def test_an_aside_between_name_and_verb():
    s = _story("Walter Pike had been drowned in the mill-race that spring.",
               "Walter, pale and silent, rose from the bench by the door.")
    assert len(_acts(s)) == 1
    s = _story("Walter Pike had been drowned in the mill-race that spring.",
               "Walter, who had loved the mill, lay in the churchyard by the door.")
    assert not len(_acts(s))


def test_capitals_at_a_story_opening_are_the_character():
    s = _story("Walter Pike had been drowned in the mill-race that spring.",
               "WALTER PIKE and his dog were sitting on the bank at sunset.")
    assert len(_acts(s)) == 1


@pytest.mark.parametrize("later, acts", [
    ("Walter Pike was in Carlisle by the spring, and nobody knew why.", True),
    ("Walter was at the door before Ada had lit the lamp.", True),
    ("Walter Pike was in his grave, and the mill was silent.", False),
    ("Walter was in the churchyard under the yew, beside his mother.", False),
])
def test_presence_somewhere_is_an_act(later, acts):
    s = _story("Walter Pike caught a chill at the fair and was dead by the Sunday.", later)
    assert len(_acts(s)) == int(acts)


@pytest.mark.parametrize("later", [
    "Ada remembered how Walter used to sit by the fire in the evenings.",
    "Walter had always said that the mill would outlive them all.",
    "In her dream Walter came to the door and called her name.",
    "The portrait of Walter looked down on her from the wall.",
])
def test_memory_of_the_dead_is_no_act(later):
    s = _story("Walter Pike caught a chill at the fair and was dead by the Sunday.", later)
    assert not len(_acts(s))


def test_negated_death_kills_nobody():
    s = _story("Walter Pike fell ill at the fair; instead of dying, as the doctor feared, "
               "he mended slowly.", "Walter came in from the yard and sat down by the fire.")
    assert not len(_acts(s))
    assert s.tables["characters"].set_index("character_id").loc["walter_pike", "status"] != "dead"


def test_dead_act_rows_from_plain_lists():
    text = "Tom came to the door. Ada smiled."
    rows = dead_act_rows(text, {"tom": -1000}, [], [(0, 3, "tom", False)], [0, 22], [21, 33],
                         {"tom": "Tom"})
    assert [(r["start"], r["end"], r["characters"]) for r in rows] == [(0, 8, ["Tom"])]


@pytest.mark.parametrize("later", [
    # the dead man's own act of fancying or remembering is an act, not a memory frame
    "Walter fancied the mill-wheel ran slower that morning, and went to look.",
    # a letter mentioned after the act, in another clause, frames nothing
    "Walter came in from the yard, and Ada read him a letter from her cousin.",
])
def test_a_cue_in_the_act_itself_or_after_its_clause_frames_nothing(later):
    s = _story("Walter Pike caught a chill at the fair and was dead by the Sunday.", later)
    assert len(_acts(s)) == 1
