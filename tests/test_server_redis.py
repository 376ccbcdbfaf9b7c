"""Replicas sharing stories through Redis (``serve --redis URL``): a real ``redis-server`` on a
free loopback port (``make redis`` installs Debian's package), apps in this process, and three
real server processes: create on A, append on B, read on C; concurrent appends through A and B;
Redis killed and restarted."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import shimmy_lab as sl
from openai_schema import validate_openai
from shimmy_lab.server.app import create_app
from shimmy_lab.server.store import RedisStore, StoreConflictError, StoreUnavailableError, open_store
from shimmy_lab.settings import Settings

REDIS_SERVER = shutil.which("redis-server") or next(
    (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)), None)
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed and could not be "
                                "(make redis: apt-get install redis-server, as root)")

TEXT = "\"Where is the boat?\" asked Mira. Oskar pointed at the river.\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server in a temp folder that keeps every write (append-only file, fsync always)."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"],
            stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT)
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise TimeoutError((self.folder / "redis.log").read_text()[-2000:])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture()
def redis_url(redis_server):
    import redis

    if redis_server.proc.poll() is not None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushdb()
    return redis_server.url


def app_client(url: str) -> TestClient:
    """An app on the shared Redis, without its lifespan (the story routes need no model)."""
    return TestClient(create_app(sl.Lab(), Settings.load(redis=url, store="none", config_reload=0)))


def quotes(c, story_id: str) -> list[str]:
    r = c.get(f"/narrative/stories/{story_id}/tables/quotes")
    assert r.status_code == 200, r.text
    return [q["text"] for q in r.json()["data"]]


# ----------------------------------------------------------------------------- settings
def test_redis_setting_and_flag(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from shimmy_lab.cli import app as cli_app

    monkeypatch.delenv("SHIMMY_REDIS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings.load().redis is None and Settings.load(redis="none").redis is None
    monkeypatch.setenv("SHIMMY_REDIS", "redis://127.0.0.1:6399/1")
    s = Settings.load()
    assert s.redis == "redis://127.0.0.1:6399/1" and s.sources()["redis"] == "env"
    monkeypatch.delenv("SHIMMY_REDIS")
    runner, seen = CliRunner(), []
    monkeypatch.setattr("shimmy_lab.server.run.serve", lambda settings: seen.append(settings))
    assert runner.invoke(cli_app, ["serve", "--redis", "redis://:secret@h:1/0"]).exit_code == 0
    assert seen[0].redis == "redis://:secret@h:1/0"
    store = open_store(None, redis=seen[0].redis)
    assert isinstance(store, RedisStore) and store.shared and "secret" not in store.location


# ----------------------------------------------------------------------------- apps of this process
def test_replicas_in_one_process_share_and_catch_up(redis_url):
    a, b = app_client(redis_url), app_client(redis_url)
    body = a.post("/narrative/stories", json={"text": TEXT, "story_id": "mira"}).json()  # analysed
    assert body["stored"] and body["version"].endswith(".1")
    assert [s["id"] for s in b.get("/narrative/stories").json()["data"]] == ["mira"]
    got = b.get("/narrative/stories/mira").json()
    assert got["version"] == body["version"] and got["summary"] == body["summary"]
    assert b.app.state.lab.stories["mira"] == a.app.state.lab.stories["mira"]  # text and every table
    r = b.post("/narrative/stories/mira/append", json={"text": "\n\n\"Row,\" said Oskar."})
    assert r.status_code == 200 and r.json()["version"].endswith(".2")
    held = a.app.state.lab.stories["mira"]
    assert a.get("/narrative/stories/mira").json()["version"] == r.json()["version"]  # caught up ...
    assert a.app.state.lab.stories["mira"] is held  # ... by replaying the append, not by loading it again
    assert a.app.state.lab.stories["mira"] == b.app.state.lab.stories["mira"]
    # replaced on B (a new create of the id): A loads it again; deleted on B: A answers 404
    b.post("/narrative/stories", json={"text": "Oskar slept.", "story_id": "mira", "analyze": False})
    assert a.get("/narrative/stories/mira").json()["summary"]["chars"] == len("Oskar slept.")
    assert b.delete("/narrative/stories/mira").status_code == 200
    r = a.get("/narrative/stories/mira")
    assert r.status_code == 404 and "mira" not in a.app.state.lab.stories


def test_an_append_that_loses_the_race_is_retried(redis_url, monkeypatch):
    a, b = app_client(redis_url), app_client(redis_url)
    a.post("/narrative/stories", json={"text": TEXT, "story_id": "mira", "analyze": False})
    assert b.get("/narrative/stories/mira").status_code == 200
    store = a.app.state.store
    real, calls = store.append, []

    def late(story_id, story, text, version):  # as if A's lock expired and B appended meanwhile
        if not calls:
            calls.append(b.post("/narrative/stories/mira/append", json={"text": "\n\nB was first."}).status_code)
        return real(story_id, story, text, version)

    monkeypatch.setattr(store, "lock", lambda story_id: contextlib.nullcontext())
    monkeypatch.setattr(store, "append", late)
    r = a.post("/narrative/stories/mira/append", json={"text": "\n\nA was second."})
    assert calls == [200] and r.status_code == 200 and r.json()["version"].endswith(".3")
    assert store.redis.lrange("shimmy:story:mira:texts", 1, -1) == ["\n\nB was first.", "\n\nA was second."]
    with pytest.raises(StoreConflictError):
        real("mira", None, "x", r.json()["version"].replace(".3", ".2"))


def test_redis_down_gives_503_for_stories_only(tmp_path):
    port = _free_port()  # nothing listens there
    c = TestClient(create_app(sl.Lab(), Settings.load(redis=f"redis://127.0.0.1:{port}/0", config_reload=0)))
    for method, path in (("GET", "/narrative/stories"), ("GET", "/narrative/stories/mira"),
                         ("POST", "/narrative/stories/mira/append"), ("DELETE", "/narrative/stories/mira")):
        r = c.request(method, path, json={"text": "x"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
        err = validate_openai(r.json(), "ErrorResponse")["error"]
        assert (err["type"], err["code"]) == ("server_error", "store_unavailable")
    r = c.post("/narrative/stories", json={"text": TEXT, "story_id": "mira"})
    assert r.status_code == 503 and "mira" not in c.app.state.lab.stories
    assert c.get("/health").status_code == 200
    with pytest.raises(StoreUnavailableError):
        c.app.state.store.ids()


# ----------------------------------------------------------------------------- real processes
def _spawn(redis_url: str, cwd: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIMMY_")}
    env["SHIMMY_NARRATIVE_VOICE_MODEL"] = "none"
    proc = subprocess.Popen([sys.executable, "-m", "shimmy_lab", "serve", "--port", str(port), "--redis", redis_url,
                             "--store", "none", "--n-ctx", "256", "--config-reload", "0", "--log-level", "warning"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=(cwd / f"server-{port}.log").open("ab"))
    return proc, f"http://127.0.0.1:{port}"


def _wait(proc: subprocess.Popen, url: str, path: str = "/health", timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server {url} exited")
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url}{path} did not answer")


@pytest.fixture()
def replicas(redis_url, tmp_path):
    procs = [_spawn(redis_url, tmp_path) for _ in range(3)]
    try:
        for proc, url in procs:
            _wait(proc, url)
        clients = [httpx.Client(base_url=url, timeout=60) for _, url in procs]
        yield [(proc, client) for (proc, _), client in zip(procs, clients)]
        for client in clients:
            client.close()
    finally:
        for proc, _ in procs:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_three_server_processes_share_stories(replicas, redis_server):
    (proc_a, a), (_, b), (_, c) = replicas
    r = a.post("/narrative/stories", json={"text": TEXT, "story_id": "river", "analyze": False})
    assert r.status_code == 201, r.text
    assert b.post("/narrative/stories/river/append", json={"text": "\n\n\"Row,\" said Oskar."}).status_code == 200
    views = [x.get("/narrative/stories/river").json() for x in (a, b, c)]  # A holds the created version
    assert len({v["version"] for v in views}) == 1 and views[0]["version"].endswith(".2")
    assert len({v["summary"]["chars"] for v in views}) == 1 and views[0]["summary"]["chars"] > len(TEXT)
    assert quotes(a, "river") == quotes(c, "river") == ["Where is the boat?", "Row,"]

    # two clients append through A and B at once: none lost, the same order everywhere
    def stream(client: httpx.Client, name: str) -> None:
        for i in range(10):
            r = client.post("/narrative/stories/river/append", json={"text": f"\n\n\"{name} {i},\" said Mira."})
            assert r.status_code == 200, r.text

    threads = [threading.Thread(target=stream, args=(x, name)) for x, name in ((a, "A"), (b, "B"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = [quotes(x, "river") for x in (a, b, c)]
    assert seen[0] == seen[1] == seen[2] and len(seen[0]) == 22
    for name in "AB":  # each client's appends in the order it sent them
        assert [q for q in seen[0] if q.startswith(f"{name} ")] == [f"{name} {i}," for i in range(10)]
    assert len({x.get("/narrative/stories/river").json()["version"] for x in (a, b, c)}) == 1

    # Redis killed: story routes answer 503 with Retry-After, plain chat goes on; restarted: all is back
    acknowledged = seen[0]
    redis_server.kill()
    for x in (a, c):
        for method, path in (("GET", "/narrative/stories/river"), ("POST", "/narrative/stories/river/append"),
                             ("GET", "/narrative/stories")):
            r = x.request(method, path, json={"text": "\n\nLost?"})
            assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
            assert validate_openai(r.json(), "ErrorResponse")["error"]["code"] == "store_unavailable"
    _wait(proc_a, str(a.base_url).rstrip("/"), "/ready")  # the model (plain chat needs it)
    chat = a.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2,
                                                "temperature": 0})
    assert chat.status_code == 200, chat.text
    validate_openai(chat.json(), "CreateChatCompletionResponse")
    redis_server.start()
    for x in (a, b, c):
        assert quotes(x, "river") == acknowledged
    r = c.post("/narrative/stories/river/append", json={"text": "\n\n\"Back,\" said Oskar."})
    assert r.status_code == 200, r.text
    assert quotes(a, "river")[-1] == "Back," and len(quotes(b, "river")) == 23


def test_long_stories_are_loaded_from_a_snapshot(redis_url, monkeypatch):
    a, b = app_client(redis_url), app_client(redis_url)
    for c in (a, b):
        c.app.state.store.snapshot_chars = 0  # every story is long enough
    a.post("/narrative/stories", json={"text": TEXT, "story_id": "mira"})
    replayed = []
    real = RedisStore._replay
    monkeypatch.setattr(RedisStore, "_replay", lambda self, story, text: (replayed.append(text),
                                                                          real(self, story, text)))
    b.get("/narrative/stories/mira")
    assert replayed == [] and b.app.state.lab.stories["mira"] == a.app.state.lab.stories["mira"]
    v = a.post("/narrative/stories/mira/append", json={"text": "\n\n\"Row,\" said Oskar."}).json()["version"]
    assert a.app.state.store.redis.get("shimmy:story:mira:snapshot_version") == v
    assert b.get("/narrative/stories/mira").json()["version"] == v  # a newer snapshot: loaded, not replayed
    assert replayed == [] and b.app.state.lab.stories["mira"] == a.app.state.lab.stories["mira"]
    a.app.state.store.snapshot_chars = 10 ** 9  # no snapshot of the next append: B replays it
    a.post("/narrative/stories/mira/append", json={"text": "\n\nMira nodded."})
    held = b.app.state.lab.stories["mira"]
    b.get("/narrative/stories/mira")
    assert replayed == ["\n\nMira nodded."] and b.app.state.lab.stories["mira"] is held
    assert held == a.app.state.lab.stories["mira"]
    assert b.delete("/narrative/stories/mira").status_code == 200
    assert not a.app.state.store.redis.keys("shimmy:story:mira:*")
