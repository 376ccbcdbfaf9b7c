"""Narrative detectors: independent flaws first, then the project's own generator; speed.

Usage::

    .venv/bin/python benchmarks/detectors.py [--flaws ../shared/flaws-dev] [--clean ../shared/pdnc-dev]
                                             [--candidates 3] [--no-independent]
                                             [--trials 4] [--words 10000] [--seed 0 [1 2]]
                                             [--kind voice_drift] [--voice-model none]
                                             [--context-tokens 384] [--name-weight 0.3] [--speed-runs 30]
                                             [--analyze-runs 1] [--verbose]

First, the independent material (written by other hands than the detectors'):
``--flaws`` names a flaw set in the form of ``flaws-dev`` (its own ``apply.py`` injects
it into the bundled texts, ``--match-style``); :func:`shimmy_lab.analyze` runs with its
defaults on each injected copy and the recall per kind is printed, scored as the set's
README says.  Then the clean false alarms per 10,000 words and the words per second of
the default analysis, per corpus: the bundled texts and the novels of ``--clean`` (a
folder of ``*/novel_text.txt``, as PDNC's development split).  Then the same flaws as
``sl.drift`` checks of a 300-word continuation (the story before the flaw, the flaw and
what follows), with the false alarms of ``--candidates`` clean continuations per text.

Then the project's own generator: it injects known flaws (contradicting eye/hair colour or age, a dead character who
speaks or acts, a line from another book in a character's mouth, a first-person or
present-tense rewrite of a narration paragraph, a paragraph from another book) into
excerpts of every bundled text, and runs the clean full texts to count false alarms.
Then times ``sl.drift`` of a 200-word candidate against a ~100k-word story (the first
100,000 words of Emma): median of ``--speed-runs`` runs after one warm-up run (the
warm-up builds the story's cached baseline); and ``sl.analyze`` of the whole of Emma
with the lexical voice check, with the default model stage, and with the model stage
again after a paragraph is appended (``--analyze-runs``; ratios in the same run;
``--trials 0`` runs only the timings).  ``--verbose`` prints every false alarm and
every missed injection.  The ``voice_drift`` check runs as :func:`shimmy_lab.analyze`
runs it by default, with its model stage (the bundled SmolLM2 scores how well each
unusual line fits the story before it); ``--voice-model none`` measures the lexical
stage alone (about 4 minutes for three seeds instead of ~45 on 2 cores), ``--voice-model ID``
another model.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from pathlib import Path

import pandas as pd

from shimmy_lab.eval import flawset
from shimmy_lab.eval.perturb import KINDS, benchmark

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

CANDIDATE = (
    '"I have been thinking of the ball," said Emma, when they were alone again. '
    "Mr. Knightley looked up from his paper and smiled, but said nothing for a while. "
    "She walked to the window and watched the rain falling on the shrubbery, thinking of "
    "Harriet and of Mr. Elton, and of all that had passed at Randalls since the Westons had "
    "come home from London. Her father was asleep by the fire, and the room was very quiet. "
    '"You are very grave tonight," said Mr. Knightley at last. "Is anything the matter?" '
    '"Nothing at all," she replied, "only I have been thinking of poor Miss Bates, and of '
    "Jane Fairfax, who is to come to Highbury next month, and of how glad we shall all be "
    'to see her again." He said that he hoped so, and took up his hat, and went out into the '
    "evening to walk home to Donwell, where his brother John and Isabella were to dine with "
    "him on the following day, with all the children. Emma sat a long time alone after he "
    "had gone, and could not decide, even when the candles were brought in, whether she had "
    "been right or wrong.")


def drift_speed(runs: int = 30, words: int = 100_000) -> dict:
    """Median time of ``sl.drift`` (200-word candidate) against ``words`` words of Emma."""
    import shimmy_lab as sl

    text = sl.datasets.load("austen-emma")
    spans = [m.start() for m in re.finditer(r"\S+", text)]
    cut = text.find("\n\n", spans[words]) if len(spans) > words else -1
    story = sl.Story.from_text(text[:cut] if cut > 0 else text)  # cut at a paragraph break
    sl.drift(story, CANDIDATE)  # warm-up: builds the cached baseline of the story
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        report = sl.drift(story, CANDIDATE)
        ts.append(time.perf_counter() - t0)
    return {"story_words": len(story.text.split()), "candidate_words": len(CANDIDATE.split()),
            "runs": runs, "median_ms": statistics.median(ts) * 1e3,
            "max_ms": max(ts) * 1e3, "score": report.score}


def analyze_speed(runs: int = 1, name: str = "austen-emma", model_stage: bool = False) -> dict:
    """Seconds of ``sl.analyze`` (all systems) on a whole novel, with and without the voice model.

    Timings in one process, each the median of ``runs``: the default (the lexical voice
    check); with ``model_stage`` also ``voice_model="bundled"`` (the bundled model scores
    unusual lines; its score cache emptied before each run) and that again on the story
    with a paragraph appended (the cache holds the earlier lines' scores).
    """
    import shimmy_lab as sl
    from shimmy_lab.trackers import fit

    text = sl.datasets.load(name)
    if model_stage:
        fit.fit_engine("bundled")  # loading the model is not part of the analysis
    extra = '\n\n"I wonder what Mr. Knightley will say to all this," said Emma.\n'

    def timed(txt: str, model: str, cold: bool) -> float:
        ts = []
        for _ in range(runs):
            if cold:
                fit.clear_cache()
            t0 = time.perf_counter()
            sl.analyze(txt, voice_model=model)
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    lexical = timed(text, "none", True)
    model = timed(text, "bundled", True) if model_stage else float("nan")
    again = timed(text + extra, "bundled", False) if model_stage else float("nan")
    return {"name": name, "words": len(text.split()), "runs": runs, "lexical_s": lexical,
            "model_s": model, "model_cached_s": again}


def _analyze(text: str):
    import shimmy_lab as sl

    return sl.analyze(text)  # the defaults, as a user runs it


def independent_flaws(folder: Path) -> pd.DataFrame:
    """Recall per kind on an independent flaw set (``sl.analyze`` with its defaults)."""
    flaws, _ = flawset.run_flaw_set(folder, ROOT / "datasets", _analyze)
    return flaws


def clean_corpora(clean: Path | None) -> dict[str, dict[str, str]]:
    """``{corpus: {name: text}}``: the bundled texts, and the novels under ``clean``."""
    import shimmy_lab as sl

    out = {"bundled": {n: sl.datasets.load(n) for n in sl.datasets.list()["name"]}}
    if clean is not None and clean.is_dir():
        out[clean.name] = {d.name: (d / "novel_text.txt").read_text(encoding="utf-8")
                           for d in sorted(clean.iterdir()) if (d / "novel_text.txt").is_file()}
    return out


def clean_false_alarms(corpora: dict[str, dict[str, str]]) -> pd.DataFrame:
    """False alarms per kind and per 10,000 words, and words/s, for each corpus."""
    rows = []
    for corpus, texts in corpora.items():
        df = flawset.clean_alarms(texts, _analyze)
        row = {"corpus": corpus, "texts": len(df), "words": int(df["words"].sum())}
        for k in KINDS:
            row[k] = int(df[k].sum())
        row["per_10k"] = round(sum(row[k] for k in KINDS) / row["words"] * 1e4, 3)
        row["words_per_s"] = round(row["words"] / df["seconds"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _drift_check(story_text: str, candidate: str) -> pd.DataFrame:
    import shimmy_lab as sl

    return sl.drift(sl.Story.from_text(story_text), candidate).insights


def candidate_mode(folder: Path, corpora: dict[str, dict[str, str]], per_text: int) -> tuple:
    """The flaws as drift checks of a continuation, and clean continuations' false alarms."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        texts, spans = flawset.apply_flaw_set(folder, ROOT / "datasets", tmp)
    inj = json.loads((folder / "injections.json").read_text(encoding="utf-8"))
    found = flawset.score_candidates(flawset.candidate_cases(texts, spans, inj), _drift_check)
    rows = []
    for corpus, ctexts in corpora.items():
        cases = flawset.clean_candidate_cases(ctexts, per_text)
        words = sum(len(c["candidate"].split()) for c in cases)
        counts = {k: 0 for k in KINDS}
        for c in cases:
            ins = _drift_check(c["story"], c["candidate"])
            for k in KINDS:
                counts[k] += int((ins["kind"] == k).sum())
        rows.append({"corpus": corpus, "continuations": len(cases), "words": words, **counts,
                     "per_10k": round(sum(counts.values()) / max(words, 1) * 1e4, 3)})
    return found, pd.DataFrame(rows)


def _recall_table(flaws: pd.DataFrame) -> str:
    g = flaws.groupby("kind")["found"].agg(["sum", "count"])
    g["recall"] = (g["sum"] / g["count"]).round(3)
    g.loc["all"] = [g["sum"].sum(), g["count"].sum(), round(g["sum"].sum() / g["count"].sum(), 3)]
    return g.rename(columns={"sum": "found", "count": "flaws"}).to_string()


def run_independent(a: argparse.Namespace) -> None:
    """Print the independent figures (flaw set, clean corpora, candidate mode)."""
    folder = Path(a.flaws)
    if not (folder / "apply.py").is_file():
        print(f"independent flaw set not found at {folder}: skipped (--flaws DIR)")
        return
    t0 = time.perf_counter()
    flaws = independent_flaws(folder)
    print(f"== independent flaws: {folder} (sl.analyze defaults, {time.perf_counter() - t0:.0f} s)")
    print(_recall_table(flaws))
    if a.verbose:
        print("missed:", ", ".join(f"{r.id} {r.kind}" for r in flaws[~flaws["found"]].itertuples()))
    corpora = clean_corpora(Path(a.clean) if a.clean else None)
    print("== clean texts: false alarms of the six kinds (sl.analyze defaults)")
    print(clean_false_alarms(corpora).to_string(index=False))
    if a.candidates:
        found, fa = candidate_mode(folder, corpora, a.candidates)
        print("== the same flaws as sl.drift checks of a 300-word continuation")
        print(_recall_table(found))
        print(fa.to_string(index=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flaws", default=str(SHARED / "flaws-dev"),
                    help="independent flaw set folder (injections.json + apply.py)")
    ap.add_argument("--clean", default=str(SHARED / "pdnc-dev"),
                    help="folder of clean novels (*/novel_text.txt) for false alarms ('' to skip)")
    ap.add_argument("--candidates", type=int, default=3,
                    help="clean 300-word continuations per text for the drift check (0: skip the candidate mode)")
    ap.add_argument("--no-independent", action="store_true", help="skip the independent figures")
    ap.add_argument("--model-stage", action="store_true",
                    help="also time sl.analyze with voice_model='bundled' (minutes on a novel)")
    ap.add_argument("--trials", type=int, default=4, help="injections per kind and text")
    ap.add_argument("--words", type=int, default=10000, help="excerpt size in words")
    ap.add_argument("--seed", type=int, nargs="+", default=[0],
                    help="seeds of the injections (the clean texts are analysed once)")
    ap.add_argument("--kind", nargs="+", default=None, choices=KINDS, metavar="KIND",
                    help=f"flaw kinds to inject: {', '.join(KINDS)} (default: all; a kind's draws depend on the kinds run)")
    ap.add_argument("--voice-model", default=None,
                    help="model of the voice_drift check's second stage (default: as sl.analyze, "
                         "the bundled model; 'none': lexical stage only)")
    ap.add_argument("--context-tokens", type=int, default=None,
                    help="tokens of story the voice model scores a line after, in the generator run "
                         "(default shimmy_lab.trackers.fit.CONTEXT_TOKENS; to compare settings)")
    ap.add_argument("--name-weight", type=float, default=None,
                    help="weight of a titled name the story never mentions elsewhere, in the generator "
                         "run (default shimmy_lab.trackers.voice.NAME_WEIGHT; to compare settings)")
    ap.add_argument("--speed-runs", type=int, default=30, help="runs of the drift timing (0: skip)")
    ap.add_argument("--analyze-runs", type=int, default=1,
                    help="runs of the analyze timing on Emma, with and without the voice model (0: skip)")
    ap.add_argument("--verbose", action="store_true",
                    help="print the false alarms and the missed injections")
    a = ap.parse_args()
    from shimmy_lab.trackers import fit, voice

    # the model stage's settings go in as parameters of the characters system, as a user passes them
    stage = {"fit_context_tokens": a.context_tokens, "name_weight": a.name_weight}
    params = {"characters": {k: v for k, v in stage.items() if v is not None}}
    print(f"voice model stage: {a.context_tokens or fit.CONTEXT_TOKENS} tokens of context, "
          f"name weight {voice.NAME_WEIGHT if a.name_weight is None else a.name_weight}")
    if not a.no_independent:
        run_independent(a)
    t0 = time.perf_counter()
    if a.trials:
        print("== the project's own generator (not the claim: same hands as the detectors)")
        df = benchmark(kinds=a.kind or KINDS, trials=a.trials, excerpt_words=a.words, seed=a.seed,
                       verbose=a.verbose, voice_model=a.voice_model, params=params)
        print(df.to_string(index=False))
        print(f"total {time.perf_counter() - t0:.0f} s")
    if a.speed_runs:
        sp = drift_speed(a.speed_runs)
        print(f"drift speed: {sp['candidate_words']}-word candidate vs {sp['story_words']}-word "
              f"story, median {sp['median_ms']:.1f} ms over {sp['runs']} runs "
              f"(max {sp['max_ms']:.1f} ms; goal < 20 ms)")
    if a.analyze_runs:
        an = analyze_speed(a.analyze_runs, model_stage=a.model_stage)
        line = (f"analyze speed ({an['name']}, {an['words']:,} words, all systems, median of "
                f"{an['runs']}): default (lexical voice check) {an['lexical_s']:.1f} s = "
                f"{an['words'] / an['lexical_s']:,.0f} words/s (goal >= 5,000)")
        if a.model_stage:
            line += (f"; with the model stage (voice_model='bundled') {an['model_s']:.1f} s "
                     f"({an['model_s'] / an['lexical_s']:.1f}x); again after an append, scores "
                     f"cached {an['model_cached_s']:.1f} s ({an['model_cached_s'] / an['lexical_s']:.1f}x)")
        print(line)

if __name__ == "__main__":
    main()
