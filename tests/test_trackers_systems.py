"""CAPR DNA, constraint space, recursion and engagement on small and real texts."""

from __future__ import annotations

import networkx as nx
import pytest

import shimmy_lab as sl
from shimmy_lab.trackers import schema
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
    assert {"contradiction", "pressure", "return"} <= set(d["type"])
    ret = d[d["type"] == "return"].iloc[0]
    first = int(str(ret.answers).split("|")[0])
    assert d.loc[d["unit"] == first, "answered_by"].iloc[0] == ret.unit
    assert d.loc[d["unit"] == first, "scene"].iloc[0] < ret.scene
    # words of the story read up to each unit: they grow with the unit's position
    assert d.sort_values(["start", "unit"])["story_words"].is_monotonic_increasing
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
    assert e["loops_opened"].sum() >= 1
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
