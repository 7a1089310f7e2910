"""TensorFlow as a *backend*: what ``check`` runs for ``--backend tf``.

Two styles (see ``reference/backend.py`` for the contract):

* ``tape``  — ``network.py``: tf.Variable weights, a persistent tf.GradientTape,
  keras.optimizers.SGD.apply_gradients;
* ``keras`` — ``idiomatic.py``: keras.Sequential of Dense layers, Keras loss
  objects, model.compile + model.fit, under tf.function (compile's default;
  ``trace_keras(case, run_eagerly=True)`` is the eager twin, tested to agree).
"""

from __future__ import annotations

import time

import numpy as np

from backprop_parity.reference.backend import Trace
from backprop_parity.reference.spec import key

from . import activations, calculus, idiomatic, losses, network, onednn_note


def trace_tape(case) -> Trace:
    start = time.perf_counter()
    values, missing, mapping = {}, {}, {}
    net, hyper = case.net, case.hyper
    if net is not None:
        values = network.trace(net, case.params, case.X, case.y, hyper, case.inputs)
        missing = network.missing(net)
        n = case.X.shape[net.example_axis]
        batch = network.steps_batch(net, hyper, case.X)
        s = hyper.scale(batch)
        mapping = {
            "parameters": (f"one tf.Variable per article parameter ({', '.join(case.params)}), in the article's "
                           f"{net.layout} layout, dtype {np.dtype(net.dtype).name}, loaded from the case"),
            "forward": ("Z = tf.matmul(A, W) (+ b)" if net.layout == "rows" else "Z = tf.matmul(W, A) (+ b)")
                       + (", A_aug = tf.concat([A, tf.ones]) (bias trick)" if net.trick else "")
                       + ", inside a persistent tf.GradientTape",
            "loss": f"{net.loss.formula}, written with TF ops and differentiated by the tape",
            "deltas": ("δ = tape.gradient(J, Z); ∂J/∂A = tape.gradient(J, A_in)"
                       + (" (the bias unit's column included)" if net.trick else "")
                       + "; g'(Z) = tape.gradient(g(Z), Z); ∂J/∂W = tape.gradient(J, W)"),
            "learning rate": f"learning_rate = α·s = {hyper.learning_rate:g}·{s:g} = {hyper.learning_rate * s:.10g}",
            "update": (f"keras.optimizers.SGD(learning_rate={hyper.learning_rate * s:.10g}).apply_gradients, "
                       + ("one step on all examples per epoch" if hyper.rule == "batch"
                          else f"one step per example in data order ({n} per epoch)")
                       + (f"; frozen {', '.join(sorted(net.frozen))} left out of apply_gradients"
                          if net.frozen else "")),
            "oneDNN": onednn_note(),
        }
        if hyper.l2:
            mapping["L2"] = (f"½λΣW² (λ = {hyper.l2:g}) added to J with tf ops"
                             + ("" if hyper.l2_bias else ", bias entries masked out")
                             + "; the tape's ∂J/∂W then includes λW")
        mapping.update(activations_notes(net, [values[key("Z", net.layer_number(l))] for l in range(net.depth)]))
    return Trace("tf", "tape", values, missing, time.perf_counter() - start, mapping)


def activations_notes(net, Zs) -> dict:
    """Where TensorFlow's activations differ from the case's: g'(0) conventions, the float32 leaky slope."""
    out = {}
    zero = [activations.at_zero_note(a, [Zs[l]], net.dtype) for l, a in enumerate(net.activations)]
    zero = [x for x in zero if x]
    if zero:
        out["activations at 0"] = "; ".join(dict.fromkeys(zero))
    leaky = [activations.leaky_relu_note(a, net.dtype) for a in net.activations]
    leaky = [x for x in leaky if x]
    if leaky:
        out["leaky_relu slope"] = "; ".join(dict.fromkeys(leaky))
    return out


def trace_keras(case, run_eagerly: bool = False) -> Trace:
    start = time.perf_counter()
    values, missing, mapping = {}, {}, {}
    if case.net is not None:
        values, missing, mapping = idiomatic.trace(case, run_eagerly=run_eagerly)
    return Trace("tf", "keras", values, missing, time.perf_counter() - start, mapping)


STYLES = {"tape": trace_tape, "keras": trace_keras}


EFFECTIVE_NOTE = ("tf.nn.leaky_relu and keras.layers.LeakyReLU keep the slope as a float32 op attribute, "
                  "so a slope of 0.01 acts as 0.009999999776…; the reference is run with that slope")


def effective_case(case):
    """The case as TensorFlow really computes it: every leaky_relu slope rounded to float32, because
    tf.nn.leaky_relu (and keras.layers.LeakyReLU) keep alpha as a float32 op attribute. The same case
    object when nothing changes. Running the reference on this case isolates that one difference: the
    parity tests hold TF to it at the float64 bounds (a hook for reports/compare.py, see the report)."""
    import dataclasses
    from backprop_parity.reference import activations as RA
    if case.net is None:
        return case
    acts = tuple(RA.make("leaky_relu", **{**a.params, "slope": float(np.float32(a.params["slope"]))})
                 if a.name == "leaky_relu" else a for a in case.net.activations)
    if acts == case.net.activations:
        return case
    return dataclasses.replace(case, net=dataclasses.replace(case.net, activations=acts))


def functions(dtype=np.float64) -> dict:
    """The case-expression functions, TensorFlow's way (tape derivatives, Keras loss objects)."""
    import tensorflow as tf
    tfd = tf.as_dtype(np.dtype(dtype))

    def arr(x):
        return tf.constant(np.asarray(x, dtype=float), dtype=tfd)

    out = {}
    for name, (g, g_prime) in activations.FUNCTIONS.items():
        out[f"act.{name}"] = lambda z, *p, g=g: g(arr(z), *p).numpy()
        out[f"act.{name}_prime"] = lambda z, *p, g_prime=g_prime: g_prime(arr(z), *p).numpy()
    for name in losses.TERMS:
        out[f"loss.{name}"] = lambda y_true, y_pred, f=getattr(losses, name): f(y_true, y_pred, dtype)
    out["calc.computation_graph"] = lambda a, b, c: calculus.computation_graph(a, b, c, dtype)
    out["calc.surface"] = lambda x, y: calculus.surface(x, y, dtype)
    out["calc.surface_gradient"] = lambda x, y: calculus.surface_gradient(x, y, dtype)
    out["calc.descent_step"] = lambda x, y, lr: calculus.descent_step(x, y, lr, dtype)
    return out
