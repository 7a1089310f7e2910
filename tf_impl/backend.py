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
from backprop_parity.reference.functions import table
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


def _constant(x, dtype):
    import tensorflow as tf
    return tf.constant(np.asarray(x, dtype=float), dtype=tf.as_dtype(np.dtype(dtype)))


def _act(name, z, dtype, **params):
    return activations.FUNCTIONS[name][0](_constant(z, dtype), **params).numpy()


def _act_prime(name, z, dtype, **params):
    return activations.FUNCTIONS[name][1](_constant(z, dtype), **params).numpy()


def functions(dtype=np.float64) -> dict:
    """The case-expression functions, TensorFlow's way (tape derivatives, Keras loss objects), in the table
    of ``reference/functions.py``."""
    return table(_act, _act_prime, losses.value, calculus, dtype=dtype)
