"""GGUF -> a plain Hugging Face directory (``config.json`` + ``model.safetensors`` + tokenizer).

The route is the simplest robust one: transformers reads the GGUF file (and
dequantizes its tensors), then the weights are written with ``safetensors`` and the
tokenizer with ``save_pretrained``. The result loads in the ``safetensors`` engine
(native torch), in the ``transformers`` engine and in any Hugging Face tool.

Output is written atomically: into a temporary directory next to ``out_dir``, renamed
into place only when complete, so a failure never leaves half-written output.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, ModelNotFoundError
from .files import bundled_model_path, read_gguf_header
from .sampling import torch_dtype

__all__ = ["convert", "load_gguf_model", "export_pretrained"]


def load_gguf_model(gguf_path: str | Path, dtype: str = "float32") -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` from a GGUF file with transformers, dequantized to ``dtype``.

    Dequantization is asked for explicitly: recent transformers versions otherwise keep
    the GGUF blocks packed when a matmul kernel is installed, and packed weights can
    neither be saved as plain safetensors nor compared with the native engine.

    Raises
    ------
    ModelNotFoundError
        If the file does not exist.
    """
    # optional extra [torch]
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(gguf_path).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(str(path))
    extra: dict[str, Any] = {"gguf_file": path.name}
    gguf_config = getattr(transformers, "GgufConfig", None)
    if gguf_config is not None and "dequantize" in inspect.signature(gguf_config).parameters:
        extra["quantization_config"] = gguf_config(dequantize=True)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), dtype=torch_dtype(dtype), **extra).eval()
    return model, tokenizer


def _special_tokens_map(tokenizer: Any) -> dict[str, str]:
    out = {}
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = getattr(tokenizer, name, None)
        if value:
            out[name] = str(value)
    return out


def _write_weights(model: Any, tmp: Path, target_dtype: Any) -> None:
    """``model.safetensors``: tied parameters are written once (under the embedding's name)."""
    from safetensors.torch import save_file  # heavy: torch, only for the torch engines

    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    state = {}
    for name, tensor in model.state_dict().items():
        if tied and name == "lm_head.weight":
            continue
        state[name] = tensor.detach().to(target_dtype).contiguous().clone()
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})


def _write_configs(model: Any, tmp: Path, target_dtype: Any) -> dict[str, Any]:
    """``config.json`` (an ordinary unquantized checkpoint now) and
    ``generation_config.json``; returns the config written."""
    cfg = model.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        cfg.pop(key, None)
    cfg["architectures"] = [type(model).__name__]
    cfg["dtype"] = str(target_dtype).replace("torch.", "")
    cfg.setdefault("rope_theta", (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0))
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    gen = getattr(model, "generation_config", None)
    gen_cfg = {k: v for k, v in (gen.to_dict() if gen is not None else {}).items() if v is not None}
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if gen_cfg.get(key) is None and cfg.get(key) is not None:
            gen_cfg[key] = cfg[key]
    (tmp / "generation_config.json").write_text(json.dumps(gen_cfg, indent=2, sort_keys=True) + "\n")
    return cfg


def _write_tokenizer(tokenizer: Any, tmp: Path, ctx: Any) -> None:
    """``tokenizer.json`` + ``tokenizer_config.json`` (with the chat template inline, as
    older readers and the safetensors engine expect) + ``special_tokens_map.json``."""
    tokenizer.save_pretrained(str(tmp))
    tok_cfg_path = tmp / "tokenizer_config.json"
    tok_cfg = json.loads(tok_cfg_path.read_text()) if tok_cfg_path.exists() else {}
    template = getattr(tokenizer, "chat_template", None)
    if template:
        tok_cfg["chat_template"] = template
    if ctx:
        tok_cfg["model_max_length"] = int(ctx)
    tok_cfg.pop("is_local", None)
    tok_cfg_path.write_text(json.dumps(tok_cfg, indent=2, sort_keys=True) + "\n")
    (tmp / "special_tokens_map.json").write_text(json.dumps(_special_tokens_map(tokenizer), indent=2) + "\n")
    if not (tmp / "tokenizer.json").exists():
        raise InvalidParameterError("The tokenizer has no fast form (tokenizer.json); cannot convert it.")


def _write_provenance(tmp: Path, cfg: dict[str, Any], provenance: dict[str, Any] | None) -> None:
    """``shimmy_convert.json``: tool, time, dtype, library versions, files, ``provenance``."""
    import torch  # heavy: torch, only for the torch engines

    info = {
        "tool": "shimmy_lab.convert",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dtype": cfg["dtype"],
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "files": sorted(p.name for p in tmp.iterdir()) + ["shimmy_convert.json"],
        **(provenance or {}),
    }
    (tmp / "shimmy_convert.json").write_text(json.dumps(info, indent=2) + "\n")


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` to ``out`` (an existing ``out`` is put back on failure)."""
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0o700
    for p in tmp.iterdir():
        os.chmod(p, 0o644)
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / "model")
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(old / "model", out)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def export_pretrained(model: Any, tokenizer: Any, out_dir: str | Path, *, dtype: str = "float32",
                      overwrite: bool = False, provenance: dict[str, Any] | None = None) -> Path:
    """Write a loaded transformers model and tokenizer as a safetensors directory, atomically.

    Parameters
    ----------
    model, tokenizer
        A transformers causal LM (unquantized weights) and its tokenizer.
    out_dir : path
        Destination directory (must not exist unless ``overwrite``).
    dtype : str
        Dtype of the written weights (``float32``, ``bfloat16``, ``float16``).
    overwrite : bool
        Replace an existing ``out_dir``.
    provenance : dict, optional
        Extra fields for ``shimmy_convert.json``.

    Returns
    -------
    Path
        ``out_dir``, resolved.
    """
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not overwrite:
        raise InvalidParameterError(
            f"{out} already exists; pass overwrite=True to replace it.", param="out_dir", code="output_exists"
        )
    target_dtype = torch_dtype(dtype)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        _write_weights(model, tmp, target_dtype)
        cfg = _write_configs(model, tmp, target_dtype)
        _write_tokenizer(tokenizer, tmp, cfg.get("max_position_embeddings"))
        _write_provenance(tmp, cfg, provenance)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def convert(gguf_path: str | Path | None = None, out_dir: str | Path = "models/smollm2-135m-instruct",
            *, dtype: str = "float32", overwrite: bool = False) -> Path:
    """Convert a GGUF file into a safetensors model directory.

    Parameters
    ----------
    gguf_path : path, optional
        The GGUF file; default the bundled SmolLM2-135M-Instruct (Q4_1).
    out_dir : path
        Destination directory, created atomically. Default
        ``models/smollm2-135m-instruct`` (found by the registry from the working directory).
    dtype : {"float32", "bfloat16", "float16"}
        Dtype of the written weights (quantized GGUF tensors are dequantized).
    overwrite : bool
        Replace ``out_dir`` if it exists; otherwise an existing ``out_dir`` is an error.

    Returns
    -------
    Path
        The written directory: ``config.json``, ``model.safetensors``, ``tokenizer.json``,
        ``tokenizer_config.json`` (with ``chat_template``), ``special_tokens_map.json``,
        ``generation_config.json`` and ``shimmy_convert.json`` (provenance).

    Raises
    ------
    ModelNotFoundError
        If the GGUF file does not exist.
    InvalidParameterError
        If ``out_dir`` exists and ``overwrite`` is false, or ``dtype`` is unknown.

    Examples
    --------
    >>> import shimmy_lab as sl
    >>> path = sl.convert(out_dir="models/smollm2")          # doctest: +SKIP
    >>> eng = sl.load_engine(path, engine="safetensors")      # doctest: +SKIP
    """
    src = Path(gguf_path).expanduser().resolve() if gguf_path is not None else bundled_model_path()
    if not src.is_file():
        raise ModelNotFoundError(str(src))
    torch_dtype(dtype)  # validate before the slow load
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not overwrite:
        raise InvalidParameterError(
            f"{out} already exists; pass overwrite=True to replace it.", param="out_dir", code="output_exists"
        )
    _, quant = read_gguf_header(src)
    model, tokenizer = load_gguf_model(src, dtype)
    provenance = {"source": str(src), "source_format": "gguf", "source_quantization": quant,
                  "source_size_bytes": src.stat().st_size}
    return export_pretrained(model, tokenizer, out, dtype=dtype, overwrite=overwrite, provenance=provenance)


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover
        return None
