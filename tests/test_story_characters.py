"""One person = one character: how :func:`cluster` merges name forms (invented names)."""

import shimmy_lab as sl
from shimmy_lab.story.characters import cluster


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
