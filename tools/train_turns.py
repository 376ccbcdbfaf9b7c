"""Learn the turn-taking model of the reader from annotated novels (PDNC's form).

Usage::

    .venv/bin/python tools/train_turns.py [--corpus ../shared/pdnc-dev] [--rounds 2] [--save]

Reads every novel of the corpus, records the candidates and features of every untagged
turn the reader decides (:mod:`shimmy_lab.story.turns`), labels the candidate that is the
annotated speaker, and fits the log-linear weights (L2-penalised, Newton's method).
Because a turn's features include the speakers decided before it, reading and fitting
alternate for ``--rounds`` rounds, starting from hand-set weights.

Then it cross-validates by novel: for each novel, the weights are fitted on the others
and that novel is read and scored end to end (:mod:`shimmy_lab.eval.attribution`); the
pooled held-out accuracy is printed, overall and by quote type (explicit, anaphoric,
implicit).
``--save`` writes the all-novel fit to ``shimmy_lab/story/data/turns.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "pdnc-dev"
OUT = ROOT / "shimmy_lab" / "story" / "data" / "turns.json"

def novels(root: Path) -> list[Path]:
    return [d for d in sorted(root.iterdir()) if (d / "quotation_info.csv").is_file()]


def read_with(model, folder: Path):
    """Read one novel with ``model``; its story and the recorded turns."""
    from shimmy_lab.eval.attribution import read_novel
    from shimmy_lab.story import Story
    from shimmy_lab.story.turns import recording

    nov = read_novel(folder)
    with recording(model) as rec:
        story = Story.from_text(nov["text"])
    return nov, story, rec


def labelled(nov: dict, story, rec: list[dict]) -> list[tuple[np.ndarray, int, str]]:
    """(features, index of the annotated speaker, kind) of every recorded choice that has one."""
    from shimmy_lab.eval.attribution import _gold_resolver, map_characters
    from shimmy_lab.story.pipeline import NARRATOR

    mapping = map_characters(story.characters, nov["characters"])
    gold_of = _gold_resolver(nov["characters"])
    # the narrator reads as "narrator" until the story names them (pipeline._name_narrator)
    rename = {NARRATOR: story.uns.get("params", {}).get("narrator") or NARRATOR}
    shift = 0 if story.text == nov["text"] else nov["text"].find(story.text[:500])
    firsts = sorted((spans[0][0], gold_of(sp)) for spans, sp in zip(nov["quotes"]["spans"],
                                                                     nov["quotes"]["speaker"]))
    starts = [s for s, _ in firsts]
    out = []
    for r in rec:
        i = int(np.searchsorted(starts, r["start"] + shift))
        if i >= len(firsts) or firsts[i][0] >= r["end"] + shift or firsts[i][1] is None:
            continue
        ys = [j for j, c in enumerate(r["candidates"]) if mapping.get(rename.get(c, c)) == firsts[i][1]]
        if ys:
            out.append((r["X"], ys[0], r["kind"]))
    return out


def fit(data: list[tuple[np.ndarray, int, str]], l2: float = 1.0, steps: int = 30):
    """A :class:`~shimmy_lab.story.turns.TurnModel`: one conditional logit per kind of choice."""
    from shimmy_lab.story.turns import FEATURES, KINDS, TurnModel

    weights = []
    for kind in KINDS:
        rows = [(X, y) for X, y, k in data if k == kind]
        w = fit_kind(rows, l2, steps) if rows else None  # no such choices: the model's default
        weights.append({f: round(float(v), 4) for f, v in zip(FEATURES, w)} if w is not None else None)
    return TurnModel(*weights)


def fit_kind(data: list[tuple[np.ndarray, int]], l2: float = 1.0, steps: int = 30) -> np.ndarray:
    """Weights of a conditional logit (one choice per turn) by Newton's method."""
    from shimmy_lab.story.turns import FEATURES

    w = np.zeros(len(FEATURES))
    for _ in range(steps):
        g = l2 * w
        H = l2 * np.eye(len(w))
        for X, y in data:
            s = X @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            g += X.T @ p - X[y]
            xp = X.T @ p
            H += X.T @ (X * p[:, None]) - np.outer(xp, xp)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def score(folder: Path, model) -> pd.DataFrame:
    """End-to-end scores of one novel read with ``model`` (gold quotations with ``correct``)."""
    from shimmy_lab.eval.attribution import score_novel
    from shimmy_lab.story import Story
    from shimmy_lab.story.turns import recording

    def read(text):
        with recording(model):
            return Story.from_text(text)
    return score_novel(folder, read)["quotes"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(DEFAULT))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--l2", type=float, default=3.0)
    ap.add_argument("--save", action="store_true", help=f"write the all-novel fit to {OUT}")
    a = ap.parse_args()
    root = Path(a.corpus)
    if not root.is_dir():
        print(f"no corpus at {root}: nothing to train on (pass --corpus DIR)")
        sys.exit(0)
    sys.path.insert(0, str(ROOT))
    from shimmy_lab.story.turns import PRIOR, TurnModel

    folders = novels(root)
    model = TurnModel(PRIOR)
    data: dict[str, list] = {}
    for r in range(a.rounds):
        for d in folders:
            nov, story, rec = read_with(model, d)
            data[d.name] = labelled(nov, story, rec)
        model = fit([x for v in data.values() for x in v], a.l2)
        print(f"round {r + 1}: {sum(map(len, data.values()))} labelled turns")
    print(pd.DataFrame({"turn": model.weights, "pronoun": model.pronoun}).round(3).to_string())
    scored = []
    for d in folders:
        held = fit([x for n, v in data.items() if n != d.name for x in v], a.l2)
        q = score(d, held)
        scored.append(q)
        print(f"{d.name:32s} held-out accuracy {q['correct'].mean():.3f}", flush=True)
    pooled = pd.concat(scored, ignore_index=True)
    by_type = pooled.groupby("type")["correct"].mean()
    print(f"pooled held-out accuracy (train on the other novels, read and score this one): "
          f"{pooled['correct'].mean():.4f}")
    print("pooled held-out accuracy by quote type: "
          + ", ".join(f"{t.lower()} {v:.4f}" for t, v in by_type.items()))
    if a.save:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        tmp = OUT.with_suffix(".tmp")
        tmp.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(OUT)
        print(f"saved {OUT}")


if __name__ == "__main__":
    main()
