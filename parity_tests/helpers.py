"""One comparison helper for every parity test (in the spirit of tinygrad's helper_test_op).

``rows(case_name, backend)`` gives the comparison rows of a built-in case on a backend (all its
styles) — the same rows ``backprop-parity check`` prints, by the same path: ``reports/run.py``
computes each backend once per test session, over every built-in case (the reference in this
process, every framework in its own worker process), and ``run.case_result`` compares, with the
effective references a backend asks for. ``results(names, backends)`` is what ``run_cases``
returns, from the same cache.
"""

from __future__ import annotations

from functools import lru_cache

from backprop_parity.reference import registry
from backprop_parity.reference.case import builtin_names, load
from backprop_parity.reports import run

CASES = builtin_names()
REF = registry.reference().name           # the reference backend's name
_INDEX = {name: i for i, name in enumerate(CASES)}
_runs: dict = {}                           # backend -> BackendRun over every built-in case (this session)


@lru_cache(maxsize=None)
def case(name: str):
    return load(name)


def computed(backends) -> dict:
    """{backend: BackendRun over every built-in case}, each backend computed once per session
    (those not computed yet run side by side, each framework in its own worker process)."""
    todo = [b for b in run.needed(list(backends)) if b not in _runs]
    if todo:
        cases = [case(n) for n in CASES]
        _runs.update(run.compute(cases, todo, known=dict(_runs)))
    return {b: _runs[b] for b in run.needed(list(backends))}


def traces(name: str, backend: str) -> tuple:
    return tuple(computed([backend])[backend].traces[_INDEX[name]])


def reference_trace(name: str):
    return traces(name, REF)[0]


@lru_cache(maxsize=None)
def rows(name: str, backend: str) -> tuple:
    _, _, compared = run.case_result(case(name), _INDEX[name], computed([backend]), [backend])
    return tuple(compared)


def results(names, backends) -> run.Results:
    """What ``run.run_cases([case(n) for n in names], backends)`` returns, from the session cache."""
    backends = list(backends)
    runs = computed(backends)
    indexes = [_INDEX[n] for n in names]
    return run.assemble([case(n) for n in names], {b: r.select(indexes) for b, r in runs.items()}, backends)


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
