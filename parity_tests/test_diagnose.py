"""``backprop-parity diagnose``: a printed number computed under a known slip is traced back to that slip.

Each planted test prints a number the way a slip would have computed it — worked out here from the
reference's own trace by the slip's formula (W − 2α·∂J/∂W for a doubled rate, 2J without the ½, …), not
by the variant under test — and asks the diagnosis to name the slip among the variants that reproduce
it, while the case as written does not. The built-in errata get the explanations their case files give
in words. The catalogue runs on the NumPy reference only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backprop_parity.reference import network, registry, variants
from backprop_parity.reference.case import load
from backprop_parity.reference.trace import trace
from backprop_parity.reports import diagnose as D
from backprop_parity.reports.cli import main

from .test_case_errors import GOOD

REF = registry.reference().name
PROBE = '\n[gradcheck]\nh = 1e-4\nprobe = { param = "W1", index = [0, 0] }\n'


def reference_values(text: str, tmp_path) -> dict:
    c = written(tmp_path, text)
    return trace(network, c.net, c.params, c.X, c.y, c.hyper, c.inputs)[0]


def written(tmp_path, text: str, name: str = "plain.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return load(p)


def printed(a, digits: int = 9) -> str:
    """A TOML array of texts: ``a`` printed with ``digits`` significant digits."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    return "[" + ", ".join("[" + ", ".join(f'"{x:.{digits}g}"' for x in row) + "]" for row in a) + "]"


def with_quantity(text: str, of: str, value, digits: int = 9) -> str:
    return text.replace('of = "Z[1][0, 0]"\nprinted = "0.7"', f'of = "{of}"\nprinted = {printed(value, digits)}')


def diagnosis(tmp_path, text: str, qid: str = "z1") -> D.Diagnosis:
    c = written(tmp_path, text, "planted.toml")
    found = D.diagnose_case(c, qid)
    assert len(found) == 1 and found[0].quantity == qid
    return found[0]


def names(d: D.Diagnosis) -> list:
    return [t.variant for t in d.reproducing]


# --------------------------------------------------------------------------- planted slips, one per family

def planted_cases(tmp_path):
    """(variant expected, quantity, value computed by the slip's own formula, case text)."""
    base = GOOD + PROBE
    v = reference_values(base, tmp_path)
    a = 0.5                                   # GOOD's learning rate; n = 2 examples, s = 1
    W1, W2, g1, g2 = v["W[1]"], v["W[2]"], v["grad.W[1]"], v["grad.W[2]"]
    Z1, A1, A0 = v["Z[1]"], v["A[1]"], v["X"]
    delta2 = v["delta[2]"]
    # sequential: W2 first, then δ1 through the new W2
    W2_new = W2 - a * g2
    delta1_seq = (delta2 @ W2_new.T) * (1 - np.tanh(Z1) ** 2)
    W1_seq = W1 - a * (A0.T @ delta1_seq)
    return [
        ("α×2", "W_new[1]", W1 - 2 * a * g1, base),
        ("update sign", "W_new[2]", W2 + a * g2, base),
        ("1/n", "W_new[1]", W1 - a * g1 / 2, base),
        ("no ½", "J", 2 * v["J"], base),
        ("tanh' = 1 − tanh", "deriv[1]", 1 - np.tanh(Z1), base),
        ("g'(A)", "deriv[1]", 1 - np.tanh(A1) ** 2, base),
        ("initial weights", "gradcheck.probe_new.J_plus", v["gradcheck.probe.J_plus"], base),
        ("sequential", "W_new[1]", W1_seq, base),
        ("W1ᵀ", "Z[1]", A0 @ W1.T + v["b[1]"], base),
        ("mean", "J", v["J"] / 2, base),
    ]


@pytest.mark.parametrize("k", range(10))
def test_a_planted_slip_is_named(tmp_path, k):
    expected, of, value, base = planted_cases(tmp_path)[k]
    d = diagnosis(tmp_path, with_quantity(base, of, value))
    assert not d.as_written, f"the case as written already gives the planted print of {of}"
    assert d.verdict in D.NEEDS
    assert expected in names(d), (expected, of, names(d), d.summary())
    assert "reproduced by: " in d.summary()


def test_a_pair_is_tried_when_no_single_variant_reproduces(tmp_path):
    """The step doubled and the ½ dropped together (W − 2α·2·∂J/∂W): no single variant gives it, the pair does."""
    base = GOOD
    v = reference_values(base, tmp_path)
    d = diagnosis(tmp_path, with_quantity(base, "W_new[2]", v["W[2]"] - 2 * 0.5 * 2 * v["grad.W[2]"]))
    pair = [t for t in d.reproducing if "+" in t.variant]
    assert pair and {"α×2", "no ½"} <= set(pair[0].variant.split(" + ")), names(d)
    assert not [t for t in d.reproducing if "+" not in t.variant]


def test_nothing_reproduces_a_number_no_slip_gives(tmp_path):
    d = diagnosis(tmp_path, with_quantity(GOOD, "Z[1][0, 0]", 0.123456789))
    assert not d.reproducing
    assert d.summary().startswith("no variant in the catalogue reproduces it; nearest: ")
    assert len(d.nearest) == D.NEAREST and all(np.isfinite(t.units) and t.units > 0.5 for t in d.nearest)
    assert [t.units for t in d.nearest] == sorted(t.units for t in d.nearest)


def test_a_typo_is_named_only_beyond_one_unit(tmp_path):
    v = reference_values(GOOD, tmp_path)
    z = float(v["Z[1]"][0, 1])                                # 0.1·1 + 0.3·2 + 0.1 = 0.8 → Z[1][0, 1]
    right = f"{z:.6f}"
    wrong = right[:-2] + str((int(right[-2]) + 3) % 10) + right[-1]
    text = GOOD.replace('of = "Z[1][0, 0]"\nprinted = "0.7"', f'of = "Z[1][0, 1]"\nprinted = "{wrong}"')
    d = diagnosis(tmp_path, text)
    assert [t.variant for t in d.reproducing][-1:] == ["typo"] and f"printed {wrong}" in d.reproducing[-1].description
    # within one unit of the last digit is a rounding question, never a typo
    near = right[:-1] + str((int(right[-1]) + 1) % 10)
    if abs(float(near) - z) < 1e-6:
        d = diagnosis(tmp_path, GOOD.replace('of = "Z[1][0, 0]"\nprinted = "0.7"', f'of = "Z[1][0, 1]"\nprinted = "{near}"'))
        assert "typo" not in names(d)


# --------------------------------------------------------------------------- the built-in errata

@pytest.mark.parametrize("case,qid,variant", [
    ("courtial-bias-trick", "A4-plus-h-as-labelled", "initial weights"),   # labelled 'updated', computed at W
    ("courtial-bias-trick", "loss2-as-labelled", "initial weights"),
    ("courtial-bias-trick", "deriv2-aug-cols12", "truncated"),             # its rounding note: digits cut
    ("courtial-five-cars", "A4-car1", "typo"),                             # its erratum: a wrong last digit
    ("courtial_ru-five-cars", "A4-car1", "typo"),
    ("courtial-five-cars", "A4-cars2-5", "intermediates rounded to 7 decimals"),
])
def test_builtin_errata_are_diagnosed_as_their_case_files_explain(case, qid, variant):
    from backprop_parity.reference.case import resolve
    found = {d.quantity: d for d in D.diagnose_case(load(resolve(case)))}
    assert qid in found, sorted(found)
    assert variant in names(found[qid]), (names(found[qid]), found[qid].summary())


def test_every_builtin_erratum_with_a_number_is_diagnosed():
    """Every erratum that prints a number (not a formula) on a case with a network gets a diagnosis line."""
    from backprop_parity.reference.case import builtin_names, resolve
    seen = 0
    for name in builtin_names():
        c = load(resolve(name))
        lines = D.summaries(c)
        for q in c.quantities:
            if q.erratum and q.printed is not None:
                seen += 1
                assert q.id in lines, (name, q.id)
    assert seen >= 5


# --------------------------------------------------------------------------- the command

def test_diagnose_command_json_and_check_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    out = tmp_path / "d.json"
    assert main(["diagnose", "courtial-bias-trick", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "A4-plus-h-as-labelled" in text and "✓ initial weights" in text
    rows = json.loads(out.read_text())
    assert rows and {"quantity", "variant", "description", "value", "max_abs_diff", "reproduces"} <= set(rows[0])
    from backprop_parity.reference.case import printed_array, resolve
    c = load(resolve("courtial-bias-trick"))
    qs = {q.id: q for q in c.quantities}
    for r in rows:                                            # reproduces ⇔ every element within ½ unit
        if r["value"] is None or r["variant"] in ("truncated", "typo"):
            continue
        expected, unit = printed_array(qs[r["quantity"]].printed)
        within = np.all(np.abs(np.asarray(r["value"]).reshape(expected.shape) - expected) <= unit / 2 * (1 + 1e-9))
        assert bool(within) == r["reproduces"], r
    assert main(["check", "courtial-bias-trick", "--backend", REF]) == 0
    text = " ".join(capsys.readouterr().out.split())          # the terminal wraps long lines
    assert "diagnosis A4-plus-h-as-labelled: reproduced by: every number 'after the step' computed at the initial" in text


@pytest.mark.parametrize("argv,message", [
    (["diagnose", "courtial-bias-trick", "--quantity", "nosuch"], "--quantity: no quantity 'nosuch'"),
    (["diagnose", "courtial-bias-trick", "--json", ""], "--json: an empty file name"),
    (["diagnose", "nosuch-case"], "no built-in case named 'nosuch-case'"),
])
def test_diagnose_bad_input_is_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_the_catalogue_covers_every_family():
    fams = variants.families()
    assert set(fams) == set(variants.FAMILIES) and all(fams.values()), fams


# --------------------------------------------------------------------------- framework settings, confirmed

Z = [[-2.0, -0.5, 0.0, 0.75, 3.0]]
Y, YHAT = [[1.0, 0.0], [0.5, 0.25]], [[0.8, 0.1], [0.3, 0.65]]


def _changed(name: str, tmp_path):
    """The case the catalogue's variant ``name`` makes of a small leaky_relu / squared-error network."""
    text = GOOD.replace('activations = ["tanh", "sigmoid"]', 'activations = ["leaky_relu", "sigmoid"]')
    text = text.replace('loss = "half_sse"', 'loss = "squared_error"')
    text = text.replace('activations = ["leaky_relu", "sigmoid"]',
                        'activations = [{ name = "leaky_relu", slope = 0.05 }, "sigmoid"]')
    c = written(tmp_path, text, "settings.toml")
    found = {v.name: v for v in variants.catalogue(c)}
    assert name in found, f"the registry declares a setting {name!r} that no variant of the catalogue is"
    return found[name].change(c)


def _expected(name: str, tmp_path):
    """The reference's variant called ``name`` on the probe's numbers (through the catalogue itself)."""
    changed = _changed(name, tmp_path)
    if name.startswith("slope "):
        return changed.net.activations[0].g(np.asarray(Z))
    if name == "mean":
        return changed.net.loss.J(np.asarray(Y), np.asarray(YHAT))
    if name == "float32":
        return np.dtype(changed.net.dtype).name
    raise AssertionError(f"no confirmation written for the setting {name!r}")


@pytest.mark.parametrize("backend", [b.name for b in registry.entries() if b.settings])
def test_each_declared_framework_setting_is_what_the_framework_computes(backend, tmp_path):
    """A variant shown as a framework's setting ("nn.MSELoss() …") is confirmed by that framework: computed
    with nothing but its defaults, it equals the reference's variant of that name, exactly in float64."""
    import os
    import subprocess
    import sys

    from .conftest import missing_backend
    b = registry.get(backend)
    probes = Path(__file__).with_name("probes.py")
    r = subprocess.run([sys.executable, str(probes), "settings", backend, json.dumps(Z), json.dumps(Y), json.dumps(YHAT)],
                       capture_output=True, text=True, env={**os.environ, **b.env}, timeout=300)
    line = next((x for x in r.stdout.splitlines() if x.startswith("PROBE")), None)
    if line is None and ("No module named" in r.stderr or "ImportError" in r.stderr):
        missing_backend(backend, r.stderr.strip().splitlines()[-1])
    assert line is not None, r.stderr[-2000:]
    probe = json.loads(line[len("PROBE"):])
    got, kept_as = probe["values"], probe["kept_as"]
    assert set(got) == set(b.settings) and got
    for name, value in got.items():
        want = _expected(name, tmp_path)
        if isinstance(want, str):
            assert value == want, (backend, name, value, want)
        elif name in kept_as:
            # the framework keeps that parameter in a narrower type (TensorFlow: a leaky slope is a float32 op
            # attribute): exact against the variant with its parameter rounded so, and not equal to it unrounded
            act = _changed(name, tmp_path).net.activations[0]
            narrow = {k: float(np.dtype(kept_as[name]).type(v)) for k, v in act.params.items() if k == "slope"}
            from backprop_parity.reference import activations as RA
            np.testing.assert_array_max_ulp(np.asarray(value, dtype=float),       # 2 ulp: as below
                                            RA.make(act.name, **{**act.params, **narrow}).g(np.asarray(Z)), maxulp=2)
            assert not np.array_equal(value, want)
        else:
            # 2 ulp: the same float64 formula, but a framework may order one reduction differently (a mean taken as
            # sum·(1/n) or sum/n) — one rounding each; an element-wise slope is exact
            np.testing.assert_array_max_ulp(np.asarray(value, dtype=float), np.asarray(want, dtype=float), maxulp=2)
