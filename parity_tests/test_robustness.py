"""Assertions written for the mutation catalogue (parity_tests/mutants.toml), NumPy level.

Each test here closes a hole a mutant found, or pins a piece of the reference on its own so
that a bug in it cannot hide behind a consistent network (gradient checking accepts any
network whose forward pass and backward pass are wrong in the same way):

* the stated conventions (default leaky slope, ReLU'(0)) through ``activations.make``, the
  path a case file takes — not only through the bare functions;
* gradient checking itself: centered differences exact on a quadratic, Courtial's
  ‖V1 − V2‖/‖V1 + V2‖ on vectors where the other textbook formulas differ;
* square layers (where a transposed ∂J/∂W or an off-by-one g' has the right shape);
* each loss's J and ∂J/∂ŷ on their own;
* training never writes into the arrays it was given.

These tests are in the mutants' test selection; keep them NumPy-only and fast.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from backprop_parity.reference import activations, gradcheck, layout, losses, network
from backprop_parity.reference.spec import Hyper, Net

from .helpers import trace_values

# --------------------------------------------------------------------------- conventions via make()


def test_default_leaky_slope_is_the_notes_0_01():
    """deeplearning.ai, torch and Keras: 0.01 (the Zhou chapter's 0.1 must be asked for)."""
    act = activations.make("leaky_relu")
    assert act.params["slope"] == 0.01
    z = np.array([-2.0, -0.5, 0.5])
    np.testing.assert_array_equal(act.g(z), [-0.02, -0.005, 0.5])
    np.testing.assert_array_equal(act.g_prime(z), [0.01, 0.01, 1.0])
    zhou = activations.make("leaky_relu", slope=0.1)
    np.testing.assert_array_equal(zhou.g_prime(z), [0.1, 0.1, 1.0])


def test_default_relu_prime_at_zero_is_0_and_settable():
    z = np.array([-1.0, 0.0, 1.0])
    assert activations.make("relu").g_prime(z).tolist() == [0.0, 0.0, 1.0]
    assert activations.make("relu", at_zero=1).g_prime(z).tolist() == [0.0, 1.0, 1.0]
    assert activations.make("leaky_relu").g_prime(z).tolist() == [0.01, 0.01, 1.0]
    assert activations.make("leaky_relu", at_zero=1).g_prime(z).tolist() == [0.01, 1.0, 1.0]
    assert activations.make("elu", alpha=2.0).g_prime(np.array([0.0])).tolist() == [1.0]


@pytest.mark.parametrize("name,z,expected", [
    ("tanh", 0.5, 1 - np.tanh(0.5) ** 2),
    ("sigmoid", 0.5, np.exp(-0.5) / (1 + np.exp(-0.5)) ** 2),
    ("elu", -1.0, np.exp(-1.0)),
])
def test_derivative_closed_forms(name, z, expected):
    assert activations.make(name).g_prime(np.array([z]))[0] == pytest.approx(expected, rel=1e-15)


# --------------------------------------------------------------------------- gradient checking itself

def test_relative_error_is_courtials_formula():
    """‖V1 − V2‖ / ‖V1 + V2‖ (Courtial, ch. 7), not ‖V1 − V2‖ / (‖V1‖ + ‖V2‖) (cs231n)."""
    V1, V2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert gradcheck.relative_error(V1, V2) == pytest.approx(1.0, rel=1e-15)       # cs231n's gives 1/√2
    V1, V2 = np.array([3.0, 0.0]), np.array([1.0, 0.0])
    assert gradcheck.relative_error(V1, V2) == pytest.approx(0.5, rel=1e-15)       # 2/4; cs231n's also 2/4
    V1, V2 = np.array([3.0, 4.0]), np.array([-3.0, 4.0])
    assert gradcheck.relative_error(V1, V2) == pytest.approx(6 / 8, rel=1e-15)     # cs231n's: 6/10
    assert gradcheck.relative_error(V1, -V1) == float("inf")                       # opposite gradients
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_numerical_gradient_is_centered():
    """On a quadratic, centered differences are exact up to rounding; a one-sided difference is off by h."""
    A = np.array([[2.0, 0.5], [0.5, 1.0]])

    def J(params):
        w = params["W1"].ravel()
        return 0.5 * w @ A @ w + w.sum(), None

    w = np.array([[0.3, -0.7]])
    num = gradcheck.numerical_gradient(J, {"W1": w}, 1e-3)["W1"]
    np.testing.assert_allclose(num, (A @ w.ravel() + 1).reshape(1, 2), rtol=1e-10, atol=1e-12)


def test_numerical_gradient_leaves_params_untouched():
    params = {"W1": np.array([[1.0, 2.0]])}
    before = params["W1"].copy()
    gradcheck.numerical_gradient(lambda p: (float(np.sum(p["W1"] ** 3)), None), params, 1e-4)
    np.testing.assert_array_equal(params["W1"], before)


# --------------------------------------------------------------------------- square layers

ACTS = ["identity", "sigmoid", "tanh", "leaky_relu", "elu"]


def square_problem(layout_, bias, act, seed):
    rng = np.random.default_rng(seed)
    net = Net(sizes=(3, 3, 3), activations=(activations.make(act), activations.make("tanh")),
              loss=losses.make("half_sse"), layout=layout_, bias=bias)
    params = {k: 0.8 * rng.standard_normal(s) for k, s in net.param_shapes().items()}
    n = 4
    X = rng.standard_normal((n, 3) if layout_ == "rows" else (3, n))
    y = rng.uniform(-0.9, 0.9, X.shape)      # 3 outputs: the same shape as X
    return net, params, X, y


@pytest.mark.parametrize("layout_,bias,act", list(itertools.product(["rows", "columns"], ["vectors", "none"], ACTS)))
def test_square_layers_gradient_check(layout_, bias, act):
    """With every W square, a transposed ∂J/∂W or g' of the wrong layer has the right shape: only values catch it."""
    net, params, X, y = square_problem(layout_, bias, act, seed=len(act) * 7 + (bias == "none") + 2 * (layout_ == "rows"))
    hyper = Hyper(h=1e-5)
    fwd = network.forward(net, params, X)
    bwd = network.backward(net, params, fwd, y, hyper)
    grads = network.gradients(net, params, fwd, bwd, hyper)
    out = gradcheck.check(params, grads, network.J_of(net, X, y, hyper), hyper)
    assert out["gradcheck.rel_error"] < 1e-7, out["gradcheck.rel_error"]
    # and the hidden delta is the textbook product, with g' of its own layer
    dA = layout.backprop_error(bwd.delta[1], params["W2"], net.layout)
    np.testing.assert_allclose(bwd.delta[0], dA * net.activations[0].g_prime(fwd.Z[0]), rtol=1e-14)


# --------------------------------------------------------------------------- losses on their own

Y = np.array([[1.0], [0.0], [0.5]])
YHAT = np.array([[0.8], [0.3], [0.5]])


@pytest.mark.parametrize("name,J", [
    ("half_sse", 0.5 * (0.04 + 0.09)),
    ("mse", (0.04 + 0.09) / 3),
    ("squared_error", 0.04 + 0.09),
    ("bce", -(np.log(0.8) + np.log(0.7) + 0.5 * np.log(0.5) + 0.5 * np.log(0.5)) / 3),
])
def test_loss_values(name, J):
    assert losses.make(name).J(Y, YHAT) == pytest.approx(J, rel=1e-14)


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_loss_gradient_matches_centered_differences(name):
    loss = losses.make(name)
    h = 1e-6
    numeric = np.zeros_like(YHAT)
    for i in np.ndindex(YHAT.shape):
        up, down = YHAT.copy(), YHAT.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (loss.J(Y, up) - loss.J(Y, down)) / (2 * h)
    np.testing.assert_allclose(loss.dJ_dyhat(Y, YHAT), numeric, rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- no aliasing

@pytest.mark.parametrize("rule", ["batch", "sgd"])
def test_training_never_writes_into_its_inputs(rule):
    rng = np.random.default_rng(0)
    net = Net(sizes=(2, 3, 1), activations=(activations.make("tanh"), activations.make("sigmoid")),
              loss=losses.make("half_sse"), bias="trick")
    params = {k: rng.standard_normal(s) for k, s in net.param_shapes().items()}
    X, y = rng.standard_normal((4, 2)), rng.uniform(0, 1, (4, 1))
    copies = {k: v.copy() for k, v in params.items()}
    X0, y0 = X.copy(), y.copy()
    t = trace_values(net, params, X, y, Hyper(rule=rule, epochs=3))
    for k in params:
        np.testing.assert_array_equal(params[k], copies[k])
        np.testing.assert_array_equal(t[f"W[{k[1:]}]"], copies[k])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    history = network.train(net, params, X, y, Hyper(rule=rule, epochs=2), every_epoch=True).history
    assert len({id(h[k]) for h in history for k in h}) == len(history) * len(params)


def test_frozen_parameter_keeps_its_value_through_every_epoch():
    rng = np.random.default_rng(4)
    net = Net(sizes=(2, 2, 1), activations=(activations.make("tanh"), activations.make("identity")),
              loss=losses.make("mse"), frozen=frozenset({"W2"}))
    params = {k: rng.standard_normal(s) for k, s in net.param_shapes().items()}
    X, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 1))
    tr = network.train(net, params, X, y, Hyper(rule="sgd", epochs=3), every_epoch=True)
    history = tr.history
    for h in history:
        np.testing.assert_array_equal(h["W2"], params["W2"])
    assert not np.array_equal(history[-1]["W1"], params["W1"])


# --------------------------------------------------------------------------- numerical edges, NumPy

def test_saturated_tanh_network_has_exact_zero_deltas_and_no_nan():
    net = Net(sizes=(1, 1), activations=(activations.make("tanh"),), loss=losses.make("half_sse"), bias="none")
    params = {"W1": np.array([[50.0]])}
    X, y = np.array([[1.0], [-1.0]]), np.array([[0.0], [0.0]])
    with np.errstate(all="raise"):
        t = trace_values(net, params, X, y, Hyper())
    assert t["deriv[1]"].tolist() == [[0.0], [0.0]]
    assert t["delta[1]"].tolist() == [[0.0], [0.0]]
    assert t["grad.W[1]"].tolist() == [[0.0]]


def test_bce_at_exact_zero_and_one():
    """No clipping: an exact prediction costs 0 and its ∂J/∂ŷ is −y/ŷ + (1 − y)/(1 − ŷ), finite (−1 at ŷ = y = 1,
    +1 at ŷ = y = 0, over N), where the one-fraction form is 0/0; a confident wrong one costs +inf."""
    bce = losses.make("bce")
    y = np.array([[1.0, 0.0]])
    assert bce.J(y, np.array([[1.0, 0.0]])) == 0.0
    assert bce.J(y, np.array([[0.0, 1.0]])) == np.inf
    g = bce.dJ_dyhat(y, np.array([[1.0, 0.0]]))
    assert (g == [[-0.5, 0.5]]).all()
    g = bce.dJ_dyhat(y, np.array([[0.0, 1.0]]))
    assert (g == [[-np.inf, np.inf]]).all()


def test_bce_network_saturated_output_is_reported_not_raised():
    """ŷ = σ(40) rounds to 1 with y = 0: J is +inf (reported, not raised), and δ = ∂J/∂Z = ŷ − y = 1 stays finite
    and exact (sigmoid + BCE in one piece), and so does the gradient."""
    net = Net(sizes=(1, 1), activations=(activations.make("sigmoid"),), loss=losses.make("bce"), bias="none")
    with np.errstate(all="ignore"):
        t = trace_values(net, {"W1": np.array([[40.0]])}, np.array([[1.0]]), np.array([[0.0]]), Hyper())
    assert t["yhat"].tolist() == [[1.0]]
    assert t["J"] == np.inf
    assert t["delta[1]"].tolist() == [[1.0]] and t["grad.W[1]"].tolist() == [[1.0]]
