"""Topic drift signals (shimmy_lab.trackers.topic) on texts written for the test."""

from __future__ import annotations

from collections import Counter

from shimmy_lab.trackers import _util as U
from shimmy_lab.trackers.topic import is_unrelated, topic_row, topic_signals

STORY = " ".join([
    "Martha walked down to the harbour where the fishing boats lay at anchor in the grey morning.",
    "Her brother Tom was mending nets on the quay, and the gulls cried over the water.",
    "They spoke of the storm that had kept the boats in for three days, and of the price of herring.",
] * 12)
MANUAL = ("To replace the filter cartridge, switch the appliance off at the mains and wait two minutes. "
          "Press the release catch, slide the cartridge out of its housing and discard it. Insert the "
          "replacement cartridge until it clicks, reset the indicator by holding the service button for "
          "five seconds, and run one empty cycle before normal use. Warranty claims require the receipt.")
HARBOUR = ("The morning was grey over the harbour. The fishing boats lay at anchor, the gulls cried over "
           "the water, and the nets hung drying along the quay; the storm had kept every boat in for three "
           "days, and the smell of herring and tar was everywhere in the cold wind from the sea.")


def _signals(par: str, mentions: int = 0):
    text = STORY + "\n\n" + par + "\n\n" + STORY
    s = len(STORY) + 2
    vocab = Counter(U.words(text))
    return topic_signals(text, s, s + len(par), par, vocab, Counter(U.words(par)), mentions)


def test_a_manual_paragraph_in_a_harbour_story_is_unrelated():
    sig = _signals(MANUAL)
    assert sig["mentions"] == 0 and sig["local"] < 0.2 and sig["novel"] > 0.5
    assert is_unrelated(sig)
    row = topic_row(sig, 10, 20, "drift")
    assert row["kind"] == "topic_drift" and (row["start"], row["end"]) == (10, 20)
    assert "names none of the story's characters" in row["message"]


def test_a_description_of_the_storys_own_world_is_not():
    sig = _signals(HARBOUR)
    assert sig["local"] > 0.5 and not is_unrelated(sig)


def test_a_paragraph_that_names_a_character_is_not_unrelated():
    assert not is_unrelated(_signals(MANUAL.replace("Warranty", "Martha said that warranty"), mentions=1))


def test_short_paragraphs_are_not_judged():
    assert not is_unrelated(_signals("Insert the replacement cartridge until it clicks."))


FOREIGN = ("Lady Wardour drove over from Pemberley that afternoon, and she told Edmund and his "
           "cousin Julia all about the ball at Netherfield; they laughed at her account of the "
           "quadrilles, the candles, the supper and the musicians, and she promised them a "
           "better evening at Mansfield before the winter was out.")


def test_a_paragraph_from_another_book_brings_people_of_its_own():
    sig = _signals(FOREIGN)
    assert sig["people"] >= 0.05 and sig["new_names"] >= 2
    assert is_unrelated(sig)
    # the same paragraph with its people taken out speaks of people the story may know
    anon = FOREIGN
    for name in ("Lady Wardour", "Pemberley", "Edmund", "Julia", "Netherfield", "Mansfield"):
        anon = anon.replace(name, "the other")
    assert _signals(anon)["new_names"] == 0 and not is_unrelated(_signals(anon))


def test_a_continuation_may_meet_new_people_and_places():
    # the story moves on: new names alone do not make a continuation's paragraph foreign
    sig = {"n_content": 40, "novel": 0.35, "local": 0.1, "people": 0.1, "mentions": 0,
           "new_names": 3}
    assert is_unrelated(sig) and not is_unrelated(sig, continuation=True)
    # a paragraph about no one stays unrelated in a continuation too
    assert is_unrelated(_signals(MANUAL), continuation=True)
    # ... unless it is told in the story's tense: the story describing what it has not shown
    told = {**_signals(HARBOUR), "novel": 0.35, "local": 0.1, "people": 0.0, "told": True}
    assert is_unrelated(told) and not is_unrelated(told, continuation=True)
    assert is_unrelated({**told, "novel": 0.6}, continuation=True)  # almost all new words
