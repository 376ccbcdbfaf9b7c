"""The coordinator: systems switches, correlation, ranking, context, drift."""

from __future__ import annotations

import pytest

import shimmy_lab as sl
from shimmy_lab import assistant
from shimmy_lab.trackers import schema
from narrative_texts import STORY


@pytest.fixture(scope="module")
def story():
    return assistant.analyze(STORY)


def test_insights_ranked_and_valid(story):
    ins = story.insights
    schema.validate("insights", ins, story.text)
    order = ins["priority"].map({p: i for i, p in enumerate(schema.PRIORITIES)})
    assert order.is_monotonic_increasing
    assert ins["priority"].iloc[0] == "critical"
    assert set(story.uns["params"]["assistant"]["systems"]) == set(sl.tl.SYSTEMS)


def test_dead_character_is_one_correlated_insight(story):
    ins = story.insights
    dead = ins[ins["kind"] == "dead_character_acts"]
    line = story.text.index('"Well done, sister,"')
    at = dead[(dead["start"] <= line) & (dead["end"] > line)]
    assert len(at) == 1
    assert at["system"].iloc[0] == "characters+constraints"
    fc = ins[ins["kind"] == "fact_contradiction"]
    assert len(fc) == 1 and fc["system"].iloc[0] == "characters+constraints"


def test_systems_switches(monkeypatch):
    s = assistant.analyze(STORY, systems=["characters"])
    assert set(s.insights["system"]) == {"characters"}
    assert "dna" not in s.tables
    with pytest.raises(ValueError, match="known"):
        assistant.analyze(STORY, systems=["nope"])
    monkeypatch.setenv("SHIMMY_NARRATIVE_RECURSION", "0")
    monkeypatch.setenv("SHIMMY_NARRATIVE_ENGAGEMENT", "false")
    assert assistant.enabled_systems() == ["characters", "drift", "dna", "constraints"]
    assert assistant.analyze(STORY, systems=[]).uns["params"]["assistant"]["systems"] == []


def test_settings_section_switches(monkeypatch):
    from shimmy_lab.settings import Settings
    st = Settings(narrative={"dna": False, "enabled": True})
    assert "dna" not in assistant.enabled_systems(settings=st)
    assert "dna" in assistant.enabled_systems()  # no settings given: loaded ones, all on
    monkeypatch.setenv("SHIMMY_NARRATIVE_DNA", "0")  # ... which read the environment
    assert "dna" not in assistant.enabled_systems()
    assert "dna" not in assistant.enabled_systems(settings=Settings.load())
    monkeypatch.setenv("SHIMMY_NARRATIVE_VOICE_MODEL", "bundled")
    assert assistant.resolve_voice_model() == "bundled" and assistant.resolve_voice_model(settings=st) is None


def test_context_budget_follows_assertiveness(story):
    assert assistant.context(story, 0.0) == ""
    lo, hi = assistant.context(story, 0.3, 100), assistant.context(story, 1.0, 100)
    assert 0 < len(lo.split()) < len(hi.split()) <= 100 / 1.3 + 5
    assert "Tom" in hi and "Dead" in hi
    assert len(assistant.context(story, 1.0, max_tokens=40).split()) <= 40 / 1.3 + 2


def test_drift_wrapper(story):
    r = assistant.drift(story, "Kitty Bell had brown eyes.")
    assert 0 <= r.score <= 1 and "fact_contradiction" in set(r.insights["kind"])
    with pytest.raises(TypeError):
        assistant.drift(story, None)


@pytest.fixture
def broken_recursion():
    """The registry's ``recursion`` system replaced by one that raises (restored after)."""
    import dataclasses

    from shimmy_lab.trackers import systems

    def boom(story, **kw):
        raise RuntimeError("broken")

    original = systems.get("recursion")
    systems.register(dataclasses.replace(original, func=boom))
    yield
    systems.register(original)


def test_failing_system_does_not_stop_analysis(broken_recursion):
    with pytest.warns(RuntimeWarning, match="'recursion' failed.*RuntimeError: broken"):
        s = assistant.analyze(STORY)
    assert s.uns["params"]["assistant"]["failed"]["recursion"] == "RuntimeError: broken"
    assert len(s.insights)
    with pytest.raises(RuntimeError, match="broken"):
        assistant.analyze(STORY, strict=True)


def test_analyze_runs_the_registry_with_each_systems_params(story):
    from shimmy_lab.trackers import DnaParams

    s = assistant.analyze(STORY, params={"dna": DnaParams(min_intensity=0.99), "engagement": {"flat_scenes": 2}})
    assert s.uns["params"]["dna"]["min_intensity"] == 0.99 and s.uns["params"]["engagement"]["flat_scenes"] == 2
    assert len(s.tables["dna"]) < len(story.tables["dna"])
    assert s.uns["params"]["recursion"] == {f: getattr(v, "default", v) for f, v in
                                            sl.tl.RecursionParams.__dataclass_fields__.items()}
    with pytest.raises(ValueError, match="unknown narrative system.*'dnaa'"):
        assistant.analyze(STORY, params={"dnaa": {}})
    with pytest.raises(TypeError, match="no parameter.*'flat'"):
        assistant.analyze(STORY, params={"engagement": {"flat": 2}})
    # the voice model given as a parameter of the characters system wins, "none" means off
    assert assistant.system_params({"characters": {"voice_model": "none"}}, "bundled")["characters"].voice_model is None
    assert assistant.system_params(None, "bundled")["characters"].voice_model == "bundled"


def test_a_system_whose_prerequisite_is_off_reads_it_as_empty():
    s = assistant.analyze(STORY, systems=["engagement"])
    assert "dna" not in s.tables and len(s.tables["engagement"])
    assert s.uns["params"]["assistant"]["failed"] == {}


def test_perturb_injects_at_known_span():
    import random
    from shimmy_lab.eval.perturb import perturb
    text = sl.datasets.load("austen-emma")[:120_000]
    s = sl.Story.from_text(text)
    donor = sl.Story.from_text(sl.datasets.load("chesterton-thursday")[:80_000])
    for kind in ("fact_contradiction", "dead_character_acts", "voice_drift", "pov_shift",
                 "tense_shift", "topic_drift"):
        p = perturb(s, kind, random.Random(1), [donor])
        assert p.kind == kind and 0 <= p.start < p.end <= len(p.text)
        assert p.text != text
