"""One person = one character: how :func:`cluster` merges name forms (invented names)."""

import pytest

import shimmy_lab as sl
from shimmy_lab.story.characters import cluster, scan_name_changes, scan_names


def _people(forms, together=frozenset()):
    """Name form -> character id, and id -> name, for ``forms`` (form -> count)."""
    surf, info = cluster(forms, {}, {}, together=set(together))
    return surf, info


def _same(surf, *forms):
    return len({surf[f] for f in forms}) == 1


def test_full_names_with_one_given_name_and_a_common_title_are_one_person():
    surf, _ = _people({"Will Garret": 7, "Mr William Garret": 4, "Mr Will Garret": 1,
                       "Mr Garret": 20, "Garret": 30})
    assert _same(surf, "Will Garret", "Mr William Garret", "Mr Garret", "Garret")


def test_two_familiar_forms_of_one_name_are_one_person():
    surf, _ = _people({"Tom Pellow": 3, "Tommy Pellow": 2, "Mr Pellow": 12})
    assert _same(surf, "Tom Pellow", "Tommy Pellow", "Mr Pellow")


def test_a_familiar_and_a_formal_name_without_a_common_title_stay_apart():
    surf, _ = _people({"Mr Thomas Pellow": 3, "Thomas Pellow": 10, "Tom Pellow": 30, "Mr Pellow": 50})
    assert surf["Tom Pellow"] != surf["Thomas Pellow"]
    assert surf["Mr Pellow"] == surf["Thomas Pellow"]  # the one called Mr


def test_mr_is_also_a_clergyman_or_a_doctor_but_not_a_captain():
    surf, _ = _people({"Mr Aske": 40, "Rev Lionel Aske": 2, "Mr Brede": 30, "Doctor Brede": 1,
                       "Captain Corby": 50, "Mr Corby": 6})
    assert _same(surf, "Mr Aske", "Rev Lionel Aske")
    assert _same(surf, "Mr Brede", "Doctor Brede")
    assert surf["Captain Corby"] != surf["Mr Corby"]


def test_a_titled_surname_joins_the_full_name_with_that_title():
    surf, _ = _people({"Captain Hugh Farrant": 2, "Captain Farrant": 90, "Hugh Farrant": 4,
                       "Lady Kit Selby": 1, "Lady Selby": 8, "Kit Selby": 20})
    assert _same(surf, "Captain Hugh Farrant", "Captain Farrant", "Hugh Farrant")
    assert _same(surf, "Lady Kit Selby", "Lady Selby", "Kit Selby")


def test_a_titled_surname_named_together_with_a_full_name_is_someone_else():
    forms = {"Mr Denner": 80, "Mr Paul Denner": 20}
    surf, _ = _people(forms, together=[frozenset(forms)])
    assert surf["Mr Denner"] != surf["Mr Paul Denner"]
    surf, _ = _people(forms)
    assert surf["Mr Denner"] == surf["Mr Paul Denner"]


def test_a_title_and_a_given_name_join_the_person_with_that_given_name():
    surf, _ = _people({"Harry Vane": 30, "Mr Harry": 1, "Miss Louisa": 5, "Lou Tarrant": 6,
                       "Lou Marsh": 1, "Louisa": 40})
    assert surf["Mr Harry"] == surf["Harry Vane"]
    assert _same(surf, "Miss Louisa", "Louisa", "Lou Tarrant")  # the Lou named most


def test_the_title_alone_is_the_person_who_holds_it():
    surf, _ = _people({"Colonel Ravel": 13, "the Colonel": 30, "Admiral Stowe": 14,
                       "Admiral Dunn": 2, "Admiral": 16})
    assert surf["the Colonel"] == surf["Colonel Ravel"]
    assert surf["Admiral"] == surf["Admiral Stowe"]  # named far more than the other admiral


def test_a_short_description_joins_the_longer_one_and_a_bare_word_its_description():
    surf, _ = _people({"the Grey Fox": 20, "the Fox": 20, "the Weasel": 90, "Weasel": 17})
    assert surf["the Fox"] == surf["the Grey Fox"]
    assert surf["Weasel"] == surf["the Weasel"]


def test_a_formal_given_name_joins_the_one_person_called_by_its_nickname():
    surf, _ = _people({"Mike Dorran": 250, "Michael": 29, "Nance": 8, "Miss Nancy": 3, "Nancy": 110})
    assert surf["Michael"] == surf["Mike Dorran"]
    assert _same(surf, "Nance", "Nancy", "Miss Nancy")


def test_a_nickname_tells_the_sex_of_a_full_name():
    surf, info = _people({"Sissy Larke": 140, "Signor Larke": 5})
    assert surf["Sissy Larke"] != surf["Signor Larke"]
    assert info[surf["Sissy Larke"]]["gender"] == "female"


def test_a_full_name_seen_once_does_not_name_the_character():
    surf, info = _people({"Mr Pryor": 199, "Reverend Arthur Pryor": 1})
    assert surf["Mr Pryor"] == surf["Reverend Arthur Pryor"]
    assert info[surf["Mr Pryor"]]["name"] == "Mr Pryor"


def test_a_man_who_names_himself_in_his_speech_is_one_character():
    text = ("Mr. Dobbage stood by the fire.\n\n"
            '"Hiram Dobbage never asked a favour," said Mr. Dobbage. "Hiram Dobbage worked."\n\n'
            "Hiram Dobbage nodded, for he had come from nothing.\n\n"
            '"You have said so before," said Mrs. Cole.\n\n'
            '"And Hiram Dobbage will say it again," said Mr. Dobbage.\n\n'
            "Mr. Dobbage went out.\n")
    story = sl.Story.from_text(text)
    assert story.character("Mr. Dobbage") == story.character("Hiram Dobbage")


def test_a_full_name_given_only_beside_the_short_one_is_the_same_man():
    text = ("Mr. Noel Ashby came in, and Mr. Ashby bowed.\n\n"
            '"Good day," said Mr. Ashby.\n\n'
            "Mr. Ashby sat. Mr. Noel Ashby, the narrator adds, was Mr. Ashby in every respect.\n\n"
            '"Tea?" said Mrs. Ward.\n\n"Thank you," said Mr. Ashby.\n')
    story = sl.Story.from_text(text)
    assert story.character("Mr. Ashby") == story.character("Mr. Noel Ashby")


def test_a_surname_with_a_particle_after_a_title_is_one_name():
    text = ("Monsieur de Villars came in.\n\n"
            '"Good evening," said Monsieur de Villars.\n\n'
            '"You are late," said Anne Maury.\n\n'
            'Villars bowed. "The roads," said Villars.\n')
    story = sl.Story.from_text(text)
    assert "Monsieur de Villars" in set(story.names["surface"])
    assert story.character("Monsieur de Villars") == story.character("Villars") is not None


def _changes(text):
    """(former, first current form, kind) of each change of name ``text`` tells."""
    return [(c["former"], c["current"][0], c["kind"]) for c in scan_name_changes(text)]


def test_an_apposition_tells_a_change_of_name():
    assert _changes("Miss Hale, now Mrs. Rowe, had been kind to her at school.") == [
        ("Miss Hale", "Mrs Rowe", "now")]
    assert _changes('"Nor Mrs. Rowe (poor Miss Hale that was) would bear it."') == [
        ("Miss Hale", "Mrs Rowe", "that was")]
    assert _changes("Then Mrs. Rowe, formerly Miss Hale, came in.") == [
        ("Miss Hale", "Mrs Rowe", "formerly")]
    assert _changes('"Very well," said Mr. Dick Leek, late Crump, to the host.') == [
        ("Crump", "Mr Dick Leek", "formerly")]


def test_a_marriage_gives_the_woman_her_husbands_name():
    found = scan_name_changes("In the spring Mr. Rowe had married Miss Hale, and kept the inn.")
    assert [(c["former"], c["current"], c["husband"]) for c in found] == [
        ("Miss Hale", ["Mrs Rowe"], "Mr Rowe")]
    assert _changes("Nell married old Rowe. She never had a lover.") == [("Nell", "Mrs Rowe", "married")]
    assert scan_name_changes("He met Hal Rowe's wife Mary at the gate.")[0]["current"] == [
        "Mrs Hal Rowe", "Mrs Rowe"]


def test_a_wish_a_question_a_denial_or_a_vocative_tells_no_change():
    assert _changes("I do wish that Mr. Rowe had married Miss Hale instead.") == []
    assert _changes("Has Mr. Rowe married Miss Hale? Nobody knows.") == []
    assert _changes("Mr. Rowe married Miss Hale's sister in May.") == []
    assert _changes('"Come, Jane, now Mary, be quick!" said Mrs. Rowe.') == []
    assert _changes("Mr. Rowe sat by Miss Hale. Mrs. Rowe married late.") == []


def test_a_change_of_name_makes_one_character_named_by_the_later_name():
    changes = [{"former": "Miss Hale", "current": ["Mrs Rowe"], "kind": "now", "start": 0}]
    forms = {"Miss Hale": 50, "Mrs Rowe": 10, "Mr Rowe": 30}
    surf, info = cluster(forms, {}, {}, changes=changes)
    assert surf["Miss Hale"] == surf["Mrs Rowe"] != surf["Mr Rowe"]
    assert info[surf["Miss Hale"]]["name"] == "Mrs Rowe"
    surf, _ = cluster(forms, {}, {})
    assert surf["Miss Hale"] != surf["Mrs Rowe"]  # no change told: two women
    with pytest.raises(ValueError, match="keys"):
        cluster(forms, {}, {}, changes=[{"former": "Miss Hale", "current": ["Mrs Rowe"],
                                         "kind": "married"}])  # no husband
    with pytest.raises(ValueError, match="list of name forms"):
        cluster(forms, {}, {}, changes=[{"former": "Miss Hale", "current": "Mrs Rowe", "kind": "now"}])


def _read(text, together=frozenset()):
    """Form -> character id of a made-up ``text``, its changes of name joined."""
    forms = {}
    for c in scan_names(text, 0, len(text)):
        forms[c["surface"]] = forms.get(c["surface"], 0) + 1
    surf, _ = cluster(forms, {}, {}, together=set(together), changes=scan_name_changes(text))
    return surf


def test_sisters_named_together_stay_two_women():
    text = ("Miss Hale walked with her sister Mrs. Rowe. Mrs. Rowe was the elder. Miss Hale "
            "laughed, and Mr. Rowe came in. Miss Hale and Mrs. Rowe went out.")
    surf = _read(text)
    assert surf["Miss Hale"] != surf["Mrs Rowe"]


def test_a_marriage_to_the_son_does_not_make_her_his_mother():
    text = ("Mr. Rowe and Mrs. Rowe had one son. Mr. Rowe was old. Hal Rowe had married Miss "
            "Hale, and Mrs. Rowe did not like her. Hal Rowe laughed. Miss Hale sang.")
    surf = _read(text, {frozenset(("Mr Rowe", "Hal Rowe"))})
    assert surf["Mr Rowe"] != surf["Hal Rowe"]
    assert surf["Miss Hale"] != surf["Mrs Rowe"]
    surf = _read("Mr. Rowe had married Miss Hale in May. Mrs. Rowe kept the inn, and Mr. Rowe "
                 "the books.")
    assert surf["Miss Hale"] == surf["Mrs Rowe"] != surf["Mr Rowe"]


def test_a_read_story_joins_the_names_a_marriage_changes():
    """Through ``Story.from_text``: the woman of "Mr. Rowe had married Miss Hale" is one
    character, named by her married name."""
    from shimmy_lab.story import Story

    text = ("CHAPTER I\n\nMiss Hale lived at the mill with her father, and Miss Hale walked to the "
            "village every morning.\n\n\"The bread is late,\" said Miss Hale.\n\n"
            "CHAPTER II\n\nIn the spring Mr. Rowe had married Miss Hale, and the village talked of "
            "nothing else.\n\n\"The bread is early now,\" said Mrs. Rowe.\n\n"
            "\"It always was,\" said Mr. Rowe.\n")
    story = Story.from_text(text)
    c = story.characters
    women = c[c["name"].isin(["Mrs Rowe", "Miss Hale"])]
    assert list(women["name"]) == ["Mrs Rowe"]
    assert "Miss Hale" in str(women["aliases"].iloc[0])
    speakers = set(story.quotes["speaker"].dropna())
    assert women["character_id"].iloc[0] in speakers and len(speakers) == 2


def test_a_saints_name_with_a_possessive_is_a_place():
    """"St. Paul's" is a church: no character "Paul" comes of it."""
    from shimmy_lab.story import Story

    text = ("CHAPTER I\n\nThe bell of St. Paul's struck nine as Mr. Rowe crossed the bridge, and the bell "
            "of St. Paul's Cathedral struck again when he came home.\n\n\"It is late,\" said Mr. Rowe.\n")
    names = set(Story.from_text(text).characters["name"])
    assert "Paul" not in names and "St Paul" not in names
    assert "Mr Rowe" in names


def test_the_late_maiden_name_of_a_married_woman_is_no_death():
    """"the late Miss Hale" of a woman now Mrs Rowe (the text told the marriage) is her
    name before, not her death: no death fact for her."""
    from shimmy_lab.story import Story

    text = ("CHAPTER I\n\nMiss Hale lived at the mill with her father.\n\n\"The bread is late,\" said "
            "Miss Hale.\n\nCHAPTER II\n\nIn the spring Mr. Rowe had married Miss Hale, and the village "
            "talked of nothing else.\n\nNobody could say whether the late Miss Hale was happier at the "
            "farm.\n\n\"The bread is early now,\" said Mrs. Rowe.\n")
    story = Story.from_text(text)
    facts = story.facts
    assert not (facts["attribute"] == "death").any()


def test_old_before_a_name_is_an_epithet_not_a_name():
    """"Old Stephen" is Stephen Blackpool, as "Poor Harriet" is Harriet."""
    from shimmy_lab.story import Story

    text = ("CHAPTER I\n\nStephen Blackpool worked at the loom all day, and Stephen Blackpool walked home "
            "in the rain.\n\n\"The mill is cold,\" said Stephen Blackpool.\n\n"
            "Old Stephen said nothing more that night.\n\n\"It will be warm tomorrow,\" said Old Stephen.\n")
    story = Story.from_text(text)
    names = set(story.characters["name"])
    assert "Old Stephen" not in names and "Stephen Blackpool" in names
    assert story.quotes["speaker"].nunique() == 1


def test_the_title_alone_names_its_one_holder():
    text = ('Admiral Croft came to Kellynch with his wife. "We like it," said Admiral Croft.\n\n'
            'Anne walked on, and the Admiral followed her. She heard nothing of the Admiral '
            'for an hour; then the Admiral came back, and he looked pleased.\n\n'
            '"A fine day," said he.\n')
    st = sl.Story.from_text(text)
    m = st.mentions
    assert set(m.loc[m["surface"].astype(str) == "the Admiral", "character_id"]) == {"admiral_croft"}
    assert len(m[m["surface"].astype(str) == "the Admiral"]) == 3


def test_a_title_case_heading_does_not_glue_words_to_a_name():
    from shimmy_lab.story.characters import scan_names
    text = ("Chapter IX: How Lucy Faced the Storm, and Miss Lucy Marsh Drove Out\n\n"
            "Lucy faced the window. She drove out at noon. Lucy Marsh was tired.\n")
    surfaces = [c["surface"] for c in scan_names(text, 0, len(text))]
    assert "Lucy Faced" not in surfaces and "Lucy" in surfaces
    assert "Miss Lucy Marsh" in surfaces and not any("Drove" in s for s in surfaces)
    # in prose a capitalised word after a given name stays a surname
    assert "Lucy Marsh" in surfaces


def test_master_and_surname_is_the_boy_named_beside_it():
    text = ('Charley Bates and Master Bates were one boy. "Hallo!" cried Charley Bates.\n\n'
            '"Quiet," said Master Bates. Charley Bates laughed.\n\n'
            'Master Charley Bates and Master Bates ran off. Master Bates laughed again.\n')
    st = sl.Story.from_text(text)
    bates = st.characters[st.characters["name"].str.contains("Bates")]
    assert len(bates) == 1, bates[["name", "aliases"]]


def test_a_name_misprinted_once_is_the_common_one_but_a_plural_is_not():
    from shimmy_lab.story.characters import _misprints
    forms = {"Mr Brownlow": 40, "Mr Browlow": 1, "Rachael": 30, "Rachel": 2, "Mr Knightley": 50,
             "Knightleys": 2, "Mrs Braddocks": 12, "Mrs Braddock": 1, "Maria": 1, "Marie": 20,
             "Louisa": 1, "Louise": 5}
    # "Knightleys" is a plural, "Maria" beside "Marie" another name (the last letter), and
    # "Louise" is not used ten times as often as "Louisa"
    assert _misprints(forms) == {"Mr Browlow": "Mr Brownlow", "Rachel": "Rachael",
                                 "Mrs Braddock": "Mrs Braddocks"}
