"""Courtial's data preparation (reference/preprocessing.py, ``prep.*`` in case expressions), framework-free:
the reference against the textbook formulas, the σ trap against pandas and NumPy, the refusals, and the
column-wise bound the parity rows of a feature matrix get. Each framework's own scaler is held to the
reference by the ``courtial-preprocessing`` case on every backend (test_*_parity.py) and by its unit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from backprop_parity.reference import backend as RB
from backprop_parity.reference import preprocessing as P

from .helpers import REF, assert_row, case, rows

# The case's own four cars (columns km, age): one mean and σ per column.
CARS = np.array(case("courtial-preprocessing").arrays["cars"], dtype=float)
N = CARS.shape[0]


def test_population_sigma_is_numpy_default_and_pandas_takes_the_sample_one():
    """The σ trap: np.std divides by n (ddof 0), pandas' DataFrame.std by n − 1 (ddof 1) — √(n/(n−1)) apart."""
    deviations = ((CARS - CARS.mean(axis=0)) ** 2).sum(axis=0)
    population, sample = np.sqrt(deviations / N), np.sqrt(deviations / (N - 1))
    np.testing.assert_allclose(P.std(CARS), population, rtol=1e-15)        # a sum of 4 squares and a root: ulps
    np.testing.assert_allclose(P.std(CARS), np.std(CARS, axis=0), rtol=0)
    np.testing.assert_allclose(P.std(CARS, 1), sample, rtol=1e-15)
    frame = pd.DataFrame(CARS, columns=["km", "age"])
    np.testing.assert_allclose(frame.std().to_numpy(), sample, rtol=1e-15)              # pandas' default: ddof 1
    np.testing.assert_allclose(frame.std(ddof=0).to_numpy(), population, rtol=1e-15)
    ratio = frame.std().to_numpy() / P.std(CARS)
    np.testing.assert_allclose(ratio, np.sqrt(N / (N - 1)), rtol=1e-15)
    assert np.all(ratio > 1.15)         # √(4/3) = 1.1547: no rounding hides it


def test_reference_formulas_column_by_column():
    mean, sigma = CARS.mean(axis=0), CARS.std(axis=0)
    np.testing.assert_array_equal(P.mean(CARS), mean)
    np.testing.assert_array_equal(P.standardize(CARS), (CARS - mean) / sigma)
    np.testing.assert_array_equal(P.standardize(CARS, mean, sigma), (CARS - mean) / sigma)
    np.testing.assert_array_equal(P.min_max(CARS), (CARS - CARS.min(axis=0)) / (CARS.max(axis=0) - CARS.min(axis=0)))
    np.testing.assert_array_equal(P.min_max(17000, 0, 40000), 0.425)
    assert float(P.min_max_inverse(0.45, 0, 40000)) == 18000.0
    np.testing.assert_array_equal(P.plus_minus([0, 1, 0], 1), [-1.0, 1.0, -1.0])
    one = P.standardize(CARS[:, 1])                 # a 1-D array is one feature
    np.testing.assert_array_equal(one, (CARS[:, 1] - CARS[:, 1].mean()) / CARS[:, 1].std())


@settings(max_examples=200, deadline=None, derandomize=True)
@given(hnp.arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 4)),
                  elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)))
def test_round_trips(x):
    """u·σ + x̄ and u·(max − min) + min give the data back, to the rounding of a few operations on the
    column's largest magnitude (each column its own scale)."""
    scale = np.max(np.abs(x), axis=0)
    mean, sigma = P.mean(x), P.std(x)
    lo, hi = x.min(axis=0), x.max(axis=0)
    if np.all(sigma > 1e-6 * np.maximum(scale, 1)) and np.all(hi > lo):
        np.testing.assert_allclose(P.unstandardize(P.standardize(x), mean, sigma), x, rtol=0, atol=1e-12 * scale.max())
        back = P.min_max_inverse(P.min_max(x), lo, hi)
        assert np.all(np.abs(back - x) <= 8 * np.finfo(float).eps * np.maximum(np.abs(lo), np.abs(hi)))


@pytest.mark.parametrize("call, message", [
    (lambda: P.standardize([[1.0, 3.0], [2.0, 3.0]]), "σ = 0 in column 1"),
    (lambda: P.min_max([[5.0], [5.0]]), "max − min = 0 in column 0"),
    (lambda: P.standardize([1.0, 2.0], 0.0, 0.0), "σ = 0 in column 0"),
])
def test_a_constant_feature_is_refused_in_one_line(call, message):
    """Dividing by a zero σ or range gives inf/nan in NumPy and torch, 0 in Keras (it divides by max(σ, 1e-7))
    and JAX (σ² + 1e-5): the reference refuses instead, so the row says why."""
    with pytest.raises(P.PreprocessingError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["prep.standardize(xs, 1)", "prep.min_max(xs, 0)"])
def test_given_statistics_come_in_pairs(text):
    f = RB.functions()
    name = text.split("(")[0]
    with pytest.raises(TypeError, match="together, or neither"):
        f[name]([1.0, 2.0, 4.0], 1)


def test_every_prep_function_is_in_the_table():
    from backprop_parity.reference.functions import PREPROCESSING
    f = RB.functions()
    assert {f"prep.{n}" for n in PREPROCESSING} <= set(f)
    assert all(callable(getattr(P, n)) for n in PREPROCESSING)


def test_a_feature_matrix_is_bounded_column_by_column():
    """km (1e5) next to years (1–10): the reference's own formula rows on the case's cars keep one bound per
    column, so the ages are held at their own 1e-12, not at 1e-12 of 170 000 km."""
    by_id = {r.quantity: r for r in rows("courtial-preprocessing", REF)}
    for qid in ("cars-standardised", "cars-round-trip"):
        row = by_id[qid]
        assert_row(row)
        tol = np.asarray(row.tolerance, dtype=float)
        assert tol.shape == (N, 2), (qid, row.tolerance)
        values = np.abs(np.asarray(row.expected, dtype=float))
        np.testing.assert_allclose(tol, 1e-12 * values.max(axis=0, keepdims=True) * np.ones_like(values), rtol=1e-15)
        assert "of each column" in row.tolerance_reason
    assert np.asarray(by_id["cars-round-trip"].tolerance, float)[:, 1].max() < 1e-10   # ages: ≤ 10 years · 1e-12


@pytest.mark.parametrize("made_with, variant", [
    ("sqrt(sum((c - mean(c, 0))**2, 0) / 3)", "σ ÷ (n − 1)"),
    ("sqrt(mean((c - mean(c, 0))**2, 0) + 1e-5)", "ε = 1e-5 in σ"),
    ("mean((c - mean(c, 0))**2, 0)", "÷ variance"),
])
def test_diagnose_names_the_sigma_a_print_was_made_with(tmp_path, made_with, variant):
    """A user's standardised ages printed from another σ (computed here with NumPy, outside the project):
    diagnose names the convention that gives those digits, and no other σ."""
    from backprop_parity.reference.case import load
    from backprop_parity.reports import diagnose
    c = CARS
    sigma = eval(made_with, {"sqrt": np.sqrt, "sum": np.sum, "mean": np.mean, "c": c})   # noqa: S307 (our text)
    printed = (c[:, 1] - c[:, 1].mean()) / sigma[1]
    text = ", ".join(f'"{v:.6f}"' for v in printed)
    path = tmp_path / "ages.toml"
    path.write_text(f'''schema = 1
name = "ages"
title = "standardised ages, printed by a user"
[source]
article = "user"
[arrays]
age = {c[:, 1].tolist()}
[[quantity]]
id = "ages"
label = "the ages standardised"
of = "prep.standardize(age)"
printed = [{text}]
''', encoding="utf-8")
    (d,) = diagnose.diagnose_case(load(path))
    assert [t.variant for t in d.reproducing] == [variant], d.summary()
