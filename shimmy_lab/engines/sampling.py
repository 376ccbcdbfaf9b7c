"""Token sampling (and a few small helpers) shared by the two torch engines.

Both engines run the same loop (:func:`token_loop`) with the same :class:`Sampler`, so
that, on the same weights, they differ only by their forward pass: with
``temperature=0`` they must produce the same tokens.

Order of operations for one step, on the logits of the last position:

1. ``logit_bias`` is added (OpenAI semantics: -100 bans a token, +100 forces it).
2. ``repeat_penalty`` (llama.cpp semantics): over the last ``repeat_last_n`` tokens of
   prompt + completion, a positive logit is divided by the penalty, a negative one
   multiplied by it.
3. ``presence_penalty`` / ``frequency_penalty`` (OpenAI semantics): over the tokens
   generated so far, ``logit -= count * frequency + (count > 0) * presence``.
4. ``temperature == 0``: greedy argmax. Otherwise the logits are divided by the
   temperature, then ``top_k``, ``top_p`` (nucleus) and ``min_p`` filter the
   tempered distribution (the Hugging Face order), and a token is drawn with a
   ``torch.Generator`` seeded per request (same seed -> same tokens).

A GBNF ``grammar`` (tool calls: :mod:`shimmy_lab.engines.tools`) is applied by a
:class:`GrammarConstraint` (the ``llguidance`` package): before step 1 every token
the grammar does not allow gets ``-inf``, and each chosen token advances the grammar.

Log-probabilities are those of the model, i.e. ``log_softmax`` of the raw logits
before any bias, penalty or temperature; ``top_logprobs`` lists the most likely
alternatives under the same distribution.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..errors import InvalidParameterError, UnsupportedParameterError
from .base import Engine, TokenStep
from .params import GenerationParams

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Sampler", "token_loop", "end_of_generation_ids", "RESPONSE_FORMAT_HINT", "reject_unsupported",
           "torch_dtype", "resolve_context", "check_extra", "check_params", "GrammarConstraint", "grammar_constraint"]

#: Tokens that end a turn in common chat vocabularies (llama.cpp calls them "EOG" tokens).
EOG_TOKENS = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>", "<|end|>", "</s>")

#: Why the torch engines reject ``response_format``.
RESPONSE_FORMAT_HINT = (
    "JSON-constrained output (response_format json_object / json_schema) needs a grammar, "
    "which only the 'llama_cpp' engine provides."
)


def reject_unsupported(exc: UnsupportedParameterError) -> UnsupportedParameterError:
    """Return ``exc`` with a hint for ``response_format`` (used by the torch engines)."""
    if exc.param == "response_format":
        return UnsupportedParameterError("response_format", exc.engine, RESPONSE_FORMAT_HINT)
    return exc


def check_params(engine: Any, kwargs: dict[str, Any]) -> GenerationParams:
    """``Engine._params`` for the torch engines: the base checks (``logit_bias`` ids against
    the vocabulary among them) with the ``response_format`` hint."""
    try:
        return Engine._params(engine, kwargs)
    except UnsupportedParameterError as exc:
        raise reject_unsupported(exc) from None


#: llama.cpp options that mean nothing here; accepted and ignored silently.
_IGNORED = frozenset({"n_gpu_layers", "n_batch", "verbose", "logits_all", "chat_format", "use_mmap", "seed"})


def resolve_context(n_ctx: int | None, trained: int) -> int:
    """The context window: ``n_ctx`` (``None`` or 0 -> the trained length).

    A value above the trained context is clamped to it, with a warning (RoPE models
    do not extrapolate without scaling).

    Raises
    ------
    InvalidParameterError
        If ``n_ctx`` is not a non-negative integer.
    """
    if n_ctx is None or n_ctx == 0:
        return trained
    if isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < 0:
        raise InvalidParameterError(f"n_ctx must be a positive integer, got {n_ctx!r}.", param="n_ctx")
    if n_ctx > trained:
        warnings.warn(f"n_ctx={n_ctx} exceeds the model's trained context ({trained}); using {trained}.",
                      stacklevel=3)
        return trained
    return n_ctx


def check_extra(engine: str, kw: dict[str, Any]) -> None:
    """Warn about engine options that are not understood (llama.cpp ones are ignored)."""
    unknown = sorted(set(kw) - _IGNORED)
    if unknown:
        warnings.warn(f"The {engine!r} engine ignores option(s): {', '.join(unknown)}.", stacklevel=3)


def torch_dtype(name: str | None, default: str = "float32") -> "torch.dtype":
    """Map a dtype name (``float32``, ``bfloat16``, ``float16``) to a torch dtype.

    Raises
    ------
    InvalidParameterError
        For any other name.
    """
    import torch  # heavy: torch, only for the torch engines

    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    key = str(name or default).replace("torch.", "").lower()
    if key not in table:
        raise InvalidParameterError(f"dtype must be one of float32, bfloat16, float16; got {name!r}.", param="dtype")
    return table[key]


def end_of_generation_ids(configured: Iterable[int | None], vocab: Mapping[str, int]) -> frozenset[int]:
    """Token ids that end generation: the configured EOS ids plus known end-of-turn tokens.

    Parameters
    ----------
    configured : iterable of int or None
        EOS ids from the model/generation config and the tokenizer (``None`` is skipped;
        lists are flattened).
    vocab : mapping of str to int
        The tokenizer's vocabulary (token -> id), searched for :data:`EOG_TOKENS`.
    """
    ids: set[int] = set()
    for value in configured:
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            ids.update(int(v) for v in value if v is not None)
        else:
            ids.add(int(value))
    ids.update(vocab[t] for t in EOG_TOKENS if t in vocab)
    return frozenset(ids)


class Sampler:
    """Chooses the next token from a row of logits, one request at a time.

    Parameters
    ----------
    params : GenerationParams
        Validated request settings.
    prompt_ids : sequence of int
        The prompt, used by ``repeat_penalty``.
    repeat_last_n : int
        Window of ``repeat_penalty`` (llama.cpp's default is 64).
    """

    def __init__(self, params: GenerationParams, prompt_ids: Sequence[int] = (), *, repeat_last_n: int = 64,
                 constraint: "GrammarConstraint | None" = None):
        import torch  # heavy: torch, only for the torch engines

        self.params = params
        self.constraint = constraint
        self.repeat_last_n = repeat_last_n
        self.history: list[int] = list(prompt_ids)
        self.counts: dict[int, int] = {}
        self.generator = torch.Generator(device="cpu")
        if params.seed is not None:
            self.generator.manual_seed(params.seed & 0xFFFF_FFFF_FFFF_FFFF)
        else:
            self.generator.seed()
        self._bias: tuple[torch.Tensor, torch.Tensor] | None = None
        if params.logit_bias:
            ids = torch.tensor(list(params.logit_bias), dtype=torch.long)
            vals = torch.tensor(list(params.logit_bias.values()), dtype=torch.float32)
            self._bias = (ids, vals)

    # ------------------------------------------------------------------ stages
    def process(self, logits: "torch.Tensor") -> "torch.Tensor":
        """Logits after bias and penalties (float32, 1-D, a new tensor)."""
        import torch  # heavy: torch, only for the torch engines

        p = self.params
        x = logits.detach().reshape(-1).to(torch.float32).clone()
        if self._bias is not None:
            ids, vals = self._bias
            if int(ids.max()) >= x.numel() or int(ids.min()) < 0:
                raise InvalidParameterError(
                    f"logit_bias has a token id outside the vocabulary (0..{x.numel() - 1}).", param="logit_bias"
                )
            x.index_add_(0, ids, vals)
        if p.repeat_penalty != 1.0 and self.history:
            recent = torch.tensor(sorted(set(self.history[-self.repeat_last_n:])), dtype=torch.long)
            vals = x[recent]
            x[recent] = torch.where(vals > 0, vals / p.repeat_penalty, vals * p.repeat_penalty)
        if (p.presence_penalty or p.frequency_penalty) and self.counts:
            ids = torch.tensor(list(self.counts), dtype=torch.long)
            counts = torch.tensor(list(self.counts.values()), dtype=torch.float32)
            x[ids] -= counts * p.frequency_penalty + p.presence_penalty
        if self.constraint is not None:
            self.constraint.apply(x)
        return x

    def choose(self, x: "torch.Tensor") -> int:
        """Pick a token id from processed logits ``x`` (greedy at temperature 0)."""
        import torch  # heavy: torch, only for the torch engines

        p = self.params
        if p.greedy:
            return int(torch.argmax(x))
        x = x / p.temperature
        if p.top_k and p.top_k < x.numel():
            kth = torch.topk(x, p.top_k).values[-1]
            x = x.masked_fill(x < kth, float("-inf"))
        probs = torch.softmax(x, dim=-1)
        if p.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # mass of the better tokens
            drop = before >= p.top_p
            drop[0] = False
            probs = probs.scatter(0, order[drop], 0.0)
        if p.min_p > 0.0:
            probs = probs.masked_fill(probs < p.min_p * probs.max(), 0.0)
        return int(torch.multinomial(probs / probs.sum(), 1, generator=self.generator))

    def accept(self, token_id: int) -> None:
        """Record a generated token (for the penalties and the grammar)."""
        if self.constraint is not None:
            self.constraint.accept(token_id)
        self.history.append(token_id)
        self.counts[token_id] = self.counts.get(token_id, 0) + 1

    def step(self, logits: "torch.Tensor") -> TokenStep:
        """Choose, record and describe the next token."""
        import torch  # heavy: torch, only for the torch engines

        token = self.choose(self.process(logits))
        self.accept(token)
        step = TokenStep(token)
        if self.params.logprobs:
            lsm = torch.log_softmax(logits.detach().reshape(-1).to(torch.float32), dim=-1)
            step.logprob = float(lsm[token])
            if self.params.top_logprobs:
                top = torch.topk(lsm, min(self.params.top_logprobs, lsm.numel()))
                step.top_logprobs = [(int(i), float(v)) for v, i in zip(top.values, top.indices)]
        return step


def gather_logprobs(logits: "torch.Tensor", ids: Sequence[int]) -> list[float]:
    """Log-softmax of ``logits`` (``len(ids), vocab``: row i predicts ``ids[i]``) at ``ids``."""
    import torch  # heavy: torch, only for the torch engines

    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp[torch.arange(len(ids)), torch.tensor(list(ids), dtype=torch.long)].tolist()


def token_loop(
    forward: Callable[[list[int]], "torch.Tensor"],
    prompt_ids: list[int],
    params: GenerationParams,
    max_new: int,
    eog_ids: Iterable[int],
    constraint: "GrammarConstraint | None" = None,
) -> Iterator[TokenStep]:
    """Generate up to ``max_new`` tokens with a stateful ``forward``.

    Parameters
    ----------
    forward : callable
        ``forward(new_ids) -> logits`` runs the model on the tokens not seen yet
        (first the prompt, then one token at a time, reusing its KV cache) and returns
        the 1-D logits of the last position.
    prompt_ids : list of int
        The prompt.
    params : GenerationParams
        Sampling settings.
    max_new : int
        Upper bound on generated tokens.
    eog_ids : iterable of int
        End-of-generation ids: generation stops there, and the id is not yielded.
    constraint : GrammarConstraint, optional
        The grammar the tokens must follow (see :func:`grammar_constraint`).

    Yields
    ------
    TokenStep
    """
    eog = frozenset(eog_ids)
    sampler = Sampler(params, prompt_ids, constraint=constraint)
    logits = forward(list(prompt_ids))
    for i in range(max_new):
        step = sampler.step(logits)
        if step.token_id in eog:
            return
        yield step
        if i + 1 < max_new:
            logits = forward([step.token_id])


class GrammarConstraint:
    """The tokens a GBNF grammar allows, step by step (an ``llguidance`` matcher).

    Parameters
    ----------
    tokenizer : llguidance.LLTokenizer
        The model's tokenizer for llguidance (see :func:`grammar_constraint`).
    grammar : str
        GBNF text (llama.cpp's syntax), converted to llguidance's Lark form.

    Raises
    ------
    InvalidParameterError
        If the grammar is not valid (``param`` ``grammar``).
    """

    def __init__(self, tokenizer: Any, grammar: str):
        # optional extra [torch]
        import llguidance
        import llguidance.torch as lt
        from llguidance.gbnf_to_lark import gbnf_to_lark

        try:
            lark = gbnf_to_lark(grammar)
        except Exception as exc:  # noqa: BLE001 - GbnfToLarkError and parser errors
            raise InvalidParameterError(f"The grammar cannot be read: {exc}", param="grammar") from None
        self.matcher = llguidance.LLMatcher(tokenizer, llguidance.LLMatcher.grammar_from_lark(lark), log_level=0)
        if self.matcher.is_error():
            raise InvalidParameterError(f"The grammar is not valid: {self.matcher.get_error()}", param="grammar")
        self._lt = lt
        self.mask = lt.allocate_token_bitmask(1, tokenizer.vocab_size)

    def apply(self, logits: "torch.Tensor") -> None:
        """Set the logits of the tokens the grammar does not allow next to ``-inf`` (in place, 1-D)."""
        self._lt.fill_next_token_bitmask(self.matcher, self.mask)
        self._lt.apply_token_bitmask_inplace(logits, self.mask)

    def accept(self, token_id: int) -> None:
        """Advance the grammar by the chosen token (an end-of-generation token ends it)."""
        self.matcher.consume_token(int(token_id))


def grammar_constraint(engine: Any, grammar: str | None, tokenizer_json: Callable[[], str],
                       eos_ids: Iterable[int], vocab_size: int) -> GrammarConstraint | None:
    """The :class:`GrammarConstraint` of ``grammar`` for a torch engine (``None`` without one).

    The llguidance tokenizer, built from the engine's ``tokenizer.json`` text (about a
    second), is kept on the engine.

    Raises
    ------
    UnsupportedParameterError
        If ``llguidance`` is not installed (``param`` ``tools``).
    """
    if grammar is None:
        return None
    try:
        import llguidance  # optional extra [torch]
    except ImportError:
        raise UnsupportedParameterError(
            "tools", engine.name, "Tool calls on the torch engines need the 'llguidance' package "
            "(pip install llguidance).") from None
    tok = getattr(engine, "_llg_tokenizer", None)
    if tok is None:
        tok = engine._llg_tokenizer = llguidance.LLTokenizer(tokenizer_json(), n_vocab=vocab_size,
                                                             eos_token=sorted(eos_ids))
    return GrammarConstraint(tok, grammar)
