"""Terminal tables for ``check`` (rich; plain text when the output is not a terminal)."""

from __future__ import annotations

import os

from collections import defaultdict

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _listed(x):
    """A row's large array (``compare.held``: a read-only ndarray) as the flat list of its numbers; anything else as is."""
    return x.ravel().tolist() if hasattr(x, "ravel") and getattr(x, "ndim", 0) else x


def fmt(x, digits=2) -> str:
    x = _listed(x)
    if x is None:
        return "—"
    if isinstance(x, list):
        flat = _flatten(x)
        return fmt(min(flat)) if len(set(flat)) > 1 else fmt(flat[0]) if flat else "—"
    if x == 0:
        return "0"
    return f"{x:.{digits}e}"


def fmt_tol(x) -> str:
    """A tolerance: one number, or the range of a per-element bound (lowest…highest)."""
    x = _listed(x)
    if isinstance(x, list):
        flat = _flatten(x)
        if len(set(flat)) > 1:
            return f"{min(flat):.1e} … {max(flat):.1e}"     # spaced: a narrow cell wraps between the two, not inside one
    return fmt(x)


NARROW = 110          # below this many columns the reasons leave the table for lines under it
REASON_CELL = 40      # a longer reason starts in its cell ("[3] …") and is printed whole under the table


def _centered(row) -> bool:
    """A reference row of a number gradient checking computes by centered differences."""
    return row.quantity.startswith("gradcheck.")


def _values(a) -> str:
    flat = _flatten(a) if isinstance(a, list) else [a]
    return ", ".join("nan" if v is None else f"{v:.10g}" if isinstance(v, (int, float)) else str(v) for v in flat[:8]) + (f", … ({len(flat)} numbers)" if len(flat) > 8 else "")


def _flatten(x):
    return [v for item in x for v in _flatten(item)] if isinstance(x, list) else [x]


def printed_cell(printed, narrow: bool) -> str:
    """The printed column of check: a printed number or formula whole (the cell wraps; a cut formula reads as
    another formula); a printed matrix as its first number and how many there are."""
    if isinstance(printed, list):
        return short(printed, 24 if narrow else 34)
    return "" if printed is None else str(printed)


def short(text, n=34) -> str:
    if text is None:
        return ""
    if isinstance(text, list):
        flat = _flatten(text)
        text = flat[0] + (f" … ({len(flat)})" if len(flat) > 1 else "")
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


WIDE = 1000          # --wide: one line per row, whatever the screen (for `less -S`, grep, a wide editor)


PIPED = 100           # the width of piped or redirected output when COLUMNS does not say


def piped_width() -> int:
    """COLUMNS when it says a usable width (40…1000), else PIPED."""
    try:
        width = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        width = 0
    return width if 40 <= width <= 1000 else PIPED


def make_console(wide: bool = False, file=None) -> Console:
    """rich in a terminal; plain text when piped or redirected, as wide as COLUMNS says (else PIPED); ``wide``:
    as wide as a row needs (WIDE columns), never wrapped."""
    probe = Console(file=file)
    if wide:
        return Console(width=WIDE, highlight=False, file=file,
                       color_system=probe.color_system if probe.is_terminal else None)
    if probe.is_terminal:
        return probe
    return Console(width=piped_width(), highlight=False, color_system=None, file=file)


def wrapped(text: str, file=None) -> str:
    """A line of prose for the screen (or COLUMNS, else PIPED, when piped), folded at spaces only: a name, a
    number or a path is never cut; the following lines indented by two."""
    import textwrap
    return textwrap.fill(text, make_console(file=file).width, subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


VERDICT_STYLE = {True: "green", False: "bold red", None: "yellow"}
ROUNDING = "not correctly rounded"          # a pass only with the case's reason: shown, never silent


def literal(text: str, style: str = "") -> Text:
    """Text from a case file or a backend, shown as it is: never read as rich markup ("[/bold]" is text)."""
    return Text(str(text), style=style)


def _style(row) -> str:
    return "yellow" if row.passed and row.status == ROUNDING else VERDICT_STYLE[row.passed]


def verdict(row) -> str:
    return row.status


def print_results(results, all_rows=False, quiet=False, console=None, wide=False) -> None:
    """check's tables. A reason or erratum is never cut: it folds inside its column (wide layout), or is printed
    in full under the table (narrow); ``wide``: every row on one line."""
    console = console or make_console(wide)
    totals = defaultdict(int)
    for case, traces, rows in results:
        for r in rows:
            totals["passed" if r.passed else "failed" if r.passed is False else "hint" if r.status == "hint"
                   else "no counterpart"] += 1
            if r.passed and r.status == ROUNDING:
                totals["rounding"] += 1
        if quiet and not any(r.passed is False or r.status == "hint" for r in rows):
            continue
        narrow = console.width < NARROW
        t = Table(title=literal(f"{case.name} — {case.title}"), title_justify="left", expand=False)
        columns = (("quantity / backend", "printed", "|diff| / tol", "verdict") if narrow else
                   ("quantity", "backend", "printed", "max |diff|", "tolerance", "verdict", "erratum / reason"))
        for col in columns:
            t.add_column(col, overflow="fold", no_wrap=wide)
        reasons = defaultdict(list)               # narrow: (quantity, text) -> backends, printed under the table
        notes: dict = {}                          # wide: a long reason -> (its number, the first quantity)
        ref_groups = defaultdict(list)

        widest = []                               # the length of each name (and, narrow, backend) shown

        def add(name, backend, printed, diff, tol, verdict_text, style, reason):
            widest.extend(map(len, [name, backend] if narrow else [name]))
            if narrow:
                t.add_row(literal(f"{name}\n{backend}"), literal(printed), f"{diff}\n{tol}",
                          literal(verdict_text, style))
                if reason:
                    reasons[(name, reason)].append(backend)
            else:
                cell = reason
                if reason and not wide and len(reason) > REASON_CELL:    # the start here, the whole under the table
                    number = notes.setdefault(reason, (len(notes) + 1, name))[0]
                    cell = f"[{number}] " + short(reason, REASON_CELL - 4 - len(str(number)))
                t.add_row(literal(name), backend, literal(printed), diff, tol, literal(verdict_text, style),
                          literal(cell))
        form_groups = defaultdict(list)
        for r in rows:
            if r.source == "reference" and r.quantity != "*" and not all_rows:
                ref_groups[(r.backend, r.style)].append(r)
                continue
            if r.source == "form" and not all_rows:          # one row per style: how far its optimizer's form ends
                form_groups[(r.backend, r.style)].append(r)
                continue
            if r.status == "hint" or (quiet and r.passed is not False):
                continue
            add(r.quantity if r.source == "article" else f"{r.quantity} [{r.source}]", f"{r.backend}/{r.style}",
                printed_cell(r.printed, narrow), fmt(r.max_abs_diff), fmt_tol(r.tolerance), verdict(r),
                _style(r), r.erratum or r.reason or "")
        for (backend, style), group in form_groups.items():
            differs = [r for r in group if r.status == "convention confirmed"]
            bad = [r for r in group if r.passed is False]
            worst = max(group, key=lambda r: r.max_abs_diff or 0.0)
            if not quiet or bad:
                add("[optimizer form]", f"{backend}/{style}", "costs, final weights vs the case's form",
                    fmt(worst.max_abs_diff), fmt_tol(worst.tolerance),
                    verdict(bad[0]) if bad else "convention confirmed" if differs else "match",
                    "bold red" if bad else _style(differs[0] if differs else worst),
                    (differs[0].reason.rsplit(" — ", 1)[0] + f" — {worst.quantity.split(' ')[0]} differs most")
                    if differs else "the two forms give the same numbers on this case")
        for (backend, style), whole in ref_groups.items():
            # float64 parity and gradient checking's centered differences (whose rounding noise, 64·eps·|J|/h,
            # is far above float64's): two rows, so that one's worst difference never reads as the other's
            parts = (("[reference parity]", "per-element bounds", [r for r in whole if not _centered(r)]),
                     ("[gradient checking]", "centered-difference noise", [r for r in whole if _centered(r)]))
            for title, bound_words, group in parts:
                if not group:
                    continue
                bad = [r for r in group if r.passed is False]
                compared = [r for r in group if r.passed is not None]
                none = [r for r in group if r.passed is None]
                worst = max((r.max_rel_diff or 0.0 for r in compared), default=None)
                summary = f"{len(compared)} numbers vs reference" + (f", {len(none)} not compared" if none else "")
                if not quiet or bad:
                    add(title, f"{backend}/{style}", summary, "max rel " + fmt(worst), bound_words,
                        "match" if not bad else f"{len(bad)} FAILED", VERDICT_STYLE[not bad], "")
            bad = [r for r in whole if r.passed is False]
            for r in bad:
                add(f"{r.quantity} [reference]", f"{backend}/{style}", "", fmt(r.max_abs_diff), fmt_tol(r.tolerance),
                    r.status, "bold red", r.reason or "")
        # the quantity column as wide as its longest name (up to a third of the screen), so that no name is folded
        # mid-word or wrapped when it fits: a fixed width is one rich keeps while it narrows the other columns
        t.columns[0].width = min(max(widest, default=8), max(12, console.width // 3))
        console.print(t)
        for reason, (number, name) in notes.items():
            console.print(literal(f"[{number}] {name}: {reason}"))
        for (name, reason), backends in reasons.items():
            who = backends[0] if len(backends) == 1 else f"{backends[0]} and {len(backends) - 1} more"
            console.print(literal(f"{name} ({who}): {reason}"))
        shown = set()
        formulas = {q.id: q.formula for q in case.quantities if q.formula is not None}
        for r in rows:                            # a failure shows what the backend computed, not only by how much
            if r.passed is False and r.actual is not None and r.source == "article":
                console.print(literal(f"{r.quantity} {r.backend}/{r.style} computes {short(_values(r.actual), 200)}",
                                      "bold red"))
            elif (r.passed and r.status in ("erratum confirmed", ROUNDING) and r.actual is not None
                  and r.quantity not in shown and r.source == "article" and not quiet):
                shown.add(r.quantity)             # an erratum: the number a correct computation gives, once
                formula = formulas.get(r.quantity)
                said = (f"the printed formula {formula} gives {short(_values(r.expected), 120)}" if formula
                        else f"printed {short(r.printed, 60)}")
                console.print(literal(f"{r.quantity}: {said}; computed {short(_values(r.actual), 160)} "
                                      f"({r.backend}/{r.style})"))
        for r in rows:
            if r.status == "hint":
                console.print(literal(f"hint: {r.reason}", "bold yellow"))
        diagnosed = {r.quantity: r.diagnosis for r in rows if r.diagnosis and (not quiet or r.passed is False)}
        for qid, text in diagnosed.items():     # once per printed quantity: the same for every backend
            console.print(literal(f"diagnosis {qid}: {text}", "cyan"))
    missing = {}
    for _, traces, _ in results:
        for t in traces:
            if getattr(t, "status", None) == "NOT RUN":
                missing.setdefault(t.backend, t.reason)
    for backend, reason in missing.items():      # the whole reason, once: the table cuts it
        console.print(literal(f"NOT RUN {backend}: {reason}", "bold red"))
    not_compared = defaultdict(int)
    for _, _, rows in results:
        for r in rows:
            if r.passed is None and r.status != "hint":
                not_compared[r.status] += 1
    extra = ", ".join(f"{n} {status}" for status, n in sorted(not_compared.items()))
    rounding = (f" ({totals['rounding']} of them printed numbers not correctly rounded, each with its case's reason)"
                if totals["rounding"] else "")
    console.print(f"{totals['passed']} comparisons hold{rounding}, {totals['failed']} failed"
                  + (f"; not compared (reported, not counted): {extra}" if extra else ""), markup=False)
