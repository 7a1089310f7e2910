"""Costs J(y, ŷ) as Keras loss objects: what a Keras user compiles.

Mirrors ``reference/losses.py``. (The GradientTape style writes the article's terms
with TF ops where it uses them, in ``network.py``.) Keras has no ½ and averages; the
value of a Keras loss object (``keras_loss``) is a fixed multiple of the article's J,
derived here once and used by every caller:

  Keras' element term t is (y − ŷ)² (MeanSquaredError) or the cross-entropy term
  (BinaryCrossentropy). The article's term is r·t (r = ½ for half_sse, else 1).
  ``reduction="sum_over_batch_size"`` gives the mean of t over all N elements
  of the batch (mean over the outputs, then over the examples). So

      J = Σ r·t = r·N·keras   (article losses that sum)
      J = mean r·t = r·keras  (article losses that average)

  i.e. J = m·keras with m = r·N or r (keras = c·J, c = 1/m). ``reduction=None``
  gives one value per example (the mean over its k outputs): J_each = m_each·keras_each
  with m_each = r·k or r. m is exact (a multiple of ½), so J = m·keras costs one rounding.

  CategoricalCrossentropy sums each example's classes and averages over the examples, as the
  article's cce does: m = 1 and m_each = 1. After a softmax layer Keras on TensorFlow finds the
  layer's logits on ŷ and computes the loss from them; from plain probabilities it divides ŷ by
  its sum and clips it to [ε, 1 − ε] first.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# article term / Keras element term
TERM_RATIO = {"half_sse": 0.5, "mse": 1.0, "squared_error": 1.0, "bce": 1.0, "cce": 1.0, "output_sum": 1.0}
KERAS_CLASS = {"half_sse": "MeanSquaredError", "mse": "MeanSquaredError", "squared_error": "MeanSquaredError",
               "bce": "BinaryCrossentropy", "cce": "CategoricalCrossentropy", "output_sum": "OutputSum"}


class OutputSum(keras.losses.Loss):
    """J = Σ ŷ as a Keras loss (Keras has none: a user subclasses keras.losses.Loss). Like Keras' own losses it
    gives each example the mean of its outputs, which the reduction then averages over the batch; y_true is not
    read."""

    def call(self, y_true, y_pred):
        return keras.ops.mean(y_pred, axis=-1)                             # [step:cost:output_sum] an example's mean output


def keras_loss(loss, dtype, reduction="sum_over_batch_size"):
    """The Keras loss object for this article loss, computing in ``dtype``."""
    cls = OutputSum if loss.name == "output_sum" else getattr(keras.losses, KERAS_CLASS[loss.name])
    return cls(reduction=reduction, dtype=np.dtype(dtype).name)


def keras_name(loss) -> str:
    """How the report names the Keras loss class: keras.losses.X, or this module's own subclass."""
    if loss.name == "output_sum":
        return "OutputSum (a keras.losses.Loss whose call is keras.ops.mean(ŷ, axis=-1))"
    return f"keras.losses.{KERAS_CLASS[loss.name]}"


def keras_multiplier(loss, n_elements: int) -> float:
    """m in J = m·keras_value, for a batch of ``n_elements`` numbers (examples × outputs): m = 1/c."""
    r = TERM_RATIO[loss.name]
    return r * n_elements if loss.reduce == "sum" else r      # "mean" and "example_mean": Keras averages the same way


def keras_multiplier_each(loss, n_outputs: int) -> float:
    """m_each in J_each = m_each·keras_each (one example of ``n_outputs`` numbers): the same rule per example."""
    return keras_multiplier(loss, n_outputs)


def keras_formula(loss, n_elements: int) -> str:
    r = TERM_RATIO[loss.name]
    m = keras_multiplier(loss, n_elements)
    how = f"m = r·N = {r:g}·{n_elements} = {m:g}" if loss.reduce == "sum" else f"m = r = {m:g}"
    over = ("N = examples in the batch: it sums each example's classes" if loss.reduce == "example_mean"
            else "N = examples × outputs in the batch")
    return (f"{loss.formula}  =  m · {keras_name(loss)}(reduction='sum_over_batch_size'), "
            f"{how} (r = article term / Keras term; {over}; Keras = c·J, c = 1/m)")


def value(name: str, y_true, y_pred, dtype=np.float64):
    """J of the loss ``name`` for a case expression such as loss.mse(y_true, y_pred): the Keras loss
    object's value times m (= divided by c)."""
    from backprop_parity.reference.losses import LOSSES
    loss = LOSSES[name]
    tfd = tf.as_dtype(np.dtype(dtype))
    shape = (-1, np.shape(y_true)[-1]) if loss.reduce == "example_mean" else (1, -1)   # classes: one row per example
    y = tf.reshape(tf.constant(np.asarray(y_true, dtype=float), dtype=tfd), shape)      # else one batch row: Keras
    yhat = tf.reshape(tf.constant(np.asarray(y_pred, dtype=float), dtype=tfd), shape)   # means over all of it
    J = keras_loss(loss, dtype)(y, yhat) * keras_multiplier(loss, int(tf.size(y)))
    return J.numpy()


# --------------------------------------------------------------------------- the cross-entropy forms (reference/losses.py)
# Keras' calls: CategoricalCrossentropy(from_logits=True) with one-hot rows, SparseCategoricalCrossentropy with
# class indices (from probabilities or logits). ∂J/∂z by tf.GradientTape.

def _rows(x, dtype):
    return tf.reshape(tf.constant(np.atleast_2d(np.asarray(x, dtype=float)), dtype=tf.as_dtype(np.dtype(dtype))),
                      (-1, np.shape(np.atleast_2d(x))[-1]))


def _classes(labels, k):
    from backprop_parity.reference.losses import class_indices
    return tf.constant(class_indices(labels, k))                           # int64 class indices


def _keras(name, dtype, **kw):
    return getattr(keras.losses, name)(dtype=np.dtype(dtype).name, **kw)


def cce_logits(y, z, dtype=np.float64):
    return _keras("CategoricalCrossentropy", dtype, from_logits=True)(_rows(y, dtype), _rows(z, dtype)).numpy()  # [step:cost]


def sparse_cce(labels, yhat, dtype=np.float64):
    yhat = _rows(yhat, dtype)
    return _keras("SparseCategoricalCrossentropy", dtype)(_classes(labels, yhat.shape[1]), yhat).numpy()         # [step:cost]


def sparse_cce_logits(labels, z, dtype=np.float64):
    z = _rows(z, dtype)
    return _keras("SparseCategoricalCrossentropy", dtype, from_logits=True)(_classes(labels, z.shape[1]), z).numpy()  # [step:cost]


def _logits_delta(loss, target, z):
    with tf.GradientTape() as tape:
        tape.watch(z)
        J = loss(target, z)
    return tape.gradient(J, z).numpy()                                     # [step:output-delta] tape.gradient(J, z)


def cce_logits_delta(y, z, dtype=np.float64):
    return _logits_delta(_keras("CategoricalCrossentropy", dtype, from_logits=True), _rows(y, dtype), _rows(z, dtype))


def sparse_cce_logits_delta(labels, z, dtype=np.float64):
    z = _rows(z, dtype)
    return _logits_delta(_keras("SparseCategoricalCrossentropy", dtype, from_logits=True),
                         _classes(labels, z.shape[1]), z)

