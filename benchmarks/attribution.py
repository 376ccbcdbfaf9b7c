"""Speaker attribution and characters, end to end, on PDNC's development split.

Usage::

    .venv/bin/python benchmarks/attribution.py [--corpus ../shared/pdnc-dev] [--cast [people]]

Reads every novel of the corpus with ``Story.from_text`` (no help, no model) and scores
it as the corpus README says (:mod:`shimmy_lab.eval.attribution`): speaker accuracy over
all gold quotations, per quote type (explicit, anaphoric, implicit), quote recall and
precision, the major and intermediate characters found, split and mixed, and words/s of
the read.  Per novel and pooled.  With ``--cast`` every novel is read with its annotated
cast (``character_info.csv``: main name, aliases, gender) passed as
``Story.from_text(text, characters=...)``; ``--cast people`` leaves out the rows of
gender X (names that never speak, see :func:`read_cast`).  Data: the Project Dialogism
Novel Corpus (Vishnubhotla, Hammond, Hirst, LREC 2022), read in place, never copied.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import pandas as pd

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "pdnc-dev"


def read_cast(folder: Path, people: bool = False) -> list[dict]:
    """The cast list of a novel folder from its ``character_info.csv``, for
    ``Story.from_text(text, characters=...)``.

    Genders 'F'/'M' become 'female'/'male', others None; the pseudo-characters
    ``_group`` and ``_unknowable`` are left out, and a name form an earlier row already
    has is dropped (a member whose main name is taken is left out): a cast may not give
    one form to two members.  ``people``: leave out the rows of gender 'X' too (none of
    them speaks: places, gods, painters, and stubs such as a bare "Bounderby" beside
    "Josiah Bounderby").
    """
    from shimmy_lab.story.characters import name_key

    c = pd.read_csv(folder / "character_info.csv")
    cast, taken = [], set()
    for name, aliases, gender in zip(c["Main Name"].astype(str), c["Aliases"], c["Gender"]):
        if name.startswith("_") or name_key(name).lower() in taken or (people and gender == "X"):
            continue
        forms = [name] + sorted(str(a) for a in ast.literal_eval(aliases) if str(a).strip())
        forms = [f for f in forms if name_key(f).lower() not in taken]
        taken |= {name_key(f).lower() for f in forms}
        cast.append({"name": name, "aliases": forms[1:],
                     "gender": {"F": "female", "M": "male"}.get(str(gender))})
    return cast


def _cast_reader(root: Path, people: bool = False):
    """Text -> Story reading each novel of ``root`` with its cast (:func:`read_cast`)."""
    from shimmy_lab.story import Story

    casts = {(d / "novel_text.txt").read_text(encoding="utf-8"): read_cast(d, people)
             for d in sorted(root.iterdir()) if (d / "character_info.csv").is_file()}
    return lambda text: Story.from_text(text, characters=casts[text])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(DEFAULT), help="folder of novel folders in PDNC's form")
    ap.add_argument("--cast", nargs="?", const="all", choices=["all", "people"],
                    help="read every novel with its annotated cast (character_info.csv): "
                         "all rows, or 'people': without the rows of gender X")
    a = ap.parse_args()
    root = Path(a.corpus)
    if not root.is_dir():
        print(f"no corpus at {root}: nothing to measure (pass --corpus DIR)")
        sys.exit(0)
    from shimmy_lab.eval.attribution import score_corpus

    df = score_corpus(root, _cast_reader(root, a.cast == "people") if a.cast else None)
    cols = ["novel", "quotes", "accuracy", "explicit", "anaphoric", "implicit", "quote_recall",
            "quote_precision", "addressee_recall", "addressee_precision", "characters_found",
            "characters_split", "characters_mixed", "words", "words_per_s"]
    with pd.option_context("display.width", 250):
        print(df[cols].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
