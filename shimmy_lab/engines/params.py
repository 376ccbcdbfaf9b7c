"""Sampling parameters shared by every engine, validated once.

The names and ranges follow the OpenAI API so that the server can pass a request's
fields straight through; a few llama.cpp extras (``top_k``, ``repeat_penalty``,
``min_p``) are accepted too.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import InvalidParameterError
from . import tools

__all__ = ["GenerationParams"]


def _number(name: str, value: Any, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a number, got {type(value).__name__}.", param=name)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidParameterError(f"{name} must be between {lo} and {hi}, got {value}.", param=name)
    return float(value)


def _integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(f"{name} must be an integer, got {value!r}.", param=name)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise InvalidParameterError(f"{name} must be {bounds}, got {value}.", param=name)
    return int(value)


@dataclass
class GenerationParams:
    """Validated generation settings.

    Parameters
    ----------
    max_tokens : int, optional
        Upper bound on generated tokens; ``None`` means "until the context is full".
    temperature : float
        0 gives greedy decoding. Range [0, 2].
    top_p, top_k, min_p : float, int, float
        Nucleus, top-k and min-p filtering (top_k=0 disables it).
    stop : list of str
        Up to 4 stop sequences; the text stops before the first match.
    seed : int, optional
        Seed for sampling; the same seed and settings give the same text.
    n : int
        Number of choices.
    presence_penalty, frequency_penalty : float
        OpenAI penalties in [-2, 2].
    repeat_penalty : float
        llama.cpp-style multiplicative repetition penalty (1 = off).
    logit_bias : dict of int to float
        Added to the logits of the given token ids, in [-100, 100].
    logprobs : bool
        Return the log-probability of each generated token.
    top_logprobs : int, optional
        With ``logprobs``, also return this many alternatives per position (0-20).
    response_format : dict, optional
        ``{"type": "text" | "json_object" | "json_schema", "json_schema": {...}}``.
    tools : list of dict, optional
        Function tools (OpenAI chat shape, see :func:`~shimmy_lab.engines.tools.check_tools`);
        normalised, and ``None`` when ``tool_choice`` is ``"none"``.
    tool_choice : str or dict, optional
        ``none``, ``auto`` (default with tools), ``required``, a named function or
        ``allowed_tools`` (see :func:`~shimmy_lab.engines.tools.check_tool_choice`).
    parallel_tool_calls : bool
        Allow several calls in one answer.
    grammar : str, optional
        A GBNF grammar (llama.cpp's syntax) the generated text must follow; engines with
        ``supports_tools`` apply it (their tool calls are generated this way).
    """

    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    n: int = 1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repeat_penalty: float = 1.0
    logit_bias: dict[int, float] = field(default_factory=dict)
    logprobs: bool = False
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool = True
    grammar: str | None = None

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            self.max_tokens = _integer("max_tokens", self.max_tokens, 1)
        self.temperature = _number("temperature", self.temperature, 0, 2)
        self.top_p = _number("top_p", self.top_p, 0, 1)
        self.top_k = _integer("top_k", self.top_k, 0)
        self.min_p = _number("min_p", self.min_p, 0, 1)
        self.stop = self._check_stop(self.stop)
        if self.seed is not None:
            self.seed = _integer("seed", self.seed)
        self.n = _integer("n", self.n, 1, 128)
        self.presence_penalty = _number("presence_penalty", self.presence_penalty, -2, 2)
        self.frequency_penalty = _number("frequency_penalty", self.frequency_penalty, -2, 2)
        self.repeat_penalty = _number("repeat_penalty", self.repeat_penalty, 0, None)
        self.logit_bias = self._check_logit_bias(self.logit_bias)
        if not isinstance(self.logprobs, bool):
            raise InvalidParameterError("logprobs must be a boolean.", param="logprobs")
        if self.top_logprobs is not None:
            self.top_logprobs = _integer("top_logprobs", self.top_logprobs, 0, 20)
            if self.top_logprobs and not self.logprobs:
                raise InvalidParameterError(
                    "top_logprobs requires logprobs to be true.", param="top_logprobs"
                )
        self.response_format = self._check_response_format(self.response_format)
        self._check_tools()
        if self.grammar is not None and (not isinstance(self.grammar, str) or not self.grammar.strip()):
            raise InvalidParameterError("grammar must be a non-empty GBNF grammar string.", param="grammar")

    def _check_tools(self) -> None:
        specs = tools.check_tools(self.tools)
        choice = tools.check_tool_choice(self.tool_choice, specs)
        if not isinstance(self.parallel_tool_calls, bool):
            raise InvalidParameterError("parallel_tool_calls must be a boolean.", param="parallel_tool_calls")
        if choice.mode == "none":  # nothing may be called: the request is a plain chat
            self.tools, self.tool_choice = None, None
            return
        if self.response_format is not None:
            raise InvalidParameterError("response_format cannot be combined with tools that may be called.",
                                        param="response_format")
        self.tools = [t.to_openai() for t in specs]

    def tool_spec(self) -> "tuple[list[Any], Any] | None":
        """``(tools, choice)`` (:class:`~shimmy_lab.engines.tools.Tool` list and
        :class:`~shimmy_lab.engines.tools.ToolChoice`) when functions may be called, else None."""
        if not self.tools:
            return None

        specs = tools.check_tools(self.tools)
        return specs, tools.check_tool_choice(self.tool_choice, specs)

    @staticmethod
    def _check_stop(stop: Any) -> list[str]:
        if stop is None:
            return []
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
            raise InvalidParameterError("stop must be a string or a list of strings.", param="stop")
        if len(stop) > 4:
            raise InvalidParameterError("stop may hold at most 4 sequences.", param="stop")
        return [s for s in stop if s]

    @staticmethod
    def _check_logit_bias(bias: Any) -> dict[int, float]:
        if bias is None:
            return {}
        if not isinstance(bias, Mapping):
            raise InvalidParameterError("logit_bias must map token ids to numbers.", param="logit_bias")
        out = {}
        for key, value in bias.items():
            try:
                token = int(key)
            except (TypeError, ValueError):
                raise InvalidParameterError(
                    f"logit_bias keys must be token ids, got {key!r}.", param="logit_bias"
                ) from None
            out[token] = _number("logit_bias", value, -100, 100)
        return out

    @staticmethod
    def _check_response_format(fmt: Any) -> dict[str, Any] | None:
        if fmt is None:
            return None
        if not isinstance(fmt, Mapping) or fmt.get("type") not in ("text", "json_object", "json_schema"):
            raise InvalidParameterError(
                "response_format.type must be 'text', 'json_object' or 'json_schema'.",
                param="response_format",
            )
        fmt = dict(fmt)
        if fmt["type"] == "text":
            return None
        if fmt["type"] == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, Mapping) or not isinstance(spec.get("schema", {}), Mapping):
                raise InvalidParameterError(
                    "response_format.json_schema must be an object with a 'schema'.",
                    param="response_format",
                )
        return fmt

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> "GenerationParams":
        """Build from keyword arguments, rejecting unknown names.

        ``max_completion_tokens`` is accepted as an alias of ``max_tokens``.
        """
        if "max_completion_tokens" in kwargs:
            value = kwargs.pop("max_completion_tokens")
            if value is not None:
                kwargs["max_tokens"] = value
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise InvalidParameterError(
                f"Unknown generation parameter(s): {', '.join(unknown)}.", param=unknown[0]
            )
        return cls(**{k: v for k, v in kwargs.items() if v is not None or k in ("max_tokens", "seed")})

    @property
    def greedy(self) -> bool:
        """True when decoding is deterministic (temperature 0)."""
        return self.temperature == 0.0

    def json_schema(self) -> dict[str, Any] | None:
        """The JSON schema the output must follow, ``{}`` for any JSON object, or None."""
        fmt = self.response_format
        if fmt is None:
            return None
        if fmt["type"] == "json_object":
            return {"type": "object"}
        return dict(fmt.get("json_schema", {}).get("schema") or {"type": "object"})
