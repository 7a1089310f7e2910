"""TensorFlow as a *backend*: what ``check`` runs for ``--backend tf``.

Two styles, each a module that keeps ``reference/contract.py`` (the trace itself is
assembled once, by ``reference/trace.py``):

* ``tape``  — ``network.py``: tf.Variable weights, a persistent tf.GradientTape,
  keras.optimizers.SGD.apply_gradients;
* ``keras`` — ``idiomatic.py``: keras.Sequential of Dense layers, Keras loss
  objects, model.compile + model.train_on_batch, under tf.function (compile's
  default; ``trace_keras(case, run_eagerly=True)`` is the eager twin, tested to agree).
"""

from __future__ import annotations

import numpy as np

from backprop_parity.reference.contract import Trace
from backprop_parity.reference.trace import trace_case

from . import activations, calculus, idiomatic, losses, network

STYLES = {"tape": network, "keras": idiomatic}


def trace(case, style: str) -> Trace:
    """One style on one case, as ``check`` runs it."""
    return trace_case("tf", style, STYLES[style], case)


def trace_keras(case, run_eagerly: bool = False) -> Trace:
    """The Keras style with compile(run_eagerly=…) and J evaluated eagerly or under tf.function."""
    with idiomatic.executing(eagerly=run_eagerly):
        return trace(case, "keras")


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
