"""The turn-taking model: candidates, features, the shipped weights, recording for training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shimmy_lab.story import Story
from shimmy_lab.story.dialogue import PROMINENCE_TAGS
from shimmy_lab.story.turns import FEATURES, PRIOR, TurnModel, load_model, recording, turn_features
from turn_reads import whole_and_appended

COL = {f: i for i, f in enumerate(FEATURES)}


def _row(cands, X, cid):
    return {f: X[cands.index(cid)][COL[f]] for f in FEATURES}


def test_features_of_an_alternating_exchange():
    # anne (tag), ben (tag), ?, ?, anne (tag): turn 2 and 3 are free
    speakers = ["anne", "ben", None, None, "anne"]
    anchored = [True, True, False, False, True]
    cands, X = turn_features(2, speakers, anchored, [None, "anne", None, None, None], [0, 0, 0, 0, 0],
                             named_here=[], named_between=[], narrator=None, recent=["ben", "anne", "carl"])
    assert X.shape == (len(cands), len(FEATURES))
    assert set(cands) == {"anne", "ben", "carl"}
    anne, ben, carl = (_row(cands, X, c) for c in ("anne", "ben", "carl"))
    assert anne["spoke_2"] == anne["alternates"] == anne["last_other"] == 1
    assert anne["called_before"] == 1  # ben's line called anne by name
    assert anne["anchor_ahead_even"] == 0.5 and anne["anchor_behind_even"] == 0  # ben is nearer behind
    assert ben["spoke_1"] == 1 and ben["alternates"] == 0 and ben["anchor_behind_odd"] == 1.0
    assert carl["recent"] == pytest.approx(1 / 3) and sum(carl.values()) == pytest.approx(1 / 3)


def test_narration_between_and_narrator_features():
    cands, X = turn_features(1, ["me", None], [True, False], [None, None], [0, 1],
                             named_here=["dora"], named_between=["eli"], narrator="me", recent=[],
                             i_here=True, pronoun_here="female", gender={"dora": "female"},
                             hint=("beat", "dora"))
    dora, eli, me = (_row(cands, X, c) for c in ("dora", "eli", "me"))
    assert dora["named_here"] == dora["pronoun_here"] == dora["beat"] == 1 and dora["lead"] == 0
    assert eli["named_between"] == 1 and eli["named_here"] == 0
    assert me["narrator_here"] == me["spoke_1"] == me["spoke_1_gap"] == 1
    assert "narrator" not in _row(cands, X, "me")  # no prior of its own: it did not hold out of sample


def test_names_inside_the_lines_and_questions():
    cands, X = turn_features(2, ["ann", "bo", None], [True, True, False], [None, None, None], [0, 0, 0],
                             named_here=[], named_between=[], narrator=None, recent=["cy"],
                             in_line=["cy"], in_previous=["ann"], asked=True)
    ann, bo, cy = (_row(cands, X, c) for c in ("ann", "bo", "cy"))
    assert ann["answers"] == ann["named_in_previous"] == 1 and bo["answers"] == 0
    assert cy["named_in_line"] == 1 and ann["named_in_line"] == 0


def test_model_chooses_the_highest_score():
    m = TurnModel({"alternates": 2.0, "spoke_1": -1.0})
    X = np.zeros((2, len(FEATURES)))
    X[0, COL["spoke_1"]] = 1
    X[1, COL["alternates"]] = 1
    who, p = m.choose(["a", "b"], X)
    assert who == "b" and 0.9 < p < 1
    assert m.choose([], np.zeros((0, len(FEATURES)))) == (None, 0.0)
    with pytest.raises(ValueError, match="unknown turn features"):
        TurnModel({"no_such_feature": 1.0})


def test_the_shipped_model_knows_every_feature(tmp_path):
    shipped = load_model()
    assert set(shipped.weights) == set(FEATURES) == set(shipped.pronoun)
    p = tmp_path / "turns.json"
    p.write_text(json.dumps(TurnModel(PRIOR, {"lead": 1.5}).to_json()))
    assert load_model(str(p)).weights == PRIOR and load_model(str(p)).pronoun == {"lead": 1.5}
    # a model file from before the pronoun weights: the tag keeps the reader's rule choice
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"features": list(FEATURES), "weights": PRIOR}))
    assert load_model(str(old)).pronoun == {"rule": 10.0}


def test_a_tag_pronoun_is_chosen_among_the_people_of_its_gender():
    text = ('Ann Lee, Rose Day and Tom Hart stood at the gate.\n\n"Is it open?" asked Ann Lee.\n\n'
            '"No," said Tom Hart.\n\nRose Day laughed at them both. "Then climb," she said.\n')
    model = TurnModel(PRIOR, {"lead": 3.0, "rule": 1.0})
    with recording(model) as rec:
        st = Story.from_text(text)
    (r,) = [r for r in rec if r["kind"] == "pronoun"]
    assert set(r["candidates"]) == {"ann_lee", "rose_day"}  # not Tom: "she"
    q = st.quotes.set_index(st.quotes["text"].str.strip())
    assert q.loc["Then climb,", "speaker"] == "rose_day" and q.loc["Then climb,", "method"] == "tag"
    # weights that prefer the last speaker of that gender over the paragraph's subject
    with recording(TurnModel(PRIOR, {"spoke_2": 3.0})):
        st = Story.from_text(text)
    assert st.quotes.set_index(st.quotes["text"].str.strip()).loc["Then climb,", "speaker"] == "ann_lee"


def test_the_beam_finds_a_reading_at_least_as_likely_as_left_to_right(monkeypatch):
    from shimmy_lab.story import dialogue

    text = ('Ann Lee and Bo Hart sat at the table.\n\n"Shall we go?" said Ann Lee.\n\n"Not yet," said Bo Hart.'
            '\n\n"Then we stay," said Ann Lee.\n\n"Is it late?" Ann Lee looked at the clock.\n\n"Nearly nine."\n')
    model = load_model()

    def joint(beam: int) -> float:
        monkeypatch.setattr(dialogue, "BEAM", beam)
        with recording(model) as rec:
            st = Story.from_text(text)
        by_start = dict(zip(st.quotes["start"], st.quotes["speaker"]))
        p = 1.0
        for r in rec:
            chosen = next(sp for s, sp in by_start.items() if r["start"] <= s < r["end"])
            p *= model.probabilities(r["candidates"], r["X"], r["kind"])[r["candidates"].index(chosen)]
        return p

    greedy, beam = joint(1), joint(4)
    assert 0 < greedy <= beam + 1e-12


def test_recording_collects_every_decided_turn():
    text = ('"Ready?" said Nora.\n\n"Yes," said Owen.\n\n"Then go."\n\n"Now?"\n\n'
            '"Now," said Nora.\n')
    with recording(TurnModel(PRIOR)) as rec:
        st = Story.from_text(text)
    assert [text[r["start"]:r["start"] + 4] for r in rec] == ['"The', '"Now']
    q = st.quotes.set_index(st.quotes["text"].str.strip())["speaker"]
    assert q["Then go."] == q["Ready?"] and q["Now?"] == q["Yes,"]
    assert all(r["X"].shape == (len(r["candidates"]), len(FEATURES)) for r in rec)


def test_prominence_is_the_share_of_tagged_speech():
    cands, X = turn_features(1, ["ann", None], [True, False], [None, None], [0, 0],
                             named_here=[], named_between=[], narrator=None, recent=["bo"],
                             prominence={"ann": 1.0, "bo": 0.25})
    assert _row(cands, X, "ann")["prominence"] == 1.0 and _row(cands, X, "bo")["prominence"] == 0.25
    _, X0 = turn_features(1, ["ann", None], [True, False], [None, None], [0, 0],
                          named_here=[], named_between=[], narrator=None, recent=["bo"])
    assert not X0[:, COL["prominence"]].any()  # not given: 0


def test_the_reader_gives_the_model_each_speakers_prominence():
    text = ('Anne Hale and Ben Cole met in the lane.\n\n"Good day," said Anne Hale.\n\n'
            '"And to you," said Ben Cole.\n\n"Is it far?" said Anne Hale.\n\n"Not far."\n\n"Good."\n')
    with recording() as rec:
        Story.from_text(text)
    row = next(r for r in rec if r["kind"] == "turn")
    X = np.asarray(row["X"])
    prom = dict(zip(row["candidates"], X[:, COL["prominence"]]))
    # two tags against one; three tags in all count 3/PROMINENCE_TAGS of a full share
    sure = 3 / PROMINENCE_TAGS
    assert prom["anne_hale"] == pytest.approx(sure) and 0 < prom["ben_cole"] < sure


def test_an_append_counts_the_tags_read_before_in_prominence():
    head = ('Anne Hale and Ben Cole met in the lane.\n\n' + '"Good day," said Anne Hale.\n\n' * 3
            + '"And to you," said Ben Cole.\n\n')
    whole, appended = whole_and_appended(head, '"Is it far?" said Anne Hale.\n\n"Not far."\n\n"Good."\n')
    col = COL["prominence"]
    last = {r["start"]: dict(zip(r["candidates"], np.asarray(r["X"])[:, col])) for r in whole}
    got = {r["start"]: dict(zip(r["candidates"], np.asarray(r["X"])[:, col])) for r in appended}
    assert got and all(got[k] == last[k] for k in got)
    sure = 5 / PROMINENCE_TAGS  # the five tags read before and after the cut
    assert any(v.get("anne_hale") == pytest.approx(sure) and 0 < v.get("ben_cole", 0) < sure
               for v in got.values())


def test_prominence_counts_in_full_only_with_many_tags():
    text = "".join(f'"Line {i}," said {"Anne Hale" if i % 3 else "Ben Cole"}.\n\n' for i in range(150))
    with recording() as rec:
        Story.from_text('Anne Hale and Ben Cole met in the lane.\n\n' + text + '"Not far."\n\n"Good."\n')
    prom = dict(zip(rec[-1]["candidates"], np.asarray(rec[-1]["X"])[:, COL["prominence"]]))
    assert prom["anne_hale"] == 1.0 and 0 < prom["ben_cole"] < 1.0


def test_a_model_file_with_a_retired_feature_still_loads(tmp_path):
    path = tmp_path / "turns.json"
    path.write_text(json.dumps({"weights": {"alternates": 1.0, "narrator": 0.9},
                                "pronoun": {"rule": 2.0, "narrator": 0.0}}), encoding="utf-8")
    model = load_model(str(path))
    assert model.weights == {"alternates": 1.0} and model.pronoun == {"rule": 2.0}
    with pytest.raises(ValueError, match="unknown turn features"):
        TurnModel({"no_such_feature": 1.0})
