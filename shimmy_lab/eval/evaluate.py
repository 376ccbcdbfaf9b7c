"""Batch evaluation of a corpus: one row per work and per chapter, on one machine or a
Dask cluster, resumable from a cache folder.

>>> results = sl.evaluate("datasets", backend="dask", cache="results/")   # doctest: +SKIP
>>> results, insights = sl.evaluate(corpus, return_insights=True)          # doctest: +SKIP

Each work is one task: read the text, build the :class:`~shimmy_lab.Story`, run the
narrative systems, summarise every table into metrics. A task never raises: a broken
text gives a row with ``status="error"`` and the reason, and the run goes on. With a
``cache`` folder every finished work is written at once (atomically) under a key made
of its text checksum and the parameters, so a rerun skips it and a crash loses at most
the works in progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from ..cores import usable_cores
from ..settings import one_compute_thread
from .._version import __version__
from ..story import Story
from .corpus import Work, as_works, checksum, read_work_text

__all__ = ["evaluate", "evaluate_work", "summarize"]

BACKENDS = ("local", "processes", "dask")


def _params_key(systems: Sequence[str] | None, voice_model: str = "none") -> tuple[dict[str, Any], str]:
    params = {"systems": sorted(systems) if systems is not None else None, "version": __version__,
              "voice_model": voice_model}
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return params, key


def _stat(series: pd.Series, fn: str) -> float:
    s = pd.to_numeric(series, errors="coerce").dropna()
    return float(getattr(s, fn)()) if len(s) else float("nan")


def summarize(story: Any, chapter: int | None = None) -> dict[str, Any]:
    """Summary metrics of a story (or of one chapter of it) from its tables.

    Story tables give the counts (words, chapters, quotes, quote share, attributed
    share, characters, facts); tracker tables, where the systems ran, add open threads
    (CAPR set-ups not yet answered), the freedom score, echoes and recursion density,
    tension statistics (over scenes) and insight counts by kind. A chapter's rows are
    the rows of its ``chapter`` column, or those whose span starts inside it.
    """
    t = story.tables
    if chapter is None:
        lo, hi = 0, len(story.text)
    else:
        row = t["chapters"][t["chapters"]["chapter"] == chapter].iloc[0]
        lo, hi = int(row["start"]), int(row["end"])

    def sub(name: str) -> pd.DataFrame:
        df = t.get(name)
        if df is None or chapter is None or not len(df):
            return df if df is not None else pd.DataFrame()
        if "chapter" in df.columns:
            return df[df["chapter"] == chapter]
        return df[(df["start"] >= lo) & (df["start"] < hi)]

    text = story.text[lo:hi]
    quotes = sub("quotes")
    quote_chars = int((quotes["end"] - quotes["start"]).sum()) if len(quotes) else 0
    mentions = sub("mentions")
    out: dict[str, Any] = {
        "words": len(text.split()),
        "chars": len(text),
        "chapters": len(t["chapters"]) if chapter is None else 1,
        "scenes": len(sub("scenes")),
        "sentences": len(sub("sentences")),
        "quotes": len(quotes),
        "quote_share": quote_chars / max(len(text), 1),
        "attributed_share": float(quotes["speaker"].notna().mean()) if len(quotes) else float("nan"),
        "facts": len(sub("facts")),
        "characters": len(t["characters"]) if chapter is None else (
            int(mentions["character_id"].nunique()) if len(mentions) else 0),
    }
    dna = sub("dna")
    if "dna" in t:
        setups = dna[dna["kind"].isin(["contradiction", "pressure"])] if len(dna) else dna
        out["capr_units"] = len(dna)
        out["open_threads"] = int(setups["answered_by"].isna().sum()) if len(setups) else 0
    freedom = t.get("freedom")
    if freedom is not None and len(freedom):
        row = freedom.iloc[-1] if chapter is None else freedom[freedom["chapter"] == chapter]
        row = row if isinstance(row, pd.Series) else (row.iloc[0] if len(row) else None)
        if row is not None:
            out["freedom_score"] = float(row["freedom"])
            out["threads_open_at_end"] = int(row["open_threads"])
    eng = sub("engagement")
    if len(eng) and "tension" in eng.columns:
        scenes = eng[eng["level"] == "scene"] if "level" in eng.columns else eng
        out["tension_mean"] = _stat(scenes["tension"], "mean")
        out["tension_max"] = _stat(scenes["tension"], "max")
        out["tension_std"] = _stat(scenes["tension"], "std")
    if "echoes" in t:
        out["echoes"] = len(sub("echoes"))
        out["recursion_density"] = out["echoes"] / max(out["words"] / 1000, 1e-9)
    ins = t.get("insights")
    if ins is not None:
        ins = ins if chapter is None or not len(ins) else ins[(ins["start"] >= lo) & (ins["start"] < hi)]
        out["insights"] = len(ins)
        for kind, n in ins["kind"].value_counts().items() if len(ins) else []:
            out[f"insights_{kind}"] = int(n)
    return out


def evaluate_work(work: Work, systems: Sequence[str] | None = None,
                  analyzer: Callable[..., Any] | None = None,
                  voice_model: str = "none") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Evaluate one work; never raises.

    ``voice_model`` is the resolved model id of the ``voice_drift`` check (``"none"``
    for the lexical stage), given to the default analyzer and recorded in ``params``.

    Returns
    -------
    rows : list of dict
        One ``level="work"`` row then one ``level="chapter"`` row per chapter (or a
        single ``status="error"`` row).
    insights : list of dict
        The story's insights with ``work_id`` added.
    """
    params, _ = _params_key(systems, voice_model)
    base = {"work_id": work.work_id, "title": work.title, "version": __version__,
            "params": json.dumps(params, sort_keys=True)}
    t0 = time.perf_counter()
    try:
        text = read_work_text(work)
        base["checksum"] = checksum(text)
        story = (analyzer(text, title=work.title, systems=systems) if analyzer is not None
                 else _default_analyzer(text, work.title, systems, voice_model))
        rows = [{**base, "level": "work", "chapter": pd.NA, "status": "ok", "error": None, **summarize(story)}]
        for ch in story.tables["chapters"]["chapter"].tolist():
            rows.append({**base, "level": "chapter", "chapter": int(ch), "status": "ok", "error": None,
                         **summarize(story, chapter=int(ch))})
        ins = story.tables.get("insights")
        insights = [] if ins is None else [{"work_id": work.work_id, **r} for r in ins.to_dict("records")]
    except Exception as exc:  # a broken work is a row, not a failed run
        rows = [{**base, "level": "work", "chapter": pd.NA, "status": "error",
                 "error": f"{type(exc).__name__}: {exc}"}]
        insights = []
    rows[0]["seconds"] = time.perf_counter() - t0
    return rows, insights


def _default_analyzer(text: str, title: str | None, systems: Sequence[str] | None,
                      voice_model: str = "none"):
    story = Story.from_text(text, title=title)
    if systems is None or list(systems):
        from ..assistant import analyze  # lazy: keeps this module's import light

        story = analyze(story, systems=systems, voice_model=voice_model)
    return story


def _voice_model_id(voice_model: Any) -> str:
    """The voice model as workers get it: a model id, or ``"none"``."""
    from ..assistant import resolve_voice_model  # lazy: keeps this module's import light

    vm = resolve_voice_model(voice_model)
    if vm is None:
        return "none"
    if not isinstance(vm, str):
        raise TypeError(f"voice_model must be a model id, 'bundled' or 'none' (workers load it), "
                        f"not {type(vm).__name__}")
    return vm


def _cache_path(cache: Path, work: Work, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in work.work_id)
    return cache / f"{safe}-{key}.parquet"


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically,
    on error it is removed (no half-written file is ever left at ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_atomic(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp)


def _frames(rows: list[dict], insights: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = pd.DataFrame(rows)
    ins = pd.DataFrame(insights)
    for col in ins.columns:  # list-valued columns (characters) as JSON so Parquet keeps them simply
        if ins[col].map(lambda v: isinstance(v, (list, tuple))).any():
            ins[col] = ins[col].map(lambda v: json.dumps(list(v)) if isinstance(v, (list, tuple)) else v)
    return df, ins


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # lazy: tqdm.auto loads ipywidgets in a notebook

    return tqdm(total=total, desc="evaluate", unit="work")




def _run(todo: list[Work], systems, backend: str, scheduler: str | None, n_workers: int | None,
         on_done: Callable[[Work, list, list], None], voice_model: str = "none") -> None:
    if backend == "local":
        for w in todo:
            on_done(w, *evaluate_work(w, systems, voice_model=voice_model))
    elif backend == "processes":
        # local: dask's as_completed below shares the name
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=n_workers or usable_cores(), initializer=one_compute_thread) as pool:
            futures = {pool.submit(evaluate_work, w, systems, voice_model=voice_model): w for w in todo}
            for fut in as_completed(futures):
                on_done(futures[fut], *fut.result())
    else:
        from dask.distributed import Client, LocalCluster, as_completed  # optional extra [dask]

        cluster = None
        if scheduler is None:
            cluster = LocalCluster(n_workers=n_workers or usable_cores(), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
        client = Client(scheduler or cluster)
        try:
            futures = {client.submit(evaluate_work, w, systems, voice_model=voice_model, pure=False): w
                       for w in todo}
            for fut in as_completed(futures):
                on_done(futures[fut], *fut.result())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _from_cache(works: list[Work], cache: Path | None,
                key: str) -> tuple[dict[str, tuple[pd.DataFrame, pd.DataFrame]], list[Work]]:
    """The works already in ``cache`` (work id -> (rows, insights)) and those to do."""
    done: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    todo = []
    for w in works:
        path = cache and _cache_path(cache, w, key)
        if path and path.exists():
            df = pd.read_parquet(path)
            ins_path = path.with_suffix(".insights.parquet")
            done[w.work_id] = (df, pd.read_parquet(ins_path) if ins_path.exists() else pd.DataFrame())
        else:
            todo.append(w)
    return done, todo


def _saver(cache: Path | None, key: str, done: dict, bar: Any) -> Callable[..., None]:
    """The callback of a finished work: its frames into ``done`` (and ``cache`` when it
    succeeded), one step of the progress bar."""
    def on_done(work: Work, rows: list, insights: list) -> None:
        df, ins = _frames(rows, insights)
        if cache is not None and rows[0]["status"] == "ok":
            path = _cache_path(cache, work, key)
            if len(ins):
                _write_atomic(ins, path.with_suffix(".insights.parquet"))
            _write_atomic(df, path)  # written last: its presence marks the work as done
        done[work.work_id] = (df, ins)
        if bar is not None:
            bar.update(1)
    return on_done


def _results(works: list[Work], done: dict, return_insights: bool):
    """The rows of the works in corpus order (and their insights with ``return_insights``)."""
    order = [w.work_id for w in works if w.work_id in done]
    results = pd.concat([done[k][0] for k in order], ignore_index=True) if order else pd.DataFrame()
    if "chapter" in results.columns:
        results["chapter"] = results["chapter"].astype("Int64")
    if not return_insights:
        return results
    frames = [done[k][1] for k in order if len(done[k][1])]
    return results, (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())


def evaluate(corpus: Any, systems: Sequence[str] | None = None, backend: str = "local", *,
             cache: str | Path | None = None, scheduler: str | None = None, n_workers: int | None = None,
             progress: bool = True, return_insights: bool = False, text_column: str = "text",
             voice_model: str | None = None):
    """Evaluate every work of a corpus.

    Parameters
    ----------
    corpus : folder, list of paths, dataset name, ``"datasets"`` or DataFrame
        See :func:`shimmy_lab.eval.corpus.as_works`.
    systems : list of str, optional
        Narrative systems to run (default: all enabled; ``[]`` for the Story tables only).
    backend : {"local", "processes", "dask"}
        ``"dask"`` uses ``dask.distributed``: a ``LocalCluster`` by default, or the
        scheduler at ``scheduler`` (e.g. ``"tcp://10.0.0.5:8786"``); one task per work.
    cache : folder, optional
        Finished works are stored here and not redone on the next run.
    n_workers : int, optional
        Workers for ``processes`` and a local Dask cluster (default: CPU count).
    progress : bool
        Show a (notebook-aware) progress bar.
    return_insights : bool
        Also return the long table of every work's insights.
    voice_model : str, optional
        Model of the ``voice_drift`` check, resolved as in :func:`shimmy_lab.analyze`
        (default the lexical stage only; ``"bundled"`` for the bundled model's stage too).  Each
        worker loads it once; it is part of the cache key.

    Returns
    -------
    DataFrame, or (DataFrame, DataFrame) with ``return_insights``
        One row per work (``level="work"``) and per chapter (``level="chapter"``),
        with metrics, ``status``/``error`` and provenance (``version``, ``params``,
        ``checksum``).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    works = as_works(corpus, text_column=text_column)
    vm = _voice_model_id(voice_model)
    _, key = _params_key(systems, vm)
    cache = Path(cache) if cache is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    done, todo = _from_cache(works, cache, key)
    bar = _progress(len(works), progress)
    if bar is not None:
        bar.update(len(done))
    try:
        _run(todo, systems, backend, scheduler, n_workers, _saver(cache, key, done, bar), vm)
    finally:
        if bar is not None:
            bar.close()
    return _results(works, done, return_insights)
