"""``Dashboard``: tabs of figures, a filterable insights table and a character sheet."""

from __future__ import annotations

import html
import warnings
from typing import Any

import pandas as pd

from ..lab import StoryChanged
from ..plotting import FIGURES
from ..story.schema import RENAMED_KINDS
from ._common import ensure_analyzed, frame_html, span_html, story_id_in

__all__ = ["Dashboard"]

_ALL = "(all)"


class Dashboard:
    """An interactive view of one story that follows it as it grows.

    Parameters
    ----------
    story
        A :class:`~shimmy_lab.story.Story`; it is analysed (``sl.analyze``) when its
        tracker tables are missing or older than its text.
    lab
        A :class:`~shimmy_lab.lab.Lab`. The dashboard subscribes to its
        :class:`~shimmy_lab.lab.StoryChanged` events and refreshes on those about this
        story (from a notebook cell, a :class:`Writer` or the server), whatever the
        reason but ``removed``.
    figures
        Names of the figure tabs (default: every name of ``sl.pl.FIGURES``).

    Attributes
    ----------
    widget
        The top-level ``ipywidgets.Tab`` (the dashboard displays as it).
    figures
        Figure name -> the current ``plotly.graph_objects.Figure``.
    system, kind, character
        The insight filter dropdowns.
    insights_view, span_view, sheet
        HTML widgets: filtered insights, the passage of the selected insight,
        the character sheet.
    refreshes
        How many times the dashboard has been rebuilt (useful in tests).

    Examples
    --------
    >>> dash = sl.widgets.Dashboard(story, lab=lab)     # doctest: +SKIP
    >>> dash.filter(system="dna", kind="open_thread")   # doctest: +SKIP
    >>> dash.show_insight(dash.filtered().insight_id.iloc[0])  # doctest: +SKIP
    """

    def __init__(self, story: Any, lab: Any = None, figures: list[str] | None = None) -> None:
        import ipywidgets as W  # lazy: ipywidgets, only when a widget is built

        self.story, self.lab = story, lab
        self.names = list(figures or FIGURES)
        self.figures: dict[str, Any] = {}
        self.refreshes = 0
        self._outs = {n: W.Output(layout=W.Layout(min_height="300px")) for n in self.names}
        self.system = W.Dropdown(description="system", options=[_ALL])
        self.kind = W.Dropdown(description="kind", options=[_ALL])
        self.character = W.Dropdown(description="character", options=[_ALL])
        self.choice = W.Select(description="go to", options=[], rows=6,
                               layout=W.Layout(width="95%"))
        self.insights_view = W.HTML()
        self.span_view = W.HTML("<i>select an insight to see its passage</i>")
        for dd in (self.system, self.kind, self.character):
            dd.observe(lambda _change: self._render_insights(), names="value")
        self.choice.observe(self._on_choice, names="value")
        self.who = W.Dropdown(description="character", options=[])
        self.who.observe(lambda _c: self._render_sheet(), names="value")
        self.sheet = W.HTML()
        self.header = W.HTML()
        insights_tab = W.VBox([W.HBox([self.system, self.kind, self.character]), self.choice,
                               self.span_view, self.insights_view])
        self.widget = W.Tab(children=[self._outs[n] for n in self.names]
                            + [insights_tab, W.VBox([self.who, self.sheet])])
        for i, n in enumerate(self.names + ["insights", "character sheet"]):
            self.widget.set_title(i, n)
        self.box = W.VBox([self.header, self.widget])
        self._unsubscribe = lab.subscribe(StoryChanged, self._on_change) if lab is not None else None
        self.refresh()

    # -- updates -----------------------------------------------------------------
    def refresh(self, reanalyze: bool = False, *, reanalyse: bool | None = None) -> None:
        """Re-analyze the story if it changed (always with ``reanalyze``), then rebuild
        every view.  ``reanalyse`` is the deprecated spelling of ``reanalyze``."""
        from tqdm.auto import tqdm  # lazy: tqdm.auto loads ipywidgets in a notebook

        if reanalyse is not None:
            warnings.warn("refresh(reanalyse=...) is deprecated; use reanalyze=", DeprecationWarning,
                          stacklevel=2)
            reanalyze = reanalyse
        ensure_analyzed(self.story, force=reanalyze)
        for name in tqdm(self.names, desc="figures", leave=False, disable=len(self.story.text) < 50_000):
            self.figures[name] = FIGURES[name](self.story)
            out = self._outs[name]
            out.clear_output(wait=True)
            with out:
                _display(self.figures[name])
        ins = self.story.insights
        self._options(self.system, sorted(set(ins["system"].astype(str).str.split("+").explode()
                                              .dropna())))
        self._options(self.kind, sorted(set(ins["kind"].astype(str))))
        chars = self.story.characters.sort_values("mentions", ascending=False)
        names = chars["name"].astype(str).tolist()
        self._options(self.character, names)
        self.who.options = names
        s = self.story.summary()
        self.header.value = (f"<b>{html.escape(str(s['title'] or 'story'))}</b> · {s['words']:,} "
                             f"words · {s['chapters']} chapters · {s['characters']} characters · "
                             f"{len(ins)} insights")
        self._render_insights()
        self._render_sheet()
        self.refreshes += 1

    def _on_change(self, event: StoryChanged) -> None:
        """Refresh on a change of this story (or of an unnamed one)."""
        if event.reason == "removed":
            return
        sid = story_id_in(self.lab, self.story)
        unnamed = event.story_id is None and event.story is None
        if unnamed or event.story is self.story or (sid is not None and event.story_id == sid):
            self.refresh()

    def append(self, text: str) -> None:
        """Append ``text`` to the story, then refresh (and tell the lab's subscribers)."""
        self.story.append(text)
        if self.lab is not None:
            self.lab.publish(StoryChanged(story_id_in(self.lab, self.story), "appended", self.story))
            if self.refreshes and self.story.uns.get("narrative_analysed_to") == len(self.story.text):
                return
        self.refresh()

    def close(self) -> None:
        """Stop listening to the lab and close the widgets."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.box.close()

    # -- insights ----------------------------------------------------------------
    def filter(self, system: str | None = None, kind: str | None = None,
               character: str | None = None) -> pd.DataFrame:
        """Set the filters (None = all) and return the filtered insights.

        A renamed insight kind (``"abandoned_loop"``, now ``"abandoned_thread"``:
        :data:`~shimmy_lab.story.schema.RENAMED_KINDS`) still filters, with a
        ``DeprecationWarning``.
        """
        if kind in RENAMED_KINDS:
            warnings.warn(f"insight kind {kind!r} is deprecated; use {RENAMED_KINDS[kind]!r}",
                          DeprecationWarning, stacklevel=2)
            kind = RENAMED_KINDS[kind]
        self.system.value = system or _ALL
        self.kind.value = kind or _ALL
        self.character.value = character or _ALL
        return self.filtered()

    def filtered(self) -> pd.DataFrame:
        """The insights that pass the current filters."""
        ins = self.story.insights
        if self.system.value != _ALL:
            ins = ins[ins["system"].astype(str).str.split("+").apply(
                lambda s: self.system.value in s)]
        if self.kind.value != _ALL:
            ins = ins[ins["kind"] == self.kind.value]
        if self.character.value != _ALL:
            ins = ins[ins["characters"].apply(lambda c: self.character.value in (c or []))]
        return ins

    def show_insight(self, insight_id: str) -> str:
        """Show the passage of one insight (the "jump to span"); returns that span text."""
        ins = self.story.insights
        row = ins[ins["insight_id"] == insight_id]
        if not len(row):
            raise KeyError(f"no insight {insight_id!r}")
        r = row.iloc[0]
        s, e = int(r["start"]), int(r["end"])
        self.span_view.value = (f"<b>{html.escape(str(r['title']))}</b> "
                                f"<small>[{s}:{e}] · {html.escape(str(r['system']))}</small>"
                                + span_html(self.story.text, s, e))
        return self.story.text[s:e]

    def _on_choice(self, change: dict) -> None:
        if change["new"]:
            self.show_insight(change["new"])

    def _render_insights(self) -> None:
        df = self.filtered()
        self.choice.options = [(f"[{r.priority}] {r.title}", r.insight_id)
                               for r in df.itertuples()]
        view = df[["priority", "severity", "system", "kind", "title", "start", "end"]].copy()
        view["characters"] = df["characters"].apply(lambda c: ", ".join(c or []))
        self.insights_view.value = (f"<small>{len(df)} of {len(self.story.insights)} insights"
                                    f"</small>" + frame_html(view.round(2)))

    # -- character sheet ---------------------------------------------------------
    def character_sheet(self, name: str) -> str:
        """HTML sheet of one character: row, facts, voice, relationships, first lines."""
        st = self.story
        ch = st.characters[st.characters["name"] == name]
        if not len(ch):
            return f"<i>no character {html.escape(name)}</i>"
        r = ch.iloc[0]
        cid = str(r["character_id"])
        facts = st.facts[st.facts["subject"] == cid][["attribute", "value", "chapter"]]
        rel = st.relationships
        rel = rel[(rel["source"] == cid) | (rel["target"] == cid)].copy()
        names = dict(zip(st.characters["character_id"].astype(str),
                         st.characters["name"].astype(str)))
        rel["other"] = rel["source"].where(rel["source"] != cid, rel["target"]).map(
            lambda c: names.get(str(c), c))
        voice = st.voice[st.voice["character_id"] == cid]
        lines = st.quotes[st.quotes["speaker"] == cid]["text"].astype(str).head(3)
        e = html.escape
        parts = [f"<h3>{e(name)}</h3><p>status <b>{e(str(r['status']))}</b> · "
                 f"{e(str(r['gender'])) if pd.notna(r['gender']) else 'gender ?'} · "
                 f"{r['mentions']} mentions · {r['quotes']} quotes · chapters "
                 f"{r['first_chapter']}–{r['last_chapter']}<br>aliases: "
                 f"{e(', '.join(str(r['aliases']).split('|')))}</p>",
                 "<h4>facts</h4>" + frame_html(facts),
                 "<h4>relationships</h4>" + frame_html(
                     rel.sort_values("copresence", ascending=False)[
                         ["other", "copresence", "addresses", "sentiment"]].round(2), 10)]
        if len(voice):
            v = voice.iloc[0]
            parts.append(f"<h4>voice</h4><p>{v['mean_sentence_len']:.1f} words/sentence · "
                         f"questions {v['question_rate']:.2f} · exclamations "
                         f"{v['exclaim_rate']:.2f} · nearest voice {e(str(v['nearest']))}</p>")
        if len(lines):
            parts.append("<h4>says</h4><ul>" + "".join(f"<li>“{e(t[:160])}”</li>"
                                                       for t in lines) + "</ul>")
        return "".join(parts)

    def _render_sheet(self) -> None:
        self.sheet.value = self.character_sheet(self.who.value) if self.who.value else ""

    @staticmethod
    def _options(dd: Any, values: list[str]) -> None:
        keep = dd.value if dd.value in values else _ALL
        dd.options = [_ALL] + values
        dd.value = keep

    def _ipython_display_(self) -> None:
        _display(self.box)


def _display(obj: Any) -> None:
    try:
        from IPython.display import display  # lazy: IPython, only inside a notebook
    except ImportError:  # pragma: no cover
        return
    display(obj)
