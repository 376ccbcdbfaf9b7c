"""Batch-evaluation benchmark: speed-up of a 2-worker Dask LocalCluster over 1 worker
on the bundled corpus, and works per minute, measured side by side in one run.

Run::

    .venv/bin/python benchmarks/evaluate.py [--repeat 1] [--story-only] [--voice-model bundled]

The ``voice_drift`` check runs with its lexical stage (``--voice-model none``, the
default here, as in the figures of docs/evaluation.md); ``--voice-model bundled`` adds
the model stage that ``sl.evaluate`` runs by default (each worker loads the model).

Goal: >= 1.7x with 2 workers on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (median reported)")
    parser.add_argument("--story-only", action="store_true", help="Story tables only, no narrative systems")
    parser.add_argument("--voice-model", default="none",
                        help="model of the voice_drift check ('none': lexical stage only; 'bundled')")
    opts = parser.parse_args()

    from shimmy_lab.eval.corpus import as_works
    from shimmy_lab.eval.evaluate import evaluate

    systems = [] if opts.story_only else None
    works = as_works("datasets")
    times: dict[str, list[float]] = {"local": [], "dask-1": [], "dask-2": []}
    for _ in range(opts.repeat):
        for name, kw in (("local", {"backend": "local"}),
                         ("dask-1", {"backend": "dask", "n_workers": 1}),
                         ("dask-2", {"backend": "dask", "n_workers": 2})):
            t0 = time.perf_counter()
            res = evaluate("datasets", systems=systems, progress=False, voice_model=opts.voice_model, **kw)
            times[name].append(time.perf_counter() - t0)
            assert (res[res["level"] == "work"]["status"] == "ok").all(), res[["work_id", "error"]]
    med = {k: statistics.median(v) for k, v in times.items()}
    words = int(res[res["level"] == "work"]["words"].sum())
    print(f"# evaluate benchmark: {len(works)} works, {words:,} words, "
          f"systems={'story only' if systems == [] else 'all'}, voice model {opts.voice_model}, "
          f"median of {opts.repeat}")
    print(f"{'backend':<10}{'seconds':>10}{'works/min':>12}")
    for k, v in med.items():
        print(f"{k:<10}{v:>10.1f}{len(works) / v * 60:>12.1f}")
    print(f"speed-up of 2 Dask workers over 1: {med['dask-1'] / med['dask-2']:.2f}x (goal >= 1.7x)")


if __name__ == "__main__":
    main()
