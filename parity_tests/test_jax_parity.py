"""JAX — the grad style (jax.grad / jax.vjp, optax) and Keras 3 on the JAX backend — against the
articles and the NumPy reference, on every built-in case.

The jax backend runs the way ``backprop-parity check`` runs it: in its own worker process
(``reports/worker.py``), started with the registry's ``env`` (``KERAS_BACKEND=jax``), so Keras
is on JAX there whatever this test process has imported; the reference runs here. Every row
is the one ``check`` prints (``reports/run.py``: compute, then compare). The runs come from the
session's cache (``helpers.computed``, ``helpers.session_runs``): every built-in case is computed
once per session for every test that looks at jax (these, ``test_edges``, the report …). Bounds are the
project's (``reports/tolerances.py``), never widened here; where JAX really computes something
else, the case file says so with ``differs = { jax = … }`` and the row must confirm it.

A jax that cannot be imported in the worker gives NOT RUN rows: the tests are skipped — or
fail, when BACKPROP_PARITY_REQUIRE names jax (conftest's rule for optional frameworks).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from backprop_parity.reference import registry
from backprop_parity.reference.case import builtin_names, load
from backprop_parity.reports import run as R
from backprop_parity.reports.compare import Comparison, compare_case

from . import helpers
from .conftest import required

pytestmark = pytest.mark.cost(45)     # its tests' seconds, summed (conftest: the costliest files start first)

BACKEND = "jax"
STYLES = ("grad", "keras", "sharded")
CASES = builtin_names()
FAILED_STATUSES = {"MISMATCH", "MISSING", "NOT RUN", "ERROR", "NOTHING COMPARED", "SHAPE", "empty"}


# --------------------------------------------------------------------------- one computation per session

def computed():
    """(cases, runs) of every built-in case: the reference here, the jax backend in its worker processes, as
    ``check`` computes them — the session's one computation (helpers.computed)."""
    return [helpers.case(n) for n in CASES], helpers.computed([BACKEND])


def unavailable(runs) -> str | None:
    """Why the jax worker could not run the backend (its NOT RUN rows), or None."""
    for per_case in runs[BACKEND].traces:
        for t in per_case:
            if isinstance(t, Comparison) and t.status == "NOT RUN":
                return t.reason
    return None


def require_jax(runs) -> None:
    """Skip without jax — fail when BACKPROP_PARITY_REQUIRE names it (a CI run must not pass without it)."""
    why = unavailable(runs)
    if why is None:
        return
    if BACKEND in required():
        pytest.fail(f"{why} — and BACKPROP_PARITY_REQUIRE={os.environ['BACKPROP_PARITY_REQUIRE']} says this run "
                    f"must include it", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def jax_runs():
    cases, runs = computed()
    require_jax(runs)
    return cases, runs


def rows(name: str) -> tuple:
    return helpers.rows(name, BACKEND)


def trace(name: str, style: str):
    cases, runs = computed()
    found = [t for t in runs[BACKEND].traces[CASES.index(name)] if getattr(t, "style", None) == style]
    assert len(found) == 1, f"{name}: {len(found)} traces of jax/{style}"
    assert not isinstance(found[0], Comparison), describe(found[0])
    return found[0]


def reference(name: str):
    cases, runs = computed()
    ref = registry.reference().name
    return next(t for t in runs[ref].traces[CASES.index(name)] if not isinstance(t, Comparison))


def describe(row) -> str:
    return (f"{row.case}/{row.quantity} on {row.backend}/{row.style} ({row.source}): {row.status}; "
            f"max |diff| {row.max_abs_diff}, tolerance {row.tolerance} ({row.tolerance_reason}); "
            f"{row.erratum or row.reason or ''}")


def assert_row(row) -> None:
    """A row holds: passed, or 'no counterpart' with a reason — and never over zero elements."""
    assert row.passed is not False, describe(row)
    if row.passed is None:
        assert row.status == "no counterpart" and row.reason, describe(row)
    else:
        assert row.n_elements > 0, "comparison over zero elements: " + describe(row)
        assert row.status not in FAILED_STATUSES, describe(row)


def style_rows(name: str, style: str, source: str, quantity: str | None = None) -> list:
    """This style's rows of one source (and quantity), plus any row saying the style did not run."""
    found = [r for r in rows(name) if r.backend == BACKEND and r.style == style and (
        r.quantity == "*" or (r.source == source and quantity in (None, r.quantity)))]
    assert found, f"no {source} row {quantity} for {name} on {BACKEND}/{style}"
    return found


ARTICLE = [(c, q.id, s) for c in CASES for q in load(c).quantities for s in STYLES]


def _reference_keys():
    try:
        from backprop_parity.reference.backend import trace_manual
        return [(c, k, s) for c in CASES for k in trace_manual(load(c)).values for s in STYLES]
    except Exception as exc:          # never expected: the reference is NumPy only
        pytest.fail(f"the reference cannot be traced: {exc}", pytrace=False)


REFERENCE = _reference_keys()


# --------------------------------------------------------------------------- the rows

@pytest.mark.parametrize("case_name,qid,style", ARTICLE, ids=["/".join(p) for p in ARTICLE])
def test_article_quantity(jax_runs, case_name, qid, style):
    for row in style_rows(case_name, style, "article", qid):
        assert_row(row)


@pytest.mark.parametrize("case_name,key,style", REFERENCE, ids=["/".join(p) for p in REFERENCE])
def test_reference_key(jax_runs, case_name, key, style):
    """Every number of the reference's trace, at the float64 bound of reports/tolerances.py."""
    for row in style_rows(case_name, style, "reference", key):
        assert_row(row)
        if row.passed and "effective case" in row.tolerance_reason:
            # jax's only effective cases: an optimizer its style writes in another form than the case's
            assert "the reference is run in that form" in row.tolerance_reason, "jax declares no effective case"
            assert load(case_name).hyper.optimizer in ("momentum", "nesterov", "rmsprop", "adam", "adamw")


@pytest.mark.parametrize("case_name,style", [(c, s) for c in CASES for s in STYLES])
def test_gradcheck(jax_runs, case_name, style):
    if load(case_name).y is None:
        assert not [r for r in rows(case_name) if r.style == style and r.source == "gradcheck"]
        return
    for row in style_rows(case_name, style, "gradcheck"):
        assert_row(row)


@pytest.mark.parametrize("case_name", CASES)
def test_no_row_fails(jax_runs, case_name):
    """The whole case at once: both styles present, nothing failed, missing, empty or not run."""
    mine = [r for r in rows(case_name) if r.backend == BACKEND]
    assert {r.style for r in mine} == set(STYLES)
    for r in mine:
        assert_row(r)
    assert any(r.passed for r in mine if r.source != "article") or load(case_name).net is None


@pytest.mark.parametrize("case_name,style", [(c, s) for c in CASES for s in STYLES])
def test_every_reference_key_is_produced_or_explained(jax_runs, case_name, style):
    t = trace(case_name, style)
    ref = reference(case_name)
    unexplained = [k for k in ref.values if k not in t.values and k not in t.missing]
    assert not unexplained
    assert set(t.values) <= set(ref.values), "keys the reference does not have"
    assert not set(t.values) & set(t.missing), "a key both computed and declared missing"
    assert all(isinstance(v, str) and v for v in t.missing.values())
    if load(case_name).net is not None and load(case_name).net.trick:
        # only Courtial's display forms are missing; [A | 1] and ∂J/∂[A | 1] are JAX's own on both styles
        assert {k.split("[")[0] for k in t.missing} <= {"deriv_aug", "delta_aug"}


@pytest.mark.parametrize("case_name,style", [(c, s) for c in CASES for s in STYLES])
def test_mapping_is_reported(jax_runs, case_name, style):
    t = trace(case_name, style)
    assert "functions" in t.mapping and "jax.grad" in t.mapping["functions"]
    if load(case_name).net is None:
        return
    assert all(isinstance(v, str) and v for v in t.mapping.values())
    common = {"parameters", "loss", "deltas", "learning rate", "update", "platform"}
    if style in ("grad", "sharded"):
        assert common | {"forward"} <= set(t.mapping)
        optimizer = load(case_name).hyper.optimizer
        assert "α·s" in t.mapping["learning rate"] and "jax.jit" in t.mapping["update"]
        assert f"optax.{'sgd' if optimizer in ('sgd', 'momentum', 'nesterov') else optimizer}(" in t.mapping["update"]
        if style == "sharded" and load(case_name).y is not None:
            assert "jax.shard_map over 2 CPU devices" in t.mapping["data parallel"]
            assert "shard_map" in t.mapping["compiled"]
    else:
        assert common | {"model", "dtype", "execution"} <= set(t.mapping)
        assert "on the jax backend" in t.mapping["model"]
        if load(case_name).y is not None:            # trained: what the Keras objects said about themselves
            assert "float64" in t.mapping["observed"] and "float32" not in t.mapping["observed"]
            assert "jit_compile = True" in t.mapping["observed"]
    if load(case_name).hyper.l2:
        assert "L2" in t.mapping


# --------------------------------------------------------------------------- the asserted differences

DIFFERS = [(c, q.id, s) for c in CASES for q in load(c).quantities for s in STYLES if q.differs_for(BACKEND, s)]


def test_some_jax_difference_is_asserted():
    assert DIFFERS, "no case file asserts a jax difference (robust-edges and dlai-activations should)"


@pytest.mark.parametrize("case_name,qid,style", DIFFERS, ids=["/".join(p) for p in DIFFERS])
def test_jax_difference_is_real(jax_runs, case_name, qid, style):
    """A `differs = { jax = … }` entry is a claim: the row must really mismatch (convention confirmed)."""
    for row in style_rows(case_name, style, "article", qid):
        assert row.status == "convention confirmed", describe(row)
        assert row.reason and row.reason == [q for q in load(case_name).quantities
                                             if q.id == qid][0].differs_for(BACKEND, style)


# --------------------------------------------------------------------------- nothing passes by default

def test_zero_element_comparisons_fail(jax_runs):
    """A jax trace whose numbers were emptied compares nothing: every such row fails, none passes."""
    name = "courtial-one-car"
    cases, _ = computed()
    case = cases[CASES.index(name)]
    for style in STYLES:
        t = trace(name, style)
        ref = reference(name)
        emptied = dataclasses.replace(t, values={k: np.zeros((0,)) for k in t.values})
        ref_emptied = dataclasses.replace(ref, values={k: np.zeros((0,)) for k in ref.values})
        got = [r for r in compare_case(case, [emptied], ref_emptied) if r.source == "reference"]
        assert got and all(r.passed is False and r.status == "empty" for r in got), [describe(r) for r in got]
        with pytest.raises(AssertionError, match="zero elements|empty"):
            assert_row(got[0])


def test_a_missing_key_fails(jax_runs):
    """A key the reference has and a jax trace neither computed nor explained is a failed MISSING row."""
    name = "zhou-feedforward"
    cases, _ = computed()
    case = cases[CASES.index(name)]
    t = trace(name, "grad")
    key = next(k for k in t.values if k.startswith("Z["))
    forgot = dataclasses.replace(t, values={k: v for k, v in t.values.items() if k != key})
    row = next(r for r in compare_case(case, [forgot], reference(name)) if r.quantity == key)
    assert row.passed is False and row.status == "MISSING"


def test_registry_declares_jax():
    b = registry.get(BACKEND)
    assert b.style_names == STYLES
    assert b.package == "backprop_parity.jax_impl"
    assert b.env == {"KERAS_BACKEND": "jax"}
    assert [s.module for s in b.styles] == ["network", "keras_style", "sharded"]
    assert {"jax", "jaxlib", "optax", "keras"} <= set(b.distributions)


# --------------------------------------------------------------------------- float32 runs

F32_CASES = ("courtial-bias-trick", "courtial-l2", "dlai-logistic", "robust-leaky-default", "zhou-gender")


@pytest.fixture(scope="session")
def f32_runs():
    cases, runs = helpers.session_runs("jax float32", lambda: [load(n).cast(np.float32) for n in F32_CASES],
                                       [BACKEND])
    require_jax(runs)
    return cases, runs


@pytest.mark.parametrize("style", STYLES)
def test_float32_runs_compute_in_float32(f32_runs, style):
    """--dtype float32: every number of both styles is float32 (nothing promoted to float64 on the way)
    and every row holds at the float32 bound (or is 'undecidable in float32', a reported status)."""
    cases, runs = f32_runs
    for i, case in enumerate(cases):
        t = next(t for t in runs[BACKEND].traces[i] if getattr(t, "style", None) == style)
        assert not isinstance(t, Comparison), describe(t)
        wide = [k for k, v in t.values.items() if isinstance(v, np.ndarray) and v.dtype == np.float64
                and not k.startswith(("gradcheck.", "n_params"))]
        assert not wide, f"{case.name}: float64 in a float32 run: {wide}"
        for r in R.case_result(case, i, runs, [BACKEND])[2]:
            if r.style != style:
                continue
            assert r.passed is not False, describe(r)
            if r.passed is None:
                assert r.status in ("no counterpart", "undecidable in float32"), describe(r)


# --------------------------------------------------------------------------- a missing jax is never a silent pass

def test_missing_jax_fails_when_required(monkeypatch):
    """NOT RUN rows (jax not importable in the worker) skip these tests — and fail them when
    BACKPROP_PARITY_REQUIRE names jax."""
    from backprop_parity.reports.compare import not_run
    case = load("zhou-mse")
    fake = {BACKEND: R.BackendRun(BACKEND, [[not_run(case, BACKEND, s, "No module named 'jax'") for s in STYLES]],
                                  [None])}
    monkeypatch.setenv("BACKPROP_PARITY_REQUIRE", "torch,jax")
    with pytest.raises(pytest.fail.Exception, match="No module named 'jax'"):
        require_jax(fake)
    monkeypatch.setenv("BACKPROP_PARITY_REQUIRE", "torch,tf")
    with pytest.raises(pytest.skip.Exception):
        require_jax(fake)
    require_jax({BACKEND: R.BackendRun(BACKEND, [[]], [None])})      # nothing NOT RUN: carries on


@pytest.mark.parametrize("style", STYLES)
def test_one_wrong_entry_fails_at_its_own_bound(jax_runs, style):
    """×(1 + 1e-9) in any single nonzero entry of any element-bounded quantity fails (helpers)."""
    helpers.assert_one_wrong_entry_fails("jax", style)
