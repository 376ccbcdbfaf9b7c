"""The ``timeline`` table: where each character is in the story, scene by scene.

A character is present in a scene when it is named there (a ``mentions`` row), speaks
there (``quotes.speaker``), is spoken to there (``quotes.addressee``) or dies there
(a death fact, see below).  Scenes nest in chapters, so the chapter timeline is a
group-by of the scene one::

    story.timeline.groupby(["character_id", "chapter"])[["mentions", "quotes"]].sum()

Every row is placed by where it starts: a mention, a quote or a fact belongs to the
scene holding its first character.  The table is a pure function of the other tables
(and the text), recomputed in full after every read or append: a few group-bys over
thousands of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import schema
from .deaths import told_deaths

__all__ = ["timeline_table"]

_COUNTS = ["mentions", "quotes", "addressed"]


def timeline_table(tables: dict[str, pd.DataFrame], text: str | None = None) -> pd.DataFrame:
    """Build the ``timeline`` table (one row per character and scene it is present in).

    Parameters
    ----------
    tables
        The story tables; reads ``scenes``, ``characters``, ``mentions``, ``quotes`` and
        ``facts``.
    text
        The story text.  With it, a death said inside a quote counts only when the
        speaker tells it as known, as for ``characters.status``
        (:func:`~shimmy_lab.story.deaths.told_deaths`); without it every death fact counts.

    Returns
    -------
    pandas.DataFrame
        The ``timeline`` table of :mod:`shimmy_lab.story.schema`, sorted by scene then
        character_id: ``status`` is ``'dies'`` in the scene of the character's first
        death, ``'dead'`` in the scenes after it where the character is present, else NA.
    """
    sc, chars = tables["scenes"], tables["characters"]
    if not len(sc) or not len(chars):
        return schema.empty("timeline")
    starts = sc["start"].to_numpy(dtype=np.int64)
    ids = pd.Index(chars["character_id"].astype(str).unique())
    m, q = tables["mentions"], tables["quotes"]
    parts = [_events(m["character_id"], m["start"], starts, "mentions"),
             _events(q["speaker"], q["start"], starts, "quotes"),
             _events(q["addressee"], q["start"], starts, "addressed")]
    death = _death_rows(tables, text, starts)
    parts.append(pd.DataFrame({"character_id": death.index, "row": death.to_numpy(dtype=np.int64)}))
    ev = pd.concat(parts, ignore_index=True)
    ev = ev[ev["character_id"].isin(ids)]
    if not len(ev):
        return schema.empty("timeline")
    ev[_COUNTS] = ev[_COUNTS].fillna(0)
    out = ev.groupby(["row", "character_id"], sort=True)[_COUNTS].sum().reset_index()
    rows = out["row"].to_numpy()
    for col in ("chapter", "scene", "start", "end"):
        out[col] = sc[col].to_numpy()[rows]
    out["status"] = _status(out, death)
    return schema.coerce("timeline", out.drop(columns="row"))


def _rows(starts: np.ndarray, pos: pd.Series) -> np.ndarray:
    """Row of the scene (in ``starts``, sorted) that holds each offset."""
    return np.maximum(np.searchsorted(starts, pos.to_numpy(dtype=np.int64), side="right") - 1, 0)


def _events(who: pd.Series, pos: pd.Series, starts: np.ndarray, count: str) -> pd.DataFrame:
    """One row per event with a character: its id, scene row and a 1 in column ``count``."""
    keep = who.notna().to_numpy()
    return pd.DataFrame({"character_id": who[keep].astype(str).to_numpy(),
                         "row": _rows(starts, pos[keep]), count: 1})


def _death_rows(tables: dict[str, pd.DataFrame], text: str | None,
                starts: np.ndarray) -> pd.Series:
    """Scene row of each character's first death: character_id -> row."""
    f = tables["facts"]
    d = f[(f["attribute"] == "death") & f["subject"].notna()]
    if not len(d):
        return pd.Series([], dtype=np.int64)
    facts = list(zip(d["subject"].astype(str), d["start"].astype(int), d["end"].astype(int),
                     d["pattern"].astype(str)))
    if text is not None:
        q = tables["quotes"]
        told = told_deaths(text, facts, list(zip(q["start"].astype(int), q["end"].astype(int))))
        first = {cid: min(s for s, _, _ in spans) for cid, spans in told.items()}
    else:
        first = d.groupby(d["subject"].astype(str))["start"].min().astype(int).to_dict()
    if not first:
        return pd.Series([], dtype=np.int64)
    s = pd.Series(first)
    return pd.Series(_rows(starts, s), index=s.index)


def _status(out: pd.DataFrame, death: pd.Series) -> pd.Series:
    """'dies' in the row of the first death, 'dead' after it, NA before or without one."""
    d = out["character_id"].map(death)
    status = pd.Series(pd.NA, index=out.index, dtype="string")
    status[out["row"] > d] = "dead"
    status[out["row"] == d] = "dies"
    return status
