"""Load cases and run them on backends: shared by check, report and explain."""

from __future__ import annotations

import numpy as np

from reference.case import builtin_names, load


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
        ref = next((t for t in traces if getattr(t, "backend", None) == "numpy"), None)
        if ref is None and any(getattr(t, "backend", "numpy") != "numpy" for t in traces):
            ref = next((t for t in B.run(case, "numpy") if not hasattr(t, "passed")), None)
        rows = compare_case(case, traces, ref)
        results.append((case, traces, rows))
        if progress:
            progress(case)
    return results
