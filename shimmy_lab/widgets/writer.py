"""``Writer``: a small writing panel with narrative context and drift checks."""

from __future__ import annotations

import html
from typing import Any

from ..lab import StoryChanged
from ..plotting import drift_gauge
from ..settings import DEFAULT_ASSERTIVENESS
from ._common import ensure_analyzed, story_id_in

__all__ = ["Writer"]


class Writer:
    """Prompt, generate (streamed), check drift, append: one continuation at a time.

    Parameters
    ----------
    lab
        The :class:`~shimmy_lab.lab.Lab` whose engines generate; appending publishes
        ``StoryChanged(story_id, "appended", story)`` so dashboards (and any other
        subscriber) refresh.
    story
        The :class:`~shimmy_lab.story.Story` being written.
    context_chars
        How much of the end of the story is given to the model with the prompt.

    Attributes
    ----------
    prompt, model, assertiveness, max_tokens, temperature
        The input widgets (drive them from code, or click).
    output
        HTML widget the candidate is streamed into.
    report_view
        Output widget with the drift gauge of the candidate.
    candidate, report
        The last candidate text and its :class:`DriftReport`.
    candidates
        Every ``(text, report)`` generated so far; ``history`` the appended texts.
    """

    def __init__(self, lab: Any, story: Any, context_chars: int = 1500) -> None:
        import ipywidgets as W  # lazy: ipywidgets, only when a widget is built

        self.lab, self.story, self.context_chars = lab, story, context_chars
        try:
            models = lab.models()["id"].astype(str).tolist()
        except Exception:  # a lab without a registry (fakes): the default model only
            models = []
        default = str(lab.default_model)
        self.model = W.Dropdown(description="model", options=models or [default],
                                value=default if default in models or not models else models[0])
        self.prompt = W.Textarea(value="Continue the story.", description="prompt",
                                 layout=W.Layout(width="95%", height="70px"))
        self.assertiveness = W.FloatSlider(value=DEFAULT_ASSERTIVENESS, min=0, max=1, step=0.05,
                                           description="assertive")
        self.max_tokens = W.IntSlider(value=96, min=8, max=512, step=8, description="tokens")
        self.temperature = W.FloatSlider(value=0.8, min=0, max=1.5, step=0.05,
                                         description="temperature")
        self.generate_button = W.Button(description="generate", button_style="primary")
        self.append_button = W.Button(description="append to story", disabled=True)
        self.generate_button.on_click(lambda _b: self.generate())
        self.append_button.on_click(lambda _b: self.append())
        self.output = W.HTML()
        self.report_view = W.Output()
        self.status = W.HTML()
        self.candidate: str = ""
        self.report: Any = None
        self.candidates: list[tuple[str, Any]] = []
        self.history: list[str] = []
        self.box = W.VBox([
            W.HBox([self.model, self.assertiveness]), W.HBox([self.max_tokens, self.temperature]),
            self.prompt, W.HBox([self.generate_button, self.append_button, self.status]),
            self.output, self.report_view])

    def messages(self) -> list[dict[str, str]]:
        """The chat messages for the next generation (context + story tail + prompt)."""
        from ..assistant import context  # lazy: keeps this module's import light

        ensure_analyzed(self.story)
        system = context(self.story, assertiveness=self.assertiveness.value)
        tail = self.story.text[-self.context_chars:]
        user = f"Story so far:\n{tail}\n\n{self.prompt.value}"
        return ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}]

    def generate(self, seed: int | None = None) -> str:
        """Stream a candidate into :attr:`output`, then show its drift report."""
        from ..assistant import drift  # lazy: keeps this module's import light

        self.generate_button.disabled = True
        self.append_button.disabled = True
        self.status.value = "<i>generating…</i>"
        text = ""
        try:
            engine = self.lab.engine(self.model.value)
            params = dict(max_tokens=int(self.max_tokens.value),
                          temperature=float(self.temperature.value), stream=True)
            if seed is not None:
                params["seed"] = seed
            for chunk in engine.chat(self.messages(), **params):
                if chunk.get("choices"):
                    piece = chunk["choices"][0].get("delta", {}).get("content") or ""
                    if piece:
                        text += piece
                        self.output.value = _para(text)
        finally:
            self.generate_button.disabled = False
        self.candidate = text
        self.report = drift(self.story, text)
        self.candidates.append((text, self.report))
        self._show_report()
        self.append_button.disabled = not text.strip()
        self.status.value = f"drift <b>{self.report.score:.2f}</b> · {len(text.split())} words"
        return text

    def _show_report(self) -> None:
        self.report_view.clear_output(wait=True)
        with self.report_view:
            try:
                from IPython.display import display  # lazy: IPython, only inside a notebook

                display(drift_gauge(self.report, self.candidate))
            except ImportError:  # pragma: no cover
                pass

    def append(self, text: str | None = None) -> None:
        """Append the candidate (or ``text``) to the story as a new paragraph."""
        text = (self.candidate if text is None else text).strip()
        if not text:
            raise ValueError("nothing to append: generate a candidate first")
        sep = "" if self.story.text.endswith("\n\n") else "\n" if self.story.text.endswith(
            "\n") else "\n\n"
        self.story.append(sep + text + "\n")
        ensure_analyzed(self.story)
        self.history.append(text)
        self.append_button.disabled = True
        self.status.value = f"appended {len(text.split())} words"
        self.lab.publish(StoryChanged(story_id_in(self.lab, self.story), "appended", self.story))

    def _ipython_display_(self) -> None:
        from IPython.display import display  # lazy: IPython, only inside a notebook

        display(self.box)


def _para(text: str) -> str:
    return ("<div style='white-space:pre-wrap;font-family:Georgia,serif;padding:6px'>"
            + html.escape(text) + "</div>")
