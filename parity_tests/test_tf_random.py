"""Random networks on TensorFlow: the torch grid (every activation, loss, bias convention, layout, rule,
L2 and frozen parameters) run on both TF styles, against the reference.

The networks are ``test_torch_random.make_case``'s, with the same seeds. TF keeps a leaky slope as a
float32 op attribute, so — exactly as ``check`` does — the reference is run on TF's effective case
(``tf_impl.backend.effective_case``); every reference key must then hold at the float64 bound of
reports/tolerances.py, and every key must be compared or carry a reason.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from backprop_parity.reports import backends as B
from backprop_parity.reports.compare import compare_case

from .helpers import (CONVENTION_GRID, CONVENTION_IDS, MINIBATCH_GRID, SOFTMAX_GRID, assert_bias_gradients, assert_row,
                      convention_case, describe, renormalised_dJ_dyhat)
from .test_torch_random import ACTS, BIASES, LAYOUTS, LOSSES, make_case, minibatch_case

pytestmark = pytest.mark.cost(173)     # its tests' seconds, summed (conftest: the costliest files start first)


def check(case, traces=None):
    """Every row (reference keys, gradient check) of every TF style (``traces``: of ``B.run(case, "tf")``, run
    here when not given) holds; returns the rows."""
    tf_backend = B.load("tf")
    found = tf_backend.effective_case(case)
    ref = B.run(found[0] if isinstance(found, tuple) else found, "numpy")[0]
    traces = B.run(case, "tf") if traces is None else traces
    rows = compare_case(case, traces, ref)
    assert {r.style for r in rows} == set(B.STYLE_NAMES["tf"]), [describe(r) for r in rows if r.quantity == "*"]
    assert sum(r.passed is True for r in rows) > 0
    for r in rows:
        assert_row(r)
    for t in traces:
        assert set(ref.values) <= set(t.values) | set(t.missing)
    return rows


GRID_ACT = [(i, a, b, lay) for i, (a, b, lay) in enumerate(itertools.product(ACTS, BIASES, LAYOUTS))]


@pytest.mark.parametrize("i,act,bias,layout", GRID_ACT,
                         ids=[f"{a[0]}{a[1] or ''}-{b}-{lay}" for _, a, b, lay in GRID_ACT])
def test_every_activation_bias_layout(tf_backend, i, act, bias, layout):
    loss = LOSSES[i % len(LOSSES)]
    check(make_case(100 + i, (3, 4, 2), [act, act], loss, bias, layout))


@pytest.mark.parametrize("i,loss,bias,layout,rule,l2,l2_bias", CONVENTION_GRID, ids=CONVENTION_IDS)
def test_shared_bias_and_output_sum(tf_backend, i, loss, bias, layout, rule, l2, l2_bias):
    """A bias shared by a layer (a Dense whose bias is built (1,), the tape summing over the units) and J = Σŷ
    (an OutputSum keras.losses.Loss; tf.reduce_sum on the tape), on both styles, every layout."""
    rows = check(convention_case(make_case, i, loss, bias, layout, rule, l2, l2_bias))
    assert_bias_gradients(rows, bias)


@pytest.mark.parametrize("i,loss,bias,layout", SOFTMAX_GRID, ids=["-".join(p[1:]) for p in SOFTMAX_GRID])
def test_softmax_output(tf_backend, i, loss, bias, layout):
    """A softmax output on cce and on mse, every bias convention and layout: the tape's batch_jacobian for g'(Z);
    Keras' CategoricalCrossentropy renormalises ŷ, so its ∂J/∂ŷ is (1 − y/ŷ)/n — asserted, and nothing else
    moves (softmax's Jacobian sends the added constant to 0)."""
    rows = check_with_keras_renormalising(make_case(700 + i, (3, 4, 3), [("tanh", {}), ("softmax", {})], loss, bias,
                                                    layout, rule=("batch", "sgd")[i % 2]))
    assert sum(r.passed is True for r in rows) > 40


def check_with_keras_renormalising(case) -> list:
    """check(), with Keras' ∂J/∂ŷ of a cce case asserted as (1 − y/ŷ)/n first (helpers.renormalised_dJ_dyhat)."""
    ref = B.run(case, "numpy")[0]
    traces = B.run(case, "tf")
    rows = compare_case(case, traces, ref)
    assert {r.style for r in rows} == set(B.STYLE_NAMES["tf"])
    for r in renormalised_dJ_dyhat(case, rows, traces, {"keras"}):
        assert_row(r)
    return rows


@pytest.mark.parametrize("i,loss,bias,layout,n,batch_size,grad_scale", MINIBATCH_GRID,
                         ids=[f"{p[1]}-{p[2]}-{p[3]}-{p[4]}by{p[5]}" for p in MINIBATCH_GRID])
def test_minibatches_in_a_stored_order(tf_backend, i, loss, bias, layout, n, batch_size, grad_scale):
    """tf.gather of each batch's indices (tape) and fit on the data pre-permuted per epoch (Keras)."""
    rows = check_with_keras_renormalising(minibatch_case(i, loss, bias, layout, n, batch_size, grad_scale))
    assert any(r.quantity.startswith("W_final") and r.passed for r in rows)


GRID_LOSS = [(i, *p) for i, p in enumerate(itertools.product(LOSSES, BIASES, LAYOUTS, ["batch", "sgd"]))]


@pytest.mark.parametrize("i,loss,bias,layout,rule", GRID_LOSS, ids=["-".join(p[1:]) for p in GRID_LOSS])
def test_every_loss_bias_layout_rule(tf_backend, i, loss, bias, layout, rule):
    acts = [ACTS[i % len(ACTS)], ("tanh", {}), ("sigmoid", {})]
    check(make_case(200 + i, (2, 3, 3, 2), acts, loss, bias, layout, rule=rule,
                    grad_scale="1/n" if i % 2 else "1", epochs=3))


L2_GRID = list(itertools.product(BIASES, LAYOUTS, [True, False]))


@pytest.mark.parametrize("bias,layout,l2_bias", L2_GRID, ids=[f"{b}-{lay}-l2_bias={x}" for b, lay, x in L2_GRID])
def test_l2_every_bias_convention(tf_backend, bias, layout, l2_bias):
    check(make_case(300, (3, 3, 2), [("tanh", {}), ("sigmoid", {})], "half_sse", bias, layout,
                    l2=0.2, l2_bias=l2_bias, epochs=3))


@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("rule", ["batch", "sgd"])
def test_frozen_parameters(tf_backend, bias, rule):
    """Frozen: never updated, gradient still reported (and still carrying λW)."""
    case = make_case(400, (2, 3, 1), [("tanh", {}), ("identity", {})], "mse", bias, "rows", rule=rule,
                     l2=0.1, frozen=("W1",) + (("b2",) if bias == "vectors" else ()))
    traces = B.run(case, "tf")
    check(case, traces)
    for t in traces:
        assert np.array_equal(t.values["W_final[1]"], case.params["W1"])
        assert np.any(t.values["grad.W[1]"] != 0)


def test_article_numbering(tf_backend):
    """Courtial's numbering (first_layer 2, first_weight 1) and another offset."""
    check(make_case(500, (2, 2, 2, 1), [("tanh", {})] * 3, "half_sse", "trick", "rows", first_layer=2))
    check(make_case(501, (2, 2, 1), [("relu", {}), ("sigmoid", {})], "bce", "vectors", "columns",
                    first_layer=0, first_weight=3))
