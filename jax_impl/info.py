"""The JAX mirror in the backend registry (``reference/registry.py``).

Read from its file without importing this package (whose ``__init__`` imports jax and turns
on float64): no framework import here, and only absolute imports.

``env`` puts Keras 3 on its JAX backend in the process that imports this backend: Keras
reads KERAS_BACKEND once, at its first import, so the keras style shares no process with
a Keras on TensorFlow.
"""

import sys

from backprop_parity.reference.registry import Backend, Style

BACKEND = Backend(
    name="jax",
    package="backprop_parity.jax_impl",
    title="JAX",
    styles=(Style("grad", "network", "jax.grad / jax.vjp, optax", "#009E73", "P", optimizer_forms=(("momentum", "buffer"), ("nesterov", "buffer"), ("rmsprop", "eps-inside"))),
            Style("keras", "keras_style", "Keras 3 on the JAX backend", "#CC79A7", "X", optimizer_forms=(("rmsprop", "eps-inside"), ("adam", "eps-before"), ("adamw", "eps-before"))),
            Style("sharded", "sharded", "data parallel: jax.shard_map over 2 CPU devices", "#882255", "<", optimizer_forms=(("momentum", "buffer"), ("nesterov", "buffer"), ("rmsprop", "eps-inside")))),
    distributions=("jax", "jaxlib", "optax", "keras"),
    env={"KERAS_BACKEND": "jax"},
    imports=("jax",),
    # JAX_ENABLE_X64, JAX_DEFAULT_MATMUL_PRECISION, XLA_FLAGS, PJRT_NPROC …; BACKPROP_PARITY_COMPILE=default, which
    # keeps XLA's own compile flags instead of jax_impl.QUICK_COMPILE (code generation: traced arrays may differ by an ulp)
    switches=("JAX_", "XLA_", "KERAS_", "PJRT_", "BACKPROP_PARITY_COMPILE"),
    settings={"slope 0.3": "keras.layers.LeakyReLU() on JAX (negative_slope=0.3 by default)"},
)


def environment() -> list:
    """(name, value) facts about JAX as the worker process that ran it loaded it (never imports jax)."""
    jax = sys.modules.get("jax")
    if jax is None or not hasattr(jax, "config"):
        return [("JAX", "jax not loaded")]
    out = [("JAX float64", f"jax_enable_x64 = {bool(jax.config.jax_enable_x64)}"),
           ("JAX devices", ", ".join(sorted({f'{d.platform} ×{sum(1 for e in jax.devices() if e.platform == d.platform)}'
                                             for d in jax.devices()})))]
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        out.append(("Keras backend (jax worker)", keras.backend.backend()))
    return out
