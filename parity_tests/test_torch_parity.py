"""PyTorch mirror vs the articles and vs the NumPy reference, on every built-in case.

One comparison helper (``helpers.rows`` — the rows ``backprop-parity check`` prints),
many one-line parametrized cases. Nothing here imports torch at collection time:
without torch every test is skipped by the ``torch_backend`` fixture (or fails when
BACKPROP_PARITY_REQUIRE names torch).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from backprop_parity.reference.network import train as reference_train
from backprop_parity.reports import tolerances
from backprop_parity.reports.backends import STYLE_NAMES

from . import helpers
from .helpers import CASES, assert_row, case, describe, reference_trace, rows, traces

pytestmark = pytest.mark.cost(85)     # its tests' seconds, summed (conftest: the costliest files start first)

STYLES = STYLE_NAMES["torch"]
NET_CASES = [n for n in CASES if case(n).net is not None]
TRAINED = [n for n in NET_CASES if case(n).y is not None]


def trace_of(name: str, style: str):
    """The cached trace of one torch style (the same object the comparison rows come from)."""
    found = [t for t in traces(name, "torch") if t.style == style]
    assert len(found) == 1 and hasattr(found[0], "values"), [describe(t) for t in found if hasattr(t, "status")]
    return found[0]


def find(name: str, source: str, quantity: str, style: str):
    """The one row of this case/source/quantity/style (a backend failure shows up in the message)."""
    found = [r for r in rows(name, "torch")
             if r.source == source and r.quantity == quantity and r.style == style]
    failures = [describe(r) for r in rows(name, "torch") if r.quantity == "*" and r.style == style]
    assert len(found) == 1, f"{len(found)} rows for {name}/{quantity}/{style}; backend: {failures}"
    return found[0]


ARTICLE = [(n, q.id, s) for n in CASES for q in case(n).quantities for s in STYLES]
REFERENCE = [(n, k, s) for n in NET_CASES for k in reference_trace(n).values for s in STYLES]
GRADCHECK = [(n, s) for n in NET_CASES if "gradcheck.rel_error" in reference_trace(n).values for s in STYLES]


@pytest.mark.parametrize("name,qid,style", ARTICLE, ids=["/".join(p) for p in ARTICLE])
def test_article_quantity(torch_backend, name, qid, style):
    assert_row(find(name, "article", qid, style))


@pytest.mark.parametrize("name,key,style", REFERENCE, ids=["/".join(p) for p in REFERENCE])
def test_reference_key(torch_backend, name, key, style):
    assert_row(find(name, "reference", key, style))


@pytest.mark.parametrize("name,style", GRADCHECK, ids=["/".join(p) for p in GRADCHECK])
def test_gradcheck(torch_backend, name, style):
    assert_row(find(name, "gradcheck", "gradcheck.rel_error", style))


def test_styles_are_the_reported_ones(torch_backend):
    assert list(torch_backend.STYLES) == STYLES


# --------------------------------------------------------------------------- what has no counterpart, and why

NO_COUNTERPART = {
    # style -> key families (name before "[") that may be missing, and only under the bias trick
    "autograd": {"deriv_aug", "delta_aug"},
    "modules": {"deriv_aug", "delta_aug", "A_aug", "dA"},
    "ddp": {"deriv_aug", "delta_aug", "A_aug", "dA"},          # the modules style's model, split over 2 processes
}


@pytest.mark.parametrize("name", NET_CASES)
@pytest.mark.parametrize("style", STYLES)
def test_missing_is_exactly_the_keys_without_counterpart(torch_backend, name, style):
    trace = trace_of(name, style)
    ref = reference_trace(name).values
    assert set(trace.values) | set(trace.missing) >= set(ref), set(ref) - set(trace.values) - set(trace.missing)
    assert not set(trace.values) & set(trace.missing)
    allowed = NO_COUNTERPART[style] if case(name).net.trick else set()
    assert {k.split("[")[0] for k in trace.missing} <= allowed, trace.missing
    for k, reason in trace.missing.items():
        assert k in ref and isinstance(reason, str) and len(reason) > 20, (k, reason)


def test_bias_trick_autograd_keeps_the_bias_unit_column(torch_backend):
    """Under the trick, A_aug.retain_grad() gives Courtial's δ·Wᵀ with the bias unit's column."""
    t = trace_of("courtial-bias-trick", "autograd")
    assert t.values["dA[3]"].shape == (5, 3) and t.values["A_aug[3]"].shape == (5, 3)
    assert "dA[3]" in trace_of("courtial-bias-trick", "modules").missing


# --------------------------------------------------------------------------- the mapping the report prints

@pytest.mark.parametrize("name", NET_CASES)
@pytest.mark.parametrize("style", STYLES)
def test_mapping_says_how_conventions_map(torch_backend, name, style):
    c = case(name)
    m = trace_of(name, style).mapping
    assert all(isinstance(v, str) and v for v in m.values()), m
    assert {"parameters", "activations", "dtype" if style == "autograd" else "model"} <= set(m)
    if c.y is not None:
        assert {"loss", "deltas", "learning rate", "update"} <= set(m)
        lr = c.hyper.learning_rate * c.hyper.scale(c.X.shape[c.net.example_axis] if c.hyper.rule == "batch" else 1)
        assert f"lr={lr:g}" in m["update"]
    if c.hyper.l2:
        assert "L2" in m and f"{c.hyper.l2:g}" in m["L2"]


def test_mapping_courtial_bias_trick(torch_backend):
    m = trace_of("courtial-bias-trick", "modules").mapping
    assert "weight = W1[:-1, :].T (3, 3), bias = W1[-1, :] (3,)" in m["parameters"]
    assert "0.5 · nn.MSELoss(reduction='sum')" in m["loss"]
    assert "lr = α·(1/n) = 0.1·(1/5) = 0.02" in m["learning rate"]


# --------------------------------------------------------------------------- training, epoch by epoch

EPOCHS = [(n, s) for n in TRAINED if case(n).hyper.epochs > 1 for s in STYLES]


def _torch_train(torch_backend, style, c):
    module = torch_backend.STYLES[style]
    training = module.train(c.net, c.params, c.X, c.y, c.hyper, every_epoch=True)
    return training.history, training.costs


@pytest.mark.parametrize("name,style", EPOCHS, ids=["/".join(p) for p in EPOCHS])
def test_training_matches_epoch_by_epoch(torch_backend, name, style):
    c = case(name)
    history, costs = _torch_train(torch_backend, style, c)
    written = helpers.in_style_form(c, "torch", style)       # torch's momentum is the buffer form: held to it
    ref = reference_train(written.net, written.params, written.X, written.y, written.hyper, every_epoch=True)
    ref_history, ref_costs = ref.history, ref.costs
    assert len(history) == len(ref_history) == c.hyper.epochs + 1
    for e, (mine, ref) in enumerate(zip(history, ref_history)):
        c_e = dataclasses.replace(c, hyper=dataclasses.replace(c.hyper, epochs=max(e, 1)))
        for pname in ref:
            tol, why = tolerances.reference_tolerance("W_final[1]", ref[pname], {}, c_e)
            diff = float(np.max(np.abs(mine[pname] - ref[pname])))
            assert diff <= tol, f"epoch {e} {pname}: |diff| {diff:.3g} > {tol:.3g} ({why})"
        tol, why = tolerances.reference_tolerance("costs", ref_costs[:e + 1], {}, c_e)
        assert abs(costs[e] - ref_costs[e]) <= tol, f"epoch {e} J: {costs[e]!r} vs {ref_costs[e]!r} ({why})"


@pytest.mark.parametrize("style", STYLES)
def test_zhou_sgd_runs_in_data_order(torch_backend, style):
    """Per-sample SGD in the article's order: reversing the data gives different weights."""
    c = case("zhou-gender")
    short = dataclasses.replace(c.hyper, epochs=1)
    c1 = dataclasses.replace(c, hyper=short)
    c2 = dataclasses.replace(c1, X=c.X[::-1].copy(), y=c.y[::-1].copy())
    h1, _ = _torch_train(torch_backend, style, c1)
    h2, _ = _torch_train(torch_backend, style, c2)
    ref1 = reference_train(c.net, c.params, c.X, c.y, short).history
    assert np.allclose(h1[1]["W1"], ref1[1]["W1"], rtol=1e-12, atol=0)
    assert not np.allclose(h1[1]["W1"], h2[1]["W1"], rtol=1e-6)


# --------------------------------------------------------------------------- the command line

def test_check_json_has_both_torch_styles(torch_backend, tmp_path):
    from backprop_parity.reports.cli import main
    out = tmp_path / "rows.json"
    assert main(["check", "courtial-bias-trick", "zhou-mse", "--backend", "torch", "--json", str(out),
                 "--quiet"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {r["style"] for r in data if r["backend"] == "torch"} == set(STYLES)
    assert {"case", "quantity", "backend", "style", "source", "max_abs_diff", "tolerance", "passed",
            "status"} <= set(data[0])
    assert not [r for r in data if r["passed"] is False]


# --------------------------------------------------------------------------- step markers for the report

STEPS = {"bias-trick", "forward-affine", "forward-activation", "cost", "output-delta", "hidden-delta",
         "input-gradient", "weight-gradient", "update", "l2"}


@pytest.mark.parametrize("module", ["network", "idiomatic"])
def test_every_step_is_marked(torch_backend, module):
    import backprop_parity.torch_impl as torch_impl
    src = (Path(torch_impl.__file__).parent / f"{module}.py").read_text(encoding="utf-8")
    marked = set(re.findall(r"# \[step:([a-z0-9-]+)\]", src))
    assert marked == STEPS, (STEPS - marked, marked - STEPS)


@pytest.mark.parametrize("style", STYLES)
def test_one_wrong_entry_fails_at_its_own_bound(torch_backend, style):
    """×(1 + 1e-9) in any single nonzero entry of any element-bounded quantity fails (helpers)."""
    helpers.assert_one_wrong_entry_fails("torch", style)
