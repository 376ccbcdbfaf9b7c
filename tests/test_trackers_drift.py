"""Drift stabilizer: POV, tense and topic shifts in the story and in candidate text."""

from __future__ import annotations

import pytest

import shimmy_lab as sl
from shimmy_lab.trackers.drift import DriftReport, drift
from narrative_texts import STORY


@pytest.fixture(scope="module")
def emma():
    return sl.Story.from_text(sl.datasets.load("austen-emma")[:300_000])


def test_candidate_in_keeping(emma):
    cand = ("Emma sat with her father by the fire that evening, and Mr. Knightley came in "
            "from Donwell with news of Harriet and of the Westons, which pleased her very much.")
    r = sl.drift(emma, cand)
    assert isinstance(r, DriftReport)
    assert 0.0 <= r.score < 0.3
    assert not len(r.insights)


def test_candidate_first_person_and_present(emma):
    cand = ("I walk into the garden and I look at the roses. I am tired, and my hands shake. "
            "She says nothing to me; I know she is angry, and I wonder what I have done to her. "
            "The day is warm and the house is quiet.")
    r = sl.drift(emma, cand)
    kinds = set(r.insights["kind"])
    assert {"pov_shift", "tense_shift"} <= kinds
    assert r.score > 0.7
    row = r.insights.iloc[0]
    assert 0 <= row.start < row.end <= len(cand)


def test_candidate_off_topic_and_facts(emma):
    off = ("The quantum reactor hummed while the starship crew calibrated plasma conduits, "
           "scanning nebulae for asteroid miners, cyborgs and photon torpedoes near Jupiter's "
           "orbital shipyards and the android garrison.")
    r = sl.drift(emma, off)
    assert "topic_drift" in set(r.insights["kind"]) and r.score > 0.5
    s = sl.Story.from_text(STORY)
    r2 = sl.drift(s, "Kitty Bell had brown eyes and a gentle smile.")
    hits = r2.insights[r2.insights["kind"] == "fact_contradiction"]
    assert len(hits) == 1 and "brown" in "Kitty Bell had brown eyes"[hits.start.iloc[0]:hits.end.iloc[0]]
    r3 = sl.drift(s, '"I have found the money," said Tom, and he laughed.')
    assert "dead_character_acts" in set(r3.insights["kind"])


def test_scan_story_finds_injected_first_person(emma):
    para = ("I went down to the village that morning, and I saw my old friend at the door of "
            "the shop. I had not seen him for a year, and I was glad; my heart was full, and I "
            "told him everything that I had done since we parted, while he listened to me.")
    text = emma.text[:150_000]
    cut = text.rindex("\n\n", 0, 100_000)
    s = sl.Story.from_text(text[:cut] + "\n\n" + para + text[cut:])
    drift(s)
    ins = s.tables["insights"]
    hit = ins[(ins["kind"] == "pov_shift") & (ins["start"] <= cut + 2) & (ins["end"] > cut + 2)]
    assert len(hit) == 1
    assert s.uns["params"]["drift"]["min_words"] == 40


def test_light_candidate_reader_attributes_with_story_ids(emma):
    from shimmy_lab.trackers.drift import _baseline, _read_candidate

    cand = ('"I have been thinking of the ball," said Emma. Mr. Knightley smiled.\n\n'
            '"Is anything the matter?" asked Mr. Knightley.')
    c = _read_candidate(_baseline(emma), cand)
    speakers = [(cand[q["start"]:q["end"]], q["speaker"]) for q in c["quotes"]]
    assert speakers == [('"I have been thinking of the ball,"', emma.character("Emma")),
                        ('"Is anything the matter?"', emma.character("Mr. Knightley"))]
    assert {m[2] for m in c["mentions"]} == {emma.character("Emma"),
                                             emma.character("Mr. Knightley")}


def test_candidate_dead_speaker_and_fact_in_light_path():
    s = sl.Story.from_text(STORY)
    r = sl.drift(s, 'Tom came to the door and knocked twice. Kitty Bell had brown eyes.')
    kinds = dict(zip(r.insights["kind"], zip(r.insights["start"], r.insights["end"])))
    cand = 'Tom came to the door and knocked twice. Kitty Bell had brown eyes.'
    assert cand[slice(*kinds["dead_character_acts"])] == "Tom came"
    assert cand[slice(*kinds["fact_contradiction"])] == "Kitty Bell had brown eyes"
    assert r.components["fact_contradiction"] == 0.9


def test_candidate_drift_is_fast(emma):
    import time

    cand = " ".join(["Emma walked with Harriet to Highbury, and they talked of Mr. Elton."] * 15)
    sl.drift(emma, cand)  # builds the story's cached baseline
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        sl.drift(emma, cand)
        ts.append(time.perf_counter() - t0)
    assert sorted(ts)[2] < 0.1  # ~10 ms on the 2-core machine; generous for slow CI
