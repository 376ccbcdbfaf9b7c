"""Scoring of independent flaw sets (shimmy_lab.eval.flawset), on made-up sets."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from shimmy_lab.eval import flawset


def _ins(*rows):
    cols = ["kind", "start", "end", "characters", "title", "message"]
    return pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols)


def _rec(id_, kind, span, name="", also=(), group=()):
    return {"id": id_, "text_id": "t", "kind": kind, "span": list(span), "name": name,
            "also_spans": [list(a) for a in also], "group_spans": [list(g) for g in group]}


def test_an_insight_of_the_kind_overlapping_the_span_or_its_also_spans_finds_the_flaw():
    spans = [_rec("a", "tense_shift", (100, 200)), _rec("b", "fact_contradiction", (500, 560), also=[(40, 60)]),
             _rec("c", "topic_drift", (900, 1000))]
    ins = _ins(("tense_shift", 150, 260, [], "", ""),       # overlaps a
               ("fact_contradiction", 45, 50, [], "", ""),  # overlaps b's earlier statement
               ("pov_shift", 900, 1000, [], "", ""))        # right place, wrong kind
    got = flawset.score_insights(ins, spans).set_index("id")["found"].to_dict()
    assert got == {"a": True, "b": True, "c": False}


def test_each_insight_finds_one_flaw_at_most():
    spans = [_rec("a", "pov_shift", (100, 200)), _rec("b", "pov_shift", (190, 300))]
    one = flawset.score_insights(_ins(("pov_shift", 150, 250, [], "", "")), spans)
    assert one["found"].tolist() == [True, False]


def test_a_dead_character_is_found_by_an_insight_naming_them_at_or_after_the_death():
    spans = [_rec("d", "dead_character_acts", (1000, 1200), name="Mr. John Knightley")]
    before = _ins(("dead_character_acts", 900, 950, ["John Knightley"], "", ""))
    other = _ins(("dead_character_acts", 5000, 5050, ["Emma"], "Emma speaks after dying", ""))
    later = _ins(("dead_character_acts", 9000, 9050, [], "KNIGHTLEY acts after dying", ""))
    assert not flawset.score_insights(before, spans)["found"].any()
    assert not flawset.score_insights(other, spans)["found"].any()
    assert flawset.score_insights(later, spans)["found"].all()


def _fake_set(tmp_path, script: str):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "injections.json").write_text("[]")
    (folder / "apply.py").write_text(script)
    data = tmp_path / "data"
    data.mkdir()
    (data / "t.txt").write_text("One.\n\nTwo.\n")
    return folder, data


_APPLY = """
import argparse, json, os
ap = argparse.ArgumentParser(); ap.add_argument('--datasets'); ap.add_argument('--out')
ap.add_argument('--match-style', action='store_true'); a = ap.parse_args()
text = open(os.path.join(a.datasets, 't.txt')).read()
new = text.replace('Two.', 'Flaw here.\\n\\nTwo.')
open(os.path.join(a.out, 't.txt'), 'w').write(new)
s = new.index('Flaw')
json.dump([{'id': 'x', 'text_id': 't', 'kind': 'topic_drift', 'span': [s, s + 10],
            'also_spans': [], 'group_spans': [], 'name': ''}], open(os.path.join(a.out, 'spans.json'), 'w'))
"""


def test_the_set_is_applied_by_its_own_script_and_scored(tmp_path):
    folder, data = _fake_set(tmp_path, _APPLY)

    class Found:
        def __init__(self, text):
            self.text = text
            s = text.index("Flaw")
            self.insights = _ins(("topic_drift", s, s + 5, [], "", ""))

    flaws, stories = flawset.run_flaw_set(folder, data, Found)
    assert flaws["found"].tolist() == [True] and stories["t"].text.startswith("One.")


def test_a_broken_or_missing_set_says_so(tmp_path):
    folder, data = _fake_set(tmp_path, "raise SystemExit('bad anchor')")
    with pytest.raises(RuntimeError, match="bad anchor"):
        flawset.apply_flaw_set(folder, data, tmp_path / "out")
    with pytest.raises(FileNotFoundError):
        flawset.apply_flaw_set(tmp_path / "nowhere", data, tmp_path / "out")


def test_candidate_cases_cut_the_story_before_the_flaw_and_keep_the_flaw_whole():
    para = " ".join(["word"] * 50)
    text = "\n\n".join([para] * 10 + ["The flaw is here and now.", para, "X died.", para,
                                      "Later X said hello.", para])
    s = text.index("The flaw")
    d = text.index("X died.")
    spans = [_rec("a", "tense_shift", (s, s + 25)),
             _rec("b", "dead_character_acts", (d, d + 7), name="X")]
    inj = [{"id": "b", "later_evidence": "Later X said hello."}]
    cases = {c["id"]: c for c in flawset.candidate_cases({"t": text}, spans, inj, words=30)}
    a = cases["a"]
    assert a["story"] == text[:s] and a["candidate"].startswith("The flaw is here and now.")
    assert a["candidate"][slice(*a["span"])] == "The flaw is here and now."
    b = cases["b"]
    assert "X died." in b["story"] and b["candidate"].startswith("Later X said hello.")
    json.dumps(cases["a"])  # plain data


def test_clean_candidates_are_cut_at_paragraph_starts():
    para = " ".join(["word"] * 100)
    text = "\n\n".join([para] * 20)
    cases = flawset.clean_candidate_cases({"t": text}, per_text=3, words=50)
    assert len(cases) == 3
    for c in cases:
        assert c["story"].endswith("\n\n") and len(c["candidate"].split()) == 50
        assert text.startswith(c["story"] + c["candidate"])


def test_the_generators_dead_character_is_found_by_any_act_after_the_death():
    from shimmy_lab.eval.perturb import Perturbation

    p = Perturbation("dead_character_acts", "x" * 500, 400, 450, "Tom Bell dies, then acts", "Tom Bell", 100)
    first_act = _ins(("dead_character_acts", 200, 230, ["Tom Bell"], "Tom Bell speaks after dying", ""))
    before = _ins(("dead_character_acts", 50, 60, ["Tom Bell"], "", ""))
    other = _ins(("dead_character_acts", 300, 330, ["Kitty"], "Kitty acts after dying", ""))
    assert p.found_by(first_act) and not p.found_by(before) and not p.found_by(other)
    q = Perturbation("tense_shift", "x" * 500, 400, 450, "present")
    assert q.found_by(_ins(("tense_shift", 440, 460, [], "", ""))) and not q.found_by(first_act)
