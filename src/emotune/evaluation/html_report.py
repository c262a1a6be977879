"""One self-contained HTML page and its markdown twin, from a list of report sections.

A report is a title and a list of :class:`Section` objects whose blocks are
paragraphs, notes (warnings), tables and figures (PNG bytes). :func:`render_html`
embeds every figure as a ``data:`` URI, so the page needs no network access and no
other file; tables marked sortable get a tiny inline script (click a header to
sort). :func:`render_markdown` writes the same blocks as markdown, figures as PNG
files beside it. The section builders live in :mod:`~emotune.evaluation.run_sections`
(a tune run) and :mod:`~emotune.evaluation.comparison_sections` (a comparison).
"""

from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

__all__ = ["Section", "Table", "Figure", "render_html", "render_markdown", "write_report_pair",
           "write_run_report", "write_comparison_report", "HTML_NAME"]

HTML_NAME = "report.html"


@dataclass
class Table:
    """A table block; ``sortable`` tables get click-to-sort headers in HTML."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    sortable: bool = False
    caption: str | None = None


@dataclass
class Figure:
    """A PNG figure block; ``name`` is its file name next to the markdown (``*.png``)."""

    name: str
    png: bytes
    caption: str


@dataclass
class Section:
    """A titled part of the report; ``id`` is the HTML anchor (the browser test looks for it)."""

    id: str
    title: str
    blocks: list[Any] = field(default_factory=list)

    def p(self, text: str) -> "Section":
        self.blocks.append(("p", text))
        return self

    def note(self, text: str) -> "Section":
        self.blocks.append(("note", text))
        return self

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], **kw: Any) -> "Section":
        self.blocks.append(Table(header, rows, **kw))
        return self

    def figure(self, name: str, png: bytes | None, caption: str) -> "Section":
        if png:
            self.blocks.append(Figure(name, png, caption))
        return self


def cell(value: Any) -> str:
    """A table cell as text: floats with 4 significant decimals, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.4g}" if abs(value) >= 1e4 or (value != 0 and abs(value) < 1e-3) else f"{value:.4f}"
    return str(value)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #4c72b0;padding-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;
color:#2d4a7a}nav a{margin-right:.8em;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.86em}th,td{border:1px solid #ccd;padding:.25em .55em;
text-align:right}th{background:#eef2f8}td:first-child,th:first-child{text-align:left}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:" \\2195";color:#99a}
.scroll{max-height:480px;overflow:auto;display:inline-block;max-width:100%}
.note{background:#fff4e5;border-left:4px solid #dd8452;padding:.5em .8em;margin:.8em 0}
figure{margin:.8em 0}figure img{max-width:100%;border:1px solid #dde}figcaption{font-size:.85em;color:#555}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2em 0}
"""

_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], i = th.cellIndex, asc = th.getAttribute('data-order') !== 'asc';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-order'); });
      th.setAttribute('data-order', asc ? 'asc' : 'desc');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[i].textContent, y = b.cells[i].textContent, nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _html_table(t: Table) -> str:
    cls = ' class="sortable"' if t.sortable else ""
    cap = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>" for row in t.rows)
    table = f"<table{cls}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>' if len(t.rows) > 15 else table


def _inline(text: str) -> str:
    """Escape, then turn ``**bold**`` and ``code`` spans into HTML."""
    import re

    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


def render_html(title: str, sections: Sequence[Section]) -> str:
    """The whole page as one string: CSS, figures and the sort script inline."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<nav>" + "".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections) + "</nav>",
    ]
    for s in sections:
        parts.append(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, Table):
                parts.append(_html_table(b))
            elif isinstance(b, Figure):
                data = base64.b64encode(b.png).decode("ascii")
                parts.append(f'<figure><img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            elif b[0] == "note":
                parts.append(f'<div class="note">{_inline(b[1])}</div>')
            else:
                parts.append(f"<p>{_inline(b[1])}</p>")
        parts.append("</section>")
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def render_markdown(title: str, sections: Sequence[Section], assets: str) -> tuple[str, dict[str, bytes]]:
    """The same report as markdown; returns ``(text, {relative png path: bytes})`` (figures under ``assets/``)."""
    lines, files = [f"# {title}", ""], {}
    for s in sections:
        lines += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Table):
                if b.caption:
                    lines += [f"*{b.caption}*", ""]
                lines.append("| " + " | ".join(str(h) for h in b.header) + " |")
                lines.append("|" + "|".join("---" for _ in b.header) + "|")
                lines += ["| " + " | ".join(cell(v).replace("|", "\\|") for v in row) + " |" for row in b.rows]
                lines.append("")
            elif isinstance(b, Figure):
                rel = f"{assets}/{b.name}"
                files[rel] = b.png
                lines += [f"![{b.caption}]({rel})", ""]
            elif b[0] == "note":
                lines += [f"> **{b[1]}**", ""]
            else:
                lines += [b[1], ""]
    return "\n".join(lines), files


def write_report_pair(out: Path, title: str, sections: Sequence[Section], md_name: str) -> tuple[Path, Path]:
    """Write ``out/report.html`` and ``out/<md_name>`` (+ its PNGs under ``out/report_files/``)."""
    out = Path(out)
    html_path = out / HTML_NAME
    atomic_write_text(html_path, render_html(title, sections))
    text, files = render_markdown(title, sections, "report_files")
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    md_path = out / md_name
    atomic_write_text(md_path, text)
    return html_path, md_path


def write_run_report(run_dir: str | Path) -> Path:
    """``report.html`` + ``report_full.md`` for a tune run directory (needs ``result.json``)."""
    from emotune.evaluation.run_sections import run_sections

    run_dir = Path(run_dir)
    title, sections = run_sections(run_dir)
    return write_report_pair(run_dir, title, sections, "report_full.md")[0]


def write_comparison_report(out: str | Path, plan: Any, records: Sequence[dict], analysis: dict) -> Path:
    """``report.html`` + ``report.md`` for a comparison directory."""
    from emotune.evaluation.comparison_sections import comparison_sections

    title, sections = comparison_sections(Path(out), plan, records, analysis)
    return write_report_pair(Path(out), title, sections, "report.md")[0]


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def atomic_write_text(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a reader never sees half a report."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
