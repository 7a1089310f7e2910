"""The JAX backend piece by piece: float64 on, the contract, the step markers, Keras on JAX in float64,
the optimizers' single step, and the measured places where XLA's float64 differs from NumPy's.

JAX and Keras-on-JAX run in a fresh process started with ``KERAS_BACKEND=jax`` (:func:`facts`
collects everything measured there at once, :func:`collect`); this test process imports
neither (it may hold TensorFlow's Keras). The reasons for the case files' ``differs = { jax = … }``
entries are measured here, so a JAX release that changes them is noticed.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from . import helpers
from .conftest import required

pytestmark = pytest.mark.cost(15)     # its tests' seconds, summed (conftest: the costliest files start first)

ROOT = Path(__file__).resolve().parent.parent
STEPS = {"bias-trick", "forward-affine", "forward-activation", "output-delta", "hidden-delta", "input-gradient",
         "weight-gradient", "l2", "cost", "update"}


# --------------------------------------------------------------------------- a process with Keras on JAX

def run_python(code: str, keras_backend: str | None = "jax", timeout: int = 900) -> subprocess.CompletedProcess:
    """``code`` in a fresh Python process (with the session's XLA compilation cache, helpers.compilation_cache_env)."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(helpers.compilation_cache_env())
    if keras_backend is not None:
        env["KERAS_BACKEND"] = keras_backend
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=timeout)


def _skip_or_fail(why: str):
    if "jax" in required():
        pytest.fail(f"{why} — and BACKPROP_PARITY_REQUIRE={os.environ['BACKPROP_PARITY_REQUIRE']} says this run "
                    f"must include it", pytrace=False)
    pytest.skip(why)


@lru_cache(maxsize=None)
def _facts():
    proc = run_python("import pickle, sys\nfrom parity_tests.test_jax_units import collect\n"
                      "sys.stdout.buffer.write(pickle.dumps(collect()))")
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


@pytest.fixture(scope="session")
def facts() -> dict:
    code, out, err = _facts()
    if code != 0:
        missing = re.search(r"ModuleNotFoundError: No module named '(jax|jaxlib|optax|keras)'", err)
        if missing:
            _skip_or_fail(f"the jax backend cannot be imported: {missing.group(0)}")
        pytest.fail(f"the fact-collecting process failed (exit {code}):\n{err[-3000:]}", pytrace=False)
    return pickle.loads(out)


def collect() -> dict:
    """Everything measured in a process with KERAS_BACKEND=jax (called by :func:`facts`)."""
    import inspect

    f: dict = {}
    from backprop_parity.jax_impl import backend as JB
    f["imported_by_backend"] = {m: m in sys.modules for m in ("keras", "tensorflow", "torch")}
    import jax
    import jax.numpy as jnp

    from backprop_parity.jax_impl import activations as ACT
    from backprop_parity.jax_impl import keras_style as KS
    from backprop_parity.jax_impl import network as NW
    from backprop_parity.reference import contract
    from backprop_parity.reference.case import load

    f["x64"] = bool(jax.config.jax_enable_x64)
    f["styles"] = {name: module.__name__ for name, module in JB.STYLES.items()}
    def params(fn):
        return [(p.name, str(p.kind), repr(p.default)) for p in inspect.signature(fn).parameters.values()]
    f["signatures"] = {name: {fn: params(getattr(module, fn)) if hasattr(module, fn) else None
                              for fn in contract.NAMES} for name, module in JB.STYLES.items()}
    f["contract"] = {fn: params(getattr(contract, fn)) for fn in contract.NAMES}
    f["functions_keys"] = sorted(JB.functions())
    f["tensor_dtype"] = str(NW.tensor(load("courtial-one-car").net, [[1.0, 2.0]]).dtype)

    # --- where XLA's float64 differs from NumPy's (the case files' differs entries)
    z = np.array([19.0, 19.5, 19.9, 20.0])
    f["tanh"] = (np.asarray(jnp.tanh(z)), np.tanh(z))
    f["tanh_prime"] = (np.asarray(JB.functions()["act.tanh_prime"](z)), 1 - np.tanh(z) ** 2)
    zs = np.array([-20.0, -26.0, -30.0, -37.0, -38.0])
    f["elu_prime"] = (np.asarray(JB.functions()["act.elu_prime"](zs)), np.exp(zs))
    s = np.array([-700.0, -740.0, -745.0])
    f["sigmoid"] = (np.asarray(JB.functions()["act.sigmoid"](s)), np.exp(s) / (1 + np.exp(s)))
    f["subnormal_times_one"] = float(jnp.asarray(5e-324) * 1.0)
    f["sigmoid_prime_37"] = float(JB.functions()["act.sigmoid_prime"](37.0)[()])
    f["at_zero"] = {"relu": ACT.jax_at_zero("relu"), "leaky_relu": ACT.jax_at_zero("leaky_relu", slope=0.01),
                    "elu": ACT.jax_at_zero("elu", alpha=1.0), "elu_half": ACT.jax_at_zero("elu", alpha=0.5)}
    fns = JB.functions()
    f["cross_entropy"] = [np.asarray(fns[f"loss.{form}"](t, x)) for form, t, x in helpers.CROSS_ENTROPY_CALLS]
    z = helpers.CROSS_ENTROPY_CALLS[1][2]
    f["softmax"] = (np.asarray(fns["act.softmax"](z, 1)), np.asarray(fns["act.softmax_prime"](z, 1)),
                    np.shape(fns["act.softmax_prime"](z[0])))
    f["bce_wrong"] = fns["loss.bce"]([1.0, 0.0], [0.0, 1.0])
    f["bce_exact"] = fns["loss.bce"]([1.0, 0.0], [1.0, 0.0])
    try:
        fns["act.relu_prime"](0.0, 1.0)
        f["relu_prime_at_zero_1"] = "no exception"
    except Exception as exc:
        f["relu_prime_at_zero_1"] = f"{type(exc).__name__}: {exc}"

    # --- Keras 3 on JAX: float64, and the promotion table the style corrects while it runs
    import keras
    f["keras_backend"] = keras.backend.backend()
    x = jnp.asarray(np.array([[0.3, 1.7, -2.2]]))
    y_true, y_pred = np.array([[0.3], [0.7], [0.1]]), np.array([[0.31234567891], [0.6], [0.2]])
    mse_exact = np.mean((y_true - y_pred) ** 2)

    def keras_numbers():
        t = keras.ops.tanh(x)
        m = keras.losses.MeanSquaredError(dtype="float64")(y_true, y_pred)
        return (str(t.dtype), float(np.max(np.abs(np.asarray(t, dtype=float) - np.tanh(np.asarray(x))))),
                str(keras.ops.mean(x).dtype), abs(float(m) - mse_exact))

    f["keras_stock"] = keras_numbers()
    with KS.floatx(np.float64):
        f["keras_in_floatx"] = keras_numbers()
        f["table_in_floatx"] = KS.promotion_table()["float64"]
    f["table_after"] = KS.promotion_table()["float64"]
    f["floatx_after"] = keras.config.floatx()

    # L2: the stock regularizer keeps l in float64 on JAX (on TensorFlow it rounds l through float32)
    W = jnp.asarray(np.array([[0.3, -1.1], [0.7, 2.0]]))
    with KS.floatx(np.float64):
        reg = keras.regularizers.L2(0.15)(W)
    f["l2"] = (float(reg), float(0.15 * jnp.sum(jnp.square(W))), float(np.float32(0.15)) * float(jnp.sum(W ** 2)),
               str(reg.dtype))
    # Keras' SGD casts momentum with ops.cast too: two steps of g = 1 give v = −lr·(μ + 1)
    with KS.floatx(np.float64):
        var = keras.Variable(np.zeros(1), dtype="float64")
        sgd = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
        sgd.build([var])
        for _ in range(2):
            sgd.apply_gradients([(jnp.ones(1, dtype=jnp.float64), var)])
        f["momentum"] = (float(np.asarray(sgd.momentums[0].numpy())[0]), 0.9 * -0.1 - 0.1,
                         float(np.float32(0.9)) * -0.1 - 0.1)

    # a trained Keras model's own objects: layers, loss, learning rate
    case = load("courtial-l2")
    net, hyper = case.net, case.hyper
    with KS.floatx(net.dtype):
        p = KS.plan(net, hyper, case.X.shape[0])
        model = KS.build(net, case.params, p)
        opt = KS.optimizer(net, model, hyper, p.batch_size)
        model.compile(optimizer=opt.sgd, loss=p.loss)
        model.train_on_batch(case.X, case.y)
        f["keras_objects"] = {
            "layers": sorted({layer.dtype_policy.name for layer in model.layers}),
            "variables": sorted({str(v.dtype) for v in model.weights}),
            "optimizer_variables": sorted({str(v.dtype) for v in opt.sgd.variables if "iteration" not in v.path}),
            "learning_rate": (float(opt.sgd.learning_rate), str(np.asarray(opt.sgd.learning_rate).dtype), p.lr),
            "loss_dtype": p.loss.dtype, "compiled_loss_dtype": str(getattr(model._compile_loss, "dtype", "?")),
            "regularizer_l": p.regularizer.l2, "jit_compile": model.jit_compile,
        }

    # Courtial's data preparation: every prep.* function against the reference's, and jax.nn.standardize's
    # two defaults — ε = 1e-5 inside the root, the variance as E[x²] − E[x]² (algorithm="fast")
    from backprop_parity.reference import backend as RB
    cars = np.asarray(load("courtial-preprocessing").arrays["cars"], dtype=float)
    ref = RB.functions()
    f["prep"] = {name: (np.asarray(fns[name](*args)), np.asarray(ref[name](*args))) for name, args in (
        ("prep.mean", (cars,)), ("prep.std", (cars,)), ("prep.std", (cars, 1)),
        ("prep.unstandardize", (cars, cars.mean(0), cars.std(0))),
        ("prep.min_max", (cars,)), ("prep.min_max_inverse", (cars, 0.0, 40000.0)), ("prep.plus_minus", ([0, 1, 1], 1)))}
    f["prep_standardize"] = {"from data": np.asarray(fns["prep.standardize"](cars)),
                             "given": np.asarray(fns["prep.standardize"](cars, cars.mean(0), cars.std(0))),
                             "population": (cars - cars.mean(0)) / cars.std(0)}
    far = 1e8 + np.array([0.1, 0.2, 0.3, 0.4])      # a large mean next to a small spread
    exact = (far - far.mean()) / far.std()
    f["prep_fast_vs_stable"] = (np.asarray(jax.nn.standardize(jnp.asarray(far), axis=0, epsilon=0.0)),
                                np.asarray(jax.nn.standardize(jnp.asarray(far), axis=0, epsilon=0.0, algorithm="stable")),
                                exact)

    # one update by each style's optimizer and step, against the first epoch of its own training
    f["step_vs_train"] = {}
    for name in ("courtial-bias-trick", "courtial-l2", "dlai-shapes", "robust-leaky-default", "robust-sgd-frozen"):
        c = load(name)
        n = c.X.shape[c.net.example_axis]
        if c.hyper.rule != "batch":
            c = __import__("dataclasses").replace(c, hyper=__import__("dataclasses").replace(c.hyper, rule="batch"))
        for style, S in JB.STYLES.items():
            P = S.load(c.net, c.params)
            X, y = S.tensor(c.net, c.X), S.tensor(c.net, c.y)
            fwd = S.forward(c.net, P, X)
            bwd = S.backward(c.net, P, fwd, y, c.hyper)
            grads = S.gradients(c.net, P, fwd, bwd, c.hyper)
            stepped = S.parameters(c.net, S.step(c.net, P, grads, c.hyper, S.optimizer(c.net, P, c.hyper, n)))
            trained = S.train(c.net, c.params, c.X, c.y, c.hyper).history[1]
            f["step_vs_train"][(name, style)] = max(
                float(np.max(np.abs(np.asarray(stepped[k]) - trained[k])) / max(np.max(np.abs(trained[k])), 1e-300))
                for k in trained)
            f.setdefault("frozen_after_step", {})[(name, style)] = {
                k: bool(np.array_equal(np.asarray(stepped[k]), c.params[k])) for k in c.net.frozen}
    return f


# --------------------------------------------------------------------------- float64, imports, the contract

def test_float64_is_on(facts):
    assert facts["x64"] is True
    assert facts["tensor_dtype"] == "float64"


def test_importing_the_backend_imports_no_other_framework(facts):
    """backend.py names the keras style but keras is imported lazily: no Keras (nor TensorFlow or torch
    through it) in a process that only asks for the grad style."""
    assert facts["imported_by_backend"] == {"keras": False, "tensorflow": False, "torch": False}


def test_both_styles_keep_the_contract(facts):
    assert facts["styles"] == {"grad": "backprop_parity.jax_impl.network",
                               "keras": "backprop_parity.jax_impl.keras_style",
                               "sharded": "backprop_parity.jax_impl.sharded"}
    for style, signatures in facts["signatures"].items():
        assert signatures == facts["contract"], style


def test_functions_have_the_reference_keys(facts):
    from backprop_parity.reference.backend import functions
    assert facts["functions_keys"] == sorted(functions())


@pytest.mark.parametrize("module", ["network", "keras_style"])
def test_every_step_is_marked(module):
    """Each style marks every step of backprop on the line that runs it (the report's step mapping)."""
    src = (ROOT / "jax_impl" / f"{module}.py").read_text(encoding="utf-8")
    marked = set(re.findall(r"# \[step:([a-z0-9-]+)\]", src))
    assert marked == STEPS, (STEPS - marked, marked - STEPS)


def test_marked_lines_are_jax_calls():
    """The grad style's marked lines are JAX's own calls, not a project helper hiding them."""
    src = (ROOT / "jax_impl" / "network.py").read_text(encoding="utf-8").splitlines()
    calls = {"bias-trick": ("jnp.concatenate", "jax.vjp"), "forward-affine": ("@", "jax.vjp"),
             "forward-activation": ("jax.vjp",), "output-delta": ("jax.grad", ".activation("),
             "hidden-delta": (".affine(", ".trick(", ".activation("), "input-gradient": (".affine(",),
             "weight-gradient": ("jax.grad",),
             "l2": ("jnp.sum",), "cost": ("jnp.sum", "jnp.mean"), "update": ("optax.", "opt.update(", "tx.update(")}
    for line in src:
        m = re.search(r"# \[step:([a-z0-9-]+)\]", line)
        if m:
            code = line[:m.start()]
            assert any(c in code for c in calls[m.group(1)]), line


# --------------------------------------------------------------------------- XLA's float64, measured

def test_tanh_saturates_later_than_numpy(facts):
    """jnp.tanh rounds to 1 only from z = 20 on; just below it stops 7 ulps short (1 − 7.8e-16), so
    tanh'(z) = (1 + t)(1 − t) = 1.55e-15 there, where NumPy's 1 − tanh² is exactly 0 (robust-edges)."""
    jx, ref = facts["tanh"]
    assert np.all(ref == 1.0)
    assert np.all(1 - jx[:3] == pytest.approx(7.771561172376096e-16, rel=1e-12)) and jx[3] == 1.0
    jp, rp = facts["tanh_prime"]
    assert np.all(rp == 0.0)
    assert np.all(jp[:3] == pytest.approx(1.5543122344752192e-15, rel=1e-12)) and jp[3] == 0.0


def test_elu_derivative_is_expm1_plus_one(facts):
    """jax.nn.elu's derivative is the JVP of expm1, g·(expm1(z) + 1): adding 1 to −1 + e^z leaves an absolute
    rounding of ~1e-16, i.e. relative 1e-5 at z = −26, and exactly 0 below z ≈ −37.4 (NumPy: alpha·e^z)."""
    jp, rp = facts["elu_prime"]
    rel = np.abs(jp - rp) / rp
    assert np.all(np.abs(jp - rp) <= 1.2e-16)
    assert rel[0] < 1e-7 and 1e-6 < rel[1] < 1e-4 and rel[2] > 1e-4
    assert jp[4] == 0.0 and rp[4] > 3e-17


def test_subnormals_are_flushed(facts):
    """XLA's CPU kernels flush subnormal results to zero: σ(−740) is 0, NumPy keeps 4.2e-322."""
    jx, ref = facts["sigmoid"]
    assert jx[0] == pytest.approx(ref[0], rel=1e-12) and jx[0] > 1e-305
    assert jx[1] == 0.0 and 0 < ref[1] < 1e-307
    assert facts["subnormal_times_one"] == 0.0


def test_sigmoid_saturates_like_numpy(facts):
    assert facts["sigmoid_prime_37"] == 0.0


def test_derivatives_at_exactly_zero(facts):
    """relu'(0) = 0 (custom JVP), leaky_relu'(0) = 1 (where(x >= 0, …): the x branch), elu'(0) = alpha."""
    assert facts["at_zero"] == {"relu": 0.0, "leaky_relu": 1.0, "elu": 1.0, "elu_half": 0.5}
    assert facts["relu_prime_at_zero_1"].startswith("NoCounterpart") and "gives relu'(0) = 0" in \
        facts["relu_prime_at_zero_1"]


@pytest.mark.parametrize("i", range(len(helpers.CROSS_ENTROPY_CALLS)), ids=helpers.CROSS_ENTROPY_IDS)
def test_cross_entropy_forms(facts, i):
    """optax.losses.softmax_cross_entropy[_with_integer_labels] averaged with jnp.mean, −log ŷ at the labels, xlogy
    from probabilities, and jax.grad of the logits forms: the reference's forms at the float64 bound."""
    from backprop_parity.reference.backend import functions
    form, targets, x = helpers.CROSS_ENTROPY_CALLS[i]
    want = np.asarray(functions()[f"loss.{form}"](targets, x))
    got = facts["cross_entropy"][i]
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 1e-12 * np.max(np.abs(want))


def test_softmax_and_its_jacobian(facts):
    """act.softmax is jax.nn.softmax; act.softmax_prime is jax.vmap(jax.jacrev(…)): one (k, k) per example."""
    from backprop_parity.reference.backend import functions
    z = helpers.CROSS_ENTROPY_CALLS[1][2]
    s, jac, one = facts["softmax"]
    np.testing.assert_allclose(s, functions()["act.softmax"](z, 1), rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(jac, functions()["act.softmax_prime"](z, 1), rtol=0, atol=1e-16)
    assert jac.shape == (4, 3, 3) and one == (3, 3)


def test_bce_is_not_clipped(facts):
    """loss.bce of the jax backend is jax.numpy with xlogy: no clipping, as the reference."""
    assert facts["bce_wrong"] == np.inf and facts["bce_exact"] == 0.0


# --------------------------------------------------------------------------- Keras 3 on JAX, float64

def test_keras_runs_on_jax(facts):
    assert facts["keras_backend"] == "jax"


def test_stock_keras_on_jax_computes_float64_in_float32(facts):
    """Keras' result_type maps float64 to float32 on every backend but TensorFlow, with or without
    jax_enable_x64: keras.ops.tanh of a float64 tensor is float32, keras.ops.mean computes in float32, and
    MeanSquaredError (which averages with it) is off by ~1e-10. If a Keras release changes this, the style's
    correction (keras_style.floatx) can go — this test says so."""
    tanh_dtype, tanh_err, mean_dtype, mse_err = facts["keras_stock"]
    assert tanh_dtype == "float32" and tanh_err > 1e-9
    assert mse_err > 1e-12
    assert mean_dtype in ("float32", "float64")        # the result is cast back; the sum was float32


def test_keras_style_computes_float64(facts):
    tanh_dtype, tanh_err, mean_dtype, mse_err = facts["keras_in_floatx"]
    assert tanh_dtype == "float64" and tanh_err <= 2.3e-16
    assert mean_dtype == "float64" and mse_err == 0.0
    assert facts["table_in_floatx"] == "float64"
    assert facts["table_after"] == "float32" and facts["floatx_after"] == "float32"   # restored


def test_keras_l2_is_exact_in_float64_on_jax(facts):
    """keras.regularizers.L2 casts l with ops.cast, which on JAX is jnp.asarray(l, float64): no float32
    rounding of l (the TF style needs an L2 subclass for that)."""
    reg, exact, rounded, dtype = facts["l2"]
    assert dtype == "float64"
    assert reg == exact and reg != rounded


def test_keras_momentum_is_exact_in_float64_on_jax(facts):
    """Keras' SGD casts momentum with ops.cast — on JAX jnp.asarray(μ, float64), so μ = 0.9 exactly (on
    TensorFlow it is a float32 constant first: tf_impl.backend's effective case rounds it)."""
    got, exact, rounded = facts["momentum"]
    assert got == exact and got != rounded


def test_keras_objects_are_float64(facts):
    o = facts["keras_objects"]
    assert o["layers"] == ["float64"] and o["variables"] == ["float64"]
    assert o["optimizer_variables"] in ([], ["float64"])
    lr, lr_dtype, planned = o["learning_rate"]
    assert lr_dtype == "float64" and lr == planned
    assert o["loss_dtype"] == "float64" and o["compiled_loss_dtype"] in ("float64", "?")
    assert o["jit_compile"] is True


def test_one_step_equals_the_first_epoch(facts):
    """step() with optimizer() (optax.sgd + apply_updates; Keras SGD.apply_gradients on ∂J/∂W / m) gives
    the parameters train() reaches after one batch epoch; frozen parameters stay put."""
    for (name, style), rel in facts["step_vs_train"].items():
        assert rel <= 1e-12, (name, style, rel)
    for (name, style), frozen in facts["frozen_after_step"].items():
        assert all(frozen.values()), (name, style, frozen)


# --------------------------------------------------------------------------- Keras on any other backend

def test_keras_style_refuses_another_keras_backend():
    """Without KERAS_BACKEND=jax the keras style says so — before importing keras (so never TensorFlow) —
    and with Keras already on another backend (numpy here) it says that; the grad style runs regardless."""
    code = (
        "import sys\n"
        "from backprop_parity.jax_impl import keras_style as KS, network as NW\n"
        "from backprop_parity.reference.case import load\n"
        "c = load('zhou-feedforward')\n"
        "NW.forward(c.net, NW.load(c.net, c.params), NW.tensor(c.net, c.X))\n"
        "try:\n"
        "    KS.load(c.net, c.params)\n"
        "    print('LOADED')\n"
        "except KS.KerasBackendError as exc:\n"
        "    print('REFUSED', exc)\n"
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)\n")
    proc = run_python(code, keras_backend=None, timeout=300)
    out = proc.stdout.decode()
    if proc.returncode != 0 and "No module named 'jax'" in proc.stderr.decode():
        _skip_or_fail("jax is not installed")
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "REFUSED" in out and "KERAS_BACKEND=jax" in out and "False False" in out, out
    proc = run_python("import keras\n" + code, keras_backend="numpy", timeout=300)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "REFUSED" in out and "'numpy' backend" in out, out


# --------------------------------------------------------------------------- data preparation (prep.*)

def test_prep_functions_agree_with_the_reference(facts):
    """Every prep.* the JAX way (jnp) against the reference, at the float64 bound of each column's largest
    value; standardize (jax.nn.standardize, with its ε) is the next test."""
    for name, (got, want) in facts["prep"].items():
        assert got.shape == want.shape and got.dtype == np.float64, name
        scale = np.max(np.abs(want), axis=0) if want.ndim == 2 else np.max(np.abs(want))
        assert np.all(np.abs(got - want) <= 1e-12 * scale), (name, got, want)


def test_standardize_adds_epsilon_to_the_variance(facts):
    """jax.nn.standardize's default ε = 1e-5, from the data's own statistics or from given ones alike: the
    ages (variance 11.25) come out √(1 + 1e-5/11.25) too small, 4.4e-7 of their value; the km (variance
    3.3e9) stay within float64's bound."""
    population = facts["prep_standardize"]["population"]
    for how in ("from data", "given"):
        got = facts["prep_standardize"][how]
        np.testing.assert_allclose(population[:, 1] / got[:, 1], np.sqrt(1 + 1e-5 / 11.25), rtol=1e-12, err_msg=how)
        assert np.all(np.abs(got[:, 0] - population[:, 0]) <= 1e-12 * np.max(np.abs(population[:, 0]))), how


def test_standardize_fast_algorithm_loses_the_spread(facts):
    """algorithm="fast" (the default) takes the variance as E[x²] − E[x]²: with x = 1e8 + (0.1 … 0.4) the two
    terms are 1e16 and agree to all but ~1 unit, so the variance is rounding noise; "stable" takes
    E[(x − x̄)²] and is right to float64's resolution of the data (1.5e-8 in 1e8)."""
    fast, stable, exact = facts["prep_fast_vs_stable"]
    assert np.max(np.abs(stable - exact)) < 1e-6
    assert not np.all(np.isfinite(fast)) or np.max(np.abs(fast - exact)) > 0.1, fast


# --------------------------------------------------------------------------- XLA's compiler for small programs

FLAGS_PROBE = ("import os; from backprop_parity import jax_impl as J; "
               "print(repr((os.environ['XLA_FLAGS'], J.QUICK_COMPILE, J.platform_note())))")


def xla_flags(**env) -> tuple:
    """(XLA_FLAGS, QUICK_COMPILE, the platform note) in a fresh process that imported the jax backend with ``env``."""
    saved = {k: os.environ.get(k) for k in env}
    try:
        for k, v in env.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        proc = run_python(FLAGS_PROBE, timeout=300)
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    if proc.returncode != 0 and re.search(r"No module named '(jax|jaxlib|optax)'", proc.stderr.decode()):
        _skip_or_fail("jax cannot be imported")
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    import ast
    return ast.literal_eval(proc.stdout.decode().strip().splitlines()[-1])


def test_xla_compiles_quickly_unless_told_otherwise_and_keeps_the_users_flags():
    """The backend adds each QUICK_COMPILE flag before JAX starts XLA, keeps a value the user set for one of them
    (and the user's other flags), says XLA_FLAGS in every mapping's platform note, and adds none of them under
    BACKPROP_PARITY_COMPILE=default (bench's step workers)."""
    user = "--xla_cpu_parallel_codegen_split_count=3 --xla_dump_to=/nonexistent-never-written"
    flags, quick, note = xla_flags(XLA_FLAGS=user, BACKPROP_PARITY_COMPILE=None)
    assert len(quick) >= 3
    for f in quick:
        name = f.split("=")[0]
        expected = "--xla_cpu_parallel_codegen_split_count=3" if name.endswith("split_count") else f
        assert re.findall(re.escape(name) + r"=\S+", flags) == [expected], (name, flags)
    assert "--xla_dump_to=/nonexistent-never-written" in flags and "--xla_force_host_platform_device_count=2" in flags
    assert f"XLA_FLAGS = {flags}" in note
    flags, quick, note = xla_flags(XLA_FLAGS=None, BACKPROP_PARITY_COMPILE="default")
    assert not any(f.split("=")[0] in flags for f in quick), flags
    assert flags == "--xla_force_host_platform_device_count=2" and f"XLA_FLAGS = {flags}" in note
