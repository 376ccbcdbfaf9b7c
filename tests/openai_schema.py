"""Validate response bodies against the official OpenAI schemas (shared/openai-spec).

``validate_openai(obj, "CreateChatCompletionResponse")`` raises
``jsonschema.ValidationError`` when ``obj`` does not conform.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest


def spec_path() -> Path:
    """Location of schemas.json: $SHIMMY_OPENAI_SPEC, else ../shared/openai-spec beside the repo."""
    env = os.environ.get("SHIMMY_OPENAI_SPEC")
    if env:
        p = Path(env)
        return p / "schemas.json" if p.is_dir() else p
    return Path(__file__).resolve().parents[2] / "shared" / "openai-spec" / "schemas.json"


def _honour_nullable(node):
    """OpenAPI 3.0's ``nullable: true`` (kept in schemas.json) means null is allowed;
    JSON Schema ignores the keyword, so rewrite it as ``anyOf [..., null]``."""
    if isinstance(node, list):
        return [_honour_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _honour_nullable(v) for k, v in node.items()}
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.lru_cache(maxsize=1)
def _document() -> dict:
    path = spec_path()
    if not path.exists():
        pytest.fail(f"OpenAI schemas not found at {path}; set SHIMMY_OPENAI_SPEC")
    return _honour_nullable(json.loads(path.read_text()))


@functools.lru_cache(maxsize=None)
def _validator(name: str):
    import jsonschema

    doc = _document()
    if name not in doc["$defs"]:
        raise KeyError(f"no schema {name!r} in {spec_path()}")
    schema = {"$schema": doc.get("$schema"), "$defs": doc["$defs"], "$ref": f"#/$defs/{name}"}
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def validate_openai(obj: dict, name: str) -> dict:
    """Validate ``obj`` against the OpenAI schema ``name``; returns ``obj``."""
    _validator(name).validate(obj)
    return obj
