"""Which lines should the ``voice_drift`` model stage see?  Wider candidate gates against a base
gate, on the perturbation benchmark's own draws, scoring only the lines a gate adds.

Usage::

    .venv/bin/python benchmarks/voice_gate.py 1000-1019 --base 0.3,0.25   # the development draw
    .venv/bin/python benchmarks/voice_gate.py 0-4 --base 0.3,0.25 --no-model

A line's decision depends on that line alone (its lexical score against the story, its fit
to the story before it), so a gate wider than the base one changes only (a) the injections
whose foreign line the base gate never sends to the model, which it may now find, and (b) the
clean lines it adds, which may raise false alarms.  Those lines are scored with the
production :func:`shimmy_lab.trackers.fit.line_fit` and the default threshold.  ``--base
C,S`` is the base gate (lexical >= C, or fewer than 4 content words sharing <= S with their
surroundings; default the current one); ``--no-model`` only counts the lines.  About 25 s per
seed without the model; with it, ~4 s per added clean line (all seeds share them).
"""

from __future__ import annotations

import argparse
from collections import Counter

import pandas as pd

import voice_settings  # benchmarks/ is on sys.path when this file is run as a script
from shimmy_lab import datasets
from shimmy_lab.story import Story
from shimmy_lab.trackers import _util as U
from shimmy_lab.trackers import voice

P = voice_settings.P

#: name -> gate on a ``lines`` table (columns lexical, n_content, local_share, names)
VARIANTS = {
    "lexical >= 0.2": lambda d: d.lexical >= 0.2,
    "lexical >= 0.25": lambda d: d.lexical >= 0.25,
    "short, sharing <= 40 %": lambda d: voice.candidate_gate(d.lexical, d.n_content, d.local_share, 2.0, 0.4),
    "names a titled stranger": lambda d: d.names.map(bool),
    "lexical >= 0.25 or short <= 40 %": lambda d: voice.candidate_gate(d.lexical, d.n_content, d.local_share, 0.25, 0.4),
}


def lines(text: str) -> pd.DataFrame:
    """Every judged line of ``text`` with what the gates read."""
    df = voice.line_scores(Story.from_text(text))
    caps = Counter(voice._CAPITALISED.findall(text))
    df["names"] = [voice.unknown_titled_names(text, s, e, caps) for s, e in zip(df.start, df.end)]
    df["n_content"] = [len(U.content_words(text[s:e])) for s, e in zip(df.start, df.end)]
    return df


def draws(seeds: list[int]) -> list:
    """The benchmark's voice_drift injections, drawn by ``benchmark`` itself (nothing analysed)."""
    out = []
    empty = pd.DataFrame(columns=["kind", "start", "end", "message"])

    def record(st, kind=None):
        if kind is not None:
            p = voice_settings.last_perturbation()
            out.append(((len(out), st.title), p))
        st.tables["insights"] = empty
        return st

    P.perturb = voice_settings.remember_perturbation
    P.benchmark(kinds=["voice_drift"], trials=4, excerpt_words=10000, seed=seeds, analyze=record)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", help="first-last, e.g. 1000-1019")
    parser.add_argument("--base", default=f"{voice.FIT_CANDIDATE},{voice.FIT_LOCAL_SHARE}")
    parser.add_argument("--no-model", action="store_true")
    opts = parser.parse_args()
    a, b = (int(x) for x in opts.seeds.split("-"))
    c0, s0 = (float(x) for x in opts.base.split(","))
    base = lambda d: voice.candidate_gate(d.lexical, d.n_content, d.local_share, c0, s0)  # noqa: E731

    texts = {n: datasets.load(n) for n in datasets.list()["name"]}
    clean = {n: lines(t) for n, t in texts.items()}
    unseen, trials, unjudged = {}, 0, 0  # injections whose judged foreign line the base gate never sends
    for key, p in draws(list(range(a, b + 1))):
        trials += 1
        df = lines(p.text)
        hit = df[(df.start < p.end) & (df.end > p.start)]
        if not len(hit):
            unjudged += 1  # its speaker is not attributed, or the line is too short: no gate helps
        elif not base(hit).any():
            unseen[key] = (p.text, hit)
    print(f"seeds {a}-{b}: {trials} injections, {unjudged} with no judged line, "
          f"{len(unseen)} whose judged line the base gate never sends")

    scored: dict = {}  # (text id, start, end) -> combined score

    def score(tid, text, df):
        todo = df[[(tid, s, e) not in scored for s, e in zip(df.start, df.end)]]
        if opts.no_model or not len(todo):
            return
        from shimmy_lab.trackers import fit

        fits = fit.line_fit(fit.fit_engine("bundled"), text, list(zip(todo.start, todo.end)))
        for r, f in zip(todo.itertuples(), fits):
            scored[tid, r.start, r.end] = voice.combined_score(r.lexical, f, r.words, len(r.names))

    rows = []
    for name, gate in VARIANTS.items():
        added = {n: df[gate(df) & ~base(df)] for n, df in clean.items()}
        for n, df in added.items():
            score(n, texts[n], df)
        found = 0
        for key, (text, hit) in unseen.items():
            new = hit[gate(hit)]
            score(key, text, new)
            found += any(scored.get((key, s, e), -1) >= voice.FIT_THRESHOLD for s, e in zip(new.start, new.end))
        alarms = sum(scored.get((n, s, e), -1) >= voice.FIT_THRESHOLD
                     for n, df in added.items() for s, e in zip(df.start, df.end))
        rows.append({"gate added": name, "clean lines added": sum(map(len, added.values())),
                     "new clean false alarms": None if opts.no_model else alarms,
                     "injections gained": None if opts.no_model else found,
                     "of unseen": len(unseen)})
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
