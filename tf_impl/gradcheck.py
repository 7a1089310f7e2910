"""Gradient checking by centered differences (Courtial, chapter 7), on TensorFlow's forward pass.

Mirrors ``reference/gradcheck.py``: V2 = (J(w + h) − J(w − h)) / 2h for every
entry, one at a time, where J is the style's own forward pass and cost (TF ops,
or the Keras model and loss objects); V1 is the tape's gradient.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from backprop_parity.reference.spec import param_key


def perturbed(params: dict, name: str, index: tuple, delta: float) -> dict:
    """A copy of params with one entry moved by delta (the others shared, unchanged)."""
    p = params[name]
    moved = tf.tensor_scatter_nd_add(p, [list(index)], tf.constant([delta], dtype=p.dtype))
    return {**params, name: moved}


def numerical_gradient(J, params: dict, h: float) -> dict:
    """Centered differences for every entry of every parameter. J(params) -> (cost, yhat)."""
    numerical = {}
    for name, p in params.items():
        entries = []
        for index in np.ndindex(*p.shape):
            J_plus = J(perturbed(params, name, index, h))[0]
            J_minus = J(perturbed(params, name, index, -h))[0]
            entries.append((J_plus - J_minus) / (2 * h))                # [step:gradcheck] (J+ − J−) / 2h
        numerical[name] = tf.reshape(tf.stack(entries), p.shape)
    return numerical


def relative_error(V1, V2) -> float:
    """‖V1 − V2‖ / ‖V1 + V2‖ (0 when both vectors are exactly zero)."""
    num = tf.norm(V1 - V2)
    den = tf.norm(V1 + V2)
    return float(num / den) if float(den) else (0.0 if float(num) == 0 else float("inf"))


def flatten(grads: dict, names):
    return tf.concat([tf.reshape(tf.convert_to_tensor(grads[n]), [-1]) for n in names], axis=0)


def probe(hyper, params: dict, J, prefix: str) -> dict:
    """The numbers of one perturbed entry, as Courtial prints them for W1[0, 0]."""
    name, index = hyper.probe
    J_plus, A_plus = J(perturbed(params, name, index, hyper.h))
    J_minus, A_minus = J(perturbed(params, name, index, -hyper.h))
    return {
        f"{prefix}.A_plus": np.asarray(A_plus), f"{prefix}.A_minus": np.asarray(A_minus),
        f"{prefix}.J_plus": J_plus.numpy(), f"{prefix}.J_minus": J_minus.numpy(),
        f"{prefix}.numerical": ((J_plus - J_minus) / (2 * hyper.h)).numpy(),
    }


def check(params: dict, grads: dict, J, hyper) -> dict:
    """Numerical gradient, relative error against the tape's gradient, and the probe at the initial parameters."""
    numerical = numerical_gradient(J, params, hyper.h)
    names = list(params)
    out = {param_key("gradcheck.numerical", n): numerical[n].numpy() for n in names}
    out["gradcheck.rel_error"] = relative_error(flatten(grads, names), flatten(numerical, names))
    if hyper.probe:
        out.update(probe(hyper, params, J, "gradcheck.probe"))
    return out
