"""The data-parallel PyTorch style (``torch_impl/ddp.py``): what it must get right, and the traps it avoids.

Every case and every random network already holds ``torch/ddp`` to the reference, number by number
(test_torch_parity, test_torch_random). Here: there really are two processes in a gloo group of two; an odd
batch's padding is masked; and the reductions a data-parallel port gets wrong give wrong numbers — asserted:

* DDP AVERAGES the ranks' gradients: each rank's own loss module (what a port that only wraps the model in
  DistributedDataParallel computes) is right for a mean over equal halves, but a summed loss comes back
  halved, and over unequal halves (3 examples: 2 and 1) a mean is wrong too;
* each rank's share of J (its terms over the whole batch's count) without × the world size is half the gradient.
"""

from __future__ import annotations

import numpy as np
import pytest

from . import helpers


def network(loss="mse", layout="rows", n=4, seed=3, l2=0.0):
    from backprop_parity.reference import activations as RA
    from backprop_parity.reference import losses as RLS
    from backprop_parity.reference.spec import Hyper, Net
    net = Net(sizes=(3, 4, 2), activations=(RA.make("tanh"), RA.make("sigmoid")), loss=RLS.make(loss), layout=layout)
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s) for k, s in net.param_shapes().items()}
    X = rng.standard_normal((n, 3) if layout == "rows" else (3, n))
    y = rng.standard_normal((n, 2) if layout == "rows" else (2, n))
    if loss == "bce":
        y = (y > 0).astype(float)
    return net, Hyper(learning_rate=0.1, l2=l2), params, X, y


def whole_batch_gradient(net, hyper, params, X, y) -> dict:
    """The modules style's ∂J/∂W in one process: what every data-parallel gradient must equal."""
    from backprop_parity.torch_impl import idiomatic as S
    P = S.load(net, params)
    fwd = S.forward(net, P, S.tensor(net, X))
    S.backward(net, P, fwd, S.tensor(net, y), hyper)
    return {k: S.numpy(v) for k, v in S.gradients(net, P, fwd, None, hyper).items()}


def close(a: dict, b: dict, factor: float = 1.0) -> bool:
    return set(a) == set(b) and all(np.allclose(a[k], factor * b[k], rtol=1e-12, atol=1e-14) for k in b)


def verdict(got: dict, whole: dict) -> dict:
    return {"equal": close(got, whole), "twice": close(got, whole, 2.0), "half": close(got, whole, 0.5)}


# --------------------------------------------------------------------------- computed in a torch process of its own
# (it starts its own rank-1 helper; the group ends with the process)

def collect() -> dict:
    import os

    import torch.distributed as dist
    from backprop_parity.torch_impl import ddp as S
    g = S.group()
    out: dict = {"world": dist.get_world_size(), "rank": dist.get_rank(), "backend": dist.get_backend(),
                 "helper_is_another_process": g.helper.pid != os.getpid() and g.helper.poll() is None}
    out["whole"] = {}
    for loss, layout, l2 in [("mse", "rows", 0.0), ("half_sse", "rows", 0.1), ("mse", "columns", 0.1),
                             ("half_sse", "columns", 0.0), ("bce", "rows", 0.0), ("output_sum", "columns", 0.0)]:
        net, hyper, params, X, y = network(loss, layout, l2=l2)
        out["whole"][f"{loss}-{layout}-{l2:g}"] = close(S.ddp_gradient(net, hyper, params, X, y),
                                                         whole_batch_gradient(net, hyper, params, X, y))
    out["naive"] = {}
    for loss, n, how in [("mse", 4, "own"), ("half_sse", 4, "own"), ("mse", 3, "own"), ("mse", 4, "unscaled"),
                         ("half_sse", 4, "unscaled")]:
        for layout in ("rows", "columns"):
            net, hyper, params, X, y = network(loss, layout, n=n)
            out["naive"][f"{loss}-{n}-{how}-{layout}"] = verdict(S.ddp_gradient(net, hyper, params, X, y, how),
                                                                  whole_batch_gradient(net, hyper, params, X, y))
    out["odd"] = {}
    for n in (1, 3, 5):
        net, hyper, params, X, y = network("half_sse", "rows", n=n)   # a sum: a copy left in would count twice
        parts = [S.share(rank, n) for rank in range(S.WORLD)]
        repeated = whole_batch_gradient(net, hyper, params, np.vstack([X, X[-1:]]), np.vstack([y, y[-1:]]))
        got = S.ddp_gradient(net, hyper, params, X, y)
        out["odd"][str(n)] = {"sizes": [int(i.size) for i, _ in parts], "kept": float(sum(k.sum() for _, k in parts)),
                              "copy_is_last": int(parts[-1][0][-1]) == n - 1,
                              "whole": close(got, whole_batch_gradient(net, hyper, params, X, y)),
                              "repeated": close(got, repeated)}
    return out


@pytest.fixture(scope="module")
def got() -> dict:
    return helpers.collected("torch", "test_torch_ddp")


def test_two_processes_in_a_gloo_group(got):
    assert (got["world"], got["rank"], got["backend"]) == (2, 0, "gloo")
    assert got["helper_is_another_process"] is True


@pytest.mark.parametrize("which", ["mse-rows-0", "half_sse-rows-0.1", "mse-columns-0.1", "half_sse-columns-0",
                                   "bce-rows-0", "output_sum-columns-0"])
def test_the_ddp_gradient_is_the_whole_batchs(got, which):
    assert got["whole"][which] is True


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_each_ranks_own_loss_module_is_right_only_for_a_mean_over_equal_halves(got, layout):
    assert got["naive"][f"mse-4-own-{layout}"] == {"equal": True, "twice": False, "half": False}
    assert got["naive"][f"half_sse-4-own-{layout}"] == {"equal": False, "twice": False, "half": True}
    assert got["naive"][f"mse-3-own-{layout}"] == {"equal": False, "twice": False, "half": False}


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_a_share_of_J_without_the_world_size_is_half_the_gradient(got, layout):
    for loss in ("mse", "half_sse"):
        assert got["naive"][f"{loss}-4-unscaled-{layout}"] == {"equal": False, "twice": False, "half": True}


@pytest.mark.parametrize("n", [1, 3, 5])
def test_an_odd_batch_is_padded_and_the_copies_masked(got, n):
    odd = got["odd"][str(n)]
    assert odd["sizes"] == [(n + 1) // 2] * 2 and odd["kept"] == n and odd["copy_is_last"]
    assert odd["whole"] is True and odd["repeated"] is False     # masked: left in, the copy would count twice
