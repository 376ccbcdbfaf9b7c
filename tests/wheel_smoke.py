"""What a new user does after ``pip install shimmy-lab``: run by tests/test_wheel.py with the
installed wheel's interpreter, from a folder outside the source tree.

Checks that the package comes from the install (not the source tree), that the bundled
texts are there, that every narrative system produces its tables on a bundled novel (a
failing system is an error here, not a warning), that ``shimmy-lab serve`` starts and
answers the real ``openai`` client and serves a story page, and that ``shimmy-lab eval run
datasets`` finishes.  Prints ``SMOKE OK`` at the end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import shimmy_lab as sl
from shimmy_lab.trackers import SYSTEMS

SOURCE = Path(sys.argv[1]).resolve()  # the source tree, which must not be what runs


def check_install() -> None:
    here = Path(sl.__file__).resolve()
    assert SOURCE not in here.parents, f"shimmy_lab imported from the source tree: {here}"
    names = set(sl.datasets.list()["name"])
    assert {"austen-emma", "carroll-alice"} <= names, names
    sl.datasets.verify()


def check_systems() -> None:
    text = sl.datasets.load("carroll-alice")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a failing system fails the smoke test
        story = sl.analyze(text, strict=True)
    assert not story.uns["params"]["assistant"]["failed"]
    from shimmy_lab.story import schema as story_schema
    from shimmy_lab.trackers import schema as tracker_schema

    assert set(story_schema.TABLES) <= set(story.tables)  # (Alice states no facts: may be empty)
    for table in tracker_schema.TABLES:  # every narrative system's tables, filled
        assert len(story.tables.get(table, ())) > 0, f"empty or missing table {table!r}"
    assert set(story.uns["params"]["assistant"]["systems"]) == set(SYSTEMS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_server(bindir: Path) -> None:
    import openai

    port = free_port()
    proc = subprocess.Popen([str(bindir / "shimmy-lab"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(base + "/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("the server never became ready")
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        out = client.chat.completions.create(model="smollm2-135m-instruct", max_tokens=8,
                                             messages=[{"role": "user", "content": "Say hello."}])
        assert out.choices[0].message.content is not None
        body = json.dumps({"text": sl.datasets.load("carroll-alice")[:20000], "story_id": "alice"}).encode()
        req = urllib.request.Request(base + "/narrative/stories", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            assert r.status == 201
        with urllib.request.urlopen(base + "/narrative/visualize/alice", timeout=60) as r:
            page = r.read().decode()
        assert "<html" in page.lower() and "Alice" in page
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def check_eval(bindir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.parquet"
        r = subprocess.run([str(bindir / "shimmy-lab"), "eval", "run", "datasets", "--out", str(out)],
                           capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        import pandas as pd

        df = pd.read_parquet(out)
        assert len(df) and len(set(df["work_id"])) == len(sl.datasets.list()), df.head()


if __name__ == "__main__":
    bindir = Path(sys.executable).parent
    check_install()
    check_systems()
    check_server(bindir)
    check_eval(bindir)
    print("SMOKE OK")
