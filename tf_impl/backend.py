"""TensorFlow as a *backend*: what ``check`` runs for ``--backend tf``.

Two styles, each a module that keeps ``reference/contract.py`` (the trace itself is
assembled once, by ``reference/trace.py``):

* ``tape``  — ``network.py``: tf.Variable weights, a persistent tf.GradientTape,
  keras.optimizers.SGD.apply_gradients;
* ``keras`` — ``idiomatic.py``: keras.Sequential of Dense layers, Keras loss
  objects, model.compile + model.fit, under tf.function (compile's
  default; ``trace_keras(case, run_eagerly=True)`` is the eager twin, tested to agree).
"""

from __future__ import annotations

import numpy as np

from backprop_parity.reference.contract import Trace
from backprop_parity.reference.functions import table
from backprop_parity.reference.trace import trace_case

from . import activations, calculus, idiomatic, losses, mirrored, network, preprocessing

STYLES = {"tape": network, "keras": idiomatic, "mirrored": mirrored}


def trace(case, style: str) -> Trace:
    """One style on one case, as ``check`` runs it."""
    return trace_case("tf", style, STYLES[style], case)


def trace_keras(case, run_eagerly: bool = False) -> Trace:
    """The Keras style with compile(run_eagerly=…) and J evaluated eagerly or under tf.function."""
    with idiomatic.executing(eagerly=run_eagerly):
        return trace(case, "keras")


EFFECTIVE_NOTE = ("tf.nn.leaky_relu and keras.layers.LeakyReLU keep the slope as a float32 op attribute, "
                  "so a slope of 0.01 acts as 0.009999999776…; the reference is run with that slope")
CONSTANTS_NOTE = ("Keras on TensorFlow casts the optimizer's Python-float {names} with ops.cast, which makes a float32 "
                  "constant first (tf.cast(0.9, float64) = 0.8999999761…); the reference uses them so rounded")
# which of an optimizer's constants Keras' update_step passes through ops.cast (keras/src/optimizers/*.py)
FLOAT32_CONSTANTS = {"momentum": ("momentum",), "nesterov": ("momentum",), "adam": ("beta powers",),
                     "adamw": ("beta powers", "weight_decay")}


def effective_case(case):
    """The case as TensorFlow really computes it, and why: every leaky_relu slope rounded to float32, because
    tf.nn.leaky_relu (and keras.layers.LeakyReLU) keep alpha as a float32 op attribute; the optimizer constants
    Keras casts through float32. The same case object when nothing changes, else (case, note). Running the
    reference on it isolates those differences: the parity tests hold TF to it at the float64 bounds."""
    import dataclasses
    from backprop_parity.reference import activations as RA
    if case.net is None:
        return case
    notes = []
    acts = tuple(RA.make("leaky_relu", **{**a.params, "slope": float(np.float32(a.params["slope"]))})
                 if a.name == "leaky_relu" else a for a in case.net.activations)
    if acts != case.net.activations:
        case = dataclasses.replace(case, net=dataclasses.replace(case.net, activations=acts))
        notes.append(EFFECTIVE_NOTE)
    h = case.hyper
    rounded = tuple(c for c in FLOAT32_CONSTANTS.get(h.optimizer, ())
                    if any(float(np.float32(x)) != x for x in _values(h, c)))
    if rounded:
        case = dataclasses.replace(case, hyper=dataclasses.replace(h, float32_constants=rounded))
        notes.append(CONSTANTS_NOTE.format(names=", ".join(rounded)))
    return (case, "; ".join(notes)) if notes else case


def _values(hyper, constant: str) -> tuple:
    return {"momentum": (hyper.momentum,), "beta powers": (hyper.beta1, hyper.beta2),
            "weight_decay": (hyper.weight_decay,)}[constant]


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
    return table(_act, _act_prime, losses.value, calculus, preprocessing, losses, dtype=dtype)
