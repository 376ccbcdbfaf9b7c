"""The pure halves of ``characters`` and ``drift``, drift's baseline cache, and the
registration of the systems by their own modules."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections import OrderedDict
from pathlib import Path

import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.story import schema as sschema
from shimmy_lab.trackers import _util as U
from shimmy_lab.trackers import systems, topic, voice
from frames import assert_unchanged, frozen
from narrative_texts import STORY

ROOT = Path(__file__).resolve().parents[1]
D = importlib.import_module("shimmy_lab.trackers.drift")  # the module, not the function
C = importlib.import_module("shimmy_lab.trackers.characters")


@pytest.fixture(scope="module")
def story():
    s = sl.Story.from_text(STORY)
    sl.tl.characters(s)
    sl.tl.drift(s)
    return s


def _hand_made():
    """Mara's eyes blue, then brown; Mara and Tom in one scene."""
    text = ("Mara had blue eyes and spoke to Tom. Tom laughed at Mara.\n\n"
            "Later Tom saw Mara again; Tom was glad.\n\nMara's eyes were brown.")
    later = text.index("Mara's eyes")
    facts = sschema.coerce("facts", pd.DataFrame([
        {"subject": "mara", "attribute": "eye_colour", "value": "blue", "start": 9, "end": 18,
         "chapter": 1, "pattern": "x"},
        {"subject": "mara", "attribute": "eye_colour", "value": "brown", "start": later,
         "end": len(text) - 1, "chapter": 2, "pattern": "x"}]))
    chars = sschema.coerce("characters", pd.DataFrame([
        {"character_id": "mara", "name": "Mara", "aliases": "Mara", "gender": "female"},
        {"character_id": "tom", "name": "Tom", "aliases": "Tom", "gender": "male"}]))
    mentions = sschema.coerce("mentions", pd.DataFrame([
        {"character_id": m.group().lower(), "surface": m.group(), "start": m.start(), "end": m.end(),
         "chapter": 1, "in_quote": False} for m in re.finditer(r"Mara|Tom", text)]))
    scenes = sschema.coerce("scenes", pd.DataFrame([{"scene": 0, "chapter": 1, "start": 0, "end": len(text)}]))
    sents = sschema.coerce("sentences", pd.DataFrame([
        {"sentence": k, "paragraph": 0, "chapter": 1, "start": m.start(), "end": m.end()}
        for k, m in enumerate(re.finditer(r"[^.;\n]+[.;]", text))]))
    return {"text": text, "facts": facts, "characters": chars, "mentions": mentions, "scenes": scenes,
            "sentences": sents}


# -- characters ---------------------------------------------------------------------------
def test_characters_compute_on_hand_made_tables():
    tables = _hand_made()
    before = frozen(tables)
    out = C.compute(tables, C.CharactersParams())
    assert_unchanged(tables, before)
    assert sorted(out) == ["insights", "params", "relationships", "voice"]
    rel = out["relationships"]
    assert rel[["source", "target", "copresence"]].values.tolist() == [["mara", "tom", 1]]
    ins = out["insights"]
    later = tables["text"].index("Mara's eyes")
    assert ins["kind"].tolist() == ["fact_contradiction"] and ins.loc[0, "start"] == later
    assert ins.loc[0, "title"] == "Mara's eye colour: blue or brown?"
    assert len(out["voice"]) == 0  # no dialogue
    ran = out["params"].to_dict("records")[0]
    assert ran["voice_model"] is None and ran["voice_model_error"] is None
    assert ran["fit_threshold"] == voice.FIT_THRESHOLD  # a None field: its default, read now


class _Scorer:
    """A scoring engine that gives every token the same log-probability."""

    model_id = "flat-scorer"

    def tokenize(self, s, add_special=False):
        return [ord(c) % 251 for c in s]

    def token_logprobs(self, prefix, ids):
        return [-3.0] * len(ids)


def test_characters_voice_model_is_a_parameter(story):
    tables = {"text": story.text, **story.tables}
    lexical = C.compute(tables)
    with_engine = C.compute(tables, C.CharactersParams(voice_model=_Scorer()))
    assert with_engine["params"].loc[0, "voice_model"] == "flat-scorer"
    missing = systems.compute("characters", tables, voice_model="no-such-model-for-this-test")
    ran = missing["params"].to_dict("records")[0]
    assert ran["voice_model"] == "no-such-model-for-this-test"
    assert ran["voice_model_error"].startswith("RuntimeError: cannot load scoring model")
    pd.testing.assert_frame_equal(missing["insights"], lexical["insights"])  # the lexical check alone
    s = sl.Story.from_text(STORY)
    sl.tl.characters(s, voice_model="no-such-model-for-this-test")
    assert s.uns["params"]["characters"] == ran


@pytest.mark.parametrize("name", ["characters", "drift"])
def test_compute_on_a_story_copy_gives_what_tl_wrote(story, name):
    system = systems.get(name)
    module = importlib.import_module(f"shimmy_lab.trackers.{name}")
    assert system.compute is module.compute
    tables = {"text": story.text, **frozen(story.tables)}
    before = frozen(tables)
    out = module.compute(tables, system.params())
    assert_unchanged(tables, before)
    assert set(out) - {"insights", "params"} == set(system.tables)
    for t in system.tables:
        pd.testing.assert_frame_equal(out[t], story.tables[t], obj=t)
    ins = story.tables["insights"]
    mine = ins[ins["system"].str.split("+").map(lambda s: name in s)].reset_index(drop=True)
    pd.testing.assert_frame_equal(out["insights"], mine)
    if "params" in out:
        assert out["params"].to_dict("records")[0] == story.uns["params"][name]


# -- drift --------------------------------------------------------------------------------
def test_drift_params_and_story_function(story):
    system = systems.get("drift")
    assert system.func is D.scan and system.params is D.DriftParams
    assert systems.params_for("drift") == D.DriftParams(40, topic.MIN_NOVEL, 0.65)
    with pytest.raises(TypeError, match="no parameter"):
        systems.params_for("drift", candidate="text")  # a candidate is no parameter of the scan
    assert story.uns["params"]["drift"] == {"min_words": 40, "topic_threshold": 0.25, "voice_threshold": 0.65}
    report = sl.tl.drift(story, "Mara walked home in the rain and thought of Tom.")
    assert isinstance(report, D.DriftReport) and 0 <= report.score <= 1


def test_drift_baseline_is_keyed_by_text_and_tables(monkeypatch):
    monkeypatch.setattr(D, "_BASELINES", OrderedDict())
    s = sl.Story.from_text("Ann walked home. She was tired, and the rain fell on the road.\n")
    b = D._baseline(s)
    assert D._baseline(s) is b  # same text and tables: read once
    assert D._baseline_of({"text": s.text, **s.tables}) is b.base  # compute's mapping finds it
    assert D._baseline_of({"text": "".join(list(s.text)), **s.tables}) is b.base  # an equal text
    assert D._baseline_of({"text": s.text, **frozen(s.tables)}) is not b.base  # other tables
    s.tables["facts"] = s.tables["facts"].copy()
    assert D._baseline(s).base is not b.base  # a table replaced: read again
    c = D._baseline(s)
    s.append("\n\nAnn slept.\n")
    assert D._baseline(s).base is not c.base  # a new text: read again
    assert b.narrator == s.uns["params"].get("narrator") and b.style


def test_drift_baseline_cache_is_bounded_and_holds_what_its_keys_name(monkeypatch):
    monkeypatch.setattr(D, "_BASELINES", OrderedDict())
    monkeypatch.setattr(D, "BASELINE_CACHE_SIZE", 2)
    stories = [sl.Story.from_text(f"Ann walked {n} miles home. She was tired.\n") for n in range(3)]
    first = D._baseline(stories[0]).base
    for s in stories[1:]:
        D._baseline(s)
    assert len(D._BASELINES) == 2 and first not in D._BASELINES.values()  # least recently used out
    kept = next(reversed(D._BASELINES.values()))
    text, frames = kept.view.text, dict(kept.view.tables)
    del stories
    # the entry holds the text and tables its key names: their ids cannot be reused
    key = next(reversed(D._BASELINES))
    assert key[1] == len(text) and key[2:] == tuple(id(frames[n]) for n in D.INPUTS)


# -- the registry, from the modules ----------------------------------------------------------
def test_each_module_declares_its_system():
    init = ast.parse((ROOT / "shimmy_lab" / "trackers" / "__init__.py").read_text())
    calls = [n.func.id for n in ast.walk(init) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert "System" not in calls  # the package declares no system itself
    for name in sl.tl.SYSTEMS:
        module = importlib.import_module(f"shimmy_lab.trackers.{name}")
        declared = [v for v in vars(module).values() if isinstance(v, systems.System)]
        assert declared == [systems.get(name)], name
        assert getattr(sl.tl, name) is getattr(module, name)
    assert [s.rank for s in systems.systems()][:6] == [10, 20, 30, 40, 50, 60]


def test_rank_breaks_ties_in_the_run_order():
    def noop(story):
        return story

    systems.register(systems.System("late", noop))  # no rank: after the built-in ones
    systems.register(systems.System("early", noop, rank=5))
    try:
        names = systems.order(systems._REGISTRY)
        assert names[0] == "early" and names[-1] == "late"
        assert [n for n in names if n not in ("early", "late")] == list(sl.tl.SYSTEMS)
    finally:
        systems.unregister("early")
        systems.unregister("late")


def _walkthrough() -> str:
    """The module of docs/architecture.md's walk-through ("Adding a narrative system")."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    after = doc[doc.index("### Adding a narrative system"):]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


def test_a_new_module_is_a_new_system(tmp_path, monkeypatch):
    """The walk-through's module, put next to the built-in ones: importing the package
    registers it and binds ``tl.long_sentences``; nothing else changes."""
    trackers = importlib.import_module("shimmy_lab.trackers")
    (tmp_path / "long_sentences.py").write_text(_walkthrough())
    monkeypatch.setattr(trackers, "__path__", [*trackers.__path__, str(tmp_path)])
    all_before = list(trackers.__all__)
    try:
        trackers._register_declared()
        assert systems.names()[:7] == [*sl.tl.SYSTEMS, "long_sentences"]
        story = sl.analyze(STORY, systems=["long_sentences"], params={"long_sentences": {"max_words": 15}})
        t = story.tables["long_sentences"]
        lengths = [len(story.text[s:e].split()) for s, e in zip(story.sentences["start"], story.sentences["end"])]
        assert t["words"].tolist() == [n for n in lengths if n > 15] and len(t) >= 2
        assert story.uns["params"]["long_sentences"] == {"max_words": 15}
        assert sl.tl.long_sentences(sl.Story.from_text(STORY), max_words=15).tables["long_sentences"].equals(t)
        out = systems.compute("long_sentences", {"text": story.text, "sentences": story.sentences}, max_words=15)
        pd.testing.assert_frame_equal(out["long_sentences"], t)
    finally:
        systems.unregister("long_sentences")
        trackers.__dict__.pop("long_sentences", None)
        trackers.__all__[:] = all_before
        sys.modules.pop("shimmy_lab.trackers.long_sentences", None)


def test_inputs_of_characters_and_drift_are_story_tables():
    for module in (C, D):
        assert set(module.INPUTS) <= set(sschema.TABLES), module.__name__
    view = U.inputs(sl.Story.from_text(STORY), D.INPUTS)
    assert set(view) == {"text", *D.INPUTS}
