"""The contract every backend style keeps: one set of step functions, one signature each.

A *style* is one way of writing the network in one framework: the NumPy reference
(``reference/network.py``), torch autograd on leaf tensors, torch ``nn.Module`` s, a
TensorFlow ``GradientTape``, Keras layers, JAX ``grad``/``vjp`` … Each is one module
that defines every function below with exactly this signature (names of the
parameters included); ``parity_tests/test_contract.py`` compares them with
``inspect.signature``. The bodies are the framework's own calls — the shared
logic (trace assembly, gradient checking, bookkeeping) lives once, in
``reference/trace.py`` and ``reference/gradcheck.py``, and calls these.

Types, as the functions see them:

* ``net``, ``hyper``: :class:`reference.spec.Net` and :class:`reference.spec.Hyper` (framework-free);
* ``params``: the style's own parameter object, made by ``load`` from the article's
  NumPy arrays (a dict of leaf tensors, a dict of ``tf.Variable`` s, an ``nn.Sequential``,
  a ``keras.Sequential``, a pytree of ``jax.Array`` s …);
* ``X``, ``y``: data in the framework (``tensor``), in the *article's* layout;
* ``Forward`` / ``Backward``: the containers below, holding framework arrays in the
  article's layout (a style that computes examples-first transposes back);
* every ``*_np`` argument and every return value of ``J_of``, ``train`` and ``numpy``
  is NumPy.

The one return type of a trace is :class:`Trace` (``reference/trace.py`` builds its
values and missing keys; the backend adds backend, style, time and mapping).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


# --------------------------------------------------------------------------- the shared containers

@dataclass
class Forward:
    Z: list          # Z[l], l = 0 … depth−1
    A: list          # A[0] = X, A[l+1] = g(Z[l])
    A_in: list       # the input each layer multiplies: A[l], or [A[l] | 1] under the bias trick
    record: Any = None   # what the framework needs to differentiate later: a tape, hooks, vjp functions
    input_gradient: bool = True   # is the input differentiated (∂J/∂X)? Training needs ∂J/∂W only


@dataclass
class Backward:
    dJ_dyhat: Any
    deriv: list      # g'(Z[l])
    delta: list      # δ[l] = ∂J/∂Z[l]
    dA_in: list      # ∂J/∂A_in[l] = δ[l]·Wᵀ; at l = 0 the input's: ∂J/∂X (∂J/∂[X | 1] under the bias trick),
                     # None when the forward pass was told input_gradient=False


class History(list):
    """The parameters before training and after epochs, as ``train`` records them: by default only those a
    trace reads — before training, after the first epoch, after the last (``[0]``, ``[1]``, ``[-1]``) — so
    a long run holds three copies, not one per epoch; every epoch's with ``every_epoch``."""

    def __init__(self, first, every_epoch: bool = False):
        super().__init__([first])
        self.every_epoch = every_epoch

    def append(self, params):
        if self.every_epoch or len(self) < 3:
            super().append(params)
        else:
            self[-1] = params


@dataclass
class Training:
    history: list            # the article-named NumPy parameters before training and after epochs (a History)
    costs: np.ndarray        # J before training and after each epoch
    notes: dict = field(default_factory=dict)   # how the framework trained (read from its objects): the mapping
    state: dict = field(default_factory=dict)   # the optimizer's state as trace keys (opt_new.*, opt.*), if it keeps any


@dataclass
class Trace:
    """The numbers one backend/style produced for one case, keyed as case files name them."""

    backend: str
    style: str
    values: dict
    missing: dict = field(default_factory=dict)     # key -> why this style has no counterpart
    seconds: float = 0.0
    mapping: dict = field(default_factory=dict)     # convention mapping (shown by the report)
    functions: dict = field(default_factory=dict)   # act.* / loss.* / calc.* the backend's way (in its process)
    evaluated: dict = field(default_factory=dict)   # expression text -> outcome, evaluated in the backend's process


# --------------------------------------------------------------------------- the step functions
# Each stub states one function of the contract: its signature is the contract, its docstring what
# it returns. A style module defines every one of them (and nothing here is called).

def tensor(net, x_np):
    """A NumPy array as the framework's array, in the case's dtype (an exact copy)."""


def numpy(x):
    """A framework array (or scalar) as a NumPy copy."""


def load(net, params_np):
    """The style's parameter object from the article's NumPy parameters (exact copies)."""


def parameters(net, params):
    """{article name: framework array in the article's layout} of a parameter object."""


def forward(net, params, X, input_gradient=True):
    """Forward: Z, A and the layers' inputs, recorded so that ``backward`` can differentiate them — the input X
    too unless ``input_gradient`` is False (a training step: its update needs ∂J/∂W, never ∂J/∂X)."""


def cost(net, params, yhat, y, hyper):
    """J, including ½·λ·ΣW² when λ > 0."""


def cost_each(net, yhat, y):
    """The loss of each example (no L2 term), as a vector."""


def backward(net, params, fwd, y, hyper):
    """Backward: ∂J/∂ŷ, g'(Z), δ = ∂J/∂Z and ∂J/∂A_in, by the framework's differentiation."""


def gradients(net, params, fwd, bwd, hyper):
    """{article name: ∂J/∂W (∂J/∂b)} in the article's layout, λW included: what the update applies."""


def optimizer(net, params, hyper, n):
    """The framework's optimizer for an update on n examples (lr = α·s)."""


def step(net, params, grads, hyper, opt):
    """One update W ← W − α·s·∂J/∂W by the framework's optimizer; returns the parameter object."""


def predict(net, params, X):
    """ŷ for X."""


def train(net, params_np, X_np, y_np, hyper, every_epoch=False):
    """Every epoch of the case's update rule from the article's parameters: a :class:`Training` whose
    history is a :class:`History` (every epoch's parameters only with ``every_epoch``)."""


def J_of(net, X_np, y_np, hyper):
    """J as a function of NumPy parameters: J(params_np) -> (J, ŷ) as NumPy; what gradient checking perturbs."""


def missing(net):
    """{trace key: why this style has no counterpart}."""


def describe(net, hyper, X_np, fwd, training):
    """{topic: text}: how the article's conventions map onto this style (``training`` is None without y)."""


STEP_FUNCTIONS: tuple[Callable, ...] = (tensor, numpy, load, parameters, forward, cost, cost_each, backward,
                                         gradients, optimizer, step, predict, train, J_of, missing, describe)
NAMES = tuple(f.__name__ for f in STEP_FUNCTIONS)
