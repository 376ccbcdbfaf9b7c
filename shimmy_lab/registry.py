"""Model discovery: GGUF files, Hugging Face and safetensors directories on disk.

Searched, in order: the bundled model (always listed), ``./models``, every folder in
the settings' ``model_paths`` (``SHIMMY_MODEL_PATHS``, ``os.pathsep``-separated), the
Hugging Face hub cache (``HF_HUB_CACHE``, as the hub reads it),
Ollama's manifests (``~/.ollama/models``) and LM Studio folders. Nothing is
downloaded: a model is whatever is already on disk.

The registry does not know file types: it walks the folders and asks each engine class
(:func:`shimmy_lab.engines.engine_classes`, built-in then installed ones) whether it
opens a file or folder (``guess_can_open``) and what to list about it (``describe``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .engines import Engine, engine_classes
from .engines.files import BUNDLED_ID, bundled_model_path
from .errors import ModelNotFoundError
from .settings import Settings, foreign_env

__all__ = ["ModelEntry", "BUNDLED_ID", "bundled_model_path", "discover", "resolve", "search_paths"]

_MAX_DEPTH = 4

#: ``(name, class)`` of the engines asked, in order.
_Engines = list[tuple[str, type[Engine]]]


@dataclass(frozen=True)
class ModelEntry:
    """One model found on disk (a row of :func:`shimmy_lab.models`)."""

    id: str
    engine: str
    format: str
    path: str
    size_bytes: int
    context_length: int | None
    quantization: str | None
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


def search_paths() -> list[tuple[str, Path]]:
    """``(source, folder)`` pairs searched for models, existing or not."""
    home = Path.home()
    paths: list[tuple[str, Path]] = [("local", Path.cwd() / "models")]
    paths += [("env", p) for p in Settings.load().model_paths]  # SHIMMY_MODEL_PATHS, shimmy.toml
    hf_home = Path(foreign_env("HF_HOME") or home / ".cache" / "huggingface")
    paths.append(("huggingface", Path(foreign_env("HF_HUB_CACHE") or hf_home / "hub")))
    paths.append(("ollama", Path(foreign_env("OLLAMA_MODELS") or home / ".ollama" / "models")))
    paths.append(("lmstudio", home / ".lmstudio" / "models"))
    paths.append(("lmstudio", home / ".cache" / "lm-studio" / "models"))
    return paths


def _entry(path: Path, source: str, engines: _Engines, id: str | None = None) -> ModelEntry | None:
    """The entry of a model file or folder from the first engine that opens it (None if none does)."""
    for name, cls in engines:
        if not cls.guess_can_open(path):
            continue
        try:
            info = cls.describe(path)
        except (OSError, ValueError):  # unreadable: not a model
            continue
        return ModelEntry(id or info.get("id") or path.name, name, info.get("format") or name, str(path),
                          int(info.get("size_bytes") or 0), info.get("context_length"), info.get("quantization"),
                          source)
    return None


def _scan(folder: Path, source: str, engines: _Engines, depth: int = 0) -> Iterator[ModelEntry]:
    """A folder an engine opens is one model; otherwise its files and (not hidden) subfolders."""
    if depth > _MAX_DEPTH or not folder.is_dir():
        return
    entry = _entry(folder, source, engines)
    if entry:
        yield entry
        return
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return
    for child in children:
        if child.is_file():
            entry = _entry(child, source, engines)
            if entry:
                yield entry
        elif child.is_dir() and not child.name.startswith("."):
            yield from _scan(child, source, engines, depth + 1)


def _scan_hf_cache(folder: Path, engines: _Engines) -> Iterator[ModelEntry]:
    """The newest snapshot of each ``models--org--name`` repository: the folder, then its files."""
    for repo in sorted(folder.glob("models--*")):
        repo_id = repo.name[len("models--"):].replace("--", "/")
        snapshots = sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for snap in (s for s in snapshots[:1] if s.is_dir()):
            entry = _entry(snap, "huggingface", engines, id=repo_id)
            if entry:
                yield entry
            for file in sorted(p for p in snap.iterdir() if p.is_file()):
                entry = _entry(file, "huggingface", engines, id=f"{repo_id}/{file.stem}")
                if entry:
                    yield entry


def _scan_ollama(folder: Path, engines: _Engines) -> Iterator[ModelEntry]:
    """The model layer of every manifest, named ``name:tag``."""
    manifests = folder / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        try:
            layers = json.loads(manifest.read_text()).get("layers", [])
        except (OSError, ValueError):
            continue
        for layer in layers:
            if layer.get("mediaType") == "application/vnd.ollama.image.model":
                blob = folder / "blobs" / layer["digest"].replace(":", "-")
                entry = _entry(blob, "ollama", engines, id=f"{manifest.parent.name}:{manifest.name}")
                if entry:
                    yield entry


def discover(paths: Iterable[tuple[str, Path]] | None = None) -> list[ModelEntry]:
    """Every model found on disk, the bundled one first; ids are made unique.

    Parameters
    ----------
    paths : iterable of (source, folder), optional
        Folders to search instead of :func:`search_paths`.
    """
    engines = engine_classes(refresh=True)
    found: list[ModelEntry] = []
    bundled = _entry(bundled_model_path(), "bundled", engines, id=BUNDLED_ID)
    if bundled:
        found.append(bundled)
    for source, folder in (search_paths() if paths is None else paths):
        if source == "huggingface":
            found.extend(_scan_hf_cache(folder, engines))
        elif source == "ollama":
            found.extend(_scan_ollama(folder, engines))
        else:
            found.extend(_scan(folder, source, engines))
    seen_paths: set[str] = set()
    ids: set[str] = set()
    unique = []
    for entry in found:
        if entry.path in seen_paths:
            continue
        seen_paths.add(entry.path)
        new_id, k = entry.id, 2
        while new_id in ids:
            new_id, k = f"{entry.id}-{k}", k + 1
        ids.add(new_id)
        unique.append(entry if new_id == entry.id else ModelEntry(**{**entry.to_dict(), "id": new_id}))
    return unique


def resolve(model: str | Path | None, entries: list[ModelEntry] | None = None) -> ModelEntry:
    """Find a model by id or path (``None`` is the bundled model).

    Raises
    ------
    ModelNotFoundError
        Listing the known ids.
    """
    if model is None:
        model = BUNDLED_ID
    path = Path(str(model)).expanduser()
    if path.exists():
        entry = _entry(path.resolve(), "path", engine_classes())
        if entry:
            return entry
    entries = discover() if entries is None else entries
    for entry in entries:
        if entry.id == str(model):
            return entry
    raise ModelNotFoundError(str(model), [e.id for e in entries])
