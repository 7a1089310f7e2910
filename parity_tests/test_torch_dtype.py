"""Nothing is float32 unless asked; a float32 run is compared at the float32 bound.

torch's default dtype is float32: every tensor, module and optimizer state in torch_impl
must take the case's dtype explicitly. These tests look at the numbers each style
returns and at the torch objects themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_parity.reports.compare import compare_case

from . import helpers as H
from .helpers import CASES, assert_row, case, describe, traces

pytestmark = pytest.mark.cost(25)     # its tests' seconds, summed (conftest: the costliest files start first)

NET_CASES = [n for n in CASES if case(n).net is not None]


def _arrays(values: dict):
    return {k: v for k, v in values.items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("name", NET_CASES)
def test_float64_everywhere_by_default(torch_backend, name):
    for t in traces(name, "torch"):
        arrays = _arrays(t.values)
        assert arrays, describe(t) if hasattr(t, "status") else t
        wrong = {k: v.dtype for k, v in arrays.items() if v.dtype != np.float64}
        assert not wrong, f"{t.style}: not float64: {wrong}"
        assert "float64" in t.mapping.get("dtype", t.mapping.get("model", ""))


def test_torch_objects_are_float64(torch_backend):
    import torch
    from backprop_parity.torch_impl import idiomatic, layout, network
    c = case("courtial-bias-trick")
    assert torch.get_default_dtype() == torch.float32      # torch_impl never changes the global default
    model = idiomatic.load(c.net, c.params)
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    leaves = network.load(c.net, c.params)
    assert {p.dtype for p in leaves.values()} == {torch.float64}
    X = layout.tensor(c.X, c.net.dtype)
    fwd = network.forward(c.net, leaves, X)
    assert {z.dtype for z in fwd.Z + fwd.A + fwd.A_in} == {torch.float64}
    opt = network.optimizer(c.net, leaves, c.hyper, 5)
    assert all(p.dtype == torch.float64 for g in opt.param_groups for p in g["params"])


F32_CASES = [n for n in NET_CASES if case(n).y is not None]


@pytest.mark.parametrize("name", F32_CASES)
def test_float32_run_at_float32_bound(torch_backend, name):
    """--dtype float32: both styles compute in float32 and hold every reference key at the float32 bound."""
    c = case(name).cast(np.float32)
    ref = H.float32_traces(name, H.REF)[0]
    mine = H.float32_traces(name, "torch")
    for t in mine:
        assert hasattr(t, "values"), describe(t)
        wrong = {k: v.dtype for k, v in _arrays(t.values).items() if v.dtype != np.float32}
        assert not wrong, f"{t.style}: not float32: {wrong}"
        assert "float32" in t.mapping.get("dtype", t.mapping.get("model", ""))
    rows = [r for r in compare_case(c, mine, ref, H.effective_forms(c, "torch")) if r.source in ("reference", "gradcheck")]
    assert rows
    for r in rows:
        assert_row(r)
