"""The coordinator: run the narrative systems, correlate and rank their insights,
build the context given to a model, and check candidate text for drift.

>>> import shimmy_lab as sl
>>> story = sl.analyze(text)                       # doctest: +SKIP
>>> story.insights.head()                          # doctest: +SKIP
>>> sl.context(story, assertiveness=0.6)           # doctest: +SKIP
>>> sl.drift(story, "Next paragraph ...").score    # doctest: +SKIP

Systems are switched with ``systems=`` or the environment
(``SHIMMY_NARRATIVE_DNA=0``, ``SHIMMY_NARRATIVE_CHARACTERS=1`` ...), or per-system
booleans in the ``[narrative]`` settings section (``dna = false``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .plugins import AnalysisEvents
from .settings import DEFAULT_ASSERTIVENESS, Settings
from .story import Story
from .trackers import _util as U, schema, systems as registry
from .trackers.drift import drift as _drift

__all__ = ["analyze", "context", "drift", "enabled_systems", "rank", "resolve_voice_model",
           "settings_params", "system_params", "DEFAULT_VOICE_MODEL"]

log = logging.getLogger(__name__)
_PRIO = {p: i for i, p in enumerate(schema.PRIORITIES)}
#: kinds that describe the same finding in two systems: (kind, kind) -> merged kind
CORRELATE = {"dead_character_acts": ("characters", "constraints"),
             "fact_contradiction": ("characters", "constraints")}


def _truthy(v: str) -> bool:
    return v.strip().lower() not in ("0", "false", "no", "off", "")


def _narrative(settings: Any = None) -> Any:
    """The ``[narrative]`` settings: those of ``settings``, else :meth:`Settings.load`'s
    (``SHIMMY_NARRATIVE_*`` > shimmy.toml > defaults): the one place configuration is read."""
    if settings is None:  # loaded per call: a changed environment or file counts
        settings = Settings.load()
    return getattr(settings, "narrative", None)


def enabled_systems(systems: Iterable[str] | None = None, settings: Any = None) -> list[str]:
    """Resolve which systems run: ``systems`` > the settings' ``narrative.<system>``
    (``[narrative] dna = false`` in shimmy.toml, ``SHIMMY_NARRATIVE_DNA=0``) > all.

    Unknown names raise ``ValueError`` listing the known systems.  The result is in the
    registry's run order (:func:`shimmy_lab.trackers.systems.names`).
    """
    known = registry.names()
    if systems is not None:
        systems = [systems] if isinstance(systems, str) else list(systems)
        bad = [s for s in systems if s not in known]
        if bad:
            raise ValueError(f"unknown narrative system(s) {bad}; known: {', '.join(known)}")
        return [s for s in known if s in systems]
    narrative = _narrative(settings)
    extra = dict(getattr(narrative, "model_extra", None) or {}) if narrative is not None else {}
    out = []
    for s in known:
        on = extra.get(s, True)
        if on if not isinstance(on, str) else _truthy(on):
            out.append(s)
    return out


#: Voice model of :func:`analyze` when neither the call, the settings nor the
#: environment names one: none, the lexical check only.  The model stage (``"bundled"``)
#: is the slower mode behind one switch: about 80x the time of the whole analysis, and on
#: the independent flaw set it found fewer voice flaws than the lexical check
#: (docs/narrative.md).
DEFAULT_VOICE_MODEL = "none"
_OFF = ("", "none", "off", "false", "0", "no")


def resolve_voice_model(voice_model: Any = None, settings: Any = None) -> Any:
    """The scoring model the ``voice_drift`` check runs with, or ``None`` for lexical only.

    Resolution: ``voice_model`` if given > the settings' ``narrative.voice_model`` (given,
    else loaded: env ``SHIMMY_NARRATIVE_VOICE_MODEL``, shimmy.toml) > :data:`DEFAULT_VOICE_MODEL` (``"none"``:
    the lexical check; ``"bundled"`` scores unusual lines with the bundled SmolLM2).  ``"none"``, ``"off"``, ``""`` and ``False`` switch the model stage off.

    Examples
    --------
    >>> resolve_voice_model("none") is None
    True
    >>> resolve_voice_model("bundled")
    'bundled'
    """
    if voice_model is None:
        voice_model = getattr(_narrative(settings), "voice_model", None)
    if voice_model is None:
        voice_model = DEFAULT_VOICE_MODEL
    if voice_model is False or (isinstance(voice_model, str) and voice_model.strip().lower() in _OFF):
        return None
    return voice_model


def rank(insights: pd.DataFrame) -> pd.DataFrame:
    """Merge findings seen by several systems and sort by priority, then severity.

    Two insights of the same kind whose spans overlap become one row whose
    ``system`` lists both (``characters+constraints``) with the higher severity.
    """
    if not len(insights):
        return schema.coerce("insights", insights)
    df = insights.copy()
    df["_p"] = df["priority"].map(_PRIO).fillna(3)
    df = df.sort_values(["kind", "start", "_p"]).reset_index(drop=True)
    keep, merged = [], {}
    last: dict[str, int] = {}
    for i, r in enumerate(df.itertuples()):
        j = last.get(r.kind)
        if j is not None:
            k = df.iloc[j]
            if r.start < k["end"] and k["start"] < r.end and r.system != k["system"] \
                    and r.kind in CORRELATE:
                sysset = sorted(set(str(k["system"]).split("+")) | set(str(r.system).split("+")))
                df.at[j, "system"] = "+".join(sysset)
                df.at[j, "severity"] = min(1.0, max(k["severity"], r.severity) + 0.05)
                df.at[j, "characters"] = sorted(set(k["characters"]) | set(r.characters))
                merged[i] = j
                continue
        last[r.kind] = i
        keep.append(i)
    df = df.iloc[keep].sort_values(["_p", "severity"], ascending=[True, False])
    return schema.coerce("insights", df.drop(columns="_p"))


def analyze(text_or_story: Any, systems: Iterable[str] | None = None,
            assertiveness: float | None = None, settings: Any = None, title: str | None = None,
            voice_model: Any = None, strict: bool = False, params: dict[str, Any] | None = None) -> Any:
    """Run the enabled narrative systems and rank their insights into ``story.insights``.

    The systems are those of the registry (:mod:`shimmy_lab.trackers.systems`, with the
    systems other packages register through the entry-point group ``shimmy_lab.systems``),
    run in its order (each after the systems whose tables it reads), each with its
    parameters dataclass.  The narrative plugins get their events as the systems finish
    (:class:`shimmy_lab.plugins.AnalysisEvents`).

    Parameters
    ----------
    text_or_story
        A text (read with :meth:`Story.from_text`) or a :class:`~shimmy_lab.story.Story`.
    systems
        Names from :func:`shimmy_lab.trackers.systems.names` (the built-in ones are
        :data:`shimmy_lab.trackers.SYSTEMS`); default: all enabled ones (see
        :func:`enabled_systems`).  A system whose prerequisite is switched off reads its
        tables as empty.
    assertiveness
        0..1, recorded for :func:`context`; it also drops ``minor`` insights below 0.3.
        Default: the settings' ``narrative.assertiveness``, else
        :data:`~shimmy_lab.settings.DEFAULT_ASSERTIVENESS`.
    settings
        A :class:`shimmy_lab.settings.Settings` whose ``[narrative]`` section may
        switch systems off and name a ``voice_model``.
    title
        Title of a story read from text.
    voice_model
        Scoring model of the ``voice_drift`` check (an engine, a model id or
        ``"bundled"``; see :func:`shimmy_lab.trackers.characters`), or ``"none"``
        (also ``""`` or ``False``) for the lexical check only; default: see
        :func:`resolve_voice_model` (the lexical check unless settings or env say otherwise).
    strict
        Raise the error of a failing system.  By default a failing system is reported
        (a :class:`RuntimeWarning` naming it and the reason, the log, and
        ``uns["params"]["assistant"]["failed"]``) and the others go on.
    params
        Parameters per system: ``{"dna": DnaParams(max_insights=3)}`` or
        ``{"dna": {"max_insights": 3}}``, over the settings' ``[narrative.params]`` (see
        :func:`settings_params`); the others run with their defaults.  A
        ``voice_model`` given here wins over ``voice_model=``.

    Returns
    -------
    Story
        The story, with the tracker tables and ranked ``insights``; its
        ``uns["params"]["assistant"]`` records the systems, assertiveness and voice model
        (a name; ``None`` for an engine object) and ``uns["narrative_analysed_to"]`` the
        length of the text analysed.
    """
    story = text_or_story if isinstance(text_or_story, Story) else Story.from_text(
        str(text_or_story), title=title)
    run = enabled_systems(systems, settings)
    chosen = system_params(settings_params(settings, params), resolve_voice_model(voice_model, settings))
    story.tables["insights"] = schema.empty("insights")
    events = AnalysisEvents(story)
    events.story_read()
    timings, failed = _run_systems(story, run, chosen, events, strict)
    plugin_rows, plugins_failed = events.finish()
    if assertiveness is None:
        narrative = getattr(settings, "narrative", None)
        assertiveness = getattr(narrative, "assertiveness", DEFAULT_ASSERTIVENESS)
    story.tables["insights"] = _ranked(U.table(story, "insights"), plugin_rows, assertiveness)
    vm = chosen["characters"].voice_model
    U.record_params(story, "assistant", systems=run, assertiveness=float(assertiveness),
                    voice_model="none" if vm is None else (vm if isinstance(vm, str) else None),
                    seconds=timings, failed=failed, plugins_failed=plugins_failed)
    story.uns["narrative_analysed_to"] = len(story.text)
    return story


def _ranked(ins: pd.DataFrame, plugin_rows: list[dict[str, Any]], assertiveness: float) -> pd.DataFrame:
    """The systems' insights and the plugins' rows, ranked; ``minor`` ones dropped below
    assertiveness 0.3."""
    if plugin_rows:
        extra = pd.DataFrame(plugin_rows)
        extra["insight_id"] = [f"{r['system']}-{i}" for i, r in enumerate(plugin_rows)]
        ins = pd.concat([ins, schema.coerce("insights", extra)], ignore_index=True)
    ins = rank(ins)
    if assertiveness < 0.3:
        ins = ins[ins["priority"] != "minor"].reset_index(drop=True)
    return ins


def settings_params(settings: Any, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parameters per system of an analysis: the settings' ``[narrative.params]``
    (``settings.narrative.params``, e.g. ``{"dna": {"max_insights": 3}}``) with ``params``
    over them (a dict of fields adds to the settings' fields of that system, a dataclass
    replaces them).

    Examples
    --------
    >>> from shimmy_lab.settings import Settings
    >>> s = Settings(narrative={"params": {"dna": {"max_insights": 3, "min_shared": 3}}})
    >>> settings_params(s, {"dna": {"max_insights": 5}})
    {'dna': {'max_insights': 5, 'min_shared': 3}}
    """
    out: dict[str, Any] = {k: dict(v) for k, v in (getattr(getattr(settings, "narrative", None), "params", None)
                                                  or {}).items()}
    for name, given in (params or {}).items():
        out[name] = {**out.get(name, {}), **given} if isinstance(given, dict) else given
    return out


def system_params(params: dict[str, Any] | None = None, voice_model: Any = None) -> dict[str, Any]:
    """The parameters dataclass of every registered system: ``params[name]`` (a dataclass or
    a dict of fields) over the defaults; the characters' ``voice_model`` is ``voice_model``
    unless ``params`` names one.

    Examples
    --------
    >>> system_params({"dna": {"max_insights": 3}})["dna"].max_insights
    3
    """
    params = dict(params or {})
    known = registry.names()
    bad = sorted(set(params) - set(known))
    if bad:
        raise ValueError(f"params for unknown narrative system(s) {bad}; known: {', '.join(known)}")
    out = {name: registry.params_for(name, params.get(name)) for name in known}
    given = out["characters"].voice_model
    vm = voice_model if given is None else resolve_voice_model(given)
    out["characters"] = dataclasses.replace(out["characters"], voice_model=vm)
    return out


def _run_systems(story: Any, run: list[str], chosen: dict[str, Any], events: Any,
                 strict: bool) -> tuple[dict[str, float], dict[str, str]]:
    """Run the systems ``run`` in order, publishing a :class:`~shimmy_lab.plugins.SystemFinished`
    after each: ``(seconds per system, reason per failed system)``."""
    timings: dict[str, float] = {}
    failed: dict[str, str] = {}
    for name in run:
        t0 = time.perf_counter()
        try:
            registry.run(story, name, chosen[name], check=False)
        except Exception as exc:  # a failing system is reported, the others go on
            if strict:
                raise
            failed[name] = f"{type(exc).__name__}: {exc}"
            log.warning("narrative system %s failed: %s", name, failed[name])
            warnings.warn(f"narrative system {name!r} failed, its tables and insights are missing: "
                          f"{failed[name]}", RuntimeWarning, stacklevel=3)
        timings[name] = round(time.perf_counter() - t0, 4)
        events.system_finished(name, registry.get(name).tables, timings[name], failed.get(name))
    return timings, failed


def _tokens(s: str) -> int:
    return max(1, round(len(s.split()) * 1.3))


def context(story: Any, assertiveness: float = DEFAULT_ASSERTIVENESS, max_tokens: int = 300) -> str:
    """The system message given to a model: a short, token-budgeted narrative brief.

    Its budget is ``assertiveness * max_tokens`` (about 1.3 tokens per word): 0 gives
    an empty string; more assertiveness adds characters in play, established facts,
    open threads and the top insights, in that order of importance.
    """
    a = float(np.clip(assertiveness, 0.0, 1.0))
    budget = int(a * max_tokens)
    if budget < 8:
        return ""
    names = U.names_by_id(story)
    lines = ["Continue the story consistently."]
    ch = U.table(story, "characters")
    if len(ch):
        last = int(ch["last_chapter"].max())
        recent = ch[ch["last_chapter"] >= last - 1].sort_values("mentions", ascending=False)
        dead = ch.loc[ch["status"] == "dead", "name"].astype(str).tolist()
        lines.append("Characters in play: " + ", ".join(recent["name"].astype(str).head(6)) + ".")
        if dead:
            lines.append("Dead (must not act or speak): " + ", ".join(dead[:6]) + ".")
    f = U.table(story, "facts")
    f = f[f["attribute"].isin(["eye_colour", "hair_colour", "age", "occupation", "married_to"])]
    facts = [f"{names.get(str(r.subject), r.subject)} {r.attribute.replace('_', ' ')}: "
             f"{names.get(str(r.value), r.value)}" for r in f.drop_duplicates(
                 ["subject", "attribute"]).itertuples()]
    if facts:
        lines.append("Facts: " + "; ".join(facts[:8]) + ".")
    ins = U.table(story, "insights")
    threads = ins[ins["kind"] == "open_thread"].sort_values("severity", ascending=False)
    if len(threads):
        lines.append("Open threads: " + "; ".join(threads["title"].astype(str).head(4)) + ".")
    top = ins[ins["priority"].isin(["critical", "important"]) & (ins["kind"] != "open_thread")]
    if len(top):
        lines.append("Watch: " + "; ".join(top["title"].astype(str).head(4)) + ".")
    out: list[str] = []
    used = 0
    for ln in lines:
        t = _tokens(ln)
        if used + t > budget:
            words = ln.split()[: max(0, int((budget - used) / 1.3))]
            if len(words) >= 4:
                out.append(" ".join(words) + " ...")
            break
        out.append(ln)
        used += t
    return "\n".join(out)


def drift(story: Any, candidate: str, **kwargs: Any) -> Any:
    """Check ``candidate`` against ``story``; see :func:`shimmy_lab.trackers.drift.drift`.

    Returns
    -------
    DriftReport
        ``score`` in [0, 1] and ``insights`` with offsets into ``candidate``.
    """
    if not isinstance(candidate, str):
        raise TypeError("candidate must be a string")
    return _drift(story, candidate, **kwargs)
