"""``backprop-parity report [--out DIR] [CASE ...]``: every case on every backend, side by side.

Writes to DIR (default ``reports/out/``, git-ignored):

* ``index.html``        every case's verdict and its printed quantities, the summary, the steps and the
                        environment; self-contained (inline CSS, no request), with a search box;
* ``cases/<case>.html`` each case whole: its quantities, errata, mappings, reference tables, diagrams and plots
                        as inline SVG — so index.html stays small whatever the number of cases;
* ``report.md``         the same content as Markdown, with the plots as ``plots/*.svg`` beside it;
* ``comparisons.csv``   one row per comparison, the columns of :class:`backprop_parity.reports.compare.Comparison`
* ``comparisons.json``  the same rows, exactly as ``check --json`` writes them.

Exit code: 0 when every comparison holds, 1 when some failed — a backend that
could not run is a failure, said loudly at the top of the report — 2 for bad
input (a case file, a name, an option).
"""

from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from backprop_parity.reference import batches as B
from backprop_parity.reference import registry
from backprop_parity.reference.backend import Trace
from backprop_parity.reference.case import Case, sources_text
from backprop_parity.reference.spec import TRACE_DOC

from . import cache, environment, plots, steps
from . import formatting as F
from .formatting import usage_error
from .compare import Comparison
from .render import (Anchor, Banner, Card, Code, Details, Find, Heading, Link, Mat, Para, Rendered, Section, Stack,
                     Svg, Table, Tabs, Text, Verdict, pages, rendered, to_markdown)

DEFAULT_OUT = Path(__file__).resolve().parent / "out"
COLUMNS = [f.name for f in fields(Comparison)]     # the columns agreed for check --json
TITLE = "backprop-parity — comparison report"
MAX_NAMES = 8
CASE_PAGES = "cases"          # each case's page: cases/<case>.html


# --------------------------------------------------------------------------- command line

def add_arguments(p) -> None:
    p.add_argument("cases", nargs="*", help="built-in case names or case files (default: every built-in case)")
    p.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                   help=f"output folder (default: {DEFAULT_OUT.relative_to(DEFAULT_OUT.parent.parent)}/)")
    p.add_argument("--backend", default="all",
                   help=f"{', '.join(registry.names())}, a comma list, or all (default: all; "
                        f"{registry.reference().name} always runs: it is the reference)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--quiet", action="store_true", help="no progress; print only the summary line")
    from .cli import add_run_options
    add_run_options(p)


def main(args) -> int:
    from . import backends as B
    from .run import Progress, load_cases, run_cases
    try:
        backends = B.selected_with_reference(args.backend)
    except ValueError as exc:
        return usage_error(f"--backend: {exc}")
    from .cli import writable
    writable(args.out, "--out", directory=True)
    cases = load_cases(args.cases, args.dtype)
    progress = Progress(len(cases), args.quiet)
    progress.say(f"running {len(cases)} case(s) on {', '.join(backends)} …")
    store = cache.from_args(args)
    results = run_cases(cases, backends, progress=progress, store=store)
    cache.finish(store, args.quiet)
    progress.say("writing the report …")
    paths = write_report(results, Path(args.out), backends, args.dtype, store)
    rows = [r for _, _, rs in results for r in rs]
    failed = [r for r in rows if r.passed is False]
    missing = not_run(results)
    summary = (f"report: {paths['index.html']} — {sum(r.passed is True for r in rows)} comparisons hold, "
               f"{len(failed)} failed, {sum(r.passed is None and r.status != 'hint' for r in rows)} not compared "
               f"(no counterpart, or undecidable)")
    print(summary)
    for (backend, style), reason in missing.items():
        print(f"NOT RUN: {backend}/{style}: {reason}", file=sys.stderr)
    for (backend, style), where in crashed(results).items():
        print(f"ERROR: {backend}/{style} failed on {len(where)} case(s): {where[0][0]}: {where[0][1]}", file=sys.stderr)
    return 1 if failed else 0


# --------------------------------------------------------------------------- the data

def ran(traces) -> list:
    return [t for t in traces if isinstance(t, Trace)]


def not_run(results) -> dict:
    """{(backend, style): reason} for every style that could not run at all (not installed)."""
    out = {}
    for _, traces, _ in results:
        for t in traces:
            if isinstance(t, Comparison) and t.status == "NOT RUN" and (t.backend, t.style) not in out:
                out[(t.backend, t.style)] = t.reason
    return out


def crashed(results) -> dict:
    """{(backend, style): [(case, reason)]} for every style that ran but raised on some case."""
    out: dict = {}
    for case, traces, _ in results:
        for t in traces:
            if isinstance(t, Comparison) and t.status != "NOT RUN":
                out.setdefault((t.backend, t.style), []).append((case.name, f"{t.status}: {t.reason}"))
    return out


def styles_seen(results) -> list:
    out = []
    for _, traces, _ in results:
        for t in traces:
            key = (t.backend, t.style)
            if key not in out:
                out.append(key)
    return out


def label(backend: str, style: str) -> str:
    return f"{backend}/{style}"


def reference_label() -> str:
    ref = registry.reference()
    return label(ref.name, ref.style_names[0])


def is_reference(backend: str) -> bool:
    return backend == registry.reference().name


def backends_text() -> str:
    """Every registered backend and its styles, for people (the report's first paragraph)."""
    parts = []
    for b in registry.entries():
        styles = "; ".join(s.title for s in b.styles)
        parts.append(f"the reference, {b.title} — {styles}" if b.reference else f"{b.title} ({styles})")
    return ", ".join(parts)


def counts(rows) -> dict:
    return {"hold": sum(r.passed is True for r in rows), "failed": sum(r.passed is False for r in rows),
            "none": sum(r.passed is None and r.status != "hint" for r in rows),
            "errata": sum(1 for r in rows if r.passed and "confirmed" in (r.status or "")),
            "rounding": sum(1 for r in rows if r.passed and r.status == "not correctly rounded")}


def printed_cost(case: Case):
    """The article's printed J before any update, if the case has one: (quantity, value, tolerance)."""
    from backprop_parity.reference.case import printed_array
    found = [q for q in case.quantities if q.printed is not None and q.of.replace(" ", "") in ("J", "costs[0]")]
    found.sort(key=lambda q: q.erratum is not None)
    for q in found:
        values, tol = printed_array(q.printed)
        if values.size == 1:
            return q, float(values.ravel()[0]), float(tol.ravel()[0])
    return None


# --------------------------------------------------------------------------- files

def csv_text(records: list, header: bool = False) -> str:
    """Lines of comparisons.csv from rows as written out (``cli.written``), one line each (``header``: the columns'
    line first) — as pandas' ``to_csv`` wrote them."""
    from .cli import _jsonable, dumps

    def cell(v):
        if v is None:
            return ""
        if isinstance(v, (list, dict)):
            return dumps(v)
        if isinstance(v, float) and not math.isfinite(v):
            return _jsonable(v) or "nan"
        return v
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    if header:
        out.writerow(COLUMNS)
    out.writerows([cell(r.get(k)) for k in COLUMNS] for r in records)
    return buffer.getvalue()


def write_csv(records: list, path: Path) -> None:
    """comparisons.csv from the rows as written out (``cli.written``), one line each."""
    path.write_text(csv_text(records, header=True), encoding="utf-8", newline="")


@dataclass
class CaseFiles:
    """One case's part of every file of the report, made from its rows alone: its section (``render.Rendered``:
    its entry on the index, its page, its Markdown) and its rows as comparisons.json and comparisons.csv write
    them. The store keeps it beside the rows (``cache.Store.put_files``): a report after a check writes it out."""
    section: Rendered
    json_lines: list
    csv: str


FINDER = Find("find a printed number: its case, name, chapter or article")


def case_files(case: Case, traces, rows, lines: dict | None = None) -> CaseFiles:
    from .cli import dumps, written
    records = [written(r.as_dict()) for r in rows]
    return CaseFiles(rendered(case_section(case, traces, rows, lines), TITLE, FINDER),
                     [dumps(r) for r in records], csv_text(records))


def files_of(results, backends: list, store=None, lines: dict | None = None) -> list[CaseFiles]:
    """Each case's CaseFiles: read from ``store`` where its rows were read (``Results.kept``) and it holds them,
    else made here (and offered to ``store``)."""
    kept = getattr(results, "kept", set())
    out = []
    for i, (case, traces, rows) in enumerate(results):
        found = store.get_files(backends, case) if store is not None and i in kept else None
        if not isinstance(found, CaseFiles):
            lines = lines or steps.by_step(registry.names())
            found = case_files(case, traces, rows, lines)
            if store is not None:
                store.put_files(backends, case, traces, found)
        out.append(found)
    return out


def prepare(results, backends: list, store) -> None:
    """After a check: each case's CaseFiles made and kept where the store does not hold them yet (or its rows were
    compared again in this run), so that a report of the same results only writes them out."""
    kept, lines = getattr(results, "kept", set()), None
    for i, (case, traces, rows) in enumerate(results):
        if i in kept and store.has_files(backends, case):
            continue
        lines = lines or steps.by_step(registry.names())
        store.put_files(backends, case, traces, case_files(case, traces, rows, lines))


def write_report(results, out: Path, backends: list, dtype: str = "float64", store=None) -> dict:
    """Write every file of the report; returns {file name: path}. ``store``: each case's files read from it where
    its rows were (``files_of``)."""
    from .cli import UsageError
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _write_report(results, out, backends, dtype, store)
    except OSError as exc:           # what only writing reveals (a full disk, /proc): one line, exit 2
        raise UsageError(f"--out: cannot write {exc.filename or out} ({exc.strerror or exc})") from None


def _write_report(results, out: Path, backends: list, dtype, store=None) -> dict:
    from .cli import write_json_lines
    lines = steps.by_step(registry.names())      # every backend's marked lines, read once for every table and card
    files = files_of(results, backends, store, lines)
    blocks = build(results, backends, dtype, [f.section for f in files], lines)
    paths = {}
    (out / CASE_PAGES).mkdir(exist_ok=True)
    for old in (out / CASE_PAGES).glob("*.html"):          # a case no longer in the report leaves no page
        old.unlink()
    for name, text in pages(TITLE, blocks).items():
        (out / name).write_text(text, encoding="utf-8")
        paths[name] = out / name
    md, images = to_markdown(blocks)
    (out / "plots").mkdir(exist_ok=True)
    for old in [*(out / "plots").glob("*.png"), *(out / "plots").glob("*.svg")]:
        old.unlink()
    for name, svg in images.items():
        (out / "plots" / name).write_bytes(svg)
    (out / "report.md").write_text(md, encoding="utf-8")
    paths["report.md"] = out / "report.md"
    (out / "comparisons.csv").write_text(csv_text([], header=True) + "".join(f.csv for f in files),
                                         encoding="utf-8", newline="")
    paths["comparisons.csv"] = out / "comparisons.csv"
    write_json_lines([line for f in files for line in f.json_lines], str(out / "comparisons.json"))
    paths["comparisons.json"] = out / "comparisons.json"
    return paths


# --------------------------------------------------------------------------- the document

def build(results, backends: list, dtype: str, sections: list | None = None, lines: dict | None = None) -> list:
    """The report's blocks; ``sections``: each case's section already rendered (``files_of``), else built here."""
    all_rows = [r for _, _, rs in results for r in rs]
    missing = not_run(results)
    styles = styles_seen(results)
    blocks = [
        Heading(1, TITLE),
        Para([f"{len(results)} case(s) — worked examples of {sources_text()}, and any case file given — "
              f"each run on every backend from the same initial weights: {backends_text()}. Every number is held "
              "to the article's printed digits and to the NumPy reference at float64 bounds. ",
              Text(f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · dtype {dtype} · backends "
                   f"asked for: {', '.join(backends)}.", "muted")]),
    ]
    blocks.append(FINDER)
    blocks += status_banners(all_rows, missing, styles, crashed(results))
    blocks += summary_blocks(results, styles, missing)
    lines = lines or steps.by_step(registry.names())    # every backend's marked lines, read once for the report
    blocks += step_blocks(lines)
    for i, (case, traces, rows) in enumerate(results):
        blocks.append(sections[i] if sections is not None else case_section(case, traces, rows, lines))
    blocks += environment_blocks(results, dtype)
    blocks.append(Para([Text("Files beside this page: report.md (the same content as Markdown), "
                             "comparisons.csv and comparisons.json (one row per comparison, the columns of "
                             "backprop-parity check --json).", "muted")]))
    return blocks


def status_banners(all_rows, missing, styles, errors) -> list:
    out = []
    if missing:
        items = [[Text("NOT RUN — these backends are missing from every table below, and each comparison "
                       "they would have made counts as failed:", "error")]]
        for (b, s), reason in missing.items():
            items.append([Text(label(b, s), "strong"), f": {reason}"])
        out.append(Banner("error", items))
    elif not errors:
        out.append(Banner("ok", [[Text("Every backend ran: ", "strong"),
                                  ", ".join(label(b, s) for b, s in styles) + "."]]))
    if errors:
        items = [[Text("ERROR — a backend raised instead of returning its numbers (a failure, with its "
                       "message):", "error")]]
        for (b, s), where in errors.items():
            by_reason = {}
            for case_name, reason in where:                 # one line per style and message, its cases listed
                by_reason.setdefault(reason, []).append(case_name)
            for reason, names in by_reason.items():
                cases = [x for i, n in enumerate(names) for x in ([", "] if i else []) + [Link(n, n)]]
                items.append([Text(label(b, s), "strong"), f" on {len(names)} case{'s' if len(names) > 1 else ''} (",
                              *cases, f"): {reason}"])
        out.append(Banner("error", items))
    c = counts(all_rows)
    failed = [r for r in all_rows if r.passed is False and r.status not in ("NOT RUN",)]
    if failed:
        out.append(Banner("error", [[Text(f"{len(failed)} comparison(s) FAILED", "error"),
                                     f" (listed under Summary); {c['hold']} hold, {c['none']} not compared "
                                     f"(no counterpart, or undecidable: reported, not counted)."]]))
    elif not missing:
        errata = len({(r.case, r.quantity) for r in all_rows if r.passed and r.status == "erratum confirmed"})
        conventions = len({(r.case, r.quantity, r.backend, r.style) for r in all_rows
                           if r.passed and r.status == "convention confirmed"})
        said = ([f"{errata} article errat{'um' if errata == 1 else 'a'} confirmed (each on every backend that ran)"]
                if errata else []) + ([f"{conventions} framework convention{'' if conventions == 1 else 's'} confirmed "
                                       f"as differences (a backend's number where its convention differs from the "
                                       f"article's)"] if conventions else [])
        out.append(Banner("ok", [[Text(f"All {c['hold']} comparisons hold", "strong"),
                                  (" — " + "; ".join(said) + "; " if said else " — ")
                                  + (f"{c['rounding']} printed numbers not correctly rounded (within one unit of "
                                     f"their last digit, not ½; each case says why); " if c['rounding'] else "")
                                  + f"{c['none']} not compared (no counterpart, or undecidable: reported, not "
                                    f"counted)."]]))
    return out


def summary_blocks(results, styles, missing) -> list:
    times = environment.times(results)
    recs = []
    for b, s in styles:
        rows = [r for _, _, rs in results for r in rs if r.backend == b and r.style == s]
        c = counts(rows)
        errors = crashed(results).get((b, s), [])
        state = (Text("NOT RUN", "error", missing[(b, s)]) if (b, s) in missing
                 else Text(f"ERROR on {len(errors)} case(s)", "error") if errors else Text("ran"))
        recs.append({"backend/style": Text(label(b, s), "strong"), "state": state,
                     "comparisons hold": c["hold"], "failed": Text(str(c["failed"]), "error" if c["failed"] else ""),
                     "not compared": c["none"], "time to compute (s)": f"{times.get((b, s), 0.0):.2f}"})
    blocks = [Heading(2, "Summary", "summary"), Table(pd.DataFrame(recs), cls="summary")]
    case_recs = []
    for case, traces, rows in results:
        c = counts(rows)
        case_recs.append({"case": Link(case.name, case.name), "article": case.article,
                          "what": case.title.split(" — ", 1)[-1],
                          "quantities": len(case.quantities), "hold": c["hold"],
                          "failed": Text(str(c["failed"]), "error" if c["failed"] else ""),
                          "errata": sum(1 for q in case.quantities if q.erratum)})
    blocks += [Heading(3, "Cases"), Table(pd.DataFrame(case_recs), cls="toc")]
    blocks += article_blocks([case for case, _, _ in results])
    failed = [r for _, _, rs in results for r in rs if r.passed is False and r.status != "NOT RUN"]
    if failed:
        groups: dict = {}
        for r in failed:
            groups.setdefault((r.case, r.backend, r.style, r.source, r.status), []).append(r)
        recs = []
        for (case, b, s, source, status), rs in groups.items():
            names = [r.quantity for r in rs]
            shown = ", ".join(names[:MAX_NAMES]) + (f", … ({len(names)} in all)" if len(names) > MAX_NAMES else "")
            worst = max(rs, key=lambda r: _over(r))
            recs.append({"case": Link(case, case), "backend": label(b, s),
                         "vs": {"article": "the article", "reference": "NumPy", "gradcheck": "centered differences"
                                }.get(source, source),
                         "verdict": Verdict(status, False), "quantities": shown,
                         "worst": Stack([f"{worst.quantity}: |diff| {F.diff(worst.max_abs_diff)}",
                                         Text(f"tolerance {F.tolerance(worst.tolerance)}", "note")]),
                         "reason": worst.reason or ""})
        df = pd.DataFrame(recs)
        if not any(df["reason"]):
            df = df.drop(columns="reason")
        blocks += [Heading(3, "Failed comparisons"),
                   Para([Text(f"{len(failed)} failed comparisons, grouped by case, backend and what they were "
                              "compared with; comparisons.csv has every one.", "muted")]),
                   Table(df, cls="failed")]
    return blocks


def article_blocks(cases: list) -> list:
    """The printed numbers by article, then chapter (each chapter an address: index.html#courtial/ch6), each a
    link to its card on its case's page: the way a reader holding the article looks for one."""
    by_article: dict = {}
    for case in cases:
        for q in case.quantities:
            chapters = by_article.setdefault(case.article_title, {})
            chapters.setdefault((chapter_anchor(case.article, q.section), q.section or "(no chapter named)"),
                                []).append((case, q))
    if not by_article:
        return []
    blocks = [Heading(3, "The articles, chapter by chapter", "articles")]
    for title, chapters in by_article.items():
        inner = []
        for (anchor, chapter), found in chapters.items():
            items = [Link(chapter, anchor), Text(": ", "strong")]
            for i, (case, q) in enumerate(found):
                items += ([" · "] if i else []) + [Link(q.id, card_anchor(case, q), case_page(case)),
                                                   Text(f" ({case.name})", "muted")]
            inner.append(Para(items, anchor=anchor))
        n = sum(len(found) for found in chapters.values())
        blocks.append(Details(f"{title} — {len(chapters)} chapter{'s' if len(chapters) > 1 else ''}, "
                              f"{n} printed number{'s' if n > 1 else ''}", inner))
    return blocks


def _over(r) -> float:
    """How far past its tolerance a failed comparison is (for picking the worst of a group)."""
    if r.max_abs_diff is None:
        return math.inf
    if r.bound_ratio is not None:
        return r.bound_ratio
    tol = r.tolerance if isinstance(r.tolerance, float) else None
    return r.max_abs_diff / tol if tol else r.max_abs_diff


# --------------------------------------------------------------------------- steps

def step_blocks(lines: dict | None = None) -> list:
    entries = registry.entries()
    table = lines or steps.by_step([b.name for b in entries])
    recs = []
    for name, step in steps.STEPS.items():
        rec = {"step": Stack([Text(step.title, "strong"), Text(name, "muted")]),
               "the article's formula": Stack([step.formula, Text(step.source, "muted")])}
        for b in entries:
            rec[b.title] = code_cell(b, table[name][b.name])
        recs.append(rec)
    blocks = [Heading(2, "The mapping of manual backprop onto the frameworks", "steps"),
              Para(["Each step of backprop as the articles write it, the line of the NumPy reference that "
                    "computes it, and the lines of every framework's mirror that do the same. ",
                    Text("The code is read from the source files that ran (the lines marked "
                         "# [step:NAME]), never retyped; a tag such as [autograd] says which style uses "
                         "the line, no tag: every style of that backend.", "muted")]),
              Table(pd.DataFrame(recs), cls="steps")]
    gaps = []
    for b in (e.name for e in entries):
        for style, names in steps.unmarked(b).items():
            gaps.append([Text(label(b, style), "strong"), f" marks no line for: {', '.join(names)}"])
    if gaps:
        blocks.append(Banner("warn", [[Text("Steps without a marked line", "strong"),
                                       " (the step is missing from the mapping above for that style):"]] + gaps))
    return blocks


def code_cell(entry, marked):
    """A backend's marked lines of one step, as read from its source (a tag names the styles a line serves when
    not all of them); ``marked`` None: the backend's package is not installed."""
    if marked is None:
        return Text(f"{entry.package} is not installed", "error")
    if not marked:
        return Text("no line marked for this step", "warn")
    all_styles = set(entry.style_names)
    return Code([(("" if set(m.styles) == all_styles or len(all_styles) == 1 else f"[{'/'.join(m.styles)}] ")
                  + m.where, m.code, m.note) for m in steps.ordered(marked, entry.name)])


def card_steps(case: Case, step: str) -> list:
    """The steps whose lines make a quantity computed at ``step``: with L2 on, a cost, a gradient and an update
    also take the L2 term's own lines."""
    return [step] + (["l2"] if case.hyper is not None and case.hyper.l2 and step in ("cost", "weight-gradient",
                                                                                       "update") else [])


def code_tabs(case: Case, qid: str, step: str, ran: set, lines: dict | None = None) -> Tabs:
    """The card's code: a tab per backend that ran, its own marked lines of the steps that compute the quantity
    (those that serve this case: its optimizer, loss and bias convention); ``lines``: ``steps.by_step()``, read
    once for the whole report (else read here)."""
    def marked_lines(s, backend):
        return (lines[s].get(backend) or []) if lines else steps.for_step(s, backend)
    tabs = []
    for b in registry.entries():
        if b.name in ran:
            marked = [m for s in card_steps(case, step) for m in marked_lines(s, b.name) if m.serves(case)]
            tabs.append((b.title, code_cell(b, marked)))
    return Tabs(f"code-{case.name}/{qid}", tabs)


# --------------------------------------------------------------------------- one case

def case_section(case: Case, traces, rows, lines: dict | None = None) -> Section:
    traces_ran = ran(traces)
    c = counts(rows)
    blocks = [Heading(2, case.name, ""),
              Para([Text(case.title, "strong")]),
              Para([Text("Source: ", "strong"), f"{case.article_title} — ",
                    Text("; ".join(case.sections) or "(no section)", "muted")])]
    if case.description.strip():
        blocks.append(Para([" ".join(case.description.split())]))
    problems = [t for t in traces if isinstance(t, Comparison)]
    if problems:
        blocks.append(Banner("error", [[Text(f"{label(t.backend, t.style)} {t.status}", "error"),
                                        f": {t.reason}"] for t in problems]))
    hints = [r for r in rows if r.status == "hint"]
    if hints:
        blocks.append(Banner("warn", [[Text("hint: ", "strong"), r.reason] for r in hints]))
    verdict = Verdict("all comparisons hold" if not c["failed"] else f"{c['failed']} FAILED",
                      not c["failed"])
    blocks.append(Para([verdict, f"  {c['hold']} comparisons hold · {c['failed']} failed · "
                                 f"{c['none']} not compared · ran: "
                                 + ", ".join(label(t.backend, t.style) for t in traces_ran)]))
    page = case_page(case)
    brief = blocks + [Para([Link(f"{case.name}: every number, each framework's code, the diagrams and plots →",
                                 "", page)])]
    if case.quantities:
        links, places = [Text("The article's quantities: ", "strong")], [Text("The article's quantities: ", "strong")]
        for i, q in enumerate(case.quantities):
            links += ([" · "] if i else []) + [Link(q.id, quantity_anchor(case, q.id))]
            places += ([" · "] if i else []) + [Anchor(q.id, quantity_anchor(case, q.id), _found(case, q), page)]
        blocks.append(Para(links, "contents"))
        brief.append(Para(places, "contents"))
    blocks += cost_blocks(case, traces_ran, rows)
    blocks += network_blocks(case)
    blocks += diagram_blocks(case, traces_ran)
    blocks += quantity_blocks(case, traces_ran, rows, lines)
    blocks += errata_blocks(case, traces_ran, rows)
    blocks += mapping_blocks(case, traces_ran)
    blocks += reference_blocks(case, rows)
    blocks += form_blocks(case, rows)
    blocks += gradcheck_blocks(rows)
    blocks += plot_blocks(case, traces_ran, rows)
    return Section(case.name, blocks, page, brief)


def case_page(case: Case) -> str:
    """The case's own page, beside index.html: cases/<case>.html (a user's case name made a safe file name)."""
    import re
    return f"{CASE_PAGES}/{re.sub(r'[^A-Za-z0-9._-]', '_', case.name)}.html"


def cost_blocks(case: Case, traces, rows) -> list:
    blocks = [Heading(3, "Cost before any update")]
    with_J = [t for t in traces if "J" in t.values]
    if not with_J:
        why = "this case has no network" if case.net is None else "this case has no targets y (forward only)"
        return blocks + [Para([Text(f"No cost: {why}.", "muted")])]
    ref = next((t for t in with_J if is_reference(t.backend)), with_J[0])
    J_ref = float(ref.values["J"])
    printed = printed_cost(case)
    recs, index = [], []
    if printed:
        q, value, tol = printed
        note = f"quantity {q.id}" + (" — an erratum" if q.erratum else "")
        from .compare import _texts
        text = _texts(q.printed)
        while isinstance(text, list):
            text = text[0]
        recs.append({"J before any update": Text(text, "strong"),
                     "|J − J(NumPy)|": F.diff(abs(value - J_ref)), "|J − article|": Text(note, "muted")})
        index.append("the article prints")
    for t in with_J:
        J = float(t.values["J"])
        rec = {"J before any update": Text(F.value(J, 15), "strong" if t is ref else ""),
               "|J − J(NumPy)|": F.diff(abs(J - J_ref)) if t is not ref else ""}
        if printed:
            rec["|J − article|"] = (F.diff(abs(J - printed[1])) + (f" (printed precision {F.diff(printed[2])})"
                                                                  if printed[2] else ""))
        recs.append(rec)
        index.append(label(t.backend, t.style))
    df = pd.DataFrame(recs, index=index)
    on_J = [q for q in case.quantities if q.of.replace(" ", "") in ("J", "costs[0]")]
    verdicts = []
    for q in on_J:
        statuses = sorted({r.status for r in rows if r.source == "article" and r.quantity == q.id})
        verdicts.append(f"{q.id} ({'printed' if q.printed is not None else 'formula'}): {', '.join(statuses)}")
    loss = case.net.loss.formula if case.net else "J"
    loss = loss if loss.lstrip().startswith("J") else f"J = {loss}"
    l2 = f" + ½·λ·ΣW² (λ = {case.hyper.l2:g})" if case.hyper.l2 else ""
    return blocks + [Para([f"{loss}{l2}, on the initial parameters: the single most useful number to "
                           "check your own implementation against."]),
                     Table(df, index=True, cls="cost")] + (
        [Para([Text("The article's quantities on this cost: " + "; ".join(verdicts) + ".", "muted")])]
        if verdicts else [])


def network_blocks(case: Case) -> list:
    blocks = [Heading(3, "Network, conventions and hyper-parameters")]
    if case.net is None:
        return blocks + [Para([Text("No network: the quantities of this case are the article's small function "
                                    "examples (activations, losses, calculus, data preparation), computed by "
                                    "each backend's own functions.", "muted")])]
    net, h = case.net, case.hyper
    shapes = ", ".join(f"{n} {tuple(p.shape)}" for n, p in case.params.items())
    n = case.X.shape[net.example_axis] if case.X is not None else 0
    kv = [
        ("layers", " → ".join(str(s) for s in net.sizes) + f"  (inputs … outputs; {net.depth} weight layers)"),
        ("activations", ", ".join(f"layer {net.layer_number(l)}: {a.label}" for l, a in enumerate(net.activations))),
        ("loss", f"{net.loss.name}: {net.loss.formula}"),
        ("layout", {"rows": "rows — X is (examples, features), W is (n_in, n_out), Z = A·W",
                    "columns": "columns — X is (features, examples), W is (n_out, n_in), Z = W·A"}[net.layout]),
        ("bias", {"trick": "the bias trick — a column of ones appended to A, the bias is the last "
                           + ("row" if net.layout == "rows" else "column") + " of W",
                  "vectors": "separate bias vectors b",
                  "shared": "one bias per layer, shared by all of its units: b is (1, 1) and broadcasts over Z",
                  "none": "no bias"}[net.bias]),
        ("numbering", f"first Z/A/δ is layer {net.first_layer}; first weight is W{net.first_weight}"),
        ("parameters", shapes + (f"; frozen: {', '.join(sorted(net.frozen))}" if net.frozen else "")),
        ("examples", f"{n}"),
        ("update", f"{h.rule} — one step " + B.words(h, n)
         + f"; α = {h.learning_rate:g}; scale {h.grad_scale}"
         + (f" (= 1/{h.step_size(n)})" if h.grad_scale == "1/n" else "") + f"; {h.epochs} epoch(s)"),
        ("L2", f"λ = {h.l2:g}" + ("" if not h.l2 else f"; reaches the biases: {'yes' if h.l2_bias else 'no'}")),
        ("gradient checking", f"h = {h.h:g}" + (f"; probe {h.probe[0]}{list(h.probe[1])}" if h.probe else "")),
        ("dtype", str(getattr(net.dtype, "__name__", net.dtype))),
    ]
    df = pd.DataFrame([{"": Text(k, "strong"), "value": v} for k, v in kv])
    return blocks + [Table(df, cls="kv")]


def diagram_blocks(case: Case, traces) -> list:
    """The network drawn twice from the reference's numbers: forward (a, W) and backward (δ, ∂J/∂W)."""
    from .diagram import svg
    ref = next((t for t in traces if is_reference(t.backend)), None)
    if ref is None or case.net is None:
        return []
    drawn = [(view, svg(case, ref.values, view)) for view in ("forward", "backward")]
    items = [(markup, f"{case.name}: the network, {view} view, first example's numbers", f"{case.name}-{view}.svg")
             for view, markup in drawn if markup]
    return [Heading(3, "The network"), Svg(items)] if items else []


def quantity_anchor(case: Case, quantity_id: str) -> str:
    """The page's stable anchor of a printed quantity: index.html#<case>/<quantity>."""
    return f"{case.name}/{quantity_id}"


def chapter_slug(section: str) -> str:
    """A section's short name in an address: 'Chapter 6 — Back Propagation' → ch6, any other its words
    ('Training a Neural Network (Part 2)' → training-a-neural-network-part-2)."""
    import re
    m = re.match(r"\s*Chapter\s+(\d+)\b", section)
    if m:
        return f"ch{m.group(1)}"
    return re.sub(r"[\W_]+", "-", section.lower()).strip("-") or "section"


def chapter_anchor(article: str, section: str) -> str:
    """The index's address of an article's chapter: courtial/ch6."""
    return f"{article}/{chapter_slug(section) if section else 'no-chapter'}"


def card_anchor(case: Case, q) -> str:
    """A printed quantity's card on its case's page, addressed by the article's outline: courtial/ch6/delta3
    (a user's own example, or a quantity with no chapter: <case>/card/<quantity>). Unique on the page: a case's
    quantity ids are."""
    if case.article == "user" or not q.section:
        return f"{case.name}/card/{q.id}"
    return f"{chapter_anchor(case.article, q.section)}/{q.id}"


def _found(case: Case, q) -> str:
    """What the search box matches a printed quantity by: its case, id, label, chapter and article."""
    return " · ".join(x for x in (case.name, q.id, q.label if q.label != q.id else "", q.section, case.article) if x)


def _card_head(case: Case, q, rows_q) -> list:
    """The card's first lines: its id (an anchor), label and chapter; what it reads; its tolerance in words."""
    first = [Anchor(q.id, quantity_anchor(case, q.id), _found(case, q))]
    if q.erratum:
        first.append(Text("erratum", "badge"))
    if q.label and q.label != q.id:
        first.append(Text(f"  {q.label}", "strong"))
    if q.section:
        first.append(Text(f"  — {case.article_title.split(' (')[0]}, {q.section}", "muted"))
    head = [Para(first), Para([Text(f"of: {q.of}", "muted mono")])]
    reason = next((r.tolerance_reason for r in rows_q if r.tolerance_reason), "")
    if reason:
        head.append(Para([Text(f"tolerance: {reason}", "note")]))
    if q.note:
        head.append(Para([Text(q.note, "note")]))
    return head


def _value_cell(r: Comparison, notes: list, same_as=None):
    """A backend's value; '= <the reference's label>' when every shown digit is the reference's (the diff says how close)."""
    if r.status == "no counterpart":
        return Text(f"no counterpart [{_footnote(notes, r.reason or '')}]", "muted")
    if r.status == "error":
        return Text(r.reason or "error", "error")
    if r.actual is None:
        return Text(r.reason or "—", "muted")
    note = r.reason if r.reason and r.status not in ("match",) else ""
    if same_as is not None and same_as.actual is not None and same_as is not r \
            and F.matrix_lines(same_as.actual) == F.matrix_lines(r.actual):
        return Stack([Text(f"= {label(same_as.backend, same_as.style)} to all {F.VALUE_DIGITS} digits shown",
                           "muted")] + ([Text(note, "note")] if note else []))
    return Mat(r.actual, note=note)


def _diff_cell(r: Comparison):
    """Karpathy's cmp() line: exact, or how far (absolute and relative)."""
    if r.max_abs_diff is None:
        return "—"
    if r.max_abs_diff == 0:
        return Text("exact", "strong")
    return Stack([F.diff(r.max_abs_diff), Text(f"rel {F.diff(r.max_rel_diff)}", "note")])


def _notes_block(step: str, traces) -> list:
    notes = steps.setup_notes(step, traces)
    if not notes:
        return []
    keys = list(dict.fromkeys(k for k, _, _ in notes))
    return [Details(f"How each framework is set up for this number: {', '.join(keys)}",
                    [Para([Text(k, "strong"), Text(f" — {', '.join(names)}: ", "muted"), text])
                     for k, names, text in notes])]


def article_cell(q, ref=None):
    """What the article gives for ``q``: its number as printed, or its formula and — on ``ref``, the reference's
    row — what that formula gives as written (for an erratum: as misprinted)."""
    if q.printed is not None:
        from .compare import _texts
        return Mat(_texts(q.printed), texts=True, cls="printed",
                   note=f"printed as: {q.printed_as}" if q.printed_as else "")
    gives = ([Text(f"gives, on {label(ref.backend, ref.style)}'s numbers:", "muted"), Mat(ref.expected)]
             if ref is not None and ref.expected is not None else [])
    return Stack([Text("formula, evaluated on each backend's own numbers:", "muted"), Text(q.formula, "mono")] + gives)


def quantity_blocks(case: Case, traces, rows, lines: dict | None = None) -> list:
    """A card per printed quantity: the article's number, each backend's (once when equal to the digits shown)
    with its difference, tolerance and verdict; how each framework is set up for it; each framework's own code."""
    art = [r for r in rows if r.source == "article"]
    by_q: dict = {}
    for r in art:
        by_q.setdefault(r.quantity, []).append(r)
    ref_trace = next((t for t in traces if is_reference(t.backend)), None)
    from .explain import quantity_steps
    step_of = quantity_steps(case, list(ref_trace.values)) if ref_trace is not None else {}
    ran = {t.backend for t in traces}
    cards = []
    for q in case.quantities:
        rows_q = by_q.get(q.id, [])
        ref = next((r for r in rows_q if is_reference(r.backend)), None)
        recs, index, notes = [{"value": article_cell(q, ref), "max |diff|": "", "tolerance": "", "verdict": ""}], \
            ["the article"], []
        for r in rows_q:
            recs.append({"value": _value_cell(r, notes, ref), "max |diff|": _diff_cell(r),
                         "tolerance": F.tolerance(r.tolerance), "verdict": Verdict(r.status, r.passed)})
            index.append(label(r.backend, r.style))
        blocks = [Table(pd.DataFrame(recs, index=index), index=True, cls="quantities", notes=notes)]
        if q.id in step_of:
            blocks += _notes_block(step_of[q.id], traces)
            blocks.append(code_tabs(case, q.id, step_of[q.id], ran, lines))
        cards.append(Card(card_anchor(case, q), _card_head(case, q, rows_q), blocks))
    if not cards:
        return []
    return [Heading(3, "Quantities: the article vs every backend"),
            Para([Text("A card per printed number. Each matches when it is within ½ unit of its last printed digit "
                       "(a correctly rounded print); within one unit but not ½ it is 'not correctly rounded', a "
                       "failure unless the case says why; a formula quantity is the article's formula evaluated on "
                       "the backend's own numbers. An erratum passes when the mismatch is real. Under each card: "
                       "how each framework is set up for that number, and each framework's own lines of code.",
                       "muted")])] + cards


def errata_blocks(case: Case, traces, rows) -> list:
    art = {(r.quantity, r.backend, r.style): r for r in rows if r.source == "article"}
    blocks = []
    for q in case.quantities:
        diagnosis = next((r.diagnosis for r in rows if r.quantity == q.id and r.diagnosis), None)
        if not q.erratum and not q.differs and not diagnosis:
            continue
        notes: list = []
        kind = "erratum" if q.erratum else "convention" if q.differs else "not reproduced as printed"
        blocks.append(Para([Text(f"⚠ {q.id}", "strong warn"), f" — {q.label}",
                            Text(f"  ({q.section})" if q.section else "", "muted")]))
        if q.erratum:
            blocks.append(Para([Text("What the author must have done: ", "strong"), q.erratum]))
        if q.rounding:
            blocks.append(Para([Text("Not correctly rounded: ", "strong"), q.rounding]))
        if diagnosis:
            blocks.append(Para([Text("Diagnosis (backprop-parity diagnose): ", "strong"), diagnosis]))
        for b, why in q.differs.items():
            blocks.append(Para([Text(f"{b} differs by convention: ", "strong"), why]))
        ref = next((r for (qid, b, _), r in art.items() if qid == q.id and is_reference(b)), None)
        recs = [{"value": article_cell(q, ref), "max |diff| vs the article": "", "verdict": ""}]
        index = ["the article"]
        for t in traces:
            r = art.get((q.id, t.backend, t.style))
            if r is None:
                continue
            recs.append({"value": _value_cell(r, notes, ref), "max |diff| vs the article": _diff_cell(r),
                         "verdict": Verdict(r.status, r.passed)})
            index.append(label(t.backend, t.style))
        blocks.append(Table(pd.DataFrame(recs, index=index), index=True, cls="errata",
                            caption=f"{kind}: what the article printed and what every backend computes",
                            notes=notes))
    if case.remarks:
        blocks.append(Heading(4, "Remarks (no number to check)"))
        for r in case.remarks:
            blocks.append(Para([Text(f"{r.get('section', '')}: " if r.get("section") else "", "muted"),
                                " ".join(r["text"].split())]))
    if not blocks:
        return []
    return [Heading(3, "Errata and conventions")] + blocks


def mapping_blocks(case: Case, traces) -> list:
    keys: list = []
    for t in traces:
        for k, v in (t.mapping or {}).items():
            if k not in keys and v not in (None, ""):
                keys.append(k)
    if not keys:
        return []
    recs = []
    for k in keys:
        rec = {"": Text(k, "strong")}
        for t in traces:
            v = (t.mapping or {}).get(k)
            rec[label(t.backend, t.style)] = "" if v in (None, "") else str(v)
        recs.append(rec)
    return [Heading(3, "Convention mapping"),
            Para([Text("How the article's conventions land in each framework for this case, as each mirror "
                       f"reports it from the values its code used ({reference_label()} is the article's own).",
                       "muted")]),
            Table(pd.DataFrame(recs), cls="mapping")]


def _footnote(notes: list, text: str) -> str:
    for mark, t in notes:
        if t == text:
            return mark
    mark = str(len(notes) + 1)
    notes.append((mark, text))
    return mark


def reference_blocks(case: Case, rows) -> list:
    ref_rows = [r for r in rows if r.source == "reference" and r.quantity != "*"]
    if not ref_rows:
        return []
    styles = []
    for r in ref_rows:
        if (r.backend, r.style) not in styles:
            styles.append((r.backend, r.style))
    keys = []
    for r in ref_rows:
        if r.quantity not in keys:
            keys.append(r.quantity)
    by = {(r.quantity, r.backend, r.style): r for r in ref_rows}
    notes: list = []
    recs = []
    for k in keys:
        tol_rows = [by[(k, b, s)] for b, s in styles if (k, b, s) in by and by[(k, b, s)].tolerance is not None]
        tol = ""
        if tol_rows:
            t0 = tol_rows[0]
            tol = f"{F.tolerance(t0.tolerance)} [{_footnote(notes, t0.tolerance_reason)}]"
        rec = {"key": Text(k, "mono"), "tolerance": tol}
        for b, s in styles:
            r = by.get((k, b, s))
            if r is None:
                rec[label(b, s)] = ""
            elif r.passed is None:
                rec[label(b, s)] = Stack([Verdict("no counterpart", None),
                                          Text(f"[{_footnote(notes, r.reason or '')}]", "note")])
            elif r.max_abs_diff == 0 and r.passed:
                rec[label(b, s)] = Verdict("exact", True)
            else:
                rec[label(b, s)] = Stack([Verdict(r.status if not r.passed else "≈ match", r.passed),
                                          Text(f"abs {F.diff(r.max_abs_diff)} · rel {F.diff(r.max_rel_diff)}",
                                               "note")] + ([Text(r.reason, "error")] if r.reason and not r.passed else []))
        recs.append(rec)
    bad = [r for r in ref_rows if r.passed is False]
    compared = [r for r in ref_rows if r.passed is not None]
    exact = sum(1 for r in compared if r.max_abs_diff == 0)
    ratios = [(r.bound_ratio, r) for r in compared if r.bound_ratio]
    closest = max(ratios, key=lambda x: x[0], default=None)
    summary = (f"{len(compared)} tensors compared with the NumPy reference: "
               + (f"{len(bad)} FAILED" if bad else "all within float64 bounds")
               + f" — {exact} identical bit for bit"
               + (f"; closest to its bound: {closest[1].quantity} on {label(closest[1].backend, closest[1].style)} "
                  f"at {closest[0]:.1e} of its tolerance" if closest else "")
               + f"; {len(ref_rows) - len(compared)} without counterpart")
    doc = Para([Text("Every number of the reference's trace, against the same key of each framework style "
                     "(exact = bit for bit). Key meanings: ", "muted"),
                Text("; ".join(f"{k}: {v}" for k, v in list(TRACE_DOC.items())[:12]) + " …", "note")])
    return [Heading(3, "Every number against the NumPy reference"),
            Details(summary, [doc, Table(pd.DataFrame(recs), cls="reference", notes=notes)], open=bool(bad))]


def form_blocks(case: Case, rows) -> list:
    """Where a style's optimizer is written in another form than the case's: how far apart the forms end (the
    style itself is held to its own form in the table above)."""
    f = [r for r in rows if r.source == "form"]
    if not f:
        return []
    by_style: dict = {}
    for r in f:
        by_style.setdefault((r.backend, r.style), []).append(r)
    recs = []
    for (b, s), rs in by_style.items():
        costs = next((r for r in rs if r.quantity.startswith("costs")), None)
        finals = [r for r in rs if not r.quantity.startswith("costs")]
        worst = max(finals, key=lambda r: r.max_abs_diff or 0.0, default=None)
        differs = next((r.reason for r in rs if r.status == "convention confirmed"), "")
        recs.append({"backend/style": label(b, s),
                     "its optimizer's form": (differs.split(": ", 1)[-1].split(" — ", 1)[0].removeprefix("its ") if differs
                                              else "the same numbers as the case's form"),
                     "costs apart by": F.diff(costs.max_abs_diff) if costs is not None else "—",
                     "final weights apart by": (f"{F.diff(worst.max_abs_diff)} ({worst.quantity.split(' ')[0]})"
                                                if worst is not None else "—"),
                     "verdict": Verdict("convention confirmed" if differs else "match", True)})
    doc = Para([Text("Frameworks that write this optimizer in another form than the case's: each is held to its own "
                     "form above (the reference rerun in that form); here, how far the two forms end apart after "
                     f"{case.hyper.epochs} epoch(s).", "muted")])
    return [Heading(3, "Optimizer forms"), doc, Table(pd.DataFrame(recs), cls="reference")]


def gradcheck_blocks(rows) -> list:
    g = [r for r in rows if r.source == "gradcheck"]
    if not g:
        return []
    recs = [{"backend/style": label(r.backend, r.style),
             "‖V1 − V2‖ / ‖V1 + V2‖": F.diff(r.actual) if r.actual is not None else Text(r.reason or "", "muted"),
             "bound": F.tolerance(r.tolerance), "verdict": Verdict(r.status, r.passed)} for r in g]
    return [Heading(3, "Gradient checking: backprop vs centered differences"),
            Table(pd.DataFrame(recs), caption=g[0].tolerance_reason)]


def plot_blocks(case: Case, traces, rows) -> list:
    """The case's plots, inline SVG (``reports/plots.py``): how much of its tolerance each comparison uses, and the
    curves per epoch of a case that trains."""
    shown = []
    for source, what in (("article", "the article's printed numbers"), ("reference", "the NumPy reference")):
        anchors = {q.id: quantity_anchor(case, q.id) for q in case.quantities} if source == "article" else None
        svg = plots.agreement_plot(case.name, rows, source, f"{case.name}: vs {what}", anchors)
        if svg:
            shown.append((svg, f"{case.name}: largest |difference| from {what} ÷ its tolerance, per quantity and "
                               "backend style", f"{case.name}-{source}.svg"))
    blocks = []
    if shown:
        blocks += [Heading(3, "How close: each difference against its tolerance"),
                   Para([Text("One row per quantity, one marker per backend style, on a log scale where every row's "
                              "tolerance is the same dashed line: left of it a comparison holds, and the further left "
                              "the more digits to spare; bit-for-bit agreement has its own column. An erratum or a "
                              "framework's convention (amber label) is meant to sit right of the line. A printed "
                              "quantity's name leads to its row in the table above.", "muted")]),
                   Svg(shown)]
    for key, quantity, symbol, heading in (("costs", "cost J", "J", "Training: cost per epoch, every backend"),
                                           ("accuracy", "accuracy", "accuracy",
                                            "Training: accuracy per epoch, every backend")):
        panels = plots.curves_plot(case.name, plots.cost_curves(traces, key), quantity, symbol)
        if panels:
            blocks += [Heading(3, heading),
                       Svg([(svg, f"{case.name}: {quantity} per epoch" + (", every style" if i == 0 else
                                                                         ", drift from NumPy"),
                             f"{case.name}-{key}-{i + 1}.svg") for i, svg in enumerate(panels)])]
    return blocks


# --------------------------------------------------------------------------- environment

def environment_blocks(results, dtype: str) -> list:
    env = environment.collect(dtype, getattr(results, "environment", None))
    df = pd.DataFrame([{"": Text(k, "strong"), "value": v} for k, v in env])
    times = environment.times(results)
    styles = list(times)
    recs = []
    for case, traces, _ in results:
        rec = {"case": case.name}
        for t in ran(traces):
            rec[label(t.backend, t.style)] = f"{t.seconds:.3f}"
        recs.append(rec)
    recs.append({"case": Text("total", "strong"), **{label(b, s): Text(f"{times[(b, s)]:.2f}", "strong")
                                                      for b, s in styles}})
    return [Heading(2, "Environment", "environment"), Table(df, cls="kv"),
            Heading(3, "Time per backend (seconds, wall clock, per case: the whole trace — forward, backward, "
                       "training, gradient checking)"),
            Table(pd.DataFrame(recs).fillna(""))]
