"""``shimmy-lab eval``: batch evaluation, the perturbation benchmark, the on/off experiment.

::

    shimmy-lab eval run datasets --out results.parquet --backend dask --scheduler tcp://host:8786
    shimmy-lab eval perturb --trials 4 --out perturb.csv [--voice-model none] [--seed 0 --seed 1]
    shimmy-lab eval continuation datasets --prompts 3 --out continuation.parquet
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

eval_app = typer.Typer(no_args_is_help=True, help="Evaluate corpora and the narrative detectors.")


_FORMATS = (".parquet", ".csv", ".json")


def _check_format(*paths: Path | None) -> None:
    """Fail before any work is done when an output has an unknown extension."""
    for p in paths:
        if p is not None and p.suffix not in _FORMATS:
            raise typer.BadParameter(f"unknown output format {p.suffix!r} for {p}: use .parquet, .csv or .json")


def _write(df, out: Path) -> None:
    """Write a table by extension (.parquet, .csv, .json), atomically."""
    from .eval.evaluate import atomic_path  # lazy: keeps this module's import light

    writers = {".parquet": lambda p: df.to_parquet(p, index=False), ".csv": lambda p: df.to_csv(p, index=False),
               ".json": lambda p: df.to_json(p, orient="records", indent=1)}
    _check_format(out)
    with atomic_path(out) as tmp:
        writers[out.suffix](tmp)


def _voice_option():
    return typer.Option(None, "--voice-model", help="Model that also scores unusual lines for voice drift "
                        "(default as sl.analyze: none, the lexical check only; 'bundled': the bundled model, slower).")


@eval_app.command("run")
def run_cmd(
    corpus: str = typer.Argument(..., help="Folder of texts, a text file, a dataset name, or 'datasets'."),
    out: Path = typer.Option(Path("results.parquet"), "--out", help="Results table (.parquet, .csv, .json)."),
    backend: str = typer.Option("local", help="local | processes | dask"),
    scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address (default: a LocalCluster)."),
    workers: Optional[int] = typer.Option(None, help="Workers for processes / a local Dask cluster."),
    cache: Optional[Path] = typer.Option(None, help="Cache folder: finished works are not redone."),
    system: Optional[List[str]] = typer.Option(None, "--system", help="Narrative system to run (repeatable)."),
    story_only: bool = typer.Option(False, help="Story tables only, no narrative systems."),
    insights: Optional[Path] = typer.Option(None, help="Also write the long insights table here."),
    voice_model: Optional[str] = _voice_option(),
) -> None:
    """Evaluate every work of a corpus into one table (one row per work and per chapter)."""
    from .eval.evaluate import evaluate  # lazy: keeps this module's import light

    _check_format(out, insights)
    systems = [] if story_only else (list(system) if system else None)
    res, ins = evaluate(corpus, systems=systems, backend=backend, scheduler=scheduler, n_workers=workers,
                        cache=cache, return_insights=True, voice_model=voice_model)
    _write(res, out)
    if insights is not None:
        _write(ins, insights)
    works = res[res["level"] == "work"]
    bad = works[works["status"] != "ok"]
    typer.echo(f"{len(works)} works ({len(bad)} with errors) -> {out}")
    for row in bad.itertuples():
        typer.echo(f"  {row.work_id}: {row.error}", err=True)


@eval_app.command("perturb")
def perturb_cmd(
    trials: int = typer.Option(4, help="Injections per kind and text."),
    words: int = typer.Option(10000, help="Excerpt size in words."),
    seed: List[int] = typer.Option([0], "--seed", help="Seed of the injections (repeatable)."),
    dataset: Optional[List[str]] = typer.Option(None, "--dataset", help="Dataset name (repeatable; default all)."),
    voice_model: Optional[str] = _voice_option(),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the table (.csv, .parquet, .json)."),
) -> None:
    """Perturbation benchmark: recall per flaw kind, false alarms per 10k clean words."""
    from .eval.perturb import benchmark  # lazy: keeps this module's import light

    _check_format(out)
    table = benchmark(dataset or None, trials=trials, excerpt_words=words, seed=seed, voice_model=voice_model)
    typer.echo(table.to_string())
    if out is not None:
        _write(table, out)


@eval_app.command("continuation")
def continuation_cmd(
    corpus: str = typer.Argument("datasets"),
    model: Optional[str] = typer.Option(None, help="Model id or path (default: the bundled model)."),
    prompts: int = typer.Option(3, help="Passages per work."),
    candidates: int = typer.Option(3, help="Candidates of the stabilized condition."),
    max_tokens: int = typer.Option(80),
    seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, "--out", help="Tidy results (.parquet, .csv, .json)."),
) -> None:
    """The narrative on/off experiment: continuations with context off, on, and stabilized."""
    from .experiments import continuation  # lazy: keeps this module's import light

    _check_format(out)
    res = continuation(corpus, model, n_prompts=prompts, n_candidates=candidates, max_tokens=max_tokens,
                       seed=seed)
    typer.echo(res.summary.to_string())
    if out is not None:
        _write(res.results, out)
