"""llama.cpp engine (llama-cpp-python) for GGUF files.

``chat`` and ``complete`` go straight to ``Llama.create_chat_completion`` /
``create_completion`` (the chat template comes from the GGUF metadata), so the engine
adds validation and OpenAI-exact shapes but no extra work per token.

Two llama.cpp features need their own context and are created only when first asked
for, over the same memory-mapped weights:

* ``logprobs`` need ``logits_all=True``, which allocates ``n_ctx x n_vocab`` floats;
  that context is capped at ``logprobs_ctx`` tokens (default 2048, about 400 MB for
  SmolLM2's 49k vocabulary) instead of being turned on for every request.
* ``embed`` needs an embedding context with mean pooling.
"""

from __future__ import annotations

import atexit
import json
import threading
import weakref
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..cores import usable_cores
from ..errors import ContextLengthExceededError, InvalidParameterError, ModelNotFoundError
from . import openai_shapes as shapes
from .base import ByteDetokenizer, Engine, EngineInfo, TokenStep, check_messages, check_scoring
from .files import is_gguf, read_gguf_header
from .llama_batch import BatchedEngine, BatchedLlama
from .params import GenerationParams
from .tools import check_tools, render_history, template_uses_tools

__all__ = ["LlamaCppEngine"]

#: Engines not yet closed: closed at interpreter exit, while llama-cpp-python can still free
#: its contexts (freed later, from ``Llama.__del__`` during shutdown, it prints a traceback).
_OPEN: "weakref.WeakSet[LlamaCppEngine]" = weakref.WeakSet()


@atexit.register
def _close_open_engines() -> None:
    for engine in list(_OPEN):
        if engine._lock.acquire(blocking=False):  # one still generating (a daemon thread) is left
            try:
                engine.close()
            finally:
                engine._lock.release()


class LlamaCppEngine(Engine):
    """Generate with llama.cpp from a GGUF file.

    Parameters
    ----------
    path : str or Path
        GGUF file.
    model_id : str, optional
        Id reported in responses (default: file stem).
    n_ctx : int, optional
        Context window (default: the model's training context).
    n_threads : int, optional
        CPU threads (default: all cores).
    logprobs_ctx : int
        Context size of the lazily created ``logits_all`` context used for logprobs.
    kv_unified : bool
        The batched contexts :meth:`batched` makes share one KV buffer among their
        sequences (see :class:`~shimmy_lab.engines.llama_batch.BatchedLlama`); this
        engine's own context (one sequence) is the same either way.
    **llama_kwargs
        Passed to ``llama_cpp.Llama``; ``flash_attn`` defaults to True here (llama.cpp's
        own server turns flash attention on for the CPU by default), and the batched
        contexts of :meth:`batched` copy the choice, so their greedy output equals this
        engine's.
    """

    name = "llama_cpp"
    priority = 10
    supports_batching = True
    supports_logprobs = True
    supports_grammar = True
    supports_tools = True

    def __init__(self, path: str | Path, *, model_id: str | None = None, n_ctx: int | None = None,
                 n_threads: int | None = None, logprobs_ctx: int = 2048, kv_unified: bool = False,
                 **llama_kwargs: Any):
        path = Path(path)
        if not path.is_file():
            raise ModelNotFoundError(str(path))
        from llama_cpp import Llama  # heavy: llama_cpp, loaded with a model

        self._path = path
        self._id = model_id or path.stem
        self._threads = n_threads or usable_cores()
        self.kv_unified = bool(kv_unified)
        # flash attention by default, as llama.cpp's llama-server (its "auto" is on for the CPU):
        # one decode of 4 batched sequences ~15 % faster here; the batched contexts copy it
        self._kwargs = dict(llama_kwargs, verbose=llama_kwargs.get("verbose", False),
                            flash_attn=llama_kwargs.get("flash_attn", True))
        self.llm = Llama(str(path), n_ctx=n_ctx or 0, n_threads=self._threads, logits_all=False, **self._kwargs)
        self._lock = threading.RLock()
        self._pieces: dict[int, bytes] = {}  # token id -> its bytes (filled as tokens are generated)
        self._logprob_llm = None
        self._stale_rows = False  # rows of the logits context token_logprobs left without logits
        self._embed_llm = None
        self._logprobs_ctx = min(logprobs_ctx, self.llm.n_ctx())
        _OPEN.add(self)
        meta = self.llm.metadata
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # heavy: llama_cpp, loaded with a model

        self._formatter = Jinja2ChatFormatter(
            meta.get("tokenizer.chat_template", ""),
            eos_token=self.llm.detokenize([self.llm.token_eos()]).decode("utf-8", "replace"),
            bos_token=self.llm.detokenize([self.llm.token_bos()]).decode("utf-8", "replace"),
        )
        self._native_tools = template_uses_tools(meta.get("tokenizer.chat_template"))
        _, quant = read_gguf_header(path)
        self._info = EngineInfo(
            id=self._id, engine=self.name, path=str(path), format="gguf",
            context_length=self.llm.n_ctx(), quantization=quant,
            family=meta.get("general.architecture"),
        )

    # ------------------------------------------------------------------ model files
    @classmethod
    def guess_can_open(cls, path: str | Path) -> bool:
        """A GGUF file (see :func:`~shimmy_lab.engines.files.is_gguf`)."""
        return is_gguf(path)

    @classmethod
    def describe(cls, path: str | Path) -> dict[str, Any]:
        """Context length and quantization from the GGUF header (see :meth:`Engine.describe`)."""
        path = Path(path)
        ctx, quant = read_gguf_header(path)
        return {"id": path.stem, "engine": cls.name, "format": "gguf", "size_bytes": path.stat().st_size,
                "context_length": ctx, "quantization": quant}

    @classmethod
    def scoring_options(cls, context: int) -> dict[str, Any]:
        """A context of ``context`` tokens, for generation and logits (the logits of a
        2048-token context would hold ~400 MB)."""
        return {"n_ctx": context, "logprobs_ctx": context}

    def batched(self, n_seq: int, *, base=None, n_threads: int | None = None,
                kv_unified: bool | None = None) -> Engine:
        """A :class:`~shimmy_lab.engines.llama_batch.BatchedEngine` over a new
        :class:`~shimmy_lab.engines.llama_batch.BatchedLlama` of ``n_seq`` sequences,
        with this engine's context length and llama.cpp parameters (see :meth:`Engine.batched`);
        ``kv_unified`` (default: this engine's ``kv_unified``) is passed to it."""
        unified = self.kv_unified if kv_unified is None else bool(kv_unified)
        batch = BatchedLlama(str(self._path), n_seq=n_seq, n_ctx=self._info.context_length,
                             n_threads=n_threads or usable_cores(), kv_unified=unified,
                             model_params=self.llm.model_params, context_params=self.llm.context_params)
        return BatchedEngine(base or (lambda: self), batch)

    # ------------------------------------------------------------------ protocol
    @property
    def info(self) -> EngineInfo:
        return self._info

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        """Token ids of ``text`` (special tokens in the text are parsed)."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_special, special=True)

    def detokenize(self, ids: Sequence[int]) -> str:
        """Text of token ids (an id outside the vocabulary: :class:`InvalidParameterError`)."""
        self.check_token_ids(ids)
        return self.llm.detokenize(list(ids)).decode("utf-8", errors="replace")

    def _detokenizer(self):
        """One token's bytes per generated token (see :meth:`Engine._detokenizer`); a
        tokenizer other than llama.cpp's own (a Hugging Face one given to ``Llama``)
        detokenizes the whole sequence again."""
        from llama_cpp.llama_tokenizer import LlamaTokenizer  # heavy: llama_cpp, loaded with a model

        if type(getattr(self.llm, "tokenizer_", None)) is not LlamaTokenizer:
            return super()._detokenizer()
        return ByteDetokenizer(self._token_bytes, bos=self.llm.token_bos())

    def _token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token, as ``Llama.detokenize`` writes them (cached)."""
        piece = self._pieces.get(token_id)
        if piece is None:
            self.check_token_ids([token_id])
            piece = self._pieces[token_id] = self.llm.detokenize([token_id])
        return piece

    @property
    def vocab_size(self) -> int:
        """Tokens of the GGUF's vocabulary."""
        return int(self.llm.n_vocab())

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        """Prompt text under the GGUF's chat template."""
        return self._formatter(messages=messages).prompt

    def chat_prompt(self, messages: Sequence[dict[str, Any]], tools: Sequence[Any] | None = None) -> str:
        """The chat prompt (see :meth:`Engine.chat_prompt`); a GGUF template that renders
        ``tools`` in the ``<tool_call>`` format renders the tools and the tool history itself."""
        if not self._native_tools:
            return super().chat_prompt(messages, tools)

        specs = [t.to_openai() for t in check_tools(tools)]
        return self._formatter(messages=self._template_messages(messages), tools=specs or None).prompt

    def _template_messages(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Checked messages, with tool calls and results rendered for this template."""
        msgs = check_messages(messages)
        if self._native_tools or any(m.get("tool_calls") or m["role"] == "tool" for m in msgs):
            msgs = render_history(msgs, native=self._native_tools)
        return msgs

    def _generate_ids(self, prompt_ids: list[int], params: GenerationParams, max_new: int) -> Iterator[TokenStep]:
        with self._lock:
            if params.seed is not None:
                self.llm.set_seed(params.seed)
            eos = self.llm.token_eos()
            gen = self.llm.generate(
                prompt_ids, top_k=params.top_k, top_p=params.top_p, min_p=params.min_p,
                temp=params.temperature, repeat_penalty=params.repeat_penalty,
                presence_penalty=params.presence_penalty, frequency_penalty=params.frequency_penalty,
                reset=True,
            )
            for i, token in enumerate(gen):
                if token == eos or i >= max_new:
                    break
                yield TokenStep(int(token))

    def embed(self, texts: str | Sequence[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised embeddings from a lazily created embedding context."""
        if isinstance(texts, str):
            texts = [texts]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise InvalidParameterError("input must be a string or a non-empty list of strings.", param="input")
        with self._lock:
            if self._embed_llm is None:
                from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama  # heavy: llama_cpp, loaded with a model

                self._embed_llm = Llama(str(self._path), n_ctx=min(2048, self.llm.n_ctx()),
                                        n_threads=self._threads, embedding=True,
                                        pooling_type=LLAMA_POOLING_TYPE_MEAN, **self._kwargs)
            limit = self._embed_llm.n_ctx()
            for t in texts:
                n = len(self._embed_llm.tokenize(t.encode("utf-8")))
                if n > limit:
                    raise ContextLengthExceededError(n, 0, limit, param="input")
            return [list(map(float, v)) for v in self._embed_llm.embed(list(texts), normalize=True)]

    def set_threads(self, n_threads: int) -> None:
        """Threads of the generation context from its next ``llama_decode`` on (prompt and
        tokens alike); safe while another thread generates (it reads them per decode)."""
        n = max(1, int(n_threads))
        self.llm._ctx.set_n_threads(n, n)

    def close(self) -> None:
        """Free the contexts; waits for a generation in progress to finish."""
        with self._lock:
            for llm in (self.llm, self._logprob_llm, self._embed_llm):
                if llm is not None:
                    llm.close()
            self._logprob_llm = self._embed_llm = None
            _OPEN.discard(self)

    # ------------------------------------------------------------------ generation
    def token_logprobs(self, prefix: Sequence[int], ids: Sequence[int]) -> list[float]:
        """Log-probability of each token of ``ids`` after ``prefix`` (see :meth:`Engine.token_logprobs`).

        Runs in the ``logits_all`` context shared with ``logprobs`` requests, so the
        limit is ``logprobs_ctx`` tokens.  The part of ``prefix`` the context already
        holds from the previous call is not evaluated again: scoring many lines after
        one prefix costs the lines' tokens only.  The prefix's tokens but its last are
        evaluated without output logits (llama.cpp then skips the output layer for them,
        about a fifth of a 135M model's work per token).
        """
        import numpy as np  # lazy: keeps the engines layer free of numpy

        with self._lock:
            llm = self._logits_llm()
            prefix, ids = check_scoring(prefix, ids, llm.n_ctx())
            seq, last = prefix + ids, len(prefix) - 1
            # the prefix's last token is always evaluated again: its logits (the first
            # line token's distribution) may not have been kept by the previous call
            keep = _common_prefix(llm.input_ids[: llm.n_tokens], seq, last)
            if keep:
                llm.n_tokens = keep  # eval() drops the cache from here on
            else:
                llm.reset()
            # (llama.cpp computes a batch of one token by another kernel, ~0.05 nats apart:
            # a prefix rest of one token is read with the line instead)
            if keep < last - 1:
                _eval_without_logits(llm, seq[keep:last])
                self._stale_rows = True
                keep = last
            llm.eval(seq[keep:])
            rows = np.asarray(llm.scores[last: last + len(ids)], dtype=np.float64)
        top = rows.max(axis=1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
        return (rows[np.arange(len(ids)), ids] - norm).tolist()

    def _backend(self, params: GenerationParams):
        if not params.logprobs:
            return self.llm
        llm = self._logits_llm()
        if self._stale_rows:  # token_logprobs left rows without logits: no prefix reuse
            llm.reset()
            self._stale_rows = False
        return llm

    def _logits_llm(self):
        if self._logprob_llm is None:
            from llama_cpp import Llama  # heavy: llama_cpp, loaded with a model

            self._logprob_llm = Llama(str(self._path), n_ctx=self._logprobs_ctx, n_threads=self._threads,
                                      logits_all=True, **self._kwargs)
        return self._logprob_llm

    def _llama_args(self, params: GenerationParams, max_new: int) -> dict[str, Any]:
        return dict(
            temperature=params.temperature, top_p=params.top_p, top_k=params.top_k, min_p=params.min_p,
            stop=params.stop, seed=params.seed, max_tokens=max_new,
            presence_penalty=params.presence_penalty, frequency_penalty=params.frequency_penalty,
            repeat_penalty=params.repeat_penalty, logit_bias=params.logit_bias or None,
        )

    def _check_ctx(self, n_prompt: int, params: GenerationParams, param: str) -> int:
        ctx = self._logprobs_ctx if params.logprobs else self._info.context_length
        want = params.max_tokens if params.max_tokens is not None else ctx - n_prompt
        if want <= 0 or n_prompt + want > ctx:
            raise ContextLengthExceededError(n_prompt, max(want, 1), ctx, param=param)
        return want

    def chat(self, messages: Sequence[dict[str, Any]], *, stream: bool = False,
             stream_options: dict[str, Any] | None = None, **kwargs: Any):
        """Chat completion through ``Llama.create_chat_completion``.

        See :meth:`Engine.chat` for the parameters; ``response_format`` with
        ``json_object`` or ``json_schema`` is enforced by a llama.cpp grammar.
        """
        params = self._params(kwargs)
        if params.tool_spec() is not None:
            return self._tool_chat(messages, params, stream_options or {}, stream)
        messages = self._template_messages(messages)
        n_prompt = len(self.tokenize(self.render_chat(messages)))
        max_new = self._check_ctx(n_prompt, params, "messages")
        args = self._llama_args(params, max_new)
        if params.logprobs:
            args.update(logprobs=True, top_logprobs=params.top_logprobs or 0)
        schema = params.json_schema()
        if params.grammar is not None:
            args["grammar"] = _grammar(params.grammar)
        elif schema is not None:
            args["response_format"] = {"type": "json_object", "schema": schema}
        chunks = self._chat_stream(messages, params, args, n_prompt, stream_options or {}, stream)
        if stream:
            return chunks
        if params.n == 1:
            with self._lock:
                out = self._backend(params).create_chat_completion(messages, **args)
            return _tidy_chat(out, self._id, params.top_logprobs)
        return shapes.collect_chat_chunks(chunks)

    def _chat_stream(self, messages, params, args, n_prompt, stream_options, stream):
        cid, model = shapes.new_id("chatcmpl"), self._id
        created = int(__import__("time").time())
        n_completion = 0
        with self._lock:
            llm = self._backend(params)
            for index in range(params.n):
                seed = None if params.seed is None else params.seed + index
                text = []
                for chunk in llm.create_chat_completion(messages, stream=True, **{**args, "seed": seed}):
                    choice = chunk["choices"][0]
                    delta = {k: v for k, v in choice["delta"].items() if v is not None}
                    if "role" in delta:
                        delta.setdefault("content", "")
                    text.append(delta.get("content") or "")
                    yield shapes.chat_chunk(id=cid, model=model, created=created, index=index, delta=delta,
                                            logprobs=_chat_logprobs(choice.get("logprobs"), params.top_logprobs),
                                            finish_reason=choice.get("finish_reason"))
                n_completion += _count(self, "".join(text), args["max_tokens"])
        if not stream or stream_options.get("include_usage"):
            yield shapes.chat_chunk(id=cid, model=model, created=created, choices=False,
                                    usage=shapes.usage(n_prompt, n_completion))

    def _tool_generator(self, prompt: str, params: GenerationParams, max_new: int):
        """``generate(text, grammar)`` through ``Llama.create_completion`` (see
        :meth:`Engine._tool_generator`): the prefix cache keeps the prompt between the
        free run and the constrained one."""
        from llama_cpp import LlamaGrammar  # heavy: llama_cpp, loaded with a model

        args = self._llama_args(params, max_new)
        spent = [0]  # tokens generated by the earlier runs of the turn (one per streamed chunk)

        def generate(text: str, grammar: str | None):
            run = dict(args, max_tokens=max(max_new - spent[0], 1))
            if grammar is not None:
                run.update(grammar=LlamaGrammar.from_string(grammar, verbose=False), stop=[])
            with self._lock:
                for chunk in self.llm.create_completion(self.tokenize(text), stream=True, **run):
                    spent[0] += 1
                    choice = chunk["choices"][0]
                    yield choice.get("text") or "", choice.get("finish_reason")
        return generate

    def complete(self, prompt: str, *, stream: bool = False, echo: bool = False,
                 stream_options: dict[str, Any] | None = None, **kwargs: Any):
        """Text completion through ``Llama.create_completion`` (see :meth:`Engine.complete`)."""
        if not isinstance(prompt, str):
            raise InvalidParameterError("prompt must be a string.", param="prompt")
        params = self._params(kwargs)
        n_prompt = len(self.tokenize(prompt, add_special=True))
        max_new = self._check_ctx(n_prompt, params, "prompt")
        args = self._llama_args(params, max_new)
        if params.logprobs:
            args["logprobs"] = max(params.top_logprobs or 0, 1) if params.top_logprobs else 0
        schema = params.json_schema()
        if params.grammar is not None:
            args["grammar"] = _grammar(params.grammar)
        elif schema is not None:
            from llama_cpp import LlamaGrammar  # heavy: llama_cpp, loaded with a model

            args["grammar"] = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        chunks = self._text_stream_llama(prompt, params, args, echo, n_prompt, stream_options or {}, stream)
        return chunks if stream else shapes.collect_text_chunks(chunks)

    def _text_stream_llama(self, prompt, params, args, echo, n_prompt, stream_options, stream):
        cid, model = shapes.new_id("cmpl"), self._id
        created = int(__import__("time").time())
        n_completion = 0
        with self._lock:
            llm = self._backend(params)
            for index in range(params.n):
                seed = None if params.seed is None else params.seed + index
                text = []
                for chunk in llm.create_completion(prompt, stream=True, echo=echo, **{**args, "seed": seed}):
                    choice = dict(chunk["choices"][0], index=index)
                    text.append(choice.get("text") or "")
                    yield shapes.text_completion(id=cid, model=model, created=created, usage=None,
                                                 choices=[{k: _plain(choice.get(k)) for k in ("index", "text", "logprobs", "finish_reason")}])
                generated = "".join(text)[len(prompt) if echo else 0:]
                n_completion += _count(self, generated, args["max_tokens"])
        if not stream or stream_options.get("include_usage"):
            yield shapes.text_completion(id=cid, model=model, created=created, choices=[],
                                         usage=shapes.usage(n_prompt, n_completion))


def _grammar(text: str) -> Any:
    from llama_cpp import LlamaGrammar  # heavy: llama_cpp, loaded with a model

    return LlamaGrammar.from_string(text, verbose=False)


def _count(engine: "LlamaCppEngine", text: str, limit: int) -> int:
    """Completion tokens of a streamed answer: its text re-tokenized, never above the limit
    (a re-tokenization can merge or split differently from the sampled tokens)."""
    return min(len(engine.tokenize(text)), limit) if text else 0


def _chat_logprobs(lp: Any, top: int | None) -> Any:
    """llama-cpp-python's chat logprobs as OpenAI sends them: ``bytes`` filled in and
    exactly ``top_logprobs`` alternatives (llama.cpp adds the sampled token to them)."""
    lp = _plain(lp)
    if not lp:
        return lp
    for entry in lp.get("content") or []:
        entry["bytes"] = list(entry["token"].encode("utf-8"))
        unique = {a["token"]: a for a in entry.get("top_logprobs") or []}.values()
        alts = sorted(unique, key=lambda a: -a["logprob"])[: top or 0]
        for alt in alts:
            alt["bytes"] = list(alt["token"].encode("utf-8"))
        entry["top_logprobs"] = alts
    lp.setdefault("refusal", None)
    return lp


def _tidy_chat(out: dict[str, Any], model_id: str, top_logprobs: int | None = None) -> dict[str, Any]:
    """llama-cpp-python's chat dict with OpenAI's exact fields (model id, refusal, logprobs)."""
    choices = []
    for choice in out["choices"]:
        msg = choice["message"]
        choices.append({
            "index": choice["index"],
            "message": {"role": "assistant", "content": msg.get("content") or "", "refusal": None},
            "logprobs": _chat_logprobs(choice.get("logprobs"), top_logprobs),
            "finish_reason": choice.get("finish_reason") or "stop",
        })
    return shapes.chat_completion(id=out["id"], model=model_id, created=out["created"], choices=choices,
                                  usage=dict(out["usage"]))


def _plain(obj: Any) -> Any:
    """Numpy scalars (llama-cpp-python's logprobs are float32) to Python numbers, recursively."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return obj.item()
    return obj


def _eval_without_logits(llm: Any, tokens: list[int]) -> None:
    """``llm.eval(tokens)`` asking llama.cpp for no output logits (their rows of ``llm.scores`` go stale)."""
    if not hasattr(llm, "_logits_all"):  # a llama-cpp-python without the switch: compute them
        llm.eval(tokens)
        return
    llm._logits_all = False
    try:
        llm.eval(tokens)
    finally:
        llm._logits_all = True


def _common_prefix(held: Any, seq: list[int], limit: int) -> int:
    """Length of the common start of ``held`` (tokens in a context) and ``seq``, at most ``limit``."""
    import numpy as np  # lazy: keeps the engines layer free of numpy

    n = min(len(held), len(seq), limit)
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(held[:n]) != np.asarray(seq[:n]))
    return int(diff[0]) if len(diff) else n
