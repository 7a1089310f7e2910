"""What a person reads in a narrow or piped terminal: check, explain and cases at 80 columns and piped.

* check at 80 columns keeps four columns (quantity/backend, printed, |diff| / tolerance, verdict) and
  moves reasons under the table; a per-element tolerance shows its range, not one number; a failing row
  shows what the backend computed.
* explain --step takes the article's symbols (``delta3``, ``Z``, ``grad.W[2]``) and a case's quantity ids.
* a side-of-threshold check says so in its verdict ("same side of 0.5"), not "match".
* cases, piped, never cuts a case name and names the article's author.
"""

from __future__ import annotations

import pytest

from backprop_parity.reference import registry
from backprop_parity.reference.case import load, resolve
from backprop_parity.reports import steps
from backprop_parity.reports.cli import main

from .test_case_errors import GOOD

REF = registry.reference().name


def run(capsys, monkeypatch, columns: int, *argv) -> tuple[int, str]:
    monkeypatch.setenv("COLUMNS", str(columns))
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_check_at_80_columns(capsys, monkeypatch):
    code, out = run(capsys, monkeypatch, 80, "check", "courtial-five-cars", "--backend", REF)
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "quantity /" in out and "|diff| / tol" in out and "erratum / reason" not in out
    assert "5.0e-08 … 5.0e-07" in out                  # A4-cars2-5: ½ unit of 7 and of 6 decimals
    assert any(line.startswith(f"A4-car1 ({REF}/manual): tanh(Z4[0])") for line in lines)


def test_a_failing_row_shows_what_was_computed(tmp_path, capsys, monkeypatch):
    p = tmp_path / "wrong.toml"
    p.write_text(GOOD.replace('printed = "0.7"', 'printed = "0.9"'), encoding="utf-8")
    code, out = run(capsys, monkeypatch, 120, "check", str(p), "--backend", REF)
    assert code == 1
    assert f"z1 {REF}/manual computes 0.7" in out


def test_side_checks_say_so_in_the_verdict(capsys, monkeypatch):
    code, out = run(capsys, monkeypatch, 200, "check", "zhou-gender", "--backend", REF)
    assert code == 0
    emily = next(line for line in out.splitlines() if line.startswith("│ emily "))
    assert "same side of 0.5" in emily and " match " not in emily


@pytest.mark.parametrize("typed,step", [
    ("delta3", "hidden-delta"), ("delta4", "output-delta"), ("delta[3]", "hidden-delta"), ("Z", "forward-affine"),
    ("grad.W[2]", "weight-gradient"), ("W_new", "update"), ("J", "cost"), ("rel-error", "gradcheck"),
    ("deriv2-aug-cols12", "hidden-delta"), ("output-delta", "output-delta"), ("nonsense", None),
])
def test_explain_step_takes_the_articles_symbols(typed, step):
    c = load(resolve("courtial-bias-trick"))           # layers 2, 3, 4: δ(4) is the output delta
    assert steps.resolve(typed, c.net, c.quantities) == step


def test_explain_step_alias_end_to_end(capsys, monkeypatch):
    code, out = run(capsys, monkeypatch, 120, "explain", "courtial-bias-trick", "--backend", REF, "--step", "delta3",
                    "--quiet")
    assert code == 0 and "hidden delta" in out and "output delta" not in out
    assert main(["explain", "courtial-bias-trick", "--backend", REF, "--step", "nonsense"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown step 'nonsense'" in err and "delta3" in err and len(err.splitlines()) == 1


def test_explain_matrices_never_wrap(capsys, monkeypatch):
    code, out = run(capsys, monkeypatch, 60, "explain", "courtial-bias-trick", "--backend", REF, "--step", "delta3",
                    "--quiet")
    rows = [line.rstrip() for line in out.splitlines() if line.lstrip().startswith(("⎡", "⎢", "⎣", "["))]
    assert rows and all(len(line) <= 60 for line in rows)
    assert all(line.endswith(("⎤", "⎥", "⎦", "]")) for line in rows)      # each row whole on its line: a matrix
    assert any(" … " in line for line in rows)             # too wide for 60 columns shows fewer columns, not cut


def test_cases_piped_keeps_every_name(capsys, monkeypatch):
    from backprop_parity.reference.case import builtin_names
    code, out = run(capsys, monkeypatch, 80, "cases")
    assert code == 0
    for name in builtin_names():
        assert f" {name} " in out, name
    assert "Florian" in out and "Courtial," in out          # the author (wrapped at 80 columns)


def test_check_separates_gradient_checking_and_shows_errata_values(capsys, monkeypatch):
    """float64 parity and gradient checking's noise are two summary rows; an erratum prints the value a correct
    computation gives, and a misprinted formula what it literally gives."""
    code, out = run(capsys, monkeypatch, 200, "check", "courtial-bias-trick", "--backend", REF)
    assert code == 0
    flat = " ".join(out.split())
    assert "loss2-as-labelled: printed 0.30621105; computed 0.2713382326" in flat
    assert "delta4-formula-square: the printed formula (y - A[4]) * -(1 - tanh(Z[4]))**2 gives -0.1575617663" in flat


def test_gradient_checking_rows_are_told_apart():
    """check's summary puts gradient checking's centered differences in their own row (their noise, 64·eps·|J|/h,
    is far above float64's): the rows it moves there are exactly the gradcheck.* keys."""
    from backprop_parity.reports.compare import Comparison
    from backprop_parity.reports.text import _centered
    assert _centered(Comparison("c", "gradcheck.numerical.W[1]", "", "b", "s", "reference"))
    assert _centered(Comparison("c", "gradcheck.probe.J_plus", "", "b", "s", "reference"))
    assert not _centered(Comparison("c", "grad.W[1]", "", "b", "s", "reference"))
    assert not _centered(Comparison("c", "J", "", "b", "s", "reference"))


def test_check_never_cuts_a_printed_formula(capsys, monkeypatch):
    """A formula in check's printed column wraps in its cell at 80 columns; it is never cut short (a cut formula
    reads as another formula). Printed matrices keep their summary: the first number and how many."""
    code, out = run(capsys, monkeypatch, 80, "check", "digits-minibatch", "--backend", REF)
    assert code == 0
    table = [line for line in out.splitlines() if line.startswith("│")]
    cells = " ".join(" ".join(line.split("│")[2].split()) for line in table)
    assert table and "…" not in cells
    for q in load("digits-minibatch").quantities:
        assert all(part in cells for part in q.formula.split()), q.id


@pytest.mark.parametrize("case", ["courtial-l2", "courtial-bias-trick"])
def test_check_never_folds_a_quantity_name_at_80_columns(case, capsys, monkeypatch):
    """A quantity's name is what a user searches the article and the report for: at 80 columns each stands whole
    on one line of its cell (courtial-l2's gradW3-L2-as-printed used to fold to 'gradW3-L2-as-printe' + 'd')."""
    code, out = run(capsys, monkeypatch, 80, "check", case, "--backend", REF)
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    first_cells = {line.split("│")[1].strip() for line in lines if line.startswith("│")}
    ids = [q.id for q in load(case).quantities]
    assert ids and all(q in first_cells for q in ids), sorted(set(ids) - first_cells)


# TensorFlow 2.21 writes absl log lines from C++ that no TF_CPP_MIN_LOG_LEVEL silences — a `check` printed 630
# "W0000 … util.cc:163] Not handling type DT_DOUBLE" lines between its progress lines. The worker's relay drops
# a framework's INFO and WARNING log lines (kept for a dying worker's message); errors and everything else pass.
FRAMEWORK_NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796326825.214443    2050 port.cc:153] oneDNN custom operations are on.",
    "W0000 00:00:1796326841.478913    2050 util.cc:163] Not handling type DT_DOUBLE",
    "I1203 19:43:12.123456    2050 cpu_feature_guard.cc:210] This TensorFlow binary is optimized",
] + [f"{noise} (and the rest of the line)" for e in registry.entries() for noise in e.log_noise]   # e.g. tf/mirrored's
RELAYED = [
    "E0000 00:00:1796326841.478913    2050 cuda_dnn.cc:8] an error the user must see",
    "F1203 19:43:12.123456    2050 op.cc:1] a fatal one",
    "Traceback (most recent call last):",
    "/x/site-packages/lib/layer.py:12: UserWarning: something",
    "[3/32] zhou-gender (6.3 s)",
    "WARNING:root:a Python warning of any library, such as a retracing one",
]


@pytest.mark.parametrize("line", FRAMEWORK_NOISE)
def test_a_frameworks_log_chatter_is_not_relayed(line, monkeypatch):
    from backprop_parity.reports.worker import relayed
    monkeypatch.delenv("BACKPROP_PARITY_FRAMEWORK_LOG", raising=False)
    assert not relayed(line)
    monkeypatch.setenv("BACKPROP_PARITY_FRAMEWORK_LOG", "all")
    assert relayed(line)


@pytest.mark.parametrize("line", RELAYED)
def test_errors_and_everything_else_are_relayed(line, monkeypatch):
    from backprop_parity.reports.worker import relayed
    monkeypatch.delenv("BACKPROP_PARITY_FRAMEWORK_LOG", raising=False)
    assert relayed(line)


def test_check_never_cuts_a_reason(capsys, monkeypatch):
    """On a wide screen a long reason starts in its cell, numbered, and is printed whole under the table; with
    --wide every row is one line with its reason in full."""
    c = load("courtial-bias-trick")
    long = [q for q in c.quantities if q.erratum and len(" ".join(q.erratum.split())) > 40]
    assert long
    code, out = run(capsys, monkeypatch, 160, "check", "courtial-bias-trick", "--backend", REF)
    assert code == 0
    flat = " ".join(out.split())
    for q in long:
        assert f"{q.id}: {' '.join(q.erratum.split())}" in flat, q.id
    assert all(len(line) <= 160 for line in out.splitlines())
    code, out = run(capsys, monkeypatch, 80, "check", "courtial-bias-trick", "--backend", REF, "--wide")
    assert code == 0
    for q in long:
        row = next(line for line in out.splitlines() if line.startswith(f"│ {q.id} "))
        assert " ".join(q.erratum.split()) in " ".join(row.split()), q.id
    assert max(len(line) for line in out.splitlines()) > 160           # not folded to the 80 columns asked for


def test_explain_interactive_pages_forward_back_and_jumps(capsys, monkeypatch):
    """--interactive: Enter forward, p back, a quantity id or step jumps, an unknown answer is said and the page
    kept, q (or the end of input) stops."""
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\np\ndelta4\nnonsense\n99\ngradcheck\nq\n"))
    code, out = run(capsys, monkeypatch, 100, "explain", "courtial-bias-trick", "--backend", REF, "--interactive",
                    "--quiet")
    assert code == 0
    seen = [line.split()[1] for line in out.splitlines() if line.startswith("— ") and "Enter next" in line]
    n = seen[0].split("/")[1]
    delta4 = next(i for i, line in enumerate(out.splitlines()) if "[output-delta]" in line)
    assert seen[:4] == [f"1/{n}", f"2/{n}", f"3/{n}", f"2/{n}"]
    assert seen[5] == seen[6] == seen[4] and seen[4] != seen[3]     # unknown answers keep the page, not redraw it
    assert out.count("no page for 'nonsense'") == 1 and out.count("no page for '99'") == 1
    assert int(seen[-1].split("/")[0]) > int(seen[4].split("/")[0]) and "[gradcheck]" in out   # the first such page
    assert delta4 > 0
    assert out.count("[output-delta]") == 1                         # drawn once: a kept page is not drawn again
