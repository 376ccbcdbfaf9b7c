"""Test helpers for pure ``compute`` functions: a deep copy of their input tables, and the
check that they left those tables as they were."""

from __future__ import annotations

import pickle

import pandas as pd


def frozen(tables):
    """A deep copy of a mapping of tables (the lists inside cells too)."""
    return pickle.loads(pickle.dumps(dict(tables)))


def assert_unchanged(tables, before):
    """Every table of ``before`` (and nothing else) is in ``tables``, equal."""
    assert tables.keys() == before.keys()
    for k, v in before.items():
        if isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(tables[k], v, obj=k)
        else:
            assert tables[k] == v, k
