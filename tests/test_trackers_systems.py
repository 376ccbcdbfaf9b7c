"""CAPR DNA, constraint space, recursion and engagement on small and real texts."""

from __future__ import annotations

import dataclasses

import networkx as nx
import pandas as pd
import pytest

import shimmy_lab as sl
from shimmy_lab.trackers import schema
from frames import assert_unchanged, frozen
from narrative_texts import STORY


@pytest.fixture(scope="module")
def mill():
    s = sl.Story.from_text(STORY)
    for fn in (sl.tl.characters, sl.tl.dna, sl.tl.constraints, sl.tl.recursion, sl.tl.engagement):
        fn(s)
    return s


def test_dna_units_and_returns(mill):
    d = mill.tables["dna"]
    schema.validate("dna", d, mill.text)
    assert {"contradiction", "pressure", "return"} <= set(d["kind"])
    ret = d[d["kind"] == "return"].iloc[0]
    first = int(str(ret.answers).split("|")[0])
    assert d.loc[d["unit_id"] == first, "answered_by"].iloc[0] == ret.unit_id
    assert d.loc[d["unit_id"] == first, "scene"].iloc[0] < ret.scene
    # words of the story read up to each unit: they grow with the unit's position
    assert d.sort_values(["start", "unit_id"])["story_words"].is_monotonic_increasing
    kinds = set(mill.tables["insights"]["kind"])
    assert "payoff" in kinds


def test_constraints_graph_and_freedom(mill):
    from shimmy_lab.trackers.constraints import graph
    g = graph(mill)
    assert isinstance(g, nx.MultiDiGraph)
    tom = mill.character("Tom")
    blocks = [(u, v) for u, v, k in g.edges(keys=True) if k == "blocks"]
    assert blocks and blocks[0][1] == f"character:{tom}"
    f = mill.tables["freedom"]
    schema.validate("freedom", f, mill.text)
    assert f["freedom"].between(0, 1).all()
    ins = mill.tables["insights"]
    assert (ins[ins["kind"] == "dead_character_acts"]["system"] == "constraints").any()


def test_recursion_echoes(mill):
    e = mill.tables["echoes"]
    schema.validate("echoes", e, mill.text)
    assert (e["phrase"] == "the old mill by").any() or (e["phrase"].str.contains("mill")).any()
    assert set(e["level"]) <= {"sentence", "paragraph", "scene", "chapter", "act"}
    r = mill.uns["recursion"]
    assert r["density"] > 0 and 0 <= r["symmetry"] <= 1


def test_engagement_rows(mill):
    e = mill.tables["engagement"]
    schema.validate("engagement", e, mill.text)
    ch = e[e["level"] == "chapter"].set_index("chapter")
    assert ch["tension"].between(0, 1).all() and ch["valence"].between(-1, 1).all()
    assert e["threads_opened"].sum() >= 1
    calm = ("CHAPTER I\n\nThe sun was warm and the garden was lovely. Anna smiled at her friend, "
            "and they laughed together over a pleasant, happy tea with cake and roses.\n\n"
            "CHAPTER II\n\nThe danger was terrible! Anna screamed in fear as the murderer "
            "attacked; blood and panic everywhere, and she could not escape the violent rage!\n")
    s = sl.tl.engagement(sl.Story.from_text(calm))
    ch = s.tables["engagement"].query("level == 'chapter'").set_index("chapter")
    assert ch.loc[2, "tension"] > ch.loc[1, "tension"] + 0.3
    assert ch.loc[1, "valence"] > 0.3 > -0.3 > ch.loc[2, "valence"]
    assert ch.loc[2, "arousal"] > ch.loc[1, "arousal"]


def test_systems_on_a_novel():
    s = sl.analyze(sl.datasets.load("carroll-alice"))
    for name in ("dna", "constraint_nodes", "constraint_edges", "echoes", "engagement", "voice"):
        schema.validate(name, s.tables[name], s.text)
        assert len(s.tables[name]), name
    assert s.uns["recursion"]["levels"]["chapter"] > 0
    assert s.uns["params"]["assistant"]["failed"] == {}


# -- the registry of systems ----------------------------------------------------------------
def test_registry_order_follows_requires():
    from shimmy_lab.trackers import SYSTEMS, systems

    assert SYSTEMS == ("characters", "drift", "dna", "constraints", "recursion", "engagement")
    for i, name in enumerate(SYSTEMS):
        assert all(SYSTEMS.index(r) < i for r in systems.get(name).requires), name
    assert systems.order(["engagement", "constraints", "dna"]) == ["dna", "constraints", "engagement"]
    with pytest.raises(KeyError, match="unknown narrative system 'echo'"):
        systems.order(["echo"])


def test_params_dataclasses_hold_the_defaults_of_the_functions():
    import dataclasses
    import inspect

    from shimmy_lab.trackers import systems

    for s in systems.systems():
        sig = {k: p.default for k, p in list(inspect.signature(s.func).parameters.items())[1:]}
        fields = {f.name: f.default for f in dataclasses.fields(s.params)}
        assert fields == sig, s.name


def test_run_names_the_missing_prerequisite():
    from shimmy_lab.trackers import systems

    story = sl.Story.from_text(STORY)
    with pytest.raises(systems.MissingPrerequisiteError, match=r"run tl\.dna first"):
        systems.run(story, "engagement")
    systems.run(story, "dna")
    systems.run(story, "engagement", flat_scenes=2)
    assert story.uns["params"]["engagement"] == {"flat_scenes": 2, "max_insights": 5}
    assert story.uns["params"]["dna"] == {"min_intensity": 0.34, "min_shared": 2, "max_insights": 8}
    with pytest.raises(systems.MissingPrerequisiteError, match=r"tl\.characters"):
        systems.run(story, "constraints")  # dna ran, characters did not


def test_register_checks_requires_and_cycles():
    from shimmy_lab.trackers import systems

    def noop(story):
        return story

    with pytest.raises(ValueError, match="unknown system"):
        systems.register(systems.System("lonely", noop, requires=("nowhere",)))
    systems.register(systems.System("ouroboros", noop, requires=("ouroboros",)))
    try:
        with pytest.raises(ValueError, match="cycle"):
            systems.order(["ouroboros"])
    finally:
        systems.unregister("ouroboros")


def test_docstring_examples_of_the_registry():
    import doctest

    from shimmy_lab.trackers import systems

    result = doctest.testmod(systems, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0


# -- compute(tables, params): the pure half of each system, without a Story ------------------
def _spans(pieces, sep="\n\n"):
    """The text of ``pieces`` joined by ``sep`` and the (start, end) of each piece."""
    spans, pos = [], 0
    for p in pieces:
        spans.append((pos, pos + len(p)))
        pos += len(p) + len(sep)
    return sep.join(pieces), spans


def test_dna_compute_on_hand_made_tables():
    import pandas as pd

    from shimmy_lab.trackers.dna import DnaParams, compute

    text, sp = _spans([
        "Mara found a sealed letter under the floor, but nobody would tell her the secret of it, "
        "and she never learned why?",
        "The rain fell on the quiet town for a week and the harbour was grey.",
        "At last Mara opened the sealed letter and read the secret aloud to the town."])
    tables = {"text": text,
              "sentences": pd.DataFrame({"start": [s for s, _ in sp], "end": [e for _, e in sp],
                                         "chapter": [0, 0, 0]}),
              "scenes": pd.DataFrame({"scene": [0, 1, 2], "start": [s for s, _ in sp]})}
    before = frozen(tables)
    out = compute(tables, DnaParams())
    assert_unchanged(tables, before)
    d = out["dna"]
    assert d["kind"].tolist() == ["contradiction", "return"]
    assert d["scene"].tolist() == [0, 2] and d["start"].tolist() == [sp[0][0], sp[2][0]]
    assert d.loc[0, "intensity"] == 1.0  # but, nobody, secret, never, ?: 3+ cues saturate
    assert d.loc[0, "answered_by"] == 1 and d.loc[1, "answers"] == "0"
    assert d.loc[1, "terms"] == "letter|mara|sealed|secret|town"
    assert d.loc[1, "intensity"] == pytest.approx(4 / 6)  # 4 terms shared with unit 0
    assert d.loc[1, "story_words"] == len(text[:sp[2][0]].split())
    ins = out["insights"]
    assert ins["kind"].tolist() == ["payoff"] and (ins["system"] == "dna").all()
    # stricter parameters: no unit is strong enough, so nothing at all
    assert len(compute(tables, DnaParams(min_intensity=1.01))["dna"]) == 0


def test_engagement_compute_on_hand_made_tables():
    import pandas as pd

    from shimmy_lab.trackers import schema as tschema
    from shimmy_lab.trackers.engagement import EngagementParams, compute

    text, sp = _spans([
        "The garden was warm and lovely. She smiled at her friend over tea and cake in the sun.",
        "Danger! The murderer attacked in terror and rage! The letter, the secret, the fear!",
        "They walked home slowly through the quiet fields and talked about the harvest."])
    dna = tschema.coerce("dna", pd.DataFrame([{
        "unit_id": 0, "scene": 0, "chapter": 0, "kind": "contradiction", "description": "a secret",
        "characters": [], "start": sp[0][0], "end": sp[0][1], "intensity": 0.8,
        "terms": "letter|secret|sealed", "story_words": 0}]))
    tables = {"text": text, "dna": dna,
              "scenes": pd.DataFrame({"scene": [0, 1, 2], "chapter": [0, 0, 1],
                                      "start": [s for s, _ in sp], "end": [e for _, e in sp]})}
    before = frozen(tables)
    out = compute(tables, EngagementParams(flat_scenes=4, max_insights=5))
    assert_unchanged(tables, before)
    e = out["engagement"]
    sc = e[e["level"] == "scene"].set_index("segment")
    assert sc.loc[1, "tension"] > sc.loc[0, "tension"] + 0.5
    assert sc.loc[0, "valence"] > 0 > sc.loc[1, "valence"]
    assert sc["open_threads"].tolist() == [1, 1, 1]  # never answered
    assert sc["threads_opened"].tolist() == [1, 0, 0]
    assert sc["threads_reinforced"].tolist() == [0, 1, 0]  # "letter" and "secret" recur
    assert sc["threads_abandoned"].tolist() == [0, 1, 0]  # last touched before the last fifth
    ch = e[e["level"] == "chapter"]
    assert ch["chapter"].tolist() == [0, 1] and ch["words"].tolist() == [
        int(sc.loc[[0, 1], "words"].sum()), int(sc.loc[2, "words"])]
    ins = out["insights"]
    assert ins["kind"].tolist() == ["abandoned_thread"]
    assert ins.loc[0, "severity"] == pytest.approx(0.3 + 0.4 * 0.8)


def test_recursion_compute_on_hand_made_tables():
    import pandas as pd

    from shimmy_lab.trackers.recursion import RecursionParams, compute

    pieces = ["They crossed the crooked stone bridge at dawn with the horses.",
              "Nothing else happened that long and idle summer afternoon.",
              "Years later she crossed the crooked stone bridge alone."]
    text, sp = _spans(pieces)
    starts, ends = [s for s, _ in sp], [e for _, e in sp]
    unit = pd.DataFrame({"start": starts, "end": ends, "chapter": [0, 1, 2]})
    tables = {"text": text, "sentences": unit, "chapters": unit.assign(chapter=[0, 1, 2]),
              "paragraphs": unit.assign(paragraph=[0, 1, 2]), "scenes": unit.assign(scene=[0, 1, 2])}
    before = frozen(tables)
    out = compute(tables, RecursionParams())
    assert_unchanged(tables, before)
    e = out["echoes"]
    phrases = e[e["kind"] == "phrase"]
    assert phrases["phrase"].tolist() == ["crossed the crooked stone", "the crooked stone bridge"]
    assert (phrases["level"] == "act").all()  # chapters 0 and 2 of 3: two different thirds
    first = phrases.iloc[0]
    assert text[first["start"]:first["end"]] == "crossed the crooked stone"
    assert first["target_start"] == text.index("crossed", sp[2][0])
    summary = out["uns"].to_dict("records")[0]
    assert summary["levels"]["act"] == len(e[e["level"] == "act"])
    assert summary["density"] == round(2 / len(text.split()) * 1000, 4)
    assert set(out["insights"]["kind"]) == {"echo", "echo_symmetry"}
    # phrases of three words: more echoes; repeated at most once: none
    assert len(compute(tables, RecursionParams(n=3))["echoes"]) > len(e)
    assert len(compute(tables, RecursionParams(max_repeats=1))["echoes"].query("kind == 'phrase'")) == 0


def test_constraints_compute_on_hand_made_tables():
    import pandas as pd

    from shimmy_lab.trackers import schema as tschema
    from shimmy_lab.trackers.constraints import ConstraintsParams, compute

    text, sp = _spans(["Mara hid the letter and would not say why.", "Mara died in the winter.",
                       "Tom waited by the river."])
    death = (sp[1][0], sp[1][1])
    tables = {
        "text": text,
        "chapters": pd.DataFrame({"chapter": [0, 1, 2], "start": [s for s, _ in sp],
                                  "end": [e for _, e in sp]}),
        "characters": pd.DataFrame([
            {"character_id": "mara", "name": "Mara", "status": "dead", "first_chapter": 0,
             "start": 0, "end": 4},
            {"character_id": "tom", "name": "Tom", "status": "alive", "first_chapter": 2,
             "start": sp[2][0], "end": sp[2][0] + 3}]),
        "facts": pd.DataFrame([{"subject": "mara", "attribute": "death", "value": "died",
                                "start": death[0], "end": death[1], "chapter": 1, "pattern": "died"}]),
        "dna": tschema.coerce("dna", pd.DataFrame([{
            "unit_id": 0, "scene": 0, "chapter": 0, "kind": "contradiction",
            "description": "Mara hid the letter", "characters": ["Mara"], "start": sp[0][0],
            "end": sp[0][1], "intensity": 1.0, "terms": "letter|mara", "story_words": 0}]))}
    before = frozen(tables)
    out = compute(tables, ConstraintsParams())
    assert_unchanged(tables, before)
    f = out["freedom"]
    assert f["chapter"].tolist() == [0, 1, 2]
    assert f["freedom"].tolist() == [1.0, 0.0, 0.0]  # Mara's thread is blocked once she is dead
    assert f.loc[1, "blocked"] == "thread 0 <- Mara dead"
    edges = set(zip(out["constraint_edges"]["source"], out["constraint_edges"]["target"],
                    out["constraint_edges"]["relation"]))
    assert edges == {("character:mara", "fact:0", "has_fact"), ("fact:0", "character:mara", "blocks"),
                     ("thread:0", "character:mara", "involves")}
    assert set(out["constraint_nodes"]["node_id"]) == {"character:mara", "character:tom", "fact:0", "thread:0"}
    ins = out["insights"]
    assert ins["kind"].tolist() == ["blocked_thread"] and ins.loc[0, "characters"] == ["Mara"]


@pytest.mark.parametrize("module", ["dna", "constraints", "recursion", "engagement"])
def test_compute_on_a_story_copy_gives_what_tl_wrote(mill, module):
    """``compute`` on a story's tables copied into a dict: the tables and insights its ``tl``
    function wrote, and the copied tables untouched."""
    import importlib

    import pandas as pd

    mod = importlib.import_module(f"shimmy_lab.trackers.{module}")
    system = sl.tl.systems.get(module)
    tables = {"text": mill.text, **frozen(mill.tables)}
    before = frozen(tables)
    out = mod.compute(tables, system.params())
    assert_unchanged(tables, before)
    assert set(out) - {"insights", "uns"} == set(system.tables)
    for name in system.tables:
        pd.testing.assert_frame_equal(out[name], mill.tables[name], obj=name)
    ins = mill.tables["insights"]
    pd.testing.assert_frame_equal(out["insights"], ins[ins["system"] == module].reset_index(drop=True))
    if "uns" in out:
        assert out["uns"].to_dict("records")[0] == mill.uns[module]
    assert system.compute is mod.compute  # the registry's entry is the module's compute
    by_name = sl.tl.systems.compute(module, tables)
    for name in system.tables:
        pd.testing.assert_frame_equal(by_name[name], out[name], obj=name)


def test_systems_compute_by_name():
    from shimmy_lab.trackers import systems
    from shimmy_lab.trackers.dna import DnaParams, compute, dna

    systems.register(systems.System("story_only", lambda story, n=1: story))
    systems.register(systems.System("dna_copy", dna, DnaParams, tables=("dna",), compute=compute))
    try:
        with pytest.raises(TypeError, match="works on a story only"):
            systems.compute("story_only", {"text": ""})
        story = sl.Story.from_text(STORY)
        tables = {"text": story.text, **story.tables}
        out = systems.compute("dna_copy", tables, {"max_insights": 1})
        assert out["dna"].equals(compute(tables, DnaParams())["dna"])
        assert (out["insights"]["kind"].value_counts() <= 1).all()
        with pytest.raises(TypeError, match="no parameter"):
            systems.compute("dna_copy", tables, min_shared_terms=3)
    finally:
        systems.unregister("dna_copy")
        systems.unregister("story_only")


# the walk-through of docs/architecture.md ("Adding a narrative system"), as code
@dataclasses.dataclass(frozen=True)
class LongSentencesParams:
    max_words: int = 60


LONG_INPUTS = ("sentences",)


def long_compute(tables, params=LongSentencesParams()):
    from shimmy_lab.trackers import systems

    text, sents = tables[systems.TEXT], tables["sentences"]
    df = pd.DataFrame([{"start": int(s), "end": int(e), "words": len(text[s:e].split())}
                       for s, e in zip(sents["start"], sents["end"])], columns=["start", "end", "words"])
    long = df[df["words"] > params.max_words].reset_index(drop=True)
    insights = schema.coerce("insights", [
        {"insight_id": f"long_sentences-long_sentence-{r.start}", "system": "long_sentences",
         "kind": "long_sentence", "priority": "minor", "severity": 0.3,
         "title": f"A sentence of {r.words} words", "message": "Hard to follow aloud.",
         "start": r.start, "end": r.end, "characters": [], "suggestion": "Split it."}
        for r in long.itertuples()])
    return {"long_sentences": long, "insights": insights}


def long_sentences(story, max_words=LongSentencesParams.max_words):
    from shimmy_lab.trackers import systems

    params = LongSentencesParams(max_words)
    return systems.write(story, "long_sentences", long_compute(systems.inputs(story, LONG_INPUTS), params),
                         params)


def test_a_new_system_as_compute_and_thin_tl():
    from shimmy_lab.trackers import systems

    systems.register(systems.System("long_sentences", long_sentences, LongSentencesParams,
                                    tables=("long_sentences",), compute=long_compute))
    try:
        story = sl.analyze(STORY, systems=["long_sentences"], params={"long_sentences": {"max_words": 15}})
        t = story.tables["long_sentences"]
        lengths = [len(story.text[s:e].split()) for s, e in zip(story.sentences["start"], story.sentences["end"])]
        assert t["words"].tolist() == [n for n in lengths if n > 15] and len(t) >= 2
        ins = story.tables["insights"]
        assert (ins["kind"] == "long_sentence").sum() == len(t)
        assert story.uns["params"]["long_sentences"] == {"max_words": 15}
        out = systems.compute("long_sentences", {"text": story.text, "sentences": story.sentences},
                              max_words=15)
        pd.testing.assert_frame_equal(out["long_sentences"], t)
    finally:
        systems.unregister("long_sentences")
