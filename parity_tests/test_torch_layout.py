"""backprop_parity.torch_impl.layout on its own: the article layout <-> nn.Linear mapping, examples-first, the bias trick.

The mapping is pure slicing and transposition, so every round trip is exact (==, no tolerance).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

LAYOUTS = ["rows", "columns"]
BIASES = ["trick", "vectors", "none"]
GRID = list(itertools.product(LAYOUTS, BIASES, [(3, 2), (1, 1), (4, 5)]))


@pytest.fixture(scope="module")
def L(torch_backend):
    from backprop_parity.torch_impl import layout
    return layout


def article_params(n_in, n_out, layout, bias, seed=0):
    """Random W (and b) with the article's shapes (reference.layout gives the shapes)."""
    from backprop_parity.reference import layout as RL
    rng = np.random.default_rng(seed)
    W = rng.standard_normal(RL.weight_shape(n_in, n_out, layout, bias == "trick"))
    b = rng.standard_normal(RL.bias_shape(n_out, layout)) if bias == "vectors" else None
    return W, b


@pytest.mark.parametrize("layout,bias,size", GRID)
def test_round_trip_article_to_linear_and_back(L, layout, bias, size):
    n_in, n_out = size
    W, b = article_params(n_in, n_out, layout, bias)
    Wt = L.tensor(W)
    bt = None if b is None else L.tensor(b)
    weight, vec = L.to_linear(Wt, bt, layout, bias)
    assert tuple(weight.shape) == (n_out, n_in)
    assert (vec is None) == (bias == "none")
    if vec is not None:
        assert tuple(vec.shape) == (n_out,)
    W2, b2 = L.from_linear(weight, vec, layout, bias)
    assert np.array_equal(L.numpy(W2), W)
    assert (b2 is None) == (b is None) and (b is None or np.array_equal(L.numpy(b2), b))


@pytest.mark.parametrize("layout,bias,size", GRID)
def test_linear_computes_the_article_affine_map(L, layout, bias, size):
    """nn.Linear loaded by to_linear gives the article's Z on the article's X (to rounding)."""
    import torch
    from backprop_parity.reference import layout as RL
    n_in, n_out = size
    W, b = article_params(n_in, n_out, layout, bias, seed=1)
    X = np.random.default_rng(2).standard_normal((4, n_in) if layout == "rows" else (n_in, 4))
    A = RL.with_ones(X, layout) if bias == "trick" else X
    Z_article = RL.affine(A, W, b, layout)
    lin = torch.nn.Linear(n_in, n_out, bias=bias != "none", dtype=torch.float64)
    weight, vec = L.to_linear(L.tensor(W), None if b is None else L.tensor(b), layout, bias)
    with torch.no_grad():
        lin.weight.copy_(weight)
        if vec is not None:
            lin.bias.copy_(vec)
        Z = L.from_examples_first(lin(L.examples_first(L.tensor(X), layout)), layout)
    assert np.allclose(L.numpy(Z), Z_article, rtol=1e-14, atol=1e-15)


def test_known_example_courtial_W1(L):
    """Courtial's W1 with its bias row: weight is the first three rows transposed, bias the last row."""
    W1 = np.array([[0.01, 0.05, 0.07], [0.20, 0.041, 0.11], [0.04, 0.56, 0.13], [0.1, 0.1, 0.1]])
    weight, bias = L.to_linear(L.tensor(W1), None, "rows", "trick")
    assert np.array_equal(L.numpy(weight), [[0.01, 0.20, 0.04], [0.05, 0.041, 0.56], [0.07, 0.11, 0.13]])
    assert np.array_equal(L.numpy(bias), [0.1, 0.1, 0.1])


def test_known_example_dlai_columns(L):
    """deeplearning.ai's W (n_out, n_in) is nn.Linear's weight as is; b (n_out, 1) becomes (n_out,)."""
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = np.array([[7.0], [8.0]])
    weight, bias = L.to_linear(L.tensor(W), L.tensor(b), "columns", "vectors")
    assert np.array_equal(L.numpy(weight), W)
    assert np.array_equal(L.numpy(bias), [7.0, 8.0])
    weight, bias = L.to_linear(L.tensor(np.hstack([W, b])), None, "columns", "trick")
    assert np.array_equal(L.numpy(weight), W) and np.array_equal(L.numpy(bias), [7.0, 8.0])


def test_to_linear_copies(L):
    """Loading never aliases the caller's tensor: an optimizer step on nn.Linear cannot change the case."""
    W = L.tensor(np.eye(3))
    weight, _ = L.to_linear(W, None, "columns", "none")
    weight += 1
    assert np.array_equal(L.numpy(W), np.eye(3))


def test_describe_linear_text(L):
    assert L.describe_linear("W1", "b1", (4, 3), "rows", "trick") == (
        "W1 (4, 3) → nn.Linear(3, 3, bias=True): weight = W1[:-1, :].T (3, 3), bias = W1[-1, :] (3,)")
    assert L.describe_linear("W2", "b2", (1, 4), "columns", "vectors") == (
        "W2 (1, 4), b2 (1, 1) → nn.Linear(4, 1, bias=True): weight = W2 (1, 4), bias = b2[:, 0] (1,)")
    assert L.describe_linear("W3", "b3", (2, 1), "rows", "none") == (
        "W3 (2, 1) → nn.Linear(2, 1, bias=False): weight = W3.T (1, 2)")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_examples_first_round_trip(L, layout):
    X = np.arange(6.0).reshape(2, 3)
    first = L.examples_first(L.tensor(X), layout)
    assert tuple(first.shape) == ((2, 3) if layout == "rows" else (3, 2))
    assert np.array_equal(L.numpy(L.from_examples_first(first, layout)), X)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bias_trick_helpers_match_reference(L, layout):
    from backprop_parity.reference import layout as RL
    A = np.random.default_rng(3).standard_normal((3, 2))
    assert np.array_equal(L.numpy(L.with_ones(L.tensor(A), layout)), RL.with_ones(A, layout))
    assert np.array_equal(L.numpy(L.drop_ones(L.tensor(A), layout)), RL.drop_ones(A, layout))
    assert np.array_equal(L.numpy(L.example(L.tensor(A), 1, layout)), RL.example(A, 1, layout))
    for include in (True, False):
        assert np.array_equal(L.numpy(L.weight_mask((3, 2), layout, True, include)),
                              RL.weight_mask((3, 2), layout, True, include))


def test_tensor_keeps_exact_values_and_dtype(L):
    import torch
    x = np.array([[0.1, 1 / 3], [np.pi, -2.5e-300]])
    t = L.tensor(x)
    assert t.dtype == torch.float64 and np.array_equal(L.numpy(t), x)
    assert L.tensor(x, np.float32).dtype == torch.float32
    with pytest.raises(ValueError):
        L.torch_dtype(np.float16)
