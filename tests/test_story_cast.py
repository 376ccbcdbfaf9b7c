"""A cast list from the user fixes the characters: Story.from_text(text, characters=...)."""

import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.story.characters import cast_forms, parse_cast

INN = """Mrs. Hall kept the inn by the mill pond, and she kept it well.

"Will you take some tea?" said Mrs. Hall.

"No," said the stranger, and he turned to the window.

Young came in from the stable yard with mud on his boots. "The grey mare is lame again," said Young.

"Then send for the smith," said Janny, and the stranger went up the stairs.

Mr Hall sat by the fire with his pipe. "Not tonight," said Hall.

Teddy looked in at the door. "Good evening to you all," said Teddy.
"""

CAST = [
    {"name": "Mrs. Hall", "aliases": ["Janny"], "gender": "female"},
    {"name": "Mr. Hall", "aliases": "Hall|George", "gender": "male"},
    {"name": "Griffin", "aliases": ["The Stranger"]},
    {"name": "Tom Young", "aliases": ["Young"], "gender": "male"},
]


def _speakers(story):
    return dict(zip(story.quotes["text"].str.strip(' ,."?'), story.quotes["speaker"]))


def test_cast_fixes_ids_names_genders_and_speakers():
    story = sl.Story.from_text(INN, characters=CAST)
    said = _speakers(story)
    assert said["Will you take some tea"] == "mrs_hall"
    assert said["No"] == "griffin"  # a member named only by an alias ("the stranger")
    assert said["The grey mare is lame again"] == "tom_young"  # a surname that is a word
    assert said["Then send for the smith"] == "mrs_hall"  # "Janny": an alias
    assert said["Not tonight"] == "mr_hall"  # "Mr Hall" without the period is "Mr. Hall"
    ch = story.characters.set_index("character_id")
    assert ch.loc["mrs_hall", "name"] == "Mrs. Hall" and ch.loc["mrs_hall", "gender"] == "female"
    assert ch.loc["griffin", "name"] == "Griffin"
    assert story.character("Mr. Hall") == "mr_hall" and story.character("Hall") == "mr_hall"
    story.validate()


def test_without_a_cast_the_word_names_are_missed():
    story = sl.Story.from_text(INN)
    said = _speakers(story)
    assert said["Then send for the smith"] == "janny"  # not known to be Mrs. Hall
    assert said["No"] == "the_stranger"  # "the stranger" is a speaker of its own, if only once


def test_a_titled_surname_that_is_a_place_word_is_a_person():
    story = sl.Story.from_text(INN)
    assert _speakers(story)["Will you take some tea"] == story.character("Mrs. Hall") == "mrs_hall"
    assert story.character("Mr Hall") == "mr_hall"
    assert sl.Story.from_text("They drove up to Kellynch Hall at noon.\n").character("Kellynch Hall") is None


def test_names_outside_the_cast_are_still_characters():
    story = sl.Story.from_text(INN, characters=CAST)
    assert _speakers(story)["Good evening to you all"] == "teddy"
    assert "teddy" in set(story.characters["character_id"])


def test_a_form_outside_the_cast_joins_the_one_member_it_names():
    text = ('Inspector Ratcliffe stood at the gate.\n\n"Open it," said Mr Ratcliffe.\n\n'
            '"It is locked," said Anna.\n\n"Then break it," said Ratcliffe.\n')
    story = sl.Story.from_text(text, characters=[{"name": "Inspector Ratcliffe"}, {"name": "Anna"}])
    assert set(story.characters["character_id"]) == {"inspector_ratcliffe", "anna"}
    assert story.quotes["speaker"].tolist() == ["inspector_ratcliffe", "anna", "inspector_ratcliffe"]


def test_dataframe_cast_with_missing_cells():
    df = pd.DataFrame({"name": ["Mrs. Hall", "Tom Young"], "aliases": ["Janny", None],
                       "gender": ["female", None]})
    cast = parse_cast(df)
    assert cast[0] == {"character_id": "mrs_hall", "name": "Mrs. Hall", "aliases": ["Janny"],
                       "gender": "female"}
    assert cast[1]["aliases"] == [] and cast[1]["gender"] is None
    assert parse_cast(cast) == cast  # a parsed cast is valid input


def test_cast_forms_variants():
    forms = cast_forms(parse_cast([{"name": "The Hatter"}, {"name": "March Hare"},
                                   {"name": "The Doctor"}, {"name": "Doctor Losberne"}]))
    assert forms["the Hatter"] == forms["the hatter"] == forms["Hatter"] == "the_hatter"
    assert forms["the March Hare"] == "march_hare"
    assert "the doctor" not in forms  # a word of another member's name: left to the scene


def test_append_keeps_the_cast():
    paras = INN.split("\n\n")
    story = sl.Story.from_text("\n\n".join(paras[:3]) + "\n\n", characters=CAST)
    story.append("\n\n".join(paras[3:]))
    whole = sl.Story.from_text(INN, characters=CAST)
    assert story.uns["params"]["cast"] == parse_cast(CAST)
    assert story.quotes["speaker"].tolist() == whole.quotes["speaker"].tolist()
    assert _speakers(story)["The grey mare is lame again"] == "tom_young"


def test_save_and_load_keep_the_cast(tmp_path):
    paras = INN.split("\n\n")
    story = sl.Story.from_text("\n\n".join(paras[:4]) + "\n\n", characters=CAST)
    story.save(tmp_path / "inn")
    back = sl.Story.load(tmp_path / "inn")
    assert back.uns["params"]["cast"] == story.uns["params"]["cast"]
    back.append("\n\n".join(paras[4:]))
    assert _speakers(back)["Not tonight"] == "mr_hall"


def test_read_text_takes_a_cast(tmp_path):
    path = tmp_path / "inn.txt"
    path.write_text(INN, encoding="utf-8")
    story = sl.read_text(path, characters=CAST)
    assert _speakers(story)["Will you take some tea"] == "mrs_hall"


@pytest.mark.parametrize("cast, error, words", [
    ("Mrs. Hall", TypeError, "DataFrame or a list of dicts"),
    (["Mrs. Hall"], TypeError, "cast member 0 must be a dict"),
    ([{"aliases": ["Janny"]}], ValueError, "cast member 0 has no name"),
    ([{"name": "  "}], ValueError, "is empty"),
    ([{"name": 3}], TypeError, "must be a string, not int"),
    ([{"name": "Mrs. Hall", "aliases": 5}], TypeError, "aliases of cast member 0"),
    ([{"name": "Mrs. Hall", "gender": "f"}], ValueError, "gender of cast member 0"),
    ([{"name": "Mrs. Hall", "alias": "Janny"}], ValueError, "unknown key(s) ['alias']"),
    ([{"name": "Mr. Hall"}, {"name": "George", "aliases": ["Mr Hall"]}], ValueError,
     "'Mr Hall' is claimed by two cast members: 'Mr. Hall' and 'George'"),
    ([{"name": "Tom"}, {"name": "Tom"}], ValueError, "claimed by two cast members"),
])
def test_bad_casts_are_refused(cast, error, words):
    with pytest.raises(error) as info:
        sl.Story.from_text(INN, characters=cast)
    assert words in str(info.value)
