"""Speaker attribution scored end to end on an annotated corpus in PDNC's form.

The Project Dialogism Novel Corpus (Vishnubhotla, Hammond, Hirst, LREC 2022) annotates
every quotation of its novels with its speaker.  A novel folder holds
``novel_text.txt``, ``quotation_info.csv`` and ``character_info.csv``.  The scoring
follows the development split's README:

1. the reader reads the novel with no help (:meth:`Story.from_text`);
2. each predicted character maps to the annotated character sharing the most name
   forms with it (forms lower-cased, whitespace collapsed, the period after a title
   dropped; ties go to the character whose main name equals the predicted name, then
   to one that has it as an alias; no shared form, no mapping);
3. a gold speaker string resolves to its character through the alias lists;
4. a gold quotation is found when a predicted quote overlaps one of its sub-quotation
   spans, and its predicted speaker is that of the first overlapping predicted quote
   that has one.  Accuracy = correct speakers / all gold quotations.

Quote precision counts predicted quotes overlapping a gold span.  Addressees are scored
on the gold quotations whose ``addressees`` resolve to annotated characters: the
predicted addressee is that of the first overlapping predicted quote that has one,
mapped as speakers are; recall = right addressees / those quotations, precision =
right addressees / those of them given an addressee.  Character figures:
the share of major and intermediate annotated characters some predicted character
maps to, the share of them split over several predicted characters, and the share of
predicted characters whose forms belong to two annotated characters.
"""

from __future__ import annotations

import ast
import bisect
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..story import Story

__all__ = ["read_novel", "score_novel", "score_corpus", "name_form"]

_TITLE_DOT = re.compile(r"\b(mr|mrs|ms|dr|st|col|capt|gen|rev)\.", re.I)
TYPES = ("Explicit", "Anaphoric", "Implicit")


def name_form(name: str) -> str:
    """A name form as the scoring compares it: lower case, one space, no title period."""
    return " ".join(_TITLE_DOT.sub(r"\1", str(name)).lower().split())


def read_novel(folder: str | Path) -> dict[str, Any]:
    """Read one annotated novel folder.

    Returns
    -------
    dict
        ``text``; ``quotes`` (DataFrame: ``spans`` list of (start, end), ``speaker``,
        ``type``, ``addressees`` list of names, empty when not annotated); ``characters``
        (DataFrame: ``id``, ``name``, ``forms`` set, ``gender``, ``category``).
    """
    folder = Path(folder)
    text = (folder / "novel_text.txt").read_text(encoding="utf-8")
    q = pd.read_csv(folder / "quotation_info.csv")
    c = pd.read_csv(folder / "character_info.csv")
    chars = pd.DataFrame({
        "id": c["Character ID"].astype(str), "name": c["Main Name"].astype(str),
        "forms": [{name_form(m)} | {name_form(a) for a in ast.literal_eval(al)}
                  for m, al in zip(c["Main Name"], c["Aliases"])],
        "gender": c["Gender"], "category": c["Category"].astype(str)})
    addressees = q["addressees"] if "addressees" in q else pd.Series([None] * len(q))
    quotes = pd.DataFrame({"spans": [[tuple(s) for s in ast.literal_eval(x)] for x in q["quoteByteSpans"]],
                           "speaker": q["speaker"].astype(str), "type": q["quoteType"].astype(str),
                           "addressees": [_names(a) for a in addressees]})
    return {"text": text, "quotes": quotes, "characters": chars}


def _names(cell: Any) -> list[str]:
    """The names of an ``addressees`` cell (a Python list literal; empty or missing: none)."""
    if not isinstance(cell, str) or not cell.strip():
        return []
    try:
        names = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return []
    return [str(n) for n in names] if isinstance(names, (list, tuple, set)) else []


def _gold_resolver(chars: pd.DataFrame) -> Callable[[str], str | None]:
    main = {name_form(n): i for n, i in zip(chars["name"], chars["id"])}
    alias: dict[str, str] = {}
    for i, forms in zip(chars["id"], chars["forms"]):
        for f in forms:
            alias.setdefault(f, i)
    return lambda s: main.get(name_form(s), alias.get(name_form(s)))


def map_characters(predicted: pd.DataFrame, gold: pd.DataFrame) -> dict[str, str | None]:
    """Predicted ``character_id`` -> annotated character id (or ``None``), by shared forms."""
    out: dict[str, str | None] = {}
    for cid, name, aliases in zip(predicted["character_id"].astype(str), predicted["name"].astype(str),
                                  predicted["aliases"].fillna("").astype(str)):
        forms = {name_form(name)} | {name_form(a) for a in aliases.split("|") if a}
        best, key = None, (0, 0, 0)
        for gid, gname, gforms in zip(gold["id"], gold["name"], gold["forms"]):
            shared = len(forms & gforms)
            if not shared:
                continue
            k = (shared, int(name_form(gname) == name_form(name)), int(name_form(name) in gforms))
            if k > key:
                best, key = gid, k
        out[cid] = best
    return out


def _predicted(story: Any, shift: int) -> tuple[list[int], list[int], list, list]:
    """The predicted quotes in text order: starts, ends (in the file's offsets), speakers
    and addressees (``None`` where not given)."""
    pq = story.quotes.sort_values("start")
    ps = (pq["start"].astype(int) + shift).tolist()
    pe = (pq["end"].astype(int) + shift).tolist()
    pspk = pq["speaker"].astype(object).where(pq["speaker"].notna(), None).tolist()
    padr = pq["addressee"].astype(object).where(pq["addressee"].notna(), None).tolist() \
        if "addressee" in pq else [None] * len(ps)
    return ps, pe, pspk, padr


def _gold_rows(gq_in: pd.DataFrame, pred: tuple, mapping: dict,
               gold_of: Callable[[str], str | None]) -> pd.DataFrame:
    """One row per gold quotation: found, speaker correct, addressee given / correct."""
    ps, pe, pspk, padr = pred
    rows = []
    for spans, speaker, qtype, addressees in zip(gq_in["spans"], gq_in["speaker"], gq_in["type"],
                                                 gq_in["addressees"]):
        found, who, to = False, None, None
        for s, e in spans:
            i = bisect.bisect_right(pe, s)  # first predicted quote ending after s
            while i < len(ps) and ps[i] < e:
                if pe[i] > s:
                    found = True
                    if who is None and pspk[i] is not None:
                        who = mapping.get(str(pspk[i]))
                    if to is None and padr[i] is not None:
                        to = mapping.get(str(padr[i])) or ""  # mapped to nobody: given, wrong
                i += 1
        gold = gold_of(speaker)
        gold_to = {g for g in map(gold_of, addressees) if g is not None}
        rows.append({"type": qtype, "found": found,
                     "correct": bool(found and gold is not None and who == gold),
                     "addressed": bool(gold_to), "addressee_given": bool(gold_to) and to is not None,
                     "addressee_correct": bool(gold_to) and to in gold_to})
    return pd.DataFrame(rows)


def _right_quotes(gold_quotes: pd.DataFrame, ps: list[int], pe: list[int]) -> int:
    """Predicted quotes overlapping a gold span (the numerator of quote precision)."""
    gold_spans = sorted(s for spans in gold_quotes["spans"] for s in spans)
    gs = [a for a, _ in gold_spans]
    ge = [b for _, b in gold_spans]
    right = 0
    for s, e in zip(ps, pe):
        j = bisect.bisect_left(gs, e) - 1  # last gold span starting before e
        right += any(ge[k] > s for k in range(max(0, j - 3), j + 1))
    return right


def _character_figures(predicted: pd.DataFrame, chars: pd.DataFrame, mapping: dict) -> dict:
    """Shares of main annotated characters found and split, of predicted ones mixed."""
    main = set(chars.loc[chars["category"].isin(["major", "intermediate"]), "id"])
    mapped = Counter(g for g in mapping.values() if g is not None)
    mixed = 0
    for name, aliases in zip(predicted["name"].astype(str), predicted["aliases"].fillna("").astype(str)):
        forms = {name_form(name)} | {name_form(a) for a in aliases.split("|") if a}
        mixed += sum(bool(forms & g) for g in chars["forms"]) >= 2
    return {"characters_found": sum(m in mapped for m in main) / max(len(main), 1),
            "characters_split": sum(mapped[m] >= 2 for m in main) / max(len(main), 1),
            "characters_mixed": mixed / max(len(predicted), 1),
            "predicted_characters": len(predicted), "main_characters": len(main)}


def score_novel(folder: str | Path, read: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Score the reader on one annotated novel.

    Parameters
    ----------
    folder
        A novel folder in PDNC's form.
    read
        Text -> Story (default :meth:`shimmy_lab.Story.from_text`).

    Returns
    -------
    dict
        ``quotes`` (gold quotations with ``found``, ``correct``, ``type``, ``addressed``,
        ``addressee_given``, ``addressee_correct``), and the figures ``quote_recall``,
        ``quote_precision``, ``addressee_recall``, ``addressee_precision``, ``predicted_quotes``,
        ``characters_found``, ``characters_split``, ``characters_mixed``, ``words``,
        ``seconds``.
    """
    if read is None:
        read = Story.from_text
    nov = read_novel(folder)
    text = nov["text"]
    t0 = time.perf_counter()
    story = read(text)
    seconds = time.perf_counter() - t0
    shift = 0
    if story.text != text:  # the reader dropped front matter: align its offsets to the file
        shift = text.find(story.text[:500])
        if shift < 0:
            raise ValueError(f"{folder}: the story text is not a part of the novel's text")
    pred = _predicted(story, shift)
    mapping = map_characters(story.characters, nov["characters"])
    gq = _gold_rows(nov["quotes"], pred, mapping, _gold_resolver(nov["characters"]))
    ps, pe = pred[0], pred[1]
    figures = _character_figures(story.characters, nov["characters"], mapping)
    return {"quotes": gq, "quote_recall": float(gq["found"].mean()), **_addressee(gq),
            "quote_precision": _right_quotes(nov["quotes"], ps, pe) / max(len(ps), 1),
            "predicted_quotes": len(ps),
            **figures,
            "words": len(text.split()), "seconds": seconds}


def score_corpus(root: str | Path, read: Callable[[str], Any] | None = None) -> pd.DataFrame:
    """:func:`score_novel` on every novel folder under ``root``; one row per novel and a pooled row.

    Accuracy columns: ``accuracy`` and one per quote type, then ``addressee_recall`` and
    ``addressee_precision``; pooled rows weight novels by their quotations (characters by
    their characters).
    """
    rows, allq = [], []
    for d in sorted(Path(root).iterdir()):
        if not (d / "quotation_info.csv").is_file():
            continue
        r = score_novel(d, read)
        q = r.pop("quotes")
        allq.append(q)
        rows.append({"novel": d.name, "quotes": len(q), **_accuracy(q), **r})
    if not rows:
        raise FileNotFoundError(f"no novel folders (quotation_info.csv) under {root}")
    df = pd.DataFrame(rows)
    q = pd.concat(allq, ignore_index=True)
    pooled = {"novel": "pooled", "quotes": len(q), **_accuracy(q), **_addressee(q),
              "quote_recall": float(q["found"].mean()),
              "quote_precision": float((df["quote_precision"] * df["predicted_quotes"]).sum()
                                       / df["predicted_quotes"].sum()),
              "predicted_quotes": int(df["predicted_quotes"].sum()),
              "words": int(df["words"].sum()), "seconds": float(df["seconds"].sum())}
    for k in ("characters_found", "characters_split"):
        pooled[k] = float((df[k] * df["main_characters"]).sum() / df["main_characters"].sum())
    pooled["characters_mixed"] = float((df["characters_mixed"] * df["predicted_characters"]).sum()
                                       / df["predicted_characters"].sum())
    pooled["main_characters"] = int(df["main_characters"].sum())
    pooled["predicted_characters"] = int(df["predicted_characters"].sum())
    df = pd.concat([df, pd.DataFrame([pooled])], ignore_index=True)
    df["words_per_s"] = (df["words"] / df["seconds"]).round(0)
    return df


def _addressee(q: pd.DataFrame) -> dict[str, float]:
    """Addressee recall and precision over the gold quotations whose addressees are annotated."""
    right = int(q["addressee_correct"].sum())
    return {"addressee_recall": right / q["addressed"].sum() if q["addressed"].any() else float("nan"),
            "addressee_precision": right / q["addressee_given"].sum() if q["addressee_given"].any()
            else float("nan")}


def _accuracy(q: pd.DataFrame) -> dict[str, float]:
    out = {"accuracy": float(q["correct"].mean()) if len(q) else float("nan")}
    for t in TYPES:
        sub = q[q["type"] == t]
        out[t.lower()] = float(sub["correct"].mean()) if len(sub) else float("nan")
    return out
