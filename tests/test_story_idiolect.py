"""Idiolects (the word profiles of tagged lines) and the sex a line addresses: the turn
features that read a line's words."""

from __future__ import annotations

import numpy as np
import pytest
from shimmy_lab.story import Story
from turn_reads import whole_and_appended
from shimmy_lab.story.dialogue import _addressed_sex, tagged_lines
from shimmy_lab.story.idiolect import LIMIT, Idiolects, words
from shimmy_lab.story.turns import FEATURES, recording, turn_features

COL = FEATURES.index("idiolect")


def test_words_keep_contractions_and_marks():
    assert words("Thou'rt wi' me -- aren't thee? Ay!") == ["thou'rt", "wi", "me", "--", "aren't", "thee", "?",
                                                          "ay", "!"]


def test_a_line_scores_highest_for_the_speaker_whose_words_it_uses():
    lines = [("stephen", "Ay, lass, thou'rt reet. I ha' nowt to say."), ("stephen", "Thou'rt a good lass, Rachael."),
             ("louisa", "Father, I have often thought that life is very short."),
             ("louisa", "What does it matter, Tom? I have no choice.")]
    idio = Idiolects(lines)
    line = words("Ay, thou'rt reet, lass.")
    assert idio.score("stephen", line) > 0 > idio.score("louisa", line)
    assert idio.score("nobody", line) is None  # no tagged line: no evidence
    assert -LIMIT <= idio.score("louisa", words("thou'rt " * 500)) == -LIMIT


def test_only_lines_tagged_by_a_name_teach_the_idiolects():
    text = 'said Ann. said he.'
    quotes = [{"method": "tag", "speaker": "ann", "speaker_start": 5, "speaker_end": 8, "text": "One."},
              {"method": "tag", "speaker": "bo", "speaker_start": 15, "speaker_end": 17, "text": "Two."},
              {"method": "turn", "speaker": "bo", "speaker_start": None, "speaker_end": None, "text": "Three."}]
    assert tagged_lines(text, quotes) == [("ann", "One.")]


def test_a_candidate_without_tagged_lines_gets_the_mean_of_the_others():
    scores = {"ann": 2.0, "bo": -1.0, "cy": None}
    cands, X = turn_features(1, ["ann", None], [True, False], [None, None], [0, 0], named_here=["bo", "cy"],
                             named_between=[], narrator=None, recent=[], idiolect=scores.get)
    got = dict(zip(cands, X[:, COL]))
    assert got == {"ann": 2.0, "bo": -1.0, "cy": 0.5}
    _, X0 = turn_features(1, ["ann", None], [True, False], [None, None], [0, 0], named_here=["cy"],
                          named_between=[], narrator=None, recent=[], idiolect=lambda c: None)
    assert not X0[:, COL].any()


def _exchange(n: int) -> str:
    return "".join(f'"Ay, lass, thou\'rt reet, I ha\' nowt {i}," said Stephen.\n\n'
                   f'"I do not know what you mean {i}," said Louisa.\n\n' for i in range(n))


def test_the_reader_scores_each_untagged_line_against_the_tagged_ones():
    text = 'Stephen Blackpool met Louisa Gradgrind.\n\n' + _exchange(3) + '"Ay, lass, thou\'rt reet."\n\n'
    with recording() as rec:
        Story.from_text(text)
    row = rec[-1]
    got = dict(zip(row["candidates"], np.asarray(row["X"])[:, COL]))
    assert got["stephen_blackpool"] > 0 > got["louisa_gradgrind"]


def test_an_append_learns_from_the_lines_tagged_before():
    whole, appended = whole_and_appended('Stephen Blackpool met Louisa Gradgrind.\n\n' + _exchange(3),
                                         '"Good day," said Louisa.\n\n"Ay, lass, thou\'rt reet."\n')
    got, want = np.asarray(appended[-1]["X"])[:, COL], np.asarray(whole[-1]["X"])[:, COL]
    assert appended[-1]["candidates"] == whole[-1]["candidates"]
    assert got.any() and np.allclose(got, want)


@pytest.mark.parametrize("line, sex", [("But, my dear sir, the difference!", "male"), ("Yes, ma'am.", "female"),
                                       ("Papa, you know we settled it.", "male"), ("I told my father so.", None),
                                       ("No, sir; nor you, madam.", None), ("Sir!", "male")])
def test_the_sex_a_line_calls_someone_by(line, sex):
    assert _addressed_sex(line) == sex


def test_a_candidate_of_the_sex_the_line_addresses_is_marked():
    cands, X = turn_features(1, ["ann", None], [True, False], [None, None], [0, 0], named_here=["bo"],
                             named_between=[], narrator=None, recent=[], gender={"ann": "female", "bo": "male"},
                             addressed="male")
    got = dict(zip(cands, X[:, FEATURES.index("addressed_sex")]))
    assert got == {"ann": 0, "bo": 1}
