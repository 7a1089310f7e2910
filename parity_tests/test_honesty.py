"""Nothing passes by omission: the comparison machinery on fake traces and a fake backend.

A comparison over zero elements, a quantity a backend did not produce, a backend that is not
installed, that crashed or whose worker process died — each must be a failed row or a loudly
reported "no counterpart", never a pass, and the row's ``status`` (the column the CSV/JSON carry)
must say which. The fake backend (conftest ``fake_backend``) is a real package registered for the
test, so the command runs it exactly like a framework: in its own worker process.

Three tests pinned holes this suite found (a crashed reference raised, a backend that forgot an
article key blamed the case file, a style that compared nothing passed); they are closed in
reports/run.py and reports/compare.py.
"""

from __future__ import annotations

import csv
import json
import pickle

import numpy as np
import pytest

import backprop_parity.reference.backend as RB
from backprop_parity.reference import registry
from backprop_parity.reference.case import CaseError, builtin_names, load
from backprop_parity.reports import backends as B
from backprop_parity.reports import compare, run
from backprop_parity.reports.cli import main

from .test_case_errors import GOOD

REF = registry.reference().name


def small_case(tmp_path, quantity: str = 'of = "Z[1][0, 0]"\nprinted = "0.7"'):
    text = GOOD.replace('of = "Z[1][0, 0]"\nprinted = "0.7"', quantity)
    p = tmp_path / "mine.toml"
    p.write_text(text, encoding="utf-8")
    return load(p)


def fake_trace(values: dict, missing: dict | None = None, backend="fake", style="first"):
    return RB.Trace(backend, style, values, missing or {}, functions=RB.functions())


# --------------------------------------------------------------------------- zero elements

def test_reference_row_over_zero_elements_fails(tmp_path):
    c = small_case(tmp_path)
    ref = fake_trace({"Z[1]": np.zeros((0, 2))}, backend=REF, style="manual")
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

MANUAL = """
def manual(case):
    return relabel(RB.trace_manual(case), "{style}")
"""


def test_backend_not_installed_is_a_failed_not_run_row(fake_backend, tmp_path):
    fake_backend("import no_such_module_backprop_parity_test\nSTYLES = {}\n")
    c = small_case(tmp_path)
    rows = B.run(c, "fake")                                   # in this process
    assert [r.style for r in rows] == ["first", "second"]
    assert all(r.passed is False and r.status == "NOT RUN" and "no_such_module" in r.reason for r in rows)
    out = tmp_path / "rows.json"
    code = main(["check", str(c.path), "--backend", "fake", "--quiet", "--json", str(out)])   # in a worker
    assert code == 1
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {(r["style"], r["status"]) for r in data} == {("first", "NOT RUN"), ("second", "NOT RUN")}
    assert all(r["passed"] is False and "no_such_module" in r["reason"] for r in data)


def test_crashing_style_is_a_failed_error_row(fake_backend, tmp_path):
    c = small_case(tmp_path)
    fake_backend(MANUAL.format(style="second") + "STYLES = {'first': lambda case: 1 / 0, 'second': manual}\n")
    rows = B.run(c, "fake")
    assert rows[0].passed is False and rows[0].status == "ERROR" and "ZeroDivisionError" in rows[0].reason
    assert isinstance(rows[1], RB.Trace)
    (_, traces, _), = run.run_cases([c], ["fake"])            # the same, from the worker
    assert traces[0].status == "ERROR" and "ZeroDivisionError" in traces[0].reason
    assert isinstance(traces[1], RB.Trace) and traces[1].mapping["env"] == "set"   # Backend.env reached it
    assert traces[1].functions == {} and traces[1].evaluated                      # evaluated there


def test_a_style_the_registry_declares_but_the_backend_lacks_is_an_error(fake_backend, tmp_path):
    c = small_case(tmp_path)
    fake_backend(MANUAL.format(style="first") + "STYLES = {'first': manual}\n")
    rows = run.run_cases([c], ["fake"])[0][2]
    (row,) = [r for r in rows if r.style == "second"]
    assert row.status == "ERROR" and row.passed is False and "STYLES has no such style" in row.reason


def test_a_worker_that_dies_is_an_error_row(fake_backend, tmp_path, capsys):
    c = small_case(tmp_path)
    fake_backend("""
import sys

def dies(case):
    print("about to die", file=sys.stderr, flush=True)
    os._exit(7)

STYLES = {'first': dies, 'second': dies}
""")
    out = tmp_path / "rows.json"
    assert main(["check", str(c.path), "--backend", "fake", "--quiet", "--json", str(out)]) == 1
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {(r["style"], r["status"], r["passed"]) for r in data} == {("first", "ERROR", False),
                                                                     ("second", "ERROR", False)}
    assert all("exit code 7" in r["reason"] and "about to die" in r["reason"] for r in data)
    assert "about to die" in capsys.readouterr().err        # the worker's stderr is relayed, not swallowed


def test_a_worker_that_dies_keeps_the_cases_it_finished(fake_backend, tmp_path):
    first, second = small_case(tmp_path), load("zhou-mse")
    fake_backend(MANUAL.format(style="first") + """
def dies_on_zhou(case):
    if case.name == "zhou-mse":
        os._exit(3)
    return relabel(RB.trace_manual(case), "second")

STYLES = {'first': manual, 'second': dies_on_zhou}
""")
    results = run.run_cases([first, second], ["fake"])
    assert all(isinstance(t, RB.Trace) for t in results[0][1])
    assert {t.status for t in results[1][1]} == {"ERROR"} and all(not isinstance(t, RB.Trace) for t in results[1][1])


def test_check_json_and_csv_say_which(fake_backend, tmp_path):
    """One run with a crashed style and a style that forgot a key: exit 1, and the files carry the status."""
    c = small_case(tmp_path)
    fake_backend("""
def forgetful(case):
    t = RB.trace_manual(case)
    values = {k: v for k, v in t.values.items() if k != "grad.W[1]"}
    return relabel(t, "second", values, {"deriv[1]": "captured elsewhere"})

STYLES = {"first": lambda case: 1 / 0, "second": forgetful}
""")
    out = tmp_path / "rows.json"
    assert main(["check", str(c.path), "--backend", "fake", "--quiet", "--json", str(out)]) == 1
    rows = json.loads(out.read_text(encoding="utf-8"))
    by = {(r["style"], r["quantity"]): r for r in rows}
    assert by[("first", "*")]["status"] == "ERROR" and by[("first", "*")]["passed"] is False
    assert by[("second", "grad.W[1]")]["status"] == "MISSING" and by[("second", "grad.W[1]")]["passed"] is False
    assert by[("second", "deriv[1]")]["status"] == "no counterpart" and by[("second", "deriv[1]")]["passed"] is None
    report = pytest.importorskip("backprop_parity.reports.report")
    results = run.run_cases([c], ["fake"])
    path = tmp_path / "rows.csv"
    from backprop_parity.reports.cli import written
    report.write_csv([written(r.as_dict()) for _, _, rs in results for r in rs], path)
    with open(path, newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    got = {(r["style"], r["quantity"]): (r["status"], r["passed"]) for r in table}
    assert got[("first", "*")] == ("ERROR", "False")
    assert got[("second", "grad.W[1]")] == ("MISSING", "False")
    assert got[("second", "deriv[1]")] == ("no counterpart", "")


# --------------------------------------------------------------------------- holes found and closed

def test_crashed_reference_with_a_framework_is_reported_not_raised(fake_backend, monkeypatch, tmp_path):
    c = small_case(tmp_path)
    fake_backend(MANUAL.format(style="first") + "STYLES = {'first': manual}\n")
    monkeypatch.setitem(RB.STYLES, "manual", lambda case: 1 / 0)    # the reference runs in this process
    results = run.run_cases([c], [REF, "fake"])
    rows = results[0][2]
    assert any(r.backend == REF and r.status == "ERROR" and r.passed is False for r in rows)


def test_backend_that_forgot_an_article_key_is_a_failed_row(fake_backend, tmp_path):
    c = small_case(tmp_path)
    fake_backend("STYLES = {'first': lambda case: Trace('fake', 'first', {}, {})}\n")
    rows = run.run_cases([c], ["fake"])[0][2]
    article = [r for r in rows if r.source == "article" and r.backend == "fake"]
    assert article and all(r.passed is False for r in article)


def test_style_that_compares_nothing_does_not_pass(fake_backend, tmp_path):
    c = small_case(tmp_path)
    fake_backend("""
def nothing(case):
    ref = RB.trace_manual(case)
    return Trace("fake", "first", {}, {k: "none" for k in ref.values})

STYLES = {"first": nothing}
""")
    out = tmp_path / "rows.json"
    assert main(["check", str(c.path), "--backend", "fake", "--quiet", "--json", str(out)]) == 1


# --------------------------------------------------------------------------- expressions evaluated in the worker

ODD = """
[[quantity]]
id = "fn-value"
of = "act.sigmoid_prime(2)"
formula = "sigmoid(2) * (1 - sigmoid(2))"
[[quantity]]
id = "not-a-number"
of = "act.sigmoid"
printed = "1"
[[quantity]]
id = "formula-shapes"
of = "Z[1]"
formula = "y @ X"
erratum = "does not fit"
[[quantity]]
id = "bad-call"
of = "act.sigmoid_prime(1, 2, 3)"
printed = "1"
[[quantity]]
id = "at-zero"
of = "act.relu_prime(0, 1)"
printed = "1"
"""


def _rows_both_ways(case, trace, ref):
    """(rows evaluated here, rows replayed from trace.evaluated after a pickle round trip), or the CaseErrors."""
    def attempt(t):
        try:
            return [r.as_dict() for r in compare.compare_case(case, [t], ref)]
        except CaseError as exc:
            return f"CaseError: {exc}"
    here = attempt(trace)
    travelled = RB.Trace(trace.backend, trace.style, trace.values, trace.missing, trace.seconds, trace.mapping,
                         functions={}, evaluated=compare.evaluate_quantities(case, trace))
    travelled = pickle.loads(pickle.dumps(travelled))
    return here, attempt(travelled)


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


@pytest.mark.parametrize("name", builtin_names())
def test_replayed_expressions_give_the_same_rows_on_every_builtin_case(name):
    """Every of/formula of every built-in case: the rows from trace.evaluated equal those computed here."""
    c = load(name)
    ref = RB.trace_manual(c)
    ref.functions = RB.functions(c.net.dtype) if c.net is not None else RB.functions()
    trace = RB.Trace("fake", "first", dict(ref.values), dict(ref.missing), functions=ref.functions)
    here, replayed = _rows_both_ways(c, trace, ref)
    assert _same(here, replayed)


def test_replayed_expressions_keep_every_kind_of_outcome(tmp_path):
    """Errors, no counterpart, a formula that does not fit, a value that is not a number, MISSING."""
    c = small_case(tmp_path, 'of = "Z[1][0, 0]"\nprinted = "0.7"' + ODD)
    ref = RB.trace_manual(c)
    ref.functions = RB.functions()

    def no_at_zero(z, *p):
        raise compare.expr.NoCounterpart("act.relu_prime", "this backend has no at_zero")
    functions = dict(ref.functions, **{"act.relu_prime": no_at_zero})
    values = {k: v for k, v in ref.values.items() if k != "Z[1]"}          # forgot Z[1]: MISSING
    trace = RB.Trace("fake", "first", values, {}, functions=functions)
    here, replayed = _rows_both_ways(c, trace, ref)
    assert _same(here, replayed)
    by = {r["quantity"]: r for r in replayed if r["source"] == "article"}
    assert by["fn-value"]["status"] == "match"
    assert by["not-a-number"]["status"] == "error" and by["not-a-number"]["reason"].startswith("TypeError")
    assert by["bad-call"]["status"] == "error" and "takes" in by["bad-call"]["reason"]
    assert by["at-zero"]["status"] == "no counterpart" and by["at-zero"]["reason"] == "this backend has no at_zero"
    assert by["formula-shapes"]["status"] == "MISSING"
    full = RB.Trace("fake", "first", dict(ref.values), {}, functions=functions)
    here, replayed = _rows_both_ways(c, full, ref)
    assert _same(here, replayed)
    by = {r["quantity"]: r for r in replayed if r["source"] == "article"}
    assert by["formula-shapes"]["status"] == "erratum confirmed" and "cannot be evaluated" in by["formula-shapes"]["reason"]


def test_replayed_case_file_mistake_is_still_a_case_error(tmp_path):
    c = small_case(tmp_path, 'of = "Z[1][0, 0]"\nprinted = "0.7"\n[[quantity]]\nid = "typo"\nof = "Zz[1]"\nprinted = "1"')
    ref = RB.trace_manual(c)
    ref.functions = RB.functions()
    trace = RB.Trace("fake", "first", dict(ref.values), {}, functions=ref.functions)
    here, replayed = _rows_both_ways(c, trace, ref)
    assert here == replayed and here.startswith("CaseError") and "Zz" in here
