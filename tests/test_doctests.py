"""Docstring examples run as doctests (those not marked ``+SKIP``: they need a model or a corpus)."""

import doctest
import importlib

import pytest

MODULES = ["shimmy_lab", "shimmy_lab.report", "shimmy_lab.datasets", "shimmy_lab.story", "shimmy_lab.settings",
           "shimmy_lab.plotting", "shimmy_lab.assistant", "shimmy_lab.engines.convert", "shimmy_lab.experiments",
           "shimmy_lab.eval.evaluate"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
