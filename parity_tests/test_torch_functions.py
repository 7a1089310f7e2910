"""backprop_parity.torch_impl.backend.functions() against reference.backend.functions(), key by key.

Also records torch's own derivatives at exactly 0 (relu'(0), leaky_relu'(0), elu'(0)):
measured through the same functions the case expressions call.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_parity.reference import backend as RB
from backprop_parity.reference.expr import NoCounterpart
from backprop_parity.reports import tolerances

from . import helpers as H

Z = np.array([-3.0, -1.0, -0.25, -1e-8, 1e-8, 0.25, 1.0, 3.0, 40.0, -40.0])
PARAMS = {  # positional parameters as case expressions pass them (at_zero left out: see below)
    "identity": [()], "sigmoid": [()], "tanh": [()], "relu": [()],
    "leaky_relu": [(), (0.01,), (0.1,)], "elu": [(), (1.0,), (0.5,), (2.0,)],
}
ACT_CALLS = [(name, p) for name, ps in PARAMS.items() for p in ps]


@pytest.fixture(scope="module")
def F(torch_backend):
    return torch_backend.functions()


def R():
    return RB.functions()


def close(a, b, rel=tolerances.REL_FLOAT64):
    """The project's float64 bound: ``rel`` times the largest |value| (reports/tolerances.py)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rel * max(scale, 1e-300)))


def test_same_keys(F):
    assert set(F) == set(R())


@pytest.mark.parametrize("name,params", ACT_CALLS, ids=[f"{n}{p}" for n, p in ACT_CALLS])
def test_activation(F, name, params):
    assert close(F[f"act.{name}"](Z, *params), R()[f"act.{name}"](Z, *params))


@pytest.mark.parametrize("name,params", ACT_CALLS, ids=[f"{n}{p}" for n, p in ACT_CALLS])
def test_activation_derivative_away_from_zero(F, name, params):
    assert close(F[f"act.{name}_prime"](Z, *params), R()[f"act.{name}_prime"](Z, *params))


def test_scalar_call(F):
    """act.sigmoid_prime(2), as Courtial's chapter 5 writes it: a 0-d array like the reference's."""
    got = F["act.sigmoid_prime"](2)
    assert np.shape(got) == () and close(got, R()["act.sigmoid_prime"](2))


# --------------------------------------------------------------------------- exactly at zero

@pytest.mark.parametrize("name,params,torch_value", [
    ("relu", (), 0.0),                 # torch.relu: gradient 0 at 0
    ("leaky_relu", (), 0.01),          # F.leaky_relu: the negative slope at 0
    ("leaky_relu", (0.1,), 0.1),
    ("elu", (), 1.0),                  # F.elu: alpha·exp(0) = alpha at 0
    ("elu", (2.0,), 2.0),
    ("elu", (0.5,), 0.5),
    ("identity", (), 1.0), ("sigmoid", (), 0.25), ("tanh", (), 1.0),
])
def test_torch_derivative_at_zero(F, name, params, torch_value):
    assert float(F[f"act.{name}_prime"](0.0, *params)) == torch_value


@pytest.mark.parametrize("name,params", [("relu", ()), ("leaky_relu", ()), ("leaky_relu", (0.1,)), ("elu", ()),
                                         ("elu", (1.0,))])
def test_at_zero_defaults_agree_with_reference(F, name, params):
    assert float(F[f"act.{name}_prime"](0.0, *params)) == float(R()[f"act.{name}_prime"](0.0, *params))


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_elu_at_zero_differs_from_reference_when_alpha_is_not_1(F, alpha):
    """A convention difference, measured: the reference's default elu'(0) is 1, torch gives alpha."""
    assert float(R()["act.elu_prime"](0.0, alpha)) == 1.0
    assert float(F["act.elu_prime"](0.0, alpha)) == alpha


@pytest.mark.parametrize("name,params", [("relu", (1.0,)), ("leaky_relu", (0.01, 1.0)), ("elu", (2.0, 1.0))])
def test_at_zero_torch_cannot_honour_is_no_counterpart(F, name, params):
    with pytest.raises(NoCounterpart) as err:
        F[f"act.{name}_prime"](np.array([-1.0, 0.0, 1.0]), *params)
    assert err.value.key == f"act.{name}_prime" and "g'(0)" in err.value.reason


@pytest.mark.parametrize("name,params", [("relu", (0.0,)), ("leaky_relu", (0.1, 0.1)), ("elu", (2.0, 2.0)),
                                         ("relu", (1.0,))])
def test_at_zero_honoured_when_it_agrees_or_does_not_matter(F, name, params):
    z = Z if params == (1.0,) else np.append(Z, 0.0)      # relu'(0) = 1 asked, but no exact zero in Z
    assert close(F[f"act.{name}_prime"](z, *params), R()[f"act.{name}_prime"](z, *params))


# --------------------------------------------------------------------------- losses and calculus

LOSS_DATA = [
    (np.array([1.0, 0.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0, 0.0])),          # Zhou's MSE example
    (np.array([[0.45], [0.8], [0.2]]), np.array([[0.2], [0.1449], [0.381]])),
    (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.9, 0.2], [0.3, 0.6]])),
]


@pytest.mark.parametrize("name", ["half_sse", "mse", "squared_error", "bce"])      # cce: test_cross_entropy_forms
@pytest.mark.parametrize("i", range(len(LOSS_DATA)))
def test_loss(F, name, i):
    y, yhat = LOSS_DATA[i]
    if name == "bce" and i == 0:
        yhat = np.array([0.1, 0.2, 0.3, 0.9])
    assert close(F[f"loss.{name}"](y, yhat), R()[f"loss.{name}"](y, yhat))


@pytest.mark.parametrize("form,targets,x", H.CROSS_ENTROPY_CALLS, ids=H.CROSS_ENTROPY_IDS)
def test_cross_entropy_forms(F, form, targets, x):
    """nn.NLLLoss of log ŷ, nn.CrossEntropyLoss on logits (one-hot probabilities or class indices as the target)
    and its ∂J/∂z by backward(): the reference's forms at the float64 bound."""
    assert close(F[f"loss.{form}"](targets, x), R()[f"loss.{form}"](targets, x))


def test_softmax_prime_is_a_jacobian(F):
    """act.softmax_prime: torch.func.jacrev of torch.softmax, one (k, k) per example (not the vjp with ones,
    which is 0: the outputs sum to 1)."""
    z = H.CROSS_ENTROPY_CALLS[1][2]
    assert close(F["act.softmax_prime"](z, 1), R()["act.softmax_prime"](z, 1))
    assert np.shape(F["act.softmax_prime"](z[0])) == (3, 3)
    assert close(F["act.softmax"](z, 1), R()["act.softmax"](z, 1))


def test_zhou_mse_example(F):
    assert F["loss.mse"]([1, 0, 0, 1], [0, 0, 0, 0]) == 0.5


def test_computation_graph(F):
    got, ref = F["calc.computation_graph"](5, 3, 2), R()["calc.computation_graph"](5, 3, 2)
    assert set(got) == set(ref) and all(got[k] == ref[k] for k in ref), (got, ref)


@pytest.mark.parametrize("point", [(4.0, 2.0), (-1.5, 0.5), (0.0, 0.0)])
def test_surface(F, point):
    assert close(F["calc.surface"](*point), R()["calc.surface"](*point))
    assert close(F["calc.surface_gradient"](*point), R()["calc.surface_gradient"](*point))
    for lr in (0.01, 1):
        assert close(F["calc.descent_step"](*point, lr), R()["calc.descent_step"](*point, lr))


def test_float32_functions_are_float32(torch_backend):
    F32 = torch_backend.functions(np.float32)
    assert F32["act.tanh_prime"](Z).dtype == np.float32
    assert torch_backend.functions()["act.tanh_prime"](Z).dtype == np.float64


# --------------------------------------------------------------------------- data preparation (prep.*)

def _cars():
    from .helpers import case
    return np.asarray(case("courtial-preprocessing").arrays["cars"], dtype=float)


PREP_CALLS = [  # (function, its arguments from the cars, their mean and σ)
    ("prep.mean", lambda c, m, s: (c,)), ("prep.std", lambda c, m, s: (c, 0)), ("prep.std", lambda c, m, s: (c, 1)),
    ("prep.standardize", lambda c, m, s: (c, m, s)), ("prep.unstandardize", lambda c, m, s: (c, m, s)),
    ("prep.min_max", lambda c, m, s: (c,)), ("prep.min_max", lambda c, m, s: (c, 0, 40000)),
    ("prep.min_max_inverse", lambda c, m, s: (c, 0, 40000)), ("prep.plus_minus", lambda c, m, s: ([0, 1, 1], 1))]


@pytest.mark.parametrize("name, args", PREP_CALLS)
def test_prep_functions(F, name, args):
    """Each prep.* the torch way against the reference, with ddof or the statistics given (the defaults are
    the next test), at the float64 bound of each column's largest value."""
    cars = _cars()
    given = args(cars, cars.mean(0), cars.std(0))
    got, want = np.asarray(F[name](*given)), np.asarray(R()[name](*given))
    assert got.shape == want.shape and got.dtype == np.float64
    scale = np.max(np.abs(want), axis=0) if want.ndim == 2 else np.max(np.abs(want))
    assert np.all(np.abs(got - want) <= tolerances.REL_FLOAT64 * scale), (got, want)


def test_torch_std_default_is_the_sample_sigma(F):
    """Tensor.std's default correction=1 divides by n − 1: prep.std(cars) and the standardisation built on it
    are √(n/(n−1)) and √((n−1)/n) of NumPy's (the courtial-preprocessing case declares it, differs = torch)."""
    import torch
    cars = _cars()
    n = cars.shape[0]
    np.testing.assert_allclose(F["prep.std"](cars) / np.std(cars, axis=0), np.sqrt(n / (n - 1)), rtol=1e-14)
    np.testing.assert_allclose(F["prep.standardize"](cars) / ((cars - cars.mean(0)) / cars.std(0)),
                               np.sqrt((n - 1) / n), rtol=1e-14)
    t = torch.tensor(cars)
    assert torch.equal(t.std(dim=0), t.std(dim=0, correction=1))
    assert torch.equal(t.std(dim=0, unbiased=False), t.std(dim=0, correction=0))
