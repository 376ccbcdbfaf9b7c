"""Batched decoding of several sequences in one llama.cpp context.

:class:`BatchedLlama` owns one llama.cpp context with ``n_seq_max = n_seq`` (a KV
cache of ``n_ctx`` tokens per sequence, not unified) over its own memory-mapped copy
of the model, and a decode-loop thread. Every active request holds a sequence id;
each step builds one ``llama_batch`` with the next token of every generating
sequence plus as much of the waiting prompts as fits in ``n_batch``, runs a single
``llama_decode``, and samples one token per sequence with that sequence's own
sampler chain (penalties, logit bias, then greedy or top-k / top-p / min-p /
temperature / seeded distribution, as llama-cpp-python builds it); a greedy
sequence without penalties takes the argmax of its biased logits row with numpy
instead, the token the chain would pick. Tokens reach each request through its
own queue.

A finished or cancelled sequence keeps its KV cells: a new request takes the free
sequence id whose cells share the longest prefix with its prompt, the cells after
that prefix are removed (``llama_memory_seq_rm``) and only the rest of the prompt
is decoded (as llama.cpp's ``llama-server`` reuses a slot's cache, and as
llama-cpp-python's ``Llama.generate`` reuses its context's). Not for a request with a
``seed``: it decodes its whole prompt, so that the same seed gives the same text (a
prompt decoded in other pieces gives logits that differ in the last bits).

:class:`BatchedEngine` is an :class:`~shimmy_lab.engines.base.Engine` over a
``BatchedLlama``: chat template, tokenizer and detokenizer come from a
:class:`~shimmy_lab.engines.llama_cpp.LlamaCppEngine`, and the OpenAI chunks, stop
sequences, ``n`` and usage from the base class. Requests with ``logprobs`` or a
``response_format`` grammar are handed to the ``LlamaCppEngine`` itself.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from .base import Engine, EngineInfo, TokenStep
from .params import GenerationParams

__all__ = ["BatchedLlama", "BatchedEngine"]

log = logging.getLogger("shimmy_lab.engines.llama_batch")

_DONE = object()


@dataclass(eq=False)  # identity: two requests with the same prompt are different sequences
class _Seq:
    prompt: list[int]
    params: GenerationParams
    max_new: int
    out: "queue.Queue[Any]" = field(default_factory=queue.Queue)
    cancelled: bool = False
    seq_id: int = -1
    pos: int = 0  # tokens of this sequence already in the KV cache (or submitted in this step)
    fed: int = 0  # prompt tokens already submitted
    next_token: int | None = None  # sampled, not yet decoded
    n_gen: int = 0
    sampler: Any = None
    greedy: Any = None  # (ids, values) of its logit bias when its token is the argmax taken here


class BatchedLlama:
    """One llama.cpp context decoding up to ``n_seq`` sequences per ``llama_decode``.

    The context holds ``n_ctx`` KV cells for every sequence, so each request may use the
    whole context whatever the others do.

    Parameters
    ----------
    path : str
        GGUF file (loaded again, memory-mapped: the OS shares the pages with other
        contexts over the same file).
    n_seq : int
        Sequences decoded together.
    n_ctx : int
        Context (KV cache) per sequence.
    n_threads : int
        CPU threads of the context.
    n_batch : int
        Most tokens per ``llama_decode`` (prompt chunks are cut to fit).
    model_params, context_params : optional
        llama.cpp parameter structs to start from (e.g. those of a ``Llama``);
        ``n_ctx``, ``n_batch``, ``n_seq_max`` and the threads are set here.
    kv_unified : bool
        One KV buffer of ``n_seq * n_ctx`` cells shared by all sequences, as llama.cpp's
        ``llama-server`` uses by default (a decode of several sequences is one attention
        over all their cells, masked: 7-10 % faster here at short contexts, but the
        logits differ in the last bits from a context of one sequence, so greedy output
        can differ from :class:`~shimmy_lab.engines.llama_cpp.LlamaCppEngine`'s).
        Default: a buffer of ``n_ctx`` cells per sequence, whose greedy output equals it.
    """

    def __init__(self, path: str, *, n_seq: int, n_ctx: int, n_threads: int, n_batch: int = 512,
                 model_params: Any = None, context_params: Any = None, kv_unified: bool = False):
        # heavy: llama_cpp (and numpy, which it needs), loaded with a model
        import llama_cpp
        import numpy
        from llama_cpp import _internals as internals

        self._ll = llama_cpp
        self._np = numpy
        self.n_seq = max(1, int(n_seq))
        self.n_ctx = int(n_ctx)
        self.n_batch = max(int(n_batch), self.n_seq)
        mparams = model_params if model_params is not None else llama_cpp.llama_model_default_params()
        self._model = internals.LlamaModel(path_model=str(path), params=mparams, verbose=False)
        if context_params is not None:  # e.g. a Llama's, so that numerics (flash attention, rope) match it
            cparams = type(context_params).from_buffer_copy(context_params)
        else:
            cparams = llama_cpp.llama_context_default_params()
            # as LlamaCppEngine's Llama (flash attention on, see llama_cpp.LlamaCppEngine)
            cparams.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        cparams.n_ctx = self.n_ctx * self.n_seq
        cparams.n_batch = self.n_batch
        cparams.n_ubatch = self.n_batch
        cparams.n_seq_max = self.n_seq
        self.kv_unified = bool(kv_unified)
        cparams.kv_unified = self.kv_unified
        cparams.n_threads = cparams.n_threads_batch = int(n_threads)
        self._ctx = internals.LlamaContext(model=self._model, params=cparams, verbose=False)
        self._vocab = llama_cpp.llama_model_get_vocab(self._model.model)
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._pending: "queue.Queue[_Seq]" = queue.Queue()
        self._wake = threading.Condition()
        self._free_ids = list(range(self.n_seq))  # least recently used first
        self._held: list[list[int]] = [[] for _ in range(self.n_seq)]  # tokens in each sequence's KV cells
        self._active: list[_Seq] = []
        self._outbox: list[tuple[_Seq, Any]] = []  # (sequence, token or end) not handed out yet
        self._closed = False
        self.steps = 0  # llama_decode calls (for tests and metrics)
        self.reused_tokens = 0  # prompt tokens found in the KV cache instead of decoded
        self.max_batch_seqs = 0  # most sequences decoded together so far
        self._thread = threading.Thread(target=self._loop, name="shimmy-batch", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ requests
    def generate(self, prompt_ids: Sequence[int], params: GenerationParams, max_new: int) -> Iterator[TokenStep]:
        """Yield up to ``max_new`` tokens of ``prompt_ids`` (stopping at end-of-generation).

        Closing the iterator early cancels the sequence at the next step.
        """
        if self._closed:
            raise RuntimeError("BatchedLlama is closed")
        if not prompt_ids:
            raise ValueError("empty prompt")
        seq = _Seq(prompt=list(prompt_ids), params=params, max_new=int(max_new))
        with self._wake:
            self._pending.put(seq)
            self._wake.notify()
        try:
            while True:
                item = seq.out.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield TokenStep(int(item))
        finally:
            seq.cancelled = True
            with self._wake:
                self._wake.notify()

    def close(self) -> None:
        """Stop the loop (running sequences end) and free the context."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)
        if self._batch is not None and not self._thread.is_alive():
            self._ll.llama_batch_free(self._batch)
            self._batch = None
            self._ctx.close()
            self._model.close()

    # ------------------------------------------------------------------ sampling
    def _greedy_bias(self, p: GenerationParams) -> tuple[Any, Any] | None:
        """``(token ids, biases)`` (numpy arrays) when ``p`` samples greedily with no
        penalty: its token is then the first argmax of the logits plus the bias, taken
        with numpy (:meth:`_greedy_token`), which is what the sampler chain of
        :meth:`_sampler` picks (its penalties are off, its bias adds float32 values to
        the logits, its greedy sampler keeps the first maximum) without the chain's
        copy of the whole vocabulary into candidates. None otherwise."""
        if p.temperature > 0 or p.repeat_penalty != 1.0 or p.frequency_penalty or p.presence_penalty:
            return None
        np = self._np
        items = [(t, b) for t, b in p.logit_bias.items() if 0 <= int(t) < self._n_vocab]
        ids = np.array([int(t) for t, _ in items], dtype=np.int64)
        return ids, np.array([b for _, b in items], dtype=np.float32)

    def _greedy_token(self, seq: _Seq, idx: int) -> int:
        """The first argmax of row ``idx`` of the logits plus ``seq``'s logit bias.

        Biases that only lower logits (banned tokens) cannot move the first maximum
        unless it is one of their tokens: the row is then taken as it is, else a copy
        gets the bias."""
        ptr = self._ll.llama_get_logits_ith(self._ctx.ctx, idx)
        row = self._np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
        ids, bias = seq.greedy
        best = int(row.argmax())
        if len(ids) and (best in ids or bias.max() > 0):
            row = row.copy()
            row[ids] += bias
            best = int(row.argmax())
        return best

    def _sampler(self, p: GenerationParams):
        ll = self._ll
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        add = lambda s: ll.llama_sampler_chain_add(chain, s)  # noqa: E731
        add(ll.llama_sampler_init_penalties(self._n_vocab, 64, p.repeat_penalty, p.frequency_penalty, p.presence_penalty))
        if p.logit_bias:
            arr = (ll.llama_logit_bias * len(p.logit_bias))()
            for i, (tok, bias) in enumerate(p.logit_bias.items()):
                arr[i].token, arr[i].bias = int(tok), float(bias)
            add(ll.llama_sampler_init_logit_bias(self._n_vocab, len(p.logit_bias), arr))
        if p.temperature <= 0:
            add(ll.llama_sampler_init_greedy())
        else:
            seed = p.seed if p.seed is not None else random.getrandbits(32)
            add(ll.llama_sampler_init_top_k(p.top_k))
            add(ll.llama_sampler_init_top_p(p.top_p, 1))
            add(ll.llama_sampler_init_min_p(p.min_p, 1))
            add(ll.llama_sampler_init_temp(p.temperature))
            add(ll.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    # ------------------------------------------------------------------ loop
    def _finish(self, seq: _Seq, item: Any = _DONE) -> None:
        if seq.seq_id >= 0:  # its cells stay, for a later prompt with the same start
            self._free_ids.append(seq.seq_id)
            seq.seq_id = -1
        if seq.sampler is not None:
            self._ll.llama_sampler_free(seq.sampler)
            seq.sampler = None
        seq.greedy = None
        if seq in self._active:
            self._active.remove(seq)
        self._outbox.append((seq, item))

    def _flush(self) -> None:
        """Hand the sampled tokens and ends to their requests.

        Called just before the next ``llama_decode`` (which releases the GIL): the
        requests' threads then turn tokens into chunks while the context computes,
        instead of taking the GIL at each llama.cpp call of the sampling between two
        decodes (on 2 cores that stretched every step by ~2 ms).
        """
        for seq, item in self._outbox:
            seq.out.put(item)
        self._outbox.clear()

    def _admit(self) -> None:
        while self._free_ids:
            try:
                seq = self._pending.get_nowait()
            except queue.Empty:
                return
            if seq.cancelled:
                seq.out.put(_DONE)
                continue
            if len(seq.prompt) + seq.max_new > self.n_ctx:
                seq.out.put(ValueError(f"prompt ({len(seq.prompt)}) + max_tokens ({seq.max_new}) "
                                       f"over the context ({self.n_ctx})"))
                continue
            try:
                seq.greedy = self._greedy_bias(seq.params)
                if seq.greedy is None:
                    seq.sampler = self._sampler(seq.params)
            except BaseException as exc:  # pragma: no cover - bad parameters
                seq.out.put(exc)
                continue
            self._take_id(seq)
            self._active.append(seq)

    def _take_id(self, seq: _Seq) -> None:
        """Give ``seq`` the free sequence id whose KV cells share the longest prefix with
        its prompt (else the least recently used), keep that prefix, drop the rest."""
        best, keep = 0, 0
        for i, sid in enumerate(self._free_ids):
            n = _common_prefix(self._held[sid], seq.prompt)
            if n > keep:
                best, keep = i, n
        sid = self._free_ids.pop(best)
        keep = min(keep, len(seq.prompt) - 1)  # the last prompt token is decoded again, for its logits
        if seq.params.seed is not None:
            # a seed promises the same text: logits of a prompt decoded in other pieces differ
            # in the last bits, enough to change a sampled token, so the whole prompt is decoded
            keep = 0
        if not self._ll.llama_memory_seq_rm(self._ctx.memory, sid, keep, -1):
            keep = 0  # a memory that cannot cut a sequence (recurrent models): start afresh
            self._ll.llama_memory_seq_rm(self._ctx.memory, sid, -1, -1)
        del self._held[sid][keep:]
        seq.seq_id, seq.pos, seq.fed = sid, keep, keep
        self.reused_tokens += keep

    def _loop(self) -> None:
        try:
            while True:
                if not self._active:
                    self._flush()  # no decode to wait for
                with self._wake:
                    while not self._closed and not self._active and self._pending.empty():
                        self._wake.wait()
                    if self._closed:
                        break
                for seq in [s for s in self._active if s.cancelled]:
                    self._finish(seq)
                self._admit()
                if self._active:
                    self._step()
        except BaseException as exc:  # pragma: no cover - a llama.cpp failure ends every request
            log.exception("batched decode loop failed")
            err = exc
        else:
            err = RuntimeError("BatchedLlama closed")
        for seq in list(self._active):
            self._finish(seq, err)
        self._flush()
        while True:
            try:
                self._pending.get_nowait().out.put(err)
            except queue.Empty:
                break

    def _step(self) -> None:
        outputs = self._fill()
        self._flush()
        b = self._batch
        if b.n_tokens == 0:
            return
        rc = self._ll.llama_decode(self._ctx.ctx, b)
        self.steps += 1
        self.max_batch_seqs = max(self.max_batch_seqs, len(outputs))
        if rc != 0:
            err = RuntimeError(f"llama_decode failed ({rc})")
            for seq in {id(s): s for s in self._active}.values():
                self._finish(seq, err)
            self._ll.llama_memory_clear(self._ctx.memory, True)  # what the cells hold is unknown now
            for held in self._held:
                held.clear()
            return
        self._sample(outputs)

    def _fill(self) -> list[tuple[_Seq, int]]:
        """Put the next token of every generating sequence, then prompt chunks while
        there is room, into the batch; returns (sequence, batch index) of the rows
        whose logits are wanted (a sequence's last token only)."""
        b = self._batch
        n = 0
        outputs: list[tuple[_Seq, int]] = []

        def put(tok: int, seq: _Seq, logits: bool) -> None:
            nonlocal n
            b.token[n] = tok
            b.pos[n] = seq.pos
            b.n_seq_id[n] = 1
            b.seq_id[n][0] = seq.seq_id
            b.logits[n] = logits
            if logits:
                outputs.append((seq, n))
            self._held[seq.seq_id].append(tok)
            seq.pos += 1
            n += 1

        for seq in self._active:
            if seq.next_token is not None:
                put(seq.next_token, seq, True)
                seq.next_token = None
        for seq in self._active:
            while seq.fed < len(seq.prompt) and n < self.n_batch:
                last = seq.fed == len(seq.prompt) - 1
                put(seq.prompt[seq.fed], seq, last)
                seq.fed += 1
        b.n_tokens = n
        return outputs

    def _sample(self, outputs: list[tuple[_Seq, int]]) -> None:
        """One token per sequence from its row of logits: the argmax for greedy sequences
        (:meth:`_greedy_bias`), else with its own sampler chain."""
        ll = self._ll
        for seq, idx in outputs:
            if seq.greedy is not None:
                tok = self._greedy_token(seq, idx)
            else:
                tok = ll.llama_sampler_sample(seq.sampler, self._ctx.ctx, idx)
            if ll.llama_vocab_is_eog(self._vocab, tok) or seq.n_gen >= seq.max_new or seq.cancelled:
                self._finish(seq)
                continue
            seq.n_gen += 1
            self._outbox.append((seq, int(tok)))
            if seq.n_gen >= seq.max_new:
                self._finish(seq)
            else:
                seq.next_token = int(tok)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the common start of ``a`` and ``b``."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class BatchedEngine(Engine):
    """An engine whose generation runs in a shared :class:`BatchedLlama`.

    Parameters
    ----------
    base : callable
        Returns the :class:`~shimmy_lab.engines.llama_cpp.LlamaCppEngine` whose chat
        template and tokenizer are used (and which serves ``logprobs`` and grammar
        requests).
    batch : BatchedLlama
    """

    name = "llama_cpp"
    supports_logprobs = True  # served by the base engine
    supports_grammar = True  # served by the base engine
    supports_tools = True  # served by the base engine

    def __init__(self, base: Callable[[], Any], batch: BatchedLlama):
        self._base = base
        self.batch = batch

    @property
    def base(self):
        return self._base()

    @property
    def info(self) -> EngineInfo:
        return self.base.info

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return self.base.tokenize(text, add_special=add_special)

    def detokenize(self, ids: Sequence[int]) -> str:
        return self.base.detokenize(ids)

    def _detokenizer(self):
        """The base engine's (see :meth:`Engine._detokenizer`)."""
        return self.base._detokenizer()

    @property
    def vocab_size(self) -> int | None:
        return self.base.vocab_size

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        return self.base.render_chat(messages)

    def chat_prompt(self, messages, tools=None) -> str:
        """The base engine's prompt (its template may render tools itself)."""
        return self.base.chat_prompt(messages, tools)

    def embed(self, texts):
        return self.base.embed(texts)

    def token_logprobs(self, prefix: Sequence[int], ids: Sequence[int]) -> list[float]:
        """Scored by the base engine (see :meth:`Engine.token_logprobs`)."""
        return self.base.token_logprobs(prefix, ids)

    def _generate_ids(self, prompt_ids: list[int], params: GenerationParams, max_new: int) -> Iterator[TokenStep]:
        return self.batch.generate(prompt_ids, params, max_new)

    @staticmethod
    def _needs_base(kwargs: dict[str, Any]) -> bool:
        fmt = kwargs.get("response_format")
        grammar = isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")
        tools = bool(kwargs.get("tools")) and kwargs.get("tool_choice") != "none"
        return bool(kwargs.get("logprobs")) or grammar or tools or bool(kwargs.get("grammar"))

    def chat(self, messages, *, stream: bool = False, stream_options=None, **kwargs: Any):
        """Chat completion (see :meth:`Engine.chat`); logprobs, grammar and tools go to the base engine."""
        if self._needs_base(kwargs):
            return self.base.chat(messages, stream=stream, stream_options=stream_options, **kwargs)
        return super().chat(messages, stream=stream, stream_options=stream_options, **kwargs)

    def complete(self, prompt, *, stream: bool = False, echo: bool = False, stream_options=None, **kwargs: Any):
        """Text completion (see :meth:`Engine.complete`); logprobs and grammar go to the base engine."""
        if self._needs_base(kwargs):
            return self.base.complete(prompt, stream=stream, echo=echo, stream_options=stream_options, **kwargs)
        return super().complete(prompt, stream=stream, echo=echo, stream_options=stream_options, **kwargs)

    def close(self) -> None:
        """The batch and the base engine belong to their owner; nothing to free here."""
