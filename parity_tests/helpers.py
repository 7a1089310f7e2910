"""One comparison helper for every parity test (in the spirit of tinygrad's helper_test_op).

``rows(case_name, backend)`` runs a built-in case on a backend (all its styles) and
returns the comparison rows — the same rows ``backprop-parity check`` prints — cached
per session so that each parametrized test only looks its row up.
"""

from __future__ import annotations

from functools import lru_cache

from backprop_parity.reference.case import builtin_names, load
from backprop_parity.reports import backends as B
from backprop_parity.reports.compare import compare_case
from backprop_parity.reports.run import effective_references

CASES = builtin_names()


@lru_cache(maxsize=None)
def case(name: str):
    return load(name)


@lru_cache(maxsize=None)
def traces(name: str, backend: str):
    return tuple(B.run(case(name), backend))


@lru_cache(maxsize=None)
def reference_trace(name: str):
    return traces(name, "numpy")[0]


@lru_cache(maxsize=None)
def rows(name: str, backend: str):
    ref = reference_trace(name) if backend != "numpy" else None
    effective = effective_references(case(name), [backend]) if backend != "numpy" else None
    return tuple(compare_case(case(name), list(traces(name, backend)), ref, effective))


def describe(row) -> str:
    return (f"{row.case}/{row.quantity} on {row.backend}/{row.style} ({row.source}): {row.status}; "
            f"max |diff| {row.max_abs_diff}, tolerance {row.tolerance} ({row.tolerance_reason}); "
            f"{row.erratum or row.reason or ''}")


def assert_row(row) -> None:
    assert row.passed is not False, describe(row)
    if row.passed is None:
        assert row.status == "no counterpart" and row.reason, describe(row)
    else:
        assert row.n_elements > 0, "comparison over zero elements: " + describe(row)


def trace_values(net, params, X, y, hyper, inputs=None) -> dict:
    """The NumPy reference's trace values of a network built in code (the shared trace assembly)."""
    from backprop_parity.reference import network
    from backprop_parity.reference.trace import trace
    return trace(network, net, params, X, y, hyper, inputs)[0]
