"""Helpers shared by the figure functions: hover text, spans, colours, empty figures."""

from __future__ import annotations

import functools
import html
import warnings
from typing import Any, Callable, Iterable

import pandas as pd

from ..story import schema as story_schema

__all__ = ["go", "span_text", "hover", "empty_figure", "table", "deprecated_alias", "COLORS",
           "PRIORITY_COLORS"]

#: one colour per category used across figures (CAPR types, node kinds, levels)
COLORS: dict[str, str] = {
    "contradiction": "#d62728", "action": "#1f77b4", "pressure": "#ff7f0e", "return": "#2ca02c",
    "character": "#1f77b4", "fact": "#9467bd", "thread": "#ff7f0e", "place": "#8c564b",
    "sentence": "#17becf", "paragraph": "#2ca02c", "scene": "#ff7f0e", "chapter": "#9467bd",
    "act": "#d62728", "tension": "#d62728", "curiosity": "#1f77b4", "valence": "#2ca02c",
    "arousal": "#ff7f0e", "pace": "#7f7f7f",
}
PRIORITY_COLORS = {"critical": "#d62728", "important": "#ff7f0e",
                   "interesting": "#1f77b4", "minor": "#7f7f7f"}


def deprecated_alias(old: str, new: Callable[..., Any]) -> Callable[..., Any]:
    """``new`` under its old name ``old``: the same figure, with a ``DeprecationWarning``."""

    @functools.wraps(new)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"pl.{old} is deprecated; use pl.{new.__name__} (the name of its table and "
                      f"of its tl system)", DeprecationWarning, stacklevel=2)
        return new(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated name of :func:`{new.__name__}` (same arguments, same figure)."
    return alias


def go() -> Any:
    """Import :mod:`plotly.graph_objects` lazily (keeps ``import shimmy_lab`` cheap)."""
    import plotly.graph_objects as _go  # lazy: plotly, only when a figure is drawn

    return _go


def table(story: Any, name: str) -> pd.DataFrame:
    """Return ``story.tables[name]`` or an empty frame with the schema columns."""
    df = getattr(story, "tables", {}).get(name)
    if df is not None:
        return df
    from ..trackers import schema as tracker_schema  # lazy: keeps this module's import light

    for mod in (tracker_schema, story_schema):
        if name in mod.TABLES:
            return mod.empty(name)
    raise KeyError(f"unknown table {name!r}")


def span_text(story: Any, start: Any, end: Any, limit: int = 160) -> str:
    """``story.text[start:end]`` on one line, shortened to ``limit`` characters."""
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return ""
    s = " ".join(str(story.text[int(start):int(end)]).split())
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    if v is None or (not isinstance(v, (dict, list)) and pd.isna(v)):
        return ""
    return str(v)


def hover(story: Any, row: Any, fields: Iterable[str], limit: int = 160) -> str:
    """Hover text for one table row: the chosen fields, then its text span.

    Long lines are wrapped so the hover box stays readable.
    """
    get = row.get if isinstance(row, (dict, pd.Series)) else lambda k, d=None: getattr(row, k, d)
    lines = [f"<b>{html.escape(f)}</b>: {html.escape(_fmt(get(f)))}" for f in fields
             if get(f, None) is not None]
    start, end = get("start", None), get("end", None)
    if start is not None and end is not None and not pd.isna(start):
        lines.append(f"<b>span</b> [{int(start)}:{int(end)}]")
        text = span_text(story, start, end, limit)
        if text:
            lines.append("<i>" + "<br>".join(_wrap(html.escape(text))) + "</i>")
    return "<br>".join(lines)


def _wrap(s: str, width: int = 60) -> list[str]:
    out, line = [], ""
    for w in s.split(" "):
        if len(line) + len(w) + 1 > width and line:
            out.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    return out + ([line] if line else [])


def empty_figure(title: str, message: str) -> Any:
    """A figure with only a title and a centred note (for stories with no data)."""
    fig = go().Figure()
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False,
                      annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5,
                                        xref="paper", yref="paper", font_size=14)])
    return fig


def style(fig: Any, title: str, height: int = 450) -> Any:
    """Common layout: title, white template, compact margins."""
    fig.update_layout(title=title, template="plotly_white", height=height,
                      margin=dict(l=60, r=30, t=60, b=40), hoverlabel=dict(align="left"))
    return fig
