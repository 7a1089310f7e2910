"""The report built once per test session, from the parity tests' own cached runs.

``full_report()`` runs every built-in case on every backend through
``helpers.traces`` (cached per session: when the torch / TF parity tests ran
first, no case is run twice), compares them exactly as ``run_cases`` does, and
writes the report to a private temporary folder (test runs may overlap) and
keeps a copy in ``reports/artifacts/report/`` (git-ignored) for a human to open.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from backprop_parity.reference.backend import Trace
from backprop_parity.reports import backends as B
from backprop_parity.reports.compare import compare_case
from backprop_parity.reports.report import write_report

from . import helpers

ARTIFACTS = Path(__file__).resolve().parent.parent / "reports" / "artifacts"


def results(names, backends):
    """What ``run_cases(cases, backends)`` returns, from the session cache."""
    out = []
    for name in names:
        case = helpers.case(name)
        traces = [t for b in backends for t in helpers.traces(name, b)]
        ref = next(t for t in traces if isinstance(t, Trace) and t.backend == "numpy")
        out.append((case, traces, compare_case(case, traces, ref)))
    return out


def keep(src: Path, name: str) -> Path:
    """Copy a file or folder into reports/artifacts/ (tests read their own private copy: runs may overlap)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / name
    if src.is_dir():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(src, target, dirs_exist_ok=True)
    else:
        shutil.copyfile(src, target)
    return target


@lru_cache(maxsize=None)
def full_report():
    """(output folder, results) of the report on every built-in case and every backend."""
    out = Path(tempfile.mkdtemp(prefix="backprop-parity-report-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    res = results(helpers.CASES, B.ORDER)
    write_report(res, out, list(B.ORDER))
    keep(out, "report")
    return out, res
