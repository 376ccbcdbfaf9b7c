"""The ``%shimmy`` magics, run through a real IPython shell."""

from __future__ import annotations

import httpx
import pytest

from fake_engine import FAKE_ID, fake_lab

IPython = pytest.importorskip("IPython")


@pytest.fixture()
def shell(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    import shimmy_lab.lab as lab_module

    lab = fake_lab()
    monkeypatch.setattr(lab_module, "_DEFAULT", lab)  # the kernel's default Lab
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "shimmy_lab")
    yield sh, lab
    sh.run_line_magic("unload_ext", "shimmy_lab")
    InteractiveShell.clear_instance()


def test_serve_status_stop(shell, capsys):
    sh, lab = shell
    handle = sh.run_line_magic("shimmy", "serve --port 0")
    try:
        assert handle.app.state.lab is lab  # shares the kernel's Lab
        handle.wait_ready(10)
        r = httpx.post(handle.base_url + "/chat/completions",
                       json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
        assert r.status_code == 200 and r.json()["model"] == FAKE_ID
        lab.stories["tale"] = object()  # what the notebook adds, the server sees
        assert "tale" in handle.app.state.lab.stories
        status = sh.run_line_magic("shimmy", "status")
        assert status[0]["url"] == handle.url and status[0]["ready"] and status[0]["running"]
        models = sh.run_line_magic("shimmy", "models")
        assert FAKE_ID in list(models["id"])
    finally:
        sh.run_line_magic("shimmy", "stop")
    assert not handle.running
    assert "stopped" in capsys.readouterr().out
    assert sh.run_line_magic("shimmy", "status") == []


def test_unload_stops_servers_and_bad_args(shell):
    sh, _ = shell
    handle = sh.run_line_magic("shimmy", "serve --port 0 --parallel 2")
    handle.wait_ready(10)
    assert handle.app.state.settings.parallel == 2
    with pytest.raises(ValueError):
        sh.run_line_magic("shimmy", "serve --port")
    sh.run_line_magic("unload_ext", "shimmy_lab")
    assert not handle.running
    sh.run_line_magic("load_ext", "shimmy_lab")
