"""The reader behind :meth:`Story.from_text` and :meth:`Story.append`.

:func:`read_tail` re-reads only ``text[cut:]`` where ``cut`` is the start of the last
paragraph already read (or of a quote still open there): rows from ``cut`` on are
dropped and recomputed, evidence tables are updated by subtracting the old tail and
adding the new text, and only the per-character aggregates are recomputed over the
whole story (vectorised, cheap).  A full read is ``read_tail`` on an empty story.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

import pandas as pd

from . import schema
from .characters import (
    NAME_RE, cast_forms, cast_words, cluster, count_lower, description_pattern, is_person,
    parse_surface, scan_descriptions, scan_name_changes, scan_names,
)
from .dialogue import (
    MIN_DESCRIBED, UNNAMED_NARRATOR, _Ctx, attribute, detect_style, find_quotes, first_person,
    is_first_person, narrator_votes, tagged_lines,
)
from .deaths import told_deaths
from .facts import extract_facts
from .lexicon import noun_gender
from .segment import SegState, segment
from .timeline import timeline_table

__all__ = ["read_tail"]

_NAME_COLS = ["occurrences", "initial", "lower", "person", "place", "male", "female"]
_ADD = ["occurrences", "initial", "person", "place", "male", "female"]


def _cut_point(tables: dict[str, pd.DataFrame]) -> int:
    paras = tables["paragraphs"]
    if not len(paras):
        return 0
    cut = int(paras["start"].iloc[-1])
    q = tables["quotes"]
    if len(q):
        open_q = q[q["end"] > cut]
        if len(open_q):
            cut = min(cut, int(paras.loc[paras["paragraph"] == open_q["paragraph"].min(),
                                         "start"].iloc[0]))
    return cut


def _evidence(text: str, start: int, end: int, quote_spans, keep: frozenset = frozenset(),
              descs=None) -> tuple[list[dict], pd.DataFrame]:
    cands = scan_names(text, start, end, quote_spans, keep)
    cands += scan_descriptions(text, start, end, descs, quote_spans)
    if not cands:
        return cands, pd.DataFrame(columns=["surface", "start", "end"] + _NAME_COLS)
    df = pd.DataFrame(cands)
    agg = df.groupby("surface", sort=False).agg(
        occurrences=("start", "size"), initial=("initial", "sum"), person=("person", "sum"),
        place=("place", "sum"), male=("male", "sum"), female=("female", "sum"),
        start=("start", "min"), end=("end", "first"))
    agg["lower"] = 0
    return cands, agg.reset_index()


def _names_frame(tables: dict) -> pd.DataFrame:
    n = tables["names"]
    out = pd.DataFrame({c: n[c].astype("int64") for c in _NAME_COLS + ["start", "end"]})
    out["surface"] = n["surface"].astype(object)
    out["character_id"] = n["character_id"].astype(object)
    return out.set_index("surface")


def read_tail(story) -> None:
    """Read the unread tail of ``story.text`` and update ``story.tables`` in place.

    The steps, each a function below: take back the evidence of the tail that is read
    again (:func:`_take_back`), then structure, quotes, names and characters, mentions,
    speakers and facts of ``text[cut:]``, and write the tables back.
    """
    text, T, uns = story.text, story.tables, story.uns
    cast = uns.get("params", {}).get("cast") or []  # a cast list from the user (parse_cast)
    keep, cast_map = cast_words(cast), cast_forms(cast)
    descs = description_pattern(cast_map)  # "the stranger" when the cast has "The Stranger"
    cut = _cut_point(T)
    names = _take_back(text, T, cut, uns.get("analysed_to", 0), keep, descs)
    ch, sc, seg = _structure(text, T, uns, cut)
    quotes = _quotes(text, seg["paragraphs"], uns, cut)
    spans = [(q["start"], q["end"]) for q in quotes]
    cands, names = _add_evidence(text, names, cut, spans, keep, descs)
    together = _named_together(T["mentions"], cands, T["paragraphs"], seg["paragraphs"])
    changes = scan_name_changes(text)  # "Miss Hale, now Mrs Rowe" anywhere in the text read
    surf_map, info, old_map = _cluster_names(T, names, cast, cast_map, together, changes)
    remap = {old_map[s]: surf_map[s] for s in old_map if s in surf_map}  # ids that changed
    names["character_id"] = [surf_map.get(s) for s in names.index]
    ment = _mentions(text, T, names, surf_map, old_map, cands, cut, ch, keep)
    resolve = _resolver(surf_map)
    _speakers(text, T, uns, quotes, spans, ment, seg["paragraphs"], info, remap, surf_map, resolve,
              ch["start"].astype(int).tolist())
    _facts(text, T, info, remap, resolve, cut, ch, {c["former"] for c in changes})
    T["chapters"], T["scenes"] = schema.coerce("chapters", ch), schema.coerce("scenes", sc)
    T["paragraphs"] = pd.concat([T["paragraphs"], schema.coerce("paragraphs", seg["paragraphs"])],
                                ignore_index=True)
    T["sentences"] = pd.concat([T["sentences"], schema.coerce("sentences", seg["sentences"])],
                               ignore_index=True)
    T["mentions"] = ment
    nm = names.reset_index().rename(columns={"index": "surface"})
    nm = nm.sort_values(["start", "surface"], kind="stable")
    T["names"] = schema.coerce("names", nm[[c.name for c in schema.columns("names")]])
    T["characters"] = _characters(T, info, names, text)
    uns["analysed_to"] = len(text)
    T["timeline"] = timeline_table(T, text)  # rebuilt from the tables above


def _take_back(text: str, T: dict, cut: int, old_end: int, keep: frozenset, descs) -> pd.DataFrame:
    """The names table without the evidence of ``text[cut:old_end]``; rows of the tables
    from ``cut`` on are dropped (they are read again)."""
    names = _names_frame(T)
    if cut < old_end:
        old_q = T["quotes"]
        spans = list(zip(old_q["start"].astype(int), old_q["end"].astype(int)))
        _, sub = _evidence(text, cut, old_end, spans, keep, descs)
        if len(sub):
            sub = sub.set_index("surface")
            names.loc[sub.index, _ADD] -= sub[_ADD].values
            lw = count_lower(text, [s for s in sub.index if " " not in s], cut, old_end)
            for s in sub.index:
                names.loc[s, "lower"] -= lw.get(s.lower(), 0)
    for t in ("paragraphs", "sentences", "quotes", "mentions", "facts", "chapters", "scenes"):
        T[t] = T[t][T[t]["start"] < cut].reset_index(drop=True)
    return names


def _structure(text: str, T: dict, uns: dict, cut: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Chapters and scenes with those of ``text[cut:]`` added, and the new segments."""
    ch, sc, pa = T["chapters"], T["scenes"], T["paragraphs"]
    st = SegState(
        chapter=int(ch["chapter"].iloc[-1]) if len(ch) else 0,
        scene=int(sc["scene"].iloc[-1]) if len(sc) else 0,
        paragraph=int(pa["paragraph"].iloc[-1]) + 1 if len(pa) else 0,
        sentence=int(T["sentences"]["sentence"].iloc[-1]) + 1 if len(T["sentences"]) else 0,
        part=None if not len(ch) or pd.isna(ch["part"].iloc[-1]) else ch["part"].iloc[-1],
        heading_mode=uns.get("params", {}).get("heading_mode"),
        has_scene=bool(len(sc) and sc["chapter"].iloc[-1] == st_chapter(ch)),
    )
    seg = segment(text, cut, st)
    uns.setdefault("params", {})["heading_mode"] = st.heading_mode
    ch = pd.concat([ch, schema.coerce("chapters", seg["chapters"])], ignore_index=True)
    ch["end"] = pd.array(list(ch["start"].iloc[1:]) + [len(text)], dtype="Int64")
    sc = pd.concat([sc, schema.coerce("scenes", seg["scenes"])], ignore_index=True)
    sc["end"] = pd.array(list(sc["start"].iloc[1:]) + [len(text)], dtype="Int64")
    return ch, sc, seg


def _quotes(text: str, new_paras: list[dict], uns: dict, cut: int) -> list[dict]:
    """The quotes of the new paragraphs (their ``n_quotes`` is set); the quote style is
    detected once, on the first text read."""
    style = uns["params"].get("quote_style")
    if style is None:
        style = detect_style(text[cut:])
        uns["params"]["quote_style"] = style
    quotes = find_quotes(text, new_paras, style)
    qcount = Counter(q["paragraph"] for q in quotes)
    for p in new_paras:
        p["n_quotes"] = qcount.get(p["paragraph"], 0)
    return quotes


def _add_evidence(text: str, names: pd.DataFrame, cut: int, spans: list, keep: frozenset,
                  descs) -> tuple[list[dict], pd.DataFrame]:
    """The name occurrences of ``text[cut:]`` and the names table with their evidence added."""
    cands, add = _evidence(text, cut, len(text), spans, keep, descs)
    if len(add):
        add = add.set_index("surface")
        known = add.index.intersection(names.index)
        fresh = add.index.difference(names.index)
        names.loc[known, _ADD] += add.loc[known, _ADD].values
        lw = count_lower(text, [s for s in known if " " not in s], cut, len(text))
        for s in known:
            names.loc[s, "lower"] += lw.get(s.lower(), 0)
        lw_all = count_lower(text, [s for s in fresh if " " not in s])
        f = add.loc[fresh, _ADD + ["start", "end"]].copy()
        f["lower"] = [lw_all.get(s.lower(), 0) for s in fresh]
        f["character_id"] = None
        names = pd.concat([names, f[names.columns]])
    return cands, names[names["occurrences"] > 0]


#: paragraphs two name forms must share to be two people (:func:`cluster`'s ``together``)
TOGETHER_PARAGRAPHS = 2


def _named_together(old_mentions: pd.DataFrame, cands: list[dict], old_paras: pd.DataFrame,
                    new_paras: list[dict]) -> set[frozenset]:
    """Pairs of name forms both named by the narration (outside quotes) in at least
    :data:`TOGETHER_PARAGRAPHS` paragraphs, each of them also in a paragraph without the
    other (mentions before the cut and the new occurrences alike).

    A man who names himself ("'Josiah Bounderby of Coketown,' said Mr. Bounderby") or a
    full name given once or twice beside the short one ("Mr. Noah Claypole" in the
    paragraphs of "Mr. Claypole") is no pair; "Mr. Knightley" beside "Mr. John Knightley",
    each also named alone, is."""
    starts = old_paras["start"].astype(int).tolist() + [p["start"] for p in new_paras]
    told = ~old_mentions["in_quote"].astype("boolean").fillna(False).astype(bool)
    spots = list(zip(old_mentions["start"][told].astype(int), old_mentions["surface"][told].astype(str)))
    spots += [(c["start"], c["surface"]) for c in cands if not c["in_quote"]]
    by_para: dict[int, set[str]] = {}
    for start, surface in spots:
        by_para.setdefault(bisect.bisect_right(starts, start), set()).add(surface)
    pairs = Counter(frozenset((a, b)) for forms in by_para.values() if len(forms) > 1
                    for a in forms for b in forms if a < b)
    paras = Counter(s for forms in by_para.values() for s in forms)
    return {pair for pair, n in pairs.items()
            if n >= TOGETHER_PARAGRAPHS and all(paras[s] > n for s in pair)}


def _cluster_names(T: dict, names: pd.DataFrame, cast: list, cast_map: dict, together: set[frozenset],
                   changes: list[dict] = ()) -> tuple[dict[str, str], dict[str, dict], dict[str, str]]:
    """Which name forms are persons, merged into characters: (form -> id, id -> name and
    gender, form -> id before this read)."""
    rows = dict(names.iterrows())
    persons: dict[str, int] = {}
    known: set[str] = set()
    for stage in ("titled", "single", "multi"):
        for s, r in rows.items():
            title, words, _ = parse_surface(s)
            kind = "titled" if title else "single" if len(words) == 1 else "multi"
            if kind == stage and (s in cast_map or is_person(
                    s, r["occurrences"], r["initial"], r["lower"], r["person"], r["place"], known)):
                persons[s] = int(r["occurrences"])  # a cast's forms are persons ("Mrs Hall")
        known |= {w for s in persons for w in parse_surface(s)[1]}
    old_map = {s: c for s, c in names["character_id"].items() if isinstance(c, str)}
    votes = {s: (int(r["male"]), int(r["female"])) for s, r in rows.items()}
    surf_map, info = cluster(persons, votes, old_map, set(T["characters"]["character_id"].dropna()),
                             cast, together, changes)
    return surf_map, info, old_map


def _mentions(text: str, T: dict, names: pd.DataFrame, surf_map: dict, old_map: dict,
              cands: list[dict], cut: int, ch: pd.DataFrame, keep: frozenset) -> pd.DataFrame:
    """The mentions table: old mentions under their new ids, those of forms that have just
    become characters found again before ``cut``, and the new ones."""
    ment = T["mentions"]
    ment = ment.assign(character_id=ment["surface"].astype(object).map(surf_map)).dropna(
        subset=["character_id"])
    promoted = [s for s in surf_map if s not in old_map and s in names.index
                and names.at[s, "start"] < cut]
    back = _backfill(text, promoted, cut, T["quotes"], keep) if promoted else []
    newm = [c for c in cands if c["surface"] in surf_map] + back
    chs, chi = ch["start"].astype(int).tolist(), ch["chapter"].astype(int).tolist()
    for c in newm:
        c["character_id"] = surf_map[c["surface"]]
        c["chapter"] = chi[bisect.bisect_right(chs, c["start"]) - 1] if chs else 0
    add_m = schema.coerce("mentions", [{k: c[k] for k in ("character_id", "surface", "start", "end",
                                                         "chapter", "in_quote")} for c in newm])
    ment = pd.concat([schema.coerce("mentions", ment), add_m], ignore_index=True)
    return ment.sort_values("start", kind="stable").reset_index(drop=True)


def _speakers(text: str, T: dict, uns: dict, quotes: list[dict], spans: list, ment: pd.DataFrame,
              new_paras: list[dict], info: dict, remap: dict, surf_map: dict, resolve,
              chapter_starts: list[int] = ()) -> None:
    """Attribute the new quotes (turn-taking goes on from the quotes just before them) and
    write the quotes table: old quotes with their speakers under the new ids.
    ``chapter_starts``: where each chapter starts (a "he"/"she" looks no further back)."""
    nid = _narrator(text, T["quotes"], spans, info, uns, remap)
    sexes = uns["params"].get("described_gender", {})
    for cid, name in uns["params"].get("described", {}).items():
        info.setdefault(cid, {"name": name, "gender": sexes.get(cid, noun_gender(name))})
    oldq = T["quotes"].copy()
    for col in ("speaker", "addressee"):
        oldq[col] = oldq[col].astype(object).map(lambda c: remap.get(c, c) if isinstance(c, str) else c)
        oldq.loc[~oldq[col].isin(list(info)), col] = None
    inq = ment["in_quote"].astype(bool)
    narr, quoted = ment[~inq], ment[inq]
    ctx = _Ctx(resolve, {k: v["gender"] for k, v in info.items()},
               {k: v["name"] for k, v in info.items()},
               narr["start"].astype(int).tolist(), narr["character_id"].astype(str).tolist(),
               narrator=nid, forms=surf_map,
               quoted=(quoted["start"].astype(int).tolist(), quoted["character_id"].astype(str).tolist()),
               chapter_starts=sorted(chapter_starts))
    first_new = new_paras[0]["paragraph"] if new_paras else 0
    # the speakers' tagged turns before the paragraphs that turn-taking goes on from
    tags = oldq[(oldq["method"] == "tag") & (oldq["paragraph"] < first_new - 4)]
    ctx.tagged_before = Counter(tags.groupby("paragraph")["speaker"].first().dropna())
    told = oldq[oldq["method"] == "tag"]  # every tagged line read before teaches the idiolects
    ctx.tagged_lines = tagged_lines(text, told.astype(object).where(told.notna(), None).to_dict("records"))
    pq = oldq[oldq["paragraph"] >= first_new - 4].groupby("paragraph")["speaker"].first()
    prior = [(int(p), s if isinstance(s, str) else None) for p, s in pq.items()]
    pa = T["paragraphs"]
    pdict = {int(r.paragraph): {"start": int(r.start), "end": int(r.end), "kind": r.kind}
             for r in pa[pa["paragraph"] >= first_new - 6].itertuples()}
    pdict.update({p["paragraph"]: p for p in new_paras})
    attribute(text, quotes, pdict, ctx, prior)
    _described(quotes, ctx.described, info, uns, ctx.gender)
    base_q = int(oldq["quote"].iloc[-1]) + 1 if len(oldq) else 0
    for i, q in enumerate(quotes):
        q["quote"] = base_q + i
    T["quotes"] = pd.concat([schema.coerce("quotes", oldq), schema.coerce("quotes", quotes)],
                            ignore_index=True)
    if nid is not None:
        _name_narrator(T["quotes"], nid, info, uns, resolve)


def _facts(text: str, T: dict, info: dict, remap: dict, resolve, cut: int, ch: pd.DataFrame,
           former: set[str] = frozenset()) -> None:
    """The facts table: old facts under the new ids (those of characters that are gone
    dropped) and the facts of ``text[cut:]`` (``former``: name forms given up at a change
    of name, see :func:`~shimmy_lab.story.facts.extract_facts`)."""
    oldf = T["facts"].copy()
    for col in ("subject", "value_id"):
        oldf[col] = oldf[col].astype(object).map(lambda c: remap.get(c, c) if isinstance(c, str) else c)
    oldf = oldf[oldf["subject"].isin(list(info))]
    rel = oldf["value_id"].notna()
    oldf.loc[rel, "value"] = oldf.loc[rel, "value_id"]
    chs, chi = ch["start"].astype(int).tolist(), ch["chapter"].astype(int).tolist()
    facts = extract_facts(text, cut, len(text), resolve, chs, chi,
                          gender=lambda c: info.get(c, {}).get("gender"), former=former)
    T["facts"] = pd.concat([schema.coerce("facts", oldf), schema.coerce("facts", facts)],
                           ignore_index=True)


def st_chapter(ch: pd.DataFrame) -> int:
    return int(ch["chapter"].iloc[-1]) if len(ch) else 0


def _resolver(surf_map: dict[str, str]):
    def resolve(name: str) -> str | None:
        name = " ".join(name.replace(".", " ").split())
        if name in surf_map:
            return surf_map[name]
        if name.startswith(("The ", "the ")):
            return surf_map.get("the " + name[4:])
        return surf_map.get("the " + name)
    return resolve


def _backfill(text: str, surfaces: list[str], cut: int, quotes: pd.DataFrame,
              keep: frozenset = frozenset()) -> list[dict]:
    """Occurrences before ``cut`` of forms that have just become characters."""
    pats = []
    for s in surfaces:
        parts = s.split()
        if parts[0] != "the" and len(parts) > 1 and NAME_RE.match(s) and NAME_RE.match(s).group("title"):
            pats.append(re.escape(parts[0]) + r"\.?\s+" + r"\s+".join(map(re.escape, parts[1:])))
        else:
            pats.append(r"\s+".join(map(re.escape, parts)))
    rx = re.compile(r"(?<![A-Za-z])(?:" + "|".join(pats) + r")(?![A-Za-z])")
    spans = list(zip(quotes["start"].astype(int), quotes["end"].astype(int)))
    want, out, seen = set(surfaces), [], set()
    for m in rx.finditer(text, 0, cut):
        for c in scan_names(text, max(0, m.start() - 12), min(cut, m.end() + 30), spans, keep):
            if c["surface"] in want and c["start"] <= m.start() < c["end"] and c["start"] not in seen:
                seen.add(c["start"])
                out.append(c)
    return out


#: id of a first-person narrator the text never names
NARRATOR = UNNAMED_NARRATOR  # the narrator's id until the story names them


def _narrator(text: str, old_quotes: pd.DataFrame, spans: list[tuple[int, int]], info: dict,
              uns: dict, remap: dict) -> str | None:
    """The first-person narrator's character id, or None when the narration is in the third person.

    The narrator keeps the id it was given by the last read (a named character's, see
    :func:`_name_narrator`) while that character exists; else it is :data:`NARRATOR`,
    added to ``info`` as "the narrator".
    """
    params = uns.setdefault("params", {})
    allspans = sorted(list(zip(old_quotes["start"].astype(int), old_quotes["end"].astype(int)))
                      + list(spans))
    if not is_first_person(*first_person(text, allspans)):
        params.pop("narrator", None)
        return None
    prev = params.get("narrator")
    prev = remap.get(prev, prev)
    if prev not in info:
        prev = NARRATOR  # a cast member with the id "narrator" keeps its name
        info.setdefault(NARRATOR, {"name": "the narrator", "gender": None})
    params["narrator"] = prev
    return prev



def _described(quotes: list[dict], described: dict[str, str], info: dict, uns: dict,
               gender: dict[str, str | None]) -> None:
    """Keep the speakers known by a description that speak often enough as characters
    named by it (in ``info``, with the sex the reader gave them: ``gender``); the others'
    quotes lose their speaker."""
    if not described:
        return
    n = Counter(q["speaker"] for q in quotes if q["speaker"] in described)
    keep = uns["params"].setdefault("described", {})
    sexes = uns["params"].setdefault("described_gender", {})
    for cid, name in described.items():
        if n[cid] >= MIN_DESCRIBED:
            keep[cid] = name
            sexes[cid] = gender.get(cid, noun_gender(name))
            info[cid] = {"name": name, "gender": sexes[cid]}
    for q in quotes:
        if q["speaker"] in described and q["speaker"] not in keep:
            q.update(speaker=None, confidence=0.0, method="none", speaker_start=None, speaker_end=None)


#: the narrator tells their name in their own words ("My name is Tom Hale")
_MY_NAME = re.compile(r"\b[Mm]y name(?: is|'s)\s+((?:[A-Z][a-z]+\.?\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)")


def _name_narrator(quotes: pd.DataFrame, nid: str, info: dict, uns: dict, resolve=None) -> None:
    """Give the narrator the name the others call them by (:func:`narrator_votes`) or
    the one they give ("my name is ..." in their own quotes, worth three vocatives): the
    narrator's quotes move to that character, in place."""
    rows = zip(quotes["paragraph"].astype(int), quotes["speaker"].astype(object),
               quotes["method"].astype(object), quotes["addressee"].astype(object))
    votes = narrator_votes([(p, s if isinstance(s, str) else None, m,
                             a if isinstance(a, str) else None) for p, s, m, a in rows], nid)
    if resolve is not None:
        for t in quotes.loc[quotes["speaker"] == nid, "text"].astype(str):
            for m in _MY_NAME.finditer(t):
                cid = resolve(m.group(1))
                if cid:
                    votes[cid] = votes.get(cid, 0) + 3
    if not votes:
        return
    best = max(votes, key=lambda c: (votes[c], c == nid))
    if best == nid or best not in info or votes[best] < 3 or votes[best] * 4 < sum(votes.values()):
        return
    for col in ("speaker", "addressee"):
        quotes.loc[quotes[col] == nid, col] = best
    cast_ids = {m["character_id"] for m in uns["params"].get("cast") or []}
    if nid == NARRATOR and NARRATOR not in cast_ids:  # a cast's "narrator" stays
        info.pop(NARRATOR, None)
    uns["params"]["narrator"] = best


def _dead(T: dict, text: str) -> set[str]:
    """Characters whose death the story tells (:func:`~shimmy_lab.story.deaths.told_deaths`)."""
    f = T["facts"]
    d = f[(f["attribute"] == "death") & f["subject"].notna()]
    if not len(d):
        return set()
    q = T["quotes"]
    return set(told_deaths(text, zip(d["subject"].astype(str), d["start"].astype(int),
                                     d["end"].astype(int), d["pattern"].astype(str)),
                           list(zip(q["start"].astype(int), q["end"].astype(int)))))


def _characters(T: dict, info: dict, names: pd.DataFrame, text: str = "") -> pd.DataFrame:
    m = T["mentions"]
    if not len(m) or not info:
        return schema.empty("characters")
    g = m.groupby("character_id", sort=False)
    agg = g.agg(mentions=("start", "size"), start=("start", "min"), last_start=("start", "max"),
                first_chapter=("chapter", "first"), last_chapter=("chapter", "last"))
    firsts = m.drop_duplicates("character_id", keep="first").set_index("character_id")
    agg["end"] = firsts["end"]
    q = T["quotes"]["speaker"].dropna().value_counts()
    dead = _dead(T, text)
    nm = names.dropna(subset=["character_id"]).sort_values("occurrences", ascending=False)
    aliases = nm.groupby("character_id", sort=False).apply(lambda d: "|".join(_with_bare(d.index))) \
        if len(nm) else pd.Series(dtype=object)
    rows = []
    for cid, r in agg.iterrows():
        if cid not in info:
            continue
        nq = int(q.get(cid, 0))
        rows.append({"character_id": cid, "name": info[cid]["name"],
                     "aliases": aliases.get(cid, info[cid]["name"]), "gender": info[cid]["gender"],
                     "status": "dead" if cid in dead else "alive" if nq else "unknown",
                     "mentions": int(r["mentions"]), "quotes": nq, "start": int(r["start"]),
                     "end": int(r["end"]), "last_start": int(r["last_start"]),
                     "first_chapter": int(r["first_chapter"]), "last_chapter": int(r["last_chapter"])})
    rows += _speaker_rows(T, info, q, set(agg.index))
    rows.sort(key=lambda r: (-r["mentions"], r["character_id"]))
    return schema.coerce("characters", rows)


def _with_bare(forms) -> list[str]:
    """Name forms plus the bare name of each capitalised definite one ("the March Hare"
    is also "March Hare"), first form first."""
    out = dict.fromkeys(forms)
    for f in list(out):
        if f.startswith("the ") and f[4:5].isupper():
            out.setdefault(f[4:])
    return list(out)


def _speaker_rows(T: dict, info: dict, nq: pd.Series, named: set[str]) -> list[dict]:
    """Rows for the speakers never named in narration (an unnamed first-person narrator,
    "the stranger"): they span their first quote."""
    rows = []
    for cid in info:
        if cid in named or not nq.get(cid, 0):
            continue
        q = T["quotes"]
        q = q[q["speaker"] == cid]
        first, last = q.iloc[0], q.iloc[-1]
        rows.append({"character_id": cid, "name": info[cid]["name"], "aliases": info[cid]["name"],
                     "gender": info[cid]["gender"], "status": "alive", "mentions": 0,
                     "quotes": int(nq[cid]), "start": int(first["start"]), "end": int(first["end"]),
                     "last_start": int(last["start"]), "first_chapter": int(first["chapter"]),
                     "last_chapter": int(last["chapter"])})
    return rows
