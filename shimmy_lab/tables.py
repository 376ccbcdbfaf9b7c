"""The machinery behind every table schema: documented columns, typed empty frames,
coercion and validation. :mod:`shimmy_lab.story.schema` (the Story tables) and
:mod:`shimmy_lab.trackers.schema` (the tables the narrative systems write) each declare
their tables and bind one :class:`Schema` over them.

Dtypes are pandas nullable dtypes: ``Int64``, ``string`` (``pd.StringDtype()``),
``float64``, ``boolean``; ``object`` columns hold Python values (e.g. lists of names)
and are neither cast nor checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Column", "Schema"]


@dataclass(frozen=True)
class Column:
    """One documented column: name, pandas dtype and meaning."""

    name: str
    dtype: str
    doc: str


def _dtype(name: str):
    return pd.StringDtype() if name == "string" else name


class Schema:
    """Operations over a ``{table: (what a row is, columns)}`` mapping.

    Parameters
    ----------
    tables : dict
        Table name -> (description of a row, tuple of :class:`Column`).
    label : str
        How error messages name these tables (``"table"``, ``"tracker table"``).
    require_spans : bool
        Whether every row must have ``start``/``end`` (else NA spans are allowed).
    """

    def __init__(self, tables: dict[str, tuple[str, tuple[Column, ...]]], label: str = "table",
                 require_spans: bool = True):
        self.tables = tables
        self.label = label
        self.require_spans = require_spans

    def columns(self, table: str) -> tuple[Column, ...]:
        """Return the documented columns of ``table``."""
        try:
            return self.tables[table][1]
        except KeyError:
            raise KeyError(f"unknown {self.label} {table!r}; tables are {', '.join(self.tables)}") from None

    def empty(self, table: str) -> pd.DataFrame:
        """Return an empty frame with the columns and dtypes of ``table``."""
        return pd.DataFrame({c.name: pd.Series([], dtype=_dtype(c.dtype)) for c in self.columns(table)})

    def coerce(self, table: str, data: pd.DataFrame | list[dict] | dict | None) -> pd.DataFrame:
        """Build a frame for ``table`` from rows or a frame, with schema dtypes and column order.

        Missing columns are filled with NA; extra columns are an error.
        """
        cols = self.columns(table)
        if data is None or len(data) == 0:
            return self.empty(table)
        df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        extra = set(df.columns) - {c.name for c in cols}
        if extra:
            raise ValueError(f"{table}: columns not in the schema: {sorted(extra)}")
        out = {}
        for c in cols:
            s = df[c.name] if c.name in df.columns else pd.Series([pd.NA] * len(df), index=df.index)
            out[c.name] = s if c.dtype == "object" else s.astype(_dtype(c.dtype))
        return pd.DataFrame(out).reset_index(drop=True)

    def validate(self, table: str, df: pd.DataFrame, text: str | None = None) -> None:
        """Raise ``ValueError`` if ``df`` does not match the schema of ``table``.

        Checks column names and order, dtypes, and (when ``text`` is given) that every
        ``start``/``end`` is a valid half-open span of ``text``.
        """
        cols = self.columns(table)
        names = [c.name for c in cols]
        if list(df.columns) != names:
            raise ValueError(f"{table}: columns {list(df.columns)} != schema {names}")
        for c in cols:
            if c.dtype == "object":
                continue
            if str(df[c.name].dtype) != str(pd.Series([], dtype=_dtype(c.dtype)).dtype):
                raise ValueError(f"{table}.{c.name}: dtype {df[c.name].dtype} != {c.dtype}")
        if text is None or not len(df) or "start" not in df:
            return
        s, e = df["start"], df["end"]
        if self.require_spans and (s.isna().any() or e.isna().any()):
            raise ValueError(f"{table}: missing start/end")
        both = s.notna() & e.notna()
        s, e = s[both], e[both]
        if (s < 0).any() or (e > len(text)).any() or (s > e).any():
            raise ValueError(f"{table}: start/end outside the text or reversed")

    def describe(self) -> pd.DataFrame:
        """All tables and columns as one DataFrame (table, row, column, dtype, meaning)."""
        return pd.DataFrame([
            {"table": t, "row": what, "column": c.name, "dtype": c.dtype, "meaning": c.doc}
            for t, (what, cols) in self.tables.items() for c in cols
        ])
