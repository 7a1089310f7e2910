"""Nothing passes by omission: the comparison machinery on fake traces.

A comparison over zero elements, a quantity a backend did not produce, a backend that is not
installed or that crashed — each must be a failed row or a loudly reported "no counterpart",
never a pass, and the row's ``status`` (the column the CSV/JSON carry) must say which.

The last three tests pinned holes this suite found (a crashed reference raised, a backend that
forgot an article key blamed the case file, a style that compared nothing passed); they are closed
in reports/run.py and reports/compare.py.
"""

from __future__ import annotations

import csv
import json
import types

import numpy as np
import pytest

import backprop_parity.reference.backend as RB
from backprop_parity.reference.case import CaseError, load
from backprop_parity.reports import backends as B
from backprop_parity.reports import compare, run
from backprop_parity.reports.cli import main

from .test_case_errors import GOOD


def small_case(tmp_path, quantity: str = 'of = "Z[1][0, 0]"\nprinted = "0.7"'):
    text = GOOD.replace('of = "Z[1][0, 0]"\nprinted = "0.7"', quantity)
    p = tmp_path / "mine.toml"
    p.write_text(text, encoding="utf-8")
    return load(p)


def fake_trace(values: dict, missing: dict | None = None, backend="torch", style="autograd"):
    return RB.Trace(backend, style, values, missing or {}, functions=RB.functions())


@pytest.fixture
def fake_torch(monkeypatch):
    """Install a fake 'torch' backend whose styles the test chooses."""
    def install(styles: dict):
        module = types.SimpleNamespace(STYLES=styles, functions=RB.functions)
        monkeypatch.setitem(B._loaded, "torch", module)
        monkeypatch.setitem(B.STYLE_NAMES, "torch", list(styles))
        return module
    return install


# --------------------------------------------------------------------------- zero elements

def test_reference_row_over_zero_elements_fails(tmp_path):
    c = small_case(tmp_path)
    ref = fake_trace({"Z[1]": np.zeros((0, 2))}, backend="numpy", style="manual")
    rows = compare.reference_comparisons(c, fake_trace({"Z[1]": np.zeros((0, 2))}), ref)
    (row,) = rows
    assert row.passed is False and row.status == "empty" and row.n_elements == 0


def test_article_row_over_zero_elements_fails(tmp_path):
    c = small_case(tmp_path, 'of = "X[0:0]"\nformula = "X[0:0]"')
    row = compare.article_comparison(c, c.quantities[0], RB.trace_manual(c))
    assert row.passed is False and row.status == "empty"


def test_printed_quantity_with_no_numbers_is_refused(tmp_path):
    with pytest.raises(CaseError, match="empty row"):
        small_case(tmp_path, 'of = "X[0:1, 0:0]"\nprinted = [[]]')


# --------------------------------------------------------------------------- missing quantities

def test_key_missing_without_reason_fails(tmp_path):
    c = small_case(tmp_path)
    ref = RB.trace_manual(c)
    values = dict(ref.values)
    del values["delta[1]"]
    rows = {r.quantity: r for r in compare.reference_comparisons(c, fake_trace(values), ref)}
    assert rows["delta[1]"].passed is False and rows["delta[1]"].status == "MISSING"
    assert all(r.passed for k, r in rows.items() if k != "delta[1]")


def test_key_missing_with_reason_is_reported_not_passed(tmp_path):
    c = small_case(tmp_path)
    ref = RB.trace_manual(c)
    values = dict(ref.values)
    del values["delta[1]"]
    rows = {r.quantity: r for r in compare.reference_comparisons(c, fake_trace(values, {"delta[1]": "why"}), ref)}
    row = rows["delta[1]"]
    assert row.passed is None and row.status == "no counterpart" and row.reason == "why"


def test_article_quantity_with_no_counterpart_is_reported_not_passed(tmp_path):
    c = small_case(tmp_path)
    ref = RB.trace_manual(c)
    values = {k: v for k, v in ref.values.items() if not k.startswith("Z[")}
    row = compare.article_comparison(c, c.quantities[0], fake_trace(values, {"Z[1]": "no such thing here"}))
    assert row.passed is None and row.status == "no counterpart" and row.reason == "no such thing here"


def test_shape_mismatch_fails(tmp_path):
    c = small_case(tmp_path)
    ref = RB.trace_manual(c)
    values = dict(ref.values, **{"Z[2]": ref.values["Z[2]"].T})          # (2, 1) written as (1, 2)
    rows = {r.quantity: r for r in compare.reference_comparisons(c, fake_trace(values), ref)}
    assert rows["Z[2]"].passed is False and rows["Z[2]"].status == "SHAPE"


def test_nan_never_matches_a_number(tmp_path):
    c = small_case(tmp_path)
    ref = RB.trace_manual(c)
    values = dict(ref.values)
    values["J"] = float("nan")
    rows = {r.quantity: r for r in compare.reference_comparisons(c, fake_trace(values), ref)}
    assert rows["J"].passed is False


def test_gradcheck_nan_fails(tmp_path):
    c = small_case(tmp_path)
    ref = RB.trace_manual(c)
    row = compare.gradcheck_comparison(c, fake_trace(dict(ref.values, **{"gradcheck.rel_error": float("nan")})))
    assert row.passed is False


# --------------------------------------------------------------------------- backends that did not run

def test_backend_not_installed_is_a_failed_not_run_row(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(B.MODULES, "torch", "no_such_module_backprop_parity_test")
    monkeypatch.delitem(B._loaded, "torch", raising=False)
    c = small_case(tmp_path)
    rows = B.run(c, "torch")
    assert rows and all(r.passed is False and r.status == "NOT RUN" and "no_such_module" in r.reason for r in rows)
    out = tmp_path / "rows.json"
    code = main(["check", str(c.path), "--backend", "torch", "--quiet", "--json", str(out)])
    assert code == 1
    statuses = {r["status"] for r in json.loads(out.read_text(encoding="utf-8"))}
    assert "NOT RUN" in statuses


def test_crashing_style_is_a_failed_error_row(fake_torch, tmp_path):
    c = small_case(tmp_path)
    fake_torch({"autograd": lambda case: 1 / 0, "modules": lambda case: RB.trace_manual(case)})
    rows = B.run(c, "torch")
    assert rows[0].passed is False and rows[0].status == "ERROR" and "ZeroDivisionError" in rows[0].reason
    assert isinstance(rows[1], RB.Trace)


def test_check_json_and_csv_say_which(fake_torch, tmp_path):
    """One run with a crashed style and a style that forgot a key: exit 1, and the files carry the status."""
    c = small_case(tmp_path)

    def forgetful(case):
        t = RB.trace_manual(case)
        values = {k: v for k, v in t.values.items() if k != "grad.W[1]"}
        return RB.Trace("torch", "modules", values, {"deriv[1]": "captured elsewhere"})
    fake_torch({"autograd": lambda case: 1 / 0, "modules": forgetful})
    out = tmp_path / "rows.json"
    assert main(["check", str(c.path), "--backend", "torch", "--quiet", "--json", str(out)]) == 1
    rows = json.loads(out.read_text(encoding="utf-8"))
    by = {(r["style"], r["quantity"]): r for r in rows}
    assert by[("autograd", "*")]["status"] == "ERROR" and by[("autograd", "*")]["passed"] is False
    assert by[("modules", "grad.W[1]")]["status"] == "MISSING" and by[("modules", "grad.W[1]")]["passed"] is False
    assert by[("modules", "deriv[1]")]["status"] == "no counterpart" and by[("modules", "deriv[1]")]["passed"] is None
    report = pytest.importorskip("backprop_parity.reports.report")
    results = run.run_cases([c], ["torch"])
    path = tmp_path / "rows.csv"
    report.write_csv([r for _, _, rs in results for r in rs], path)
    with open(path, newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    got = {(r["style"], r["quantity"]): (r["status"], r["passed"]) for r in table}
    assert got[("autograd", "*")] == ("ERROR", "False")
    assert got[("modules", "grad.W[1]")] == ("MISSING", "False")
    assert got[("modules", "deriv[1]")] == ("no counterpart", "")


# --------------------------------------------------------------------------- holes found and closed

def test_crashed_reference_with_a_framework_is_reported_not_raised(fake_torch, monkeypatch, tmp_path):
    c = small_case(tmp_path)
    fake_torch({"autograd": lambda case: RB.trace_manual(case)})
    monkeypatch.setitem(RB.STYLES, "manual", lambda case: 1 / 0)
    results = run.run_cases([c], ["numpy", "torch"])
    rows = results[0][2]
    assert any(r.backend == "numpy" and r.status == "ERROR" and r.passed is False for r in rows)


def test_backend_that_forgot_an_article_key_is_a_failed_row(fake_torch, tmp_path):
    c = small_case(tmp_path)
    fake_torch({"autograd": lambda case: RB.Trace("torch", "autograd", {}, {})})
    rows = run.run_cases([c], ["torch"])[0][2]
    article = [r for r in rows if r.source == "article" and r.backend == "torch"]
    assert article and all(r.passed is False for r in article)


def test_style_that_compares_nothing_does_not_pass(fake_torch, tmp_path):
    c = small_case(tmp_path)
    ref = RB.trace_manual(c)
    fake_torch({"autograd": lambda case: RB.Trace("torch", "autograd", {}, {k: "none" for k in ref.values})})
    out = tmp_path / "rows.json"
    assert main(["check", str(c.path), "--backend", "torch", "--quiet", "--json", str(out)]) == 1
