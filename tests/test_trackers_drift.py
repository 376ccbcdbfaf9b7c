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


# --- person and tense, sentence by sentence (person_tense) ------------------------------

def _marks(sentence, vocab_text="", first_person=False):
    from collections import Counter

    from shimmy_lab.trackers import _util as U
    from shimmy_lab.trackers import person_tense as PT

    verbs = PT.Verbs(Counter(U.words(vocab_text)), vocab_text)
    toks = [m.group(0) for m in PT._TOK.finditer(sentence)]
    return PT._tense_marks(toks, verbs, {"Martha", "Tobias"}, first_person), PT._first_marks(toks)


def test_tense_marks_present_and_past_verbs():
    vocab = "she rested and stirred; the kettle was boiling; he nodded, folding his letters"
    (pres, past, ev), _ = _marks("Martha stirs the pot and Tobias nods.", vocab)
    assert pres == 2 and past == 0 and ev == ["Martha stirs", "Tobias nods"]
    (pres, past, _), _ = _marks("Martha stirred the pot and Tobias nodded.", vocab)
    assert pres == 0 and past == 2
    # the kettle is boiling: a present progressive with any subject
    (pres, _, _), _ = _marks("Meanwhile the kettle is boiling over.", vocab)
    assert pres == 1
    # a plural noun after an adjective is no verb ("the old letters"), nor a general "it is"
    (pres, _, _), _ = _marks("She burned the old letters. It is a pity.", vocab)
    assert pres == 0


def test_first_marks_weigh_asides_relations_and_the_general_we():
    _, (w, n, _) = _marks("I walked down to the mill and my dog followed me.")
    assert w == 3 and n == 3
    _, (w, _, _) = _marks("The house was, I suppose, older than the church.")
    assert w == 0.5  # an aside of the narrator
    _, (w, _, _) = _marks("My late grandfather kept the inn for thirty years.")
    assert w == 1.0
    _, (w, _, _) = _marks("My own father kept the inn for thirty years.")
    assert w == 2.0  # the narrator's own people
    _, (w, _, _) = _marks("We are all of us fond of a mystery.")
    assert w == 0.0  # the general "we" of a remark
    _, (w, _, _) = _marks("James I reigned then.")
    assert w == 0.0


@pytest.fixture(scope="module")
def emma_injected(emma):
    text = emma.text[:150_000]
    parts = {
        "tense": ("The rain keeps on all afternoon. Emma sits at the window and watches the "
                  "lane, and the clock in the hall strikes four before anybody comes."),
        "mixed": ("Harriet turns the key and pushes the door wide, and Emma followed her "
                  "into the cold room."),
        "pov": ("I remember that winter well, for I stayed at Highbury a month, and I saw "
                "the whole of it with my own eyes."),
    }
    out, spans, pos = [], {}, 0
    for key, at in (("tense", 40_000), ("mixed", 80_000), ("pov", 120_000)):
        cut = text.index("\n\n", at)
        out.append(text[pos:cut] + "\n\n")
        start = sum(map(len, out))
        out.append(parts[key])
        spans[key] = (start, start + len(parts[key]))
        pos = cut
    out.append(text[pos:])
    s = sl.Story.from_text("".join(out))
    drift(s)
    return s, spans


def test_scan_story_finds_present_and_first_person_sentences(emma_injected):
    s, spans = emma_injected
    ins = s.tables["insights"]
    ins = ins[ins["kind"].isin(["tense_shift", "pov_shift"])]

    def hit(kind, span):
        rows = ins[(ins["kind"] == kind) & (ins["start"] < span[1]) & (ins["end"] > span[0])]
        return rows

    for kind, key in (("tense_shift", "tense"), ("tense_shift", "mixed"), ("pov_shift", "pov")):
        rows = hit(kind, spans[key])
        assert len(rows) == 1, key
        # the insight is the injected sentences, not the paragraph before or after
        assert rows.start.iloc[0] == spans[key][0] and rows.end.iloc[0] <= spans[key][1] + 1
    assert "Emma sits" in hit("tense_shift", spans["tense"]).message.iloc[0]
    # nothing else in this stretch of Emma is flagged
    assert len(ins) == 3


def test_scan_story_quiet_on_letters_verse_and_first_person_novels():
    letter = ("Mr. Carrow walked to the post office in the rain. He had been expecting a letter "
              "for a week, and when it came he opened it on the steps.\n\n"
              "Dear Sir, I write to you in haste. I cannot come on Tuesday, as you ask, and I "
              "hope you will forgive me. Yours, A. Pell.\n\n"
              "He folded the letter and walked home slowly, thinking of the money.\n\n")
    s = sl.Story.from_text(letter * 3)
    drift(s)
    ins = s.tables["insights"]
    assert not len(ins[ins["kind"].isin(["tense_shift", "pov_shift"])])
    told = ("I went down to the harbour at dawn. My uncle was already there, mending his nets, "
            "and he did not look up when I came. We worked until noon without a word.\n\n")
    s2 = sl.Story.from_text(told * 20)
    drift(s2)
    ins2 = s2.tables["insights"]
    assert not len(ins2[ins2["kind"] == "pov_shift"])


def test_candidate_present_third_person_is_tense_not_pov(emma):
    cand = ("Emma walks slowly down the lane towards the vicarage. The hedges drip with rain, "
            "and Harriet keeps close beside her, saying nothing at all.")
    r = sl.drift(emma, cand)
    kinds = set(r.insights["kind"])
    assert "tense_shift" in kinds and "pov_shift" not in kinds
    past = ("I walked slowly down the lane towards the vicarage, and Harriet kept close "
            "beside me, saying nothing at all.")
    r2 = sl.drift(emma, past)
    kinds2 = set(r2.insights["kind"])
    assert "pov_shift" in kinds2 and "tense_shift" not in kinds2


def test_candidate_statements_meet_the_storys_through_pronouns_and_the_storys_own_conflicts_stay_its_own():
    s = sl.Story.from_text(STORY)  # the story itself gives Kitty blue and then green eyes
    cand = ("Kitty Bell came down the lane in the rain. She stopped at the gate, "
            "and her eyes, of a clear hazel, went to the mill.")
    hits = sl.drift(s, cand).insights
    hits = hits[hits["kind"] == "fact_contradiction"]
    assert len(hits) == 1
    r = hits.iloc[0]
    assert "hazel" in cand[r["start"]:r["end"]] and "blue" in r["message"]
    quiet = sl.drift(s, "Kitty Bell came down the lane in the rain and stopped at the gate.")
    assert not (quiet.insights["kind"] == "fact_contradiction").any()


def test_candidate_voice_counts_words_the_candidate_itself_brings_in(emma):
    line = '"Rods, reels, flies, waders and the landing net are in the boat-house," said Emma.'
    alone = sl.drift(emma, line).insights
    assert (alone["kind"] == "voice_drift").any()
    # the continuation brings the fishing in itself: the line is no longer out of the blue
    told = ("Mr. Knightley had sent over fishing rods with reels, a box of flies, waders and a "
            "landing net, and they were put in the boat-house for the boys.\n\n")
    introduced = sl.drift(emma, told + line).insights
    assert not (introduced["kind"] == "voice_drift").any()


def test_baseline_cache_follows_the_story():
    import gc
    import importlib

    from shimmy_lab.story import Story

    D = importlib.import_module("shimmy_lab.trackers.drift")  # the module, not the function

    story = Story.from_text("Ann walked home. She was tired, and the rain fell on the road.\n")
    b = D._baseline(story)
    assert D._baseline(story) is b  # same text: read once
    story.append("\n\nAnn slept.\n")
    assert D._baseline(story) is not b  # a new version of the text: read again
    del story, b
    gc.collect()
    assert len(D._BASELINES) <= D.BASELINE_CACHE_SIZE  # bounded, keyed by text and tables


def test_candidate_description_of_a_new_place_is_not_off_topic(emma):
    # the story moves on to a place it has not shown: told in its past tense, about no one
    place = ("The road to the coast wound for some miles between low hedges and wide, wet "
             "fields, where a few cows stood in the rain. Beyond the last farm the road fell "
             "away towards the sea; the tide was out, the sands shone under a pale sky, and a "
             "line of fishing boats lay on the beach, their brown sails furled and their nets "
             "hung to dry along the wall. A church tower rose from the little town by the "
             "harbour, and the birds cried above the houses, where baskets of fish waited for the "
             "carts, and the old inn stood open to the morning air.")
    assert "topic_drift" not in set(sl.drift(emma, place).insights["kind"])
    # instructions in the present tense about no one are off topic however the story moves
    steps = ("Descale the kettle once a month in hard-water areas. Fill it halfway with equal "
             "parts of water and white vinegar, bring the mixture to the boil, switch the "
             "appliance off and leave it to stand for an hour. Pour the solution away, rinse "
             "the kettle twice with clean water, and boil a full kettle of fresh water before "
             "use to remove any remaining taste. Never immerse the base or the cable in water, "
             "and keep the filter mesh free of limescale deposits and residue.")
    assert "topic_drift" in set(sl.drift(emma, steps).insights["kind"])


def test_candidate_pronoun_after_a_stranger_is_not_the_last_character():
    s = sl.Story.from_text(STORY)
    # "her" belongs to the woman just named, whom the story has no character for
    cand = ("Kitty Bell went down to the harbour. At the last table sat Mrs. Farrow, "
            "her brown eyes fixed on the boats.")
    assert "fact_contradiction" not in set(sl.drift(s, cand).insights["kind"])
    # with no one between, the pronoun is Kitty's and her eyes conflict
    cand = "Kitty Bell went down to the harbour, her brown eyes fixed on the boats."
    assert "fact_contradiction" in set(sl.drift(s, cand).insights["kind"])


def test_past_paragraphs_are_told_in_the_past_with_no_present_sentence():
    from shimmy_lab.trackers.person_tense import Sentence, past_paragraphs

    sents = [Sentence(0, 10, 1, past=2.0), Sentence(11, 20, 1, past=1.5),  # a told scene
             Sentence(21, 30, 2, past=3.0), Sentence(31, 40, 2, present=2.0),  # one present
             Sentence(41, 50, 3, past=1.0)]  # too little to tell
    assert past_paragraphs(sents) == {1}
