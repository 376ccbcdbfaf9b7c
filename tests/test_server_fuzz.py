"""Schemathesis against the server's own OpenAPI document (``/openapi.json``).

Every route's request body is declared there (``openapi_body``: the routes parse bodies
by hand), so schemathesis generates bodies, valid and not, for each operation: a bounded
number of cases per route (:data:`EXAMPLES`) over the fake engine (fast), and a few on
the bundled model. Each answer must be: no 5xx, an error that is an OpenAI error object
(the official ``ErrorResponse`` schema), a success that matches its declared schema and,
for the OpenAI routes, the official schema of its object.
"""

from __future__ import annotations

import json
import os

import pytest

import schemathesis
from fake_engine import fake_lab
from hypothesis import HealthCheck, settings
from openai_schema import validate_openai
from servers import running
from shimmy_lab.server.app import create_app
from shimmy_lab.settings import Settings

#: Generated cases per operation (the whole file stays well under a minute); more for a deeper
#: run: ``SHIMMY_FUZZ_EXAMPLES=200 pytest tests/test_server_fuzz.py``.
EXAMPLES = int(os.environ.get("SHIMMY_FUZZ_EXAMPLES", "12"))
#: ... and on the bundled model, for the generating routes (``SHIMMY_FUZZ_MODEL_EXAMPLES``).
MODEL_EXAMPLES = int(os.environ.get("SHIMMY_FUZZ_MODEL_EXAMPLES", "3"))

#: The official schema of each route's success object (non-streamed).
SUCCESS_SCHEMAS = {
    ("POST", "/v1/chat/completions"): "CreateChatCompletionResponse",
    ("POST", "/v1/completions"): "CreateCompletionResponse",
    ("POST", "/v1/embeddings"): "CreateEmbeddingResponse",
    ("GET", "/v1/models"): "ListModelsResponse",
    ("POST", "/v1/responses"): "Response",
    ("GET", "/v1/responses/{response_id}"): "Response",
    ("GET", "/v1/responses/{response_id}/input_items"): "ResponseItemList",
}


def openapi_document() -> dict:
    """The OpenAPI document of the app (the same for the fake engine and the bundled model)."""
    return create_app(fake_lab(), Settings.load(store="none")).openapi()


GENERATING = "^/v1/(responses|chat/completions|completions)$"
fake_schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path_regex="^/(metrics|ready|health)$")
model_schema = schemathesis.openapi.from_dict(openapi_document()).include(method="POST", path_regex=GENERATING)
model_schema.config.phases.update(phases=["fuzzing"])  # a few generated bodies, no coverage phase


@pytest.fixture(scope="module")
def fake_server():
    with running(fake_lab(), store="none") as handle:
        yield handle


@pytest.fixture(scope="module")
def model_server():
    with running(store="none", threads=1, n_ctx=1024) as handle:
        yield handle


@schemathesis.check
def openai_shaped(ctx, response, case):
    """Errors are OpenAI error objects; JSON successes match the official schema of their object."""
    if response.status_code >= 400:
        validate_openai(json.loads(response.content), "ErrorResponse")
        return None
    name = SUCCESS_SCHEMAS.get((case.method.upper(), case.operation.path))
    if name == "CreateEmbeddingResponse" and isinstance(case.body, dict) and case.body.get("encoding_format") == "base64":
        return None  # a base64 string, as OpenAI sends it (its schema only knows the float list)
    if name is not None and response.headers.get("content-type", [""])[0].startswith("application/json"):
        validate_openai(json.loads(response.content), name)
    return None


CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance, openai_shaped]


def bounded(case, max_tokens: int, max_n: int) -> None:
    """Keep a generated generation small: at most ``max_tokens`` tokens and ``max_n`` choices, and
    give a Responses body an input when it has none (else nearly every case is the same 400)."""
    if not isinstance(case.body, dict):
        return
    if case.operation.path == "/v1/responses":
        case.body.setdefault("input", "Hi")
        case.body["max_output_tokens"] = min(case.body.get("max_output_tokens") or max_tokens, max_tokens) \
            if isinstance(case.body.get("max_output_tokens"), int) else max_tokens
    elif case.operation.path in ("/v1/chat/completions", "/v1/completions"):
        for key in ("max_tokens", "max_completion_tokens"):
            if not isinstance(case.body.get(key), int) or case.body[key] > max_tokens:
                case.body[key] = max_tokens
        if isinstance(case.body.get("n"), int) and case.body["n"] > max_n:
            case.body["n"] = max_n


@fake_schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_routes_fake_engine(case, fake_server):
    bounded(case, max_tokens=16, max_n=4)
    case.validate_response(case.call(base_url=fake_server.url, timeout=120), checks=CHECKS)


@pytest.mark.slow
@model_schema.parametrize()
@settings(max_examples=MODEL_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_generating_routes_bundled_model(case, model_server):
    bounded(case, max_tokens=4, max_n=2)
    case.validate_response(case.call(base_url=model_server.url, timeout=120), checks=CHECKS)


@pytest.mark.slow
@pytest.mark.parametrize("path, body, param", [
    ("/v1/completions", {"prompt": [-5], "max_tokens": 2}, "prompt"),  # llama.cpp aborted the process
    ("/v1/completions", {"prompt": [10**7], "max_tokens": 2}, "prompt"),
    ("/v1/completions", {"prompt": [1, 2], "max_tokens": 2}, "prompt"),  # special tokens only: no text (was a 500)
    ("/v1/completions", {"prompt": "Hi", "max_tokens": 2, "logit_bias": {"99999999": 5}}, "logit_bias"),
    ("/v1/embeddings", {"input": [125057453625]}, "input"),
    ("/v1/embeddings", {"input": [1]}, "input"),  # was a 500 (llama_decode -1), then a crashed process
    ("/detokenize", {"tokens": [-1]}, "tokens"),
])
def test_found_by_fuzzing_bundled_model(model_server, path, body, param):
    """Bodies schemathesis found that broke the server: each is a 400 naming the field, and the
    server still answers."""
    import httpx

    r = httpx.post(model_server.url + path, json=body, timeout=60)
    assert r.status_code == 400 and validate_openai(r.json(), "ErrorResponse")["error"]["param"] == param
    assert httpx.get(model_server.url + "/health").status_code == 200
