"""Random networks: every activation, loss, bias convention, layout and update rule, torch vs reference.

A seeded grid (every activation × bias × layout, every loss × bias × layout × rule) plus
hypothesis-drawn networks (derandomized: the same examples every run). Each network goes
through ``backprop_parity.reports.backends.run`` and ``backprop_parity.reports.compare.compare_case`` — the same path as
``backprop-parity check`` — and every reference key must hold at the float64 bound of
reports/tolerances.py; every key must be compared or carry a reason.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_parity.reference import activations as RA
from backprop_parity.reference import losses as RLS
from backprop_parity.reference.case import Case
from backprop_parity.reference.spec import Hyper, Net
from backprop_parity.reports import backends as B
from backprop_parity.reports.compare import compare_case

from .helpers import (CONVENTION_GRID, CONVENTION_IDS, MINIBATCH_GRID, SOFTMAX_GRID, assert_bias_gradients, assert_row,
                      class_output, convention_case, describe, one_hot)

pytestmark = pytest.mark.cost(30)     # its tests' seconds, summed (conftest: the costliest files start first)

ACTS = [("identity", {}), ("sigmoid", {}), ("tanh", {}), ("relu", {}), ("leaky_relu", {"slope": 0.1}),
        ("leaky_relu", {}), ("elu", {}), ("elu", {"alpha": 0.5})]
LOSSES = ["half_sse", "mse", "squared_error", "bce"]
BIASES = ["trick", "vectors", "none"]
LAYOUTS = ["rows", "columns"]


def make_case(seed, sizes, acts, loss, bias, layout, rule="batch", grad_scale="1/n", epochs=2, n=4,
              l2=0.0, l2_bias=True, frozen=(), first_layer=1, first_weight=1, probe=True, dtype=np.float64,
              batch_size=0, shuffle_seed=None):
    """A reference.case.Case built in code (no file), with random parameters and data."""
    rng = np.random.default_rng(seed)
    activations = [RA.make(name, **params) for name, params in acts]
    if loss == "bce":                                  # bce needs ŷ in (0, 1)
        activations[-1] = RA.make("sigmoid")
    activations = class_output(activations, loss, layout)
    net = Net(sizes=tuple(sizes), activations=tuple(activations), loss=RLS.make(loss), layout=layout, bias=bias,
              first_layer=first_layer, first_weight=first_weight)
    net = Net(**{**net.__dict__, "frozen": frozenset(frozen)})
    params = {k: 0.7 * rng.standard_normal(s) for k, s in net.param_shapes().items()}
    shape_x = (n, sizes[0]) if layout == "rows" else (sizes[0], n)
    shape_y = (n, sizes[-1]) if layout == "rows" else (sizes[-1], n)
    X = rng.standard_normal(shape_x)
    y = (rng.integers(0, 2, shape_y).astype(float) if loss == "bce" else one_hot(rng, shape_y, layout)
         if loss == "cce" else np.zeros(shape_y) if loss in RLS.NO_TARGET else rng.standard_normal(shape_y))
    first = net.W_name(0)
    hyper = Hyper(rule=rule, learning_rate=0.3, grad_scale=grad_scale, epochs=epochs, l2=l2, l2_bias=l2_bias,
                  probe=(first, (0, 0)) if probe else None, batch_size=batch_size, shuffle_seed=shuffle_seed)
    case = Case(name=f"random-{seed}", path=Path(f"random-{seed}.toml"), title="random", description="",
                article="courtial", article_title="random", sections=[], net=net, params=params, X=X, y=y,
                arrays={}, inputs={"probe": rng.standard_normal(shape_x)}, hyper=hyper, quantities=[], remarks=[])
    return case.cast(dtype) if dtype != np.float64 else case


def check(case):
    """Every row (reference keys, gradient check) of both torch styles holds; returns the rows."""
    ref = B.run(case, "numpy")[0]
    traces = B.run(case, "torch")
    rows = compare_case(case, traces, ref)
    assert {r.style for r in rows} == set(B.STYLE_NAMES["torch"]), [describe(r) for r in rows if r.quantity == "*"]
    for r in rows:
        assert_row(r)
    for t in traces:
        assert set(ref.values) <= set(t.values) | set(t.missing)
    return rows


GRID_ACT = [(i, a, b, lay) for i, (a, b, lay) in enumerate(itertools.product(ACTS, BIASES, LAYOUTS))]


@pytest.mark.parametrize("i,act,bias,layout", GRID_ACT,
                         ids=[f"{a[0]}{a[1] or ''}-{b}-{lay}" for _, a, b, lay in GRID_ACT])
def test_every_activation_bias_layout(torch_backend, i, act, bias, layout):
    loss = LOSSES[i % len(LOSSES)]
    check(make_case(100 + i, (3, 4, 2), [act, act], loss, bias, layout))


@pytest.mark.parametrize("i,loss,bias,layout", SOFTMAX_GRID, ids=["-".join(p[1:]) for p in SOFTMAX_GRID])
def test_softmax_output(torch_backend, i, loss, bias, layout):
    """A softmax output on cce (δ(L) = (ŷ − y)/n by autograd through NLLLoss of log ŷ) and on mse (through its
    Jacobian), every bias convention and layout; g'(Z) is each example's Jacobian (torch.func)."""
    check(make_case(700 + i, (3, 4, 3), [("tanh", {}), ("softmax", {})], loss, bias, layout,
                    rule=("batch", "sgd")[i % 2]))


def minibatch_case(i, loss, bias, layout, n, batch_size, grad_scale):
    """A random network trained on minibatches in a seeded order, 3 epochs (helpers.MINIBATCH_GRID)."""
    return make_case(800 + i, (3, 4, 3), [("tanh", {}), ("sigmoid", {})], loss, bias, layout, rule="minibatch",
                     grad_scale=grad_scale, epochs=3, n=n, batch_size=batch_size, shuffle_seed=i)


@pytest.mark.parametrize("i,loss,bias,layout,n,batch_size,grad_scale", MINIBATCH_GRID,
                         ids=[f"{p[1]}-{p[2]}-{p[3]}-{p[4]}by{p[5]}" for p in MINIBATCH_GRID])
def test_minibatches_in_a_stored_order(torch_backend, i, loss, bias, layout, n, batch_size, grad_scale):
    """Each epoch's batches from a DataLoader whose sampler is the stored order (modules) and from index slices
    (autograd): W after the first epoch and after the last, every cost, the order itself."""
    rows = check(minibatch_case(i, loss, bias, layout, n, batch_size, grad_scale))
    assert any(r.quantity.startswith("W_final") and r.passed for r in rows)


@pytest.mark.parametrize("i,loss,bias,layout,rule,l2,l2_bias", CONVENTION_GRID, ids=CONVENTION_IDS)
def test_shared_bias_and_output_sum(torch_backend, i, loss, bias, layout, rule, l2, l2_bias):
    """A bias shared by a layer (nn.Linear's bias a Parameter of shape (1,), autograd summing over the units) and
    J = ŷ.sum(), on both styles, every layout; ∂J/∂b held wherever there is a b."""
    rows = check(convention_case(make_case, i, loss, bias, layout, rule, l2, l2_bias))
    assert_bias_gradients(rows, bias)


GRID_LOSS = [(i, *p) for i, p in enumerate(itertools.product(LOSSES, BIASES, LAYOUTS, ["batch", "sgd"]))]


@pytest.mark.parametrize("i,loss,bias,layout,rule", GRID_LOSS, ids=["-".join(p[1:]) for p in GRID_LOSS])
def test_every_loss_bias_layout_rule(torch_backend, i, loss, bias, layout, rule):
    acts = [ACTS[i % len(ACTS)], ("tanh", {}), ("sigmoid", {})]
    check(make_case(200 + i, (2, 3, 3, 2), acts, loss, bias, layout, rule=rule,
                    grad_scale="1/n" if i % 2 else "1", epochs=3))


L2_GRID = list(itertools.product(BIASES, LAYOUTS, [True, False]))


@pytest.mark.parametrize("bias,layout,l2_bias", L2_GRID, ids=[f"{b}-{lay}-l2_bias={x}" for b, lay, x in L2_GRID])
def test_l2_every_bias_convention(torch_backend, bias, layout, l2_bias):
    """weight_decay groups (and, for the trick without l2_bias, the masked penalty in the graph) give the
    reference's J, ∂J/∂W and update."""
    check(make_case(300, (3, 3, 2), [("tanh", {}), ("sigmoid", {})], "half_sse", bias, layout,
                    l2=0.2, l2_bias=l2_bias, epochs=3))


@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("rule", ["batch", "sgd"])
def test_frozen_parameters(torch_backend, bias, rule):
    """Frozen: never updated, gradient still reported (and still carrying λW)."""
    case = make_case(400, (2, 3, 1), [("tanh", {}), ("identity", {})], "mse", bias, "rows", rule=rule,
                     l2=0.1, frozen=("W1",) + (("b2",) if bias == "vectors" else ()))
    check(case)
    for t in B.run(case, "torch"):
        assert np.array_equal(t.values["W_final[1]"], case.params["W1"])
        assert np.any(t.values["grad.W[1]"] != 0)
        assert "frozen" in t.mapping


def test_article_numbering(torch_backend):
    """Courtial's numbering (first_layer 2, first_weight 1) and another offset."""
    check(make_case(500, (2, 2, 2, 1), [("tanh", {})] * 3, "half_sse", "trick", "rows", first_layer=2))
    check(make_case(501, (2, 2, 1), [("relu", {}), ("sigmoid", {})], "bce", "vectors", "columns",
                    first_layer=0, first_weight=3))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000),
       sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4),
       act_index=st.lists(st.integers(0, len(ACTS) - 1), min_size=3, max_size=3),
       loss=st.sampled_from(LOSSES), bias=st.sampled_from(BIASES), layout=st.sampled_from(LAYOUTS),
       rule=st.sampled_from(["batch", "sgd"]), grad_scale=st.sampled_from(["1/n", "1"]),
       l2=st.sampled_from([0.0, 0.05]), l2_bias=st.booleans(), n=st.integers(1, 5))
def test_random_networks(torch_backend, seed, sizes, act_index, loss, bias, layout, rule, grad_scale, l2, l2_bias, n):
    acts = [ACTS[act_index[l % 3]] for l in range(len(sizes) - 1)]
    check(make_case(seed, sizes, acts, loss, bias, layout, rule=rule, grad_scale=grad_scale, l2=l2,
                    l2_bias=l2_bias, n=n))


# --------------------------------------------------------------------------- exactly at zero

def test_relu_at_exact_zero_matches_reference_default(torch_backend):
    """Z = 0 exactly (an all-zero example, no bias): relu'(0) = 0 in torch and in the reference's default."""
    case = make_case(600, (2, 2, 1), [("relu", {}), ("identity", {})], "half_sse", "none", "rows", probe=False)
    case.X[0] = 0.0
    rows = check(case)
    assert any(r.quantity == "deriv[1]" and r.passed for r in rows)


def test_at_zero_convention_torch_cannot_honour_is_stated(torch_backend):
    """The case asks relu'(0) = 1 (the deeplearning.ai notes): torch gives 0. Where Z is exactly 0 the
    deriv/delta rows differ from the reference (a convention difference, not a bug), and the mapping says so."""
    case = make_case(601, (2, 2, 1), [("relu", {"at_zero": 1}), ("identity", {})], "half_sse", "none", "rows",
                     probe=False)
    case.X[0] = 0.0
    ref = B.run(case, "numpy")[0]
    for t in B.run(case, "torch"):
        assert "g'(0)" in t.mapping and "torch autograd gives 0" in t.mapping["g'(0)"]
        assert "2 entries" in t.mapping["g'(0)"]
        assert np.array_equal(t.values["deriv[1]"][0], [0.0, 0.0])
        assert np.array_equal(ref.values["deriv[1]"][0], [1.0, 1.0])
