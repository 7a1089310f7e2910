"""JAX as a *backend*: what ``check`` runs for ``--backend jax``.

Same two names as ``reference/backend.py``:

* ``STYLES``: {"grad": ``network`` (jax.grad / jax.vjp, optax), "keras": ``keras_style`` (Keras 3 on
  the JAX backend)} — style modules that keep ``reference/contract.py``; the shared trace assembly
  (``reference/trace.py``) calls them;
* ``functions(dtype)``: act.*, loss.*, calc.* computed the JAX way (derivatives by ``jax.grad``,
  losses by optax / jax.numpy, the calculus examples by ``jax.vjp``, ``jax.grad`` and ``optax.sgd``).

``NOTES`` is added to every trace's mapping. There is no ``effective_case``: JAX computes the
case as given (its leaky slope is a float64 operand, unlike TensorFlow's float32 attribute);
where XLA's float64 really differs from NumPy's, the case files say so with ``differs``.

The keras style needs ``KERAS_BACKEND=jax`` in the environment before keras is imported (the
registry's worker sets it from ``info.BACKEND.env``); importing this module does not import keras.
"""

from __future__ import annotations

import numpy as np

from . import activations, array, calculus, jax_dtype, keras_style, losses, network, platform_note

STYLES = {"grad": network, "keras": keras_style}

FUNCTIONS_NOTE = ("act.* by jax.nn / jax.numpy, their derivatives by jnp.vectorize(jax.grad(g)); loss.* by "
                  "optax.losses (l2_loss, squared_error) and jax.scipy.special.xlogy, reduced with jnp.sum / "
                  "jnp.mean; calc.* by jax.vjp (the computation graph), jax.grad and optax.sgd")
NOTES = {"functions": FUNCTIONS_NOTE, "platform": platform_note()}


def _act(name, dtype):
    g, names = activations.FUNCTIONS[name][0], activations.FUNCTIONS[name][1]

    def act(z, *p):
        if len(p) > len(names):
            raise TypeError(f"act.{name} takes at most {len(names)} parameters ({', '.join(names) or 'none'})")
        return np.asarray(g(array(z, dtype), **dict(zip(names, p))))
    return act


def _act_prime(name, dtype):
    names = activations.FUNCTIONS[name][1]
    accepts = names + (("at_zero",) if name in activations.HAS_AT_ZERO else ())

    def act_prime(z, *p):
        if len(p) > len(accepts):
            raise TypeError(f"act.{name}_prime takes at most {len(accepts)} parameters ({', '.join(accepts)})")
        params = dict(zip(accepts, p))
        at_zero = params.pop("at_zero", None)
        return np.asarray(activations.checked_prime(name, array(z, dtype), at_zero, **params))
    return act_prime


def functions(dtype=np.float64) -> dict:
    jax_dtype(dtype)     # refuse anything but float64 / float32 (and float64 without x64)
    out = {}
    for name in activations.FUNCTIONS:
        out[f"act.{name}"] = _act(name, dtype)
        out[f"act.{name}_prime"] = _act_prime(name, dtype)
    for name in losses.TERMS:
        out[f"loss.{name}"] = lambda y_true, y_pred, f=getattr(losses, name): f(y_true, y_pred, dtype)
    out["calc.computation_graph"] = lambda a, b, c: calculus.computation_graph(a, b, c, dtype)
    out["calc.surface"] = lambda x, y: calculus.surface(x, y, dtype)
    out["calc.surface_gradient"] = lambda x, y: calculus.surface_gradient(x, y, dtype)
    out["calc.descent_step"] = lambda x, y, lr: calculus.descent_step(x, y, lr, dtype)
    return out
