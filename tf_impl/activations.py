"""Activation functions g(Z) as TensorFlow computes them; g'(Z) by tf.GradientTape.

Mirrors ``reference/activations.py``: the same names, but every g is a
TensorFlow op (``tf.nn.*``; ELU with a parameter via ``keras.activations.elu``,
because ``tf.nn.elu`` has no alpha) and every g' is the tape's gradient of that
op — never a hand-written formula.

tf.nn.leaky_relu's slope is an op attribute of type float (32-bit): slope 0.01
acts as 0.009999999776482582 even on float64 tensors (``leaky_relu_note``).

Value at exactly 0 is TensorFlow's, measured (``at_zero_value``) rather than
assumed: relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = 1 for alpha = 1 but
alpha otherwise (Keras computes ELU(alpha) as where(x > 0, elu(x), alpha·elu(x))).
Where a caller asks for a different ``at_zero`` *and* an argument is exactly 0,
the value cannot be produced the framework's way: :class:`NoCounterpart`.

Softmax is not element-wise: its g'(Z) is each example's Jacobian, ``tape.batch_jacobian``
(examples first, (n, k, k), as the reference's).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from backprop_parity.reference.activations import forward_params
from backprop_parity.reference.expr import NoCounterpart


def identity(Z):
    return tf.identity(Z)


def sigmoid(Z):
    return tf.nn.sigmoid(Z)


def tanh(Z):
    return tf.nn.tanh(Z)


def relu(Z):
    return tf.nn.relu(Z)


def leaky_relu(Z, slope=0.01):
    return tf.nn.leaky_relu(Z, alpha=slope)


def elu(Z, alpha=1.0):
    return keras.activations.elu(Z, alpha=alpha)


def softmax(Z, axis=-1):
    return tf.nn.softmax(Z, axis=axis)


def jacobian(g, Z, axis=-1):
    """g'(Z) of a softmax-like g: each example's Jacobian ∂A_i/∂Z_j by ``tape.batch_jacobian`` (classes along
    ``axis``), examples first: (n, k, k); a single vector gives one (k, k) by ``tape.jacobian``."""
    Z = tf.convert_to_tensor(Z)
    Z = Z if axis in (-1, Z.shape.rank - 1) else tf.transpose(Z)          # classes last
    with tf.GradientTape() as tape:
        tape.watch(Z)
        A = g(Z, axis=-1)
    return tape.jacobian(A, Z) if Z.shape.rank == 1 else tape.batch_jacobian(A, Z)   # [step:output-delta] softmax's Jacobian: tape.batch_jacobian


def derivative(g, Z, **params):
    """g'(Z) by the tape: g acts element-wise, so ∂(Σ g(Z))/∂Z = g'(Z)."""
    Z = tf.convert_to_tensor(Z)
    with tf.GradientTape() as tape:
        tape.watch(Z)
        A = g(Z, **params)
    return tape.gradient(A, Z, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def at_zero_value(name: str, dtype=np.float64, **params) -> float:
    """What TensorFlow's tape gives for g'(0) (measured)."""
    return float(derivative(FUNCTIONS[name][0], tf.zeros((), dtype=tf.as_dtype(np.dtype(dtype))), **params).numpy())


def _honoured(name, at_zero, tf_value, params) -> bool:
    """Does TensorFlow's value at 0 honour the requested one? For leaky_relu TF's convention is "the
    slope", which it returns rounded to float32 like the slope everywhere else (see ``leaky_relu_note``)."""
    return float(at_zero) == tf_value or (name == "leaky_relu" and float(at_zero) == float(params["slope"]))


def _prime(name, Z, at_zero, **params):
    Z = tf.convert_to_tensor(Z)
    if at_zero is not None:
        tf_value = at_zero_value(name, Z.dtype.as_numpy_dtype, **params)
        if not _honoured(name, at_zero, tf_value, params) and bool(tf.reduce_any(Z == 0)):
            raise NoCounterpart(f"act.{name}_prime",
                                f"TensorFlow's tape gives {name}'(0) = {tf_value:g}; at_zero = {float(at_zero):g} "
                                f"cannot be asked of it")
    return derivative(FUNCTIONS[name][0], Z, **params)


def softmax_prime(Z, axis=-1):
    return jacobian(softmax, Z, axis)


def identity_prime(Z):
    return _prime("identity", Z, None)


def sigmoid_prime(Z):
    return _prime("sigmoid", Z, None)


def tanh_prime(Z):
    return _prime("tanh", Z, None)


def relu_prime(Z, at_zero=0.0):
    return _prime("relu", Z, at_zero)


def leaky_relu_prime(Z, slope=0.01, at_zero=None):
    return _prime("leaky_relu", Z, slope if at_zero is None else at_zero, slope=slope)


def elu_prime(Z, alpha=1.0, at_zero=1.0):
    return _prime("elu", Z, at_zero, alpha=alpha)


# name -> (g, g')
FUNCTIONS = {
    "identity": (identity, identity_prime),
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
    "elu": (elu, elu_prime),
    "softmax": (softmax, softmax_prime),
}


def at_zero_note(act, Zs, dtype=np.float64) -> str | None:
    """When a layer's at_zero differs from TensorFlow's: what TF gives and how many Z are exactly 0."""
    if "at_zero" not in act.params and act.name != "leaky_relu":
        return None
    wanted = act.params.get("at_zero", act.params.get("slope"))
    tf_value = at_zero_value(act.name, dtype, **forward_params(act))
    if wanted is None or _honoured(act.name, wanted, tf_value, forward_params(act)):
        return None
    zeros = int(sum(int(tf.reduce_sum(tf.cast(tf.equal(Z, 0), tf.int32))) for Z in Zs))
    return (f"{act.label}: the case asks g'(0) = {float(wanted):g}, TensorFlow's tape gives {tf_value:g}; "
            f"{zeros} entries of Z are exactly 0 here" + (" (so the difference does not show)" if not zeros else ""))


def leaky_relu_note(act, dtype=np.float64) -> str | None:
    """tf.nn.leaky_relu keeps alpha as a float32 op attribute: the slope TF really uses."""
    if act.name != "leaky_relu":
        return None
    slope = float(act.params["slope"])
    used = float(leaky_relu(tf.constant(-1.0, dtype=tf.as_dtype(np.dtype(dtype))), slope).numpy()) * -1.0
    if used == slope:
        return None
    return (f"leaky_relu slope {slope:g}: tf.nn.leaky_relu (and keras.layers.LeakyReLU) keep alpha as a float32 "
            f"op attribute, so TensorFlow multiplies by {used!r} (relative {abs(used - slope) / slope:.1e}) in g "
            f"and g'; every number downstream of a negative Z differs from float64 by about that much")


def keras_label(act) -> str:
    p = forward_params(act)
    if act.name == "relu":
        return "keras.layers.ReLU()"
    if act.name == "leaky_relu":
        return f"keras.layers.LeakyReLU(negative_slope={p['slope']:g})"
    if act.name == "elu":
        return f"keras.layers.ELU(alpha={p['alpha']:g})"
    if act.name == "softmax":
        return "keras.layers.Softmax(axis=-1)"
    return f"keras.layers.Activation({ {'identity': 'linear'}.get(act.name, act.name)!r})"
