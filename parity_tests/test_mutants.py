"""The mutation catalogue in CI: every classic backprop bug of parity_tests/mutants.toml is caught.

``test_every_mutant_is_killed`` runs the whole catalogue (``backprop-parity mutants
--first-kill``: each mutant's tests stop at the first failure). Measured on the 2-core CI
machine (2026-12-07): 54 s of CPU, 31 s of wall time with 2 jobs. Set
BACKPROP_PARITY_MUTANTS_SAMPLE=K to run K mutants drawn at random instead (seed:
BACKPROP_PARITY_MUTANTS_SEED, default 0), e.g. on a slower machine.

The harness itself is tested on a two-mutant catalogue: a real bug must be KILLED, a change
no test can see must be reported SURVIVED (exit 1), and a patch that no longer applies must
stop the command (exit 2) — never be counted as killed or survived.
"""

from __future__ import annotations

import os

import pytest

from backprop_parity.reports import mutants as M
from backprop_parity.reports.cli import main

pytestmark = pytest.mark.skipif("BACKPROP_PARITY_MUTANT" in os.environ,
                                reason="inside a mutant run: the catalogue does not run itself")
pytestmark = [pytestmark, pytest.mark.cost(82)]   # its tests' seconds, summed (conftest: the costliest files start first)


def test_catalogue_applies_to_the_current_tree():
    selection, mutants = M.load_catalogue()
    assert len(mutants) >= 15
    assert "parity_tests/test_mutants.py" not in selection


def test_every_mutant_is_killed():
    selection, mutants = M.load_catalogue()
    sample = os.environ.get("BACKPROP_PARITY_MUTANTS_SAMPLE")
    if sample:
        mutants = M.choose(mutants, None, int(sample), int(os.environ.get("BACKPROP_PARITY_MUTANTS_SEED", "0")))
    baseline, results = M.run_all(mutants, selection, jobs=min(2, os.cpu_count() or 1), first_kill=True)
    assert baseline.status == "SURVIVED", f"the unpatched copy fails its own tests: {baseline}"
    bad = [f"{r.name}: {r.status} {r.detail}" for r in results if r.status != "KILLED"]
    assert not bad, "holes in the parity tests (close each with an assertion):\n" + "\n".join(bad)
    assert len(results) == len(mutants)


TINY = '''
[selection]
tests = ["parity_tests/test_robustness.py::test_relative_error_is_courtials_formula"]

[[mutant]]
name = "denominator"
description = "cs231n's denominator"
breaks = "Courtial ch. 7"
[[mutant.patch]]
file = "reference/gradcheck.py"
old = "den = np.linalg.norm(V1 + V2)"
new = "den = np.linalg.norm(V1) + np.linalg.norm(V2)"

[[mutant]]
name = "invisible"
description = "a renamed local variable: no test can see it"
breaks = "nothing"
[[mutant.patch]]
file = "reference/gradcheck.py"
old = "    num = np.linalg.norm(V1 - V2)\\n    den = np.linalg.norm(V1 + V2)\\n    return float(num / den) if den else (0.0 if num == 0 else float(\\"inf\\"))"
new = "    top = np.linalg.norm(V1 - V2)\\n    den = np.linalg.norm(V1 + V2)\\n    return float(top / den) if den else (0.0 if top == 0 else float(\\"inf\\"))"
'''


def test_harness_reports_killed_and_survived(tmp_path, capsys):
    cat = tmp_path / "tiny.toml"
    cat.write_text(TINY, encoding="utf-8")
    out = tmp_path / "result.json"
    code = main(["mutants", "--catalogue", str(cat), "--jobs", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "KILLED    denominator" in printed and "test_relative_error_is_courtials_formula" in printed
    assert "SURVIVED  invisible" in printed
    import json
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert {m["name"]: m["status"] for m in doc["mutants"]} == {"denominator": "KILLED", "invisible": "SURVIVED"}


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace('old = "den = np.linalg.norm(V1 + V2)"', 'old = "den = np.linalg.norm(V1 - V2) # gone"'),
     "text not found in reference/gradcheck.py"),
    (lambda t: t.replace('new = "den = np.linalg.norm(V1) + np.linalg.norm(V2)"',
                         'new = "den = np.linalg.norm(V1 + V2"'), "does not compile"),
    (lambda t: t.replace('file = "reference/gradcheck.py"', 'file = "../outside.py"', 1), "is not a project file"),
    (lambda t: t.replace('name = "invisible"', 'name = "denominator"'), "duplicate name"),
])
def test_a_stale_catalogue_is_an_error_not_a_verdict(tmp_path, capsys, edit, message):
    cat = tmp_path / "tiny.toml"
    cat.write_text(edit(TINY), encoding="utf-8")
    assert main(["mutants", "--catalogue", str(cat)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_unknown_mutant_name_is_a_usage_error(capsys):
    assert main(["mutants", "--only", "no-such-bug"]) == 2
    assert "no mutant named 'no-such-bug'" in capsys.readouterr().err
