"""Random networks: every activation, loss, bias convention, layout and update rule, JAX vs reference.

The same families as ``test_torch_random.py`` — a seeded grid (every activation × bias × layout,
every loss × bias × layout × rule), L2 on every bias convention, frozen parameters, the
articles' numbering, twenty-five drawn networks and ReLU at exactly 0 — each run on both JAX
styles (jax.grad / jax.vjp with optax, and Keras 3 on JAX). The networks are built in code
and computed once per session (``helpers.session_runs``: the path of ``backprop-parity check``,
``reports/run.py``, dealt out to jax worker processes side by side); every reference key must
hold at the float64 bound of ``reports/tolerances.py`` and every key must be compared or carry a
reason.

The drawn networks come from a seeded NumPy generator rather than hypothesis: the worker
computes every network before the first test looks at one, so the examples must exist up front
(the same 25 every run, like hypothesis' ``derandomize=True`` in the torch file).
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from backprop_parity.reference import activations as RA
from backprop_parity.reference import losses as RLS
from backprop_parity.reference.case import Case
from backprop_parity.reference.spec import Hyper, Net
from backprop_parity.reports import run as R
from backprop_parity.reports.compare import Comparison

from . import helpers
from .test_jax_parity import BACKEND, STYLES, assert_row, describe, require_jax

pytestmark = pytest.mark.cost(105)     # its tests' seconds, summed (conftest: the costliest files start first)

ACTS = [("identity", {}), ("sigmoid", {}), ("tanh", {}), ("relu", {}), ("leaky_relu", {"slope": 0.1}),
        ("leaky_relu", {}), ("elu", {}), ("elu", {"alpha": 0.5})]
LOSSES = ["half_sse", "mse", "squared_error", "bce"]
BIASES = ["trick", "vectors", "none"]
LAYOUTS = ["rows", "columns"]


def make_case(seed, sizes, acts, loss, bias, layout, rule="batch", grad_scale="1/n", epochs=2, n=4,
              l2=0.0, l2_bias=True, frozen=(), first_layer=1, first_weight=1, probe=True, zero_first=False,
              batch_size=0, shuffle_seed=None):
    """A reference.case.Case built in code (no file), with random parameters and data."""
    rng = np.random.default_rng(seed)
    activations = [RA.make(name, **params) for name, params in acts]
    if loss == "bce":                                  # bce needs ŷ in (0, 1)
        activations[-1] = RA.make("sigmoid")
    activations = helpers.class_output(activations, loss, layout)
    net = Net(sizes=tuple(sizes), activations=tuple(activations), loss=RLS.make(loss), layout=layout, bias=bias,
              first_layer=first_layer, first_weight=first_weight, frozen=frozenset(frozen))
    params = {k: 0.7 * rng.standard_normal(s) for k, s in net.param_shapes().items()}
    shape_x = (n, sizes[0]) if layout == "rows" else (sizes[0], n)
    shape_y = (n, sizes[-1]) if layout == "rows" else (sizes[-1], n)
    X = rng.standard_normal(shape_x)
    if zero_first:                                     # an all-zero first example: Z = 0 exactly without a bias
        X[0] = 0.0
    y = (rng.integers(0, 2, shape_y).astype(float) if loss == "bce" else helpers.one_hot(rng, shape_y, layout)
         if loss == "cce" else np.zeros(shape_y) if loss in RLS.NO_TARGET else rng.standard_normal(shape_y))
    hyper = Hyper(rule=rule, learning_rate=0.3, grad_scale=grad_scale, epochs=epochs, l2=l2, l2_bias=l2_bias,
                  probe=(net.W_name(0), (0, 0)) if probe else None, batch_size=batch_size, shuffle_seed=shuffle_seed)
    return Case(name=f"random-{seed}", path=Path(f"random-{seed}.toml"), title="random", description="",
                article="courtial", article_title="random", sections=[], net=net, params=params, X=X, y=y,
                arrays={}, inputs={"probe": rng.standard_normal(shape_x)}, hyper=hyper, quantities=[], remarks=[])


# --------------------------------------------------------------------------- every network, up front

GRID_ACT = [(i, a, b, lay) for i, (a, b, lay) in enumerate(itertools.product(ACTS, BIASES, LAYOUTS))]
GRID_LOSS = [(i, *p) for i, p in enumerate(itertools.product(LOSSES, BIASES, LAYOUTS, ["batch", "sgd"]))]
L2_GRID = list(itertools.product(BIASES, LAYOUTS, [True, False]))
FROZEN = list(itertools.product(["batch", "sgd"], BIASES))


def drawn(k: int) -> dict:
    """The k-th drawn network (sizes 1–4 per layer, 1–3 layers, any loss, rule, scale, L2, 1–5 examples)."""
    rng = np.random.default_rng(7000 + k)
    sizes = [int(s) for s in rng.integers(1, 5, int(rng.integers(2, 5)))]
    act_index = [int(i) for i in rng.integers(0, len(ACTS), 3)]
    return dict(seed=int(rng.integers(0, 10_000)), sizes=sizes,
                acts=[ACTS[act_index[l % 3]] for l in range(len(sizes) - 1)],
                loss=LOSSES[int(rng.integers(0, 4))], bias=BIASES[int(rng.integers(0, 3))],
                layout=LAYOUTS[int(rng.integers(0, 2))], rule=("batch", "sgd")[int(rng.integers(0, 2))],
                grad_scale=("1/n", "1")[int(rng.integers(0, 2))], l2=(0.0, 0.05)[int(rng.integers(0, 2))],
                l2_bias=bool(rng.integers(0, 2)), n=int(rng.integers(1, 6)))


DRAWN = [drawn(k) for k in range(25)]


def all_cases() -> dict:
    """{test id: case} of every network below (built once; ids are stable)."""
    out = {}
    for i, act, bias, layout in GRID_ACT:
        out[f"act-{i}"] = make_case(100 + i, (3, 4, 2), [act, act], LOSSES[i % len(LOSSES)], bias, layout)
    for i, loss, bias, layout, rule in GRID_LOSS:
        out[f"loss-{i}"] = make_case(200 + i, (2, 3, 3, 2), [ACTS[i % len(ACTS)], ("tanh", {}), ("sigmoid", {})],
                                     loss, bias, layout, rule=rule, grad_scale="1/n" if i % 2 else "1", epochs=3)
    for bias, layout, l2_bias in L2_GRID:
        out[f"l2-{bias}-{layout}-{l2_bias}"] = make_case(300, (3, 3, 2), [("tanh", {}), ("sigmoid", {})], "half_sse",
                                                         bias, layout, l2=0.2, l2_bias=l2_bias, epochs=3)
    for rule, bias in FROZEN:
        out[f"frozen-{rule}-{bias}"] = make_case(400, (2, 3, 1), [("tanh", {}), ("identity", {})], "mse", bias, "rows",
                                                 rule=rule, l2=0.1,
                                                 frozen=("W1",) + (("b2",) if bias == "vectors" else ()))
    out["numbering-courtial"] = make_case(500, (2, 2, 2, 1), [("tanh", {})] * 3, "half_sse", "trick", "rows",
                                          first_layer=2)
    out["numbering-offset"] = make_case(501, (2, 2, 1), [("relu", {}), ("sigmoid", {})], "bce", "vectors",
                                        "columns", first_layer=0, first_weight=3)
    for k, d in enumerate(DRAWN):
        d = dict(d)
        out[f"drawn-{k}"] = make_case(d.pop("seed"), d.pop("sizes"), d.pop("acts"), d.pop("loss"), d.pop("bias"),
                                      d.pop("layout"), **d)
    for i, *p in helpers.CONVENTION_GRID:
        out[f"convention-{i}"] = helpers.convention_case(make_case, i, *p)
    for i, loss, bias, layout in helpers.SOFTMAX_GRID:
        out[f"softmax-{i}"] = make_case(700 + i, (3, 4, 3), [("tanh", {}), ("softmax", {})], loss, bias, layout,
                                        rule=("batch", "sgd")[i % 2])
    for i, loss, bias, layout, n, batch_size, grad_scale in helpers.MINIBATCH_GRID:
        out[f"minibatch-{i}"] = make_case(800 + i, (3, 4, 3), [("tanh", {}), ("sigmoid", {})], loss, bias, layout,
                                          rule="minibatch", grad_scale=grad_scale, epochs=3, n=n,
                                          batch_size=batch_size, shuffle_seed=i)
    out["relu-zero-default"] = make_case(600, (2, 2, 1), [("relu", {}), ("identity", {})], "half_sse", "none",
                                         "rows", probe=False, zero_first=True)
    out["relu-zero-at-zero-1"] = make_case(601, (2, 2, 1), [("relu", {"at_zero": 1}), ("identity", {})], "half_sse",
                                           "none", "rows", probe=False, zero_first=True)
    return out


CASES = all_cases()
IDS = list(CASES)


def computed():
    """(cases, runs) of every network above, computed once per session."""
    return helpers.session_runs("jax random networks", lambda: [CASES[i] for i in IDS], [BACKEND])


@pytest.fixture(scope="session")
def random_runs():
    cases, runs = computed()
    require_jax(runs)
    return cases, runs


@lru_cache(maxsize=None)
def result(test_id: str):
    """(traces, rows) of one network."""
    cases, runs = computed()
    i = IDS.index(test_id)
    _, traces, rows = R.case_result(cases[i], i, runs, [BACKEND])
    return traces, rows


# g'(0) as JAX gives it (measured in test_jax_units.test_derivatives_at_exactly_zero): jax.nn.relu's custom
# JVP 0, jax.nn.leaky_relu's where(x >= 0, …) 1, jax.nn.elu's expm1 branch alpha — Keras' layers call the same.
def jax_at_zero(act) -> float | None:
    return {"relu": 0.0, "leaky_relu": 1.0, "elu": act.params.get("alpha")}.get(act.name)


def with_jax_at_zero(case):
    """The case with every layer's g'(0) set to JAX's: what JAX computes where Z is exactly 0."""
    import dataclasses
    acts = tuple(RA.make(a.name, **{**a.params, "at_zero": jax_at_zero(a)}) if jax_at_zero(a) is not None else a
                 for a in case.net.activations)
    return dataclasses.replace(case, net=dataclasses.replace(case.net, activations=acts))


def at_zero_explains(test_id: str, traces, failed) -> bool:
    """A failed reference row is JAX's g'(0) convention, and nothing else, when: the mapping of every style
    says Z is exactly 0 somewhere in a layer whose case-file g'(0) differs from JAX's, and the style's numbers
    hold at the float64 bound against the reference run with JAX's g'(0)."""
    from backprop_parity.reports import backends as B
    from backprop_parity.reports.compare import reference_comparisons
    case = CASES[test_id]
    if not all(re.search(r"[1-9]\d* entries", t.mapping.get("g'(0)", "")) for t in traces):
        return False
    eff = with_jax_at_zero(case)
    ref = B.run(eff, "numpy")[0]
    for t in traces:
        for r in reference_comparisons(eff, t, ref):
            assert_row(r)
    return all(r.source == "reference" for r in failed)


def check(test_id: str, convention=lambda rows, traces: rows) -> list:
    """Every row (reference keys, gradient check) of both jax styles holds; every key compared or explained.
    Where Z is exactly 0 in a layer whose g'(0) convention JAX does not share, the rows hold against the
    reference run with JAX's convention instead (and the mapping must say so)."""
    traces, rows = result(test_id)
    mine = [r for r in rows if r.backend == BACKEND]
    assert {r.style for r in mine} == set(STYLES), [describe(r) for r in mine if r.quantity == "*"]
    mine = convention(mine, [t for t in traces if getattr(t, "backend", None) == BACKEND])
    failed = [r for r in mine if r.passed is False]
    if not (failed and at_zero_explains(test_id, [t for t in traces if getattr(t, "backend", None) == BACKEND],
                                        failed)):
        for r in mine:
            assert_row(r)
    cases, runs = computed()
    ref = next(t for t in runs["numpy"].traces[IDS.index(test_id)] if not isinstance(t, Comparison))
    for t in traces:
        assert not isinstance(t, Comparison), describe(t)
        assert set(ref.values) <= set(t.values) | set(t.missing)
    assert any(r.source == "gradcheck" and r.passed for r in mine)
    return mine


def traces_of(test_id: str) -> list:
    return [t for t in result(test_id)[0] if getattr(t, "backend", None) == BACKEND]


# --------------------------------------------------------------------------- the grid

@pytest.mark.parametrize("i,act,bias,layout", GRID_ACT,
                         ids=[f"{a[0]}{a[1] or ''}-{b}-{lay}" for _, a, b, lay in GRID_ACT])
def test_every_activation_bias_layout(random_runs, i, act, bias, layout):
    check(f"act-{i}")


@pytest.mark.parametrize("i,loss,bias,layout,n,batch_size,grad_scale", helpers.MINIBATCH_GRID,
                         ids=[f"{p[1]}-{p[2]}-{p[3]}-{p[4]}by{p[5]}" for p in helpers.MINIBATCH_GRID])
def test_minibatches_in_a_stored_order(random_runs, i, loss, bias, layout, n, batch_size, grad_scale):
    """Slices of each epoch's indices (grad) and model.fit(shuffle=False) on the data pre-permuted per epoch
    (Keras): W after the first epoch and after the last, every cost, the order itself."""
    rows = check(f"minibatch-{i}", lambda rows, traces: helpers.renormalised_dJ_dyhat(CASES[f"minibatch-{i}"], rows,
                                                                                    traces, {"keras"}))
    assert any(r.quantity.startswith("W_final") and r.passed for r in rows)


@pytest.mark.parametrize("i,loss,bias,layout,rule,l2,l2_bias", helpers.CONVENTION_GRID, ids=helpers.CONVENTION_IDS)
def test_shared_bias_and_output_sum(random_runs, i, loss, bias, layout, rule, l2, l2_bias):
    """A bias shared by a layer (a (1, 1) array under jax.vjp; a Dense whose bias is built (1,)) and J = jnp.sum(ŷ)
    (an OutputSum keras.losses.Loss), on both styles, every layout; ∂J/∂b held wherever there is a b."""
    helpers.assert_bias_gradients(check(f"convention-{i}"), bias)


@pytest.mark.parametrize("i,loss,bias,layout", helpers.SOFTMAX_GRID, ids=["-".join(p[1:]) for p in helpers.SOFTMAX_GRID])
def test_softmax_output(random_runs, i, loss, bias, layout):
    """A softmax output on cce and on mse, every bias convention and layout: jax.vmap(jax.jacrev(…)) for g'(Z);
    Keras' CategoricalCrossentropy renormalises ŷ, so its ∂J/∂ŷ is (1 − y/ŷ)/n — asserted, nothing else moves."""
    check(f"softmax-{i}", lambda rows, traces: helpers.renormalised_dJ_dyhat(CASES[f"softmax-{i}"], rows, traces,
                                                                             {"keras"}))


@pytest.mark.parametrize("i,loss,bias,layout,rule", GRID_LOSS, ids=["-".join(p[1:]) for p in GRID_LOSS])
def test_every_loss_bias_layout_rule(random_runs, i, loss, bias, layout, rule):
    check(f"loss-{i}")


@pytest.mark.parametrize("bias,layout,l2_bias", L2_GRID, ids=[f"{b}-{lay}-l2_bias={x}" for b, lay, x in L2_GRID])
def test_l2_every_bias_convention(random_runs, bias, layout, l2_bias):
    """J += ½λΣ(M⊙W)² differentiated by jax.grad (grad), kernel/bias regularizers L2(λ/2m) (keras): the
    reference's J, ∂J/∂W and update, with and without the biases."""
    check(f"l2-{bias}-{layout}-{l2_bias}")


@pytest.mark.parametrize("rule,bias", FROZEN)
def test_frozen_parameters(random_runs, rule, bias):
    """Frozen: never updated (optax.set_to_zero / variable.trainable = False), gradient still reported
    (and still carrying λW)."""
    case = CASES[f"frozen-{rule}-{bias}"]
    check(f"frozen-{rule}-{bias}")
    for t in traces_of(f"frozen-{rule}-{bias}"):
        assert np.array_equal(t.values["W_final[1]"], case.params["W1"]), t.style
        assert np.any(t.values["grad.W[1]"] != 0)
        if bias == "vectors":
            assert np.array_equal(t.values["b_final[2]"], case.params["b2"])
        assert "frozen" in t.mapping["update"] or "frozen" in t.mapping


def test_article_numbering(random_runs):
    """Courtial's numbering (first_layer 2, first_weight 1) and another offset."""
    check("numbering-courtial")
    check("numbering-offset")
    for t in traces_of("numbering-offset"):
        assert "W[3]" in t.values and "delta[0]" in t.values and "grad.W[4]" in t.values


@pytest.mark.parametrize("k", range(len(DRAWN)), ids=[
    f"{d['loss']}-{d['bias']}-{d['layout']}-{d['rule']}-{'x'.join(map(str, d['sizes']))}" for d in DRAWN])
def test_random_networks(random_runs, k):
    check(f"drawn-{k}")


def test_drawn_networks_cover_the_options():
    for field, values in (("loss", LOSSES), ("bias", BIASES), ("layout", LAYOUTS), ("rule", ("batch", "sgd")),
                          ("l2", (0.0, 0.05))):
        assert {d[field] for d in DRAWN} == set(values), field


# --------------------------------------------------------------------------- exactly at zero

def test_relu_at_exact_zero_matches_reference_default(random_runs):
    """Z = 0 exactly (an all-zero example, no bias): relu'(0) = 0 in JAX (jax.nn.relu's custom JVP, and
    Keras' ReLU layer, which calls it) and in the reference's default."""
    rows = check("relu-zero-default")
    assert any(r.quantity == "deriv[1]" and r.passed for r in rows)
    for t in traces_of("relu-zero-default"):
        assert np.array_equal(t.values["Z[1]"][0], [0.0, 0.0])
        assert np.array_equal(t.values["deriv[1]"][0], [0.0, 0.0])


def test_at_zero_convention_jax_cannot_honour_is_stated(random_runs):
    """The case asks relu'(0) = 1 (the deeplearning.ai notes): JAX gives 0. Where Z is exactly 0 the
    deriv/delta rows differ from the reference (a convention, not a bug), and the mapping says so."""
    cases, runs = computed()
    ref = next(t for t in runs["numpy"].traces[IDS.index("relu-zero-at-zero-1")] if not isinstance(t, Comparison))
    assert np.array_equal(ref.values["deriv[1]"][0], [1.0, 1.0])
    for t in traces_of("relu-zero-at-zero-1"):
        assert "g'(0)" in t.mapping and "gives 0" in t.mapping["g'(0)"], t.mapping.get("g'(0)")
        assert "2 entries" in t.mapping["g'(0)"]
        assert np.array_equal(t.values["deriv[1]"][0], [0.0, 0.0])
    failed = [r for r in result("relu-zero-at-zero-1")[1] if r.backend == BACKEND and r.passed is False]
    # the zero example's W-gradient is x·δ = 0, but its X-gradient δ·Wᵀ carries the differing δ
    assert {r.quantity for r in failed} == {"deriv[1]", "delta[1]", "dX"}
    assert at_zero_explains("relu-zero-at-zero-1", traces_of("relu-zero-at-zero-1"), failed)


def test_every_network_was_computed_by_both_styles(random_runs):
    cases, runs = computed()
    assert len(cases) == len(IDS) >= 140
    for i, per_case in enumerate(runs[BACKEND].traces):
        styles = sorted(getattr(t, "style", "?") for t in per_case)
        assert styles == sorted(STYLES), (IDS[i], [describe(t) for t in per_case if isinstance(t, Comparison)])
