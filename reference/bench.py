"""The benchmark problem and the reference's training step (``backprop-parity bench``, reports/bench.py).

Every backend package has a ``bench.py`` with ``step(sizes, batch, dtype) -> (run, code)``: ``run()``
performs one forward + backward + update of the network below on one batch, the way that framework's
users would write it (compiled where they would compile it), and returns when the new parameters are
computed; ``code`` says in a few words what runs. The problem is the same for every backend: the
initial parameters and the batch come from :func:`problem` (NumPy, seeded), in float64 or float32.

The network: ``sizes`` (784-256-128-10 by default), ReLU hidden layers, a sigmoid output, J = Σ ½(y − ŷ)²
(Courtial, chapter 4), rows layout (examples are rows), b vectors, W ← W − α·(1/n)·∂J/∂W.
"""

from __future__ import annotations

import numpy as np

from . import activations, losses, network
from .spec import Hyper, Net

SIZES = (784, 256, 128, 10)
LEARNING_RATE = 0.1


def net(sizes=SIZES, dtype=np.float64) -> Net:
    acts = tuple(activations.make("relu") for _ in sizes[1:-1]) + (activations.make("sigmoid"),)
    return Net(sizes=tuple(sizes), activations=acts, loss=losses.make("half_sse"), layout="rows",
               bias="vectors", dtype=np.dtype(dtype).type)


def hyper() -> Hyper:
    return Hyper(rule="batch", learning_rate=LEARNING_RATE, grad_scale="1/n")


def problem(sizes=SIZES, batch: int = 256, dtype=np.float64, seed: int = 0):
    """(params {W1, b1, …} in rows layout, X (batch × n_in), y (batch × n_out)), seeded, in ``dtype``."""
    rng = np.random.default_rng(seed)
    params = {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{l}"] = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)
        params[f"b{l}"] = np.zeros((1, n_out), dtype=dtype)
    X = rng.random((batch, sizes[0])).astype(dtype)
    y = (rng.random((batch, sizes[-1])) < 0.1).astype(dtype)
    return params, X, y


def step(sizes=SIZES, batch: int = 256, dtype=np.float64):
    """The reference's own one_step (network.py, the marked lines) on the problem, in a process whose
    allocator keeps freed memory, as the command line's (allocator.py)."""
    from .allocator import reuse_freed_memory
    reuse_freed_memory()
    n = net(sizes, dtype)
    h = hyper()
    state = {"params": problem(sizes, batch, dtype)[0]}
    _, X, y = problem(sizes, batch, dtype)

    def run():
        state["params"] = network.one_step(n, state["params"], X, y, h)
    return run, "network.one_step: forward, backward, gradients, step (NumPy, by hand)"
