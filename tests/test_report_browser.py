"""The story page (``shimmy_lab.report.story_page``), rendered in real headless Chromium.

The page is served from a tiny ``http.server`` on 127.0.0.1 that records every
request, so the test also proves the page needs nothing but itself (plotly.js is
inlined).  A screenshot is written to ``build/test-artifacts/story-page.png``
(or ``$SHIMMY_TEST_ARTIFACTS``).  Needs the Debian package ``chromium``.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import shimmy_lab as sl
from narrative_texts import STORY
from shimmy_lab.report import insights_rows, story_page

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("SHIMMY_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))


@pytest.fixture(scope="module")
def story():
    return sl.analyze(STORY, title="The Mill")


def test_page_is_self_contained(story):
    page = story_page(story, "the-mill")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=", page), "external script"
    assert not re.search(r"<(?:link|img|iframe)[^>]+(?:src|href)=\"https?:", page)
    assert "Plotly.newPlot" in page
    for name in sl.pl.FIGURES:
        assert f'id="fig-{name}"' in page
    assert page.count('<tr class="insight"') == len(story.insights) > 0
    assert html.escape(str(story.insights["title"].iloc[0])) in page
    # the story text cannot close its script element early
    tricky = sl.analyze('He wrote "</script><b>x</b>" on the wall, said Tom.\n')
    p2 = story_page(tricky, "x")
    assert "</script><b>" not in p2.split('id="story-text">')[1].split("</script>")[0]


def test_insights_rows(story):
    rows = insights_rows(story)
    assert len(rows) == len(story.insights)
    r = rows[0]
    assert r["span"] == " ".join(story.text[r["start"]:r["end"]].split())[:200]
    assert insights_rows(sl.Story.from_text("Plain text.")) == []


class _Recorder(SimpleHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server API
        type(self).paths.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="headless Chromium not installed: apt-get install -y chromium")
def test_story_page_renders_in_chromium(story, tmp_path):
    (tmp_path / "story.html").write_text(story_page(story, "the-mill"), encoding="utf-8")
    handler = type("Handler", (_Recorder,), {"paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ins = story.insights.iloc[0]
        url = (f"http://127.0.0.1:{server.server_port}/story.html"
               f"#span-{int(ins['start'])}-{int(ins['end'])}")
        dom = _chromium(["--dump-dom", url], tmp_path / "profile1")
        assert dom.returncode == 0, dom.stderr[-2000:]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        png = ARTIFACTS / "story-page.png"
        png.unlink(missing_ok=True)
        shot = _chromium([f"--screenshot={png}", "--window-size=1280,3600", url],
                         tmp_path / "profile2")
        assert shot.returncode == 0, shot.stderr[-2000:]
    finally:
        server.shutdown()
        server.server_close()
    out = dom.stdout
    # plotly drew every figure: each plot div became a js-plotly-plot with an SVG
    for name in sl.pl.FIGURES:
        div = re.search(rf'<div class="([^"]*)" id="fig-{name}"', out) or \
            re.search(rf'<div id="fig-{name}"[^>]*class="([^"]*)"', out)
        assert div and "js-plotly-plot" in div.group(1), f"figure {name} not rendered"
    assert out.count('class="main-svg"') >= len(sl.pl.FIGURES)
    assert "Character timeline" in out and "Constraint space" in out
    # the insights table is there, one row per insight
    assert out.count('<tr class="insight"') == len(story.insights)
    # the #span-<start>-<end> link jumped to the passage: it is highlighted
    mark = re.search(r'<div id="span"[^>]*>.*?<mark>(.*?)</mark>', out, re.S)
    assert mark and html.unescape(mark.group(1)) == story.text[int(ins["start"]):int(ins["end"])]
    # nothing but the page itself was requested (plotly.js is inline)
    assert set(handler.paths) <= {"/story.html", "/favicon.ico"}, handler.paths
    assert "/story.html" in handler.paths
    assert png.exists() and png.stat().st_size > 20_000


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="headless Chromium not installed: apt-get install -y chromium")
def test_server_visualize_route_in_chromium(story, tmp_path):
    """The real server (sharing a Lab) serves GET /narrative/visualize/{id}; Chromium renders it."""
    lab = sl.Lab()
    lab.add_story(story, "the-mill")
    handle = sl.serve(lab=lab, background=True, port=0, n_ctx=512, config_reload=0)
    try:
        url = handle.url + "/narrative/visualize/the-mill"
        dom = _chromium(["--dump-dom", url], tmp_path / "profile")
        assert dom.returncode == 0, dom.stderr[-2000:]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        png = ARTIFACTS / "story-page-served.png"
        png.unlink(missing_ok=True)
        shot = _chromium([f"--screenshot={png}", "--window-size=1280,2400", url], tmp_path / "profile2")
        assert shot.returncode == 0 and png.stat().st_size > 20_000
    finally:
        handle.stop()
    out = dom.stdout
    assert out.count('class="main-svg"') >= len(sl.pl.FIGURES)
    assert out.count('<tr class="insight"') == len(story.insights) > 0
