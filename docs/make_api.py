"""Write docs/api.md: the public API with signatures and the summary line of each numpydoc docstring.

Run ``.venv/bin/python docs/make_api.py``; ``tests/test_docs.py`` fails when api.md is stale.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

SECTIONS = [
    ("Top level (`import shimmy_lab as sl`)", "shimmy_lab",
     ["load_engine", "models", "convert", "Lab", "Story", "read_text", "analyze", "drift", "context",
      "evaluate", "serve", "create_app", "Settings"]),
    ("Engines (`shimmy_lab.engines`)", "shimmy_lab.engines",
     ["Engine", "EngineInfo", "GenerationParams", "engine_class", "guess_engine"]),
    ("Model registry (`shimmy_lab.registry`)", "shimmy_lab.registry",
     ["discover", "resolve", "search_paths", "bundled_model_path", "ModelEntry"]),
    ("Errors (`shimmy_lab.errors`)", "shimmy_lab.errors",
     ["ShimmyError", "InvalidParameterError", "UnsupportedParameterError", "ContextLengthExceededError",
      "ModelNotFoundError", "EngineNotFoundError", "UnsupportedModelError"]),
    ("Datasets (`sl.datasets`)", "shimmy_lab.datasets", ["list", "load", "path", "verify"]),
    ("Narrative systems (`sl.tl`)", "shimmy_lab.trackers", None),
    ("Coordinator (`shimmy_lab.assistant`)", "shimmy_lab.assistant", ["enabled_systems", "rank"]),
    ("Plugins (`shimmy_lab.plugins`)", "shimmy_lab.plugins",
     ["NarrativePlugin", "Event", "register", "unregister", "plugins"]),
    ("Figures (`sl.pl`)", "shimmy_lab.plotting", None),
    ("Widgets (`sl.widgets`)", "shimmy_lab.widgets", None),
    ("Story page (`shimmy_lab.report`)", "shimmy_lab.report", ["story_page"]),
    ("Batch evaluation (`shimmy_lab.eval`)", "shimmy_lab.eval.evaluate", ["evaluate", "evaluate_work", "summarize"]),
    ("Perturbation benchmark (`shimmy_lab.eval`)", "shimmy_lab.eval", None),
    ("Experiments (`sl.experiments`)", "shimmy_lab.experiments",
     ["continuation", "ContinuationResult", "fluency", "bootstrap_ci"]),
    ("Jupyter (`%load_ext shimmy_lab`)", "shimmy_lab.jupyter", None),
]


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip() or "(no docstring)"


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""


def render() -> str:
    lines = ["# API reference", "",
             "Generated from the docstrings by `docs/make_api.py` (do not edit by hand).", ""]
    for title, modname, names in SECTIONS:
        mod = importlib.import_module(modname)
        names = names if names is not None else list(getattr(mod, "__all__", []))
        lines += [f"## {title}", ""]
        for name in names:
            obj = getattr(mod, name)
            kind = "class" if inspect.isclass(obj) else "function" if callable(obj) else "object"
            sig = _signature(obj) if kind != "object" else ""
            lines += [f"### `{name}{sig}`" if kind == "function" else f"### `{name}` ({kind})", "",
                      _summary(obj), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    out = Path(__file__).with_name("api.md")
    out.write_text(render())
    print(f"wrote {out}")
