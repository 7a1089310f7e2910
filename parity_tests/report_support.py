"""The report built once per test session, from the parity tests' own cached runs.

``full_report()`` takes every built-in case on every registered backend from
``helpers.results`` — the same compute-and-compare path as ``run_cases``, each backend computed
once per session (when the framework parity tests ran first, nothing is computed twice) — and
writes the report to a private temporary folder (test runs may overlap) and keeps a copy in
``reports/artifacts/report/`` (git-ignored) for a human to open.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from backprop_parity.reference import registry
from backprop_parity.reports.report import write_report

from . import helpers

ARTIFACTS = Path(__file__).resolve().parent.parent / "reports" / "artifacts"


def results(names, backends):
    """What ``run_cases(cases, backends)`` returns, from the session cache."""
    return helpers.results(names, backends)


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
    backends = list(registry.names())
    res = results(helpers.CASES, backends)
    write_report(res, out, backends)
    keep(out, "report")
    return out, res
