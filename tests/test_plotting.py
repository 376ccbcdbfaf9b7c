"""Figures (``sl.pl``): contents checked through ``fig.to_dict()``, not pixels."""

from __future__ import annotations

import base64
import subprocess
import sys

import numpy as np

import pytest

import shimmy_lab as sl
from narrative_texts import STORY

pytest.importorskip("plotly")


@pytest.fixture(scope="module")
def story():
    return sl.analyze(STORY, title="The Mill")


def _plain(v):
    """Decode plotly's typed arrays ({"dtype", "bdata"}) in ``fig.to_dict()`` to lists."""
    if isinstance(v, dict) and set(v) >= {"dtype", "bdata"}:
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            arr = arr.reshape([int(n) for n in str(v["shape"]).split(",")])
        return arr.tolist()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _traces(fig):
    return _plain(fig.to_dict()["data"])


def _named(fig, name):
    hits = [t for t in _traces(fig) if t.get("name") == name]
    assert hits, f"no trace named {name!r} in {[t.get('name') for t in _traces(fig)]}"
    return hits[0]


def test_import_is_cheap():
    code = ("import sys, shimmy_lab as sl; sl.pl; "
            "assert 'plotly.graph_objects' not in sys.modules, 'plotly imported eagerly'; "
            "assert 'ipywidgets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_character_timeline(story):
    fig = sl.pl.character_timeline(story)
    heat = _named(fig, "mentions")
    assert heat["type"] == "heatmap"
    names = list(heat["y"])
    assert {"Kitty Bell", "Tom"} <= set(names)
    assert list(heat["x"]) == ["ch1", "ch2", "ch3"]
    # z counts the mentions table per chapter
    m = story.mentions
    tom = story.character("Tom")
    row = heat["z"][names.index("Tom")]
    assert sum(row) == int((m["character_id"] == tom).sum())
    assert row[0] > 0
    # Tom dies in chapter III: a death marker with the fact span in its hover text
    death = _named(fig, "death")
    assert list(death["y"]) == ["Tom"] and list(death["x"]) == ["ch3"]
    assert "Tom died" in death["hovertext"][0]
    assert "span" in heat["text"][names.index("Tom")][0] or "mentions" in heat["text"][0][0]


def test_character_timeline_by_scene(story):
    heat = _named(sl.pl.character_timeline(story, by="scene", top=2), "mentions")
    assert len(heat["y"]) == 2 and all(x.startswith("sc") for x in heat["x"])
    with pytest.raises(ValueError):
        sl.pl.character_timeline(story, by="page")


def test_relationship_network(story):
    fig = sl.pl.relationship_network(story)
    nodes = _named(fig, "characters")
    assert set(nodes["text"]) == set(story.characters["name"].astype(str))
    edges = [t for t in _traces(fig) if t.get("name") == "edge"]
    rel = story.relationships
    assert len(edges) == int(((rel["copresence"] + rel["addresses"]) >= 1).sum()) > 0
    info = _named(fig, "edge info")
    assert len(info["hovertext"]) == len(edges)
    assert "copresence" in info["hovertext"][0]
    # deterministic layout
    again = sl.pl.relationship_network(story)
    assert list(_named(again, "characters")["x"]) == list(nodes["x"])


def test_constraints_blocked_edge_and_freedom(story):
    fig = sl.pl.constraints(story)
    blocked = _named(fig, "blocked")
    n_blocks = int((story.constraint_edges["relation"] == "blocks").sum())
    assert n_blocks == 1
    assert len(blocked["x"]) == 3 * n_blocks  # x0, x1, None per edge
    assert blocked["line"]["dash"] == "dash"
    assert "blocks" in _named(fig, "blocked path")["hovertext"][0]
    fr = _named(fig, "freedom")
    assert fr["type"] == "bar"
    assert list(fr["x"]) == story.freedom["chapter"].astype(int).tolist()
    kinds = {t["name"] for t in _traces(fig)}
    assert {"character", "fact", "thread"} <= kinds


def test_dna_arc_and_sankey(story):
    dna = story.dna
    fig = sl.pl.dna(story)
    n_open = int((dna["kind"].isin(["contradiction", "pressure"])
                  & dna["answered_by"].isna()).sum())
    assert len(_named(fig, "open thread")["x"]) == n_open == 1
    total = sum(len(_named(fig, t)["x"]) for t in sl.pl.narrative.CAPR_TYPES
                if any(tr.get("name") == t for tr in _traces(fig)))
    assert total == len(dna)
    # hover shows the row and its text span
    first = dna.sort_values("unit_id").iloc[0]
    hov = _named(fig, str(first["kind"]))["hovertext"][0]
    assert f"[{int(first['start'])}:{int(first['end'])}]" in hov
    assert story.text[int(first["start"]):int(first["end"])].split()[0] in hov
    assert f"{n_open} open" in fig.layout.title.text
    sk = sl.pl.dna(story, kind="sankey")
    d = _traces(sk)[0]
    assert d["type"] == "sankey"
    assert list(d["node"]["label"]) == ["contradiction", "action", "pressure", "return", "open"]
    assert sum(d["link"]["value"]) == len(dna) - 1 + n_open


def test_engagement_annotations(story):
    fig = sl.pl.engagement(story)
    names = [t["name"] for t in _traces(fig)]
    assert names == ["tension", "curiosity", "arousal", "valence"]
    n = int((story.engagement["level"] == "scene").sum())
    assert len(_named(fig, "tension")["y"]) == n
    notes = [a["text"] for a in fig.to_dict()["layout"]["annotations"]
             if a.get("hovertext")]
    assert len(notes) == min(8, len(story.insights))
    assert any("Tom" in t or "eye" in t.lower() for t in notes)


def test_echoes(story):
    fig = sl.pl.echoes(story)
    pts = sum(len(t["x"]) for t in _traces(fig) if t.get("name") != "diagonal")
    assert pts == len(story.echoes) > 0
    assert all(0 <= x <= 100 for t in _traces(fig) for x in t["x"])


def test_drift_gauge(story):
    cand = "Tom laughed and sang by the fire. Kitty's eyes were brown that night."
    rep = sl.drift(story, cand)
    fig = sl.pl.drift_gauge(rep, cand)
    ind, bar = _traces(fig)
    assert ind["type"] == "indicator" and ind["value"] == pytest.approx(rep.score, abs=1e-3)
    assert list(bar["y"]) == list(rep.components)
    hov = dict(zip(bar["y"], bar["hovertext"]))
    assert "eyes were brown" in hov["fact_contradiction"]


def test_empty_story_gives_placeholder_figures():
    empty = sl.Story.from_text("Nothing happens here at all.")
    for name, fig in sl.pl.figures(empty).items():
        assert fig.to_dict()["layout"]["title"]["text"], name


def test_figures_dict(story):
    figs = sl.pl.figures(story)
    assert list(figs) == list(sl.pl.FIGURES)
    assert list(figs) == ["characters", "relationships", "engagement", "dna", "constraints", "echoes"]
    with pytest.raises(ValueError, match="known"):
        sl.pl.figures(story, ["nope"])


def test_one_name_per_concept_and_the_old_names_still_work(story):
    """A figure has the name of its table and its tl system; the old names warn."""
    for name in ("dna", "constraints", "engagement", "relationships"):
        assert hasattr(sl.tl, name) or name in story.tables, name
        assert getattr(sl.pl, name) is sl.pl.FIGURES[name]
    assert "echoes" in story.tables and sl.pl.FIGURES["echoes"] is sl.pl.echoes
    for old, new in (("capr_flow", "dna"), ("echo_map", "echoes"), ("constraint_graph", "constraints"),
                     ("engagement_arc", "engagement"), ("relationship_network", "relationships")):
        with pytest.warns(DeprecationWarning, match=f"pl.{old} is deprecated; use pl.{new}"):
            fig = getattr(sl.pl, old)(story)
        assert fig.to_json() == getattr(sl.pl, new)(story).to_json(), old
    with pytest.warns(DeprecationWarning, match="'capr' is deprecated; use 'dna'"):
        assert list(sl.pl.figures(story, ["capr"])) == ["dna"]
    with pytest.warns(DeprecationWarning, match="'capr'"):
        assert sl.pl.FIGURES["capr"] is sl.pl.dna
    with pytest.raises(KeyError):
        sl.pl.FIGURES["nope"]


_POSITIONS = """
import json, sys
import shimmy_lab as sl
sys.path.insert(0, {tests!r})
from narrative_texts import STORY
story = sl.Story.from_text(STORY)
for system in ("characters", "dna", "constraints"):
    getattr(sl.tl, system)(story)
fig = sl.pl.constraints(story)
print(json.dumps([[t.name, list(t.x or ()), list(t.y or ())] for t in fig.data if getattr(t, "mode", None) == "markers"]))
"""


def test_constraint_graph_layout_does_not_depend_on_the_hash_seed():
    import json
    import os
    from pathlib import Path

    code = _POSITIONS.format(tests=str(Path(__file__).parent))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    first, second = (json.loads(r.strip().splitlines()[-1]) for r in runs)
    assert first == second and sum(len(x) for _, x, _ in first) > 3
