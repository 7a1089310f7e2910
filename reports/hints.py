"""Hints for a case whose printed numbers do not match: the commonest cause, tried on the reference.

A square weight matrix reads the same in either orientation, so a W written (n_out, n_in) in a rows
layout loads without complaint and fails many comparisons. When a case's printed numbers mismatch and
it has a square W, the reference runs again with that W transposed (NumPy, in this process); when that
clears the mismatches, the case gets a hint row naming the parameter and the layout's convention.
"""

from __future__ import annotations

from backprop_parity.reference import variants

from .compare import Comparison, compare_case


def _article_failures(rows, status: str | None = None) -> int:
    return sum(1 for r in rows if r.source == "article" and r.passed is False and status in (None, r.status))


def transposed(case, ref_rows, ref_name: str) -> Comparison | None:
    """A hint row when transposing one square W of ``case`` clears its failed article rows on the reference."""
    from . import backends as B
    net = case.net
    before = _article_failures(ref_rows, "MISMATCH")      # printed numbers that differ (not errata, not rounding)
    if net is None or before == 0:
        return None
    for name in variants.square_weights(net):
        trial = variants.with_transposed(case, name)
        traces = [t for t in B.run(trial, ref_name) if isinstance(t, B.Trace)]
        if not traces:
            continue
        after = _article_failures(compare_case(trial, traces[:1]))           # any failure, errata included
        if after == 0 or after * 4 <= before:
            n_in, n_out = ("n_in", "n_out") if net.layout == "rows" else ("n_out", "n_in")
            return Comparison(case.name, "*", "hint", ref_name, traces[0].style, "hint", status="hint",
                              reason=(f"{name} may be transposed: layout {net.layout} means W ({n_in}, {n_out}); with "
                                      f"{name} transposed the reference fails {after} article comparisons, "
                                      f"{before} as written"))
    return None
