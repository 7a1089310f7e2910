"""Provenance: a framework's numbers must be the framework's own.

Parity compares numbers only, and a mirror that returned the reference's numbers (its deltas,
its gradients, its training) would agree with it to the last bit. So in a framework's worker
process the reference's numerics are sealed before any case runs: every function that computes a
step of the network (``reference/network.py``), a loss, its terms or derivatives
(``reference/losses.py``), an activation or its derivative (``reference/activations.py``), and the
layout's products (``reference/layout.py``: Z = A·W, δ·Wᵀ, Aᵀ·δ, Σδ) raises :class:`Sealed` when
called. What a mirror may still read from the reference is what describes the case, not what
computes it: the case and its conventions (``spec``, the activation and loss records' names and
parameters, ``activations.at_zero``), the layout's axes and masks, the trace assembly and the
gradient-checking driver, which call the style's own functions.

A mirror that reaches the reference's numerics then fails with the function it called (an ERROR
row: "Sealed: …"), on every run of ``check``, ``report``, ``explain`` and the tests — never a
match. The reference runs in the parent process, which is never sealed.
"""

from __future__ import annotations

NETWORK = ("forward", "backward", "gradients", "cost", "cost_each", "optimizer", "step", "one_step", "epoch",
           "predict", "train", "J_of", "l2_mask")
LAYOUT = ("affine", "backprop_error", "weight_grad", "bias_grad")


class Sealed(RuntimeError):
    """A framework's style called the reference's numerics."""


def _sealed(name: str):
    def call(*args, **kwargs):
        raise Sealed(f"the reference's {name} was called from a framework's worker: a style must compute its "
                     f"own numbers")
    call.__name__ = name.rsplit(".", 1)[-1]
    return call


def seal() -> None:
    """Make the reference's numerics raise in this process (a framework worker's, before its cases run)."""
    from . import activations, layout, losses, network
    for name in NETWORK:
        setattr(network, name, _sealed(f"network.{name}"))
    for name in LAYOUT:
        setattr(layout, name, _sealed(f"layout.{name}"))
    for name, (g, g_prime, allowed) in list(activations.FUNCTIONS.items()):
        activations.FUNCTIONS[name] = (_sealed(f"activations.{g.__name__}"),
                                       _sealed(f"activations.{g_prime.__name__}"), allowed)
        setattr(activations, g.__name__, _sealed(f"activations.{g.__name__}"))
        setattr(activations, g_prime.__name__, _sealed(f"activations.{g_prime.__name__}"))
    for loss in losses.LOSSES.values():       # the records stay (name, formula, reduction); their maths go
        object.__setattr__(loss, "terms", _sealed(f"losses.{loss.name} terms"))
        object.__setattr__(loss, "grad", _sealed(f"losses.{loss.name} ∂J/∂ŷ"))
        object.__setattr__(loss, "delta_after", {k: _sealed(f"losses.{loss.name} δ after {k}")
                                                 for k in loss.delta_after})
    losses.value = _sealed("losses.value")
