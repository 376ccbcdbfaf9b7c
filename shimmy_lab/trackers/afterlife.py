"""Dead characters who act: the first clear act or line of a character after its death.

:func:`dead_act_events` lists, per dead character, the places after its death where it
plainly speaks or acts:

* a quote attributed to it with direct evidence (a speech tag, ``min_conf``);
* its name in narration as the subject of an action verb ("Tom jumped up",
  "Mr. Peter Grey here asked", "Dr. Lane sat", "Hawkins could not but smile"),
  also in capitals as at a story opening ("HAWKINS and his friend were sitting"),
  or its presence somewhere ("Tom was in Bath", "Dr. Lane was at the door"),
  or after a verb of seeing or finding with a participle ("found Dr. Lane writing").

A place is skipped when a memory, dream, portrait or letter frames it
(:func:`shimmy_lab.trackers.characters.memory_cue`), when its verb is pluperfect
("X had said": backstory), and when it uses a name form that the death did not:
a death told with a bare family name ("Mr. Grey died") kills no "Freddy"
of that family whom the story clusters under the same character.
"""

from __future__ import annotations

import bisect
import re
from typing import Callable, Iterable

from ..story.deaths import name_words

__all__ = ["dead_act_events", "same_person", "ACT_AFTER"]

_IRREGULAR = (
    "said|says|spoke|speaks|came|comes|went|goes|ran|runs|sat|sits|stood|stands|rose|rises|"
    "took|takes|gave|gives|got|gets|made|makes|saw|sees|heard|hears|felt|thought|told|tells|"
    "began|begins|brought|caught|drew|drank|ate|found|flew|held|holds|hid|kept|led|met|paid|"
    "put|rode|rang|sang|shook|shakes|shut|slept|sprang|stole|struck|swore|threw|tore|"
    "understood|woke|wore|wrote|writes|won|bent|bit|blew|broke|burst|chose|clung|crept|dug|"
    "drove|fled|flung|fought|grew|knelt|leapt|let|lit|meant|sent|set|shone|showed|sought|"
    "spent|strode|swept|swung|taught|tried|turned|turns|looks|asks|answers|replies|smiles|"
    "nods|laughs|cries|walks|opens|enters|leaves|reaches|stops|sighs|shouts|whispers|"
    "comes|calls|waits|watches|pushes|pulls|throws|lifts|hurries|seems")
#: ``-ed`` words after a name that are no act of a living person (states, deaths,
#: passives read as actives)
_NOT_ACTS = frozenset("""
died drowned perished expired lived loved liked disliked hated wished hoped feared
believed deserved needed wanted owned possessed belonged married murdered killed buried
named used preferred intended inherited suffered mourned seemed appeared remained lay
existed resembled occupied bred bled possessed lacked deceased departed bequeathed willed
left lost
""".split())
#: after "was in / at (his, her, the)": where the dead lie, and no presence at all
_NOT_PLACES = (r"(?:grave|graves|coffin|tomb|vault|churchyard|cemetery|ground|earth|mortuary|morgue|"
               r"sea|bottom|last|death|point|throes|memory|memories|thoughts|mind|youth|"
               r"childhood|day|days|past|mercy|Heaven|Paradise|God|Abraham)")
_ADVERB = (r"(?:\w+ly|here|there|then|now|again|also|too|still|at once|instantly|presently|"
           r"himself|herself|suddenly|only|just|first|next|soon|even|quite)")
#: the act after a name: "Tom jumped", "Peter Grey here asked", "Hawkins could
#: not but wonder", "Hawkins and his friend were sitting", "X, implacable, turned"
ACT_AFTER = re.compile(
    # "The Secretary, raging, rose": a short aside that tells no death or memory
    rf"(?:,(?![^,.;:!?\"]*\b(?:dead|late|had|remember\w*|who|whom|whose)\b)"
    rf"[^,.;:!?\"]{{1,40}},)?"
    rf"(?:[ \t]*\n?[ \t]*(?:{_ADVERB})[ \t]*\n?)?[ \t]*\n?[ \t]*"
    rf"(?:and[ \t\n]+[a-z][^,.;:!?\"]{{0,40}}?"
    rf"[ \t\n]+(?=were[ \t\n]+[a-z]+ing\b))?"
    rf"(?P<verb>(?:{_IRREGULAR})\b|[a-z]{{3,}}ed\b|(?:was|were)[ \t\n]+[a-z]{{3,}}ing\b"
    # presence in their own clothes or rooms, or at a place: "Dr. Lane was in his
    # dressing-gown", "Tom was in Bath", "Ada was at the door"
    rf"|(?:was|were)[ \t\n]+(?:in|at)[ \t\n]+(?:(?:his|her|the)[ \t\n]+(?!{_NOT_PLACES}\b)[a-z]"
    rf"|(?!{_NOT_PLACES}\b)[A-Z][a-z]|home\b)"
    rf"|(?:could|did)(?:[ \t\n]+not)?[ \t\n]+(?:but[ \t\n]+)?[a-z]{{3,}}\b)")
_NOT_ING = frozenset("being lying dying going buried living wanting missing mourning".split())
_SEE_BEFORE = re.compile(
    r"\b(?:saw|see|seen|sees|found|find|finds|discovered|watched|beheld|noticed|perceived|"
    r"caught|met)\s+$", re.I)
#: a passive whose agent the mention is: "he was hurried away by ", "being greeted by "
_BY_AGENT = re.compile(
    r"\b(?:was|were|been|being)\s+(?:[a-z]+ly\s+)?(?!(?:killed|murdered|buried|mourned|loved|"
    r"survived|left|named|remembered|forgotten|born|known)\b)[a-z]{3,}(?:ed|en)"
    r"(?:\s+(?:off|away|out|up|in|back|on|over|down|along|aside))?\s+by\s+$")
#: an empty match: the act is the mention itself
_HERE = re.compile(r"")
_ING_AFTER = re.compile(r"[ \t]*\n?[ \t]*(?P<verb>[a-z]{3,}ing)\b")
_OBJECT_BEFORE = re.compile(
    r"(?<![\w'])(?:of|to|for|with|from|at|in|on|upon|than|like|about|by|towards|toward|"
    r"against|among|between|beside|behind|under|over|through|into|near|whom|whose|had|"
    r"late|poor)\s+$", re.I)
_TITLES = frozenset("Mr Mrs Miss Ms Sir Lady Dr Doctor Madame Mademoiselle Monsieur Lord".split())
_FEMALE = frozenset("Mrs Miss Ms Lady Madame Mademoiselle".split())


def _parts(form: str) -> tuple[str | None, list[str]]:
    words = [w.capitalize() if w.isupper() else w for w in name_words(form)
             if w not in ("the", "THE")]
    if words and words[0] in _TITLES and len(words) > 1:
        return words[0], words[1:]
    return None, words


def same_person(death_form: str, form: str) -> bool:
    """Whether ``form`` can name the one the death named as ``death_form``.

    A death told with a bare family name ('Mr. Grey', 'Hawkins') matches the
    same bare name only; a fuller one ('Peter Grey') matches its parts and fuller
    forms of it ('Mr. Peter Grey', 'Peter')."""
    dt, dw = _parts(death_form)
    st, sw = _parts(form)
    if not dw or not sw:
        return True
    if dt and st and (dt in _FEMALE) != (st in _FEMALE):
        return False
    if len(dw) == 1:
        return sw == dw
    return set(sw) <= set(dw) or set(dw) <= set(sw)


def _narr_subject(text: str, s: int, e: int, para_floor: int) -> re.Match | None:
    """The act after a narration mention ``text[s:e]`` when it is a subject (or the agent
    of a passive: "was led away by Tom")."""
    if _BY_AGENT.search(text, max(para_floor, s - 40), s):
        return _HERE.match(text, e)
    if _OBJECT_BEFORE.search(text, max(para_floor, s - 12), s):
        if _SEE_BEFORE.search(text, max(para_floor, s - 14), s):
            im = _ING_AFTER.match(text, e, min(len(text), e + 30))
            if im and im.group("verb") not in _NOT_ING:
                return im
        return None
    if text.startswith(("'s", "\u2019s"), e):
        return None
    am = ACT_AFTER.match(text, e, min(len(text), e + 70))
    if am:
        v = am.group("verb").split()
        if v[0] in ("was", "were") and v[-1] in _NOT_ING:
            return None
        if len(v) == 1 and v[0] in _NOT_ACTS:
            return None
        return am
    if _SEE_BEFORE.search(text, max(para_floor, s - 14), s):
        im = _ING_AFTER.match(text, e, min(len(text), e + 30))
        if im and im.group("verb") not in _NOT_ING:
            return im
    return None


def _caps_forms(forms: Iterable[str]) -> re.Pattern | None:
    """Capitalised forms of a character ('HAWKINS', 'DR. LANE') as at a story opening."""
    alts = set()
    for f in forms:
        words = name_words(f)
        if words and len(words[-1]) >= 4:
            alts.add(r"\.?\s+".join(re.escape(w.upper()) for w in words))
    if not alts:
        return None
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(sorted(alts, key=len, reverse=True))
                      + r")(?![A-Za-z])")


def dead_act_events(text: str, deaths: dict[str, list[tuple[int, int, str]]],
                    quotes: Iterable[tuple], mentions: Iterable[tuple],
                    sent_ends: list[int], min_conf: float = 0.8,
                    framed: Callable[[int, int | None], bool] | None = None
                    ) -> list[tuple[int, int, str, str, tuple[int, int, str]]]:
    """Acts of dead characters: ``(start, end, character_id, 'speaks' | 'acts', death)``.

    ``deaths`` maps a character to its deaths ``(start, end, name form)``; ``quotes`` are
    (start, end, speaker, confidence); ``mentions`` (start, end, character_id, in_quote);
    ``sent_ends`` the sorted sentence ends; ``framed(pos, act_end)`` tells a memory frame
    (``act_end``: the end of an act's own words, ``None`` for a line).  Only
    the first act after each death is kept; a death's own sentence is skipped."""
    if not deaths:
        return []
    after: dict[str, list[tuple[int, int, str]]] = {}
    for cid, ds in deaths.items():
        after[cid] = sorted((int(s), _sentence_end(sent_ends, int(e)), f) for s, e, f in ds)
    narr: dict[str, list[tuple[int, int]]] = {}
    forms: dict[str, set[str]] = {}
    for s, e, cid, in_q in mentions:
        if cid in after:
            forms.setdefault(cid, set()).add(" ".join(text[int(s):int(e)].split()))
            if not in_q:
                narr.setdefault(cid, []).append((int(s), int(e)))
    events: list[tuple[int, int, str, str]] = []
    for s, e, spk, conf in quotes:
        if spk in after and conf >= min_conf:
            events.append((int(s), int(e), str(spk), "speaks"))
    for cid, ms in narr.items():
        for s, e in ms:
            if s > after[cid][0][1]:
                events.append((s, e, cid, "acts"))
    for cid in after:
        rx = _caps_forms(forms.get(cid, ()))
        if rx is not None:
            for m in rx.finditer(text, after[cid][0][1]):
                events.append((m.start(), m.end(), cid, "acts"))
    out = []
    done: set[tuple[str, int]] = set()
    for s, e, cid, how in sorted(set(events)):
        ds = after[cid]
        before = [k for k in range(len(ds)) if ds[k][1] < s and (cid, k) not in done]
        if not before:
            continue
        para = text.rfind("\n\n", 0, s) + 2
        if how == "acts":
            am = _narr_subject(text, s, e, para)
            if am is None:
                continue
            ks = [k for k in before if same_person(ds[k][2], text[s:e])]
            e = am.end()
        else:
            ks = [k for k in before if _tag_matches(text, s, e, narr.get(cid, []), ds[k][2])]
        if not ks or (framed is not None and framed(s, e if how == "acts" else None)):
            continue
        done.update((cid, k) for k in ks)
        out.append((s, e, cid, how, ds[ks[0]]))
    return out


def _sentence_end(sent_ends: list[int], pos: int) -> int:
    if pos < 0:  # a death before the text (a candidate continuation)
        return pos
    i = bisect.bisect_left(sent_ends, pos)
    return sent_ends[i] if i < len(sent_ends) else pos


def _tag_matches(text: str, s: int, e: int, narr: list[tuple[int, int]],
                 death_form: str) -> bool:
    """The speech tag of a quote (a narration mention just before or after it, else the
    last one before it, which a pronoun tag stands for) names the character with a form
    the death could mean."""
    i = bisect.bisect_left(narr, (s - 80, 0))
    for ms, me in narr[i:]:
        if ms > e + 80:
            break
        if (me <= s and "\n\n" not in text[me:s]) or (ms >= e and "\n\n" not in text[e:ms]):
            return same_person(death_form, text[ms:me])
    j = bisect.bisect_left(narr, (s, 0)) - 1
    if j >= 0 and narr[j][0] > s - 1500:
        return same_person(death_form, text[narr[j][0]:narr[j][1]])
    return True
