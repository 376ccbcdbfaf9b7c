"""A small pure-torch Llama: RMSNorm, RoPE, grouped-query attention with a KV cache,
SwiGLU MLP and (optionally) tied embeddings.

It reads a Hugging Face style ``config.json`` and the weights of ``*.safetensors``
files itself, with the Hugging Face parameter names (``model.layers.0.self_attn.q_proj.weight``
...), so a directory written by ``save_pretrained`` or :func:`shimmy_lab.convert`
loads as is. No transformers modeling code is used. The arithmetic follows the
reference implementation step by step (float32 RMSNorm, ``cat(freqs, freqs)`` RoPE,
SDPA with ``enable_gqa``) so that greedy decoding gives the same tokens.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from ..errors import UnsupportedModelError

__all__ = ["LlamaConfig", "Llama", "KVCache", "UnsupportedModelError", "load_llama"]

SUPPORTED_TYPES = ("llama", "mistral", "qwen2")


@dataclass(frozen=True)
class LlamaConfig:
    """The subset of a Hugging Face ``config.json`` that defines a Llama model."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: Mapping[str, Any] | None = None
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    model_type: str = "llama"

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> "LlamaConfig":
        """Build from a parsed ``config.json``.

        Raises
        ------
        UnsupportedModelError
            For another architecture, activation or RoPE scaling type.
        """
        model_type = cfg.get("model_type", "llama")
        if model_type not in SUPPORTED_TYPES:
            raise UnsupportedModelError(
                f"The safetensors engine runs Llama-architecture models ({', '.join(SUPPORTED_TYPES)}); "
                f"this one is {model_type!r}. Use engine='transformers'."
            )
        act = cfg.get("hidden_act", "silu")
        if act not in ("silu", "swish"):
            raise UnsupportedModelError(f"Activation {act!r} is not supported (only silu).")
        rope = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
        theta = cfg.get("rope_theta", rope.get("rope_theta", 10000.0))
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type not in ("default", "linear", "llama3"):
            raise UnsupportedModelError(f"RoPE type {rope_type!r} is not supported (default, linear, llama3).")
        heads = int(cfg["num_attention_heads"])
        return cls(
            vocab_size=int(cfg["vocab_size"]),
            hidden_size=int(cfg["hidden_size"]),
            intermediate_size=int(cfg["intermediate_size"]),
            num_hidden_layers=int(cfg["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or cfg["hidden_size"] // heads),
            rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
            rope_theta=float(theta),
            rope_scaling={**rope, "rope_type": rope_type} if rope_type != "default" else None,
            max_position_embeddings=int(cfg.get("max_position_embeddings", 2048)),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            model_type=model_type,
        )


def rope_inv_freq(cfg: LlamaConfig) -> torch.Tensor:
    """Inverse frequencies of the rotary embedding (with linear / llama3 scaling)."""
    dim = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
    scaling = cfg.rope_scaling or {}
    if scaling.get("rope_type") == "linear":
        inv_freq = inv_freq / float(scaling["factor"])
    elif scaling.get("rope_type") == "llama3":
        factor = float(scaling["factor"])
        low, high = float(scaling.get("low_freq_factor", 1.0)), float(scaling.get("high_freq_factor", 4.0))
        old_ctx = float(scaling.get("original_max_position_embeddings", 8192))
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > old_ctx / low, inv_freq / factor, inv_freq)
        smooth = (old_ctx / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old_ctx / high) & ~(wavelen > old_ctx / low)
        inv_freq = torch.where(medium, smoothed, scaled)
    return inv_freq


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class RMSNorm(nn.Module):
    """Root-mean-square layer norm, computed in float32."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class KVCache:
    """Keys and values of every layer, preallocated and grown by doubling.

    ``pos`` is the number of positions already stored.
    """

    def __init__(self, cfg: LlamaConfig, capacity: int, dtype: torch.dtype):
        self.cfg, self.dtype, self.pos = cfg, dtype, 0
        self.k = self.v = torch.empty(0)
        self._alloc(max(capacity, 1))

    def _alloc(self, capacity: int) -> None:
        c = self.cfg
        shape = (c.num_hidden_layers, 1, c.num_key_value_heads, capacity, c.head_dim)
        k, v = torch.empty(shape, dtype=self.dtype), torch.empty(shape, dtype=self.dtype)
        if self.pos:
            k[..., : self.pos, :] = self.k[..., : self.pos, :]
            v[..., : self.pos, :] = self.v[..., : self.pos, :]
        self.k, self.v = k, v

    def reserve(self, n_new: int) -> None:
        """Make room for ``n_new`` more positions."""
        need = self.pos + n_new
        if need > self.k.shape[3]:
            self._alloc(max(need, 2 * self.k.shape[3]))

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k``/``v`` (``1, heads, T, dim``) after ``pos``; return all keys/values so far."""
        end = self.pos + k.shape[2]
        self.k[layer, :, :, self.pos:end] = k
        self.v[layer, :, :, self.pos:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig, bias: bool, o_bias: bool):
        super().__init__()
        h, kv, d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.heads, self.kv_heads, self.head_dim = h, kv, d
        self.q_proj = nn.Linear(cfg.hidden_size, h * d, bias=bias)
        self.k_proj = nn.Linear(cfg.hidden_size, kv * d, bias=bias)
        self.v_proj = nn.Linear(cfg.hidden_size, kv * d, bias=bias)
        self.o_proj = nn.Linear(h * d, cfg.hidden_size, bias=o_bias)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, layer: int,
                cache: KVCache | None) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        start = 0
        if cache is not None:
            start = cache.pos
            k, v = cache.update(layer, k, v)
        mask = None
        if t > 1 and start > 0:  # a chunk after cached positions: explicit causal mask
            mask = torch.ones(t, start + t, dtype=torch.bool).tril(diagonal=start)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, scale=self.head_dim ** -0.5, is_causal=(t > 1 and mask is None),
            enable_gqa=self.heads != self.kv_heads,
        )
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, cfg: LlamaConfig, bias: bool):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=bias)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=bias)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: LlamaConfig, attn_bias: tuple[bool, bool], mlp_bias: bool):
        super().__init__()
        self.self_attn = Attention(cfg, *attn_bias)
        self.mlp = MLP(cfg, mlp_bias)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, layer, cache):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, layer, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    def __init__(self, cfg: LlamaConfig, attn_bias: tuple[bool, bool], mlp_bias: bool):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg, attn_bias, mlp_bias) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class Llama(nn.Module):
    """Llama decoder with a language-model head.

    Parameters
    ----------
    cfg : LlamaConfig
    attn_bias : (bool, bool)
        Whether the q/k/v projections (Qwen2) and the output projection carry biases.
    mlp_bias : bool
        Whether the MLP projections carry biases.
    """

    def __init__(self, cfg: LlamaConfig, attn_bias: tuple[bool, bool] = (False, False), mlp_bias: bool = False):
        super().__init__()
        self.cfg = cfg
        self.model = Decoder(cfg, attn_bias, mlp_bias)
        self.lm_head = None if cfg.tie_word_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.register_buffer("inv_freq", rope_inv_freq(cfg), persistent=False)

    @property
    def dtype(self) -> torch.dtype:
        return self.model.embed_tokens.weight.dtype

    def new_cache(self, capacity: int) -> KVCache:
        return KVCache(self.cfg, capacity, self.dtype)

    def hidden(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Final (normed) hidden states of ``ids`` (``1, T``), continuing ``cache``."""
        start = cache.pos if cache is not None else 0
        if cache is not None:
            cache.reserve(ids.shape[1])
        x = self.model.embed_tokens(ids)
        pos = torch.arange(start, start + ids.shape[1], dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq.to(torch.float32)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, i, cache)
        if cache is not None:
            cache.pos += ids.shape[1]
        return self.model.norm(x)

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None, last: int = 1) -> torch.Tensor:
        """Logits of the last position (``vocab``) for ``ids`` (``1, T``); with ``last`` > 1,
        the logits of the last ``last`` positions (``last, vocab``)."""
        h = self.hidden(ids, cache)[:, -last:, :]
        weight = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        logits = F.linear(h, weight)[0]
        return logits[-1] if last == 1 else logits


def load_llama(path: str | Path, dtype: torch.dtype = torch.float32) -> tuple[Llama, dict[str, Any]]:
    """Load ``config.json`` and every ``*.safetensors`` file of a directory.

    Returns
    -------
    (Llama, dict)
        The model in eval mode and the raw config.

    Raises
    ------
    UnsupportedModelError
        If the files are missing, or the weights do not match the config.
    """
    path = Path(path)
    try:
        raw = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise UnsupportedModelError(f"Cannot read {path / 'config.json'}: {exc}") from exc
    cfg = LlamaConfig.from_dict(raw)
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise UnsupportedModelError(f"No *.safetensors file in {path}.")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    if cfg.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    attn_bias = ("model.layers.0.self_attn.q_proj.bias" in state, "model.layers.0.self_attn.o_proj.bias" in state)
    mlp_bias = "model.layers.0.mlp.gate_proj.bias" in state
    with torch.device("meta"):
        model = Llama(cfg, attn_bias, mlp_bias)
    state = {k: v.to(dtype) for k, v in state.items() if not k.endswith("rotary_emb.inv_freq")}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise UnsupportedModelError(f"The weights in {path} do not match its config.json: {exc}") from exc
    model.inv_freq = rope_inv_freq(cfg)
    return model.eval().requires_grad_(False), raw
