"""The engine protocol: streaming is the primitive, everything else is built on it.

A backend implements a handful of small methods (``tokenize``, ``detokenize``,
``render_chat`` and ``_generate_ids``, a generator of token ids); the base class turns
them into OpenAI-shaped ``chat.completion`` / ``chat.completion.chunk`` /
``text_completion`` dicts, applies stop sequences, ``n`` and the context-length check.
A backend with a faster native path (llama.cpp) may override ``chat`` and ``complete``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Sequence

from ..errors import ContextLengthExceededError, InvalidParameterError, UnsupportedParameterError
from . import openai_shapes as shapes
from . import tools as tool_format
from .params import GenerationParams
from .tools import call_grammar, tool_turn

__all__ = ["Engine", "EngineInfo", "TokenStep", "check_messages", "TOOLS_HINT", "ByteDetokenizer",
           "FullDetokenizer"]

#: Why an engine without ``supports_tools`` refuses ``tools``.
TOOLS_HINT = ("Tool calls are generated under a grammar of the functions' schemas, which this engine cannot "
              "apply (the 'llama_cpp' engine can, and the torch engines with the 'llguidance' package); "
              "tool_choice 'none' is accepted.")


@dataclass(frozen=True)
class EngineInfo:
    """What an engine is serving.

    Attributes
    ----------
    id : str
        Model id (as listed by the registry and ``/v1/models``).
    engine : str
        Engine name: ``llama_cpp``, ``transformers`` or ``safetensors``.
    path : str
        File or directory the weights came from.
    format : str
        ``gguf``, ``hf`` (transformers directory) or ``safetensors``.
    context_length : int
        Context window in tokens.
    quantization : str or None
        E.g. ``Q4_1`` for GGUF files, ``float32`` for unquantized weights.
    family : str or None
        Architecture family, e.g. ``llama``.
    """

    id: str
    engine: str
    path: str
    format: str
    context_length: int
    quantization: str | None = None
    family: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict view."""
        return asdict(self)


@dataclass
class TokenStep:
    """One generated token as produced by a backend's ``_generate_ids``.

    ``top_logprobs`` lists ``(token_id, logprob)`` pairs, most likely first.
    """

    token_id: int
    logprob: float | None = None
    top_logprobs: list[tuple[int, float]] = field(default_factory=list)


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """Validate an OpenAI ``messages`` list and return it with text contents.

    Content given as a list of ``{"type": "text", "text": ...}`` parts is joined (an
    assistant's ``refusal`` parts are dropped). ``developer`` becomes ``system``. An
    assistant message keeps its ``tool_calls`` and a ``tool`` message its
    ``tool_call_id`` (see :func:`shimmy_lab.engines.tools.render_history`).

    Raises
    ------
    InvalidParameterError
        If the list is empty, a message has no valid role or content, or a content part
        is not text (an image, audio or file part: ``param`` names the part, e.g.
        ``messages[0].content[1]``).
    """
    if not isinstance(messages, (list, tuple)) or not messages:
        raise InvalidParameterError("messages must be a non-empty list.", param="messages")
    return [_check_message(i, msg) for i, msg in enumerate(messages)]


def _check_message(i: int, msg: Any) -> dict[str, Any]:
    if not isinstance(msg, dict) or msg.get("role") not in ("system", "developer", "user", "assistant", "tool"):
        raise InvalidParameterError(
            f"messages[{i}] must be an object with a role of system, developer, user, assistant or tool.",
            param=f"messages[{i}]",
        )
    content = _text_content(i, msg.get("content"))
    role = "system" if msg["role"] == "developer" else msg["role"]
    out: dict[str, Any] = {"role": role, "content": content}
    if role == "assistant" and msg.get("tool_calls"):
        out["tool_calls"] = _check_tool_calls(i, msg["tool_calls"])
    if role == "tool":
        if not isinstance(msg.get("tool_call_id", ""), str):
            raise InvalidParameterError(f"messages[{i}].tool_call_id must be a string.",
                                        param=f"messages[{i}].tool_call_id")
        out["tool_call_id"] = msg.get("tool_call_id") or ""
    return out


def _text_content(i: int, content: Any) -> str:
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "refusal":
                continue
            if kind != "text" or not isinstance(part.get("text"), str):
                what = f"a {kind!r} part" if isinstance(kind, str) else "not a text part"
                raise InvalidParameterError(
                    f"messages[{i}].content[{j}] is {what}: this server accepts only text content parts.",
                    param=f"messages[{i}].content[{j}]", code="unsupported_content_type" if kind else "invalid_value",
                )
            parts.append(part["text"])
        content = "".join(parts)
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise InvalidParameterError(f"messages[{i}].content must be a string.", param=f"messages[{i}].content")
    return content


def _check_tool_calls(i: int, calls: Any) -> list[dict[str, Any]]:
    param = f"messages[{i}].tool_calls"
    if not isinstance(calls, list):
        raise InvalidParameterError(f"{param} must be a list.", param=param)
    out = []
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) \
                or not isinstance(fn.get("arguments", ""), str):
            raise InvalidParameterError(f"{param}[{j}] must be a function call with a name and arguments (a string).",
                                        param=f"{param}[{j}]")
        out.append({"id": str(call.get("id") or ""), "type": "function",
                    "function": {"name": fn["name"], "arguments": fn.get("arguments") or "{}"}})
    return out


class _StopScanner:
    """Releases streamed text, holding back anything that could still become a stop sequence."""

    def __init__(self, stops: Sequence[str]):
        self.stops = list(stops)
        self.pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        self.pending += text
        if not self.stops:
            out, self.pending = self.pending, ""
            return out
        hits = [(self.pending.find(s), s) for s in self.stops if s in self.pending]
        if hits:
            cut = min(h[0] for h in hits)
            out, self.pending, self.stopped = self.pending[:cut], "", True
            return out
        hold = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        cut = len(self.pending) - hold
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


class FullDetokenizer:
    """Text of a generation's tokens, one token at a time, by detokenizing all of them
    again at each token (see :meth:`Engine._detokenizer`).

    Parameters
    ----------
    detokenize : callable
        Text of a list of token ids (an engine's ``detokenize``).
    """

    def __init__(self, detokenize: Callable[[Sequence[int]], str]):
        self._detokenize = detokenize
        self._ids: list[int] = []
        self._emitted = ""

    def __call__(self, token_id: int) -> str | None:
        """The text ``token_id`` completes, or None while it ends in an incomplete character."""
        self._ids.append(token_id)
        full = self._detokenize(self._ids)
        if full.endswith("\ufffd"):
            return None
        piece, self._emitted = full[len(self._emitted):], full
        return piece


class ByteDetokenizer:
    """Text of a generation's tokens from each token's bytes alone (see
    :meth:`Engine._detokenizer`), for tokenizers whose text of a sequence is the UTF-8
    decoding of its tokens' bytes joined (llama.cpp's).

    The bytes not yet returned as text wait (an incomplete UTF-8 character), so the
    texts returned are those of :class:`FullDetokenizer` over the same tokens, at the
    cost of one token per call instead of the whole sequence.

    Parameters
    ----------
    token_bytes : callable
        The bytes of one token id.
    bos : int, optional
        When the first token is this one, one space starting the text is dropped (as
        llama-cpp-python's ``detokenize`` does after a beginning-of-sequence token).
    """

    def __init__(self, token_bytes: Callable[[int], bytes], bos: int | None = None):
        self._bytes = token_bytes
        self._bos = bos
        self._pending = b""
        self._first = True
        self._strip = False  # a space starting the text is still to be dropped

    def __call__(self, token_id: int) -> str | None:
        """The text ``token_id`` completes, or None while it ends in an incomplete character."""
        data = self._bytes(token_id)
        if self._first:
            self._first = False
            self._strip = token_id == self._bos
        if self._strip and data:
            self._strip = False
            if data[:1] == b" ":
                data = data[1:]
        self._pending += data
        text = self._pending.decode("utf-8", errors="replace")
        if text.endswith("\ufffd"):
            return None
        self._pending = b""
        return text


class Engine(ABC):
    """Base class of every engine.

    Subclasses set ``name`` (and ``priority``) and implement ``info``, ``tokenize``, ``detokenize``,
    ``render_chat`` and ``_generate_ids``; ``embed`` where the backend can.
    ``unsupported`` names the parameters a backend cannot honour: giving one a
    non-default value raises :class:`~shimmy_lab.errors.UnsupportedParameterError`.

    The registry asks each engine class, without loading anything, whether it opens a
    model file or folder (:meth:`guess_can_open`) and what to list about it
    (:meth:`describe`). What an engine can do is said by class attributes, so callers
    need no type checks:

    ``supports_batching``
        :meth:`batched` serves several requests from one batched context.
    ``supports_logprobs``
        :meth:`token_logprobs` scores tokens (and ``logprobs=True`` is honoured).
    ``supports_grammar``
        ``response_format`` (JSON object or schema) constrains the output.
    ``supports_tools``
        ``tools`` may be called (calls generated under a GBNF ``grammar`` of the
        functions' schemas, :mod:`shimmy_lab.engines.tools`); elsewhere a request whose
        tools may be called is refused (``tool_choice="none"`` is accepted everywhere).

    ``priority`` orders the engines the registry asks about a model path (lower first,
    ties by name): the most specific engine claims a path before a more general one.
    The built-ins: ``llama_cpp`` 10, ``safetensors`` 20, ``transformers`` 30.
    """

    name: ClassVar[str] = "base"
    #: Lower is asked first by :func:`shimmy_lab.engines.guess_engine` and the registry.
    priority: ClassVar[int] = 100
    unsupported: ClassVar[frozenset[str]] = frozenset()
    supports_batching: ClassVar[bool] = False
    supports_logprobs: ClassVar[bool] = False
    supports_grammar: ClassVar[bool] = False
    supports_tools: ClassVar[bool] = False

    # ------------------------------------------------------------------ model files
    @classmethod
    def guess_can_open(cls, path: str | Path) -> bool:
        """Whether this engine is the natural one for the model file or folder ``path``.

        Cheap (it looks at names and at most a file's first bytes): the registry asks it
        of every file and folder it walks. The default answers ``False``.
        """
        return False

    @classmethod
    def describe(cls, path: str | Path) -> dict[str, Any]:
        """What the registry lists about the model at ``path``, without loading it.

        Returns
        -------
        dict
            ``id`` (default for the registry's id), ``engine``, ``format``,
            ``size_bytes``, ``context_length`` and ``quantization`` (``None`` when
            unknown). The default gives the name, the suffix and the size on disk.

        Raises
        ------
        OSError, ValueError
            If the model cannot be read (the registry then skips it).
        """
        path = Path(path)
        if path.is_file():
            size = path.stat().st_size
        else:
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        return {"id": path.stem if path.is_file() else path.name, "engine": cls.name,
                "format": path.suffix.lstrip(".").lower() or cls.name, "size_bytes": size,
                "context_length": None, "quantization": None}

    @classmethod
    def scoring_options(cls, context: int) -> dict[str, Any]:
        """Options of an engine used only to score sequences of at most ``context`` tokens.

        Passed to :meth:`shimmy_lab.lab.Lab.engine` by the line-fit scorer
        (:mod:`shimmy_lab.trackers.fit`); an engine whose memory grows with its context
        returns a smaller one here. The default is no option.
        """
        return {}

    # ------------------------------------------------------------------ backend API
    @property
    @abstractmethod
    def info(self) -> EngineInfo:
        """Description of the loaded model."""

    @abstractmethod
    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        """Token ids of ``text``."""

    @abstractmethod
    def detokenize(self, ids: Sequence[int]) -> str:
        """Text of token ids."""

    @property
    def vocab_size(self) -> int | None:
        """Tokens in the model's vocabulary (None where the engine does not say)."""
        return None

    def check_token_ids(self, ids: Sequence[int], param: str = "ids") -> None:
        """Raise :class:`InvalidParameterError` (naming ``param``) for an id outside the
        vocabulary: negative, or ``>= vocab_size`` (llama.cpp aborts the process on one)."""
        size = self.vocab_size
        for i in ids:
            if i < 0 or (size is not None and i >= size):
                shown = f"0 to {size - 1}" if size is not None else "0 or more"
                raise InvalidParameterError(f"Token id {i} is not in the model's vocabulary ({shown}).", param=param)

    @abstractmethod
    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        """The prompt text for ``messages`` under the model's chat template."""

    @abstractmethod
    def _generate_ids(self, prompt_ids: list[int], params: GenerationParams, max_new: int) -> Iterator[TokenStep]:
        """Yield up to ``max_new`` generated tokens, stopping early at end-of-sequence."""

    def chat_prompt(self, messages: Sequence[dict[str, Any]], tools: Sequence[Any] | None = None) -> str:
        """The prompt text of a chat: messages checked, ``tools`` and the tool calls and
        results of the history rendered (the generic format of
        :mod:`shimmy_lab.engines.tools`), then the chat template (:meth:`render_chat`)."""
        msgs = check_messages(messages)
        specs = tool_format.check_tools(tools)
        if specs or any(m.get("tool_calls") or m["role"] == "tool" for m in msgs):
            msgs = tool_format.render_history(msgs, specs)
        return self.render_chat(msgs)

    def embed(self, texts: str | Sequence[str]) -> list[list[float]]:
        """Embedding vectors, one per text (mean-pooled hidden states where supported)."""
        raise UnsupportedParameterError("input", self.name, "This engine cannot compute embeddings.")

    def token_logprobs(self, prefix: Sequence[int], ids: Sequence[int]) -> list[float]:
        """Natural-log probability of each token of ``ids`` following ``prefix`` (teacher forcing).

        Parameters
        ----------
        prefix
            Token ids the model reads first (at least one: the first of ``ids`` needs a
            position to be predicted from).
        ids
            Token ids to score.

        Returns
        -------
        list of float
            One log-probability per token of ``ids``.

        Raises
        ------
        InvalidParameterError
            If ``prefix`` or ``ids`` is empty.
        ContextLengthExceededError
            If ``prefix + ids`` does not fit the scoring context.
        """
        raise UnsupportedParameterError("logprobs", self.name, "This engine cannot score tokens.")

    def batched(self, n_seq: int, *, base: "Callable[[], Engine] | None" = None,
                n_threads: int | None = None) -> "Engine":
        """An engine generating up to ``n_seq`` requests together in one batched context.

        Only where ``supports_batching`` is true. The returned engine's ``batch``
        is the shared context: its owner closes it.

        Parameters
        ----------
        n_seq : int
            Requests decoded together.
        base : callable, optional
            Returns the engine that serves what the batch cannot (``logprobs``, grammar)
            and gives the tokenizer and chat template; default this engine.
        n_threads : int, optional
            Threads of the batched context (default: all cores).

        Raises
        ------
        UnsupportedParameterError
            If the engine cannot batch.
        """
        raise UnsupportedParameterError("batching", self.name, "This engine cannot batch requests.")

    def set_threads(self, n_threads: int) -> None:
        """Use ``n_threads`` CPU threads from the next forward pass on (the server's slots
        share the cores this way); engines without a thread setting ignore it."""

    def close(self) -> None:
        """Free the model's memory (the engine is unusable afterwards)."""

    # ------------------------------------------------------------------ helpers
    @property
    def model_id(self) -> str:
        return self.info.id

    def _params(self, kwargs: dict[str, Any]) -> GenerationParams:
        params = GenerationParams.from_kwargs(**kwargs)
        defaults = GenerationParams()
        for name in self.unsupported:
            if getattr(params, name) != getattr(defaults, name):
                raise UnsupportedParameterError(name, self.name)
        if params.tools and not self.supports_tools:
            raise UnsupportedParameterError("tools", self.name, TOOLS_HINT)
        if params.grammar and not self.supports_tools:
            raise UnsupportedParameterError("grammar", self.name, TOOLS_HINT)
        size = self.vocab_size  # llama.cpp ignores a large id and applies a negative one to another token
        bad = [t for t in params.logit_bias if t < 0 or (size is not None and t >= size)]
        if bad:
            shown = f"0..{size - 1}" if size is not None else "0 or more"
            raise InvalidParameterError(f"logit_bias has token id(s) outside the vocabulary ({shown}): {bad[:5]}.",
                                        param="logit_bias")
        return params

    def _budget(self, n_prompt: int, params: GenerationParams, param: str) -> int:
        """Tokens that may be generated; raises when the prompt and max_tokens overflow."""
        ctx = self.info.context_length
        want = params.max_tokens if params.max_tokens is not None else max(ctx - n_prompt, 0)
        if n_prompt + want > ctx or want <= 0:
            raise ContextLengthExceededError(n_prompt, max(want, 1), ctx, param=param)
        return want

    def _token_text(self, token_id: int) -> str:
        return self.detokenize([token_id])

    def _detokenizer(self) -> Callable[[int], str | None]:
        """A function turning one generation's tokens, one at a time, into text.

        Called with each generated token id in turn, it returns the text that token
        completes (possibly ``""``), or ``None`` while the text so far ends in an
        incomplete UTF-8 character (the bytes wait for the next token). The default
        detokenizes every token again at each call (:class:`FullDetokenizer`: right
        whatever the tokenizer); an engine whose tokens' bytes simply join returns a
        :class:`ByteDetokenizer` (one token's bytes per call).
        """
        return FullDetokenizer(self.detokenize)

    def _logprob_entry(self, step: TokenStep, text: str, top: int | None) -> dict[str, Any]:
        entry = {
            "token": text,
            "logprob": float(step.logprob if step.logprob is not None else 0.0),
            "bytes": list(text.encode("utf-8")),
            "top_logprobs": [],
        }
        for tid, lp in step.top_logprobs[: top or 0]:
            t = self._token_text(tid)
            entry["top_logprobs"].append({"token": t, "logprob": float(lp), "bytes": list(t.encode("utf-8"))})
        return entry

    def _text_stream(
        self, prompt_ids: list[int], params: GenerationParams, max_new: int
    ) -> Iterator[tuple[str, list[dict[str, Any]], str | None, int]]:
        """Yield ``(text_delta, logprob_entries, finish_reason, n_generated)``.

        Decoding is incremental (:meth:`_detokenizer`), so multi-byte characters split
        across tokens come out whole.
        """
        scanner = _StopScanner(params.stop)
        text_of = self._detokenizer()
        waiting: list[TokenStep] = []  # tokens whose text is an incomplete UTF-8 sequence so far
        n = 0
        for step in self._generate_ids(prompt_ids, params, max_new):
            n += 1
            piece = text_of(step.token_id)
            if piece is None:  # incomplete UTF-8 sequence: wait for the next token
                waiting.append(step)
                continue
            lps = []
            if params.logprobs:  # one entry per token; a split character's text goes on its last token
                lps = [self._logprob_entry(w, "", params.top_logprobs) for w in waiting]
                lps.append(self._logprob_entry(step, piece, params.top_logprobs))
            waiting = []
            out = scanner.feed(piece)
            if scanner.stopped:
                yield out, lps, "stop", n
                return
            if out or lps:
                yield out, lps, None, n
        tail = scanner.flush()
        yield tail, [], "length" if n >= max_new else "stop", n

    # ------------------------------------------------------------------ public API
    def chat(self, messages: Sequence[dict[str, Any]], *, stream: bool = False,
             stream_options: dict[str, Any] | None = None, **kwargs: Any):
        """Chat completion, OpenAI style.

        Parameters
        ----------
        messages : list of dict
            ``[{"role": "user", "content": "..."}]``.
        stream : bool
            If true, return an iterator of ``chat.completion.chunk`` dicts.
        stream_options : dict, optional
            ``{"include_usage": True}`` adds a final chunk with usage and no choices.
        **kwargs
            Generation parameters, see :class:`GenerationParams`.

        Returns
        -------
        dict or iterator of dict
        """
        params = self._params(kwargs)
        if params.tool_spec() is not None:
            return self._tool_chat(messages, params, stream_options or {}, stream)
        prompt = self.chat_prompt(messages, params.tools)
        prompt_ids = self.tokenize(prompt, add_special=False)
        max_new = self._budget(len(prompt_ids), params, "messages")
        chunks = self._chat_chunks(prompt_ids, params, max_new, stream_options or {}, stream)
        return chunks if stream else shapes.collect_chat_chunks(chunks)

    def _chat_chunks(self, prompt_ids, params, max_new, stream_options, stream) -> Iterator[dict[str, Any]]:
        cid, created, model = shapes.new_id("chatcmpl"), int(time.time()), self.model_id
        total = 0
        for index in range(params.n):
            p = _with_seed(params, index)
            yield shapes.chat_chunk(id=cid, model=model, created=created, index=index,
                                    delta={"role": "assistant", "content": ""})
            for text, lps, finish, n in self._text_stream(prompt_ids, p, max_new):
                if text or lps or finish:
                    delta = {"content": text} if text else {}
                    logprobs = {"content": lps, "refusal": None} if lps else None
                    yield shapes.chat_chunk(id=cid, model=model, created=created, index=index, delta=delta,
                                            logprobs=logprobs, finish_reason=finish)
                if finish:
                    total += n
        use = shapes.usage(len(prompt_ids), total)
        if not stream or stream_options.get("include_usage"):
            yield shapes.chat_chunk(id=cid, model=model, created=created, usage=use, choices=False)

    def _tool_chat(self, messages, params: GenerationParams, stream_options: dict[str, Any], stream: bool):
        """A chat whose answer may call functions (:func:`~shimmy_lab.engines.tools.tool_turn`
        over :meth:`_tool_generator`): ``tool_calls`` deltas, ``finish_reason`` ``tool_calls``."""
        specs, choice = params.tool_spec()
        call_grammar(specs)  # every schema can be enforced (else a 400 naming the tool), before any chunk
        prompt = self.chat_prompt(messages, specs)  # all of them (a stable prefix); the grammar narrows
        n_prompt = len(self.tokenize(prompt))
        max_new = self._budget(n_prompt, params, "messages")
        chunks = self._tool_chunks(prompt, params, (specs, choice), n_prompt, max_new, stream_options, stream)
        return chunks if stream else shapes.collect_chat_chunks(chunks)

    def _tool_chunks(self, prompt, params, spec, n_prompt, max_new, stream_options, stream):
        cid, created, model = shapes.new_id("chatcmpl"), int(time.time()), self.model_id
        total = 0
        for index in range(params.n):
            generate = self._tool_generator(prompt, _with_seed(params, index), max_new)
            yield shapes.chat_chunk(id=cid, model=model, created=created, index=index, delta={"role": "assistant"})
            for event in tool_turn(generate, prompt, *spec, parallel=params.parallel_tool_calls):
                finish = event.reason if event.kind == "finish" else None
                if finish:
                    total += min(len(self.tokenize(event.text)), max_new) if event.text else 0
                yield shapes.chat_chunk(id=cid, model=model, created=created, index=index,
                                        delta=tool_delta(event), finish_reason=finish)
        if not stream or stream_options.get("include_usage"):
            yield shapes.chat_chunk(id=cid, model=model, created=created, choices=False,
                                    usage=shapes.usage(n_prompt, total))

    def _tool_generator(self, prompt: str, params: GenerationParams, max_new: int):
        """``generate(text, grammar)`` for :func:`~shimmy_lab.engines.tools.tool_turn`: a
        completion of ``text`` (``prompt`` and what the turn wrote so far) within the turn's
        budget of ``max_new`` tokens, under the GBNF ``grammar`` (then without stop sequences)."""
        spent = [0]  # tokens generated by the earlier runs of the turn

        def generate(text: str, grammar: str | None):
            p = replace(params, tools=None, tool_choice=None, grammar=grammar, logprobs=False, top_logprobs=None,
                        stop=[] if grammar else params.stop, n=1)
            n = 0
            try:
                for piece, _lps, finish, n in self._text_stream(self.tokenize(text), p, max(max_new - spent[0], 1)):
                    yield piece, finish
            finally:
                spent[0] += n
        return generate

    def complete(self, prompt: str, *, stream: bool = False, echo: bool = False,
                 stream_options: dict[str, Any] | None = None, **kwargs: Any):
        """Text completion, OpenAI style (``text_completion`` dicts).

        Parameters
        ----------
        prompt : str
            Raw prompt text (no chat template).
        stream : bool
            If true, return an iterator of ``text_completion`` chunks.
        echo : bool
            Prepend the prompt to the returned text.
        """
        if not isinstance(prompt, str):
            raise InvalidParameterError("prompt must be a string.", param="prompt")
        params = self._params(kwargs)
        prompt_ids = self.tokenize(prompt, add_special=True)
        max_new = self._budget(len(prompt_ids), params, "prompt")
        chunks = self._text_chunks(prompt, prompt_ids, params, max_new, echo, stream_options or {}, stream)
        return chunks if stream else shapes.collect_text_chunks(chunks)

    def _text_chunks(self, prompt, prompt_ids, params, max_new, echo, stream_options, stream):
        cid, created, model = shapes.new_id("cmpl"), int(time.time()), self.model_id
        total = 0
        for index in range(params.n):
            p = _with_seed(params, index)
            if echo:
                yield shapes.text_completion(id=cid, model=model, created=created, usage=None,
                                             choices=[_text_choice(index, prompt, None, None)])
            for text, lps, finish, n in self._text_stream(prompt_ids, p, max_new):
                if text or lps or finish:
                    lp = _legacy_logprobs(lps) if lps else None
                    yield shapes.text_completion(id=cid, model=model, created=created, usage=None,
                                                 choices=[_text_choice(index, text, lp, finish)])
                if finish:
                    total += n
        if not stream or stream_options.get("include_usage"):
            yield shapes.text_completion(id=cid, model=model, created=created, choices=[],
                                         usage=shapes.usage(len(prompt_ids), total))

    def __repr__(self) -> str:
        i = self.info
        return f"<{type(self).__name__} id={i.id!r} format={i.format} ctx={i.context_length} path={Path(i.path).name!r}>"


def check_scoring(prefix: Sequence[int], ids: Sequence[int], limit: int) -> tuple[list[int], list[int]]:
    """Validate the arguments of :meth:`Engine.token_logprobs` against a context of ``limit``."""
    prefix, ids = [int(t) for t in prefix], [int(t) for t in ids]
    if not prefix:
        raise InvalidParameterError("prefix must hold at least one token.", param="prefix")
    if not ids:
        raise InvalidParameterError("ids must hold at least one token.", param="ids")
    if len(prefix) + len(ids) > limit:
        raise ContextLengthExceededError(len(prefix), len(ids), limit, param="ids")
    return prefix, ids


def _with_seed(params: GenerationParams, index: int) -> GenerationParams:
    """Choice ``index`` of ``n`` gets seed + index, so choices differ but stay reproducible."""
    if index == 0 or params.seed is None:
        return params

    return replace(params, seed=params.seed + index)


def tool_delta(event: Any) -> dict[str, Any]:
    """The chunk delta of a :class:`~shimmy_lab.engines.tools.ToolEvent`: ``content``, or a
    ``tool_calls`` item (``index``, and ``id``/``type``/``name`` first, then ``arguments``)."""
    if event.kind == "content":
        return {"content": event.text}
    if event.kind == "call":
        return {"tool_calls": [{"index": event.index, "id": event.id, "type": "function",
                                "function": {"name": event.name, "arguments": ""}}]}
    if event.kind == "arguments":
        return {"tool_calls": [{"index": event.index, "function": {"arguments": event.text}}]}
    return {}


def _text_choice(index: int, text: str, logprobs: dict | None, finish: str | None) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}


def _legacy_logprobs(entries: list[dict[str, Any]]) -> dict[str, list]:
    return {
        "tokens": [e["token"] for e in entries],
        "token_logprobs": [e["logprob"] for e in entries],
        "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
        "text_offset": [0 for _ in entries],
    }
