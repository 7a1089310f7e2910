"""The ``backprop-parity`` command.

    backprop-parity check [CASE | path/to/case.toml ...] [--backend NAME[,NAME …]|all] [--json FILE]
    backprop-parity cases

Exit codes: 0 every comparison holds; 1 some comparison failed (or a backend
could not run); 2 bad input (a case file, a name, an option), with a one-line
message naming the file and the field.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from pathlib import Path


from backprop_parity.reference import registry
from backprop_parity.reference.case import CaseError, builtin_names, load, resolve

from . import cache
from .run import load_cases, run_cases

# Subcommands implemented in their own modules: each has add_arguments(parser) and main(args) -> int.
SUBCOMMANDS = {
    "report": ("backprop_parity.reports.report", "write the HTML/Markdown/CSV/JSON comparison report"),
    "explain": ("backprop_parity.reports.explain", "walk through one case step by step in the terminal"),
    "mutants": ("backprop_parity.reports.mutants", "run the catalogue of backprop bugs against the parity tests"),
    "diagnose": ("backprop_parity.reports.diagnose", "name the convention or slip that reproduces a printed number "
                                                    "the reference does not"),
    "bench": ("backprop_parity.reports.bench", "time every command and the training step, as ratios to the import floor"),
}


class UsageError(ValueError):
    pass


def add_run_options(p) -> None:
    """The options every command that runs cases takes (check, report, explain): --fresh and --large."""
    cache.add_arguments(p)
    p.add_argument("--large", action="store_true",
                   help="run a case beyond the memory and time budgets checked when it is read "
                        "(reference/case.py: MAX_BYTES, MAX_SECONDS)")


def writable(path: str | None, option: str, directory: bool = False) -> None:
    """Refuse, before any computing, an output path that cannot be written: an empty name, a folder where a
    file belongs (or a file where a folder belongs), a path under a file, a folder without write permission.
    (What only a write can reveal — a full device — is caught when writing: :func:`write_text`.)"""
    if path is None:
        return
    if not str(path).strip():
        raise UsageError(f"{option}: an empty file name")
    p = Path(path)
    if p.exists():
        if directory and not p.is_dir():
            raise UsageError(f"{option}: {path} is a file, not a folder")
        if not directory and p.is_dir():
            raise UsageError(f"{option}: {path} is a folder, not a file")
        if not os.access(p, os.W_OK):
            raise UsageError(f"{option}: {path} cannot be written (no permission)")
        return
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option}: {path} is under {parent}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: cannot create {path}: {parent} is not writable")


def write_text(path: str, text: str, option: str) -> None:
    """Write ``text`` to ``path`` (its folders made), a failure being a UsageError naming the option."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise UsageError(f"{option}: cannot write {path} ({exc.strerror or exc})") from None


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit code 2."""

    def error(self, message):
        print(f"backprop-parity: error: {message} (see backprop-parity --help)", file=sys.stderr)
        raise SystemExit(2)


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only`` (the command on the line), the other subcommands' modules are not imported."""
    from backprop_parity.reference.case import sources_text
    frameworks = [b.title for b in registry.entries() if not b.reference]
    p = _Parser(prog="backprop-parity",
                description=f"Check a hand-written network against {', '.join(frameworks)} "
                            f"and the worked numbers of {sources_text()}.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="run cases and compare every number")
    c.add_argument("cases", nargs="*", help="built-in case names or paths to case files (default: all built-in)")
    c.add_argument("--backend", default="all",
                   help=f"{', '.join(registry.names())}, a comma list, or all (default: all)")
    c.add_argument("--json", metavar="FILE", help="write one JSON object per comparison to FILE")
    c.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    c.add_argument("--all-rows", action="store_true", help="list every reference comparison, not a summary")
    c.add_argument("--quiet", action="store_true", help="print only failures and the summary line")
    c.add_argument("--wide", action="store_true",
                   help="one line per row, reasons in full, whatever the screen's width (for less -S or grep)")
    add_run_options(c)
    sub.add_parser("cases", help="list the built-in cases and their sources")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text)
        if only is not None and name != only:
            continue                    # not the command being run: its module (pandas, rich …) stays unimported
        importlib.import_module(module).add_arguments(sp)
    return p


def main(argv=None) -> int:
    from backprop_parity.reference.allocator import reuse_freed_memory
    reuse_freed_memory()                # the reference runs in this process: see reference/allocator.py
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = _parser(command if command in ("check", "cases", *SUBCOMMANDS) else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:           # argparse already printed a one-line usage error
        return 2 if exc.code else 0
    if getattr(args, "large", False):          # read by the case loader, here and in every worker
        from backprop_parity.reference.case import LARGE_ENV
        os.environ[LARGE_ENV] = "1"
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "cases":
            return cmd_cases(args)
        if args.command in SUBCOMMANDS:
            return importlib.import_module(SUBCOMMANDS[args.command][0]).main(args)
    except CaseError as exc:
        print(f"backprop-parity: error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"backprop-parity: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1
    return 2


def cmd_check(args) -> int:
    from . import backends as B
    try:
        backends = B.selected(args.backend)
    except ValueError as exc:
        raise UsageError(f"--backend: {exc}") from None
    writable(args.json, "--json")
    cases = load_cases(args.cases, args.dtype)
    from .run import Progress
    progress = Progress(len(cases), args.quiet or not sys.stderr.isatty())   # progress for people, not pipes
    progress.say(f"checking {len(cases)} case(s) on {', '.join(backends)} …")
    store = cache.from_args(args)
    results = run_cases(cases, backends, progress=progress, store=store)
    from .text import print_results
    print_results(results, all_rows=args.all_rows, quiet=args.quiet, wide=args.wide)
    sys.stdout.flush()
    if store.enabled:                   # what a report of these results writes, made now and kept: it only writes it
        from .report import prepare
        try:
            prepare(results, backends, store)
        except Exception:               # only time is lost: a report makes what the store lacks itself
            pass
    cache.finish(store, args.quiet)
    rows = [r for _, _, rs in results for r in rs]
    if args.json:
        write_json(rows, args.json)
    failed = [r for r in rows if r.passed is False]
    return 1 if failed else 0


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    return x


WRITTEN_NUMBERS = 10_000       # an array above this many numbers is written as its shape and extremes, not in full


def _numbers(v) -> int:
    """How many numbers a value holds: an array's size; a nested list's from its first row at each depth (rows of
    a trace's arrays are all alike), without building an array from it (np.size of a list does: 2 s a report)."""
    if hasattr(v, "size") and hasattr(v, "shape"):
        return int(v.size)
    n = 1
    while isinstance(v, (list, tuple)):
        if not v:
            return 0
        n, v = n * len(v), v[0]
    return n


def written(row: dict) -> dict:
    """A comparison row as the JSON and CSV files hold it: ``expected``, ``actual`` and ``tolerance`` in full up to
    WRITTEN_NUMBERS numbers; beyond (a 1 797 × 10 × 10 Jacobian on seven styles is 400 MB of text) their shape,
    size and extremes, with a note — the verdict, max |diff| and tolerance stay in the row."""
    import numpy as np
    out = dict(row)
    for key in ("expected", "actual", "tolerance"):          # a per-element tolerance is as large as its array
        v = out.get(key)
        if v is not None and not isinstance(v, str) and _numbers(v) > WRITTEN_NUMBERS:
            a = np.asarray(v, dtype=float)
            out[key] = {"shape": list(a.shape), "numbers": int(a.size), "min": float(np.nanmin(a)),
                        "max": float(np.nanmax(a)), "note": f"more than {WRITTEN_NUMBERS} numbers: not written out "
                                                            f"(backprop-parity explain shows them)"}
    return out


def dumps(x) -> str:
    """JSON text of a value: by json's C encoder; a non-finite number (rare) as null, "inf" or "-inf"."""
    try:
        return json.dumps(x, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_jsonable(x), ensure_ascii=False)


def write_json(rows, path: str) -> None:
    """A JSON list, one comparison row to a line (json's indent would put each number of an array on a line of its
    own, and would run json's pure-Python encoder: 5 s and 15 MB for the built-in cases)."""
    write_json_records([written(r.as_dict()) for r in rows], path)


def write_json_records(records: list, path: str) -> None:
    """``write_json`` of rows already as written out (``written``)."""
    write_json_lines([dumps(r) for r in records], path)


def write_json_lines(lines: list, path: str) -> None:
    """``write_json`` of rows already as JSON text, one a line."""
    write_text(path, ("[\n" + ",\n".join(lines) + "\n]\n") if lines else "[]\n", "--json")


def cmd_cases(args) -> int:
    from rich.table import Table
    from .text import make_console
    from backprop_parity.reference.case import _articles
    articles = _articles()
    t = Table(title="built-in cases", show_lines=False)
    t.add_column("case", no_wrap=True)                  # a name is what the user types: never cut
    t.add_column("article (author, where)", overflow="fold", ratio=3)
    t.add_column("sections", overflow="fold", ratio=2)
    t.add_column("quantities", justify="right", no_wrap=True)
    for name in builtin_names():
        c = load(resolve(name))
        a = articles.get(c.article, {})
        who = ", ".join(x for x in (a.get("author", ""), a.get("published", "")) if x)
        t.add_row(name, f"{c.article_title}" + (f" — {who}" if who else ""), "; ".join(c.sections),
                  str(len(c.quantities)))
    make_console().print(t)
    return 0


if __name__ == "__main__":
    # run as ``python -m``: this file is __main__, and the subcommands raise the UsageError of
    # backprop_parity.reports.cli — use that module's main, so that one class is caught
    from backprop_parity.reports.cli import main as _main
    sys.exit(_main())
