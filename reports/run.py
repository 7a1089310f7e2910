"""Load cases and run them on backends: shared by check, report and explain."""

from __future__ import annotations

import sys
import time

import numpy as np

from backprop_parity.reference.case import builtin_names, load


def load_cases(specs: list[str], dtype: str):
    names = specs or builtin_names()
    cases = [load(s) for s in names]
    if dtype == "float32":
        cases = [c.cast(np.float32) for c in cases]
    return cases


def run_cases(cases, backends: list[str], progress=None):
    from . import backends as B
    from .compare import compare_case
    results = []
    for case in cases:
        traces = []
        for b in backends:
            traces.extend(B.run(case, b))
        ref = next((t for t in traces if getattr(t, "backend", None) == "numpy" and not hasattr(t, "passed")), None)
        if ref is None and any(getattr(t, "backend", "numpy") != "numpy" for t in traces):
            ref = next((t for t in B.run(case, "numpy") if not hasattr(t, "passed")), None)
        rows = compare_case(case, traces, ref, effective_references(case, backends))
        results.append((case, traces, rows))
        if progress:
            progress(case)
    return results


def effective_references(case, backends: list[str]) -> dict:
    """{backend: (reference trace, note)} for backends that compute a slightly different case than given.

    A backend module may define ``effective_case(case)`` (the case as the framework really computes it)
    and ``EFFECTIVE_NOTE`` (why). When it returns a different case, that backend's reference parity is
    measured against the NumPy reference run on it; the article rows still use the case as given.
    """
    from . import backends as B
    out = {}
    for b in backends:
        if b == "numpy":
            continue
        try:
            module = B.load(b)
        except B.BackendUnavailable:
            continue
        effective = getattr(module, "effective_case", None)
        eff = effective(case) if effective is not None else case
        if eff is not case:
            ref = next(t for t in B.run(eff, "numpy") if not hasattr(t, "passed"))
            out[b] = (ref, getattr(module, "EFFECTIVE_NOTE", "the backend's effective parameters"))
    return out


class Progress:
    """Progress on stderr, one line per case (nothing with --quiet)."""

    def __init__(self, total: int, quiet: bool, stream=None):
        self.total, self.quiet, self.done = total, quiet, 0
        self.stream = stream or sys.stderr
        self.start = self.last = time.perf_counter()

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def __call__(self, case) -> None:
        self.done += 1
        now = time.perf_counter()
        self.say(f"[{self.done}/{self.total}] {case.name} ({now - self.last:.1f} s)")
        self.last = now
