"""The NumPy reference network, mirrored in JAX (and in Keras 3 running on JAX).

Three styles, all loading the case's initial parameters exactly, float64 by default:

* ``network``     — "grad": pure functions on a dict of ``jax.Array`` s; the forward pass
  records each layer's ``jax.vjp`` pullback, δ is the pullback of ∂J/∂ŷ (itself
  ``jax.grad`` of the loss), ∂J/∂W is ``jax.grad`` of the whole cost, the update is
  ``optax.sgd`` + ``optax.apply_updates``, each step compiled with ``jax.jit``, and training
  runs each epoch as one compiled ``jax.lax.scan`` of the update over its batches;
* ``keras_style`` — "keras": ``keras.Sequential`` of ``Dense`` and activation layers,
  Keras losses, ``keras.optimizers.SGD``, ``compile`` + ``fit(shuffle=False)``, with Keras 3
  running on its JAX backend (``KERAS_BACKEND=jax`` must be in the environment before
  keras is imported; one Keras backend per process);
* ``sharded``     — "sharded": data parallel — ``network``'s functions, with each batch's gradient computed
  half on each of two CPU devices (``jax.shard_map``, ``jax.lax.psum``) and the update on the
  replicated parameters.

float64: JAX computes in float32 unless ``jax_enable_x64`` is on, and an array made
before the switch stays 32-bit. The switch is therefore flipped here, at package
import, before this package makes any array (``VERSIONS`` and ``X64`` record it).

Importing this package needs jax and optax: without them the import fails and the
report shows the jax rows as NOT RUN (a failure), never as silently skipped.
"""

from __future__ import annotations

import os


def _host_devices(count: int = 2) -> None:
    """Two XLA CPU devices in this process, for the sharded style (``sharded.py``): XLA reads the flag when JAX
    first computes, so it is added here, before this package makes any array, to whatever XLA_FLAGS holds. One
    device computes everything else, as before."""
    flag = "--xla_force_host_platform_device_count"
    if flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}={count}".strip()


_host_devices()

# XLA's CPU compiler, set for what this backend compiles: a case's programs are small (layers of a few units, at
# most a few thousand examples) and each runs a few times, so compiling them is much of the work. Each flag below
# saves compile time and costs little at run time. Measured in one session, cold, results not reused
# (`BACKPROP_PARITY_CACHE=off backprop-parity check --backend jax`, then again with BACKPROP_PARITY_COMPILE=default):
# 70.8 s → 50.6 s wall for the 36 built-in cases; XLA's compile time on eight of them 17.1 → 8.0 s. The flags
# change which loops XLA's code generator writes, not the operations: over the built-in cases 70 of 3 417 traced
# float arrays differ from XLA's defaults, J by at most one unit in the last place (which the centered differences
# divide by 2h), and every number is held to the reference at the same float64 bounds either way.
# Not used: --xla_backend_optimization_level=0 (LLVM -O0) would save another 4 s of compiling, but it changes the
# numbers themselves — jit(1 − tanh(z)²) in float32 gives 3.6e-7 at z = 9, where tanh(9) is 1 and XLA's defaults
# give 0 (robust-edges' tanh-prime-saturated caught it) — so it is not a compile-time setting but another result.
# A flag already in XLA_FLAGS is kept. BACKPROP_PARITY_COMPILE=default keeps XLA's defaults (``bench`` does, for
# the 784-256-128-10 step: one large program compiled once and run hundreds of times).
QUICK_COMPILE = (
    "--xla_cpu_use_fusion_emitters=false",        # the older loop emitters: the newer MLIR fusion emitters take
                                                  # twice as long to compile a small program (17.1 → 8.8 s)
    "--xla_llvm_disable_expensive_passes=true",   # 8.8 → 8.0 s together with the next
    "--xla_cpu_parallel_codegen_split_count=1",   # one LLVM module per program, not split for threads
)


def _quick_compile() -> None:
    """Add QUICK_COMPILE to XLA_FLAGS (each unless XLA_FLAGS names it already), before JAX starts XLA."""
    if os.environ.get("BACKPROP_PARITY_COMPILE", "").strip() == "default":
        return
    flags = os.environ.get("XLA_FLAGS", "")
    extra = [f for f in QUICK_COMPILE if f.split("=")[0] not in flags]
    os.environ["XLA_FLAGS"] = " ".join([flags.strip()] + extra).strip()


_quick_compile()


def _client_threads(count: int = 4) -> None:
    """Threads for XLA's CPU client: each of the two devices' part of a sharded program runs on a thread of its
    own pool and blocks in the all-reduce until the other part arrives, and a one-device program (the cost J)
    takes a thread of the same pool. The pool is as big as the machine's cores (2 here): a J, or any program,
    on one thread could starve the second device's part past XLA's 40 s rendezvous deadline, and XLA aborts
    the process (seen in CI: "Termination timeout for all reduce … only 1 of them arrived"). ``PJRT_NPROC``
    sizes the pool before the client exists; the training loops also keep one program in flight
    (``network.trained``). A value already in the environment is kept."""
    os.environ.setdefault("PJRT_NPROC", str(count))


_client_threads()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)      # before any array exists: float64 is JAX's only on request


def _compilation_cache() -> None:
    """JAX's own persistent compilation cache, in the folder the command line offers
    (``BACKPROP_PARITY_COMPILE_CACHE``, next to its reused results): XLA keys each compiled program by
    the program itself, jax/jaxlib and the XLA flags, so a program is loaded instead of compiled, never
    a different one. Every program is kept, however small (JAX's defaults keep only those that took
    a second to compile; here there are thousands of small ones)."""
    import os
    folder = os.environ.get("BACKPROP_PARITY_COMPILE_CACHE", "").strip()
    if folder and not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


_compilation_cache()

import jaxlib  # noqa: E402
import optax  # noqa: E402

from backprop_parity.reference.spec import Static  # noqa: E402  (jit's static arguments)

X64: bool = bool(jax.config.jax_enable_x64)
VERSIONS = {"jax": jax.__version__, "jaxlib": getattr(jaxlib, "__version__", "?"), "optax": optax.__version__}


def compiled(fn=None, *, static: tuple = ("net", "hyper")):
    """``fn`` under ``jax.jit``, the arguments named in ``static`` static (a Net or Hyper compared by value, a
    Keras model by identity): traced and compiled once per network, hyper-parameters and shapes, as a JAX user
    compiles a step — run op by op, JAX would compile each operation of each new shape on its own (dozens of
    small programs per case)."""
    if fn is None:
        return lambda fn: compiled(fn, static=static)
    import functools
    import inspect
    names = list(inspect.signature(fn).parameters)
    at = tuple(i for i, n in enumerate(names) if n in static)

    def call(*args):
        return fn(*(a.value if i in at else a for i, a in enumerate(args)))
    call.__name__ = call.__qualname__ = fn.__name__      # the program is named after the step (jax_log_compiles)
    jitted = jax.jit(call, static_argnums=at)

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if kwargs or len(args) < len(names):                # keywords and defaults as positions: one program per value
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            args = tuple(bound.arguments.values())
        out = jitted(*(Static(a) if i in at else a for i, a in enumerate(args)))
        size = getattr(jitted, "_cache_size", None)
        if size is not None and size() > COMPILED_KEPT:     # a Keras model (static by identity) or a forward pass's
            jitted.clear_cache()                            # pullbacks key a program used once: memory stays bounded
        return out
    return run


COMPILED_KEPT = 64      # programs one compiled step keeps in memory (JAX's persistent cache on disk is not touched)


def _containers() -> None:
    """The contract's Forward and Backward as pytrees, so that a compiled step takes and returns them."""
    from backprop_parity.reference.contract import Backward, Forward
    jax.tree_util.register_dataclass(Forward, data_fields=["Z", "A", "A_in", "record"], meta_fields=["input_gradient"])
    jax.tree_util.register_dataclass(Backward, data_fields=["dJ_dyhat", "deriv", "delta", "dA_in"], meta_fields=[])


_containers()


def jax_dtype(dtype):
    """The case's NumPy dtype as JAX will hold it; refuses what this backend does not run."""
    import numpy as np
    d = np.dtype(dtype)
    if d not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"the jax backend runs float64 or float32, not {d}")
    if d == np.float64 and not jax.config.jax_enable_x64:
        raise RuntimeError("jax_enable_x64 is off: JAX would silently compute float64 cases in float32")
    return d


def platform_note() -> str:
    """Where XLA runs and what that means for the numbers (reported in every mapping)."""
    devices = jax.devices()
    kinds = ", ".join(sorted({d.platform for d in devices}))
    return (f"jax {jax.__version__} / jaxlib {VERSIONS['jaxlib']} on {kinds} ({len(devices)} device(s)); "
            f"jax_enable_x64 = {X64}; XLA's CPU kernels flush subnormal results to zero; "
            f"XLA_FLAGS = {os.environ.get('XLA_FLAGS', '').strip() or '(none)'}")


def array(x, dtype):
    """Any number or nested list as a JAX array of ``dtype`` (an exact copy; float64 needs x64, on above)."""
    import jax.numpy as jnp
    import numpy as np
    return jnp.asarray(np.asarray(x, dtype=jax_dtype(dtype)))
