"""A self-contained HTML page of a story: its figures and its insights table.

:func:`story_page` returns one HTML string with plotly.js inlined from the plotly
Python package (``plotly.offline.get_plotlyjs()``): the page needs no network, so
it works offline, behind a firewall and as a saved file.  The server serves it at
``GET /narrative/visualize/{story_id}``.

Examples
--------
>>> import shimmy_lab as sl
>>> from shimmy_lab.report import story_page
>>> story = sl.analyze("CHAPTER I\\n\\nKitty had blue eyes. \\"Hi, Tom,\\" said Kitty.\\n")
>>> page = story_page(story, "kitty")
>>> page.startswith("<!DOCTYPE html>") and "cdn" not in page.split("<script>")[0]
True
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any, Iterable

import pandas as pd

from .plotting import figures as make_figures

__all__ = ["story_page", "insights_rows"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222}
header{background:#243447;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.8;font-size:13px}
main{padding:16px 24px;max-width:1200px;margin:auto}
nav a{margin-right:14px;font-size:13px}
.fig{border:1px solid #e3e3e3;border-radius:6px;margin:14px 0;min-height:300px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:5px 8px;text-align:left;vertical-align:top}
tr.insight{cursor:pointer} tr.insight:hover{background:#f4f8ff}
.p-critical{color:#d62728;font-weight:600}.p-important{color:#e67e00;font-weight:600}
.p-interesting{color:#1f77b4}.p-minor{color:#7f7f7f}
#span{white-space:pre-wrap;background:#fafafa;border-left:4px solid #1f77b4;padding:8px 12px;
font-family:Georgia,serif;font-size:14px;max-height:220px;overflow:auto}
#span mark{background:#ffe08a}
"""

_JS = """
var TEXT = JSON.parse(document.getElementById('story-text').textContent);
function esc(s){return s.replace(/[&<>]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;'}[c];});}
function showSpan(start, end){
  var a = Math.max(0, start - 300), b = Math.min(TEXT.length, end + 300);
  var el = document.getElementById('span');
  el.innerHTML = (a > 0 ? '\\u2026' : '') + esc(TEXT.slice(a, start)) + '<mark>' +
    esc(TEXT.slice(start, end)) + '</mark>' + esc(TEXT.slice(end, b)) + (b < TEXT.length ? '\\u2026' : '');
  el.dataset.start = start; el.dataset.end = end;
  el.scrollIntoView({block: 'nearest'});
}
document.querySelectorAll('tr.insight').forEach(function(tr){
  tr.addEventListener('click', function(){ showSpan(+tr.dataset.start, +tr.dataset.end); });
});
var FIGS = JSON.parse(document.getElementById('figures').textContent);
var m = location.hash.match(/^#span-(\\d+)-(\\d+)$/);
if (m) { showSpan(+m[1], +m[2]); }
Object.keys(FIGS).forEach(function(name){
  var f = FIGS[name];
  Plotly.newPlot('fig-' + name, f.data, f.layout, {responsive: true, displaylogo: false});
});
"""


@lru_cache(maxsize=1)
def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs  # lazy: plotly, only when a figure is drawn

    return get_plotlyjs()


def _json_script(obj: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    return json.dumps(obj).replace("</", "<\\/").replace("<!--", "<\\!--")


def insights_rows(story: Any, limit: int = 200) -> list[dict[str, Any]]:
    """The insights as plain dicts (with a ``span`` excerpt), most urgent first."""
    ins = story.tables.get("insights")
    if ins is None or not len(ins):
        return []
    out = []
    for r in ins.head(limit).to_dict("records"):
        chars = r.get("characters")
        s, e = int(r["start"]), int(r["end"])
        out.append({
            "insight_id": str(r["insight_id"]), "system": str(r["system"]),
            "kind": str(r["kind"]), "priority": str(r["priority"]),
            "severity": float(r["severity"]) if pd.notna(r["severity"]) else 0.0,
            "title": str(r["title"]), "message": str(r["message"]),
            "suggestion": "" if pd.isna(r["suggestion"]) else str(r["suggestion"]),
            "characters": list(chars) if isinstance(chars, (list, tuple)) else [],
            "start": s, "end": e, "span": " ".join(story.text[s:e].split())[:200],
        })
    return out


def story_page(story: Any, story_id: str, figures: Iterable[str] | None = None) -> str:
    """Render a self-contained HTML page of ``story``.

    Parameters
    ----------
    story
        An analysed :class:`~shimmy_lab.story.Story` (``sl.analyze``); a story with
        no tracker tables gets placeholder figures and an empty insights table.
    story_id
        Shown in the header and the page title.
    figures
        Names from :data:`shimmy_lab.plotting.FIGURES` (default: all).

    Returns
    -------
    str
        An HTML document with plotly.js inlined (no CDN, no network request), one
        ``div.fig`` per figure, the insights table (``tr.insight`` rows with
        ``data-start``/``data-end``; a click shows the span in context) and the
        story text embedded as JSON for that.
    """
    e = html.escape
    figs = make_figures(story, None if figures is None else list(figures))
    fig_json = {name: json.loads(f.to_json()) for name, f in figs.items()}
    rows = insights_rows(story)
    body_rows = "".join(
        f'<tr class="insight" data-start="{r["start"]}" data-end="{r["end"]}" '
        f'data-system="{e(r["system"])}" data-kind="{e(r["kind"])}">'
        f'<td class="p-{e(r["priority"])}">{e(r["priority"])}</td><td>{r["severity"]:.2f}</td>'
        f'<td>{e(r["system"])}</td><td>{e(r["kind"])}</td>'
        f'<td><b>{e(r["title"])}</b><br>{e(r["message"])}'
        + (f'<br><i>{e(r["suggestion"])}</i>' if r["suggestion"] else "")
        + f'</td><td>{e(", ".join(r["characters"]))}</td>'
        f'<td>[{r["start"]}:{r["end"]}] <i>{e(r["span"][:90])}</i></td></tr>'
        for r in rows)
    s = story.summary() if hasattr(story, "summary") else {}
    title = str(getattr(story, "title", None) or story_id)
    meta = (f"{s.get('words', len(story.text.split())):,} words · {s.get('chapters', 0)} "
            f"chapters · {s.get('characters', 0)} characters · {len(rows)} insights")
    nav = "".join(f'<a href="#fig-{n}">{e(n)}</a>' for n in figs) + '<a href="#insights">insights</a>'
    divs = "".join(f'<h2 id="h-{n}">{e(n)}</h2><div class="fig" id="fig-{n}"></div>' for n in figs)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)} · shimmy-lab</title><style>{_CSS}</style>"
        f"<script>{_plotlyjs()}</script></head><body>"
        f"<header><h1>{e(title)}</h1><p>story <code>{e(story_id)}</code> · {e(meta)}</p></header>"
        f"<main><nav>{nav}</nav>{divs}"
        f'<h2 id="insights">Insights</h2><div id="span">Click an insight to see its passage.</div>'
        f'<table id="insights-table"><thead><tr><th>priority</th><th>severity</th><th>system</th>'
        f"<th>kind</th><th>insight</th><th>characters</th><th>span</th></tr></thead>"
        f"<tbody>{body_rows}</tbody></table></main>"
        f'<script type="application/json" id="story-text">{_json_script(story.text)}</script>'
        f'<script type="application/json" id="figures">{_json_script(fig_json)}</script>'
        f"<script>{_JS}</script></body></html>")
