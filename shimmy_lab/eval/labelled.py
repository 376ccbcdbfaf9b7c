"""Evaluation against the project's own hand-labelled set (``tests/data/story_eval.json``
in the source tree: the set is not shipped, the path is passed in).

Used by ``benchmarks/story.py`` and the tests.  The independent figures are those of
:mod:`shimmy_lab.eval.attribution` (PDNC).  Metrics:

- quote detection: a gold quote is found when a predicted quote inside the region
  starts with its prefix (in order); precision counts predicted quotes in the region.
- speaker attribution: accuracy over found gold quotes with a named speaker (a quote
  left without speaker counts as wrong), and coverage.
- characters: predicted characters mentioned in the region; a prediction is right
  when one of its name forms is a gold form of a gold character not matched before
  (a character split in two counts one false positive).
- facts: recall on injected sentences; precision over all facts predicted in the
  injected chapter (the clean chapter has none) plus the clean book.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd

from .. import datasets
from ..story import Story

__all__ = ["load_gold", "dataset_story", "eval_quotes", "eval_characters", "eval_facts", "evaluate"]


def load_gold(path: str | Path) -> dict:
    """Read a labelled set (JSON) from ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=8)
def dataset_story(name: str) -> Story:
    """A bundled dataset read into a Story (cached per process)."""
    return Story.from_text(datasets.load(name), title=name)


def _region(text: str, region: list[str]) -> tuple[int, int]:
    a = text.index(region[0])
    return a, text.index(region[1], a + 1)


def _norm(s: str) -> str:
    return " ".join(s.split())


def eval_quotes(story, item: dict) -> dict:
    """Quote detection and speaker attribution on one labelled region."""
    a, b = _region(story.text, item["region"])
    q = story.quotes
    q = q[(q["start"] >= a) & (q["start"] < b)]
    preds = [(_norm(t), s if isinstance(s, str) else None)
             for t, s in zip(q["text"].astype(object), q["speaker"].astype(object))]
    used: set[int] = set()
    tp = correct = labelled = 0
    rows = []
    j = 0
    for prefix, name in item["quotes"]:
        p = _norm(prefix)
        hit = next((k for k in range(j, len(preds)) if k not in used and preds[k][0].startswith(p)),
                   None)
        gold_id = story.character(name) if name else None
        pred_sp = None
        if hit is not None:
            used.add(hit)
            j = hit + 1
            tp += 1
            pred_sp = preds[hit][1]
            if name:
                labelled += 1
                correct += int(pred_sp is not None and pred_sp == gold_id)
        rows.append({"prefix": prefix, "gold": name, "gold_id": gold_id, "found": hit is not None,
                     "predicted": pred_sp})
    n_gold = len(item["quotes"])
    attributed = sum(1 for r in rows if r["found"] and r["gold"] and r["predicted"])
    return {"dataset": item["dataset"], "scene": item.get("scene", ""), "gold": n_gold,
            "predicted": len(preds), "tp": tp, "precision": tp / max(len(preds), 1),
            "recall": tp / max(n_gold, 1), "speaker_n": labelled, "speaker_correct": correct,
            "speaker_accuracy": correct / max(labelled, 1),
            "speaker_coverage": attributed / max(labelled, 1), "rows": rows}


def eval_characters(story, item: dict) -> dict:
    a, b = _region(story.text, item["region"])
    m = story.mentions
    ids = list(dict.fromkeys(m.loc[(m["start"] >= a) & (m["start"] < b), "character_id"]))
    names = story.names
    gold = {g: {_norm(x) for x in forms} for g, forms in item["characters"].items()}
    matched: set[str] = set()
    tp = fp = 0
    for cid in ids:
        forms = set(names.loc[names["character_id"] == cid, "surface"].astype(str))
        g = next((g for g, fs in gold.items() if forms & fs), None)
        if g is None or g in matched:
            fp += 1
        else:
            matched.add(g)
            tp += 1
    return {"dataset": item["dataset"], "gold": len(gold), "predicted": len(ids), "tp": tp,
            "precision": tp / max(len(ids), 1), "recall": tp / max(len(gold), 1),
            "missed": sorted(set(gold) - matched)}


def eval_facts(gold: dict) -> dict:
    """Inject the labelled sentences into a chapter and compare extracted facts."""
    spec = gold["facts"]
    text = datasets.load(spec["dataset"])
    at = text.index(spec["inject_after"])
    at = text.index("\n\n", text.index("\n\n", at) + 2)  # after the first paragraph
    block = "".join("\n\n" + s for s, *_ in spec["items"])
    story = Story.from_text(text[:at] + block + text[at:], title=spec["dataset"])
    lo, hi = at, at + len(block)
    f = story.facts
    inj = f[(f["start"] >= lo) & (f["end"] <= hi)]
    found = {(r.subject, r.attribute, r.value) for r in inj.itertuples()}
    tp = 0
    missed = []
    for sentence, subj, attr, value in spec["items"]:
        sid = story.character(subj)
        v = story.character(value) if attr.endswith("_of") or attr == "married_to" else value
        if (sid, attr, v) in found:
            tp += 1
        else:
            missed.append(sentence)
    gold_keys = {(story.character(s), a, story.character(v) if a.endswith("_of") or a == "married_to"
                  else v) for _, s, a, v in spec["items"]}
    gold_keys |= {(v, a, s) for s, a, v in gold_keys if a == "married_to"}
    clean_gold = {(story.character(s), a, v) for s, a, v in spec["clean_text_facts"]}
    outside = f[(f["end"] <= lo) | (f["start"] >= hi)]
    pred = {(r.subject, r.attribute, r.value) for r in inj.itertuples()}
    pred_out = [(r.subject, r.attribute, r.value) for r in outside.itertuples()]
    right = len(pred & gold_keys) + sum(1 for k in pred_out if k in clean_gold)
    n_pred = len(pred) + len(pred_out)
    return {"gold": len(spec["items"]), "tp": tp, "recall": tp / len(spec["items"]),
            "predicted": n_pred, "precision": right / max(n_pred, 1), "missed": missed,
            "wrong": sorted(str(k) for k in (pred - gold_keys)) +
            [str(k) for k in pred_out if k not in clean_gold]}


def evaluate(gold: dict | str | Path) -> dict[str, pd.DataFrame]:
    """Run every evaluation of the labelled set ``gold`` (a dict, or the path of its JSON);
    returns one DataFrame per task."""
    gold = gold if isinstance(gold, dict) else load_gold(gold)
    quotes = [eval_quotes(dataset_story(it["dataset"]), it) for it in gold["quotes"]]
    chars = [eval_characters(dataset_story(it["dataset"]), it) for it in gold["characters"]]
    facts = eval_facts(gold)
    return {
        "quotes": pd.DataFrame([{k: v for k, v in r.items() if k != "rows"} for r in quotes]),
        "quote_rows": pd.concat([pd.DataFrame(r["rows"]).assign(dataset=r["dataset"]) for r in quotes],
                                ignore_index=True),
        "characters": pd.DataFrame(chars),
        "facts": pd.DataFrame([facts]),
    }
