"""Numerical edges on every backend: saturated tanh/sigmoid, cross-entropy at ŷ = 0 or 1, ReLU at 0.

The explanations live in the case files (reference/cases/robust-edges.toml, dlai-activations.toml):
their ``differs`` rows assert, backend by backend, that a backend really gives another number and say
why (cross-entropy at ŷ = 0 or 1 is clamped, clipped or infinite depending on the framework), so the
report shows them; :func:`test_robust_edges_rows` holds every backend of the registry to those rows.
The other tests check the exact values directly: each evaluates the backend's own ``functions()`` —
the framework's autodiff — through the comparison path, in the backend's own worker process (case
expressions that call ``act.*`` are evaluated there), and reads the values back. Where a case file
documents that a backend differs, the test asserts that the difference is really there instead.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from backprop_parity.reference import registry
from backprop_parity.reference.case import load
from backprop_parity.reports import run

from .conftest import skip_if_not_run
from .helpers import assert_row, case, rows

BACKENDS = list(registry.names())

EDGES = """
schema = 1
name = "edges-functions"
title = "every backend's functions at their numerical edges"
[source]
article = "user"
[arrays]
tanh_z = [19.5, 20.0, -20.0, 40.0, 400.0]
sig_z = [40.0, -40.0, 800.0, -800.0]
sig_x = [-800.0, 800.0]
zero = [0.0]
"""
QUANTITIES = {                  # id -> expression evaluated on each backend (formula: a placeholder)
    "tanh-prime": "act.tanh_prime(tanh_z)",
    "tanh": "act.tanh(tanh_z)",
    "sigmoid-prime": "act.sigmoid_prime(sig_z)",
    "sigmoid": "act.sigmoid(sig_x)",
    "relu-prime-0": "act.relu_prime(zero)",
    "leaky-prime-0": "act.leaky_relu_prime(zero, 0.01)",
    "relu-0": "act.relu(zero)",
}


@lru_cache(maxsize=None)
def edge_case(folder: str):
    text = EDGES + "".join(f'[[quantity]]\nid = "{qid}"\nof = "{of}"\nformula = "0 * ({of})"\n'
                           for qid, of in QUANTITIES.items())
    path = f"{folder}/edges-functions.toml"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return load(path)


@pytest.fixture(scope="module")
def values(tmp_path_factory):
    """{backend: {quantity id: the values its functions give}} — every backend at once, each in its worker."""
    case = edge_case(str(tmp_path_factory.mktemp("edges")))
    (_, _, compared), = run.run_cases([case], BACKENDS)
    out: dict = {}
    for r in compared:
        out.setdefault(r.backend, {"rows": []})["rows"].append(r)
        if r.source == "article" and r.actual is not None:
            out[r.backend][r.quantity] = np.asarray(r.actual, dtype=float)
    return out


def of(values, backend):
    skip_if_not_run(backend, values[backend]["rows"])
    return values[backend]


def differs(case_name: str, qid: str, backend: str) -> str | None:
    """Why the case file says this backend gives another number than the quantity's formula (None: it does not)."""
    (q,) = [q for q in case(case_name).quantities if q.id == qid]
    return q.differs.get(backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_robust_edges_rows(backend):
    found = rows("robust-edges", backend)
    skip_if_not_run(backend, found)
    rs = [r for r in found if r.source == "article"]
    assert rs
    for r in rs:
        assert_row(r)
        assert r.passed is True, r


@pytest.mark.parametrize("backend", BACKENDS)
def test_saturated_tanh_derivative_is_exactly_zero(values, backend):
    v = of(values, backend)
    if differs("robust-edges", "tanh-prime-saturated", backend):      # documented: not exactly 0 everywhere
        assert v["tanh-prime"].tolist() != [0.0] * 5
        return
    assert v["tanh-prime"].tolist() == [0.0] * 5
    assert v["tanh"].tolist() == [1.0, 1.0, -1.0, 1.0, 1.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_saturated_sigmoid_derivative_is_asymmetric(values, backend):
    """σ(z) rounds to 1 for z ≥ 37 (σ' = 0 exactly), while σ(−z) ≈ e^{−z} keeps σ'(−z) ≈ e^{−z}."""
    v = of(values, backend)
    d = v["sigmoid-prime"]
    assert d[0] == 0.0 and d[2] == 0.0 and d[3] == 0.0
    assert d[1] == pytest.approx(math.exp(-40.0), rel=1e-12)
    s = v["sigmoid"]
    assert s.tolist() == [0.0, 1.0] and np.isfinite(s).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_family_at_exactly_zero(values, backend):
    v = of(values, backend)
    assert float(v["relu-prime-0"].ravel()[0]) == 0.0
    assert float(v["relu-0"].ravel()[0]) == 0.0
    # the notes say leaky'(0) = 1; a backend the case file says differs gives the slope
    leaky = 0.01 if differs("dlai-activations", "leaky-relu-prime-at-0", backend) else 1.0
    assert float(v["leaky-prime-0"].ravel()[0]) == pytest.approx(leaky)
