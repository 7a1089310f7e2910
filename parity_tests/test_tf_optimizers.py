"""Keras' optimizers on TensorFlow, measured: which Python-float constants go through float32.

Keras' update steps cast some hyper-parameters with ``ops.cast(x, variable.dtype)``; on TensorFlow that
is ``tf.cast``, which turns a Python float into a float32 constant before casting it to float64. So on
float64 variables SGD's momentum acts as 0.8999999761…, Adam's bias correction uses β1, β2 rounded
to float32 (its moment updates use the exact ``1 − β``), AdamW's decay λ too, while RMSprop's ρ and
every ε stay exact. ``tf_impl.backend.effective_case`` declares exactly that, and the reference reruns
the case with those constants rounded; these tests hold the declaration to what Keras does.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_parity.reference.case import load


@pytest.fixture(scope="module")
def K(tf_backend):
    import keras
    import tensorflow as tf
    from backprop_parity.tf_impl import floatx
    return keras, tf, floatx


def steps(K, make, grads):
    """Updates of one float64 variable from 0 by the optimizer ``make(keras)`` builds (in float64, as the styles
    build theirs: its learning rate is then a float64 variable)."""
    keras, tf, floatx = K
    with floatx(np.float64):
        opt = make(keras)
        var = tf.Variable(np.zeros(1), dtype=tf.float64)
        opt.build([var])
        for g in grads:
            opt.apply_gradients([(tf.constant([g], tf.float64), var)])
    return float(var.numpy()[0]), opt


def test_sgd_momentum_is_a_float32_constant(K):
    got, opt = steps(K, lambda keras: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), [1.0, 1.0])
    mu32 = float(np.float32(0.9))
    assert got == -0.1 + (mu32 * -0.1 - 0.1)          # v1 = −lr·g; v2 = μ32·v1 − lr·g; p = v1 + v2
    assert got != -0.1 + (0.9 * -0.1 - 0.1)


def test_adam_bias_correction_uses_float32_betas_and_exact_eps(K):
    g, lr, eps = 0.25, 0.01, 1e-3
    got, _ = steps(K, lambda keras: keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=eps), [g])
    b1, b2 = float(np.float32(0.9)), float(np.float32(0.999))
    m, v = (1 - 0.9) * g, (1 - 0.999) * g * g
    rounded = -(m * (lr * np.sqrt(1 - b2) / (1 - b1))) / (np.sqrt(v) + eps)
    exact = -(m * (lr * np.sqrt(1 - 0.999) / (1 - 0.9))) / (np.sqrt(v) + eps)
    assert got == pytest.approx(rounded, rel=4e-16) and abs(got - exact) > 1e-10 * abs(exact)


def test_rmsprop_keeps_rho_and_eps_exact(K):
    g, lr, eps = 0.25, 0.01, 1e-3
    got, _ = steps(K, lambda keras: keras.optimizers.RMSprop(learning_rate=lr, rho=0.9, epsilon=eps), [g])
    assert got == pytest.approx(-(lr * g) / np.sqrt(0.9 * 0 + (1 - 0.9) * g * g + eps), rel=4e-16)


def test_the_effective_case_rounds_what_keras_rounds(tf_backend):
    from backprop_parity.tf_impl.backend import effective_case
    case, note = effective_case(load("optim-adamw"))
    assert case.hyper.float32_constants == ("beta powers", "weight_decay") and "float32" in note
    case, note = effective_case(load("optim-momentum-drop"))
    assert case.hyper.float32_constants == ("momentum",)
    rms = load("optim-rmsprop")
    assert effective_case(rms) is rms                  # nothing rounded: the case itself
