"""TensorFlow (GradientTape style and Keras style) against the articles and the NumPy reference.

One helper (parity_tests/helpers.py: the rows ``backprop-parity check`` prints) and
many one-line parametrized cases. Bounds are the project's (reports/tolerances.py):
float64 1e-12 relative to the largest |value|, wider only where the method itself
amplifies rounding (gradient checking: ulp(J)/h; long training: × √updates).
"""

from __future__ import annotations

import dataclasses
import itertools
from functools import lru_cache

import numpy as np
import pytest

from backprop_parity.reference import activations as RA
from backprop_parity.reference import losses as RLo
from backprop_parity.reference import network as RN
from backprop_parity.reference.case import Case
from backprop_parity.reference.spec import Hyper, Net
from backprop_parity.reports import backends as B
from backprop_parity.reports import tolerances
from backprop_parity.reports.compare import gradcheck_comparison, reference_comparisons

from . import helpers as H

pytestmark = pytest.mark.cost(162)     # its tests' seconds, summed (conftest: the costliest files start first)

STYLES = B.STYLE_NAMES["tf"]


def style_rows(case_name: str, style: str, source: str, quantity: str | None = None) -> list:
    """This style's rows of one source (and quantity), plus any row saying the style failed to run."""
    found = [r for r in H.rows(case_name, "tf") if r.style == style and (
        r.quantity == "*" or (r.source == source and quantity in (None, r.quantity)))]
    assert found, f"no {source} row {quantity} for {case_name} on tf/{style}"
    return found


ARTICLE = [(c, q.id, s) for c in H.CASES for q in H.case(c).quantities for s in STYLES]
REFERENCE = [(c, k, s) for c in H.CASES for k in H.reference_trace(c).values for s in STYLES]


# tf.nn.leaky_relu keeps its slope as a float32 op attribute (test_leaky_relu_slope_is_float32): with a
# slope float32 cannot hold (0.01, 0.1) TensorFlow's numbers are the reference's at the float32-rounded
# slope. Such rows are held to that explanation, exactly, instead of being let through.
LEAKY_REL = max(abs(float(np.float32(s)) - s) / s for s in (0.01, 0.1, 0.2, 0.3))


def float32_slopes(case):
    """The case with every leaky_relu slope rounded to float32: what TensorFlow computes with."""
    from backprop_parity.tf_impl.backend import effective_case
    found = effective_case(case)
    return found[0] if isinstance(found, tuple) else found


def inexact_leaky(case) -> bool:
    return case.net is not None and any(a.name == "leaky_relu" and float(np.float32(a.params["slope"])) !=
                                        a.params["slope"] for a in case.net.activations)


@lru_cache(maxsize=None)
def reference_at_float32_slopes(case_name: str):
    case = float32_slopes(H.case(case_name))
    return case, B.run(case, "numpy")[0]


@pytest.mark.parametrize("case_name,qid,style", ARTICLE)
def test_article_quantity(tf_backend, case_name, qid, style):
    for row in style_rows(case_name, style, "article", qid):
        leaky = inexact_leaky(H.case(case_name)) or "leaky" in row.expression
        if row.passed is False and leaky and row.status == "MISMATCH":
            assert row.max_rel_diff <= LEAKY_REL, H.describe(row)      # the float32 slope, nothing else
            continue
        H.assert_row(row)


@pytest.mark.parametrize("case_name,key,style", REFERENCE)
def test_reference_key(tf_backend, case_name, key, style):
    for row in style_rows(case_name, style, "reference", key):
        if row.passed is False and inexact_leaky(H.case(case_name)):
            case32, ref32 = reference_at_float32_slopes(case_name)
            trace = next(t for t in H.traces(case_name, "tf") if getattr(t, "style", None) == style)
            row = next(r for r in reference_comparisons(case32, trace, ref32) if r.quantity == key)
        H.assert_row(row)


@pytest.mark.parametrize("case_name,style", [(c, s) for c in H.CASES for s in STYLES])
def test_every_reference_key_is_produced_or_explained(tf_backend, case_name, style):
    trace = next(t for t in H.traces(case_name, "tf") if getattr(t, "style", None) == style)
    ref = H.reference_trace(case_name)
    unexplained = [k for k in ref.values if k not in trace.values and k not in trace.missing]
    assert not unexplained
    assert all(isinstance(v, str) and v for v in trace.missing.values())
    assert set(trace.values) <= set(ref.values), "keys the reference does not have"


@pytest.mark.parametrize("case_name,style", [(c, s) for c in H.CASES for s in STYLES
                                              if H.case(c).y is not None])
def test_gradcheck(tf_backend, case_name, style):
    for row in style_rows(case_name, style, "gradcheck"):
        H.assert_row(row)


@pytest.mark.parametrize("case_name,style", [(c, s) for c in H.CASES for s in STYLES])
def test_mapping_is_reported(tf_backend, case_name, style):
    trace = next(t for t in H.traces(case_name, "tf") if getattr(t, "style", None) == style)
    if H.case(case_name).net is None:
        return
    assert "oneDNN" in trace.mapping and all(isinstance(v, str) and v for v in trace.mapping.values())
    if style == "keras":
        assert {"loss", "learning rate", "update", "parameters", "dtype", "deltas"} <= set(trace.mapping)


# ---------------------------------------------------------------------------- random networks

# Every activation (leaky_relu with a slope float32 holds exactly: see test_leaky_relu_slope_is_float32),
# every loss, bias convention and layout; rule, L2, frozen parameters and numbering vary with the seed.
ACTS = [RA.make("identity"), RA.make("sigmoid"), RA.make("tanh"), RA.make("relu"),
        RA.make("leaky_relu", slope=0.25), RA.make("elu"), RA.make("elu", alpha=0.7)]


def random_case(seed, layout, bias, loss, rule="batch", l2=0.0, l2_bias=True, frozen=False, epochs=2,
                grad_scale="1/n", acts=None, dtype=np.float64) -> Case:
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    sizes = tuple(int(s) for s in rng.integers(1, 5, depth + 1))
    acts = list(acts) if acts is not None else [ACTS[int(i)] for i in rng.integers(0, len(ACTS), depth)]
    if loss == "bce":
        acts[-1] = RA.make("sigmoid")
    acts = H.class_output(acts[:depth], loss, layout)
    net = Net(sizes=sizes, activations=tuple(acts[:depth]), loss=RLo.make(loss), layout=layout, bias=bias,
              first_layer=int(rng.integers(1, 3)), first_weight=int(rng.integers(0, 3)))
    params = {k: 0.7 * rng.standard_normal(s) for k, s in net.param_shapes().items()}
    net = dataclasses.replace(net, frozen=frozenset(list(params)[:1]) if frozen else frozenset())
    n = int(rng.integers(1, 6))
    X = rng.standard_normal((n, sizes[0]))
    y = (rng.uniform(0.05, 0.95, (n, sizes[-1])) if loss == "bce" else H.one_hot(rng, (n, sizes[-1]), "rows")
         if loss == "cce" else rng.standard_normal((n, sizes[-1])))
    if layout == "columns":
        X, y = X.T, y.T
    hyper = Hyper(rule=rule, learning_rate=0.05, grad_scale=grad_scale, epochs=epochs, l2=l2, l2_bias=l2_bias,
                  probe=(list(params)[0], (0, 0)))
    case = Case(name=f"random-{seed}", path="<random>", title="", description="", article="user",
                article_title="", sections=[], net=net, params=params, X=X, y=y, arrays={},
                inputs={"first": X[:1] if layout == "rows" else X[:, :1]}, hyper=hyper, quantities=[], remarks=[])
    return case.cast(dtype) if dtype != np.float64 else case


def _grid(losses, start=0):
    return [dict(seed=i, layout=layout, bias=bias, loss=loss, rule=("sgd", "batch")[i % 2], l2=(0.0, 0.3)[(i // 2) % 2],
                 l2_bias=bool(i % 3), frozen=i % 5 == 0, grad_scale=("1/n", "1")[(i // 3) % 2])
            for i, (layout, bias, loss) in enumerate(itertools.product(("rows", "columns"), ("trick", "vectors", "none"),
                                                                       losses), start)]


GRID = _grid(("half_sse", "mse", "squared_error", "bce"))
GRID += _grid(("cce",), len(GRID))          # the classifiers after, so that the networks above keep their seeds


def random_rows(case) -> tuple[list, list]:
    """(rows, traces): every TF style run once on ``case``, its reference keys and gradient check compared."""
    ref = B.run(case, "numpy")[0]
    traces = [t for t in B.run(case, "tf") if t.style in STYLES]
    rows = []
    for trace in traces:
        assert hasattr(trace, "values"), trace.reason
        rows += reference_comparisons(case, trace, ref) + [gradcheck_comparison(case, trace)]
    return rows, traces


@pytest.mark.parametrize("spec", GRID, ids=lambda s: f"{s['layout']}-{s['bias']}-{s['loss']}-{s['rule']}"
                                                     f"-l2={s['l2']:g}-seed{s['seed']}")
def test_random_network(tf_backend, spec):
    case = random_case(**spec)
    rows, traces = random_rows(case)
    if spec["loss"] == "cce":                                # Keras' ∂J/∂ŷ after its ŷ/Σŷ: asserted, then set aside
        rows = H.renormalised_dJ_dyhat(case, rows, traces, {"keras"})
    failed = [H.describe(r) for r in rows if r.passed is False]
    assert not failed, "\n".join(failed[:10])
    assert sum(r.passed is True for r in rows) > 40


def test_random_networks_cover_every_activation():
    used = {a.name for spec in GRID for a in random_case(**spec).net.activations}
    assert used == set(RA.FUNCTIONS)


# ---------------------------------------------------------------------------- training, epoch by epoch

@pytest.mark.parametrize("rule", ["batch", "sgd"])
def test_training_matches_epoch_by_epoch(tf_backend, rule):
    from backprop_parity.tf_impl import idiomatic, network
    from backprop_parity.tf_impl import floatx
    case = random_case(7, "rows", "vectors", "half_sse", rule=rule, l2=0.2, frozen=True, epochs=8)
    net, hyper = case.net, case.hyper
    ref = RN.train(net, case.params, case.X, case.y, hyper, every_epoch=True)
    ref_history, ref_costs = ref.history, ref.costs
    tape = network.train(net, case.params, case.X, case.y, hyper, every_epoch=True)
    history, costs = tape.history, tape.costs
    with floatx(net.dtype):
        p = idiomatic.plan(net, hyper, case.X.shape[0])
        model = idiomatic.build(net, case.params, p)
        keras_history = idiomatic.fit(net, model, p, case.X, case.y, hyper, every_epoch=True).history
    assert len(history) == len(keras_history) == len(ref_history) == hyper.epochs + 1
    n_updates = 1 if rule == "batch" else case.X.shape[0]
    for e, ref in enumerate(ref_history):
        for name, expected in ref.items():
            bound = tolerances.REL_FLOAT64 * np.sqrt(max(1, e * n_updates)) * np.max(np.abs(expected))
            assert np.max(np.abs(history[e][name] - expected)) <= bound, (rule, "tape", e, name)
            assert np.max(np.abs(keras_history[e][name] - expected)) <= bound, (rule, "keras", e, name)
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-12 * np.sqrt(hyper.epochs * n_updates), atol=0)
    frozen = next(iter(net.frozen))
    assert all(np.array_equal(h[frozen], case.params[frozen]) for h in history + keras_history)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("layout,bias", [("rows", "trick"), ("columns", "trick"), ("columns", "vectors"), ("rows", "none")])
def test_contract_one_step(tf_backend, style, layout, bias):
    """The contract's own update — forward, backward, gradients, optimizer, step — is the reference's
    one_step (the Keras style's train compiles its own SGD, so this is where its optimizer/step run)."""
    S = tf_backend.STYLES[style]
    case = random_case(21, layout, bias, "half_sse", l2=0.2, l2_bias=False, frozen=True)
    net, hyper = case.net, case.hyper
    P, X, y = S.load(net, case.params), S.tensor(net, case.X), S.tensor(net, case.y)
    fwd = S.forward(net, P, X)
    bwd = S.backward(net, P, fwd, y, hyper)
    grads = S.gradients(net, P, fwd, bwd, hyper)
    P = S.step(net, P, grads, hyper, S.optimizer(net, P, hyper, case.X.shape[net.example_axis]))
    got = {name: S.numpy(p) for name, p in S.parameters(net, P).items()}
    expected = RN.one_step(net, case.params, case.X, case.y, hyper)
    assert got.keys() == expected.keys()
    for name, e in expected.items():
        assert np.max(np.abs(got[name] - e)) <= tolerances.REL_FLOAT64 * np.max(np.abs(e)), name
    frozen = next(iter(net.frozen))
    assert np.array_equal(got[frozen], case.params[frozen])


def test_long_training_costs(tf_backend):
    """Hundreds of per-sample updates: the rounding differences stay within the √updates bound."""
    case = random_case(11, "columns", "vectors", "mse", rule="sgd", epochs=60,
                       acts=[RA.make("sigmoid")] * 3)
    rows, _ = random_rows(case)
    for r in rows:
        if r.quantity == "costs" or r.quantity.startswith(("W_final", "b_final")):
            H.assert_row(r)


# ---------------------------------------------------------------------------- eager vs tf.function, repeatability

@pytest.mark.parametrize("case_factory", [
    lambda: H.case("courtial-bias-trick"),
    lambda: random_case(3, "columns", "vectors", "bce", rule="sgd", l2=0.1, frozen=True),
    lambda: random_case(4, "rows", "none", "squared_error", rule="batch", l2=0.3, l2_bias=False),
], ids=["courtial-bias-trick", "columns-bce-sgd-l2", "rows-none-l2"])
def test_keras_eager_and_graph_agree(tf_backend, case_factory):
    case = case_factory()
    graph = tf_backend.trace_keras(case, run_eagerly=False)
    eager = tf_backend.trace_keras(case, run_eagerly=True)
    assert graph.values.keys() == eager.values.keys() and graph.missing == eager.missing
    assert "graph" in graph.mapping["execution"] and "eager" in eager.mapping["execution"]
    worst = 0.0
    for k, v in graph.values.items():
        a, b = np.asarray(v, dtype=float), np.asarray(eager.values[k], dtype=float)
        scale = max(float(np.max(np.abs(b))), 1e-300) if b.size else 1.0
        worst = max(worst, float(np.max(np.abs(a - b))) / scale if b.size else 0.0)
        tol, _ = tolerances.reference_tolerance(k, b, eager.values, case)
        assert np.max(np.abs(a - b)) <= max(tol, 1e-12 * scale), k


@pytest.mark.parametrize("style", STYLES)
def test_runs_repeat_bit_for_bit(tf_backend, style):
    """No op-determinism switch is needed on CPU: two runs give identical bits."""
    case = random_case(5, "rows", "trick", "half_sse", rule="sgd", l2=0.2)
    a, b = tf_backend.trace(case, style), tf_backend.trace(case, style)
    for k in a.values:
        assert np.array_equal(np.asarray(a.values[k]), np.asarray(b.values[k])), k


# ---------------------------------------------------------------------------- dtypes

def _all_float_arrays(values):
    for k, v in values.items():
        if isinstance(v, float) and k in ("n_params", "gradcheck.rel_error"):
            continue                                    # a count and a ratio: Python floats, as in the reference
        arr = np.asarray(v)
        if arr.dtype.kind == "f":
            yield k, arr


@pytest.mark.parametrize("style", STYLES)
def test_float64_values_are_float64(tf_backend, style):
    trace = tf_backend.trace(H.case("courtial-bias-trick"), style)
    for k, arr in _all_float_arrays(trace.values):
        assert arr.dtype == np.float64, k


def test_keras_model_optimizer_and_loss_are_float64(tf_backend):
    import keras
    from backprop_parity.tf_impl import floatx, idiomatic
    case = random_case(2, "rows", "vectors", "half_sse", rule="sgd", l2=0.3)
    before = keras.config.floatx()
    with floatx(case.net.dtype):
        p = idiomatic.plan(case.net, case.hyper, case.X.shape[0])
        model = idiomatic.build(case.net, case.params, p)
        idiomatic.fit(case.net, model, p, case.X, case.y, case.hyper)
    assert keras.config.floatx() == before                      # restored
    assert all(v.dtype == "float64" for v in model.weights)
    for layer in model.layers:
        assert layer.dtype_policy.compute_dtype == "float64" and layer.dtype_policy.variable_dtype == "float64"
    assert p.loss.dtype == "float64" and p.loss_each.dtype == "float64"
    assert model.optimizer.learning_rate.dtype == "float64"
    assert all(v.dtype in ("float64", "int64") for v in model.optimizer.variables)
    assert model._compile_loss.dtype == "float64"               # the loss compile() wraps around ours


def test_without_floatx_keras_would_downcast(tf_backend):
    """The negative control: the guard is needed — Keras 3 creates these in floatx (float32)."""
    import keras
    assert keras.config.floatx() == "float32"
    opt = keras.optimizers.SGD(learning_rate=0.1)
    assert opt.learning_rate.dtype == "float32"
    model = keras.Sequential([keras.Input((2,), dtype="float64"), keras.layers.Dense(1, dtype="float64")])
    model.compile(optimizer=opt, loss=keras.losses.MeanSquaredError(dtype="float64"))
    model.train_on_batch(np.ones((1, 2)), np.ones((1, 1)))
    assert model._compile_loss.dtype == "float32"


@pytest.mark.parametrize("case_name", [c for c in H.CASES if H.case(c).net is not None])
def test_float32_run(tf_backend, case_name):
    case = H.case(case_name).cast(np.float32)
    ref = H.float32_traces(case_name, H.REF)[0]
    traces = H.float32_traces(case_name, "tf")
    for trace in traces:
        assert hasattr(trace, "values"), trace.reason
        for k, arr in _all_float_arrays(trace.values):
            assert arr.dtype == np.float32, (trace.style, k)
        written = H.in_style_form(case, "tf", trace.style)   # Keras' own form of the case's optimizer
        held_to = B.run(written, "numpy")[0] if written is not case else ref
        for r in reference_comparisons(written, trace, held_to):
            if not r.quantity.startswith("gradcheck."):       # h = 1e-4 in float32: see the report
                H.assert_row(r)


def test_float32_random_network(tf_backend):
    case = random_case(9, "columns", "trick", "bce", rule="sgd", dtype=np.float32)
    ref = B.run(case, "numpy")[0]
    for trace in B.run(case, "tf"):
        for r in reference_comparisons(case, trace, ref):
            if not r.quantity.startswith("gradcheck."):
                H.assert_row(r)


# ---------------------------------------------------------------------------- TensorFlow's own conventions

def test_leaky_relu_slope_is_float32(tf_backend):
    """tf.nn.leaky_relu keeps alpha as a float32 attribute: with slope 0.1 every TF number equals the
    reference's computed with slope float32(0.1) — and differs from slope 0.1 by about 1.5e-8 relative."""
    case = random_case(13, "rows", "vectors", "half_sse", rule="batch", acts=[RA.make("leaky_relu", slope=0.1)] * 3)
    case32 = float32_slopes(case)
    assert inexact_leaky(case) and not inexact_leaky(case32)
    for style in STYLES:
        trace = tf_backend.trace(case, style)
        assert "float32" in trace.mapping["leaky_relu slope"]
        ref32 = B.run(case32, "numpy")[0]
        for r in reference_comparisons(case32, trace, ref32):
            H.assert_row(r)
        ref = B.run(case, "numpy")[0]
        off = [r for r in reference_comparisons(case, trace, ref) if r.passed is False]
        assert off, "TensorFlow's leaky_relu now keeps the float64 slope: update leaky_relu_note and this test"
        assert all(r.max_rel_diff < 1e-7 for r in off)


def test_keras_l2_regularizer_rounds_through_float32(tf_backend):
    import keras
    import tensorflow as tf
    from backprop_parity.tf_impl.idiomatic import L2
    W = tf.constant([[0.3, -1.2], [2.0, 0.7]], dtype=tf.float64)
    total = float(np.sum(W.numpy() ** 2))
    stock = float(keras.regularizers.L2(0.15)(W))
    ours = float(L2(0.15)(W))
    assert ours == pytest.approx(0.15 * total, rel=1e-15)
    assert stock == pytest.approx(float(np.float32(0.15)) * total, rel=1e-15)
    assert stock != ours


def test_activation_derivatives_at_zero(tf_backend):
    """What TensorFlow's tape gives at exactly 0 (recorded in the report)."""
    from backprop_parity.tf_impl import activations as A
    assert A.at_zero_value("relu") == 0.0
    assert A.at_zero_value("leaky_relu", slope=0.25) == 0.25
    assert A.at_zero_value("leaky_relu", slope=0.01) == float(np.float32(0.01))
    assert A.at_zero_value("elu", alpha=1.0) == 1.0
    assert A.at_zero_value("elu", alpha=0.5) == 0.5          # Keras: where(x > 0, elu(x), α·elu(x))
    assert A.at_zero_value("sigmoid") == 0.25 and A.at_zero_value("tanh") == 1.0


# ---------------------------------------------------------------------------- functions()

def _close(a, b, rel=1e-12):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b), initial=0) <= rel * max(np.max(np.abs(b), initial=0), 1e-300)


Z = [-2.0, -0.5, 0.0, 0.3, 1.7]
# (name, parameters of g, parameters of g')
ACT_CALLS = [("identity", (), ()), ("sigmoid", (), ()), ("tanh", (), ()), ("relu", (), ()), ("relu", (), (0.0,)),
             ("leaky_relu", (0.25,), (0.25,)), ("leaky_relu", (0.5,), (0.5, 0.5)), ("elu", (), ()),
             ("elu", (1.0,), (1.0, 1.0)), ("elu", (0.7,), (0.7,))]


@pytest.mark.parametrize("name,g_params,prime_params", ACT_CALLS)
def test_functions_activations(tf_backend, name, g_params, prime_params):
    from backprop_parity.reference.backend import functions
    ref, tf_f = functions(), tf_backend.functions()
    _close(tf_f[f"act.{name}"](Z, *g_params), ref[f"act.{name}"](Z, *g_params))
    z = [z for z in Z if z != 0] if name == "elu" and g_params and g_params[0] != 1 else Z   # elu'(0), α ≠ 1: below
    _close(tf_f[f"act.{name}_prime"](z, *prime_params), ref[f"act.{name}_prime"](z, *prime_params))


def test_functions_leaky_relu_default_slope(tf_backend):
    """Default slope 0.01: equal to the reference at the float32-rounded slope (see test_leaky_relu_slope…)."""
    from backprop_parity.reference.backend import functions
    ref, tf_f = functions(), tf_backend.functions()
    s32 = float(np.float32(0.01))
    _close(tf_f["act.leaky_relu"](Z), ref["act.leaky_relu"](Z, s32))
    _close(tf_f["act.leaky_relu_prime"](Z), ref["act.leaky_relu_prime"](Z, s32))


def test_functions_at_zero_without_counterpart(tf_backend):
    from backprop_parity.reference.expr import NoCounterpart
    f = tf_backend.functions()
    with pytest.raises(NoCounterpart):
        f["act.relu_prime"]([0.0, 1.0], 1.0)                  # the deeplearning.ai notes' relu'(0) = 1
    with pytest.raises(NoCounterpart):
        f["act.leaky_relu_prime"]([0.0], 0.01, 1.0)
    with pytest.raises(NoCounterpart):
        f["act.elu_prime"]([0.0], 0.5)                        # reference default at_zero = 1; Keras gives α
    _close(f["act.relu_prime"]([-1.0, 2.0], 1.0), [0.0, 1.0])  # no zero: nothing to honour
    _close(f["act.relu_prime"]([0.0], 0.0), [0.0])


LOSS_ARGS = [([0.0, 1.0, 0.5], [0.2, 0.7, 0.4]), ([[1.0, 0.0], [0.3, 0.9]], [[0.8, 0.1], [0.35, 0.6]]), (0.5, 0.25)]


@pytest.mark.parametrize("name", [n for n in RLo.LOSSES if n not in RLo.ONE_HOT])
@pytest.mark.parametrize("args", LOSS_ARGS, ids=["vector", "matrix", "scalar"])
def test_functions_losses(tf_backend, name, args):
    from backprop_parity.reference.backend import functions
    _close(tf_backend.functions()[f"loss.{name}"](*args), functions()[f"loss.{name}"](*args))


@pytest.mark.parametrize("form,targets,x", H.CROSS_ENTROPY_CALLS, ids=H.CROSS_ENTROPY_IDS)
def test_functions_cross_entropy(tf_backend, form, targets, x):
    """Keras' CategoricalCrossentropy (from probabilities, from_logits=True) and SparseCategoricalCrossentropy,
    and the tape's ∂J/∂z of the logits forms, equal the reference's forms at the float64 bound."""
    from backprop_parity.reference.backend import functions
    _close(tf_backend.functions()[f"loss.{form}"](targets, x), functions()[f"loss.{form}"](targets, x))


def test_functions_calculus(tf_backend):
    from backprop_parity.reference.backend import functions
    ref, f = functions(), tf_backend.functions()
    assert f.keys() == ref.keys()
    got, want = f["calc.computation_graph"](5, 3, 2), ref["calc.computation_graph"](5, 3, 2)
    assert got.keys() == want.keys()
    for k in want:
        _close(got[k], want[k])
    _close(f["calc.surface"](1.5, -2.0), ref["calc.surface"](1.5, -2.0))
    _close(f["calc.surface_gradient"](1.5, -2.0), ref["calc.surface_gradient"](1.5, -2.0))
    _close(f["calc.descent_step"](1.5, -2.0, 0.1), ref["calc.descent_step"](1.5, -2.0, 0.1))


def test_functions_float32(tf_backend):
    f = tf_backend.functions(np.float32)
    assert np.asarray(f["act.tanh"](Z)).dtype == np.float32
    assert np.asarray(f["act.sigmoid_prime"](Z)).dtype == np.float32


# ---------------------------------------------------------------------------- the command

def test_check_command_runs_both_tf_styles(tf_backend, tmp_path, capsys):
    import json
    from backprop_parity.reports.cli import main
    out = tmp_path / "rows.json"
    with H.environment(H.session_store_env()):          # the command's output is looked at, not how it computes
        code = main(["check", "courtial-bias-trick", "--backend", "tf", "--json", str(out), "--quiet"])
    rows = json.loads(out.read_text())
    assert code == 0
    assert {r["style"] for r in rows if r["backend"] == "tf"} == set(STYLES)


@pytest.mark.parametrize("style", STYLES)
def test_one_wrong_entry_fails_at_its_own_bound(tf_backend, style):
    """×(1 + 1e-9) in any single nonzero entry of any element-bounded quantity fails (helpers)."""
    H.assert_one_wrong_entry_fails("tf", style)


# --------------------------------------------------------------------------- data preparation (prep.*)

def _cars():
    from .helpers import case
    return np.asarray(case("courtial-preprocessing").arrays["cars"], dtype=float)


def test_functions_prep(tf_backend):
    """Each prep.* by Keras' preprocessing layers (Normalization, Rescaling) or tf.math, against the reference
    at the float64 bound of each column's largest value — defaults included: Normalization.adapt and
    tf.math.reduce_std take the population σ, as NumPy does."""
    from backprop_parity.reference.backend import functions
    ref, f = functions(), tf_backend.functions()
    cars = _cars()
    m, s = cars.mean(0), cars.std(0)
    for name, args in [("prep.mean", (cars,)), ("prep.std", (cars,)), ("prep.std", (cars, 1)),
                       ("prep.standardize", (cars,)), ("prep.standardize", (cars, m, s)),
                       ("prep.standardize", (cars[:, 1],)), ("prep.standardize", (50000, -5000, 70000)),
                       ("prep.unstandardize", (cars, m, s)), ("prep.min_max", (cars,)),
                       ("prep.min_max", (17000, 0, 40000)), ("prep.min_max_inverse", (cars, 0, 40000)),
                       ("prep.plus_minus", ([0, 1, 1], 1))]:
        got, want = np.asarray(f[name](*args)), np.asarray(ref[name](*args))
        assert got.shape == want.shape and got.dtype == np.float64, (name, got.shape, want.shape)
        scale = np.max(np.abs(want), axis=0) if want.ndim == 2 else np.max(np.abs(want))
        assert np.all(np.abs(got - want) <= 1e-12 * scale), (name, got, want)


def test_keras_normalization_defaults_to_float32(tf_backend):
    """A Normalization layer made without a dtype computes in Keras' global dtype policy, float32 in a fresh
    process: float64 data come out float32, 1e-8 of their size from NumPy's — the backend passes the case's
    dtype instead. (keras.config.dtype_policy() is fixed from floatx() the first time a layer asks for it,
    so set_floatx after that no longer changes new layers: the policy is set here, and restored.)"""
    import keras
    cars = _cars()
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        layer = keras.layers.Normalization(axis=-1)
        layer.adapt(cars)
        out = np.asarray(layer(cars))
        ours = {name: np.asarray(tf_backend.functions()[name](*args)) for name, args in (
            ("prep.standardize", (cars,)), ("prep.standardize", (cars, cars.mean(0), cars.std(0))),
            ("prep.unstandardize", (cars, cars.mean(0), cars.std(0))), ("prep.min_max", (cars,)),
            ("prep.min_max_inverse", (cars, 0, 40000)))}
    finally:
        keras.config.set_dtype_policy(before)
    want = (cars - cars.mean(0)) / cars.std(0)
    assert out.dtype == np.float32
    err = np.max(np.abs(out - want))
    assert 1e-9 < err < 1e-6, err
    # the backend's layers are made in the case's dtype, whatever the global policy
    for name, got in ours.items():
        assert got.dtype == np.float64, name
    assert np.max(np.abs(ours["prep.standardize"] - want)) <= 1e-12 * np.max(np.abs(want))
