"""Validate response bodies against the official OpenAI schemas.

The schemas are ``../shared/openai-spec/schemas.json`` next to the repository (the
layout of the workspace and of CI), or the file / folder named by
``$SHIMMY_OPENAI_SPEC``. Every ``$ref`` points at ``#/$defs/NAME``, so a schema is
validated as ``{"$defs": ..., "$ref": "#/$defs/NAME"}``. OpenAPI's ``nullable: true``
(which JSON Schema ignores) is rewritten as "or null" first.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["spec_path", "validate_openai", "validate_sse"]


def spec_path() -> Path:
    """Path of ``schemas.json``."""
    env = os.environ.get("SHIMMY_OPENAI_SPEC")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "openai-spec"
    return path / "schemas.json" if path.is_dir() else path


@functools.lru_cache(maxsize=None)
def _spec() -> dict[str, Any]:
    return _nullable(json.loads(spec_path().read_text()))


def _nullable(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 ``nullable: true`` (ignored by JSON Schema) as "or null"."""
    if isinstance(node, list):
        return [_nullable(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable(v) for k, v in node.items()}
    if node.pop("nullable", False) is True:
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        elif isinstance(node.get("type"), list):
            node["type"] = [*node["type"], "null"] if "null" not in node["type"] else node["type"]
        else:
            return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.lru_cache(maxsize=None)
def _validator(name: str):
    import jsonschema

    spec = _spec()
    if name not in spec["$defs"]:
        raise KeyError(f"no schema {name!r} in {spec_path()}")
    schema = {"$schema": spec.get("$schema"), "$defs": spec["$defs"], "$ref": f"#/$defs/{name}"}
    return jsonschema.Draft202012Validator(schema)


def validate_openai(obj: Any, schema_name: str) -> Any:
    """Raise ``jsonschema.ValidationError`` unless ``obj`` matches ``schema_name``; return ``obj``."""
    _validator(schema_name).validate(obj)
    return obj


def validate_sse(text: str, schema_name: str = "CreateChatCompletionStreamResponse") -> list[dict[str, Any]]:
    """Parse an OpenAI SSE body, check its framing and every chunk; return the chunks.

    The body must be ``data: {json}`` events separated by blank lines, ending with
    ``data: [DONE]``, with no comment lines.
    """
    events = [e for e in text.split("\n\n") if e.strip()]
    assert events, "empty stream"
    assert events[-1] == "data: [DONE]", f"stream does not end with [DONE]: {events[-1][:200]!r}"
    chunks = []
    for event in events[:-1]:
        assert event.startswith("data: ") and "\n" not in event, f"bad SSE event {event[:200]!r}"
        chunk = json.loads(event[len("data: "):])
        if schema_name == "CreateCompletionResponse":
            # the spec has no chunk schema for legacy completions; their chunks are
            # CreateCompletionResponse objects whose finish_reason is null until the end
            checked = {**chunk, "choices": [{**c, "finish_reason": c["finish_reason"] or "stop"}
                                            for c in chunk["choices"]]}
            validate_openai(checked, schema_name)
        else:
            validate_openai(chunk, schema_name)
        chunks.append(chunk)
    return chunks
