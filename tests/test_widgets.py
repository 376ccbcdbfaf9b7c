"""Widgets: built and driven from code (filters, jump to span, live refresh, Writer)."""

from __future__ import annotations

import html
import subprocess
import sys

import pytest

import shimmy_lab as sl
from narrative_texts import STORY

pytest.importorskip("ipywidgets")


class FakeLab(sl.Lab):
    """A real Lab (stories, events) with a scripted engine and two model ids."""

    def __init__(self, reply: str = "Kitty walked to the mill by the river in the rain."):
        super().__init__("fake-model", entries=[])
        self.reply, self.seen = reply, []

    def models(self):
        import pandas as pd

        return pd.DataFrame({"id": ["fake-model", "other-model"]})

    def engine(self, model=None, engine=None, **options):
        lab = self

        class Eng:
            def chat(self, messages, stream=True, **params):
                lab.seen.append((model, messages, params))
                for word in lab.reply.split(" "):
                    yield {"choices": [{"delta": {"content": word + " "}}]}
        return Eng()


@pytest.fixture
def story():
    return sl.analyze(STORY, title="The Mill")


def test_widgets_import_only_here():
    code = "import shimmy_lab as sl, sys; sl.pl; sl.tl; assert 'ipywidgets' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dashboard_tabs_and_filters(story):
    dash = sl.widgets.Dashboard(story)
    titles = [dash.widget.get_title(i) for i in range(len(dash.widget.children))]
    assert titles == list(sl.pl.FIGURES) + ["insights", "character sheet"]
    assert set(dash.figures) == set(sl.pl.FIGURES)
    assert len(dash.choice.options) == len(story.insights)
    assert "dna" in dash.system.options and "open_thread" in dash.kind.options
    df = dash.filter(system="dna")
    assert len(df) and all("dna" in s.split("+") for s in df["system"])
    assert len(dash.choice.options) == len(df)
    df = dash.filter(kind="dead_character_acts")
    assert len(df) == 1 and "Tom" in df["characters"].iloc[0]
    assert len(dash.filter(character="Mr Grey")) < len(story.insights)
    assert dash.filter().shape[0] == len(story.insights)


def test_dashboard_jumps_to_span(story):
    dash = sl.widgets.Dashboard(story)
    dash.filter(kind="fact_contradiction")
    iid = dash.choice.options[0][1]
    dash.choice.value = iid  # as if clicked
    row = story.insights.set_index("insight_id").loc[iid]
    span = story.text[int(row["start"]):int(row["end"])]
    assert "<mark" in dash.span_view.value and html.escape(span.split()[0]) in dash.span_view.value
    assert dash.show_insight(iid) == span
    with pytest.raises(KeyError):
        dash.show_insight("nope")


def test_character_sheet(story):
    dash = sl.widgets.Dashboard(story)
    dash.who.value = "Tom"
    assert "<h3>Tom</h3>" in dash.sheet.value and "dead" in dash.sheet.value
    assert "death" in dash.sheet.value  # facts table
    assert "Kitty" in dash.sheet.value  # relationships


def test_dashboard_live_update_through_lab(story):
    from shimmy_lab.lab import StoryChanged

    lab = FakeLab()
    lab.stories["mill"] = story
    seen = []
    lab.subscribe(StoryChanged, seen.append)
    dash = sl.widgets.Dashboard(story, lab=lab)
    assert dash.refreshes == 1
    n_chars = len(story.text)
    story.append("\n\nCHAPTER IV\n\nA stranger named Silas Crow came to the mill. "
                 "Silas Crow asked Kitty about the money.\n")
    lab.publish(StoryChanged("mill", "appended"))
    assert dash.refreshes == 2
    assert "Silas Crow" in dash.who.options
    assert story.uns["narrative_analysed_to"] == len(story.text) > n_chars
    assert list(_named(dash.figures["characters"], "mentions").x)[-1] == "ch4"
    lab.publish(StoryChanged("another-story", "appended"))  # not ours: ignored
    lab.publish(StoryChanged("mill", "removed"))  # nothing left to show
    assert dash.refreshes == 2
    dash.append("\n\nSilas Crow left the mill at dawn.\n")
    assert dash.refreshes == 3
    assert (seen[-1].story_id, seen[-1].reason, seen[-1].story) == ("mill", "appended", story)
    dash.close()
    lab.publish(StoryChanged("mill", "changed"))
    assert dash.refreshes == 3  # unsubscribed


def test_dashboard_still_follows_the_deprecated_notify(story):
    lab = FakeLab()
    lab.stories["mill"] = story
    dash = sl.widgets.Dashboard(story, lab=lab)
    story.append("\n\nSilas Crow came to the mill.\n")
    with pytest.warns(DeprecationWarning, match="publish"):
        lab.notify("story_updated", "mill")
    assert dash.refreshes == 2
    with pytest.warns(DeprecationWarning):
        lab.notify("model_loaded", "x")  # not a story event: no refresh
    assert dash.refreshes == 2
    dash.close()


def _named(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_writer_generates_checks_and_appends(story):
    lab = FakeLab("Tom laughed and said good morning to Kitty.")
    lab.stories["mill"] = story
    dash = sl.widgets.Dashboard(story, lab=lab)
    w = sl.widgets.Writer(lab, story)
    assert list(w.model.options) == ["fake-model", "other-model"]
    w.assertiveness.value = 0.9
    w.max_tokens.value = 16
    text = w.generate(seed=3)
    model, messages, params = lab.seen[-1]
    assert model == "fake-model" and params["max_tokens"] == 16 and params["seed"] == 3
    assert messages[0]["role"] == "system" and "Tom" in messages[0]["content"]
    assert messages[-1]["content"].endswith("Continue the story.")
    assert text.strip() == "Tom laughed and said good morning to Kitty."
    assert "good morning" in w.output.value
    assert w.report is not None and not w.append_button.disabled
    assert "dead_character_acts" in set(w.report.insights["kind"])  # Tom is dead
    w.assertiveness.value = 0.0
    w.generate()
    assert lab.seen[-1][1][0]["role"] == "user"  # no context message
    before = dash.refreshes
    w.append()
    assert story.text.rstrip().endswith("good morning to Kitty.")
    assert dash.refreshes == before + 1  # the dashboard followed the append
    assert w.history and w.append_button.disabled
    with pytest.raises(ValueError):
        w.append("   ")


def test_dashboard_reuses_an_analysis_of_the_whole_text(monkeypatch):
    import shimmy_lab.assistant as A

    story = sl.analyze(STORY, title="The Mill", systems=("characters", "dna"), voice_model="none")
    calls, real = [], A.analyze
    monkeypatch.setattr(A, "analyze", lambda *a, **k: calls.append(k) or real(*a, **k))
    dash = sl.widgets.Dashboard(story)
    assert calls == []  # analysed to its end: not analysed again
    story.append("\n\nKitty left the mill at dawn.\n")
    dash.refresh()
    assert len(calls) == 1 and list(calls[0]["systems"]) == ["characters", "dna"]
    assert calls[0]["voice_model"] == "none" and calls[0]["assertiveness"] == 0.6
    assert story.uns["narrative_analysed_to"] == len(story.text)
    dash.close()


def test_filter_by_the_renamed_kind_abandoned_loop_is_deprecated(story):
    dash = sl.widgets.Dashboard(story)
    new = dash.filter(kind="abandoned_thread")
    assert len(new) == 1 and (new["kind"] == "abandoned_thread").all()
    with pytest.warns(DeprecationWarning, match="abandoned_thread"):
        old = dash.filter(kind="abandoned_loop")
    assert old.equals(new) and dash.kind.value == "abandoned_thread"
    dash.close()


def test_refresh_reanalyse_is_a_deprecated_spelling(story):
    dash = sl.widgets.Dashboard(story)
    with pytest.warns(DeprecationWarning, match="reanalyze"):
        dash.refresh(reanalyse=True)
    dash.refresh(reanalyze=True)
    assert dash.refreshes == 3
    dash.close()
