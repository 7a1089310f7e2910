"""JAX as a *backend*: what ``check`` runs for ``--backend jax``.

Same two names as ``reference/backend.py``:

* ``STYLES``: {"grad": ``network`` (jax.grad / jax.vjp, optax), "keras": ``keras_style`` (Keras 3 on
  the JAX backend), "sharded": ``sharded`` (data parallel over 2 CPU devices)} — style modules that keep
  ``reference/contract.py``; the shared trace assembly
  (``reference/trace.py``) calls them;
* ``functions(dtype)``: act.*, loss.*, calc.* computed the JAX way (derivatives by ``jax.grad``,
  losses by optax / jax.numpy, the calculus examples by ``jax.vjp``, ``jax.grad`` and ``optax.sgd``), in the
  table of ``reference/functions.py``.

``NOTES`` is added to every trace's mapping. There is no ``effective_case``: JAX computes the
case as given (its leaky slope is a float64 operand, unlike TensorFlow's float32 attribute);
where XLA's float64 really differs from NumPy's, the case files say so with ``differs``.

The keras style needs ``KERAS_BACKEND=jax`` in the environment before keras is imported (the
registry's worker sets it from ``info.BACKEND.env``); importing this module does not import keras.
"""

from __future__ import annotations

import numpy as np

from backprop_parity.reference.functions import table

from . import (activations, array, calculus, jax_dtype, keras_style, losses, network, platform_note, preprocessing,
               sharded)

STYLES = {"grad": network, "keras": keras_style, "sharded": sharded}

FUNCTIONS_NOTE = ("act.* by jax.nn / jax.numpy, their derivatives by jnp.vectorize(jax.grad(g)); loss.* by "
                  "optax.losses (l2_loss, squared_error) and jax.scipy.special.xlogy, reduced with jnp.sum / "
                  "jnp.mean; calc.* by jax.vjp (the computation graph), jax.grad and optax.sgd; prep.standardize by "
                  "jax.nn.standardize with its defaults (ε = 1e-5 added to the variance), the rest by jax.numpy")
NOTES = {"functions": FUNCTIONS_NOTE, "platform": platform_note()}


def _act(name, z, dtype, **params):
    return np.asarray(activations.FUNCTIONS[name][0](array(z, dtype), **params))


def _act_prime(name, z, dtype, at_zero=None, **params):
    return np.asarray(activations.checked_prime(name, array(z, dtype), at_zero, **params))


def functions(dtype=np.float64) -> dict:
    jax_dtype(dtype)     # refuse anything but float64 / float32 (and float64 without x64)
    return table(_act, _act_prime, losses.value, calculus, preprocessing, losses, dtype=dtype)
