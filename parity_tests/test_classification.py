"""Softmax and the categorical cross-entropy in the reference, each piece against its definition.

The frameworks are held to the reference by the case files and each backend's random networks
(``test_*_random.py``: SOFTMAX_GRID); here the reference itself is held to centered differences
and to the identities a learner checks by hand: each Jacobian row sums to 0, δ(L) = (ŷ − y)/n is
the Jacobian product it collapses from, the logits and sparse forms give the same J.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_parity.reference import activations as RA
from backprop_parity.reference import losses as RL
from backprop_parity.reference import network as N
from backprop_parity.reference.spec import Hyper, Net

H = 1e-6          # centered differences: error ~H²·|f'''| + eps/H ≈ 1e-10 at these magnitudes


def numeric_jacobian(f, z):
    """∂f_i/∂z_j of a vector function by centered differences."""
    out = np.empty((f(z).size, z.size))
    for j in range(z.size):
        e = np.zeros_like(z)
        e[j] = H
        out[:, j] = (f(z + e) - f(z - e)) / (2 * H)
    return out


def numeric_gradient(f, Z):
    """∂f/∂Z of a scalar function of a matrix, entry by entry."""
    G = np.empty_like(Z)
    for idx in np.ndindex(Z.shape):
        E = np.zeros_like(Z)
        E[idx] = H
        G[idx] = (f(Z + E) - f(Z - E)) / (2 * H)
    return G


def one_hot(rng, n, k):
    return np.eye(k)[rng.integers(0, k, n)]


@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_jacobian_is_the_derivative_of_softmax(axis):
    """g'(Z) of a softmax is each example's Jacobian, examples first: against centered differences, and
    diag(ŷ) − ŷᵀŷ by hand; every row sums to 0 (a shift of all Z changes nothing)."""
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((5, 4))
    Z = Z if axis == 1 else Z.T
    jac = RA.softmax_prime(Z, axis=axis)
    assert jac.shape == (5, 4, 4)
    examples = Z if axis == 1 else Z.T
    for i, z in enumerate(examples):
        np.testing.assert_allclose(jac[i], numeric_jacobian(lambda v: RA.softmax(v), z), atol=1e-9)
        s = RA.softmax(z)
        np.testing.assert_allclose(jac[i], np.diag(s) - np.outer(s, s), atol=2.3e-16)   # 2 ulp of 1: a product, a difference
    np.testing.assert_allclose(jac.sum(axis=2), 0.0, atol=4.5e-16)      # 4 roundings of entries ≤ 1 that cancel


def test_softmax_does_not_overflow():
    """max(Z) is subtracted before exp(): e^1000 would be inf and inf/inf nan."""
    s = RA.softmax(np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]]), axis=1)
    assert np.all(np.isfinite(s))
    np.testing.assert_array_equal(s[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(s[1], [1 / 3] * 3, rtol=1e-15)


def softmax_net(loss: str, layout: str) -> Net:
    axis = 1 if layout == "rows" else 0
    return Net(sizes=(3, 4), activations=(RA.make("softmax", axis=axis),), loss=RL.make(loss), layout=layout,
               bias="vectors")


@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("loss", ["cce", "mse", "half_sse"])
def test_output_delta_is_the_derivative_of_J_in_Z(loss, layout):
    """δ(L) of a softmax output — the fused (ŷ − y)/n for cce, ∂J/∂ŷ times each Jacobian for the others —
    against centered differences of J in every entry of Z."""
    rng = np.random.default_rng(2)
    net = softmax_net(loss, layout)
    n = 6
    X, y = rng.standard_normal((n, 3)), one_hot(rng, n, 4)
    if layout == "columns":
        X, y = X.T, y.T
    params = {k: rng.standard_normal(s) for k, s in net.param_shapes().items()}
    fwd = N.forward(net, params, X)
    bwd = N.backward(net, params, fwd, y, Hyper())
    act = net.activations[0]
    numeric = numeric_gradient(lambda Z: net.loss.J(y, act.g(Z), net.example_axis), fwd.Z[0])
    np.testing.assert_allclose(bwd.delta[0], numeric, atol=1e-9)


def test_fused_cce_delta_is_the_jacobian_product():
    """(ŷ − y)/n is ∂J/∂ŷ · Jacobian with ∂J/∂ŷ = −(y/ŷ)/n, example by example (one-hot y: Σy = 1)."""
    rng = np.random.default_rng(3)
    Z, y = 3 * rng.standard_normal((7, 5)), one_hot(rng, 7, 5)
    yhat = RA.softmax(Z, 1)
    chain = RA.jacobian_product(RL.make("cce").dJ_dyhat(y, yhat, 0), RA.softmax_prime(Z, 1, yhat), 1)
    np.testing.assert_allclose(RL.cce_softmax_delta(y, Z, 0), chain, atol=1e-15)


def test_cce_is_a_mean_over_examples_not_entries():
    """J = (1/n) Σ_examples −Σ_classes y log ŷ: k times the mean over every entry; J_each sums each example."""
    rng = np.random.default_rng(4)
    n, k = 5, 3
    y, yhat = one_hot(rng, n, k), RA.softmax(rng.standard_normal((n, k)), 1)
    cce = RL.make("cce")
    by_hand = -np.log(yhat[y == 1])
    np.testing.assert_allclose(cce.J_each(y, yhat, 0), by_hand, rtol=1e-15)
    assert cce.J(y, yhat, 0) == pytest.approx(np.mean(by_hand), rel=1e-15)
    assert cce.J(y, yhat, 0) == pytest.approx(k * np.mean(RL.cce_terms(y, yhat)), rel=1e-15)
    assert cce.J(y.T, yhat.T, 1) == pytest.approx(cce.J(y, yhat, 0), rel=1e-15)       # columns: examples on axis 1


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.integers(0, 2 ** 32 - 1), st.floats(0.1, 30))
def test_the_four_forms_agree(n, k, seed, spread):
    """From probabilities or logits, one-hot or class indices: one J; ∂J/∂z of both logits forms is
    (softmax(z) − y)/n, against centered differences."""
    rng = np.random.default_rng(seed)
    z, labels = spread * rng.standard_normal((n, k)), rng.integers(0, k, n)
    y = np.eye(k)[labels]
    J = RL.make("cce").J(y, RA.softmax(z, 1), 0)
    # From probabilities, log ŷ near ŷ = 1 keeps only ŷ's absolute rounding (~1e-16): a J of 3e-5 is 1e-16 off in
    # absolute terms, 4e-12 relative — the accuracy the logits forms keep and the reason frameworks prefer them.
    for value in (RL.cce_logits(y, z), RL.sparse_cce(labels, RA.softmax(z, 1)), RL.sparse_cce_logits(labels, z)):
        assert value == pytest.approx(J, rel=1e-12, abs=8 * 2.0 ** -53)
    delta = (RA.softmax(z, 1) - y) / n
    np.testing.assert_allclose(RL.cce_logits_delta(y, z), delta, atol=1e-16)
    np.testing.assert_allclose(RL.sparse_cce_logits_delta(labels, z), delta, atol=1e-16)
    if spread < 5:
        np.testing.assert_allclose(RL.cce_logits_delta(y, z), numeric_gradient(lambda v: RL.cce_logits(y, v), z),
                                   atol=1e-8)


def test_logits_forms_survive_extreme_logits():
    """log-sum-exp: a logit of 1000 does not overflow; the right class at +1000 costs 0, the wrong one 2000."""
    z = np.array([[1000.0, -1000.0]])
    assert RL.cce_logits(np.array([[1.0, 0.0]]), z) == 0.0
    assert RL.sparse_cce_logits([1], z) == pytest.approx(2000.0, rel=1e-15)


@pytest.mark.parametrize("labels", [[0.5, 1], [-1, 0], [0, 3], [[0, 1]], [np.nan, 0]])
def test_class_indices_are_whole_numbers_in_range(labels):
    with pytest.raises(ValueError, match="class indices must be whole numbers 0 … 2"):
        RL.sparse_cce_logits(labels, np.zeros((2, 3)))


def test_a_softmax_takes_its_axis_from_the_layout():
    """The case sets the class axis (rows: 1, columns: 0); a hand-written one is refused (test_case_errors)."""
    from backprop_parity.reference.case import load
    case = load("softmax-cce")
    assert case.net.layout == "rows" and case.net.activations[-1].params == {"axis": 1}
    assert case.net.activations[-1].label == "softmax(axis=1)"
