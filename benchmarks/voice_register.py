"""Can a line's *register* show it is foreign to its speaker?  Distributions, not a detector.

Usage::

    .venv/bin/python benchmarks/voice_register.py --empath PATH/categories.tsv
                     [--flaws ../shared/flaws-dev] [--clean ../shared/pdnc-dev]

``PATH/categories.tsv`` is the lexicon of the PyPI package ``empath`` 0.89 (MIT, Ethan
Fast 2016: 194 semantic fields, 7,643 words), e.g. from ``pip download --no-deps
empath==0.89`` unpacked.  Every text (the bundled six and the novels of ``--clean``) is
read with ``sl.Story.from_text``; the judged lines are those the ``voice_drift`` check
judges (attributed with confidence >= 0.6 by what the text says, >= 10 words, speakers
with >= 5 lines, >= 4 content words).  Each line is compared with its speaker's other
lines (leave-one-out) and scored by:

* the lexical score of :func:`shimmy_lab.trackers.voice.voice_line_score` (with and
  without its inflection and contraction handling, for the ablation);
* style: the rms z (against the speaker's other lines; sd pooled within speakers) of 16
  features: word length, long words, abstract suffixes, sentence length, commas, 1st
  singular, 1st plural and 2nd person, '!', '?', contractions, modals, negations,
  function-word share, articles, ';:--';
* semantic fields: log p(fields | story dialogue) - log p(fields | speaker), Dirichlet
  smoothed, per sqrt(field hits + 1);
* speaker novelty: share of content words the speaker never used, as a binomial z
  against the speaker's other lines;
* a logistic model over all of them, trained on the ``--clean`` corpus (clean lines
  against lines from other books) and tested on the bundled texts.

Injected lines: *swapped* (a line of one main speaker, >= 10 lines, scored as another
main speaker's of the same story) and *other book* (a judged line of another text given
to a judged speaker, added to the story).  The flaws of ``--flaws`` (voice_drift) are
placed among the clean lines by percentile.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

import shimmy_lab as sl
from shimmy_lab.eval import flawset
from shimmy_lab.trackers import _util as U
from shimmy_lab.trackers import voice as V

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ABSTRACT = re.compile(r"(?:tion|sion|ment|ence|ance|ity|ness|ism|ency|ancy|ship|ure|ous|ive|ible|able|ical)s?$")
PRON = ({"i", "me", "my", "mine", "myself"}, {"we", "us", "our", "ours", "ourselves"},
        {"you", "your", "yours", "yourself", "thee", "thou", "thy", "ye"})
MODAL = {"must", "should", "would", "could", "might", "may", "shall", "ought", "will", "can"}
NEG = {"not", "no", "never", "nothing", "nobody", "none", "nor"}
SUBTLE = ("dev-05", "dev-18", "dev-25", "dev-38")


def load_fields(path: Path) -> dict[str, list[int]]:
    """word -> field indices of the Empath lexicon."""
    out: dict[str, list[int]] = defaultdict(list)
    for i, line in enumerate(path.read_text().splitlines()):
        for w in line.split("\t")[1:]:
            if w:
                out[w].append(i)
    return out


def field_vec(text: str, fields: dict, n: int) -> np.ndarray:
    v = np.zeros(n)
    for w in U.words(text):
        if w in U.STOPWORDS:
            continue
        cs = next((fields[f] for f in V.word_forms(w) if f in fields), ())
        for c in cs:
            v[c] += 1.0 / len(cs)
    return v


def style_vec(text: str) -> np.ndarray:
    toks = U.words(text)
    n, ns = max(len(toks), 1), max(len(re.findall(r"[.!?]+(?:\s|$)", text)), 1)
    return np.array([np.mean([len(t) for t in toks]) if toks else 0, sum(len(t) >= 8 for t in toks) / n,
                     sum(bool(ABSTRACT.search(t)) and len(t) > 5 for t in toks) / n, len(toks) / ns,
                     text.count(",") / n, *(sum(t in p for t in toks) / n for p in PRON),
                     text.count("!") / ns, text.count("?") / ns, len(U.CONTRACTION_RE.findall(text)) / n,
                     sum(t in MODAL for t in toks) / n, sum(t in NEG or t.endswith("n't") for t in toks) / n,
                     sum(t in U.STOPWORDS for t in toks) / n, sum(t in ("the", "a", "an") for t in toks) / n,
                     len(re.findall(r"[;:]|--|\u2014", text)) / n])


def lines_of(story) -> pd.DataFrame:
    q = story.tables["quotes"]
    q = q[q["speaker"].notna()]
    nq = q["speaker"].astype(str).value_counts()
    q = q[(q["confidence"] >= 0.6) & ~q["method"].isin(V.TURN_METHODS)]
    return pd.DataFrame([{"speaker": str(r.speaker), "start": int(r.start), "end": int(r.end),
                          "text": V.spoken_words(str(r.text)),
                          "judged": nq.get(str(r.speaker), 0) >= 5 and len(U.words(str(r.text))) >= 10}
                         for r in q.itertuples()])


def ablated(fn, *args):
    """``fn(*args)`` with the voice check's inflection and contraction handling off."""
    forms, content = V.word_forms, V.voice_content_words
    V.word_forms, V.voice_content_words = (lambda w: (w,)), U.content_words
    try:
        return fn(*args)
    finally:
        V.word_forms, V.voice_content_words = forms, content


class Context:
    """One story's counts: words, word pairs, each speaker's words, fields and style."""

    def __init__(self, story, fields: dict, nf: int) -> None:
        self.df = lines_of(story)
        toks = U.words(story.text)
        self.sc, self.sb, self.fields, self.nf = Counter(toks), V.bigrams(toks), fields, nf
        self.spk: dict[str, Counter] = defaultdict(Counter)
        for s, t in zip(self.df["speaker"], self.df["text"]):
            self.spk[s].update(U.words(t))
        F = np.vstack([field_vec(t, fields, nf) for t in self.df["text"]])
        D = F.sum(0)
        self.pD = (D + 50 / nf) / (D.sum() + 50)
        X = np.vstack([style_vec(t) for t in self.df["text"]])
        spk = self.df["speaker"].values
        self.fs = {s: F[spk == s].sum(0) for s in set(spk)}
        self.xs = {s: (X[spk == s].sum(0), int((spk == s).sum())) for s in set(spk)}
        resid = [X[spk == s] - X[spk == s].mean(0) for s in set(spk) if (spk == s).sum() >= 3]
        self.sd = (np.vstack(resid) if resid else X).std(0) + 1e-6
        nl = self.df["speaker"].value_counts()
        self.main = [s for s in nl.index if nl[s] >= 10]

    def features(self, t: str, s: str, loo: bool, added: bool = False) -> dict | None:
        """Scores of line ``t`` as speaker ``s``'s (``loo``: the line is theirs in the story;
        ``added``: the line is not in the story's counts yet)."""
        tk = U.words(t)
        cw = V.voice_content_words(t)
        if len(cw) < 4:
            return None
        own, pairs = Counter(tk), V.bigrams(tk)
        sc, sb = (self.sc + own, self.sb + pairs) if added else (self.sc, self.sb)
        spk = self.spk[s] + (Counter() if loo else own)
        lex = V.voice_line_score(t, spk, 0, sc, own, sb)[0]
        lex0 = ablated(V.voice_line_score, t, spk, 0, sc, own, sb)[0]
        sn = sum(V._uses(spk, own, w) <= 0 for w in cw) / len(cw)
        v = field_vec(t, self.fields, self.nf)
        fsum = self.fs[s] - (v if loo else 0)
        p = (fsum + 20 * self.pD) / (fsum.sum() + 20)
        tot, n = self.xs[s]
        x = style_vec(t)
        z = (x - (tot - (x if loo else 0)) / max(n - (1 if loo else 0), 1)) / self.sd
        return {"lexical": lex, "lexical_plain": lex0, "spk_new": sn, "ncw": len(cw), "nw": len(tk),
                "spk_words": sum(self.spk[s].values()),
                "field": float(v @ np.log(self.pD) - v @ np.log(p)) / math.sqrt(v.sum() + 1),
                "style": float(np.sqrt((z ** 2).mean())), **{f"s{i}": float(abs(q)) for i, q in enumerate(z)}}


def collect(corpora: dict, injected: dict, spans: list, fields: dict, nf: int, seed: int = 1) -> pd.DataFrame:
    """Feature rows of clean, swapped, other-book and flaw lines."""
    rng = random.Random(seed)
    pool = []
    ctx = {}
    for corpus, texts in corpora.items():
        for name, text in texts.items():
            ctx[(corpus, name)] = c = Context(sl.Story.from_text(text), fields, nf)
            j = c.df[c.df["judged"]] if len(c.df) else c.df
            pool += [(name, t) for t in (j["text"] if len(j) else []) if 12 <= len(t.split()) <= 45]
    rows = []
    for (corpus, name), c in ctx.items():
        if not len(c.df):
            continue
        for r in c.df[c.df["judged"]].itertuples():
            rows.append({**(c.features(r.text, r.speaker, True) or {}), "corpus": corpus, "kind": "clean",
                         "story": name, "speaker": r.speaker})
        cand = c.df[c.df["judged"] & c.df["speaker"].isin(c.main)]
        for i in rng.sample(list(cand.index), min(200, len(cand))) if len(c.main) >= 2 else []:
            b = rng.choice([m for m in c.main if m != cand.at[i, "speaker"]])
            rows.append({**(c.features(cand.at[i, "text"], b, False) or {}), "corpus": corpus, "kind": "swapped",
                         "story": name, "speaker": b})
        nl = c.df[c.df["judged"]]["speaker"].value_counts()
        for b in list(nl.index[nl >= 5])[:12]:
            for _ in range(10):
                src, t = rng.choice(pool)
                if src.lower()[:4] != name.lower()[:4] and "emma" not in src.lower() + name.lower():
                    rows.append({**(c.features(t, b, False, added=True) or {}), "corpus": corpus,
                                 "kind": "other book", "story": name, "speaker": b})
    for key, text in injected.items():
        c = Context(sl.Story.from_text(text), fields, nf)
        for sp in spans:
            if sp["kind"] == "voice_drift" and sp["text_id"] == key:
                s0, e0 = sp["span"]
                for r in c.df[(c.df.start < e0) & (c.df.end > s0) & c.df.judged].itertuples():
                    rows.append({**(c.features(r.text, r.speaker, True) or {}), "corpus": "flaws",
                                 "kind": "flaw", "story": key, "speaker": r.speaker, "id": sp["id"]})
    return pd.DataFrame(rows).dropna(subset=["lexical"])


def speaker_z(R: pd.DataFrame, k: float = 5.0, tau: float = 0.12) -> pd.Series:
    """Speaker novelty as a binomial z against the speaker's other clean lines."""
    C = R[R.kind == "clean"]
    g = C.groupby(["story", "speaker"])["spk_new"].agg(["sum", "count"])
    R = R.join(g, on=["story", "speaker"])
    isc = R.kind == "clean"
    s = R["sum"].fillna(0) - np.where(isc, R.spk_new, 0)
    n = R["count"].fillna(0) - isc.astype(int)
    p = ((s + k * R.story.map(C.groupby("story")["spk_new"].mean())) / (n + k)).clip(0.02, 0.98)
    return (R.spk_new - p) / np.sqrt(p * (1 - p) / R.ncw + tau ** 2)


def logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50):
    """A ridge logistic regression fitted by Newton steps; returns its scoring function."""
    mu, sd = X.mean(0), X.std(0) + 1e-9
    A = np.c_[np.ones(len(X)), (X - mu) / sd]
    w = np.zeros(A.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-A @ w))
        g = A.T @ (p - y) / len(y) + l2 * np.r_[0, w[1:]]
        H = (A * (p * (1 - p))[:, None]).T @ A / len(y) + l2 * np.eye(len(w))
        w -= np.linalg.solve(H, g)
    return lambda Z: np.c_[np.ones(len(Z)), (Z - mu) / sd] @ w


def dprime(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float((b.mean() - a.mean()) / math.sqrt((a.var() + b.var()) / 2))


def report(R: pd.DataFrame, clean_name: str) -> None:
    R = R.assign(speaker_z=speaker_z(R), lnw=np.log(R.nw), lsw=np.log(R.spk_words.clip(lower=50)))
    cols = ["lexical", "spk_new", "lnw", "lsw", "speaker_z", "field", "style"] + [f"s{i}" for i in range(16)]
    tr = R[(R.corpus == clean_name) & R.kind.isin(["clean", "other book"])]
    R["model"] = logistic(tr[cols].values, (tr.kind == "other book").values.astype(float))(R[cols].values)
    print("| score | d' swapped | d' other book | other-book lines above the clean 99th percentile | "
          "subtle flaws' percentiles among clean lines (" + ", ".join(SUBTLE) + ") |\n|---|---:|---:|---:|---|")
    for label, col, test in [("lexical (current)", "lexical", None), ("style (rms z of 16 features)", "style", None),
                             ("semantic fields (Empath)", "field", None), ("speaker novelty (binomial z)", "speaker_z", None),
                             ("logistic over all (trained on the clean corpus, tested on the bundled texts)", "model", "bundled")]:
        X = R if test is None else R[(R.corpus == test) | (R.kind == "flaw")]
        c, sw, ob = (X[X.kind == k][col] for k in ("clean", "swapped", "other book"))
        fl = R[R.kind == "flaw"].set_index("id")[col]
        print(f"| {label} | {dprime(c, sw):.2f} | {dprime(c, ob):.2f} | {(ob > c.quantile(.99)).mean():.3f} | "
              + ", ".join(f"{(c < fl[i]).mean():.3f}" for i in SUBTLE if i in fl) + " |")
    c, ob = R[R.kind == "clean"], R[R.kind == "other book"]
    print(f"\n{len(c)} clean lines, {(R.kind == 'swapped').sum()} swapped, {len(ob)} from other books")
    print("lexical score with / without inflections and contractions: clean lines >= 0.62: "
          f"{(c.lexical >= .62).sum()} / {(c.lexical_plain >= .62).sum()}")
    for n in (20, 30, 45):
        t1, t0 = (np.sort(c[k].values)[::-1][n - 1] for k in ("lexical", "lexical_plain"))
        print(f"  at {n} clean alarms: other-book lines found {(ob.lexical >= t1).mean():.3f} "
              f"(threshold {t1:.3f}) / {(ob.lexical_plain >= t0).mean():.3f} ({t0:.3f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--empath", required=True, help="categories.tsv of the empath package")
    ap.add_argument("--flaws", default=str(SHARED / "flaws-dev"))
    ap.add_argument("--clean", default=str(SHARED / "pdnc-dev"))
    a = ap.parse_args()
    fields = load_fields(Path(a.empath))
    nf = 1 + max(i for v in fields.values() for i in v)
    clean = Path(a.clean)
    corpora = {"bundled": {n: sl.datasets.load(n) for n in sl.datasets.list()["name"]},
               clean.name: {d.name: (d / "novel_text.txt").read_text(encoding="utf-8")
                            for d in sorted(clean.iterdir()) if (d / "novel_text.txt").is_file()}}
    with tempfile.TemporaryDirectory() as tmp:
        injected, spans = flawset.apply_flaw_set(Path(a.flaws), ROOT / "datasets", tmp)
    report(collect(corpora, injected, spans, fields, nf), clean.name)


if __name__ == "__main__":
    main()
