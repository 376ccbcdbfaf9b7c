"""Durable stories: the story store of the server (``--store DIR``), story ids, DELETE, and a
real server process killed with SIGKILL in the middle of a stream of appends."""

from __future__ import annotations

import os
import random
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
from shimmy_lab.server.store import (MAX_STORY_ID_LENGTH, FolderStore, InvalidStoryIdError, NullStore,
                                     StoreInUseError, check_story_id, open_store, story_id_from_title)
from shimmy_lab.settings import Settings

TEXT = "\"Where is the boat?\" asked Mira. Oskar pointed at the river.\n"
BAD_IDS = ["../x", "..", "a/b", "a\x00b", "x" * 4096, "Upper", ".hidden", "trailing-", "nul", ""]


def client(store, lab=None) -> TestClient:
    """The app without its lifespan (no model is loaded: the story routes do not need one)."""
    return TestClient(create_app(lab or sl.Lab(), Settings.load(store=str(store), config_reload=0)))


def create(c: TestClient, story_id: str, text: str = TEXT) -> dict:
    r = c.post("/narrative/stories", json={"text": text, "story_id": story_id, "analyze": False})
    assert r.status_code == 201, r.text
    return r.json()


def assert_bad_id(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    err = validate_openai(r.json(), "ErrorResponse")["error"]
    assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", "story_id", "invalid_story_id")


# ----------------------------------------------------------------------------- ids
def test_story_ids():
    for good in ("a", "kitty", "pride-and-prejudice.v2", "x_1", "a" * MAX_STORY_ID_LENGTH, "a..b", "console"):
        assert check_story_id(good) == good
    for bad in BAD_IDS + ["a" * (MAX_STORY_ID_LENGTH + 1), "com1.txt", 5, None]:
        with pytest.raises(InvalidStoryIdError):
            check_story_id(bad)
    assert story_id_from_title("Pride & Prejudice") == "pride-prejudice"
    assert story_id_from_title("  ../Émile/ ") == "mile"
    assert story_id_from_title("...") == "" and story_id_from_title("NUL") == "story-nul"
    assert check_story_id(story_id_from_title("Long " * 100))


# ----------------------------------------------------------------------------- the folder store
def test_folder_store(tmp_path):
    store = FolderStore(tmp_path)
    assert store.ids() == [] and store.version("mira") is None and "mira" not in store
    story = sl.Story.from_text(TEXT, title="Mira")
    v1 = store.save("mira", story)
    assert store.ids() == ["mira"] and store.version("mira") == v1 and "mira" in store
    story.append("\n\nMira rowed away.")
    v2 = store.save("mira", story)
    assert v2 != v1 and store.version("mira") == v2
    assert store.load("mira") == story
    # a story whose first save never completed, a stray file and a crashed delete are not stories
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / ".tmp-v-1").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".deleted-old-1234").mkdir()
    second = FolderStore(tmp_path)  # reading needs no lock; writing does: one owner per folder
    assert second.ids() == ["mira"]
    with pytest.raises(StoreInUseError, match=f"in use by process {os.getpid()}"):
        second.save("other", story)
    store.close()
    second.close()
    reopened = FolderStore(tmp_path)
    assert reopened.ids() == ["mira"]
    with pytest.raises(KeyError):
        reopened.load("half")
    assert reopened.delete("mira") is True and reopened.delete("mira") is False
    assert not (tmp_path / ".deleted-old-1234").exists()  # the first write of an owner cleans up
    assert reopened.ids() == [] and not (tmp_path / "mira").exists()
    with pytest.raises(InvalidStoryIdError):
        reopened.save("../x", story)


def test_one_store_per_folder(tmp_path):
    missing = tmp_path / "later"
    store = open_store(missing)
    assert open_store(str(missing) + "/") is store and not missing.exists()  # made by the first save
    store.save("mira", sl.Story.from_text(TEXT))
    code = f"from shimmy_lab.server.store import FolderStore\nFolderStore({str(missing)!r}).delete('mira')"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert other.returncode != 0 and f"in use by process {os.getpid()}" in other.stderr
    assert isinstance(open_store(None), NullStore)


def test_null_store_keeps_nothing():
    store = NullStore()
    assert store.save("a", object()) is None and store.ids() == [] and store.delete("a") is False


def test_store_setting(monkeypatch, tmp_path):
    monkeypatch.delenv("SHIMMY_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings.load().store.name == "stories"  # the per-user data folder
    assert Settings.load(store="none").store is None
    monkeypatch.setenv("SHIMMY_STORE", str(tmp_path / "s"))
    s = Settings.load()
    assert s.store == tmp_path / "s" and s.sources()["store"] == "env"


def test_serve_store_flag(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from shimmy_lab.cli import app as cli_app

    runner, seen = CliRunner(), []
    monkeypatch.delenv("SHIMMY_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("shimmy_lab.server.run.serve", lambda settings: seen.append(settings))
    assert runner.invoke(cli_app, ["serve", "--store", str(tmp_path / "s")]).exit_code == 0
    assert runner.invoke(cli_app, ["serve", "--store", "none"]).exit_code == 0
    assert runner.invoke(cli_app, ["serve"], env={"SHIMMY_STORE": str(tmp_path / "e")}).exit_code == 0
    assert [s.store for s in seen] == [tmp_path / "s", None, tmp_path / "e"]
    assert "--store" in runner.invoke(cli_app, ["serve", "--help"], env={"COLUMNS": "200"}).output


# ----------------------------------------------------------------------------- the routes
def test_create_and_append_are_saved_before_the_answer(tmp_path):
    c = client(tmp_path)
    body = create(c, "mira")
    assert body["stored"] is True and body["version"] == (tmp_path / "mira" / "CURRENT").read_text().strip()
    r = c.post("/narrative/stories/mira/append", json={"text": "\n\nOskar laughed."})
    assert r.status_code == 200 and r.json()["version"] != body["version"]
    assert sl.Story.load(tmp_path / "mira").text == TEXT + "\n\nOskar laughed."
    auto = c.post("/narrative/stories", json={"text": TEXT, "analyze": False}).json()
    named = c.post("/narrative/stories", json={"text": TEXT, "title": "The Boat", "analyze": False}).json()
    assert auto["id"] == "story-1" and named["id"] == "the-boat"
    assert c.post("/narrative/stories", json={"text": TEXT, "story_id": "Big Boat", "analyze": False}).json()["id"] \
        == "big-boat"  # normalised as Lab.add_story does


def test_restart_lists_stored_stories_and_loads_on_first_use(tmp_path):
    c = client(tmp_path)
    create(c, "mira")
    c.post("/narrative/stories/mira/append", json={"text": "\n\nOskar laughed."})
    create(c, "oskar")
    lab = sl.Lab()
    lab.add_story(sl.Story.from_text("Only in memory."), "notes")
    c2 = client(tmp_path, lab)
    listed = {s["id"]: s for s in c2.get("/narrative/stories").json()["data"]}
    assert listed["mira"] == {"id": "mira", "object": "story", "loaded": False, "stored": True}
    assert listed["notes"]["loaded"] is True and listed["notes"]["stored"] is False
    assert set(lab.stories) == {"notes"}  # nothing loaded at start
    got = c2.get("/narrative/stories/mira").json()
    assert got["summary"]["chars"] == len(TEXT + "\n\nOskar laughed.") and got["loaded"] and got["stored"]
    assert set(lab.stories) == {"notes", "mira"}
    assert {s["id"]: s["loaded"] for s in c2.get("/narrative/stories").json()["data"]} == \
        {"notes": True, "mira": True, "oskar": False}
    c2.post("/narrative/stories/notes/append", json={"text": " More."})  # appended through the API: saved
    assert sl.Story.load(tmp_path / "notes").text == "Only in memory. More."


def test_delete(tmp_path):
    c = client(tmp_path)
    create(c, "mira")
    r = c.delete("/narrative/stories/mira")
    assert r.status_code == 200 and r.json() == {"id": "mira", "object": "story.deleted", "deleted": True}
    assert not (tmp_path / "mira").exists() and "mira" not in c.app.state.lab.stories
    for method, path in (("DELETE", "/narrative/stories/mira"), ("GET", "/narrative/stories/mira"),
                         ("POST", "/narrative/stories/mira/append")):
        r = c.request(method, path, json={"text": "x"})
        assert r.status_code == 404 and validate_openai(r.json(), "ErrorResponse")["error"]["code"] == "story_not_found"
    assert client(tmp_path).get("/narrative/stories").json()["data"] == []


def test_invalid_story_ids_get_400_everywhere(tmp_path):
    c = client(tmp_path)
    create(c, "mira")
    for bad in BAD_IDS:  # a create's id is lowercased first, as Lab.add_story does
        if bad != "Upper":
            assert_bad_id(c.post("/narrative/stories", json={"text": TEXT, "story_id": bad}))
    quoted = ["..%2Fx", "%2E%2E", "%2E%2E%2F%2E%2E%2Fetc", "a%2Fb", "a%00b", "x" * 4096, "Upper", "nul"]
    for q in quoted:
        for method, path in (("GET", f"/narrative/stories/{q}"), ("DELETE", f"/narrative/stories/{q}"),
                             ("POST", f"/narrative/stories/{q}/append"), ("GET", f"/narrative/stories/{q}/insights"),
                             ("GET", f"/narrative/stories/{q}/tables/facts"), ("GET", f"/narrative/visualize/{q}")):
            assert_bad_id(c.request(method, path, json={"text": "x"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "mira"]
    assert c.get("/narrative/stories/mira/nope").status_code == 404  # a valid id, an unknown route


def test_memory_only_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = TestClient(create_app(sl.Lab(), Settings.load(store="none", config_reload=0)))
    body = create(c, "mira")
    assert body["stored"] is False and body["version"] is None
    assert c.post("/narrative/stories/mira/append", json={"text": " Yes."}).status_code == 200
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_the_last_saved_version(tmp_path, monkeypatch):
    c = client(tmp_path)
    create(c, "mira")
    store = c.app.state.store

    def broken(story_id, story):
        raise OSError("disk full")

    monkeypatch.setattr(store, "save", broken)
    c_raise = TestClient(c.app, raise_server_exceptions=False)
    r = c_raise.post("/narrative/stories/mira/append", json={"text": "\n\nLost."})
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    monkeypatch.undo()
    assert c.get("/narrative/stories/mira").json()["summary"]["chars"] == len(TEXT)  # reloaded from the store


def test_concurrent_appends_are_serialised_and_saved(tmp_path):
    c = client(tmp_path)
    create(c, "mira")
    lines = [f"\n\nLine {i}." for i in range(6)]
    threads = [threading.Thread(target=lambda t=t: c.post("/narrative/stories/mira/append", json={"text": t}))
               for t in lines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    saved = sl.Story.load(tmp_path / "mira")
    assert saved == c.app.state.lab.stories["mira"]
    assert sorted(saved.text[len(TEXT):].split("\n\n")[1:]) == sorted(x.strip() for x in lines)


# ----------------------------------------------------------------------------- SIGKILL
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(store: Path, cwd: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIMMY_")}
    env["SHIMMY_NARRATIVE_VOICE_MODEL"] = "none"
    proc = subprocess.Popen([sys.executable, "-m", "shimmy_lab", "serve", "--port", str(port), "--store", str(store),
                             "--n-ctx", "256", "--config-reload", "0", "--log-level", "warning"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=(cwd / "server.log").open("ab"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(cwd / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise TimeoutError("server did not start")


@pytest.mark.slow
def test_sigkill_during_appends_loses_no_acknowledged_append(tmp_path):
    """Rounds of: start a server process on the store, check the story, stream appends, SIGKILL it
    while an append is in flight. The story on disk is always the acknowledged appends, in order
    (plus, possibly, the one in flight when the process died, whose answer never came), and loads."""
    store, rng = tmp_path / "stories", random.Random(7)
    expected = "CHAPTER I\n\n\"Row,\" said Mira.\n"
    proc, url = _start(store, tmp_path)
    with httpx.Client(base_url=url, timeout=60) as http:
        assert http.post("/narrative/stories", json={"text": expected, "story_id": "river",
                                                     "analyze": False}).status_code == 201
    n, rounds, kills_in_flight, mid_save, landed = 0, 10, 0, 0, 0
    for _ in range(rounds):
        acked: list[str] = []
        in_flight: list[str] = []
        errors: list[str] = []

        def stream() -> None:
            nonlocal n
            with httpx.Client(base_url=url, timeout=60) as http:
                while True:
                    text = f"\n\nOskar rowed past stone {n}."
                    in_flight[:] = [text]
                    try:
                        r = http.post("/narrative/stories/river/append", json={"text": text})
                    except httpx.TransportError:
                        return
                    if r.status_code != 200:
                        errors.append(r.text)
                        return
                    acked.append(text)
                    in_flight.clear()
                    n += 1

        worker = threading.Thread(target=stream)
        worker.start()
        while not acked and worker.is_alive():
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        worker.join(60)
        assert not errors, (errors, (tmp_path / "server.log").read_text()[-3000:])
        kills_in_flight += bool(in_flight)
        mid_save += any(p.name.startswith(".tmp-v-") for p in (store / "river").iterdir())
        on_disk = sl.Story.load(store / "river")  # loads: never half-written
        got = on_disk.text
        assert got in (expected + "".join(acked), expected + "".join(acked + in_flight)), \
            f"acknowledged {len(acked)}, story ends with {got[-80:]!r}"
        landed += got != expected + "".join(acked)
        expected = got
        n += 1  # the next round's texts differ from an in-flight one that did not land
        proc, url = _start(store, tmp_path)
        summary = httpx.get(url + "/narrative/stories/river", timeout=60).json()
        assert summary["summary"]["chars"] == len(expected) and summary["stored"]
    proc.kill()
    proc.wait()
    assert kills_in_flight >= rounds // 2  # most kills came while an append was being served
    print(f"{n} appends sent, {rounds} kills: {kills_in_flight} with an append in flight, {mid_save} in the "
          f"middle of a save, {landed} after the save of an unanswered append")
