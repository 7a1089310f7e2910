"""One report, two renderings: a self-contained HTML page and Markdown.

The report is built once as a list of blocks (headings, paragraphs, tables,
images, …). Tables are pandas DataFrames whose cells are small typed values
(:class:`Mat`, :class:`Code`, :class:`Verdict`, …); each renderer maps the cells
to its own markup and writes the table from the DataFrame's rows: the HTML table
as ``DataFrame.to_html`` wrote it, the Markdown one as a pipe table.

The HTML page loads nothing: CSS is inline, plots and diagrams are inline SVG,
and its one script (the search box) is inline too, allowed by its hash alone.
The Markdown refers to the same pictures as SVG files next to it (``plots/…``),
because code-hosting sites do not show inline SVG in Markdown.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import formatting as F

# --------------------------------------------------------------------------- cells


@dataclass
class Text:
    text: str
    cls: str = ""           # muted | strong | warn | error
    title: str = ""         # hover text (HTML); shown in brackets in Markdown when short


@dataclass
class Mat:
    """Numbers as a matrix (computed values) or the article's printed text."""
    data: Any
    texts: bool = False
    note: str = ""
    cls: str = ""


@dataclass
class Code:
    """Source snippets: [(where, code, note)]."""
    snippets: list


@dataclass
class Tabs:
    """Panels under tabs, one shown at a time with no script (a radio input per tab, CSS shows the checked one's
    panel); printed, every panel shows with its name. ``uid``: unique on the page."""
    uid: str
    tabs: list                  # [(label, cell)]


TABS_MAX = 6                    # panels the stylesheet can switch between (a rule per position below)


@dataclass
class Verdict:
    status: str
    passed: bool | None

    @property
    def kind(self) -> str:
        if self.passed is None:
            return "none"
        if not self.passed:
            return "bad"
        return "erratum" if ("erratum" in self.status or "convention" in self.status
                             or self.status == "not correctly rounded") else "ok"


@dataclass
class Link:
    text: str
    anchor: str
    page: str = ""              # another page of the report (cases/<case>.html), else this one

    @property
    def href(self) -> str:
        return self.page + (f"#{self.anchor}" if self.anchor else "")


@dataclass
class Anchor:
    """A place a link can lead to (index.html#anchor), shown as ``text`` that links to itself — copy it to share
    the place; ``find`` is what the page's search box matches it by."""
    text: str
    anchor: str
    find: str = ""
    page: str = ""              # where the place itself is, when it is on another page (the index's contents)


@dataclass
class Stack:
    """Several cells in one table cell, one per line."""
    items: list


SYMBOL = {"ok": "✅", "bad": "❌", "none": "➖", "erratum": "⚠️"}

# --------------------------------------------------------------------------- blocks


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    items: list                 # str or cells
    cls: str = ""
    anchor: str = ""            # an id on the paragraph (a chapter of the index's articles list)


@dataclass
class Table:
    df: pd.DataFrame
    caption: str = ""
    cls: str = ""
    index: bool = False
    labels: dict = field(default_factory=dict)   # index key -> the cell shown for it
    notes: list = field(default_factory=list)     # footnotes under the table: [(mark, text)]


@dataclass
class Banner:
    kind: str                   # error | ok | warn
    items: list


@dataclass
class Details:
    summary: str
    blocks: list
    open: bool = False


@dataclass
class Find:
    """The page's search box: the page's one script fills it in and matches every Anchor's ``find`` text; without
    the script the page reads the same (its contents lists are links)."""
    placeholder: str


@dataclass
class Svg:
    items: list                 # (markup, alt, file name): <svg> elements built from numbers and escaped text
                                # (reports/diagram.py), side by side; Markdown links plots/<file name>


@dataclass
class Card:
    """One printed quantity, boxed: ``head`` blocks on its first lines (the first one its title), then its blocks
    (its table, notes, code tabs); ``anchor``: the card's address on its page (the article's outline:
    courtial/ch6/delta3)."""
    anchor: str
    head: list
    blocks: list = field(default_factory=list)


@dataclass
class Section:
    anchor: str
    blocks: list = field(default_factory=list)
    page: str = ""              # a page of its own (cases/<case>.html): the index shows ``brief`` and links there
    brief: list = field(default_factory=list)


@dataclass
class Rendered:
    """A Section with a page of its own, already written: its entry on the index, its page and its Markdown (and
    the pictures that Markdown shows) — what ``rendered`` makes of the Section, kept between runs."""
    anchor: str
    page: str
    brief_html: str
    page_html: str
    md: str
    images: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- HTML

CSS = """
:root { --fg:#1b1f24; --muted:#5b6470; --line:#d8dee4; --bg:#fff; --code:#f5f7f9;
        --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --none:#6e7781; --accent:#0969da; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45;
       font: 15px/1.45 "DejaVu Sans", "Liberation Sans", system-ui, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 12px 20px 60px; }
h1 { font-size: 1.6em; margin: .6em 0 .2em; }
h2 { font-size: 1.3em; margin: 2.2em 0 .3em; padding-top: .6em; border-top: 3px solid var(--line); }
h3 { font-size: 1.08em; margin: 1.5em 0 .4em; }
h4 { font-size: 1em; margin: 1.1em 0 .3em; }
p { margin: .35em 0 .6em; }
a { color: var(--accent); }
code, pre, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", ui-monospace, monospace; font-size: 12.5px; }
pre { margin: 0; white-space: pre; }
.scroll { overflow-x: auto; margin: .4em 0 1em; border: 1px solid var(--line); border-radius: 6px; max-width: 100%;
          width: fit-content; }
table { border-collapse: collapse; font-size: 13.5px; }
table.summary, table.toc, table.steps, table.mapping, table.kv { width: 100%; }
thead tr { text-align: left !important; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; text-align: left; }
thead th { background: #f0f3f6; position: sticky; top: 0; white-space: nowrap; }
tbody th { font-weight: normal; background: #fafbfc; }
tbody tr:hover td { background: #f6f8fa; }
td pre.mat, td pre.code { background: var(--code); padding: 3px 6px; border-radius: 4px; }
td pre.mat.printed { background: #fff8e5; border: 1px solid #f0dfb0; }
pre.code { white-space: pre-wrap; overflow-wrap: anywhere; }
.where { color: var(--muted); font-size: 12px; display: block; margin-top: 4px; }
.where:first-child { margin-top: 0; }
.tabs { min-width: 16em; position: relative; }
.tabs > input { position: absolute; opacity: 0; width: 1px; height: 1px; }
.tabs > label { display: inline-block; padding: 1px 9px; margin: 0 2px 0 0; border: 1px solid var(--line);
                border-bottom: 0; border-radius: 5px 5px 0 0; cursor: pointer; font-size: 13px; color: var(--muted); }
.tabs > input:checked + label { background: var(--code); color: var(--fg); font-weight: 600; }
.tabs > input:focus-visible + label { outline: 2px solid var(--accent); }
.tabs > .panel { display: none; border: 1px solid var(--line); border-radius: 0 5px 5px 5px; padding: 5px 7px; }
.tabs > .panel > .tabname { display: none; }
.tabs > input:nth-of-type(1):checked ~ .panel:nth-of-type(1),
.tabs > input:nth-of-type(2):checked ~ .panel:nth-of-type(2),
.tabs > input:nth-of-type(3):checked ~ .panel:nth-of-type(3),
.tabs > input:nth-of-type(4):checked ~ .panel:nth-of-type(4),
.tabs > input:nth-of-type(5):checked ~ .panel:nth-of-type(5),
.tabs > input:nth-of-type(6):checked ~ .panel:nth-of-type(6)
  { display: block; }
.note { color: var(--muted); font-size: 12px; }
.muted { color: var(--muted); }
.strong { font-weight: bold; }
.warn { color: var(--warn); }
.error { color: var(--bad); font-weight: bold; }
.v { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; white-space: nowrap;
     border: 1px solid currentColor; }
.v.ok { color: var(--ok); } .v.bad { color: #fff; background: var(--bad); border-color: var(--bad); }
.v.none { color: var(--none); } .v.erratum { color: var(--warn); }
.banner { padding: 10px 14px; border-radius: 6px; margin: .8em 0; border-left: 6px solid; }
.banner.error { background: #ffebe9; border-color: var(--bad); }
.banner.warn { background: #fff8c5; border-color: #d4a72c; }
.banner.ok { background: #dafbe1; border-color: var(--ok); }
.banner p { margin: .2em 0; }
details { margin: .6em 0 1em; }
summary { cursor: pointer; font-weight: bold; padding: 4px 0; }
.figs { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.find input { width: 100%; max-width: 36em; font: inherit; padding: 6px 10px; border: 1px solid var(--line);
              border-radius: 6px; background: var(--bg); color: inherit; box-sizing: border-box; }
.find ol { margin: .3em 0 1em; padding-left: 1.6em; } .find li { margin: .15em 0; overflow-wrap: anywhere; }
p.contents { line-height: 1.9; overflow-wrap: anywhere; }
a.qa { color: inherit; text-decoration: underline dotted; }
:target { scroll-margin-top: 3em; } th:has(> a.qa:target), td:has(> a.qa:target) { outline: 3px solid #d4a72c; }
.pic { flex: 0 1 auto; min-width: 0; max-width: 100%; overflow-x: auto; }   /* a picture at its smallest scrolls here */
.diagrams svg { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px;
                background: var(--bg); }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px 10px; margin: 0 0 1.1em;
        background: var(--bg); }
.card:target { outline: 3px solid #d4a72c; }
.card:has(a.qa:target) { outline: 3px solid #d4a72c; }
.card header p { margin: 0 0 .15em; overflow-wrap: anywhere; }
.card header p:first-child { font-size: 1.05em; }
.card .scroll { margin: .5em 0 .6em; }
.card details { margin: .3em 0 .5em; } .card summary { font-weight: 600; font-size: 13.5px; }
.card details p { font-size: 13px; margin: .25em 0 .25em 1em; overflow-wrap: anywhere; }
.kv td:first-child, .kv th:first-child { white-space: nowrap; font-weight: bold; width: 1%; }
.quantities tbody th[rowspan], .quantities tbody tr > th:first-child { min-width: 11em; max-width: 17em; }
.quantities td:nth-last-child(-n+3) { white-space: nowrap; }
.mapping td { min-width: 8em; overflow-wrap: anywhere; }
table.mapping { table-layout: fixed; }
table.mapping thead th:first-child { width: 8.5em; }
.steps td:first-child { white-space: nowrap; }
.steps td { min-width: 10em; }
.steps td:first-child { min-width: 9em; }
.qid { font-weight: bold; font-family: "DejaVu Sans Mono", monospace; }
.badge { font-size: 11px; padding: 0 6px; border-radius: 8px; background: #fff1cc; color: var(--warn);
         border: 1px solid #e3c567; margin-left: 4px; white-space: nowrap; }
nav.toc table td { white-space: nowrap; }
footer { color: var(--muted); font-size: 12px; margin-top: 3em; }
@media (max-width: 700px) {
  body { font-size: 14px; }
  main { padding: 8px 10px 40px; }
  h1 { font-size: 1.3em; }
  h2 { font-size: 1.15em; }
  table { font-size: 12.5px; }
  th, td { padding: 4px 5px; }
  code, pre, .mono { font-size: 11.5px; }
  .quantities tbody th[rowspan], .quantities tbody tr > th:first-child { min-width: 9em; }
  .card { padding: 6px 8px 8px; }
  .scroll { width: auto; }
  table.stack, table.stack tbody, table.stack tr, table.stack td, table.stack tbody th {
    display: block; width: auto; min-width: 0 !important; max-width: none !important; }
  table.stack thead { display: none; }
  table.stack tr { border-bottom: 2px solid var(--line); padding: 3px 0; }
  table.stack td, table.stack tbody th { border: 0; padding: 2px 8px; }
  table.stack td { display: inline-block; vertical-align: top; margin-right: 6px; max-width: 100% !important; }
  table.stack td:has(pre), table.stack.mapping td { display: block; margin-right: 0; }
  table.stack tbody th[rowspan] { background: #eef1f4; padding: 6px 8px; border-top: 2px solid #b8c0c8; }
  table.stack tbody th:not([rowspan]) { font-weight: bold; background: none; padding-top: 6px; }
  table.stack td:empty { display: none; }
  table.stack td[data-l]::before { content: attr(data-l); display: block; font-size: 11px; color: var(--muted);
                                   font-weight: bold; margin-top: 2px; }
  td pre.mat, td pre.code { max-width: 100%; overflow-x: auto; }
  table.stack.toc td:first-child, table.stack.summary td:first-child, table.stack.failed td:first-child {
    display: block; font-weight: bold; font-size: 1.05em; }
  table.stack.toc td:first-child::before, table.stack.summary td:first-child::before,
  table.stack.failed td:first-child::before { display: none; }
  .steps td:first-child, .kv td:first-child { white-space: normal; }
}
@media (prefers-color-scheme: dark) {
  :root { --fg:#e6edf3; --muted:#9da7b3; --line:#3d444d; --bg:#0d1117; --code:#161b22;
          --ok:#3fb950; --bad:#f85149; --warn:#d29922; --none:#8b949e; --accent:#4493f8; }
  thead th { background: #161b22; }
  tbody th { background: #10151c; }
  tbody tr:hover td { background: #161b22; }
  td pre.mat.printed { background: #2b2412; border-color: #5c4a1a; }
  .banner.error { background: #3b1216; } .banner.warn { background: #3a2e0f; } .banner.ok { background: #0f2e1a; }
  .badge { background: #3a2e0f; border-color: #6c5417; }
  .v.bad { color: #0d1117; }
  table.stack tbody th[rowspan] { background: #161b22; border-top-color: #3d444d; }
}
@media print {
  :root { --fg:#000; --muted:#444; --line:#bbb; --bg:#fff; --code:#f4f4f4; }
  body { font-size: 10.5px; }
  main { max-width: none; padding: 0; }
  h2 { break-before: page; }
  h2, h3, h4 { break-after: avoid; }
  tr, pre, svg, .banner { break-inside: avoid; }
  .card { border: 0; border-top: 1px solid var(--line); border-radius: 0; padding: 4px 0; }
  details::details-content { content-visibility: visible; display: block; }   /* paper cannot open it */
  thead th { position: static; }
  tbody tr:hover td { background: none; }
  a { color: inherit; text-decoration: none; }
  .scroll { overflow: visible; border: 0; }
  pre { white-space: pre-wrap; }
  .find { display: none; }
  .tabs > label { display: none; }
  .tabs > .panel { display: block !important; border: 0; padding: 0; }
  .tabs > .panel > .tabname { display: block; font-weight: 600; }
  .figs .pic { max-width: 48%; overflow: visible; } .figs svg { min-width: 0 !important; }   /* paper does not scroll */
}
"""


# The browser itself refuses any load that is not inline: no request can leave the page.
# The page's one script: the search box (a Find block). It reads the page's anchors and writes links to them, as
# text (textContent), never as markup; the page's policy lets this script run and no other (its SHA-256 below).
SCRIPT = """(function () {
  var box = document.getElementById('find');
  if (!box) { return; }
  var places = Array.prototype.map.call(document.querySelectorAll('a.qa[data-find]'), function (a) {
    return {text: a.getAttribute('data-find'), low: a.getAttribute('data-find').toLowerCase(),
            href: a.getAttribute('href')};
  });
  var input = document.createElement('input');
  input.type = 'search';
  input.placeholder = box.getAttribute('data-placeholder');
  input.setAttribute('aria-label', box.getAttribute('data-placeholder'));
  var list = document.createElement('ol');
  var said = document.createElement('p');
  said.className = 'muted';
  said.setAttribute('aria-live', 'polite');
  box.appendChild(input); box.appendChild(said); box.appendChild(list);
  input.addEventListener('input', function () {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    list.textContent = ''; said.textContent = '';
    if (!words.length) { return; }
    var found = places.filter(function (p) { return words.every(function (w) { return p.low.indexOf(w) >= 0; }); });
    found.slice(0, 50).forEach(function (p) {
      var li = document.createElement('li'), a = document.createElement('a');
      a.href = p.href; a.textContent = p.text; li.appendChild(a); list.appendChild(li);
    });
    said.textContent = found.length ? found.length + ' printed number(s)' + (found.length > 50 ? ', the first 50:' : ':')
                                    : 'no printed number matches';
  });
  box.hidden = false;
})();"""
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
CSP = (f"default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'; base-uri 'none'; "
       "form-action 'none'")


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _pre(text: str) -> str:
    """Text for a <pre> inside a table cell: pandas' to_html would print a raw newline as '\\n'."""
    return esc(text).replace("\n", "&#10;")


def cell_html(c) -> str:
    if c is None:
        return ""
    if isinstance(c, float) and c != c:      # pandas' NaN for an absent cell
        return ""
    if isinstance(c, str):
        return esc(c)
    if isinstance(c, Text):
        attrs = (f' class="{c.cls}"' if c.cls else "") + (f' title="{esc(c.title)}"' if c.title else "")
        return f"<span{attrs}>{esc(c.text)}</span>" if attrs else esc(c.text)
    if isinstance(c, Mat):
        lines = F.printed_texts(c.data) if c.texts else F.matrix_lines(c.data)
        note = f'<span class="note">{esc(c.note)}</span>' if c.note else ""
        return f'<pre class="mat {c.cls}">{_pre(chr(10).join(lines))}</pre>{note}'
    if isinstance(c, Code):
        parts = []
        for where, code, note in c.snippets:
            parts.append(f'<span class="where">{esc(where)}{" — " + esc(note) if note else ""}</span>'
                         f'<pre class="code">{_pre(code)}</pre>')
        return "".join(parts)
    if isinstance(c, Tabs):
        tabs = c.tabs[:TABS_MAX]
        heads = "".join(f'<input type="radio" name="{esc(c.uid)}" id="{esc(c.uid)}-{i}"{" checked" if i == 0 else ""}>'
                        f'<label for="{esc(c.uid)}-{i}">{esc(name)}</label>' for i, (name, _) in enumerate(tabs))
        panels = "".join(f'<div class="panel"><span class="tabname">{esc(name)}</span>{cell_html(cell)}</div>'
                         for name, cell in tabs)
        return f'<div class="tabs">{heads}{panels}</div>'
    if isinstance(c, Verdict):
        return f'<span class="v {c.kind}">{esc(c.status)}</span>'
    if isinstance(c, Link):
        return f'<a href="{esc(c.href)}">{esc(c.text)}</a>'
    if isinstance(c, Anchor):
        return (f'<a class="qa qid" id="{esc(c.anchor)}" href="{esc(c.page)}#{esc(c.anchor)}" '
                f'data-find="{esc(c.find or c.text)}">{esc(c.text)}</a>')
    if isinstance(c, Stack):
        return "<br>".join(cell_html(i) for i in c.items)
    return esc(c)


def _index_keys(t: Table) -> list[tuple]:
    """Each row's index key as a tuple (one entry per level)."""
    return [k if isinstance(k, tuple) else (k,) for k in t.df.index]


def _rows(t: Table) -> list[list]:
    return t.df.to_numpy(dtype=object).tolist()


def _notes_html(t: Table) -> str:
    if not t.notes:
        return ""
    return '<p class="note">' + "<br>".join(f"[{esc(m)}] {esc(text)}" for m, text in t.notes) + "</p>"


STACKED = {"steps", "mapping", "quantities", "errata", "reference", "toc", "summary", "failed"}   # cards on a phone


def _spaced(h: str) -> str:
    """Two spaces as two non-breaking ones (as pandas wrote every cell): "64 → 32 → 10  (inputs …" keeps its gap."""
    return h.replace("  ", "&nbsp;&nbsp;")


def table_html(t: Table) -> str:
    """The table as pandas' ``DataFrame.to_html`` wrote it (a MultiIndex's runs of one first label as one cell
    spanning them), written here from the cells: pandas' per-cell machinery was a fifth of a report's time."""
    columns = [str(c) for c in t.df.columns]
    stacked = t.cls in STACKED      # each cell carries its column name (data-l), shown only when the table is stacked
    opens = [f'<td data-l="{_spaced(esc(c))}">' if stacked and c else "" for c in columns]
    classes = " ".join(c for c in ["dataframe", "data", t.cls, "stack" if stacked else ""] if c)
    keys = _index_keys(t) if t.index else []
    levels = len(keys[0]) if keys else 0
    out = [f'<table class="{classes}">', "<thead>", '<tr style="text-align: right;">']
    out += ["<th></th>"] * levels + [f"<th>{_spaced(c.strip())}</th>" for c in columns] + ["</tr>", "</thead>", "<tbody>"]
    for r, row in enumerate(_rows(t)):
        out.append("<tr>")
        for level in range(levels):
            label = keys[r][level]
            if level == 0 and levels > 1:
                if r and keys[r - 1][0] == label:
                    continue                 # within the run of its first label: the cell above spans it
                span = 1
                while r + span < len(keys) and keys[r + span][0] == label:
                    span += 1
                out.append(f'<th rowspan="{span}" valign="top">' if span > 1 else "<th>")
            else:
                out.append("<th>")
            out[-1] += _spaced(cell_html(t.labels.get(label, label)).strip()) + "</th>"
        for open_, c in zip(opens, row):
            h = cell_html(c)
            out.append(open_ + _spaced(h.rstrip()) + "</td>" if open_ and h else "<td>" + _spaced(h.strip()) + "</td>")
        out.append("</tr>")
    out += ["</tbody>", "</table>"]
    caption = f'<p class="muted">{esc(t.caption)}</p>' if t.caption else ""
    return f'{caption}<div class="scroll">' + "\n".join(out) + f"</div>{_notes_html(t)}"


def _inline_html(items) -> str:
    return "".join(cell_html(i) for i in items)


def block_html(b) -> str:
    if isinstance(b, Heading):
        anchor = f' id="{esc(b.anchor)}"' if b.anchor else ""
        return f"<h{b.level}{anchor}>{esc(b.text)}</h{b.level}>"
    if isinstance(b, Para):
        cls = f' class="{b.cls}"' if b.cls else ""
        anchor = f' id="{esc(b.anchor)}"' if b.anchor else ""
        return f"<p{anchor}{cls}>{_inline_html(b.items)}</p>"
    if isinstance(b, Tabs):
        return f'<div class="code">{cell_html(b)}</div>'
    if isinstance(b, Card):
        head = "".join(block_html(x) for x in b.head)
        return (f'<article class="card" id="{esc(b.anchor)}"><header>{head}</header>'
                + "\n".join(block_html(x) for x in b.blocks) + "</article>")
    if isinstance(b, Table):
        return table_html(b)
    if isinstance(b, Find):
        return f'<div id="find" class="find" role="search" data-placeholder="{esc(b.placeholder)}" hidden></div>'
    if isinstance(b, Svg):
        return '<div class="figs diagrams">' + "".join(f'<div class="pic">{markup}</div>' for markup, _, _ in b.items) + "</div>"
    if isinstance(b, Banner):
        return f'<div class="banner {b.kind}">' + "".join(
            f"<p>{_inline_html(i if isinstance(i, list) else [i])}</p>" for i in b.items) + "</div>"
    if isinstance(b, Details):
        return (f'<details{" open" if b.open else ""}><summary>{esc(b.summary)}</summary>'
                + "\n".join(block_html(x) for x in b.blocks) + "</details>")
    if isinstance(b, Section):
        return f'<section id="{esc(b.anchor)}">' + "\n".join(block_html(x) for x in b.blocks) + "</section>"
    if isinstance(b, Rendered):
        return b.brief_html
    raise TypeError(f"unknown block {type(b).__name__}")


def pages(title: str, blocks: list) -> dict:
    """{file name: HTML}: index.html, with each Section that has a page of its own shown by its ``brief``, and
    that page (its whole section, a link back to the index and the search box)."""
    index, own = [], {}
    finder = next((f for f in blocks if isinstance(f, Find)), None)
    for b in blocks:
        if isinstance(b, Section) and b.page:
            b = rendered(b, title, finder)
        if isinstance(b, Rendered):
            index.append(b)
            own[b.page] = b.page_html
        else:
            index.append(b)
    return {"index.html": to_html(title, index), **own}


def rendered(b: Section, title: str, finder: Find | None) -> Rendered:
    """A Section with a page of its own as the index shows it (its ``brief``), as its page (the whole section, a
    link back to the index and the search box ``finder``) and as Markdown."""
    back = Para([Link("← every case (index.html)", b.anchor, "../index.html")], "muted")
    page = to_html(f"{b.anchor} — {title}", [back] + ([finder] if finder else []) + [Section(b.anchor, b.blocks)])
    images: dict = {}
    md = block_md(b, images)
    return Rendered(b.anchor, b.page, block_html(Section(b.anchor, b.brief)), page, md, images)


def to_html(title: str, blocks: list) -> str:
    body = "\n".join(block_html(b) for b in blocks)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n"
            f"</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n")


# --------------------------------------------------------------------------- Markdown

def md_escape(text: str) -> str:
    """User text as literal Markdown: HTML as entities (no renderer runs a tag), Markdown's marks escaped."""
    text = html.escape(str(text), quote=False).replace("\\", "\\\\")
    return re.sub(r"([|*_`\[\]])", r"\\\1", text)


def _code_span(text: str) -> str:
    text = text.replace("|", "\\|")
    ticks = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def cell_md(c) -> str:
    if c is None or (isinstance(c, float) and c != c):
        return ""
    if isinstance(c, str):
        return md_escape(c)
    if isinstance(c, Text):
        t = md_escape(c.text)
        mark = "**" if c.cls in ("strong", "error") else "*" if c.cls == "muted" else ""
        if not mark or not t.strip():
            return t
        core = t.strip()            # emphasis may not start or end with a space: keep the spaces outside
        return t[:len(t) - len(t.lstrip())] + mark + core + mark + t[len(t.rstrip()):]
    if isinstance(c, Mat):
        lines = F.printed_texts(c.data) if c.texts else F.matrix_lines(c.data)
        out = "<br>".join(_code_span(l) for l in lines)
        return out + (f"<br>*{md_escape(c.note)}*" if c.note else "")
    if isinstance(c, Code):
        parts = []
        for where, code, note in c.snippets:
            parts.append(f"*{md_escape(where)}*" + (f" — {md_escape(note)}" if note else "") + "<br>"
                         + "<br>".join(_code_span(l) for l in code.splitlines()))
        return "<br>".join(parts)
    if isinstance(c, Tabs):
        return "<br>".join(f"**{md_escape(name)}**<br>{cell_md(cell)}" for name, cell in c.tabs)
    if isinstance(c, Verdict):
        return f"{SYMBOL[c.kind]} {md_escape(c.status)}"
    if isinstance(c, Link):
        return f"[{md_escape(c.text)}](#{c.anchor})"            # report.md is one file: every case is in it
    if isinstance(c, Anchor):
        return md_escape(c.text)
    if isinstance(c, Stack):
        return "<br>".join(cell_md(i) for i in c.items)
    return md_escape(str(c))


def table_md(t: Table) -> str:
    """A GitHub pipe table from the DataFrame (a MultiIndex's repeated first label is shown once)."""
    header = [md_escape(c) for c in t.df.columns]
    body = [[cell_md(c) for c in row] for row in _rows(t)]
    if t.index:
        keys = _index_keys(t)
        shown = [[("" if i and j == 0 and keys[i - 1][0] == k[0] else cell_md(t.labels.get(x, x)))
                  for j, x in enumerate(k)] for i, k in enumerate(keys)]
        header = [""] * (len(keys[0]) if keys else 1) + header
        body = [idx + row for idx, row in zip(shown, body)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in body:
        lines.append("| " + " | ".join(str(c).replace("\n", "<br>") for c in row) + " |")
    caption = f"*{md_escape(t.caption)}*\n\n" if t.caption else ""
    notes = ("\n\n" + "<br>".join(f"[{md_escape(m)}] {md_escape(text)}" for m, text in t.notes)) if t.notes else ""
    return caption + "\n".join(lines) + notes


def block_md(b, images: dict) -> str:
    if isinstance(b, Find):
        return ""                   # Markdown has no script: its headings are the contents
    if isinstance(b, Heading):
        return "#" * b.level + " " + md_escape(b.text)
    if isinstance(b, Para):
        return "".join(cell_md(i) for i in b.items)
    if isinstance(b, Tabs):
        return cell_md(b)
    if isinstance(b, Card):
        head = [block_md(x, images) for x in b.head]
        return "\n\n".join(["#### " + head[0]] + head[1:] + [block_md(x, images) for x in b.blocks])
    if isinstance(b, Table):
        return table_md(b)
    if isinstance(b, Svg):
        for markup, _, name in b.items:
            images[name] = markup.encode("utf-8")
        return "\n\n".join(f"![{md_escape(alt)}](plots/{name})" for _, alt, name in b.items)
    if isinstance(b, Banner):
        mark = {"error": "❌", "warn": "⚠️", "ok": "✅"}[b.kind]
        return "\n>\n".join(f"> {mark} " + "".join(cell_md(x) for x in (i if isinstance(i, list) else [i]))
                            for i in b.items)
    if isinstance(b, Details):
        inner = "\n\n".join(block_md(x, images) for x in b.blocks)
        return f"<details{' open' if b.open else ''}><summary>{html.escape(b.summary)}</summary>\n\n{inner}\n\n</details>"
    if isinstance(b, Section):
        return "\n\n".join(block_md(x, images) for x in b.blocks)
    if isinstance(b, Rendered):
        images.update(b.images)
        return b.md
    raise TypeError(f"unknown block {type(b).__name__}")


def to_markdown(blocks: list) -> tuple[str, dict]:
    """(Markdown text, {file name: SVG bytes} for plots/)."""
    images: dict = {}
    text = "\n\n".join(m for m in (block_md(b, images) for b in blocks) if m) + "\n"
    return text, images
