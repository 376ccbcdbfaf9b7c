"""OpenTelemetry traces (the SDK's in-memory exporter), the request id in the header, the trace
and the logs, and JSON log lines (``--log-format json``)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient

from fake_engine import fake_lab
from shimmy_lab.server.app import create_app
from shimmy_lab.server.logs import configure_logging
from shimmy_lab.server.tracing import Tracing, span
from shimmy_lab.settings import Settings

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

TEXT = ("CHAPTER I\n\nKitty had blue eyes and lived in Bath. \"Where is the letter, Tom?\" asked Kitty.\n\n"
        "\"I burned it,\" said Tom. Kitty looked at the fire.\n")


@pytest.fixture
def traced(tmp_path):
    """A fake-engine app whose spans go to an in-memory exporter."""
    exporter = InMemorySpanExporter()
    app = create_app(fake_lab(), Settings.load(store=str(tmp_path), config_reload=0, resources_level="normal"))
    app.state.tracing = Tracing(exporter=exporter)
    with TestClient(app) as client:
        yield client, exporter


def by_name(spans) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def test_tracing_is_off_unless_configured():
    assert Tracing(Settings.load(store="none").tracing).enabled is False
    with span("anything", a=1) as s:  # outside a request, or with tracing off: a no-op
        assert s is None
    settings = Settings.load(store="none", tracing_otlp_endpoint="http://127.0.0.1:9/v1/traces")
    tracing = Tracing(settings.tracing)  # the OTLP exporter is imported only now
    assert tracing.enabled and tracing.provider.resource.attributes["service.name"] == "shimmy-lab"
    tracing.shutdown()


def test_a_story_chat_request_is_one_trace(traced):
    client, exporter = traced
    assert client.post("/narrative/stories", json={"text": TEXT, "story_id": "kitty"}).status_code == 201
    exporter.clear()
    r = client.post("/v1/chat/completions", json={
        "model": "fake-model", "messages": [{"role": "user", "content": "Go on."}], "max_tokens": 8,
        "metadata": {"story_id": "kitty", "append": "true"}}, headers={"x-request-id": "lb-42"})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "lb-42"  # a load balancer's id is kept
    spans = by_name(exporter.get_finished_spans())
    root = spans["POST /v1/chat/completions"][0]
    assert root.parent is None and root.attributes["shimmy.request_id"] == "lb-42"
    assert root.attributes["http.response.status_code"] == 200 and root.attributes["http.route"] == "/v1/chat/completions"
    assert root.attributes["shimmy.story_id"] == "kitty" and root.attributes["gen_ai.request.model"] == "fake-model"
    assert root.attributes["gen_ai.usage.output_tokens"] > 0
    for name in ("narrative.context", "generation", "narrative.drift", "narrative.append", "narrative.analysis"):
        assert name in spans, sorted(spans)
        assert spans[name][0].context.trace_id == root.context.trace_id
    assert spans["narrative.context"][0].parent.span_id == root.context.span_id
    assert spans["narrative.analysis"][0].parent.span_id == spans["narrative.append"][0].context.span_id
    gen = spans["generation"][0].attributes
    assert gen["gen_ai.request.model"] == "fake-model" and gen["gen_ai.usage.output_tokens"] > 0
    assert gen["gen_ai.usage.input_tokens"] > 0
    analysis = spans["narrative.analysis"][0].attributes
    assert analysis["shimmy.narrative.level"] == "normal" and "characters" in analysis["shimmy.narrative.systems"]
    assert analysis["shimmy.cache.source"] == "analysis"
    assert spans["narrative.append"][0].attributes["shimmy.story_id"] == "kitty"


def test_streamed_generation_and_errors_are_traced(traced):
    client, exporter = traced
    with client.stream("POST", "/v1/chat/completions", json={
            "model": "fake-model", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
            "stream": True}) as r:
        rid = r.headers["x-request-id"]
        assert rid.startswith("req_") and "[DONE]" in r.read().decode()
    spans = by_name(exporter.get_finished_spans())
    assert spans["POST /v1/chat/completions"][0].attributes["shimmy.request_id"] == rid
    assert spans["generation"][0].attributes["gen_ai.usage.output_tokens"] == 4
    r = client.get("/narrative/stories/missing")
    assert r.status_code == 404
    last = by_name(exporter.get_finished_spans())["GET /narrative/stories/{story_id}"][0]
    assert last.attributes["http.response.status_code"] == 404
    assert client.get("/v1/models", headers={"x-request-id": "bad id with spaces"}).headers["x-request-id"] \
        .startswith("req_")


def test_json_logs_carry_the_request_id(tmp_path):
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("json", "info", stream=stream)
        app = create_app(fake_lab(), Settings.load(store=str(tmp_path), config_reload=0, log_format="json"))
        client = TestClient(app)
        r = client.get("/narrative/stories/nope", headers={"x-request-id": "trace-me"})
        assert r.status_code == 404
        logging.getLogger("shimmy_lab.server").warning("outside a request")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all(set(line) >= {"time", "level", "logger", "message", "request_id"} for line in lines)
    access = [line for line in lines if line["logger"] == "shimmy_lab.server.access"]
    assert access and access[0]["request_id"] == "trace-me" and access[0]["status"] == 404
    assert access[0]["time"].endswith("Z") and access[0]["level"] == "info"
    assert lines[-1]["message"] == "outside a request" and lines[-1]["request_id"] is None


def test_log_format_flag_reaches_serve(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from shimmy_lab.cli import app as cli_app

    monkeypatch.chdir(tmp_path)
    seen, formats = [], []
    monkeypatch.setattr("shimmy_lab.server.run.serve", lambda settings: seen.append(settings))
    monkeypatch.setattr("shimmy_lab.server.logs.configure_logging", lambda fmt, level: formats.append(fmt))
    assert CliRunner().invoke(cli_app, ["serve", "--log-format", "json"]).exit_code == 0
    assert seen[0].log_format == "json" and formats == ["json"]
    assert CliRunner().invoke(cli_app, ["serve", "--log-format", "xml"]).exit_code != 0


# ----------------------------------------------------------------------------- a real server process
@pytest.mark.slow
def test_real_server_json_logs_metrics_and_level(tmp_path):
    """``shimmy-lab serve --log-format json`` in its own process with the bundled model: the real
    ``openai`` client names a story; the ``narrative`` object says the level, ``/metrics`` has the
    cache, drift and level series, and every stderr line is JSON, the request's with its id."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    openai = pytest.importorskip("openai")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    env = {**os.environ, "SHIMMY_NARRATIVE_VOICE_MODEL": "none"}
    proc = subprocess.Popen([sys.executable, "-m", "shimmy_lab", "serve", "--port", str(port), "--store",
                             str(tmp_path / "stories"), "--n-ctx", "1024", "--config-reload", "0",
                             "--log-format", "json", "--resources-level", "reduced"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            try:
                if httpx.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert httpx.post(url + "/narrative/stories", json={"text": TEXT, "story_id": "kitty"},
                          timeout=60).status_code == 201
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Continue."}], max_tokens=12,
            metadata={"story_id": "kitty", "append": "true"}, extra_headers={"x-request-id": "real-1"})
        narrative = raw.parse().model_extra["narrative"]
        assert raw.headers["x-request-id"] == "real-1" and narrative["level"] == "reduced"
        assert httpx.get(url + "/health").json()["resources"]["level"] == "reduced"
        metrics = httpx.get(url + "/metrics").text
        for series in ("shimmy_analysis_cache_total{level=\"l1\",result=\"miss\"}", "shimmy_drift_score_count 1.0",
                       "shimmy_resource_level 1.0", "shimmy_analysis_seconds_count{system=\"characters\"}",
                       "shimmy_stories{where=\"store\"} 1.0"):
            assert series in metrics, series
    finally:
        proc.terminate()
        proc.wait(30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    mine = [line for line in lines if line["request_id"] == "real-1"]
    assert any(line["logger"] == "shimmy_lab.server.access" and line["status"] == 200 for line in mine)
    assert any(line["logger"].startswith("uvicorn") for line in lines)
