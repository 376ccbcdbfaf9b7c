"""Scheduling, streaming, disconnects, metrics, live settings (fake engine, real uvicorn)."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from fake_engine import FAKE_ID, TEXT, FakeEngine, fake_lab
from openai_schema import validate_openai, validate_sse
from shimmy_lab.server.run import serve

MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def server():
    FakeEngine.instances.clear()
    handle = serve(lab=fake_lab(), background=True, port=0, parallel=2, queue_size=8, config_reload=0)
    handle.wait_ready(10)
    yield handle
    handle.stop()
    assert not handle.running


@pytest.fixture()
def slow(server):
    engines = server.app.state.pool.schedulers[FAKE_ID].engines
    for eng in engines:
        eng.delay = 0.01
    yield engines
    for eng in engines:
        eng.delay = 0.0


def stream_text(url: str, max_tokens: int, seed: int = 0) -> tuple[str, list[dict]]:
    body = {"model": FAKE_ID, "messages": MSG, "max_tokens": max_tokens, "stream": True, "seed": seed,
            "stream_options": {"include_usage": True}}
    r = httpx.post(url + "/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    chunks = validate_sse(r.text)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    return text, chunks


def test_parallel_slots_generate_at_the_same_time(server, slow):
    assert len(slow) == 2 and slow[0] is not slow[1]
    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, stream_text(server.url, 30)))
               for i in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert all(results[i][0] == (TEXT * 2)[:30] for i in range(2))
    assert all(eng.max_active == 1 for eng in slow)  # one thread per engine at a time
    assert sum(eng.generated > 0 for eng in slow) == 2, "both slots were used"
    assert elapsed < 0.55, f"two 0.3 s generations on two slots took {elapsed:.2f} s"


def test_concurrent_streams_are_complete_and_well_formed(server, slow):
    """8 clients on 2 slots: the others queue; nobody's stream is interrupted or mixed."""
    results = {}

    def client(i):
        results[i] = stream_text(server.url, 12, seed=i)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        text, chunks = results[i]
        assert text == (TEXT * 2)[i:i + 12]
        assert len({c["id"] for c in chunks}) == 1
        assert chunks[-1]["usage"]["completion_tokens"] == 12 and chunks[-2]["choices"][0]["finish_reason"]


def test_disconnect_stops_generation(server, slow):
    before = sum(e.cancelled for e in slow)
    generated = sum(e.generated for e in slow)
    body = {"messages": MSG, "max_tokens": 400, "stream": True}
    with httpx.Client(timeout=10) as c:
        with c.stream("POST", server.url + "/v1/chat/completions", json=body) as r:
            lines = r.iter_lines()
            got = [next(lines) for _ in range(6)]
            assert got[0].startswith("data: ")
    deadline = time.time() + 3
    while sum(e.cancelled for e in slow) == before and time.time() < deadline:
        time.sleep(0.02)
    assert sum(e.cancelled for e in slow) == before + 1
    assert sum(e.generated for e in slow) - generated < 100, "generation went on after the client left"
    assert all(e.active == 0 for e in slow)


def test_non_streamed_disconnect_stops_generation(server, slow):
    before = sum(e.cancelled for e in slow)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + "/v1/chat/completions", json={"messages": MSG, "max_tokens": 400}, timeout=0.3)
    deadline = time.time() + 3
    while sum(e.cancelled for e in slow) == before and time.time() < deadline:
        time.sleep(0.02)
    assert sum(e.cancelled for e in slow) == before + 1


def test_health_answers_while_the_model_is_busy(server, slow):
    body = {"messages": MSG, "max_tokens": 150}
    workers = [threading.Thread(target=httpx.post, args=(server.url + "/v1/chat/completions",),
                                kwargs={"json": body, "timeout": 30}) for _ in range(3)]
    for w in workers:
        w.start()
    time.sleep(0.2)
    worst = 0.0
    for _ in range(10):
        t0 = time.perf_counter()
        assert httpx.get(server.url + "/health").json()["status"] == "ok"
        worst = max(worst, time.perf_counter() - t0)
    busy = server.app.state.pool.schedulers[FAKE_ID].status()
    for w in workers:
        w.join()
    assert busy["busy"] == 2 and busy["waiting"] == 1
    assert worst < 0.25, f"/health took {worst:.3f} s while generating"


def test_metrics(server):
    httpx.post(server.url + "/v1/chat/completions", json={"messages": MSG, "max_tokens": 5})
    httpx.get(server.url + "/nope")
    text = httpx.get(server.url + "/metrics").text
    assert 'shimmy_requests_total{method="POST",route="/v1/chat/completions",status="200"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "shimmy_time_to_first_token_seconds_count{model=\"fake-model\"}" in text
    assert 'shimmy_tokens_generated_total{model="fake-model"}' in text
    assert 'shimmy_queue_depth{model="fake-model"} 0.0' in text
    assert 'shimmy_slots{model="fake-model"} 2.0' in text
    assert "shimmy_models_loaded 1.0" in text
    assert "shimmy_request_duration_seconds_bucket" in text


def test_two_apps_in_one_process_share_nothing(server):
    other = serve(lab=fake_lab(), background=True, port=0, config_reload=0)
    try:
        other.wait_ready(10)
        assert other.port != server.port
        assert other.app.state.metrics.registry is not server.app.state.metrics.registry
        httpx.get(other.url + "/v1/models")
        assert 'route="/v1/models"' in httpx.get(other.url + "/metrics").text
        r = httpx.get(other.url + "/v1/models").json()
        validate_openai(r, "ListModelsResponse")
    finally:
        other.stop()
    assert not other.running
    assert httpx.get(server.url + "/health").status_code == 200


def test_ready_is_503_until_the_model_is_loaded(monkeypatch):
    lab = fake_lab()
    gate = threading.Event()
    real = type(lab).engine

    def slow_engine(self, *a, **k):
        gate.wait(5)
        return real(self, *a, **k)

    monkeypatch.setattr(type(lab), "engine", slow_engine)
    handle = serve(lab=lab, background=True, port=0, config_reload=0)
    try:
        r = httpx.get(handle.url + "/ready")
        assert r.status_code == 503 and r.headers["retry-after"]
        validate_openai(r.json(), "ErrorResponse")
        assert httpx.get(handle.url + "/health").status_code == 200
        gate.set()
        handle.wait_ready(5)
        assert httpx.get(handle.url + "/ready").status_code == 200
    finally:
        gate.set()
        handle.stop()


def test_config_file_reloads_live_settings(tmp_path, caplog):
    cfg = tmp_path / "shimmy.toml"
    cfg.write_text("max_prompt_tokens = 1000\nport = 1\n")
    handle = serve(lab=fake_lab(), background=True, config=str(cfg), port=0, config_reload=0.05)
    try:
        handle.wait_ready(10)
        state = handle.app.state
        assert state.settings.max_prompt_tokens == 1000
        time.sleep(0.05)
        cfg.write_text("max_prompt_tokens = 3\nlog_level = 'debug'\nport = 2\n[narrative]\nenabled = true\n")
        deadline = time.time() + 3
        while state.settings.max_prompt_tokens != 3 and time.time() < deadline:
            time.sleep(0.02)
        assert state.settings.max_prompt_tokens == 3 and state.settings.narrative.enabled
        assert state.settings.log_level == "debug" and state.settings.port == 0  # port is not live
        r = httpx.post(handle.url + "/v1/completions", json={"prompt": "long prompt", "max_tokens": 1})
        assert r.json()["error"]["code"] == "context_length_exceeded"
        cfg.write_text("max_prompt_tokens = 'many'\n")  # bad file: keep the old settings
        time.sleep(0.4)
        assert state.settings.max_prompt_tokens == 3
        assert any("not reloaded" in rec.getMessage() for rec in caplog.records)
    finally:
        handle.stop()


def test_batching_with_a_non_llama_engine_keeps_one_engine_per_slot():
    FakeEngine.instances.clear()
    handle = serve(lab=fake_lab(), background=True, port=0, parallel=2, batching=True, config_reload=0)
    try:
        handle.wait_ready(10)
        text, _ = stream_text(handle.url, 12)
        assert text == (TEXT * 2)[:12]
        sched = handle.app.state.pool.schedulers[FAKE_ID]
        assert sched.batch is None and len(sched.engines) == 2 and not sched.status()["batching"]
    finally:
        handle.stop()


def test_parallel_auto_with_a_non_llama_engine_keeps_an_engine_per_core():
    from shimmy_lab.cores import usable_cores
    from shimmy_lab.settings import auto_slots

    FakeEngine.instances.clear()
    handle = serve(lab=fake_lab(), background=True, port=0, config_reload=0)  # batching on, parallel auto
    try:
        handle.wait_ready(10)
        text, _ = stream_text(handle.url, 5)
        assert text == TEXT[:5]
        sched = handle.app.state.pool.schedulers[FAKE_ID]
        assert sched.batch is None and sched.n_slots == len(sched.engines) == auto_slots(usable_cores())
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def batched_server():
    # the defaults (--parallel auto, batching on): 4 sequences of one batched llama.cpp context
    handle = serve(background=True, port=0, n_ctx=1024, config_reload=0)
    handle.wait_ready(120)
    yield handle
    handle.stop()


def _chat(url: str, prompt: str, max_tokens: int = 32) -> str:
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0,
            "stream": True}
    r = httpx.post(url + "/v1/chat/completions", json=body, timeout=120)
    assert r.status_code == 200
    chunks = validate_sse(r.text)
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_batched_server_concurrent_greedy_streams_equal_the_engine(batched_server):
    sched = next(iter(batched_server.app.state.pool.schedulers.values()))
    assert sched.status()["batching"] and sched.batch.n_seq == sched.n_slots == 4
    prompts = ["Say hello.", "What is 2+2?", "Name three colors.", "Write a haiku about rain."]
    eng = sched.engines[0]
    ref = {p: eng.chat([{"role": "user", "content": p}], temperature=0, max_tokens=32)["choices"][0]["message"]["content"]
           for p in prompts}
    got: dict[str, str] = {}
    threads = [threading.Thread(target=lambda p=p: got.__setitem__(p, _chat(batched_server.url, p)))
               for p in prompts]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    health = httpx.get(batched_server.url + "/health", timeout=5)
    assert health.status_code == 200 and time.perf_counter() - t0 < 2
    for t in threads:
        t.join(120)
    assert got == ref
    assert sched.batch.max_batch_seqs >= 2


def test_batched_server_disconnect_frees_the_sequence(batched_server):
    sched = next(iter(batched_server.app.state.pool.schedulers.values()))
    body = {"messages": [{"role": "user", "content": "Count slowly to one thousand."}], "max_tokens": 900,
            "temperature": 0, "stream": True}
    with httpx.stream("POST", batched_server.url + "/v1/chat/completions", json=body, timeout=60) as r:
        lines = 0
        for line in r.iter_lines():
            lines += bool(line)
            if lines >= 3:
                break
    deadline = time.time() + 10
    while (sched.batch._active or sched.busy) and time.time() < deadline:
        time.sleep(0.02)
    assert not sched.batch._active and sched.busy == 0
    assert len(sched.batch._free_ids) == 4


def test_running_slots_share_the_cores(monkeypatch):
    """--parallel auto: a request alone gets every core, two running requests half each."""
    import asyncio

    from shimmy_lab.server.scheduler import ModelScheduler

    monkeypatch.setattr("shimmy_lab.server.scheduler.usable_cores", lambda: 4)
    calls: list[tuple[int, int]] = []  # (engine, threads)

    class Recording(FakeEngine):
        def set_threads(self, n_threads):
            calls.append((id(self), n_threads))

    lab = fake_lab()
    lab.engine = lambda *a, **k: Recording()  # an engine per slot
    go = threading.Event()

    def make(engine):
        go.wait(5)
        return ["done"]

    async def collect(sched):
        return [x async for x in sched.stream(make)]

    async def run():
        sched = await ModelScheduler(lab, FAKE_ID, slots=2, share_cores=True).start()
        go.set()
        await collect(sched)  # alone
        alone = list(calls)
        go.clear()
        both = [asyncio.ensure_future(collect(sched)) for _ in range(2)]
        while len(sched._running) < 2 or not any(n == 2 for _, n in calls):  # both run: half each
            await asyncio.sleep(0.01)
        second = list(calls)
        go.set()
        await asyncio.gather(*both)
        sched.close()
        return alone, second

    alone, second = asyncio.run(asyncio.wait_for(run(), 10))
    assert [n for _, n in alone] == [4]  # alone: every core
    assert [n for _, n in second[len(alone):]][-1] == 2  # the job that started second got half
    assert all(n in (2, 4) for _, n in calls)
