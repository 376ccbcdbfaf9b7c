"""Function tools: validation, the prompt, the grammar of a call, and calls parsed from text.

Pure functions (no engine, no server): the engines and the server's routes call them.

The *generic format* (Hermes / Qwen style) is used for every model whose chat template
has no tool format of its own. The functions are listed in a system note
(:func:`system_note`), and the model answers a call as::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

(several blocks for parallel calls). Earlier calls in the history are rendered the same
way, and ``tool`` messages as a ``user`` turn ``<tool_response>...</tool_response>``.
A chat template that handles ``tools`` itself and uses the same ``<tool_call>`` markers
(Qwen 2.5/3, Hermes, SmolLM3) renders the tools and the history instead
(:func:`template_uses_tools`).

Calls are always valid: the text after :data:`MARKER` is generated under the GBNF grammar
of :func:`call_grammar` (the functions' JSON schemas). With ``tool_choice="auto"`` the
model writes freely until it writes the marker, and only then is the grammar applied
(a *lazy* grammar: a text answer costs nothing extra); :func:`tool_turn` runs that logic
over any ``generate(prompt, grammar)`` function and yields :class:`ToolEvent` items.

Public API: :class:`Tool`, :class:`ToolChoice`, :func:`check_tools`,
:func:`check_tool_choice`, :func:`call_schema`, :func:`call_grammar`, :func:`call_head`,
:func:`system_note`, :func:`template_uses_tools`, :func:`render_history`,
:func:`parse_calls`, :func:`new_call_id`, :func:`tool_turn`, :class:`ToolEvent`,
:data:`MARKER`, :data:`CLOSE`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..errors import InvalidParameterError, UnsupportedParameterError

__all__ = [
    "MARKER", "CLOSE", "Tool", "ToolChoice", "ToolEvent", "check_tools", "check_tool_choice", "call_schema",
    "call_grammar", "call_head", "system_note", "template_uses_tools", "render_history", "parse_calls", "new_call_id",
    "tool_turn",
]

#: Opens a call in the generic format (and in Hermes / Qwen templates).
MARKER = "<tool_call>"
#: Closes a call.
CLOSE = "</tool_call>"
#: Most calls in one answer when parallel calls are allowed.
MAX_CALLS = 8

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_EMPTY_PARAMETERS = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class Tool:
    """One function tool.

    Attributes
    ----------
    name : str
        Function name (``[a-zA-Z0-9_-]{1,64}``).
    description : str or None
        What the function does (shown to the model).
    parameters : dict
        JSON schema of the arguments object.
    strict : bool or None
        OpenAI's ``strict`` flag (calls are always schema-valid here).
    """

    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: dict(_EMPTY_PARAMETERS))
    strict: bool | None = None

    def to_openai(self) -> dict[str, Any]:
        """The chat-completions shape ``{"type": "function", "function": {...}}``."""
        fn: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description is not None:
            fn["description"] = self.description
        if self.strict is not None:
            fn["strict"] = self.strict
        return {"type": "function", "function": fn}


@dataclass(frozen=True)
class ToolChoice:
    """What the model may do: ``mode`` ``none``, ``auto`` or ``required``, and the ``names``
    of the functions it may call (all the tools' unless a choice narrowed them)."""

    mode: str
    names: tuple[str, ...]

    def allowed(self, tools: Sequence[Tool]) -> list[Tool]:
        """The tools that may be called, in the order given."""
        return [t for t in tools if t.name in self.names]


@dataclass(frozen=True)
class ToolEvent:
    """One step of a tool turn (see :func:`tool_turn`).

    ``kind`` is ``content`` (``text``: free text), ``call`` (a call starts: ``index``,
    ``id``, ``name``), ``arguments`` (``index``, ``text``: a fragment of the arguments'
    JSON) or ``finish`` (``reason``: ``tool_calls``, ``stop`` or ``length``; ``text``:
    everything generated, to count tokens).
    """

    kind: str
    text: str = ""
    index: int = 0
    id: str = ""
    name: str = ""
    reason: str = ""


# ---------------------------------------------------------------------------- validation
def _tool(item: Any, param: str) -> Tool:
    if not isinstance(item, Mapping):
        raise InvalidParameterError(f"{param} must be an object.", param=param)
    kind = item.get("type", "function")
    if kind != "function":
        raise UnsupportedParameterError(f"{param}.type", "server",
                                        f"Only function tools are supported, not {kind!r}.")
    # chat shape {"type", "function": {...}} or the Responses API's flat {"type", "name", ...}
    fn, where = (item["function"], f"{param}.function") if "function" in item else (item, param)
    if not isinstance(fn, Mapping):
        raise InvalidParameterError(f"{where} must be an object.", param=where)
    name = fn.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidParameterError(
            f"{where}.name must be 1-64 characters of a-z, A-Z, 0-9, _ and -, got {name!r}.", param=f"{where}.name")
    desc = fn.get("description")
    if desc is not None and not isinstance(desc, str):
        raise InvalidParameterError(f"{where}.description must be a string.", param=f"{where}.description")
    params = fn.get("parameters")
    if params is None:
        params = dict(_EMPTY_PARAMETERS)
    if not isinstance(params, Mapping):
        raise InvalidParameterError(f"{where}.parameters must be a JSON schema object.", param=f"{where}.parameters")
    strict = fn.get("strict")
    return Tool(name, desc, dict(params), strict if isinstance(strict, bool) else None)


def check_tools(tools: Any, param: str = "tools") -> list[Tool]:
    """Validate a ``tools`` list (chat shape, or the Responses API's flat function shape).

    Raises
    ------
    InvalidParameterError
        For a malformed tool, a bad name or a duplicate name (``param`` names the item,
        e.g. ``tools[1].function.name``); :class:`UnsupportedParameterError` for a tool
        that is not a function.
    """
    if tools is None:
        return []
    if not isinstance(tools, (list, tuple)):
        raise InvalidParameterError(f"{param} must be a list.", param=param)
    out = [t if isinstance(t, Tool) else _tool(t, f"{param}[{i}]") for i, t in enumerate(tools)]
    seen: set[str] = set()
    for i, t in enumerate(out):
        if t.name in seen:
            raise InvalidParameterError(f"Duplicate function name {t.name!r} in {param}.", param=f"{param}[{i}]")
        seen.add(t.name)
    return out


def _choice_name(obj: Mapping[str, Any], param: str) -> str:
    fn = obj.get("function") if isinstance(obj.get("function"), Mapping) else obj  # chat / Responses shape
    name = fn.get("name")
    if not isinstance(name, str):
        raise InvalidParameterError(f"{param} must name a function.", param=param)
    return name


def check_tool_choice(choice: Any, tools: Sequence[Tool], param: str = "tool_choice") -> ToolChoice:
    """Validate ``tool_choice`` against ``tools`` (``None`` means ``auto`` with tools, else ``none``).

    Accepts ``"none"``, ``"auto"``, ``"required"``, ``{"type": "function", "function":
    {"name": ...}}`` (or the Responses API's ``{"type": "function", "name": ...}``) and
    ``{"type": "allowed_tools", "allowed_tools": {"mode": ..., "tools": [...]}}``.

    Raises
    ------
    InvalidParameterError
        For an unknown value, a function that is not among ``tools``, or a choice that
        needs tools when there are none.
    """
    names = tuple(t.name for t in tools)
    if choice is None:
        return ToolChoice("auto" if tools else "none", names)
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise InvalidParameterError(f"{param} must be 'none', 'auto', 'required' or an object, got {choice!r}.",
                                        param=param)
        if choice == "required" and not tools:
            raise InvalidParameterError(f"{param} 'required' needs tools.", param=param)
        return ToolChoice(choice, names if choice != "none" else ())
    if not isinstance(choice, Mapping):
        raise InvalidParameterError(f"{param} must be a string or an object.", param=param)
    if choice.get("type") == "function":
        name = _choice_name(choice, param)
        _known(name, names, param)
        return ToolChoice("required", (name,))
    if choice.get("type") == "allowed_tools":
        spec = choice.get("allowed_tools", choice)  # Responses API: mode and tools at the top level
        mode = spec.get("mode") if isinstance(spec, Mapping) else None
        items = spec.get("tools") if isinstance(spec, Mapping) else None
        if mode not in ("auto", "required") or not isinstance(items, list):
            raise InvalidParameterError(f"{param}.allowed_tools needs a mode 'auto' or 'required' and a tools list.",
                                        param=f"{param}.allowed_tools")
        allowed = tuple(_choice_name(t, f"{param}.allowed_tools.tools") for t in items if isinstance(t, Mapping))
        for name in allowed:
            _known(name, names, f"{param}.allowed_tools.tools")
        return ToolChoice(mode, tuple(n for n in names if n in allowed))
    raise InvalidParameterError(f"{param}.type must be 'function' or 'allowed_tools'.", param=f"{param}.type")


def _known(name: str, names: Sequence[str], param: str) -> None:
    if name not in names:
        raise InvalidParameterError(f"{param} names the function {name!r}, which is not among the tools "
                                    f"({', '.join(names) or 'none'}).", param=param)


# ---------------------------------------------------------------------------- schema and grammar
def call_schema(tools: Sequence[Tool]) -> dict[str, Any]:
    """JSON schema of one call object ``{"name": ..., "arguments": {...}}`` of ``tools``."""
    options = [{"type": "object", "properties": {"name": {"const": t.name}, "arguments": t.parameters},
                "required": ["name", "arguments"], "additionalProperties": False} for t in tools]
    return options[0] if len(options) == 1 else {"anyOf": options}


def _literal(text: str) -> str:
    return json.dumps(text)  # a GBNF string literal escapes like a JSON string


def call_head(name: str) -> str:
    """The fixed start of a call of ``name`` after :data:`MARKER` (up to its arguments)."""
    return '\n{"name": "' + name + '", "arguments": '


def call_grammar(tools: Sequence[Tool], *, parallel: bool = True, prefilled: bool = False) -> str:
    """GBNF grammar of what follows :data:`MARKER`: one call (up to :data:`MAX_CALLS` with
    ``parallel``), each ``\n{"name": "...", "arguments": {...}}\n</tool_call>``.

    The arguments follow each function's JSON schema (converted by llama-cpp-python's
    ``SchemaConverter``; ``$defs``/``$ref`` are resolved). With ``prefilled`` (one tool
    only) the first call's :func:`call_head` is already written: the grammar starts at
    its arguments.

    Raises
    ------
    InvalidParameterError
        If there is no tool, or a schema cannot be converted (``param`` ``tools[i]``).
    """
    from llama_cpp.llama_grammar import SchemaConverter  # heavy: llama_cpp, loaded with a model

    if not tools or (prefilled and len(tools) != 1):
        raise InvalidParameterError("No function may be called.", param="tools")
    conv = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    calls, first_args = [], ""
    for i, tool in enumerate(tools):
        try:
            schema = conv.resolve_refs(json.loads(json.dumps(tool.parameters)), f"tool{i}")
            args = conv.visit(schema, f"fn{i}-args")
        except Exception as exc:  # noqa: BLE001 - the converter raises bare exceptions
            raise InvalidParameterError(f"The parameters schema of {tool.name!r} cannot be enforced: {exc}",
                                        param=f"tools[{i}].function.parameters") from None
        calls.append(f"shimmy-call{i} ::= {_literal(call_head(tool.name))} {args} \"}}\"")
        first_args = first_args or args
    block = 'shimmy-call "\\n" ' + _literal(CLOSE)
    first = f"{first_args} \"}}\" \"\\n\" {_literal(CLOSE)}" if prefilled else block
    more = "".join(f' ("\\n" {_literal(MARKER)} {block}' for _ in range(MAX_CALLS - 1)) + ")?" * (MAX_CALLS - 1)
    rules = [f"root ::= {first}{more if parallel else ''}",
             "shimmy-call ::= " + " | ".join(f"shimmy-call{i}" for i in range(len(tools))), *calls,
             conv.format_grammar()]
    return "\n".join(rules)


# ---------------------------------------------------------------------------- prompt
def system_note(tools: Sequence[Tool]) -> str:
    """The generic format's instructions: the functions and how to call them."""
    listed = "\n".join(json.dumps(t.to_openai()["function"], ensure_ascii=False) for t in tools)
    return (f"You can call these functions:\n<tools>\n{listed}\n</tools>\n"
            f'To call one, answer with:\n{MARKER}\n{{"name": <name>, "arguments": <arguments>}}\n{CLOSE}')


def template_uses_tools(template: str | None) -> bool:
    """Whether a chat template renders ``tools`` itself in the generic format's markers."""
    return bool(template) and "tools" in template and MARKER in template


def _call_text(call: Mapping[str, Any]) -> str:
    fn = call.get("function") or {}
    args = fn.get("arguments")
    try:
        args = json.loads(args) if isinstance(args, str) else (args or {})
    except ValueError:
        pass
    return f"{MARKER}\n" + json.dumps({"name": fn.get("name"), "arguments": args}, ensure_ascii=False) + f"\n{CLOSE}"


def _native_calls(calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls for a template (arguments as objects, as Hugging Face templates expect)."""
    out = []
    for call in calls:
        fn = dict(call.get("function") or {})
        try:
            fn["arguments"] = json.loads(fn.get("arguments") or "{}")
        except (TypeError, ValueError):
            pass
        out.append({"id": call.get("id"), "type": "function", "function": fn})
    return out


def render_history(messages: Sequence[Mapping[str, Any]], tools: Sequence[Tool] = (), *,
                   native: bool = False) -> list[dict[str, Any]]:
    """Messages ready for a chat template, with tools, calls and tool results rendered.

    Parameters
    ----------
    messages : list of dict
        Checked messages (``role``, ``content``; ``tool_calls`` on assistant messages,
        ``tool_call_id`` on tool messages).
    tools : list of Tool
        Functions to list (none: only the history is rendered).
    native : bool
        The template renders tools itself (:func:`template_uses_tools`): calls keep their
        structure (arguments as objects), tool messages their role. Otherwise every
        message becomes plain ``role``/``content`` in the generic format.
    """
    if native:
        return [dict(m, tool_calls=_native_calls(m["tool_calls"])) if m.get("tool_calls") else dict(m)
                for m in messages]
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "tool":
            text = f"<tool_response>\n{m.get('content') or ''}\n</tool_response>"
            if out and out[-1].get("_tool"):
                out[-1]["content"] += "\n" + text
            else:
                out.append({"role": "user", "content": text, "_tool": True})
        elif m["role"] == "assistant" and m.get("tool_calls"):
            parts = [m.get("content") or ""] + [_call_text(c) for c in m["tool_calls"]]
            out.append({"role": "assistant", "content": "\n".join(p for p in parts if p)})
        else:
            out.append({"role": m["role"], "content": m.get("content") or ""})
    out = [{"role": m["role"], "content": m["content"]} for m in out]
    if tools:
        note = system_note(tools)
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": (out[0]["content"] + "\n\n" + note).strip()}
        else:
            out.insert(0, {"role": "system", "content": note})
    return out


# ---------------------------------------------------------------------------- output
def new_call_id() -> str:
    """A fresh tool call id, ``call_`` and 24 hex digits."""
    return "call_" + uuid.uuid4().hex[:24]


_CALL_RE = re.compile(re.escape(MARKER) + r"\s*(.*?)\s*" + re.escape(CLOSE), re.S)


def parse_calls(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """Split a model's answer into its text and its calls (OpenAI ``tool_calls`` items).

    Blocks that are not a JSON object with a string ``name`` are left in the text.

    Returns
    -------
    content : str or None
        The text outside the calls (``None`` when only whitespace and there are calls).
    calls : list of dict
        ``{"id": "call_...", "type": "function", "function": {"name", "arguments"}}``,
        ``arguments`` a JSON string.
    """
    calls, kept, pos = [], [], 0
    for m in _CALL_RE.finditer(text):
        try:
            obj = json.loads(m.group(1))
        except ValueError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            continue
        args = obj.get("arguments", obj.get("parameters", {}))
        kept.append(text[pos:m.start()])
        pos = m.end()
        calls.append({"id": new_call_id(), "type": "function",
                      "function": {"name": obj["name"],
                                   "arguments": args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)}})
    kept.append(text[pos:])
    content = "".join(kept)
    return (None if calls and not content.strip() else content), calls


_HEAD_RE = re.compile(r'\s*(?:' + re.escape(MARKER) + r')?\s*\{"name": "([a-zA-Z0-9_-]+)", "arguments": ')


def _arguments(rest: str) -> str:
    """The arguments' JSON in the text after ``"arguments": ``: up to the call object's
    closing brace (the grammar puts no newline inside a call), or all of it when cut off."""
    line = rest.split("\n", 1)[0].rstrip()
    if line.endswith("}"):
        try:
            json.loads(line[:-1])
            return line[:-1].rstrip()
        except ValueError:
            pass
    return line


class _CallReader:
    """Reads grammar-constrained call text incrementally into call events.

    The events of a call are held until the call is complete, so a call cut off by
    ``max_tokens`` after a complete one is dropped; a call identical to an earlier one
    of the same answer (a small model repeating itself) is dropped and ends the answer
    (``repeated``).
    """

    def __init__(self) -> None:
        self.buf = ""
        self.pos = 0
        self.head: re.Match | None = None  # the current call's head
        self.calls: list[tuple[str, str]] = []  # complete calls: (name, arguments)
        self.repeated = False

    def feed(self, text: str) -> Iterator[ToolEvent]:
        self.buf += text
        while not self.repeated:
            if self.head is None:
                self.head = _HEAD_RE.match(self.buf, self.pos)
                if self.head is None:
                    return
            rest = self.buf[self.head.end():]
            end = rest.find(CLOSE)
            if end < 0:
                return
            yield from self._close(rest[:end])

    def _close(self, body: str) -> Iterator[ToolEvent]:
        name, args = self.head.group(1), _arguments(body)
        self.pos, self.head = self.head.end() + len(body) + len(CLOSE), None
        if (name, args) in self.calls:
            self.repeated = True
            return
        yield from self._events(name, args, len(self.calls))
        self.calls.append((name, args))

    def pending(self) -> Iterator[ToolEvent]:
        """The events of a call cut off before its end (sent only when it is the first)."""
        if self.head is not None and not self.calls:
            yield from self._events(self.head.group(1), _arguments(self.buf[self.head.end():]), 0)

    @staticmethod
    def _events(name: str, args: str, index: int) -> Iterator[ToolEvent]:
        yield ToolEvent("call", index=index, id=new_call_id(), name=name)
        for piece in re.findall(r'"(?:[^"\\]|\\.)*"?|[^"]+', args):  # strings whole, the rest between them
            yield ToolEvent("arguments", text=piece, index=index)


def _free_run(pieces: Iterable[tuple[str, str | None]], out: list[str]) -> Iterator[ToolEvent]:
    """Stream free text until :data:`MARKER` appears (then stop: the caller constrains the rest).

    Text that could still be the start of the marker is held back. Ends with a ``finish``
    event whose reason is ``call`` when the marker was found.
    """
    pending, reason = "", "stop"
    for text, finish in pieces:
        pending += text
        at = pending.find(MARKER)
        if at >= 0:
            out.append(pending[:at])
            if pending[:at]:
                yield ToolEvent("content", text=pending[:at])
            yield ToolEvent("finish", reason="call")
            return
        hold = next((k for k in range(min(len(MARKER) - 1, len(pending)), 0, -1) if pending.endswith(MARKER[:k])), 0)
        ready, pending = pending[: len(pending) - hold], pending[len(pending) - hold:]
        if ready:
            out.append(ready)
            yield ToolEvent("content", text=ready)
        reason = finish or reason
    if pending:
        out.append(pending)
        yield ToolEvent("content", text=pending)
    yield ToolEvent("finish", reason=reason)


def tool_turn(generate: Callable[[str, str | None], Iterable[tuple[str, str | None]]], prompt: str,
              tools: Sequence[Tool], choice: ToolChoice, *, parallel: bool = True) -> Iterator[ToolEvent]:
    """Run one assistant turn that may call functions; yield :class:`ToolEvent` items.

    Parameters
    ----------
    generate : callable
        ``generate(prompt, grammar)`` streams ``(text, finish_reason)`` pieces of a
        completion of ``prompt`` (``grammar``: GBNF text or ``None``; ``finish_reason``
        ``None`` until the last piece, then ``stop`` or ``length``).
    prompt : str
        The rendered chat prompt, ending where the assistant's answer starts.
    tools : list of Tool
        All the request's tools.
    choice : ToolChoice
        ``auto``: free text until the model writes :data:`MARKER`, then calls under the
        grammar. ``required``: calls only. ``none``: free text.
    parallel : bool
        Several calls in one answer.
    """
    allowed = choice.allowed(tools)
    text: list[str] = []
    if choice.mode != "required" or not allowed:
        finish = ToolEvent("finish", reason="stop")
        pieces = iter(generate(prompt, None))
        try:
            for event in _free_run(pieces, text):
                if event.kind == "finish":
                    finish = event
                else:
                    yield event
        finally:
            getattr(pieces, "close", lambda: None)()  # free the backend before the constrained run
        if finish.reason != "call" or not allowed:
            yield ToolEvent("finish", reason=finish.reason if finish.reason != "call" else "stop", text="".join(text))
            return
        text.append(MARKER)  # the model wrote it
    prompt = prompt + "".join(text) + ("" if text else MARKER)
    head = call_head(allowed[0].name) if len(allowed) == 1 else ""  # one function: its head is written for it
    grammar = call_grammar(allowed, parallel=parallel, prefilled=bool(head))
    yield from _constrained(generate, prompt + head, grammar, text, head)


def _constrained(generate, prompt: str, grammar: str, text: list[str], head: str) -> Iterator[ToolEvent]:
    reader = _CallReader()
    yield from reader.feed(head)
    pieces = iter(generate(prompt, grammar))
    try:
        for piece, _finish in pieces:
            text.append(piece)
            yield from reader.feed(piece)
            if reader.repeated:
                break
    finally:
        getattr(pieces, "close", lambda: None)()
    if reader.calls:
        yield ToolEvent("finish", reason="tool_calls", text="".join(text))
        return
    yield from reader.pending()
    yield ToolEvent("finish", reason="length", text="".join(text))
