"""The small functions case expressions call, named once for every backend.

A case file may write ``act.sigmoid_prime(2)``, ``act.leaky_relu_prime(Z, 0.1, 1)``,
``loss.mse(y_true, y_pred)``, ``calc.computation_graph(5, 3, 2)`` or ``prep.standardize(km)``. Every backend's
``backend.functions(dtype)`` returns :func:`table` built from its own framework's functions:
the names, the parameters each activation takes (from ``activations.FUNCTIONS``) and the check
of how many an expression passes live here, once; the numbers are the backend's.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from .activations import FUNCTIONS
from .losses import CROSS_ENTROPY, LOSSES

# The articles' calculus examples (reference/calculus.py and each backend's calculus.py).
CALCULUS = ("computation_graph", "surface", "surface_gradient", "descent_step")
# Courtial's data preparation (reference/preprocessing.py and each backend's preprocessing.py).
PREPROCESSING = ("mean", "std", "standardize", "unstandardize", "min_max", "min_max_inverse", "plus_minus")


def table(act: Callable, act_prime: Callable, loss: Callable, calculus, preprocessing, cross_entropy, **bind) -> dict:
    """{"act.<name>": …, "act.<name>_prime": …, "loss.<name>": …, "calc.<name>": …, "prep.<name>": …} from a
    backend's

    * ``act(name, z, **params)``: g(z) of the activation ``name``, its forward parameters by name;
    * ``act_prime(name, z, **params)``: g'(z), ``at_zero`` among the parameters when the expression gives it;
    * ``loss(name, y_true, y_pred)``: J of the loss ``name``;
    * ``calculus``: a module with the functions of :data:`CALCULUS`;
    * ``preprocessing``: a module with the functions of :data:`PREPROCESSING`;
    * ``cross_entropy``: a module with the functions of ``losses.CROSS_ENTROPY`` (``loss.cce_logits(y, z)``,
      ``loss.sparse_cce(labels, ŷ)``, … and the logits forms' ∂J/∂z, ``loss.cce_logits_delta(y, z)``);

    each called with ``bind`` as keywords too (a backend's ``dtype=…``). An expression passes an
    activation's parameters in the order ``activations.FUNCTIONS`` lists them (``act.elu_prime(Z, alpha,
    at_zero)``); more than it takes is a TypeError.
    """
    out = {}
    for name, (_, _, accepts) in FUNCTIONS.items():
        takes = tuple(p for p in accepts if p != "at_zero")
        out[f"act.{name}"] = _positional(f"act.{name}", takes, partial(act, name, **bind))
        out[f"act.{name}_prime"] = _positional(f"act.{name}_prime", accepts, partial(act_prime, name, **bind))
    for name in LOSSES:
        out[f"loss.{name}"] = partial(loss, name, **bind)
    for name in CROSS_ENTROPY:
        out[f"loss.{name}"] = partial(getattr(cross_entropy, name), **bind)
    for name in CALCULUS:
        out[f"calc.{name}"] = partial(getattr(calculus, name), **bind)
    for name in PREPROCESSING:
        out[f"prep.{name}"] = _paired(f"prep.{name}", PAIRED.get(name), partial(getattr(preprocessing, name), **bind))
    return out


# Functions that work column by column (examples along axis 0): a matrix result's columns are independent.
COLUMNWISE = tuple(f"prep.{name}" for name in PREPROCESSING)

# The optional parameters that only make sense together: given statistics replace the data's own.
PAIRED = {"standardize": ("a mean", "a σ"), "min_max": ("a minimum", "a maximum")}


def _paired(key: str, names: tuple | None, f: Callable) -> Callable:
    """f, refusing one of a pair of optional parameters without the other (else a backend would
    fill the missing one its own way)."""
    if names is None:
        return f

    def call(x, *given):
        if len(given) == 1:
            raise TypeError(f"{key} takes {names[0]} and {names[1]} together, or neither")
        return f(x, *given)
    return call


def _positional(key: str, names: tuple, f: Callable) -> Callable:
    """f(z, *p) -> f(z, **{name: p}): the expression's positional parameters, named."""
    def call(z, *p):
        if len(p) > len(names):
            raise TypeError(f"{key} takes at most {len(names)} parameter(s) ({', '.join(names) or 'none'}), "
                            f"got {len(p)}")
        return f(z, **dict(zip(names, p)))
    return call
