"""Which examples each update steps on — the epoch's order and its batches — written once for every framework.

``[train] rule`` chooses (each framework then steps on exactly these indices, in its own idiom):

* ``batch``      one update per epoch on every example;
* ``sgd``        one update per example, in data order (the Zhou chapter's loop);
* ``minibatch``  ``batch_size`` examples per update. With ``shuffle_seed`` the examples are drawn in a new
                 order every epoch — a permutation from ``np.random.default_rng([seed, epoch])``, written
                 down here, stored in the trace (``order``) and handed to every framework as data: a fixed
                 sampler for torch's DataLoader, pre-permuted arrays for Keras (``shuffle=False``), index
                 arrays for JAX. Without a seed, data order. The last batch of an epoch holds what is left.

No framework draws its own random order: a run is reproducible on every backend, and the same on all.
"""

from __future__ import annotations

import numpy as np


def order(hyper, n: int, epoch: int) -> np.ndarray:
    """The examples of epoch ``epoch`` (0, 1, …) in the order they are stepped on."""
    if hyper.rule == "minibatch" and hyper.shuffle_seed is not None:
        return np.random.default_rng([hyper.shuffle_seed, epoch]).permutation(n)
    return np.arange(n)


def size(hyper, n: int) -> int:
    """Examples in one full update: all of them (batch), one (sgd), batch_size (minibatch; at most n)."""
    if hyper.rule == "batch":
        return n
    if hyper.rule == "sgd":
        return 1
    return min(hyper.batch_size, n)


def batches(hyper, n: int, epoch: int) -> list[np.ndarray]:
    """The index arrays of one epoch's updates, in order."""
    k, idx = size(hyper, n), order(hyper, n, epoch)
    return [idx[i:i + k] for i in range(0, n, k)]


def stacked(hyper, n: int, epoch: int) -> list[np.ndarray]:
    """One epoch's batches as few (updates, batch size) index arrays, in order: consecutive batches of one size
    stacked (every batch but a shorter last one), for a framework that compiles its loop over the updates."""
    groups: list[list[np.ndarray]] = []
    for idx in batches(hyper, n, epoch):
        if groups and groups[-1][-1].shape == idx.shape:
            groups[-1].append(idx)
        else:
            groups.append([idx])
    return [np.stack(g) for g in groups]


def steps_per_epoch(hyper, n: int) -> int:
    return -(-n // size(hyper, n))


def orders(hyper, n: int) -> np.ndarray:
    """Every epoch's order, (epochs, n): what the trace stores as ``order`` for a shuffled minibatch run."""
    return np.stack([order(hyper, n, e) for e in range(hyper.epochs)])


def words(hyper, n: int) -> str:
    """The rule in words, for every mapping and report."""
    if hyper.rule == "batch":
        return f"once per epoch on all {n} example{'s' if n != 1 else ''}"
    if hyper.rule == "sgd":
        return "once per example, in data order"
    k = size(hyper, n)
    how = (f"in a new order each epoch (a permutation from seed {hyper.shuffle_seed}, the trace's order)"
           if hyper.shuffle_seed is not None else "in data order")
    last = n - (steps_per_epoch(hyper, n) - 1) * k
    return (f"once per batch of {k} example{'s' if k != 1 else ''} {how}, {steps_per_epoch(hyper, n)} per epoch"
            + (f" (the last one {last})" if last != k else ""))
