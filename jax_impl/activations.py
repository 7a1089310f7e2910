"""Activations g(Z) as JAX computes them (``jax.nn`` / ``jax.numpy``), and g'(Z) by ``jax.grad`` — never by hand.

Mirrors ``reference/activations.py``: the same names and the same optional parameters
(``slope`` of leaky ReLU, ``alpha`` of ELU). Each g acts element-wise, so its
derivative is ``jnp.vectorize(jax.grad(g))``: the gradient of the scalar function,
mapped over every entry (any shape).

JAX's own conventions, measured by ``jax_at_zero`` rather than assumed:

* relu'(0) = 0        (``jax.nn.relu`` has a custom JVP: 0 at exactly 0, as torch and TF)
* leaky_relu'(0) = 1  (``jax.nn.leaky_relu`` is ``where(x >= 0, x, slope·x)``: the x branch at 0,
                       which is the deeplearning.ai notes' convention, not the reference's default slope)
* elu'(0) = alpha     (``jax.nn.elu`` takes the expm1 branch at 0: alpha·(expm1(0) + 1))

and where XLA's float64 differs from NumPy's (asserted in the case files, never hidden):

* ``jnp.tanh`` rounds to ±1 only from |z| = 20 on; for 19.1 ≲ |z| < 20 it stops 7 ulps short
  (1 − 7.8e-16), so tanh'(z) = (1 + t)(1 − t) = 1.6e-15 there where NumPy's is exactly 0;
* the ELU's derivative is the JVP of expm1, g·(expm1(z) + 1): for z ≪ 0 that adds 1 to
  −1 + e^z, so it carries an absolute rounding of ~1e-16 (relative 1e-5 at z = −26) and is
  exactly 0 below z ≈ −37.4, where NumPy's alpha·e^z is still ≈ 5e-17;
* XLA's CPU kernels flush subnormal results to 0: σ(z) = 0 for z < −708 (NumPy: down to 5e-324).

Softmax is not element-wise: its g'(Z) is each example's Jacobian, ``jax.vmap(jax.jacrev(softmax))``
(examples first, (n, k, k), as the reference's).

A case's ``at_zero`` that differs from JAX's value cannot be honoured by JAX: the network
uses JAX's value (its mapping says so and counts the exact zeros); the ``act.*_prime``
functions raise ``NoCounterpart`` when an argument is exactly 0.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from backprop_parity.reference import activations as RA
from backprop_parity.reference.activations import forward_params
from backprop_parity.reference.expr import NoCounterpart


def identity(Z):
    return Z


def sigmoid(Z):
    return jax.nn.sigmoid(Z)


def tanh(Z):
    return jnp.tanh(Z)


def relu(Z):
    return jax.nn.relu(Z)


def leaky_relu(Z, slope=0.01):
    return jax.nn.leaky_relu(Z, negative_slope=slope)


def elu(Z, alpha=1.0):
    return jax.nn.elu(Z, alpha=alpha)


def softmax(Z, axis=-1):
    return jax.nn.softmax(Z, axis=axis)


# name -> (g, the JAX call as the report prints it)
FUNCTIONS = {
    "identity": (identity, "Z (identity)"),
    "sigmoid": (sigmoid, "jax.nn.sigmoid"),
    "tanh": (tanh, "jnp.tanh"),
    "relu": (relu, "jax.nn.relu"),
    "leaky_relu": (leaky_relu, "jax.nn.leaky_relu"),
    "elu": (elu, "jax.nn.elu"),
    "softmax": (softmax, "jax.nn.softmax"),
}
# JAX's keyword for each forward parameter
KEYWORDS = {"slope": "negative_slope", "alpha": "alpha", "axis": "axis"}


def function(act):
    """One layer's g as a function of Z alone (what ``jax.vjp`` and ``jax.grad`` take)."""
    return functools.partial(FUNCTIONS[act.name][0], **forward_params(act))


def prime(g, Z):
    """g'(Z) for an element-wise g: jax.grad of the scalar g, vectorized over every entry of Z."""
    return jnp.vectorize(jax.grad(g))(Z)


def jacobian(g, Z, axis=-1):
    """g'(Z) of a softmax-like g (classes along ``axis``): each example's Jacobian by jax.jacrev, mapped over the
    examples by jax.vmap, examples first: (n, k, k); a single vector gives one (k, k)."""
    Z = jnp.moveaxis(Z, axis, -1)
    one = jax.jacrev(lambda z: g(z, axis=-1))                                # [step:output-delta] softmax's Jacobian: jax.jacrev
    return one(Z) if Z.ndim == 1 else jax.vmap(one)(Z)


def g_prime(act, Z):
    if not act.elementwise:
        return jacobian(FUNCTIONS[act.name][0], Z, act.params["axis"])
    return prime(function(act), Z)


def jax_at_zero(name: str, dtype=jnp.float64, **params) -> float:
    """g'(0) as jax.grad gives it (observed, not assumed)."""
    return float(jax.grad(functools.partial(FUNCTIONS[name][0], **params))(jnp.zeros((), dtype)))


def checked_prime(name: str, Z, at_zero=None, **params):
    """g'(Z) by jax.grad; when a caller asks for an ``at_zero`` JAX does not give and Z has an exact 0:
    NoCounterpart (the value cannot be produced the framework's way)."""
    if name == "softmax":
        return jacobian(softmax, Z, **params)
    d = prime(functools.partial(FUNCTIONS[name][0], **params), Z)
    if at_zero is not None and bool(jnp.any(Z == 0)):
        got = jax_at_zero(name, Z.dtype, **params)
        if got != float(at_zero):
            raise NoCounterpart(f"act.{name}_prime", f"jax.grad through {FUNCTIONS[name][1]} gives "
                                                     f"{name}'(0) = {got:g}; at_zero = {float(at_zero):g} "
                                                     f"cannot be asked of it")
    return d


def at_zero_differences(net, Zs) -> list[str]:
    """One line per activation whose case-file g'(0) (``at_zero``, or the reference's default) differs from
    JAX's, with how many entries of Z are exactly 0 (where the difference shows)."""
    return RA.at_zero_differences(net, Zs, lambda act: jax_at_zero(act.name, **forward_params(act)),
                                  "jax.grad", "JAX's")


def label(act) -> str:
    """How JAX computes one layer's g, as the report prints it."""
    return RA.call_label(FUNCTIONS[act.name][1], act, KEYWORDS)
