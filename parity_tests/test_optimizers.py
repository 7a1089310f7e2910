"""The optimizers by hand (reference/optimizers.py): each written form against its closed form, the forms
against each other where the mathematics says they agree and where it says they part, and the case file's
checks. The frameworks' own optimizers are held to these forms by the parity tests on the optim-* cases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from backprop_parity.reference import network as N
from backprop_parity.reference import optimizers as O
from backprop_parity.reference import registry
from backprop_parity.reference.case import CaseError, load
from backprop_parity.reference.spec import Hyper

G = np.array([[0.3, -0.02], [1e-3, -2.0]])
P = np.array([[0.5, -0.25], [0.125, 1.0]])


def run(hyper: Hyper, grads: list, scale: float = 1.0):
    """Successive updates of one parameter with the given gradients: (values, final state)."""
    opt = O.State(hyper, scale=scale)
    p, out = P, []
    for g in grads:
        opt.t += 1
        p = O.update(opt, "W1", p, g)
        out.append(p)
    return out, opt


def test_first_update_of_every_form_is_its_closed_form():
    """From zero state, one update: m̂ = g, v̂ = g², velocity = −lr·g (buffer: g)."""
    lr, eps = 0.01, 1e-3
    cases = {
        ("sgd", ""): P - lr * G,
        ("momentum", "velocity"): P - lr * G,
        ("momentum", "buffer"): P - lr * G,
        ("nesterov", "velocity"): P - lr * (1 + 0.9) * G,
        ("nesterov", "buffer"): P - lr * (1 + 0.9) * G,
        ("rmsprop", "eps-outside"): P - lr * G / (np.sqrt(0.1 * G ** 2) + eps),
        ("rmsprop", "eps-inside"): P - lr * G / np.sqrt(0.1 * G ** 2 + eps),
        ("adam", "eps-after"): P - lr * G / (np.abs(G) + eps),
        ("adam", "eps-before"): P - lr * G / (np.abs(G) + eps / np.sqrt(1 - 0.999)),
        ("adamw", "eps-after"): P * (1 - lr * 0.1) - lr * G / (np.abs(G) + eps),
    }
    for (kind, form), expected in cases.items():
        h = Hyper(optimizer=kind, form=form, learning_rate=lr, momentum=0.9, rho=0.9, eps=eps, weight_decay=0.1)
        (got,), opt = run(h, [G])
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-16, err_msg=f"{kind}/{form}")
    _, opt = run(Hyper(optimizer="momentum", form="velocity", learning_rate=lr, momentum=0.9), [G])
    np.testing.assert_array_equal(opt.state["velocity"]["W1"], -lr * G)
    _, opt = run(Hyper(optimizer="momentum", form="buffer", learning_rate=lr, momentum=0.9), [G])
    np.testing.assert_array_equal(opt.state["velocity"]["W1"], G)


def test_momentum_forms_agree_at_a_constant_lr_and_part_after_a_drop():
    grads = [G, -0.5 * G, 2 * G, G]
    for kind in ("momentum", "nesterov"):
        h = Hyper(optimizer=kind, learning_rate=0.1, momentum=0.9)
        a, _ = run(dataclasses.replace(h, form="velocity"), grads)
        b, _ = run(dataclasses.replace(h, form="buffer"), grads)
        np.testing.assert_allclose(a[-1], b[-1], rtol=1e-14, atol=1e-15)
        h = dataclasses.replace(h, lr_schedule=((3, 0.01),))
        a, _ = run(dataclasses.replace(h, form="velocity"), grads)
        b, _ = run(dataclasses.replace(h, form="buffer"), grads)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-14, atol=1e-15)       # before the drop: the same
        assert np.max(np.abs(a[-1] - b[-1])) > 1e-3                           # after it: the buffer's old steps
        # the velocity form keeps past steps at the lr they were taken with; the buffer rescales them
        v_before = -0.1 * (0.9 * G + -0.5 * G)                               # the velocity after update 2
        assert np.allclose(a[1] - a[0], v_before if kind == "momentum" else a[1] - a[0])


def test_adam_eps_before_the_correction_is_eps_over_root_of_the_correction():
    """Keras' form at every t is the paper's with ε replaced by ε/√(1 − β2ᵗ): run the paper's form one step at a
    time with that ε and compare — the identity the report's convention note states."""
    grads = [G, 0.5 * G, -G, 3 * G, G]
    h = Hyper(optimizer="adam", learning_rate=0.01, eps=1e-3, form="eps-before")
    keras_like, _ = run(h, grads)
    opt = O.State(dataclasses.replace(h, form="eps-after"))
    p = P
    for t, g in enumerate(grads, start=1):
        opt.t = t
        opt.hyper = dataclasses.replace(opt.hyper, eps=1e-3 / np.sqrt(1 - 0.999 ** t))
        p = O.update(opt, "W1", p, g)
        np.testing.assert_allclose(p, keras_like[t - 1], rtol=1e-13, atol=1e-15)
    assert 1e-3 / np.sqrt(1 - 0.999) == pytest.approx(31.6e-3, rel=1e-3)     # 31.6·ε at t = 1


def test_centered_rmsprop_subtracts_the_mean_gradient_squared():
    h = Hyper(optimizer="rmsprop", learning_rate=0.01, rho=0.9, eps=1e-6, centered=True)
    (got,), opt = run(h, [G])
    v, gbar = (1 - 0.9) * G * G, (1 - 0.9) * G
    np.testing.assert_allclose(got, P - 0.01 * G / (np.sqrt(v - gbar ** 2) + 1e-6), rtol=1e-14)
    np.testing.assert_array_equal(opt.state["m"]["W1"], gbar)


def test_float32_constants_round_only_what_they_name():
    h = Hyper(optimizer="momentum", learning_rate=0.1, momentum=0.9, float32_constants=("momentum",))
    a, _ = run(h, [G, G])
    b, _ = run(dataclasses.replace(h, float32_constants=()), [G, G])
    mu32 = float(np.float32(0.9))
    np.testing.assert_allclose(a[1], P - 0.1 * G + mu32 * -0.1 * G - 0.1 * G, rtol=1e-15)
    assert np.max(np.abs(a[1] - b[1])) > 1e-10


def test_lr_schedule_counts_updates_from_one():
    h = Hyper(learning_rate=0.5, lr_schedule=((3, 0.1), (5, 0.01)))
    assert [O.lr_at(h, t) for t in range(1, 7)] == [0.5, 0.5, 0.1, 0.1, 0.01, 0.01]


def test_network_training_traces_the_state_after_the_first_and_last_epoch():
    case = load("optim-adam-zhou")
    training = N.train(case.net, case.params, case.X, case.y, case.hyper)
    assert training.state["opt_new.t"] == 4 and training.state["opt.t"] == 80
    assert {k for k in training.state if k.startswith("opt.m.")} == {"opt.m.W[1]", "opt.m.b[1]", "opt.m.W[2]",
                                                                        "opt.m.b[2]"}
    sgd = load("zhou-gender")
    assert N.train(sgd.net, sgd.params, sgd.X, sgd.y, sgd.hyper).state == {}     # plain SGD keeps no state


def test_in_form_reruns_a_case_only_where_the_forms_differ():
    case = load("optim-momentum-drop")
    assert O.in_form(case, {}) is None                                   # the paper's form: the case itself
    changed, note = O.in_form(case, {"momentum": "buffer"})
    assert changed.hyper.form == "buffer" and "b = μb + g" in note
    assert O.in_form(load("courtial-bias-trick"), {"momentum": "buffer"}) is None   # SGD has one form


def test_every_style_declares_forms_the_reference_knows():
    for backend in registry.entries():
        for style in backend.styles:
            for optimizer, written in style.forms.items():
                assert written in O.FORMS[optimizer]
    with pytest.raises(registry.RegistryError):
        registry.Style("x", "network", "x", "#000000", "o", optimizer_forms=(("adam", "eps-sideways"),))


BASE = """
schema = 1
name = "t"
title = "t"
[source]
article = "user"
[network]
sizes = [1, 1]
activations = ["sigmoid"]
[params]
W1 = [[0.5]]
b1 = [[0.1]]
[data]
X = [[1.0]]
y = [[1.0]]
[train]
{train}
[[quantity]]
id = "q"
of = "J"
formula = "J"
"""


@pytest.mark.parametrize("train, field, words", [
    ('optimizer = "adam"\nmomentum = 0.9', "train.momentum", "does not apply to optimizer 'adam'"),
    ('optimizer = "sgd"\nbeta1 = 0.9', "train.beta1", "does not apply"),
    ('optimizer = "adam"\ngrad_scale = "1/n"', "train.grad_scale", "write the loss as a mean"),
    ('optimizer = "nesterov"', "train.momentum", "needs a momentum"),
    ('optimizer = "momentum"\nmomentum = 1.0', "train.momentum", "must be below 1"),
    ('optimizer = "adamw"\nl2 = 0.1', "train.l2", "decoupled"),
    ('optimizer = "adam"\nweight_decay = 0.1', "train.weight_decay", "coupled L2"),
    ('optimizer = "adagrad"', "train.optimizer", "is not one of"),
    ('lr_schedule = [[3, 0.1], [2, 0.01]]', "train.lr_schedule[1][0]", "steps must increase"),
    ('lr_schedule = [[0, 0.1]]', "train.lr_schedule[0][0]", "out of range"),
    ('lr_schedule = [[2, -0.1]]', "train.lr_schedule[0][1]", ""),
    ('lr_schedule = []', "train.lr_schedule", "expected a list"),
    ('optimizer = "rmsprop"\neps = 0', "train.eps", ""),
])
def test_a_bad_optimizer_field_is_one_line_naming_it(tmp_path, train, field, words):
    path = tmp_path / "bad.toml"
    path.write_text(BASE.format(train=train), encoding="utf-8")
    with pytest.raises(CaseError) as err:
        load(path)
    assert err.value.where == field and words in err.value.message and "\n" not in str(err.value)


def test_optimizer_fields_read_with_their_defaults(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(BASE.format(train='optimizer = "adam"\nlearning_rate = 0.01\nbeta1 = 0.8'), encoding="utf-8")
    case = load(path)
    assert case.hyper.beta1 == 0.8 and case.hyper.beta2 == 0.999 and case.hyper.optimizer == "adam"


@pytest.mark.parametrize("name, apart", [("optim-momentum-drop", True), ("optim-nesterov", False)])
def test_a_style_in_another_form_is_held_to_it_and_the_gap_is_measured(name, apart):
    """A stand-in style that computes the buffer form (as torch does): against the reference rerun in that form
    every number holds at the float64 bound; its [form] rows say how far it ends from the case's form —
    apart after a learning-rate drop, the same numbers at a constant lr."""
    from backprop_parity.reports import run
    from backprop_parity.reports.compare import compare_case
    case = load(name)
    ref = run.reference_trace(case, registry.reference().name)
    eff, note = O.in_form(case, {case.hyper.optimizer: "buffer"})
    eff_ref = run.reference_trace(eff, registry.reference().name)
    style = dataclasses.replace(eff_ref, backend="other", style="x")
    rows = compare_case(case, [style], ref, {"other": {"x": (eff_ref, f"other/x: {note}", eff)}})
    reference = [r for r in rows if r.source == "reference"]
    assert reference and all(r.passed for r in reference)
    assert all("effective case" in r.tolerance_reason for r in reference if r.passed is not None)
    form = {r.quantity.split(" ")[0]: r for r in rows if r.source == "form"}
    assert set(form) == {"costs", "W_final[1]", "W_final[2]", "W_final[3]"} and all(r.passed for r in form.values())
    if apart:
        assert all(r.status == "convention confirmed" for r in form.values())
        assert form["costs"].max_abs_diff > 0.01 and "b = μb + g" in form["costs"].reason
    else:
        assert all(r.status == "match" for r in form.values())
    velocity = next(r for r in rows if r.source == "article" and r.quantity == "velocity1")
    assert velocity.status == "MISMATCH"          # the stand-in is not declared in the case's differs: it shows
    # check prints one [optimizer form] row for the style (every row with --all-rows)
    import io

    from rich.console import Console

    from backprop_parity.reports import text
    out = io.StringIO()
    text.print_results(run.Results([(case, [ref, style], rows)]), console=Console(file=out, width=200))
    lines = [line for line in out.getvalue().splitlines() if line.startswith("│ [optimizer form]")]   # its table row
    assert len(lines) == 1 and "other/x" in lines[0]
    assert ("convention confirmed" if apart else "match") in lines[0]
    out = io.StringIO()
    text.print_results(run.Results([(case, [ref, style], rows)]), all_rows=True, console=Console(file=out, width=200))
    assert "W_final[3] vs the case's form" in out.getvalue()


@pytest.mark.parametrize("case_name, made_by, expected", [
    ("optim-adam-eps", lambda v, h: v["W[1]"] - h.learning_rate * v["grad.W[1]"]
     / (np.abs(v["grad.W[1]"]) + h.eps / np.sqrt(1 - h.beta2)), "adam eps-before"),
    ("optim-rmsprop", lambda v, h: v["W[1]"] - h.learning_rate * v["grad.W[1]"]
     / (np.sqrt((1 - 0.99) * v["grad.W[1]"] ** 2) + h.eps), "ρ = 0.99"),
])
def test_diagnose_names_the_optimizer_form_or_default_a_print_came_from(tmp_path, case_name, made_by, expected):
    """A user's worked example printed with Keras' Adam (ε before the correction), or with torch's RMSprop default
    ρ = 0.99, against a case written in the paper's form: diagnose names that form or default."""
    from backprop_parity.reference import trace as T
    from backprop_parity.reports import diagnose as D
    from backprop_parity.reference.case import CASES_DIR
    case = load(case_name)
    v = T.trace(N, case.net, case.params, case.X, case.y, case.hyper, case.inputs)[0]
    value = np.atleast_2d(made_by(v, case.hyper))
    text = (CASES_DIR / f"{case_name}.toml").read_text(encoding="utf-8")
    text = text[:text.index("[[quantity]]")] + ('[[quantity]]\nid = "w"\nof = "W_new[1]"\nprinted = ['
                                                + ", ".join("[" + ", ".join(f'"{x:.9g}"' for x in row) + "]"
                                                            for row in value) + "]\n")
    path = tmp_path / "printed.toml"
    path.write_text(text, encoding="utf-8")
    (found,) = D.diagnose_case(load(path), "w")
    assert not found.as_written and expected in [t.variant for t in found.reproducing], found.summary()


def test_the_walkthrough_shows_the_lines_of_the_cases_optimizer_only():
    """A marked line tagged with optimizers ([step:update:adam,adamw]) serves those cases only; untagged lines every
    case — so explain shows Adam's lines for an Adam case and none of RMSprop's."""
    from backprop_parity.reports import steps
    ref = registry.reference().name
    lines = steps.for_step("update", ref)
    adam = [m.code for m in lines if m.serves(load("optim-adam-eps"))]
    sgd = [m.code for m in lines if m.serves(load("courtial-bias-trick"))]
    assert any("m_hat" in c for c in adam) and not any("centred" in c for c in adam)
    assert any("p - lr * g" == c.replace("return ", "") for c in sgd) and not any("m_hat" in c for c in sgd)
    assert any(not m.only for m in lines)                       # the step itself serves every case
