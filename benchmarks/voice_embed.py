"""Can line embeddings show a line of dialogue is foreign to its speaker?

Usage::

    .venv/bin/python benchmarks/voice_embed.py [--flaws ../shared/flaws-dev]
                     [--clean ../shared/pdnc-dev] [--words 50000] [--drop-pcs K] [--cache FILE]
                     [--embedder {bundled,minilm} --minilm-path DIR]

The texts are the bundled six (whole) and the novels of ``--clean`` that are not bundled
(cut to their first ``--words`` words).  Each is read with ``sl.Story.from_text``; a *line*
is the speech of one speaker in one paragraph, from the quotes whose speaker comes from a
speech tag (``method == "tag"``), with >= 6 words.  Lines are embedded with the bundled
GGUF model (``engine.embed``: mean-pooled, L2-normalised) or, with ``--embedder minilm``,
with the sentence-embedding model all-MiniLM-L6-v2 read from ``--minilm-path`` by
``transformers`` (mean-pooled over the attention mask, L2-normalised), then centred on
the story's mean line and normalised again.  Speakers with >= ``MIN_LINES`` lines are
judged.  Scores of a line as speaker ``s``'s (``s``'s own line left out of ``s``'s centroid):

* ``centroid``: 1 - cos(line, centroid of s);
* ``z``: ``centroid`` standardised by the spread of s's other lines around their centroid;
* ``margin``: cos(line, nearest other speaker's centroid) - cos(line, centroid of s);
* (with ``--drop-pcs K``, the top K principal components of all lines are removed
  first: "all-but-the-top", against the anisotropy of language-model embeddings);
* ``len-adj``: ``centroid`` minus its expected value for the line's length (a linear fit
  on log words over the clean lines of the threshold texts).

Positives: *swapped* (a judged speaker's line scored as another judged speaker's of the
same story) and *foreign* (a line of a book by another author given to a judged speaker).
The threshold of each score gives <= ``RATE`` alarms per 10,000 words on clean lines of
the texts it is set on; recall is measured on the other texts (leave one text out).  The
``voice_drift`` flaws of ``--flaws`` are scored in their injected copies against the clean
speaker's lines, with the threshold set on the ``--clean`` novels only (no flaw text).
Embeddings are cached by line text in ``--cache`` (a pickle; one file per embedder by
default), so a rerun costs only the parsing.
"""

from __future__ import annotations

import argparse
import math
import pickle
import random
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

import shimmy_lab as sl
from shimmy_lab.engines.files import bundled_model_path
from shimmy_lab.engines.llama_cpp import LlamaCppEngine
from shimmy_lab.eval import flawset
from shimmy_lab.trackers import _util as U
from shimmy_lab.trackers import voice as V

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BUNDLED_IN_CLEAN = {"AlicesAdventuresInWonderland", "Emma", "Persuasion", "TheManWhoWasThursday"}
SUBTLE = ("dev-05", "dev-18", "dev-25", "dev-38")
MIN_WORDS, MIN_LINES, RATE = 6, 8, 0.3
SCORES = ("centroid", "z", "margin", "len-adj")


def cut(text: str, n: int) -> str:
    """The first ``n`` words of ``text``, ended at a paragraph break."""
    words = 0
    for i, para in enumerate(text.split("\n\n")):
        words += len(para.split())
        if words >= n:
            return "\n\n".join(text.split("\n\n")[: i + 1])
    return text


def tag_lines(story) -> pd.DataFrame:
    """One row per (paragraph, speaker) of the quotes attributed by a speech tag."""
    q = story.tables["quotes"]
    q = q[q["speaker"].notna() & (q["method"] == "tag")]
    rows = []
    for (para, spk), g in q.groupby(["paragraph", "speaker"], sort=False):
        text = " ".join(V.spoken_words(str(t)) for t in g["text"])
        text = " ".join(text.split())
        if len(U.words(text)) >= MIN_WORDS:
            rows.append({"speaker": str(spk), "start": int(g["start"].min()), "end": int(g["end"].max()),
                         "text": text, "nw": len(U.words(text))})
    return pd.DataFrame(rows, columns=["speaker", "start", "end", "text", "nw"])


#: characters of a line the bundled model embeds (its context is 2,048 tokens; a story told
#: in one quotation over many paragraphs is longer)
BUNDLED_CHARS = 6000


def bundled_embed() -> Callable[[list[str]], np.ndarray]:
    """``engine.embed`` of the bundled GGUF model (mean-pooled, L2-normalised), on the first
    :data:`BUNDLED_CHARS` characters of each line."""
    engine = LlamaCppEngine(bundled_model_path(), n_ctx=2048)
    return lambda texts: np.asarray(engine.embed([t[:BUNDLED_CHARS] for t in texts]), np.float32)


def minilm_embed(path: Path) -> Callable[[list[str]], np.ndarray]:
    """all-MiniLM-L6-v2 from the folder ``path`` (the sentence-transformers recipe: mean
    pooling over the attention mask, then L2 normalisation; at most 256 tokens a line)."""
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no config.json in --minilm-path {path}")
    import torch  # heavy optional library, only for --embedder minilm
    from transformers import AutoModel, AutoTokenizer  # heavy optional library, as torch

    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()

    def embed(texts: list[str]) -> np.ndarray:
        batch = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1).numpy().astype(np.float32)

    return embed


class Embedder:
    """A batch embedding function (made on first use by ``make``), cached by text in a
    pickle file; ``batch`` lines per call."""

    def __init__(self, cache: Path, make: Callable[[], Callable], batch: int = 32) -> None:
        self.path, self.make, self.batch, self.fn = cache, make, batch, None
        self.seconds, self.wall, self.n = 0.0, 0.0, 0
        self.cache = pickle.loads(cache.read_bytes()) if cache.is_file() else {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo and self.fn is None:
            self.fn = self.make()
        for i in range(0, len(todo), self.batch):
            chunk = todo[i:i + self.batch]
            t0, w0 = time.process_time(), time.perf_counter()
            vecs = self.fn(chunk)
            self.seconds += time.process_time() - t0
            self.wall += time.perf_counter() - w0
            self.n += len(vecs)
            self.cache.update(zip(chunk, (np.asarray(v, np.float32) for v in vecs)))
            self.path.write_bytes(pickle.dumps(self.cache))
        return np.vstack([self.cache[t] for t in texts]) if texts else np.zeros((0, 1))


class Speakers:
    """One story's judged lines: centred embeddings and each speaker's sums."""

    def __init__(self, lines: pd.DataFrame, emb: np.ndarray, words: int, top: np.ndarray) -> None:
        self.words, self.top = words, top
        self.mu = self.project(emb).mean(0)
        self.X = self.centre(emb)
        self.lines = lines.reset_index(drop=True)
        counts = self.lines["speaker"].value_counts()
        self.judged = [s for s in counts.index if counts[s] >= MIN_LINES]
        spk = self.lines["speaker"].values
        self.sums = {s: self.X[spk == s].sum(0) for s in self.judged}
        self.n = {s: int((spk == s).sum()) for s in self.judged}
        self.spread = {}
        for s in self.judged:
            idx = np.flatnonzero(spk == s)
            self.spread[s] = np.array([self.distance(self.X[i], s, True) for i in idx])

    def project(self, emb: np.ndarray) -> np.ndarray:
        """``emb`` without its parts along the rows of ``top`` (all-but-the-top)."""
        return emb - (emb @ self.top.T) @ self.top

    def centre(self, emb: np.ndarray) -> np.ndarray:
        X = self.project(emb) - self.mu
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    def centroid(self, s: str, x: np.ndarray | None = None) -> np.ndarray:
        c = self.sums[s] - (x if x is not None else 0)
        return c / np.linalg.norm(c)

    def distance(self, x: np.ndarray, s: str, own: bool) -> float:
        return 1.0 - float(x @ self.centroid(s, x if own else None))

    def score(self, x: np.ndarray, s: str, home: str | None) -> dict:
        """Scores of the (centred) line ``x`` as ``s``'s; ``home``: the speaker whose sums
        hold the line (its own speaker for a clean or a swapped line, None for a foreign
        one), left out of every centroid it would count in."""
        own = home == s
        d = self.distance(x, s, own)
        sp = self.spread[s]
        sp = np.delete(sp, np.argmin(np.abs(sp - d))) if own else sp
        others = [float(x @ self.centroid(o, x if o == home else None)) for o in self.judged if o != s]
        return {"centroid": d, "z": (d - sp.mean()) / (sp.std() + 1e-6),
                "margin": (max(others) if others else -1.0) - (1.0 - d)}


def collect(texts: dict, embed: Embedder, rng: random.Random, drop: int = 0) -> tuple[pd.DataFrame, dict]:
    """Score rows of clean, swapped and foreign lines; and each story's :class:`Speakers`
    (``drop``: top principal components of all lines removed)."""
    parsed, pool = {}, []
    for name, text in texts.items():
        lines = tag_lines(sl.Story.from_text(text))
        parsed[name] = (lines, embed(list(lines["text"])), len(U.words(text)))
        pool += [(name, t, n) for t, n in zip(lines["text"], lines["nw"])]
    E = np.vstack([e for _, e, _ in parsed.values()])
    top = np.linalg.svd(E - E.mean(0), full_matrices=False)[2][:drop]
    stories = {name: Speakers(*p, top) for name, p in parsed.items()}
    rows = []
    for name, S in stories.items():
        judged = S.lines["speaker"].isin(S.judged).values
        for i in np.flatnonzero(judged):
            r = S.lines.iloc[i]
            rows.append({"story": name, "kind": "clean", "nw": r.nw, **S.score(S.X[i], r.speaker, r.speaker)})
        for i in rng.sample(list(np.flatnonzero(judged)), min(150, int(judged.sum())) if len(S.judged) > 1 else 0):
            other = rng.choice([s for s in S.judged if s != S.lines.at[i, "speaker"]])
            rows.append({"story": name, "kind": "swapped", "nw": S.lines.at[i, "nw"], **S.score(S.X[i], other, S.lines.at[i, "speaker"])})
        foreign = [p for p in pool if author(p[0]) != author(name)]
        for src, t, nw in rng.sample(foreign, min(150, len(foreign))) if S.judged else []:
            x = S.centre(embed([t]))[0]
            rows.append({"story": name, "kind": "foreign", "nw": nw, **S.score(x, rng.choice(S.judged), None)})
    return pd.DataFrame(rows), stories


def author(name: str) -> str:
    """A key that is the same for two texts by one author (the books of this benchmark)."""
    keys = {"austen": "austen", "emma": "austen", "persuasion": "austen", "chesterton": "chesterton",
            "thursday": "chesterton"}
    return next((v for k, v in keys.items() if k in name.lower()), name)


def threshold(clean: pd.DataFrame, col: str, words: int) -> float:
    """The lowest threshold with <= RATE alarms per 10,000 words on ``clean``."""
    k = int(math.floor(RATE * words / 10_000))
    s = np.sort(clean[col].values)[::-1]
    return float(s[k]) if k < len(s) else -np.inf


def dprime(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float((b.mean() - a.mean()) / math.sqrt((a.var() + b.var()) / 2))


def add_len_adj(R: pd.DataFrame, fit: pd.DataFrame) -> pd.Series:
    """``centroid`` minus a linear fit on log words over the clean rows of ``fit``."""
    c = fit[fit.kind == "clean"]
    b, a = np.polyfit(np.log(c.nw.astype(float)), c.centroid, 1)
    return R.centroid - (a + b * np.log(R.nw.astype(float)))


def heldout(R: pd.DataFrame, words: dict) -> pd.DataFrame:
    """Per score: d' and leave-one-text-out recall at <= RATE clean alarms per 10k words."""
    out = []
    for col in SCORES:
        hits = {"swapped": [], "foreign": []}
        alarms = 0
        for name in R[R.kind == "clean"].story.unique():
            tr, te = R[R.story != name], R[R.story == name]
            if col == "len-adj":
                tr, te = tr.assign(**{col: add_len_adj(tr, tr)}), te.assign(**{col: add_len_adj(te, tr)})
            t = threshold(tr[tr.kind == "clean"], col, sum(w for n, w in words.items() if n != name))
            alarms += int((te[te.kind == "clean"][col] > t).sum())
            for k in hits:
                hits[k] += list(te[te.kind == k][col] > t)
        X = R.assign(**{"len-adj": add_len_adj(R, R)})
        c = X[X.kind == "clean"][col]
        out.append({"score": col, "d' swapped": dprime(c, X[X.kind == "swapped"][col]),
                    "d' foreign": dprime(c, X[X.kind == "foreign"][col]),
                    "recall swapped": np.mean(hits["swapped"]), "recall foreign": np.mean(hits["foreign"]),
                    "clean alarms /10k (held out)": alarms / sum(words.values()) * 1e4})
    return pd.DataFrame(out)


def flaw_rows(injected: dict, spans: list, stories: dict, embed: Embedder) -> pd.DataFrame:
    """Scores of each ``voice_drift`` flaw's line as its named speaker's, in the clean story."""
    rows = []
    for sp in (s for s in spans if s["kind"] == "voice_drift"):
        q = sl.Story.from_text(injected[sp["text_id"]]).tables["quotes"]
        s0, e0 = sp["span"]
        q = q[(q["start"] < e0) & (q["end"] > s0)]
        text = " ".join(" ".join(V.spoken_words(str(t)) for t in q["text"]).split())
        S = stories[sp["text_id"]]
        tagged = set(map(str, q["speaker"].dropna()))
        cands = [s for s in S.judged if sp["name"].split()[-1].lower() in s.lower().split("_")]
        spk = next((s for s in cands if s in tagged), cands[0] if cands else None)
        row = {"id": sp["id"], "name": sp["name"], "speaker": spk, "line": text[:60], "nw": len(U.words(text)),
               "tagged as": ", ".join(sorted(tagged))}
        if spk is not None and text:
            row.update(S.score(S.centre(embed([text]))[0], spk, None))
        rows.append(row)
    return pd.DataFrame(rows)


def flaw_table(R: pd.DataFrame, F: pd.DataFrame, words: dict, clean: set, flaw_texts: set) -> None:
    """Flaws found at thresholds set on the ``clean`` novels; clean alarms on the flaw texts."""
    R = R.assign(**{"len-adj": add_len_adj(R, R[R.story.isin(clean)])})
    fit = R[R.story.isin(clean)]
    if "centroid" in F:
        F = F.assign(**{"len-adj": add_len_adj(F, fit)})
    print("\n| score | threshold | flaws passing (of 8) | subtle passing (of 4) | "
          "clean alarms on the 4 flaw texts (per 10k words) |\n|---|---:|---:|---:|---:|")
    fw = sum(words[n] for n in flaw_texts)
    for col in SCORES:
        t = threshold(fit[fit.kind == "clean"], col, sum(words[n] for n in clean))
        ok = F[col] > t if col in F else pd.Series(False, index=F.index)
        sub = ok[F.id.isin(SUBTLE)]
        a = int((R[(R.kind == "clean") & R.story.isin(flaw_texts)][col] > t).sum())
        print(f"| {col} | {t:.3f} | {int(ok.sum())} | {int(sub.sum())} | {a} ({a / fw * 1e4:.2f}) |")
    C = R[R.kind == "clean"]
    print("\nflaw lines (scores; 'pct' = share of all clean lines below):")
    for col in SCORES:
        if col in F:
            F[col + " pct"] = [float((C[col] < v).mean()) if v == v else np.nan for v in F[col]]
    print(F.drop(columns=[c for c in F if c.endswith(" pct") and not c.startswith(("z", "centroid"))])
          .round(3).to_string(index=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flaws", default=str(SHARED / "flaws-dev"))
    ap.add_argument("--clean", default=str(SHARED / "pdnc-dev"))
    ap.add_argument("--words", type=int, default=50_000, help="cut the --clean novels to this many words")
    ap.add_argument("--drop-pcs", type=int, default=0,
                    help="remove this many top principal components of all lines (all-but-the-top)")
    ap.add_argument("--embedder", choices=("bundled", "minilm"), default="bundled",
                    help="the bundled GGUF model's engine.embed, or all-MiniLM-L6-v2 (--minilm-path)")
    ap.add_argument("--minilm-path", help="the folder of all-MiniLM-L6-v2 (config.json, safetensors, tokenizer)")
    ap.add_argument("--cache", help="embedding cache (default: voice_embed_cache[_minilm].pkl in the temp dir)")
    a = ap.parse_args()
    if a.embedder == "minilm" and not a.minilm_path:
        ap.error("--embedder minilm needs --minilm-path")
    if not Path(a.flaws).is_dir() or not Path(a.clean).is_dir():
        print(f"skipped: {a.flaws} or {a.clean} is absent")
        return
    clean = Path(a.clean)
    texts = {n: sl.datasets.load(n) for n in sl.datasets.list()["name"]}
    novels = {d.name: cut((d / "novel_text.txt").read_text(encoding="utf-8"), a.words)
              for d in sorted(clean.iterdir()) if (d / "novel_text.txt").is_file() and d.name not in BUNDLED_IN_CLEAN}
    texts.update(novels)
    cache_dir = Path(tempfile.gettempdir())
    if a.embedder == "minilm":
        embed = Embedder(Path(a.cache or cache_dir / "voice_embed_cache_minilm.pkl"),
                         lambda: minilm_embed(Path(a.minilm_path)), batch=64)
    else:
        embed = Embedder(Path(a.cache or cache_dir / "voice_embed_cache.pkl"), bundled_embed)
    t0 = time.time()
    R, stories = collect(texts, embed, random.Random(1), a.drop_pcs)
    words = {n: S.words for n, S in stories.items()}
    print(f"{len(texts)} texts, {sum(words.values())} words; lines: "
          + ", ".join(f"{k} {v}" for k, v in R.kind.value_counts().items()) + f"; {time.time() - t0:.0f} s")
    if embed.n:
        ms = embed.seconds / embed.n * 1000
        ne = len(stories["austen-emma"].lines)
        print(f"embedding: {embed.n} new lines, {ms:.1f} ms CPU per line, {embed.n / embed.wall:.1f} lines/s "
              f"wall; Emma's {ne} lines ~ {ne * ms / 1000:.0f} s CPU")
    print(f"\nleave-one-text-out, threshold at <= {RATE} clean alarms per 10k words:\n")
    print(heldout(R, words).round(3).to_markdown(index=False))
    with tempfile.TemporaryDirectory() as tmp:
        injected, spans = flawset.apply_flaw_set(Path(a.flaws), ROOT / "datasets", tmp)
    flaw_texts = {s["text_id"] for s in spans}
    F = flaw_rows(injected, spans, stories, embed)
    flaw_table(R, F, words, set(novels), flaw_texts)


if __name__ == "__main__":
    main()
