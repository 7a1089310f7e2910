"""The article ↔ Keras ``Dense`` mapping (for the Keras-on-JAX style), as exact array moves.

rows    (Courtial): X is (n examples, n_in), W is (n_in, n_out),  Z = A·W (+ b),  b is (1, n_out)
columns (deeplearning.ai): X is (n_in, m),   W is (n_out, n_in),  Z = W·A (+ b),  b is (n_out, 1)

Keras ``Dense`` always takes examples as rows and holds ``kernel`` (n_in, n_out) and
``bias`` (n_out,): Z = A·kernel + bias. The moves only select, transpose and reshape, so the
numbers move exactly; they are framework-free and live once, in ``reference/layout.py``
(its table of one layer, examples first), shared with the TensorFlow Keras style and torch's
nn.Linear: ``to_dense`` / ``from_dense`` take and give NumPy arrays (the keras style converts
gradients before mapping them back), ``examples_first`` / ``from_examples_first`` transpose a
columns-layout batch (NumPy or JAX arrays alike).
"""

from __future__ import annotations

from backprop_parity.reference.layout import (  # noqa: F401  (the keras style's L.to_dense, L.from_dense …)
    describe_dense, examples_first, from_dense, from_examples_first, to_dense)
