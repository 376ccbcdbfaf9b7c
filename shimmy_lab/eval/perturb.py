"""Perturbation benchmark: inject a known flaw at a known span, check it is found.

:func:`perturb` injects one flaw of a given kind into a text and returns the new
text with the span of the flaw; :func:`benchmark` runs the detectors
(:func:`shimmy_lab.assistant.analyze`) on many perturbed excerpts of the bundled
texts and on the clean texts, and reports per kind the recall (an insight of that
kind overlapping the injected span) and the false alarms per 10,000 words (insights
of that kind on the clean text).

Wording is varied on purpose: each kind has several templates, names, values and
donor texts, chosen by a seeded random generator.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from ..story import Story

__all__ = ["KINDS", "Perturbation", "perturb", "benchmark"]

KINDS = ("fact_contradiction", "dead_character_acts", "voice_drift", "pov_shift",
         "tense_shift", "topic_drift")
EYES = ["blue", "grey", "green", "brown", "black", "hazel"]
HAIR = ["black", "red", "golden", "brown", "white", "fair"]
_ESTABLISH = {
    "eye_colour": ["{N} had {v} eyes, and they were her best feature.",
                   "{N}'s eyes were {v}, as everybody who knew {P} agreed.",
                   "Everyone noticed that {N} had {v} eyes."],
    "hair_colour": ["{N} had {v} hair which was much admired.",
                    "{N}'s hair was {v} and neatly arranged.",
                    "It was remarked that {N} had {v} hair."],
    "age": ["{N} was {v} years old that spring.", "{N}, who was {v} years old, said nothing.",
            "At that time {N} was only {v} years old."],
}
_CONTRADICT = {
    "eye_colour": ["{N}'s eyes were a deep {v} in the candlelight.",
                   "{N} had {v} eyes that missed nothing in the room.",
                   "{N}, with her {v} eyes fixed on the window, waited.",
                   "There was a sudden brightness in {N}'s eyes, which were {v} as the sea.",
                   "{N}'s eyes are {v}, and they were full of tears.",
                   "{N}'s wide {v} eyes went from one face to another."],
    "hair_colour": ["{N}'s hair was {v} and fell loosely about the shoulders.",
                    "{N} had {v} hair, tied back with a ribbon.",
                    "{N}, whose {v} hair shone in the sun, came in.",
                    "The {v}-haired {N} stood by the door.",
                    "{N}'s {v} hair was caught by the wind as the carriage turned."],
    "age": ["{N}, who was {v} years old, knew better.", "{N} was {v} years old and felt it.",
            "{N} was then scarcely {v} years of age.", "{N}, now {v} years old, sat down.",
            "{N}, aged {v}, had seen enough of the world to know it."],
}
_DEATH = ["{N} died that winter, and was buried in the churchyard.",
          "News came that {N} was dead.", "It was a long illness; {N} died before the summer.",
          "{N} was killed in a fall from a horse, and the whole neighbourhood grieved.",
          "In the spring {N} passed away, quietly, in the night."]
_DEAD_ACT = ['{Q}I have come back to settle this matter,{Q} said {N}.',
             '{N} said, {Q}You need not look so surprised to see me.{Q}',
             '{N} walked into the room and took the chair by the fire.',
             '{Q}Well, here we all are again,{Q} {N} replied, smiling.',
             '{N} came to the door and knocked twice.',
             '{N} smiled at them all and sat down without a word.',
             '{N} laughed, and handed the letter across the table.']
_VOICE = ['{Q}{L}{Q} said {N}.', '{N} said, {Q}{L}{Q}', '{Q}{L}{Q} {N} replied.',
          '{Q}{L}{Q} cried {N}.']
_PAST_PRESENT = dict(was="is", were="are", had="has", did="does", said="says", went="goes",
                     came="comes", saw="sees", knew="knows", thought="thinks", took="takes",
                     made="makes", gave="gives", stood="stands", sat="sits", felt="feels",
                     told="tells", found="finds", left="leaves", began="begins", heard="hears",
                     could="can", would="will", ran="runs", got="gets", kept="keeps",
                     brought="brings", held="holds", seemed="seems", looked="looks",
                     turned="turns", walked="walks", asked="asks", wanted="wants",
                     called="calls", seemed_="seems", wasn_t="isn't")
_PAST_PRESENT = {k: v for k, v in _PAST_PRESENT.items() if "_" not in k}
_PAST_PRESENT.update({"wasn't": "isn't", "weren't": "aren't", "didn't": "doesn't",
                      "hadn't": "hasn't", "couldn't": "can't"})


@dataclass
class Perturbation:
    """One injected flaw: the perturbed text and the span of the flaw in it.

    For ``dead_character_acts``, ``name`` is the character and ``after`` the start of
    the injected death: any insight of the kind naming the character at or after it
    finds the flaw (the first act after the death may be the story's own, and it is
    as much the flaw as the injected act), as the independent flaw sets score it.
    """

    kind: str
    text: str
    start: int
    end: int
    description: str
    name: str = ""
    after: int = -1

    def found_by(self, insights: pd.DataFrame) -> bool:
        """Whether ``insights`` find this flaw."""
        ins = insights[insights["kind"] == self.kind]
        if self.kind == "dead_character_acts" and self.after >= 0:
            last = self.name.split()[-1].lower()
            said = (ins["characters"].map(lambda c: " ".join(map(str, c)) if c is not None else "")
                    + " " + ins["title"].astype(str)).str.lower()
            return bool(((ins["start"] >= self.after) & said.str.contains(last, regex=False)).any())
        return bool(((ins["start"] < self.end) & (ins["end"] > self.start)).any())


def _paragraph_bounds(story: Any) -> list[tuple[int, int]]:
    p = story.paragraphs
    p = p[p["kind"] == "text"]
    return list(zip(p["start"].astype(int), p["end"].astype(int)))


def _insert(text: str, pos: int, para: str) -> tuple[str, int, int]:
    """Insert ``para`` as its own paragraph at the paragraph boundary ``pos``."""
    new = text[:pos] + para + "\n\n" + text[pos:]
    return new, pos, pos + len(para)


def _insert_later_and_earlier(d: "_Draw", rng: random.Random, later: str, earlier: str,
                              lo: float, hi: float) -> tuple[str, int, int, int]:
    """Insert ``later`` at a late paragraph, then ``earlier`` at a paragraph between the
    fractions ``lo`` and ``hi`` of the text: the new text, the span of ``later`` in it and
    where ``earlier`` starts."""
    pos2 = rng.choice(d.late)[0]
    new, s, e = _insert(d.text, pos2, later)
    pos1 = rng.choice(d.paras[int(d.n * lo): int(d.n * hi)] or d.paras[:1])[0]
    new, start, _ = _insert(new, pos1, earlier)
    shift = len(earlier) + 2
    return new, s + shift, e + shift, start


def _main_characters(story: Any, k: int = 4) -> list[tuple[str, str]]:
    """(short name, gender) of the characters with most quotes and a usable name."""
    ch = story.characters
    ch = ch[(ch["quotes"] >= 2) & ch["gender"].notna()].sort_values("quotes", ascending=False)
    out = []
    for r in ch.itertuples():
        alias = str(r.aliases).split("|")[0]
        if alias and alias[0].isupper() and len(alias) > 2:
            out.append((alias, str(r.gender)))
        if len(out) >= k:
            break
    return out


def _narration_paragraphs(story: Any, min_words: int = 60) -> list[tuple[int, int]]:
    p = story.paragraphs
    p = p[(p["kind"] == "text") & (p["n_quotes"] == 0)]
    text = story.text
    out = []
    for s, e in zip(p["start"].astype(int), p["end"].astype(int)):
        body = text[s:e]
        # a paragraph that opens with a quote mark is dialogue (often the continuation
        # of a long speech), not narration: rewriting it is no narration shift
        if len(body.split()) >= min_words and body[:1] not in "'\"\u2018\u201c" \
                and body.count("\n    ") < 2:
            out.append((s, e))
    return out


def _quote_char(story: Any) -> str:
    return "'" if story.uns.get("params", {}).get("quote_style") == "single" else '"'


def _to_first_person(body: str, name: str, gender: str) -> str:
    subj, obj, pos = ("she", "her", "her") if gender == "female" else ("he", "him", "his")
    body = re.sub(rf"\b{re.escape(name)}'s\b", "my", body)
    body = re.sub(rf"\b{re.escape(name)}\b", "I", body)
    body = re.sub(rf"\b{subj}\b", "I", body)
    body = re.sub(rf"\b{subj.capitalize()}\b", "I", body)
    body = re.sub(rf"\b{pos}self\b" if gender == "male" else r"\bherself\b", "myself", body)
    if gender == "female":
        body = re.sub(r"\b[Hh]er(?= [a-z]+(?:[,.;]|\s+(?:and|to|in|with|at|of|for|was|were|had)\b))",
                      "my", body)
        body = re.sub(r"\b[Hh]er\b", "me", body)
    else:
        body = re.sub(r"\b[Hh]is\b", "my", body)
        body = re.sub(r"\bhim\b", "me", body)
    return body


def _to_present(body: str) -> str:
    def sub(m: re.Match) -> str:
        w = m.group(0)
        low = w.lower()
        rep = _PAST_PRESENT.get(low)
        if rep is None and low.endswith("ed") and len(low) > 5:
            rep = low[:-2] + "s" if not low.endswith("ied") else low[:-3] + "ies"
        if rep is None:
            return w
        return rep.capitalize() if w[0].isupper() else rep
    return re.sub(r"\b[A-Za-z']+\b", sub, body)


@dataclass
class _Draw:
    """What every kind of flaw draws from: the text, its paragraphs, the late ones (60-95%
    of the way in) and the character the flaw is about."""

    story: Any
    text: str
    paras: list[tuple[int, int]]
    late: list[tuple[int, int]]
    who: list[tuple[str, str]]
    name: str
    gender: str
    P: str  # her / him
    Q: str  # the quotation mark of the story

    @property
    def n(self) -> int:
        return len(self.paras)


def _fact_contradiction(d: _Draw, rng: random.Random, donors: list[Any]) -> Perturbation:
    """Establish an attribute early (10-40%), contradict it late."""
    attr = rng.choice(list(_ESTABLISH))
    if attr == "age":
        a = rng.randint(17, 45)
        v1, v2 = str(a), str(a + rng.choice([-9, -7, -5, 12, 15]))
    else:
        from ..trackers.characters import _compatible  # lazy: keeps this module's import light
        v1, v2 = rng.sample(EYES if attr == "eye_colour" else HAIR, 2)
        while _compatible(attr, v1, v2, 0):
            v1, v2 = rng.sample(EYES if attr == "eye_colour" else HAIR, 2)
    est = rng.choice(_ESTABLISH[attr]).format(N=d.name, v=v1, P=d.P)
    con = rng.choice(_CONTRADICT[attr]).format(N=d.name, v=v2, P=d.P)
    new, s, e, _ = _insert_later_and_earlier(d, rng, con, est, 0.1, 0.4)
    return Perturbation("fact_contradiction", new, s, e, f"{attr} {v1} -> {v2} ({d.name})")


def _dead_character_acts(d: _Draw, rng: random.Random, donors: list[Any]) -> Perturbation:
    """A death (20-50%), then the dead character speaks or acts late."""
    death = rng.choice(_DEATH).format(N=d.name)
    act = rng.choice(_DEAD_ACT).format(N=d.name, Q=d.Q)
    new, s, e, dpos = _insert_later_and_earlier(d, rng, act, death, 0.2, 0.5)
    return Perturbation("dead_character_acts", new, s, e, f"{d.name} dies, then acts", d.name, dpos)


def _voice_drift(d: _Draw, rng: random.Random, donors: list[Any]) -> Perturbation:
    """A line of another book's character given to this one."""
    lines = [str(t) for dn in donors for t in dn.quotes["text"]
             if 12 <= len(str(t).split()) <= 45 and '"' not in str(t) and "'" not in str(t)[:1]]
    line = rng.choice(lines).strip().rstrip(",")
    para = rng.choice(_VOICE).format(N=d.name, Q=d.Q, L=line)
    new, s, e = _insert(d.text, rng.choice(d.late)[0], para)
    return Perturbation("voice_drift", new, s, e, f"foreign line for {d.name}: {line[:40]}")


def _rewrite(d: _Draw, rng: random.Random, donors: list[Any], kind: str) -> Perturbation:
    """A narration paragraph rewritten in the first person or in the present tense."""
    text = d.text
    cands = [p for p in _narration_paragraphs(d.story) if p[0] >= d.late[0][0] * 0.5]
    for _ in range(30):
        s, e = rng.choice(cands)
        old = text[s:e]
        if kind == "pov_shift":
            g = "female" if len(re.findall(r"\b(?:she|her)\b", old, re.I)) > len(
                re.findall(r"\b(?:he|his|him)\b", old, re.I)) else "male"
            nm = next((a for a, b in d.who if a in old and b == g), "\0")
            body = _to_first_person(old, nm, g)
        else:
            body = _to_present(old)
        changed = sum(a != b for a, b in zip(old.split(), body.split()))
        if changed >= 4:
            return Perturbation(kind, text[:s] + body + text[e:], s, s + len(body),
                                f"{kind}: {changed} words changed")
    raise ValueError("no paragraph to rewrite")


def _topic_drift(d: _Draw, rng: random.Random, donors: list[Any]) -> Perturbation:
    """A narration paragraph of another book inserted late."""
    pool = [(dn, p) for dn in donors for p in _narration_paragraphs(dn)]
    dn, (s0, e0) = rng.choice(pool)
    new, s, e = _insert(d.text, rng.choice(d.late)[0], dn.text[s0:e0])
    return Perturbation("topic_drift", new, s, e, f"paragraph from {dn.title}")


_INJECT = {"fact_contradiction": _fact_contradiction, "dead_character_acts": _dead_character_acts,
           "voice_drift": _voice_drift,
           "pov_shift": partial(_rewrite, kind="pov_shift"),
           "tense_shift": partial(_rewrite, kind="tense_shift"),
           "topic_drift": _topic_drift}


def perturb(story: Any, kind: str, rng: random.Random, donors: list[Any] = ()) -> Perturbation:
    """Inject one flaw of ``kind`` into ``story.text``; returns the perturbed text and span.

    Parameters
    ----------
    story
        The clean story (its tables pick characters and paragraphs).
    kind
        One of :data:`KINDS`.
    rng
        Random generator (templates, positions, values, donors).
    donors
        Stories from other books (foreign voices and off-topic paragraphs).
    """
    paras = _paragraph_bounds(story)
    n = len(paras)
    late = [p for p in paras[int(n * 0.6): int(n * 0.95)]]
    who = _main_characters(story)
    if not who or not late:
        raise ValueError("story too small to perturb")
    name, gender = rng.choice(who)
    d = _Draw(story, story.text, paras, late, who, name, gender,
              "her" if gender == "female" else "him", _quote_char(story))
    if kind not in _INJECT:
        raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    return _INJECT[kind](d, rng, donors)


def _excerpt(text: str, words: int, rng: random.Random) -> str:
    """A window of about ``words`` words starting at a paragraph break."""
    if len(text.split()) <= words * 1.2:
        return text
    approx = int(len(text) * words / max(len(text.split()), 1))
    starts = [m.end() for m in re.finditer(r"\n\n", text[: len(text) - approx])]
    s = rng.choice(starts) if starts else 0
    e = text.find("\n\n", s + approx)
    return text[s: e if e > 0 else len(text)]


def _read_texts(names: list[str]) -> tuple[dict, dict]:
    """The texts of ``names`` and their clean stories (a text that fails is skipped, loudly)."""
    from .. import datasets  # lazy: keeps this module's import light

    texts, clean = {}, {}
    for n in names:
        try:
            texts[n] = datasets.load(n)
            clean[n] = Story.from_text(texts[n], title=n)
        except Exception as exc:  # a text the Story reader cannot read is skipped, loudly
            print(f"skipping {n}: {type(exc).__name__}: {exc}")
            texts.pop(n, None)
    return texts, clean


def _false_alarms(clean: dict, kinds: list[str],
                  analyze: Callable[..., Any]) -> tuple[dict, int, list[str]]:
    """Analyse the clean texts: insights per kind (false alarms), words read, their lines."""
    fa = {k: 0 for k in kinds}
    words = 0
    alarms: list[str] = []
    for n, st in clean.items():
        analyze(st, None)
        words += len(st.text.split())
        for k in kinds:
            rows = st.insights[st.insights["kind"] == k]
            fa[k] += len(rows)
            for r in rows.itertuples():
                alarms.append(f"FALSE {n} {k} [{r.start}:{r.end}] {r.message[:120]!r} | "
                              f"{st.text[int(r.start):int(r.end)][:140]!r}")
    return fa, words, alarms


def _recall(texts: dict, clean: dict, kinds: list[str], seeds: list[int], trials: int,
            excerpt_words: int, analyze: Callable[..., Any]) -> tuple[dict, dict, list[str]]:
    """Inject ``trials`` flaws of each kind per seed and text: ``(found, tried, misses)``
    keyed by ``(seed, kind)``."""
    names = list(clean)
    misses: list[str] = []
    found = {(sd, k): 0 for sd in seeds for k in kinds}
    tried = dict(found)
    for sd in seeds:
        rng = random.Random(sd)
        for n in names:
            donors = [clean[m] for m in names if m != n]
            for t in range(trials):
                ex = Story.from_text(_excerpt(texts[n], excerpt_words, rng), title=n)
                for k in kinds:
                    try:
                        p = perturb(ex, k, rng, donors)
                    except (ValueError, IndexError):
                        continue
                    ins = analyze(Story.from_text(p.text, title=n), k).insights
                    hit = p.found_by(ins)
                    tried[sd, k] += 1
                    found[sd, k] += int(hit)
                    if not hit:
                        misses.append(f"seed {sd} {n} {k}: {p.description} | {p.text[p.start:p.end][:100]!r}")
    return found, tried, misses


def benchmark(names: Iterable[str] | None = None, kinds: Iterable[str] = KINDS,
              trials: int = 10, excerpt_words: int = 12000, seed: int | Sequence[int] = 0,
              analyze: Callable[..., Any] | None = None, verbose: bool = False,
              voice_model: Any = None, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Recall per kind on perturbed excerpts and false alarms per 10k words on clean texts.

    Parameters
    ----------
    names
        Dataset names (default: all bundled texts).
    trials
        Injections per kind and text.
    excerpt_words
        Size of the excerpt each injection is made in (keeps the run short).
    seed
        Seed of the random draws, or several seeds: each draws its own injections,
        the clean texts are analysed once.
    analyze
        Detector to test, called as ``analyze(story, kind)`` where ``kind`` is the
        injected kind or ``None`` for a clean text (default
        :func:`shimmy_lab.assistant.analyze` with the two systems that own the
        detectors, ``characters`` and ``drift``).
    voice_model
        Scoring model of the ``voice_drift`` check (see
        :func:`shimmy_lab.assistant.resolve_voice_model`: default the lexical stage
        only, ``"bundled"`` for the bundled model's stage too).  It is used where ``voice_drift``
        insights are counted: on the clean texts and on the texts with an injected
        ``voice_drift``; it changes no other kind's insights.
    params
        Parameters per narrative system for the default ``analyze`` (as
        :func:`shimmy_lab.assistant.analyze` takes them: ``{"characters": {"name_weight": 0.5}}``).

    Returns
    -------
    pandas.DataFrame
        One row per seed and kind: seed, kind, trials, found, recall, clean_words,
        false_alarms, false_alarms_per_10k.
    """
    # lazy: keeps this module's import light
    from .. import datasets
    from ..assistant import analyze as _analyze

    if analyze is None:
        def analyze(st: Any, kind: str | None = None) -> Any:
            vm = voice_model if kind in (None, "voice_drift") else "none"
            return _analyze(st, systems=("characters", "drift"), voice_model=vm, params=params)
    seeds = [seed] if isinstance(seed, int) else list(seed)
    kinds = list(kinds)
    texts, clean = _read_texts(list(names or datasets.list()["name"]))
    t0 = time.perf_counter()
    fa, words, alarms = _false_alarms(clean, kinds, analyze)
    found, tried, misses = _recall(texts, clean, kinds, seeds, trials, excerpt_words, analyze)
    if verbose:
        print("\n".join(alarms))
        print("\n".join(misses))
        print(f"{time.perf_counter() - t0:.1f} s")
    rows = [{"seed": sd, "kind": k, "trials": tried[sd, k], "found": found[sd, k],
             "recall": round(found[sd, k] / tried[sd, k], 3) if tried[sd, k] else float("nan"),
             "clean_words": words, "false_alarms": fa[k],
             "false_alarms_per_10k": round(fa[k] / words * 1e4, 3)} for sd in seeds for k in kinds]
    return pd.DataFrame(rows)
