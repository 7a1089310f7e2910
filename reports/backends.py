"""Which backends exist, how to load them, and how to run one style on one case.

torch and TensorFlow are optional at import time: a missing framework gives a
"NOT RUN" row (a failure) with the import error as the reason — never a silent skip.
torch is always imported before TensorFlow (the two in one process: see README).
"""

from __future__ import annotations

import importlib
import time

from backprop_parity.reference.contract import Trace
from backprop_parity.reference.trace import trace_case

from .compare import Comparison, not_run

MODULES = {"numpy": "backprop_parity.reference.backend", "torch": "backprop_parity.torch_impl.backend", "tf": "backprop_parity.tf_impl.backend"}
ORDER = ["numpy", "torch", "tf"]          # torch before tensorflow
STYLE_NAMES = {"numpy": ["manual"], "torch": ["autograd", "modules"], "tf": ["tape", "keras"]}


class BackendUnavailable(RuntimeError):
    pass


_loaded: dict = {}


def load(name: str):
    if name not in MODULES:
        raise ValueError(f"unknown backend {name!r} (known: {', '.join(MODULES)}, all)")
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(MODULES[name])
        except ImportError as exc:
            raise BackendUnavailable(f"the {name} backend cannot be imported here: {exc}") from None
    return _loaded[name]


def selected(spec: str) -> list[str]:
    if spec == "all":
        return list(ORDER)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    for n in names:
        if n not in MODULES:
            raise ValueError(f"unknown backend {n!r} (known: {', '.join(MODULES)}, all)")
    return sorted(set(names), key=ORDER.index)


def selected_with_reference(spec: str) -> list[str]:
    """``selected(spec)``, with the NumPy reference always first: every comparison needs it."""
    names = selected(spec)
    return names if "numpy" in names else ["numpy"] + names


def run(case, backend: str) -> list:
    """One Trace per style of ``backend`` (or a NOT RUN row when it cannot run)."""
    try:
        module = load(backend)
    except BackendUnavailable as exc:
        return [not_run(case, backend, s, str(exc)) for s in STYLE_NAMES[backend]]
    out = []
    dtype = case.net.dtype if case.net is not None else None
    for style, fn in module.STYLES.items():
        start = time.perf_counter()
        try:
            trace = fn(case) if callable(fn) else trace_case(backend, style, fn, case, getattr(module, "NOTES", None))
        except Exception as exc:  # a backend bug must show up as a failed row, with its message
            out.append(Comparison(case.name, "*", "backend failed", backend, style, "reference",
                                  passed=False, status="ERROR", reason=f"{type(exc).__name__}: {exc}"))
            continue
        trace.seconds = time.perf_counter() - start
        trace.functions = module.functions(dtype) if dtype is not None else module.functions()
        out.append(trace)
    return out


__all__ = ["Trace", "run", "load", "selected", "BackendUnavailable", "STYLE_NAMES", "ORDER"]
