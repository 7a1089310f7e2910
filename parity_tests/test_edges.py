"""Numerical edges on every backend: saturated tanh/sigmoid, cross-entropy at ŷ = 0 or 1, ReLU at 0.

The explanations live in reference/cases/robust-edges.toml (rows marked ``differs`` assert that
a backend really gives another number, and say why), so the report shows them. This file
asserts the same behaviour directly, backend by backend, through each backend's
``functions()`` — the framework's own autodiff and loss objects — and runs the case's rows.
torch and TensorFlow are skipped cleanly when not importable (unless BACKPROP_PARITY_REQUIRE
names them).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from .conftest import require_backend
from .helpers import assert_row, rows

BACKENDS = ["numpy", "torch", "tf"]

# What each backend gives for a cross-entropy prediction exactly wrong (ŷ = 0 for y = 1 and ŷ = 1 for
# y = 0) and exactly right, and why (the case file's 'differs' rows say the same).
BCE_WRONG = {"numpy": math.inf,                                       # no clipping
             "torch": 100.0,                                          # nn.BCELoss clamps log at −100
             "tf": -(math.log(1e-7) + math.log(1 - (1 - 1e-7))) / 2}  # Keras clips ŷ to [1e-7, 1 − 1e-7]
BCE_EXACT = {"numpy": 0.0, "torch": 0.0, "tf": -math.log(1 - 1e-7)}


def functions(backend):
    if backend == "tf":
        require_backend("torch")          # import order: torch before TensorFlow
    return require_backend(backend).functions(np.float64)


@pytest.mark.parametrize("backend", BACKENDS)
def test_robust_edges_rows(backend):
    functions(backend)
    rs = [r for r in rows("robust-edges", backend) if r.source == "article"]
    assert rs
    for r in rs:
        assert_row(r)
        assert r.passed is True, r


@pytest.mark.parametrize("backend", BACKENDS)
def test_saturated_tanh_derivative_is_exactly_zero(backend):
    f = functions(backend)
    z = np.array([19.5, 20.0, -20.0, 40.0, 400.0])
    assert np.asarray(f["act.tanh_prime"](z), dtype=float).tolist() == [0.0] * 5
    assert np.asarray(f["act.tanh"](z), dtype=float).tolist() == [1.0, 1.0, -1.0, 1.0, 1.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_saturated_sigmoid_derivative_is_asymmetric(backend):
    """σ(z) rounds to 1 for z ≥ 37 (σ' = 0 exactly), while σ(−z) ≈ e^{−z} keeps σ'(−z) ≈ e^{−z}."""
    f = functions(backend)
    d = np.asarray(f["act.sigmoid_prime"](np.array([40.0, -40.0, 800.0, -800.0])), dtype=float)
    assert d[0] == 0.0 and d[2] == 0.0 and d[3] == 0.0
    assert d[1] == pytest.approx(math.exp(-40.0), rel=1e-12)
    s = np.asarray(f["act.sigmoid"](np.array([-800.0, 800.0])), dtype=float)
    assert s.tolist() == [0.0, 1.0] and np.isfinite(s).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_family_at_exactly_zero(backend):
    f = functions(backend)
    assert float(np.asarray(f["act.relu_prime"](np.array([0.0]))).ravel()[0]) == 0.0
    assert float(np.asarray(f["act.leaky_relu_prime"](np.array([0.0]), 0.01)).ravel()[0]) == pytest.approx(0.01)
    assert float(np.asarray(f["act.relu"](np.array([0.0]))).ravel()[0]) == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_bce_at_exact_zero_and_one(backend):
    f = functions(backend)
    wrong = float(f["loss.bce"](np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    exact = float(f["loss.bce"](np.array([1.0, 0.0]), np.array([1.0, 0.0])))
    assert wrong == BCE_WRONG[backend] or (math.isinf(wrong) and math.isinf(BCE_WRONG[backend]))
    assert exact == pytest.approx(BCE_EXACT[backend], rel=1e-12, abs=0)
