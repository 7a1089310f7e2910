"""What a network *is* (shared by the NumPy reference and the framework mirrors).

``Net`` holds the structure and conventions of one article's network; ``Hyper``
holds how it is trained and checked. Both come from a case file (see
``reference/case.py``); every backend reads the same objects, so the three
implementations start from one description.

Names follow the article: parameters are ``W1, b1, W2, …`` numbered from
``first_weight``; layers' ``Z``/``A``/``delta`` are numbered from
``first_layer`` (Courtial numbers the first hidden layer 2 because his input
layer is a(1) = X; deeplearning.ai numbers it 1 and calls X = A[0]).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import layout as L
from .activations import Activation
from .losses import Loss


@dataclass(frozen=True)
class Net:
    sizes: tuple[int, ...]                 # n_in, hidden…, n_out
    activations: tuple[Activation, ...]    # one per layer after the input
    loss: Loss
    layout: str = "rows"                   # "rows" | "columns"
    bias: str = "vectors"                  # "trick" | "vectors" | "shared" (one scalar b per layer, Mazur) | "none"
    first_layer: int = 1                   # article number of the first Z
    first_weight: int = 1                  # article number of the first W
    frozen: frozenset = field(default_factory=frozenset)
    dtype: type = np.float64

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    @property
    def trick(self) -> bool:
        return self.bias == "trick"

    @property
    def has_b(self) -> bool:
        """Are there b parameters, one per layer (a vector, or under "shared" one number for the whole layer)?"""
        return self.bias in ("vectors", "shared")

    @property
    def example_axis(self) -> int:
        return L.EXAMPLE_AXIS[self.layout]

    def W_name(self, l: int) -> str:
        return f"W{self.first_weight + l}"

    def b_name(self, l: int) -> str:
        return f"b{self.first_weight + l}"

    def layer_number(self, l: int) -> int:
        """Article number of the l-th (0-based) layer's Z, A and delta."""
        return self.first_layer + l

    def param_shapes(self) -> dict[str, tuple[int, int]]:
        shapes: dict[str, tuple[int, int]] = {}
        for l in range(self.depth):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            shapes[self.W_name(l)] = L.weight_shape(n_in, n_out, self.layout, self.trick)
            if self.has_b:
                shapes[self.b_name(l)] = L.bias_shape(n_out, self.layout, self.bias == "shared")
        return shapes

    def param_names(self) -> list[str]:
        return list(self.param_shapes())

    def n_params(self) -> int:
        return int(sum(np.prod(s) for s in self.param_shapes().values()))


@dataclass(frozen=True)
class Hyper:
    rule: str = "batch"            # "batch": one step on all examples; "sgd": one step per example, in order;
                                   # "minibatch": batch_size examples per step (reference/batches.py)
    batch_size: int = 0            # minibatch: examples per step (the last batch of an epoch holds what is left)
    shuffle_seed: int | None = None   # minibatch: a new order every epoch, np.random.default_rng([seed, epoch])
    learning_rate: float = 0.1
    grad_scale: str = "1"          # "1/n": W ← W − α·(1/n)·∂J/∂W (Courtial); "1": W ← W − α·∂J/∂W
    epochs: int = 1
    l2: float = 0.0                # J += ½·λ·Σ W²   (so ∂J/∂W += λ·W)
    l2_bias: bool = True           # does L2 reach the biases (bias row/column or b vectors)?
    h: float = 1e-4                # gradient checking step (Courtial, chapter 7)
    gradcheck_examples: int = 0    # gradient checking on the first N examples only (0: all of them)
    probe: tuple[str, tuple[int, ...]] | None = None   # parameter entry whose perturbation is traced
    # the optimizer (reference/optimizers.py): its hyper-parameters as they apply, an optional schedule
    optimizer: str = "sgd"         # sgd | momentum | nesterov | rmsprop | adam | adamw
    momentum: float = 0.0          # μ (momentum, nesterov)
    beta1: float = 0.9             # Adam's β1, β2
    beta2: float = 0.999
    eps: float = 1e-8              # ε (rmsprop, adam, adamw)
    rho: float = 0.9               # RMSprop's decay (torch calls it alpha)
    centered: bool = False         # centered RMSprop
    weight_decay: float = 0.0      # AdamW's decoupled decay λ (coupled L2 is l2)
    lr_schedule: tuple = ()        # ((step, lr), …): lr from that update (1, 2, …) on
    form: str = ""                 # the optimizer's written form (optimizers.FORMS); "" is its paper's
    float32_constants: tuple = ()  # optimizer constants a framework rounds to float32 (a backend's effective case):
                                   # "momentum", "beta powers" (Adam's bias correction), "weight_decay"

    def scale(self, n: int) -> float:
        return 1.0 / n if self.grad_scale == "1/n" else 1.0

    def step_size(self, n: int) -> int:
        """Examples in one full update, for ``n`` examples in all (reference/batches.py)."""
        from .batches import size
        return size(self, n)


# ---------------------------------------------------------------------------
# Trace keys. A trace is a flat dict {key: array}; the keys are spelled the way
# case-file expressions spell them (``Z[2]``, ``grad.W[1]``), in the article's
# numbering. Every backend builds its trace with these helpers.

def key(name: str, number: int) -> str:
    return f"{name}[{number}]"


def param_key(prefix: str, pname: str) -> str:
    """``grad`` + ``W1`` -> ``grad.W[1]``;  ``""`` + ``b2`` -> ``b[2]``."""
    letter, number = pname[0], pname[1:]
    return f"{prefix + '.' if prefix else ''}{letter}[{number}]"


def training_keys(history: list) -> dict:
    """W_new[k] (after the first epoch) and W_final[k] (after all epochs) from the parameter history."""
    out = {}
    for name in history[0]:
        out[param_key("", name).replace("[", "_new[", 1)] = history[1][name]
        out[param_key("", name).replace("[", "_final[", 1)] = history[-1][name]
    return out


TRACE_DOC = {
    "X": "the inputs, as the article writes them",
    "y": "the targets",
    "Z[l]": "weighted input of layer l",
    "A[l]": "activation of layer l (A at first_layer − 1 is X)",
    "A_aug[l]": "[A | 1]: the activation with the bias unit appended (bias trick only)",
    "yhat": "the prediction ŷ = A at the last layer",
    "error": "y − ŷ",
    "J": "the cost, including the L2 term when λ > 0",
    "J_each": "the cost of each example (no L2 term)",
    "dJ_dyhat": "∂J/∂ŷ",
    "deriv[l]": "g'(Z) of layer l",
    "deriv_aug[l]": "g'([Z | 1]) as Courtial prints it, bias column included (bias trick, hidden layers)",
    "delta[l]": "δ = ∂J/∂Z of layer l",
    "delta_aug[l]": "Courtial's δ with its bias column: (δ·Wᵀ) ⊙ g'([Z | 1]) (bias trick, hidden layers)",
    "dA[l]": "∂J/∂A of layer l: δ(l+1)·Wᵀ, with the bias unit's column under the trick (at first_layer − 1, under the trick: ∂J/∂[X | 1])",
    "dX": "∂J/∂X: the gradient with respect to the inputs, in X's shape",
    "grad.W[k] / grad.b[k]": "∂J/∂W and ∂J/∂b",
    "W[k] / b[k]": "the initial parameters",
    "W_new[k] / b_new[k]": "the parameters after one epoch of the update rule",
    "W_final[k] / b_final[k]": "the parameters after all epochs",
    "costs": "J before training and after each epoch",
    "accuracy": "classification (cce): the share of examples whose largest ŷ is their class, before training and after each epoch",
    "order": "minibatch with shuffle_seed: each epoch's order of the examples (epochs × n), fed to every framework",
    "predict.NAME": "the trained network's output for the named input",
    "n_params": "the number of trainable numbers",
    "gradcheck.numerical.W[k]": "centered-difference gradient",
    "gradcheck.rel_error": "‖V1 − V2‖ / ‖V1 + V2‖",
    "gradcheck.probe.{A_plus,A_minus,J_plus,J_minus,numerical}": "one perturbed entry, at the initial parameters",
    "gradcheck.probe_new.{…}": "the same, at the parameters after one epoch",
}


def hashable(x):
    """A Net or Hyper (or the data) as a dictionary key: an Activation's params is a dict, compared by value."""
    import dataclasses
    if isinstance(x, dict):
        return tuple(sorted((k, hashable(v)) for k, v in x.items()))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__qualname__,) + tuple(hashable(getattr(x, f.name)) for f in dataclasses.fields(x))
    if isinstance(x, (list, tuple)):
        return tuple(hashable(v) for v in x)
    if isinstance(x, (set, frozenset)):
        return frozenset(hashable(v) for v in x)
    return x


class Static:
    """A case's Net or Hyper as the key of a compiled program (``jax.jit``'s static arguments, a cache of
    ``tf.function``s): compared and hashed by value (``hashable``), the object itself in ``value``."""

    __slots__ = ("value", "key")

    def __init__(self, value):
        self.value, self.key = value, hashable(value)

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, Static) and self.key == other.key
