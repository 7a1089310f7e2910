"""`backprop-parity report`: the files, their content, their columns, and that the page loads nothing.

One full report (every built-in case on every backend, from the parity tests' cached runs:
``report_support.full_report``) is checked for content; small runs check the command line
(progress, --quiet, exit codes, a missing backend said loudly).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import re
from dataclasses import fields
from html.parser import HTMLParser
from xml.etree import ElementTree

import numpy as np
import pytest

from backprop_parity.reference import registry
from backprop_parity.reference.backend import Trace
from backprop_parity.reports import cli, plots, steps
from backprop_parity.reports.compare import Comparison
from backprop_parity.reports.render import md_escape
from backprop_parity.reports.report import COLUMNS

from . import helpers
from .report_support import full_report

pytestmark = pytest.mark.cost(50)     # its tests' seconds, summed (conftest: the costliest files start first)

FILES = ("index.html", "report.md", "comparisons.csv", "comparisons.json")
REF = registry.reference().name


@pytest.fixture(scope="module")
def report():
    out, res = full_report()
    return {"out": out, "results": res, "html": (out / "index.html").read_text(encoding="utf-8"),
            "md": (out / "report.md").read_text(encoding="utf-8"),
            "pages": {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
                      for p in sorted((out / "cases").glob("*.html"))}}


def section(text: str, case: str) -> str:
    """One case's section of a page (pandas writes runs of spaces as &nbsp;)."""
    start = text.index(f'<section id="{case}">')
    return text[start:text.index("</section>", start)].replace("&nbsp;", " ")


def case_page(report, case: str) -> str:
    """The case's own page, cases/<case>.html: its section whole."""
    return section(report["pages"][f"cases/{case}.html"], case)


def md_section(md: str, case: str) -> str:
    start = md.index(f"\n## {md_escape(case)}\n")
    end = md.find("\n## ", start + 1)
    return md[start:end if end > 0 else len(md)]


# --------------------------------------------------------------------------- files and content

def test_files_exist(report):
    for name in FILES:
        path = report["out"] / name
        assert path.is_file() and path.stat().st_size > 0, name
    svgs = list((report["out"] / "plots").glob("*.svg"))
    assert svgs and not list((report["out"] / "plots").glob("*.png"))
    for p in svgs:                                   # each a well-formed SVG file on its own
        root = ElementTree.fromstring(p.read_bytes())
        assert root.tag == "{http://www.w3.org/2000/svg}svg", p.name
    for ref in re.findall(r"\]\((plots/[^)]+)\)", report["md"]):       # every image the Markdown shows exists
        assert (report["out"] / ref).is_file(), ref


@pytest.mark.parametrize("name", helpers.CASES)
def test_every_case_and_quantity(report, name):
    page, md = case_page(report, name), md_section(report["md"], name)
    case = helpers.case(name)
    assert html.escape(case.title) in page and md_escape(case.title) in md
    for q in case.quantities:
        assert re.search(rf'<a class="qa qid" id="[^"]*"[^>]*>{re.escape(html.escape(q.id))}</a>', page), \
            f"{name}/{q.id} missing from index.html"
        assert md_escape(q.id) in md, f"{name}/{q.id} missing from report.md"


@pytest.mark.parametrize("name", helpers.CASES)
def test_case_section_order_and_blocks(report, name):
    """The cost before any update comes first; errata, mapping and plots are there when they apply."""
    page = case_page(report, name)
    case = helpers.case(name)
    order = [page.index(h) for h in ("Cost before any update", "Network, conventions", "Quantities:")]
    assert order == sorted(order)
    for q in case.quantities:
        if q.erratum:
            assert html.escape(q.erratum) in page, f"{name}/{q.id}: erratum explanation missing"
    _, res = full_report()
    traces = next(t for c, t, _ in res if c.name == name)
    for t in traces:
        if isinstance(t, Trace):
            assert f"{t.backend}/{t.style}" in page
            for k, v in (t.mapping or {}).items():
                if v not in (None, ""):
                    assert html.escape(str(v)) in page, f"{name}: mapping {t.backend}/{t.style} {k} missing"
            if "J" in t.values:
                assert "J before any update" in page
    assert page.count('class="plot"') >= 1
    if case.net is not None and case.y is not None and case.hyper.epochs > 1:
        assert "cost per epoch" in page


def test_step_mapping_is_in_the_report(report):
    page = report["html"][report["html"].index('id="steps"'):report["html"].index("<section")].replace("&nbsp;", " ")
    for name, step in steps.STEPS.items():
        assert html.escape(step.formula) in page
        for b in registry.names():
            for m in steps.extract(b) or []:
                if m.step == name:
                    assert html.escape(m.where) in page


def test_environment_block(report):
    page = html.unescape(report["html"][report["html"].index('id="environment"'):]).replace("\xa0", " ")
    for word in ("Python", "NumPy", "dtype", "threads", "Time per backend"):
        assert word in page, word
    for b in registry.entries():                    # every backend's versions, run or not
        if b.distributions:
            assert b.title in page, b.title
    ran = report["results"].environment             # what each framework's worker said about itself
    for b in registry.entries():
        if b.reference or all(isinstance(t, Comparison) for _, ts, _ in report["results"] for t in ts
                              if t.backend == b.name):
            continue
        assert b.name in ran, f"{b.name} ran but its worker reported no environment"
        for name, value in ran[b.name]["versions"] + ran[b.name]["facts"]:
            assert name in page and value in page, (name, value)
        assert any("(loaded)" in value for _, value in ran[b.name]["versions"]), ran[b.name]


def test_backends_that_did_not_run_are_loud(report):
    missing = {(r.backend, r.style): r for _, _, rs in report["results"] for r in rs if r.status == "NOT RUN"}
    for (b, s), r in missing.items():
        assert f"{b}/{s}" in report["html"] and "NOT RUN" in report["html"]
    if not missing:
        assert "Every backend ran" in report["html"]


# --------------------------------------------------------------------------- CSV / JSON

def test_columns_are_the_comparison_fields():
    assert COLUMNS == [f.name for f in fields(Comparison)]


def test_csv_and_json_rows(report):
    rows = [r for _, _, rs in report["results"] for r in rs]
    with open(report["out"] / "comparisons.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        csv_rows = list(reader)
    data = json.loads((report["out"] / "comparisons.json").read_text(encoding="utf-8"))
    assert all(list(d) == COLUMNS for d in data)
    assert len(csv_rows) == len(data) == len(rows)
    ident = lambda d: (d["case"], d["quantity"], d["backend"], d["style"], d["source"])  # noqa: E731
    assert [ident(d) for d in csv_rows] == [ident(d) for d in data] == [ident(r.as_dict()) for r in rows]
    for d, r in zip(csv_rows, rows):           # the CSV says which comparisons failed, passed or had nothing to compare
        assert d["passed"] == ("" if r.passed is None else str(r.passed))
        assert d["status"] == r.status
        if isinstance(r.actual, list):
            assert json.loads(d["actual"]) == json.loads(json.dumps(cli._jsonable(cli.written(r.as_dict())["actual"])))


def test_large_arrays_are_written_as_their_shape_and_extremes():
    """Above cli.WRITTEN_NUMBERS numbers an array is its shape, size, min and max in the CSV and JSON (the digits
    case's per-element tolerances of seven styles were 400 MB); smaller ones in full."""
    big, small = np.arange(cli.WRITTEN_NUMBERS + 1, dtype=float).reshape(1, -1).tolist(), [[1.0, 2.0]]
    out = cli.written({"expected": big, "actual": small, "tolerance": big, "label": "x"})
    assert out["actual"] == small and out["label"] == "x"
    for key in ("expected", "tolerance"):
        assert out[key]["shape"] == [1, cli.WRITTEN_NUMBERS + 1] and out[key]["numbers"] == cli.WRITTEN_NUMBERS + 1
        assert out[key]["min"] == 0.0 and out[key]["max"] == cli.WRITTEN_NUMBERS and "not written out" in out[key]["note"]


def test_json_is_what_check_writes(report, tmp_path):
    rows = [r for _, _, rs in report["results"] for r in rs]
    cli.write_json(rows, str(tmp_path / "check.json"))
    assert (tmp_path / "check.json").read_bytes() == (report["out"] / "comparisons.json").read_bytes()


# --------------------------------------------------------------------------- no request

class _Loads(HTMLParser):
    """Every URL the page could load: src/href/srcset/poster/data/action, CSS url(), @import, <script>, <link>."""

    def __init__(self):
        super().__init__()
        self.urls, self.tags, self.links = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if v is None:
                continue
            if tag == "a" and k == "href":
                self.links.append(v)              # navigation only when clicked, not a load
            elif k in ("src", "href", "srcset", "poster", "data", "action", "formaction", "background",
                       "xlink:href", "manifest", "ping"):
                self.urls.append(v)
            elif k == "style":
                self.urls += re.findall(r"url\(([^)]*)\)", v)


@pytest.mark.parametrize("page", ["index.html", "a case's page"])
def test_html_makes_no_external_request(report, page):
    text = report["html"] if page == "index.html" else report["pages"]["cases/courtial-bias-trick.html"]
    p = _Loads()
    p.feed(text)
    assert "link" not in p.tags and "iframe" not in p.tags and "object" not in p.tags
    # one script, inline, the search box: the page's policy names its SHA-256 and allows no other
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, flags=re.S)
    assert p.tags.count("script") == 1 and len(scripts) == 1 and scripts[0][0] == "", scripts[:1]
    digest = base64.b64encode(hashlib.sha256(scripts[0][1].encode("utf-8")).digest()).decode("ascii")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text).group(1)
    assert f"script-src 'sha256-{digest}';" in policy and "unsafe-inline'; base" not in policy, policy
    assert bool(p.urls) == (page != "index.html"), "a case's page draws plots (their markers); the index none"
    all_ids = re.findall(r' id="([^"]+)"', text)
    ids = set(all_ids)
    assert len(ids) == len(all_ids), "an id is on the page twice: a link or a marker would find the wrong one"
    for url in p.urls:                              # a plot's <use href="#…">: a marker defined on the page
        assert url.startswith("#") and url[1:] in ids, url[:80]
    for link in p.links:                            # contents, each printed quantity's own address, plot rows
        assert link.startswith("#") and link[1:] in ids or link.startswith(("cases/", "../index.html")), link
    style = "".join(re.findall(r"<style>(.*?)</style>", text, flags=re.S))
    assert "url(" not in style and "@import" not in style
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_every_printed_quantity_has_its_own_address(report):
    """cases/<case>.html#<case>/<quantity>: once per printed quantity, in its case's section, reached from the
    case's contents line and from its row of the article plot; index.html has the same id on the case's
    contents line, leading there, so the search box of either page matches it by that text."""
    index = report["html"]
    n = 0
    for case, _, rows in report["results"]:
        text = report["pages"][f"cases/{case.name}.html"]
        sec, brief = section(text, case.name), section(index, case.name)
        contents = re.search(r'<p class="contents">(.*?)</p>', sec, flags=re.S).group(1)
        for q in case.quantities:
            address = html.escape(f"{case.name}/{q.id}", quote=True)
            assert text.count(f'id="{address}"') == 1 and f'id="{address}"' in sec, address
            assert f'href="#{address}"' in contents, address
            for page, where, href in ((sec, text, f"#{address}"), (brief, index, f"cases/{case.name}.html#{address}")):
                tag = re.search(rf'<a class="qa qid" id="{re.escape(address)}" href="{re.escape(href)}" '
                                r'data-find="([^"]*)"', page)
                assert tag and html.unescape(tag.group(1)).startswith(f"{case.name} · {q.id}"), (address, href)
                assert where.count(f'id="{address}"') == 1, address
            n += 1
        plotted = {r.quantity for r in rows if r.source == "article" and plots.used(r) is not None}
        for qid in plotted:
            assert f'<a href="#{html.escape(f"{case.name}/{qid}", quote=True)}" class="ql">' in sec, (case.name, qid)
    assert n >= len(report["results"]) * 2, n      # not a check over nothing


def test_each_card_shows_each_frameworks_own_lines(report):
    """A printed quantity's card ends with a tab per backend that ran, holding that backend's marked lines of the
    step that computes it (with L2, the L2 term's too), read from the source; a tab of every backend is there."""
    from backprop_parity.reports.explain import quantity_steps
    from backprop_parity.reports.report import card_steps
    n = 0
    for case, traces, _ in report["results"]:
        ref = next((t for t in traces if isinstance(t, Trace) and t.backend == REF), None)
        if ref is None or case.net is None:
            continue
        page = case_page(report, case.name)
        ran = [b for b in registry.entries() if any(isinstance(t, Trace) and t.backend == b.name for t in traces)]
        for qid, step in quantity_steps(case, list(ref.values)).items():
            start = page.index(f'name="{html.escape(f"code-{case.name}/{qid}", quote=True)}"')
            tabs = page[start:page.index("</div></div>", start)]
            for b in ran:
                assert f">{html.escape(b.title)}</label>" in tabs, (case.name, qid, b.name)
                lines = [m for s in card_steps(case, step) for m in steps.for_step(s, b.name) if m.serves(case)]
                assert lines, (case.name, qid, b.name, step)
                for m in lines:
                    assert html.escape(m.code.splitlines()[0], quote=True) in tabs, (case.name, qid, m.where)
            n += 1
    assert n > 100, n


def test_each_card_says_how_each_framework_is_set_up_for_it(report):
    """A card of an update carries each style's learning rate and update as its mirror reported them (Keras' lr =
    α·s·m_step for this case), with L2 on its L2 mapping too; a card of a cost, its loss mapping: the mapping data
    of that case, on the card of the number it changes."""
    from backprop_parity.reports.explain import quantity_steps
    from backprop_parity.reports.report import card_anchor
    from backprop_parity.reports.steps import SETUP_KEYS
    n = 0
    for case, traces, _ in report["results"]:
        ref = next((t for t in traces if isinstance(t, Trace) and t.backend == REF), None)
        if ref is None or case.net is None:
            continue
        page = report["pages"][f"cases/{case.name}.html"]
        step_of = quantity_steps(case, list(ref.values))
        for q in case.quantities:
            if q.id not in step_of:
                continue
            start = page.index(f'<article class="card" id="{html.escape(card_anchor(case, q), quote=True)}">')
            card = page[start:page.index("</article>", start)]
            for t in traces:
                for key in SETUP_KEYS[step_of[q.id]]:
                    v = (t.mapping or {}).get(key) if isinstance(t, Trace) else None
                    if v not in (None, ""):
                        assert html.escape(str(v)) in card, (case.name, q.id, t.backend, t.style, key)
                        n += 1
    assert n > 500, n


def test_the_index_lists_every_printed_number_by_article_and_chapter(report):
    """index.html: per article, per chapter (its own address, e.g. #courtial/ch6), a link to every printed
    quantity's card on its case's page, which is addressed by the article's outline (courtial/ch6/delta3)."""
    from backprop_parity.reports.report import card_anchor, chapter_anchor
    index = report["html"]
    block = index[index.index('id="articles"'):index.index('id="steps"')]
    n = 0
    for case, _, _ in report["results"]:
        assert html.escape(case.article_title) in block, case.article_title
        page = report["pages"][f"cases/{case.name}.html"]
        for q in case.quantities:
            card = card_anchor(case, q)
            href = html.escape(f"cases/{case.name}.html#{card}", quote=True)
            assert f'<a href="{href}">{html.escape(q.id)}</a>' in block, href
            assert page.count(f'id="{html.escape(card, quote=True)}"') == 1, card      # the card, once
            assert f'<article class="card" id="{html.escape(card, quote=True)}">' in page, card
            if q.section and case.article != "user":
                chapter = chapter_anchor(case.article, q.section)
                assert card == f"{chapter}/{q.id}" and f'<p id="{html.escape(chapter, quote=True)}">' in block, card
                assert html.escape(q.section) in block, q.section
            n += 1
    assert n > 250, n                       # the built-in cases print 293 numbers: not a check over nothing
    assert card_anchor(helpers.case("courtial-l2"), helpers.case("courtial-l2").quantities[0]).startswith("courtial/ch8/")


def test_the_index_is_small_and_every_link_lands(report):
    """index.html holds every case's verdict and contents, not its tables and plots (issue 11: ≤ 1.5 MB for all
    built-in cases; each case's page carries the rest); every link of every page leads to a page of the report
    and, after '#', to an id on it."""
    import os
    assert len(report["results"]) == len(helpers.CASES) and report["pages"]
    assert (report["out"] / "index.html").stat().st_size <= 1_500_000
    pages = {"index.html": report["html"], **report["pages"]}
    ids = {name: set(map(html.unescape, re.findall(r' id="([^"]+)"', text))) for name, text in pages.items()}
    n = 0
    for name, text in pages.items():
        for link in map(html.unescape, re.findall(r'<a [^>]*href="([^"]*)"', text)):
            page, _, anchor = link.partition("#")
            target = os.path.normpath(os.path.join(os.path.dirname(name), page)) if page else name
            assert target in pages and (not anchor or anchor in ids[target]), (name, link)
            n += 1
    assert n > 1000, n
    for case, _, _ in report["results"]:             # the index leads to each case's page
        assert f'href="cases/{case.name}.html"' in section(report["html"], case.name), case.name


def test_markdown_tables_are_well_formed(report):
    lines = report["md"].splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("| "):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            widths = {len(re.split(r"(?<!\\)\|", line)) for line in block}
            assert len(widths) == 1, block[:3]
            assert set(block[1].replace("|", "").split()) == {"---"}
        i += 1


def _pandas_table_html(t) -> str:
    """A table as pandas' ``DataFrame.to_html`` writes it, the cells rendered by ``render.cell_html``: what
    ``render.table_html`` wrote through pandas before it wrote the table itself (the oracle of the next test)."""
    import pandas as pd

    from backprop_parity.reports import render
    mark = "\ue000"
    df = t.df.map(render.cell_html)
    if t.cls in render.STACKED:
        for col in df.columns:
            name = render.esc(col)
            df[col] = df[col].map(lambda h, name=name: f"{mark}{name}{mark}{h}" if h and name else h)
    if t.index:
        def one(k):
            return render.cell_html(t.labels.get(k, k))
        df.index = t.df.index.map(lambda k: tuple(one(x) for x in k) if isinstance(k, tuple) else one(k))
    assert isinstance(df, pd.DataFrame)
    body = df.to_html(escape=False, index=t.index, border=0, na_rep="", index_names=False,
                      classes=[c for c in ["data", t.cls, "stack" if t.cls in render.STACKED else ""] if c])
    body = re.sub(f"<td>{mark}([^{mark}<]*){mark}", r'<td data-l="\1">', body)
    body = re.sub(r">\n\s+<", ">\n<", body)
    caption = f'<p class="muted">{render.esc(t.caption)}</p>' if t.caption else ""
    return f'{caption}<div class="scroll">{body}</div>{render._notes_html(t)}'


def test_every_table_is_written_as_pandas_writes_it(report):
    """Every table of the full report — runs of one first label spanning rows, stacked cells' column names, two
    spaces as &nbsp;&nbsp; — byte for byte as ``DataFrame.to_html`` writes it."""
    from backprop_parity.reports import render
    from backprop_parity.reports.report import build
    tables = []

    def walk(b):
        if isinstance(b, render.Table):
            tables.append(b)
        for part in ("blocks", "head"):
            for x in getattr(b, part, None) or []:
                walk(x)
    for b in build(report["results"], list(registry.names()), "float64"):
        walk(b)
    assert len(tables) > 300 and any(t.index for t in tables) and any(t.cls in render.STACKED for t in tables)
    import pandas as pd                     # and what the report has none of yet: runs of a first label to span
    keys = [("a", "x"), ("a", "y"), ("b", "x"), ("c", "x"), ("c", "y"), ("c", "z")]
    recs = [{"value": render.Text(f" {k[0]}  {k[1]} ", "strong"), "note": None if i % 2 else "two  spaces  "}
            for i, k in enumerate(keys)]
    for cls in ("errata", ""):
        tables.append(render.Table(pd.DataFrame(recs, index=pd.MultiIndex.from_tuples(keys)), index=True, cls=cls,
                                   labels={"b": render.Text("B", "muted")}))
    differ = [t for t in tables if render.table_html(t) != _pandas_table_html(t)]
    assert not differ, f"{len(differ)} tables differ from pandas' writing; the first:\n{render.table_html(differ[0])}"


# --------------------------------------------------------------------------- the command line

def test_progress_on_stderr_and_quiet(tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path / "a"), "--backend", REF, "zhou-mse"]) == 0
    out, err = capsys.readouterr()
    assert "[1/1] zhou-mse" in err and "report:" in out
    assert cli.main(["report", "--out", str(tmp_path / "b"), "--backend", REF, "--quiet", "zhou-mse"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("report:")
    for name in FILES:
        assert (tmp_path / "b" / name).is_file()


def test_bad_input_is_exit_code_2(tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path), "--backend", "nope", "zhou-mse"]) == 2
    assert cli.main(["report", "--out", str(tmp_path), "no-such-case"]) == 2
    err = capsys.readouterr().err
    assert "--backend" in err and "no-such-case" in err


def test_a_missing_backend_is_said_loudly(tmp_path, capsys, fake_backend):
    fake_backend("import no_such_module_for_the_report_test\nSTYLES = {}\n")
    code = cli.main(["report", "--out", str(tmp_path), "--backend", f"{REF},fake", "--quiet", "zhou-mse"])
    assert code == 1
    err = capsys.readouterr().err
    assert "NOT RUN: fake/first" in err and "NOT RUN: fake/second" in err
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    top = page[:page.index('id="summary"')]
    assert "NOT RUN" in top and "fake/first" in top and "fake/second" in top and "no_such_module" in top
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "NOT RUN" in md.split("## Summary")[0]
    data = json.loads((tmp_path / "comparisons.json").read_text(encoding="utf-8"))
    assert {(d["backend"], d["style"]) for d in data if d["status"] == "NOT RUN"} == {("fake", "first"),
                                                                                    ("fake", "second")}
    assert all(d["passed"] is False for d in data if d["status"] == "NOT RUN")


def test_a_worker_that_dies_is_said_loudly(tmp_path, capsys, fake_backend):
    fake_backend("STYLES = {'first': lambda case: os._exit(9), 'second': lambda case: os._exit(9)}\n")
    code = cli.main(["report", "--out", str(tmp_path), "--backend", f"{REF},fake", "--quiet", "zhou-mse"])
    assert code == 1
    assert "ERROR: fake/first" in capsys.readouterr().err
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    top = page[:page.index('id="summary"')]
    assert "fake/first" in top and "exit code 9" in top


# --------------------------------------------------------------------------- plots

def test_plots():
    from .report_support import results
    (case, traces, rows), = results(["courtial-l2"], [REF])
    svg = plots.agreement_plot(case.name, rows, "article", "t")
    root = ElementTree.fromstring(svg)
    texts = "".join(root.itertext())
    assert all(q.id in texts for q in case.quantities)                  # a row per printed quantity
    assert len(root.findall(".//{http://www.w3.org/2000/svg}use")) == len(
        [r for r in rows if r.source == "article" and plots.used(r) is not None])   # a marker per number
    assert plots.agreement_plot(case.name, rows, "reference", "t") is None   # the reference alone: no framework row
    panels = plots.curves_plot(case.name, plots.cost_curves([t for t in traces if isinstance(t, Trace)]))
    assert len(panels) == 1 and ElementTree.fromstring(panels[0]).findall(".//{http://www.w3.org/2000/svg}polyline")
    # the epoch axis counts: each whole epoch labelled once (3 epochs: 0 1 2 3, not 0 0 1 1 2 2 3)
    labels = [t.text for t in ElementTree.fromstring(panels[0]).iter("{http://www.w3.org/2000/svg}text")
              if t.get("text-anchor") == "middle" and t.get("class") == "m" and t.text.isdigit()]
    assert labels == ["0", "1", "2", "3"], labels
    (case, traces, rows), = results(["courtial-bias-trick"], [REF])
    assert plots.curves_plot(case.name, plots.cost_curves([t for t in traces if isinstance(t, Trace)])) == []


def test_a_failed_number_is_drawn_hollow_red_and_past_the_line():
    """The plot places a comparison by |diff| ÷ tolerance: a failure lands right of the tolerance line, drawn with
    the failed marker; an exact 0 in the exact column; a thinned long curve keeps its extremes."""
    rows = [Comparison("c", "q1", "", REF, "manual", "article", max_abs_diff=0.0, tolerance=1e-3, passed=True),
            Comparison("c", "q1", "", "other", "style", "article", max_abs_diff=5e-3, tolerance=1e-3,
                       passed=False)]
    root = ElementTree.fromstring(plots.agreement_plot("c", rows, "article", "t"))
    uses = root.findall(".//{http://www.w3.org/2000/svg}use")
    bound = next(float(e.get("x1")) for e in root.iter("{http://www.w3.org/2000/svg}line")
                 if e.get("class") == "bound")
    exact, failed = (float(u.get("x")) for u in uses)
    assert exact < bound < failed
    assert uses[1].get("href").endswith("x") and not uses[0].get("href").endswith("x")
    y = np.sin(np.arange(5000) / 300.0)
    xs, ys = plots._thinned(y)
    assert len(xs) <= plots.MAX_POINTS + 2 and ys.max() == y.max() and ys.min() == y.min() and xs[-1] == 4999


USER_CASE = """
schema = 1
name = "user-printed-cost"
title = "A user's case whose article prints the cost"
[source]
article = "user"
[network]
sizes = [2, 1]
activations = ["identity"]
loss = "half_sse"
bias = "none"
[params]
W1 = [[0.5], [-1.0]]
[data]
X = [[1.0, 2.0], [3.0, 1.0]]
y = [[0.0], [1.0]]
[[quantity]]
id = "cost"
of = "J"
printed = "1.25"
[[quantity]]
id = "cost-slip"
of = "J"
printed = "1.5"
erratum = "a slip"
"""


def test_a_user_case_with_a_printed_cost(tmp_path, capsys):
    """J before any update: the article's printed cost first, then every backend's J against it."""
    f = tmp_path / "mine.toml"
    f.write_text(USER_CASE, encoding="utf-8")
    assert cli.main(["report", "--out", str(tmp_path / "out"), "--backend", REF, "--quiet", str(f)]) == 0
    page = section((tmp_path / "out" / "cases" / "user-printed-cost.html").read_text(encoding="utf-8"),
                   "user-printed-cost")
    cost = page[page.index("Cost before any update"):page.index("Network, conventions")]
    ref_label = f"{REF}/{registry.reference().style_names[0]}"
    assert "the article prints" in cost and "1.25" in cost and ref_label in cost
    assert cost.index("the article prints") < cost.index(ref_label)
    assert "cost (printed): match" in cost and "cost-slip (printed): erratum confirmed" in cost
    assert "user-printed-cost" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_a_backend_that_raises_is_said_loudly(tmp_path, capsys, monkeypatch):
    """A style that raises on a case: an ERROR banner naming the style, the case and the message; exit 1."""
    from backprop_parity.reference import backend as reference_backend

    def broken(case):
        raise RuntimeError("deliberately broken for the test")
    monkeypatch.setitem(reference_backend.STYLES, "broken", broken)     # the reference runs in this process
    code = cli.main(["report", "--out", str(tmp_path), "--backend", REF, "--quiet", "zhou-mse"])
    assert code == 1
    assert f"ERROR: {REF}/broken" in capsys.readouterr().err
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    top = page[:page.index('id="summary"')]
    assert f"{REF}/broken" in top and "deliberately broken for the test" in top
    assert 'on 1 case (<a href="#zhou-mse">zhou-mse</a>)' in top      # its cases listed once per message


def test_markdown_cells():
    from backprop_parity.reports.render import Mat, Text, Verdict, cell_md
    assert cell_md(Text("Every backend ran: ", "strong")) == "**Every backend ran:** "   # CommonMark emphasis
    assert cell_md("a|b") == "a\\|b"                                                  # a pipe cannot end a cell
    assert cell_md(Mat([[1.0, -2.5]])) == "`1  -2.5`"
    assert cell_md(Verdict("MISMATCH", False)).endswith("MISMATCH") and "❌" in cell_md(Verdict("x", False))


def test_the_page_follows_the_systems_dark_mode_and_prints():
    """Dark mode follows the system (prefers-color-scheme) and printing has its own rules (no sticky headers,
    a page per case, no hover colours): both in the one inline stylesheet the CSP allows."""
    from backprop_parity.reports.render import CSS
    dark = CSS[CSS.index("@media (prefers-color-scheme: dark)"):]
    assert "--bg:#0d1117" in dark and "--fg:#e6edf3" in dark
    printing = CSS[CSS.index("@media print"):]
    assert "break-before: page" in printing and "position: static" in printing


def test_network_diagrams_draw_every_unit_with_the_references_numbers():
    """Forward: a unit per neuron (plus the bias unit '1'), a(l) of the first example under each, W on the edges of
    a small layer; backward: δ(l) under the units. A layer wider than MAX_UNITS is a box with its shape."""
    import dataclasses

    import numpy as np

    from backprop_parity.reference import network
    from backprop_parity.reference.case import load, resolve
    from backprop_parity.reference.trace import trace
    from backprop_parity.reports import diagram
    c = load(resolve("zhou-feedforward"))                 # 2-2-1, sigmoid, w = [0, 1], b = 0: a(2) = 0.7216
    values = trace(network, c.net, c.params, c.X, c.y, c.hyper, c.inputs)[0]
    forward = diagram.svg(c, values, "forward")
    assert forward.count('class="unit"') == 5 and forward.count('class="unit bias"') == 2
    assert ">0.7216<" in forward and ">0.9526<" in forward
    assert diagram.svg(c, values, "backward") is None      # forward only: no δ to draw
    c = load(resolve("courtial-bias-trick"))
    values = trace(network, c.net, c.params, c.X, c.y, c.hyper, c.inputs)[0]
    backward = diagram.svg(c, values, "backward")
    delta4 = float(np.ravel(values["delta[4]"])[0])
    assert f">{delta4:.4g}<" in backward and "∂J/∂W3" in backward
    wide = dataclasses.replace(c.net, sizes=(3, 20, 2, 1))
    boxes = diagram.svg(dataclasses.replace(c, net=wide), values, "forward")
    assert "20 units" in boxes and not re.search(r"<circle", boxes)


@pytest.mark.parametrize("section, slug", [
    ("Chapter 6 — Back Propagation", "ch6"),
    ("Training a Neural Network (Part 1)", "training-a-neural-network-part-1"),
    ("Training a Neural Network (Part 2)", "training-a-neural-network-part-2"),     # not the same address
    ("manual backpropagation example #2: a neuron", "manual-backpropagation-example-2-a-neuron"),
    ("Прямое распространение", "прямое-распространение"),
    ("!!", "section"),
])
def test_a_chapters_address(section, slug):
    from backprop_parity.reports.report import chapter_slug
    assert chapter_slug(section) == slug
