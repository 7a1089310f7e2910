"""One training step of the benchmark network in TensorFlow, as its users write it (``reference/bench.py``).

``tf.Variable`` s, a ``tf.GradientTape`` and ``assign_sub``, the whole step one ``tf.function``
(traced once, then a graph call).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from backprop_parity.reference import bench


def step(sizes=bench.SIZES, batch: int = 256, dtype=np.float64):
    params_np, X_np, y_np = bench.problem(sizes, batch, dtype)
    params = {k: tf.Variable(v) for k, v in params_np.items()}
    X, y = tf.constant(X_np), tf.constant(y_np)
    depth = len(sizes) - 1
    lr = tf.constant(bench.LEARNING_RATE / batch, dtype=X.dtype)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            A = X
            for l in range(1, depth + 1):
                Z = A @ params[f"W{l}"] + params[f"b{l}"]
                A = tf.sigmoid(Z) if l == depth else tf.nn.relu(Z)
            loss = 0.5 * tf.reduce_sum((y - A) ** 2)
        names = list(params)
        grads = tape.gradient(loss, [params[k] for k in names])
        for k, g in zip(names, grads):
            params[k].assign_sub(lr * g)
        return loss

    def run():
        train_step()
    return run, "tf.function of a GradientTape step, Variable.assign_sub"
