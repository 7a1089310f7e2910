"""The PyTorch network data-parallel: ``torch.distributed`` over gloo, two processes, ``DistributedDataParallel``.

Read beside ``idiomatic.py`` (the "modules" style), whose functions this style shares for everything that is
per example — the model, its hooks, the deltas, ∂J/∂X, J itself. What a data-parallel run must get right is the
gradient of a batch split over processes, and so the update; those are written here:

    processes: rank 0 is the torch worker itself; rank 1 a helper process it starts on first use
               (``python -m backprop_parity.torch_impl.ddp``), which reads each task from its stdin and runs the
               same function as rank 0 — the two meet in DDP's collectives.
               ``dist.init_process_group("gloo", world_size=2)`` over a FileStore in a temporary folder
    gradient:  each rank wraps the model in ``DistributedDataParallel`` and runs its half of the batch; its
               loss is the sum of ITS examples' terms divided by the WHOLE batch's count (N elements for a mean,
               n examples for cce, nothing for a sum) — and multiplied by the world size, 2: DDP's all-reduce
               AVERAGES the ranks' gradients in ``backward()``, so each rank's share of J must come in twice
               as large for the average to be J's gradient
    update:    ``torch.optim`` on each rank (weight_decay as the modules style sets it), reading the averaged
               ``.grad``: the two ranks' models stay equal
    uneven:    a batch that does not split in two (one example; three) is padded with copies of its last
               example, masked out of the rank's loss (``torch.where``): they add exactly 0

The traps this avoids are asserted by ``parity_tests/test_torch_ddp.py``: DDP with each rank's own loss module
(the usual port: ``nn.MSELoss()`` on the rank's half) is right for a mean over equal halves only — a summed loss
comes back halved, and unequal halves weigh the smaller one's examples more; the share of J without the world
size is half the gradient.
"""

from __future__ import annotations

import atexit
import functools
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import traceback
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from backprop_parity.reference import batches as B
from backprop_parity.reference.contract import Forward, Training
from backprop_parity.reference.spec import Hyper, Net

from . import layout as L
from . import losses as LOSS
from .idiomatic import (J_of, cost, cost_each, forward, load, missing, numpy, optimizer, parameters,  # noqa: F401
                        predict, step, tensor, trained)
from .idiomatic import backward as hooked_backward
from .idiomatic import describe as one_process_description
from .idiomatic import gradients as module_gradients

__all__ = ["tensor", "numpy", "load", "parameters", "forward", "backward", "gradients", "cost", "cost_each",
           "optimizer", "step", "predict", "train", "J_of", "missing", "describe"]   # the contract: shared or written here

WORLD = 2                        # processes the batch is split over
TIMEOUT = timedelta(seconds=60)  # a collective the other rank never joins fails after this, never hangs


class RankError(RuntimeError):
    """The rank-1 process failed a task, or could not be started."""


# --------------------------------------------------------------------------- the two processes

class Group:
    """The rank-1 helper process and the process group rank 0 (this process) shares with it."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="backprop-parity-ddp-")
        store = os.path.join(self.folder, "store")
        self.helper = subprocess.Popen([sys.executable, "-m", "backprop_parity.torch_impl.ddp", store],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=WORLD,
                                timeout=TIMEOUT)                              # [step:weight-gradient] torch.distributed, gloo, 2 processes
        atexit.register(self.close)

    def run(self, task: str, *args):
        """TASKS[task](rank, *args) on both ranks at once: sent to rank 1, run here as rank 0; rank 1's word read back."""
        pickle.dump((task, args), self.helper.stdin)
        self.helper.stdin.flush()
        try:
            out = TASKS[task](0, *args)
        finally:
            word = self.helper.stdout.readline().decode("utf-8", "replace").strip()
        if word != "ok":
            raise RankError(f"rank 1 failed {task}: {word or 'it exited'}")
        return out

    def close(self) -> None:
        if self.helper.poll() is None:
            self.helper.stdin.close()                                         # rank 1 stops at the end of its input
            try:
                self.helper.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.helper.kill()
        if dist.is_initialized():
            dist.destroy_process_group()
        shutil.rmtree(self.folder, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def group() -> Group:
    return Group()


def together(task: str, *args):
    """One task on both ranks (the group started on first use; closed and started again after a failure)."""
    g = group()
    try:
        return g.run(task, *args)
    except Exception:
        g.close()
        group.cache_clear()
        raise


def serve(store: str) -> None:
    """Rank 1: join the group, then run each task read from stdin, answering "ok" (or the error) on one line."""
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                                 # anything printed goes to stderr: stdout carries the answers
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=1, world_size=WORLD, timeout=TIMEOUT)
    source = sys.stdin.buffer
    while True:
        try:
            task, args = pickle.load(source)
        except EOFError:
            break
        try:
            TASKS[task](1, *args)
            answer.write("ok\n")
        except Exception as exc:
            answer.write(f"{type(exc).__name__}: {exc}".replace("\n", " ") + "\n")
            traceback.print_exc()
        answer.flush()
    dist.destroy_process_group()


# --------------------------------------------------------------------------- each rank's part and loss

def share(rank: int, n: int):
    """(indices, keep) of this rank's part of a batch of n examples: the batch padded to a multiple of WORLD with
    copies of its last example, cut in WORLD equal consecutive parts; keep is 1 for a real example, 0 for a copy."""
    idx = np.concatenate([np.arange(n), np.full(-n % WORLD, n - 1)])
    part = np.array_split(np.arange(idx.size), WORLD)[rank]
    return idx[part], (part < n).astype(np.float64)


def divisor(net: Net, n: int, k: int) -> int:
    """What the loss divides the whole batch's sum of terms by: 1 (Σ), N = n·k elements (mean), n examples (cce)."""
    return {"sum": 1, "mean": n * k, "example_mean": n}[net.loss.reduce]


def rank_loss(net: Net, model, X_first, y_first, keep, n: int, how: str = "scaled"):
    """This rank's loss on its part (examples first) of a batch of n examples.

    how = "scaled": its terms summed (copies masked) over the whole batch's count, × WORLD — right under DDP's
    averaging; "unscaled": the same without × WORLD; "own": the case's loss module on the part as it is (what a
    port that only wraps the model in DDP computes)."""
    loss = LOSS.make(net.loss.name)
    if how == "own":
        return loss.factor * loss.module(reduction=loss.reduction)(model(X_first), y_first)
    terms = loss.factor * loss.module(reduction="none")(model(X_first), y_first)    # [step:cost] the loss module, unreduced
    mask = torch.as_tensor(keep, dtype=terms.dtype)
    mask = mask if terms.dim() == 1 else mask[:, None]
    total = torch.where(mask > 0, terms, torch.zeros_like(terms)).sum()            # a padding copy adds 0
    J = total / divisor(net, n, y_first.shape[1])                                  # [step:weight-gradient] ÷ the whole batch's count
    return J * WORLD if how == "scaled" else J                                     # [step:weight-gradient] × world size: DDP averages


def part(net: Net, rank: int, X, y, how: str):
    """This rank's (X, y, keep) of an article-layout batch, examples first; "own" splits the real examples only."""
    X_first, y_first = L.examples_first(X, net.layout), L.examples_first(y, net.layout)
    n = X_first.shape[0]
    if how == "own":
        idx = np.array_split(np.arange(n), WORLD)[rank]
        return X_first[idx], y_first[idx], np.ones(idx.size)
    idx, keep = share(rank, n)
    return X_first[idx], y_first[idx], keep


# --------------------------------------------------------------------------- the tasks both ranks run

def gradient_task(rank: int, net: Net, hyper: Hyper, params_np: dict, X_np, y_np, how: str = "scaled") -> dict:
    """∂J/∂W of the whole batch: each rank's part through DDP, backward() all-reducing (averaging) the gradients."""
    model = load(net, params_np)
    ddp = DDP(model)                                                               # [step:weight-gradient] DistributedDataParallel(model)
    X, y = tensor(net, X_np), tensor(net, y_np)
    X_part, y_part, keep = part(net, rank, X, y, how)
    rank_loss(net, ddp, X_part, y_part, keep, L.n_examples(X, net.layout), how).backward()   # [step:weight-gradient] DDP averages .grad over the ranks
    return {name: numpy(g) for name, g in module_gradients(net, model, None, None, hyper).items()}


def train_task(rank: int, net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool) -> Training:
    """The modules style's training run with every update's gradient from DDP: each batch of the epoch's order
    split between the ranks, each rank stepping its own optimizer on the averaged .grad."""
    model, X, y = load(net, params_np), tensor(net, X_np), tensor(net, y_np)
    ddp = DDP(model)
    opt = optimizer(net, model, hyper, hyper.step_size(L.n_examples(X, net.layout)))
    X_first, y_first = L.examples_first(X, net.layout), L.examples_first(y, net.layout)

    def epoch(e: int) -> None:
        for idx in B.batches(hyper, X_first.shape[0], e):
            mine, keep = share(rank, idx.size)
            opt.zero_grad()
            rank_loss(net, ddp, X_first[idx[mine]], y_first[idx[mine]], keep, idx.size).backward()
            step(net, model, None, hyper, opt)                                     # [step:update] each rank's optimizer, the same step
    return trained(net, model, X, y, hyper, opt, epoch, every_epoch)


TASKS = {"gradient": gradient_task, "train": train_task}


# --------------------------------------------------------------------------- the contract

def backward(net: Net, params, fwd: Forward, y, hyper: Hyper):
    """The modules style's backward on the whole batch (the hooks' deltas), keeping y for ``gradients``."""
    fwd.record.y = y
    return hooked_backward(net, params, fwd, y, hyper)


def ddp_gradient(net: Net, hyper: Hyper, params_np: dict, X_np, y_np, how: str = "scaled") -> dict:
    """∂J/∂W (NumPy, article layout) of the batch (X, y), half of it on each rank."""
    return together("gradient", net, hyper, params_np, X_np, y_np, how)


def gradients(net: Net, params, fwd: Forward, bwd, hyper: Hyper) -> dict:
    """∂J/∂W of the forward pass's batch, split over the 2 processes (``gradient_task``)."""
    params_np = {name: numpy(p) for name, p in parameters(net, params).items()}
    grads = ddp_gradient(net, hyper, params_np, numpy(fwd.A[0]), numpy(fwd.record.y))
    return {name: tensor(net, g) for name, g in grads.items()}


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """Every epoch of the update rule on both ranks, each update's gradient from DDP; costs[0] is J before any
    update. What rank 0 trained is returned (rank 1's model is the same)."""
    return together("train", net, params_np, np.asarray(X_np), np.asarray(y_np), hyper, every_epoch)


def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    """The modules style's mapping, with the gradient and the update as this style computes them."""
    out = one_process_description(net, hyper, X_np, fwd, training)
    size = hyper.step_size(np.shape(X_np)[net.example_axis])
    uneven = f"; a batch of {size} is padded to {size + 1} with a copy masked out" if size % WORLD else ""
    divide = {"sum": "not divided (a sum)", "mean": "÷ N, the whole batch's elements",
              "example_mean": "÷ n, the whole batch's examples"}[net.loss.reduce]
    out["data parallel"] = (f"torch.distributed (gloo) with {WORLD} processes, the model in DistributedDataParallel: "
                            f"each rank runs half of the batch{uneven}; its loss is its examples' terms summed, "
                            f"{divide}, × {WORLD} (the world size), because DDP's all-reduce averages the ranks' "
                            f"gradients in backward(); each rank's torch.optim step then reads the same .grad")
    return out


if __name__ == "__main__":
    serve(sys.argv[1])
