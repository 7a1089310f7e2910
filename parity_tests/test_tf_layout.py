"""The article ↔ Keras mappings on their own: Dense parameters, loss reduction, learning rate, L2."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from backprop_parity.reference import layout as RL
from backprop_parity.reference import losses as RLo
from backprop_parity.reference import network as RN
from backprop_parity.reference.spec import Hyper, Net
from backprop_parity.reference import activations as RA

LAYOUTS = ["rows", "columns"]
BIASES = ["trick", "vectors", "none"]


@pytest.fixture(scope="module")
def L(tf_backend):
    from backprop_parity.tf_impl import layout
    return layout


@pytest.mark.parametrize("layout,bias", list(itertools.product(LAYOUTS, BIASES)))
@pytest.mark.parametrize("n_in,n_out", [(1, 1), (3, 2), (2, 5)])
def test_dense_round_trip(L, layout, bias, n_in, n_out):
    rng = np.random.default_rng(n_in * 10 + n_out)
    W = rng.standard_normal(RL.weight_shape(n_in, n_out, layout, bias == "trick"))
    b = rng.standard_normal(RL.bias_shape(n_out, layout)) if bias == "vectors" else None
    kernel, vector = L.to_dense(W, b, layout, bias)
    assert kernel.shape == (n_in, n_out)
    assert (vector is None) == (bias == "none") and (vector is None or vector.shape == (n_out,))
    W2, b2 = L.from_dense(kernel, vector, layout, bias)
    assert np.array_equal(W2, W) and W2.shape == W.shape
    assert (b2 is None and b is None) or np.array_equal(b2, b)


def test_dense_known_examples(L):
    rows_trick = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])            # (n_in + 1, n_out): bias row last
    kernel, bias = L.to_dense(rows_trick, None, "rows", "trick")
    assert np.array_equal(kernel, [[1, 2], [3, 4]]) and np.array_equal(bias, [5, 6])
    cols_trick = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])             # (n_out, n_in + 1): bias column last
    kernel, bias = L.to_dense(cols_trick, None, "columns", "trick")
    assert np.array_equal(kernel, [[1, 4], [2, 5]]) and np.array_equal(bias, [3, 6])
    kernel, bias = L.to_dense(np.array([[1.0, 2.0]]), np.array([[7.0]]), "columns", "vectors")   # W (1, 2), b (1, 1)
    assert np.array_equal(kernel, [[1], [2]]) and np.array_equal(bias, [7])
    kernel, bias = L.to_dense(np.array([[1.0, 2.0]]), None, "rows", "none")
    assert np.array_equal(kernel, [[1, 2]]) and bias is None


@pytest.mark.parametrize("layout,bias", list(itertools.product(LAYOUTS, BIASES)))
def test_dense_computes_the_articles_Z(L, layout, bias):
    """A Keras Dense loaded by to_dense gives the article's Z = A·W (+ b) / W·A (+ b) on the same data."""
    import keras
    rng = np.random.default_rng(3)
    W = rng.standard_normal(RL.weight_shape(3, 2, layout, bias == "trick"))
    b = rng.standard_normal(RL.bias_shape(2, layout)) if bias == "vectors" else None
    X = rng.standard_normal((4, 3) if layout == "rows" else (3, 4))
    A_in = RL.with_ones(X, layout) if bias == "trick" else X
    Z = RL.affine(A_in, W, b, layout)
    dense = keras.layers.Dense(2, use_bias=bias != "none", dtype="float64")
    dense.build((None, 3))
    kernel, vector = L.to_dense(W, b, layout, bias)
    dense.set_weights([kernel] + ([vector] if vector is not None else []))
    Z_keras = L.from_examples_first(dense(L.examples_first(X, layout)).numpy(), layout)
    np.testing.assert_allclose(Z_keras, Z, rtol=1e-14, atol=1e-15)


# ---------------------------------------------------------------------------- loss and learning rate

@pytest.mark.parametrize("name,n,k", [(name, n, k) for name in RLo.LOSSES for n, k in [(1, 1), (5, 1), (3, 2), (4, 3)]
                                      if not (name in RLo.ONE_HOT and k == 1)])   # one class is no classifier
def test_keras_loss_times_m_is_the_articles_J(tf_backend, name, n, k):
    import tensorflow as tf
    from backprop_parity.tf_impl import losses, network
    rng = np.random.default_rng(n * 7 + k)
    y = rng.uniform(0.1, 0.9, (n, k))
    yhat = rng.uniform(0.1, 0.9, (n, k))
    if name in RLo.ONE_HOT:                  # a class distribution: one-hot targets, probabilities that sum to 1
        y, yhat = np.eye(k)[rng.integers(0, k, n)], RA.softmax(rng.standard_normal((n, k)), 1)
    loss = RLo.LOSSES[name]
    keras_value = float(losses.keras_loss(loss, np.float64)(tf.constant(y), tf.constant(yhat)))
    assert keras_value * losses.keras_multiplier(loss, n * k) == pytest.approx(loss.J(y, yhat), rel=1e-14)
    each = losses.keras_loss(loss, np.float64, reduction=None)(tf.constant(y), tf.constant(yhat)).numpy()
    np.testing.assert_allclose(each * losses.keras_multiplier_each(loss, k), loss.J_each(y, yhat), rtol=1e-14)
    net = Net(sizes=(k, k), activations=(RA.make("identity"),), loss=loss)          # the tape style's J
    assert float(network.cost(net, {}, tf.constant(yhat), tf.constant(y), Hyper())) == pytest.approx(loss.J(y, yhat), rel=1e-14)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_courtial_step_is_sgd_on_mse_with_lr_alpha_k_over_2(tf_backend, k):
    """Courtial: W − α·(1/n)·Σ∂(½(y − ŷ)²)/∂W. Keras: SGD on MeanSquaredError (mean over n·k numbers), so
    keras = J/(n·k/2) and lr = α·(1/n)·(n·k/2) = α·k/2 — whatever n is. One Keras step = one article step."""
    from backprop_parity.tf_impl import floatx, idiomatic
    n, alpha = 5, 0.1
    rng = np.random.default_rng(k)
    net = Net(sizes=(3, 2, k), activations=(RA.make("tanh"), RA.make("tanh")), loss=RLo.make("half_sse"),
              layout="rows", bias="trick", first_layer=2)
    hyper = Hyper(rule="batch", learning_rate=alpha, grad_scale="1/n", epochs=1)
    params = {name: 0.5 * rng.standard_normal(s) for name, s in net.param_shapes().items()}
    X, y = rng.standard_normal((n, 3)), rng.standard_normal((n, k))
    plan = idiomatic.plan(net, hyper, n)
    assert plan.lr == pytest.approx(alpha * k / 2, rel=1e-15)
    assert plan.m_step == plan.m_full == n * k / 2
    with floatx(np.float64):
        model = idiomatic.build(net, params, plan)
        history = idiomatic.fit(net, model, plan, X, y, hyper).history
    expected = RN.one_step(net, params, X, y, hyper)
    for name in params:
        np.testing.assert_allclose(history[1][name], expected[name], rtol=0, atol=1e-15)


@pytest.mark.parametrize("loss,rule,expected_lr,expected_l2", [
    ("half_sse", "batch", "α·k/2", "λ/(n·k)"),
    ("half_sse", "sgd", "α·k/2", "λ/k"),
    ("mse", "batch", "α·s", "λ/2"),
    ("squared_error", "sgd", "α·k", "λ/(2k)"),
    ("bce", "batch", "α·s", "λ/2"),
])
def test_learning_rate_and_l2_mapping(tf_backend, loss, rule, expected_lr, expected_l2):
    from backprop_parity.tf_impl import idiomatic
    n, k, alpha, lam = 4, 3, 0.2, 0.3
    net = Net(sizes=(2, k), activations=(RA.make("sigmoid"),), loss=RLo.make(loss), layout="columns", bias="vectors")
    hyper = Hyper(rule=rule, learning_rate=alpha, grad_scale="1/n", epochs=1, l2=lam)
    p = idiomatic.plan(net, hyper, n)
    s = 1 / n if rule == "batch" else 1.0
    lr = {"α·k/2": alpha * k / 2, "α·s": alpha * s, "α·k": alpha * k}[expected_lr]
    l2 = {"λ/(n·k)": lam / (n * k), "λ/k": lam / k, "λ/2": lam / 2, "λ/(2k)": lam / (2 * k)}[expected_l2]
    assert p.lr == pytest.approx(lr, rel=1e-15) and p.l2 == pytest.approx(l2, rel=1e-15)
    assert "lr =" in p.mapping["learning rate"] and "L2(" in p.mapping["L2"]
