"""`backprop-parity explain CASE [--step NAME]`: the terminal walkthrough."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from backprop_parity.reference import registry
from backprop_parity.reports import cli, explain, steps
from backprop_parity.reports.run import load_cases, run_cases

from .conftest import missing_backend
from . import helpers
from .helpers import REF, case


def run(capsys, *argv) -> tuple[int, str, str]:
    """The command in this process, its output as wide as when piped with COLUMNS unset (a test runner,
    such as an xdist worker, may set COLUMNS), reading the session's store (these tests look at what
    explain prints, not at how it computes)."""
    with pytest.MonkeyPatch.context() as m:
        m.delenv("COLUMNS", raising=False)
        for k, v in helpers.session_store_env().items():
            m.setenv(k, v)
        code = cli.main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_walkthrough_of_a_full_case(capsys):
    code, out, _ = run(capsys, "courtial-l2", "--backend", REF)
    assert code == 0
    assert "\x1b[" not in out                                   # not a terminal: plain text
    for name in steps.STEPS:                                   # every step of backprop, in the article's order
        assert f"[{name}]" in out, name
    order = [out.index(f"[{n}]") for n in ("forward-affine", "cost", "output-delta", "weight-gradient",
                                           "hidden-delta", "update", "gradcheck")]
    assert order == sorted(order)
    for formula in ("A_aug[1] = [A[1] | 1]", "Z[2] = A_aug[1] · W[1]", "A[2] = tanh(Z[2])",
                    "delta[4] = dJ_dyhat ⊙ tanh'(Z[4])", "grad.W[3] = A_aug[3]ᵀ · delta[4] + λ·W[3]",
                    "dA[3] = delta[4] · W[3]ᵀ", "delta[3] = dA[3] ⊙ tanh'(Z[3])"):
        assert formula in out, formula
    assert "⎡" in out and "⎦" in out                           # matrices drawn as the article draws them
    for q in case("courtial-l2").quantities:                   # every article quantity, with its verdicts
        assert q.id in out, q.id
    words = " ".join(out.split())                               # a line longer than the screen folds at spaces
    for m in steps.extract(REF):                               # the NumPy line of every step, from the source
        if m.serves(case("courtial-l2")):                      # (a line of another optimizer: not this case's)
            assert m.where in words and " ".join(m.code.splitlines()[0].split()) in words
        else:
            assert m.where not in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 100      # piped, COLUMNS unset: 100 wide


def test_the_numbers_and_the_article(capsys):
    code, out, _ = run(capsys, "courtial-bias-trick", "--backend", REF, "--step", "forward-activation")
    assert code == 0
    assert "0.2023543" in out                                  # the article's printed ŷ for car 1
    assert "0.202354302599" in out                             # the reference's, 12 digits
    assert "weighted input" not in out and "[forward-activation]" in out
    assert out.count("[forward-activation]") == 3              # one per layer


@pytest.mark.parametrize("backend", [b.name for b in registry.entries() if not b.reference])
def test_every_backend_and_its_code(capsys, backend):
    code, out, err = run(capsys, "courtial-bias-trick", "--backend", f"{REF},{backend}", "--step", "hidden-delta")
    not_run = [line for line in out.splitlines() if line.startswith(f"NOT RUN {backend}/")]
    if not_run:
        missing_backend(backend, not_run[0])
    assert code == 0, out[-3000:]
    for style in registry.style_names(backend):
        assert f"{backend}/{style}" in out
    (_, _, rows), = helpers.results(["courtial-bias-trick"], [REF, backend])
    keys = {k for s in explain.stations(case("courtial-bias-trick")) if s.step == "hidden-delta" for k in s.keys}
    if any(r.status == "no counterpart" and r.quantity in keys for r in rows):
        assert "no counterpart" in out                         # e.g. Courtial's delta_aug, where a style has none
    for m in steps.for_step("hidden-delta", backend):
        assert m.where in out


def test_a_step_says_how_each_framework_is_set_up_for_it(capsys):
    """The update's page carries each style's learning rate as its mirror reported it for this case — Keras'
    lr = α·s·m_step = 0.1·0.2·2.5 = 0.05 on Courtial's bias-trick case (issue 11) — the styles that report the
    same text named once."""
    code, out, _ = run(capsys, "courtial-bias-trick", "--step", "update")
    assert code == 0
    words = " ".join(out.split())
    assert "how each framework is set up for it" in words
    assert "0.1·0.2·2.5 = 0.05" in words                       # Keras: α · s · J/(Keras' loss)
    (_, traces, _), = helpers.results(["courtial-bias-trick"], [b.name for b in registry.entries()])
    notes = steps.setup_notes("update", traces)
    assert {k for k, _, _ in notes} >= {"learning rate", "update"}
    for key, names, text in notes:
        assert f"{key} — {', '.join(names)}: {' '.join(text.split())}" in words, (key, names)


def test_columns_layout_formulas(capsys):
    code, out, _ = run(capsys, "dlai-two-layer", "--backend", REF)
    assert code == 0
    assert "Z[1] = W[1] · A[0] + b[1]" in out and "A[1] = sigmoid(Z[1])" in out


def test_a_case_without_a_network_lists_its_quantities(capsys):
    code, out, _ = run(capsys, "courtial-calculus", "--backend", REF)
    assert code == 0 and "No network" in out
    for q in case("courtial-calculus").quantities:
        assert q.id in out


def test_a_step_the_case_does_not_use(capsys):
    code, out, _ = run(capsys, "zhou-feedforward", "--backend", REF, "--step", "bias-trick")
    assert code == 0
    assert "does not use the bias trick" in out and "reference/network.py" in out


@pytest.mark.parametrize("argv,message", [
    (["courtial-l2", "--step", "nope"], "unknown step"),
    (["no-such-case"], "no-such-case"),
    (["courtial-l2", "--backend", "nope"], "--backend"),
])
def test_bad_input_is_exit_code_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_colour_in_a_terminal():
    (c, traces, rows), = run_cases(load_cases(["zhou-feedforward"], "float64"), [REF])
    buf = io.StringIO()
    explain.walkthrough(Console(file=buf, force_terminal=True, color_system="truecolor", width=120), c, traces, rows)
    assert "\x1b[" in buf.getvalue()


def test_base_key():
    keys = ["A[2]", "A_aug[2]", "A", "J_each", "gradcheck.probe.A_plus", "grad.W[1]"]
    assert explain.base_key("A_aug[2].T", keys) == "A_aug[2]"
    assert explain.base_key("A[2][0, 1]", keys) == "A[2]"
    assert explain.base_key("J_each[0]", keys) == "J_each"
    assert explain.base_key("gradcheck.probe.A_plus", keys) == "gradcheck.probe.A_plus"
    assert explain.base_key("10 * n_params", keys) is None


@pytest.mark.parametrize("name", [n for n in helpers.CASES if case(n).net is not None and case(n).y is not None])
def test_the_output_delta_gloss_is_the_cases_own(capsys, name):
    """The gloss under the output delta and the cost quotes this case's loss (and its ∂J/∂ŷ and output
    activation), never another article's: a cross-entropy case is not told J = Σ½(y − ŷ)²."""
    net = case(name).net
    for step in ("cost", "output-delta"):
        code, out, _ = run(capsys, name, "--backend", REF, "--step", step)
        assert code == 0, out[-2000:]
        assert " ".join(steps.for_case(step, net).formula.split()) in " ".join(out.split()), (name, step)
        if net.loss.name != "half_sse":
            assert "Σ ½" not in out and "Σ½" not in out, (name, step)
    delta = steps.for_case("output-delta", net).formula
    if net.activations[-1].name in net.loss.delta_after:
        assert "(ŷ − y)/" in delta
    elif net.activations[-1].elementwise:
        assert steps.DJ_DYHAT[net.loss.name] in delta and net.loss.formula in delta


def test_every_loss_has_its_derivative_written_out():
    from backprop_parity.reference.losses import LOSSES
    assert set(steps.DJ_DYHAT) == set(LOSSES)
