"""Speaker attribution and characters, end to end, on PDNC's development split.

Usage::

    .venv/bin/python benchmarks/attribution.py [--corpus ../shared/pdnc-dev]

Reads every novel of the corpus with ``Story.from_text`` (no help, no model) and scores
it as the corpus README says (:mod:`shimmy_lab.eval.attribution`): speaker accuracy over
all gold quotations, per quote type (explicit, anaphoric, implicit), quote recall and
precision, the major and intermediate characters found, split and mixed, and words/s of
the read.  Per novel and pooled.  Data: the Project Dialogism Novel Corpus
(Vishnubhotla, Hammond, Hirst, LREC 2022), read in place, never copied.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "pdnc-dev"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(DEFAULT), help="folder of novel folders in PDNC's form")
    a = ap.parse_args()
    root = Path(a.corpus)
    if not root.is_dir():
        print(f"no corpus at {root}: nothing to measure (pass --corpus DIR)")
        sys.exit(0)
    from shimmy_lab.eval.attribution import score_corpus

    df = score_corpus(root)
    cols = ["novel", "quotes", "accuracy", "explicit", "anaphoric", "implicit", "quote_recall",
            "quote_precision", "characters_found", "characters_split", "characters_mixed", "words",
            "words_per_s"]
    with pd.option_context("display.width", 250):
        print(df[cols].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
