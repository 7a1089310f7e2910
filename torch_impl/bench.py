"""One training step of the benchmark network in PyTorch, as its users write it (``reference/bench.py``).

Eager autograd on leaf tensors: the forward pass, ``loss.backward()``, and the update in
``torch.no_grad()`` (what ``torch.optim.SGD.step`` does), the gradients set to None after each step.
"""

from __future__ import annotations

import numpy as np
import torch

from backprop_parity.reference import bench


def step(sizes=bench.SIZES, batch: int = 256, dtype=np.float64):
    params_np, X_np, y_np = bench.problem(sizes, batch, dtype)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in params_np.items()}
    X, y = torch.tensor(X_np), torch.tensor(y_np)
    depth = len(sizes) - 1
    lr = bench.LEARNING_RATE / batch

    def run():
        A = X
        for l in range(1, depth + 1):
            Z = A @ params[f"W{l}"] + params[f"b{l}"]
            A = torch.sigmoid(Z) if l == depth else torch.relu(Z)
        loss = 0.5 * ((y - A) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            for p in params.values():
                p -= lr * p.grad
                p.grad = None
    return run, "eager autograd: forward, loss.backward(), p -= lr·p.grad under torch.no_grad()"
