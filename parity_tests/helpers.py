"""One comparison helper for every parity test (in the spirit of tinygrad's helper_test_op).

``rows(case_name, backend)`` gives the comparison rows of a built-in case on a backend (all its
styles) — the same rows ``backprop-parity check`` prints, by the same path: ``reports/run.py``
computes each backend once per test session, over every built-in case (the reference in this
process, every framework in its own worker process), and ``run.case_result`` compares, with the
effective references a backend asks for. ``results(names, backends)`` is what ``run_cases``
returns, from the same cache. ``session_runs(label, make_cases, backends)`` does the same for any
other list of cases (a framework's random networks, its float32 runs), once per session.

Every test that looks at a framework's numbers goes through these caches, and the caches of every
pytest-xdist worker share one store (:func:`session_store`: ``check``'s own store of reused results, in a
folder the session makes empty and removes at the end, keyed as ``check`` keys it), so no framework
computes a case twice in a session. When a single framework is to be computed, its cases are shared between
``run.workers()`` worker processes side by side (:func:`compute`) — each computes its part exactly as
``check`` would, in its own process — so that both cores work while the tests wait.

Those processes (and the jax tests' own, ``test_jax_units``) share one XLA compilation cache
(:func:`compilation_cache_env`): JAX's persistent cache, keyed by the compiled program itself, so a
program that two of them run is compiled once — the numbers are those of the same executable.
``BACKPROP_PARITY_XLA_CACHE`` chooses it (conftest's ``pytest_configure``, before any pytest-xdist worker
starts, so all of them share it): unset, the command line's folder of compiled programs, kept across
sessions (programs compiled by an earlier run are loaded, not compiled); ``session``, a temporary folder for
the run; a path, that folder; ``off``, none.
A ``JAX_COMPILATION_CACHE_DIR`` already in the environment is left as it is. Every other jax worker a
test starts (``check`` in ``test_determinism``, ``explain`` in ``test_explain`` …) uses the same folder
through ``BACKPROP_PARITY_COMPILE_CACHE``, which conftest sets (``jax_impl`` reads it, as it does the
command line's store): compiled programs only, never results.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from backprop_parity.reference import activations as RA
from backprop_parity.reference import losses as RLS
from backprop_parity.reference import registry
from backprop_parity.reference.layout import EXAMPLE_AXIS
from backprop_parity.reference.case import builtin_names, load
from backprop_parity.reports import run

CASES = builtin_names()
REF = registry.reference().name           # the reference backend's name
_INDEX = {name: i for i, name in enumerate(CASES)}
_runs: dict = {}                           # backend -> BackendRun over every built-in case (this session)
_session: dict = {}                        # label -> (cases, {backend: BackendRun}) of other case lists


@lru_cache(maxsize=None)
def case(name: str):
    return load(name)


def computed(backends) -> dict:
    """{backend: BackendRun over every built-in case}, each backend computed once per session
    (those not computed yet run side by side, each framework in its own worker process)."""
    todo = [b for b in run.needed(list(backends)) if b not in _runs]
    if todo:
        cases = [case(n) for n in CASES]
        _runs.update(compute(cases, todo, known=dict(_runs)))
    return {b: _runs[b] for b in run.needed(list(backends))}


def session_runs(label: str, make_cases, backends) -> tuple:
    """(cases, {backend: BackendRun}) of the cases ``make_cases()`` gives, computed once per session under
    ``label`` (the reference here, each framework in its worker processes, as ``check`` computes them)."""
    if label not in _session:
        cases = list(make_cases())
        _session[label] = (cases, compute(cases, list(backends)))
    return _session[label]


def compute(cases, backends, known: dict | None = None) -> dict:
    """``run.compute(cases, backends, known)`` with the session's store (:func:`session_store`): a framework's
    case that any pytest-xdist worker of this session has computed is read, not computed again — the key is
    ``check``'s (the case, the source, the versions, the switches), so a float32 cast, another environment
    or an edited file is another entry. The reference is computed here, never read (cheap, and its traces
    keep their functions). One worker at a time computes a framework (a lock per backend in the store), so
    the other finds its cases there instead of computing them beside it; a worker takes first a framework
    no other is computing. Frameworks are computed one after the other, each framework's cases dealt out
    (round robin) to ``run.workers()`` worker processes side by side: every case is still computed whole,
    by ``check``'s path, in a process of that backend."""
    known = dict(known or {})
    store = session_store()
    todo = [b for b in run.needed(list(backends)) if b not in known]
    with environment(compilation_cache_env()):
        if REF in todo:
            known.update(run.compute(cases, [REF]))                 # the reference, here, once
        waiting = [b for b in todo if b != REF]
        while waiting:                     # one framework at a time: first one no other worker is computing
            b = next((b for b in waiting if _try_lock(store, b)), None)
            if b is None:
                b = waiting[0]
                _try_lock(store, b, block=True)
            try:
                known.update(_compute(cases, [REF, b], known, store))
            finally:
                _unlock(store, b)
            waiting.remove(b)
    return {b: known[b] for b in run.needed(list(backends))}


_LOCKS: dict = {}                          # backend -> open lock file held by this process


def _try_lock(store, backend: str, block: bool = False) -> bool:
    """Take the session's lock for computing ``backend`` (always granted without a store)."""
    if store is None or not store.enabled:
        return True
    import fcntl
    store.root.mkdir(parents=True, exist_ok=True)
    f = open(store.root / f".computing-{backend}", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        f.close()
        return False
    _LOCKS[backend] = f
    return True


def _unlock(store, backend: str) -> None:
    f = _LOCKS.pop(backend, None)
    if f is not None:
        import fcntl
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def _compute(cases, backends, known: dict, store) -> dict:
    todo = [b for b in run.needed(list(backends)) if b not in known]
    reused = {b: run._reused(store, b, cases) for b in todo}
    frameworks = [b for b in todo if len(reused[b]) < len(cases)]
    parts = min(run.workers(), len(cases)) if len(frameworks) == 1 else 1
    if parts <= 1:
        return run.compute(cases, list(backends), known=known, store=store)
    shares = [list(range(k, len(cases), parts)) for k in range(parts)]
    with ThreadPoolExecutor(max_workers=parts) as pool:
        parts_done = list(pool.map(lambda share: run.compute([cases[i] for i in share], list(backends),
                                                             known={b: r.select(share) for b, r in known.items()},
                                                             store=store),
                                   shares))
    for name in todo:
        traces, effective = [None] * len(cases), [None] * len(cases)
        for share, done in zip(shares, parts_done):
            for j, i in enumerate(share):
                traces[i], effective[i] = done[name].traces[j], done[name].effective[j]
        environment = next((done[name].environment for done in parts_done if done[name].environment), None)
        known[name] = run.BackendRun(name, traces, effective, environment)
    return {b: known[b] for b in run.needed(list(backends))}


SESSION_STORE = "BACKPROP_PARITY_TEST_STORE"      # the session's store of results (conftest makes it)


def session_store():
    """The session's store (``reports/cache.py`` Store in the folder conftest made), or None outside a session."""
    from backprop_parity.reports import cache
    folder = os.environ.get(SESSION_STORE, "").strip()
    return cache.Store(folder) if folder else None


def session_store_env() -> dict:
    """The environment that hands a command the session's store: a test that runs ``check``, ``report`` or
    ``explain`` to look at its output (not at how it computes) reads what the session already computed."""
    folder = os.environ.get(SESSION_STORE, "").strip()
    return {"BACKPROP_PARITY_CACHE": folder} if folder else {}


FLOAT32 = "every built-in case in float32"


def float32_traces(name: str, backend: str) -> list:
    """``backend``'s traces of built-in case ``name`` cast to float32 (``check --dtype float32``'s cases):
    every case with a network, computed once per session and shared through the session's store, so
    that the float32 tests of each framework and of every backend at once compute each case once."""
    cases, runs = session_runs(f"{FLOAT32} on {backend}", _float32_cases, [backend])
    return list(runs[backend].traces[[c.name for c in cases].index(name)])


def _float32_cases() -> list:
    return [case(n).cast(np.float32) for n in CASES if case(n).net is not None]


def traces(name: str, backend: str) -> tuple:
    return tuple(computed([backend])[backend].traces[_INDEX[name]])


def reference_trace(name: str):
    return traces(name, REF)[0]


@lru_cache(maxsize=None)
def rows(name: str, backend: str) -> tuple:
    _, _, compared = run.case_result(case(name), _INDEX[name], computed([backend]), [backend])
    return tuple(compared)


def results(names, backends) -> run.Results:
    """What ``run.run_cases([case(n) for n in names], backends)`` returns, from the session cache."""
    backends = list(backends)
    runs = computed(backends)
    indexes = [_INDEX[n] for n in names]
    return run.assemble([case(n) for n in names], {b: r.select(indexes) for b, r in runs.items()}, backends)


def describe(row) -> str:
    return (f"{row.case}/{row.quantity} on {row.backend}/{row.style} ({row.source}): {row.status}; "
            f"max |diff| {row.max_abs_diff}, tolerance {row.tolerance} ({row.tolerance_reason}); "
            f"{row.erratum or row.reason or ''}")


def assert_row(row) -> None:
    assert row.passed is not False, describe(row)
    if row.passed is None:        # reported, not counted: no counterpart, or a gradient check rounding cannot decide
        assert row.status in ("no counterpart", "undecidable: rounding") and row.reason, describe(row)
    else:
        assert row.n_elements > 0, "comparison over zero elements: " + describe(row)


def trace_values(net, params, X, y, hyper, inputs=None) -> dict:
    """The NumPy reference's trace values of a network built in code (the shared trace assembly)."""
    from backprop_parity.reference import network
    from backprop_parity.reference.trace import trace
    return trace(network, net, params, X, y, hyper, inputs)[0]


# --------------------------------------------------------------------------- one XLA compilation cache

XLA_CACHE = "BACKPROP_PARITY_XLA_CACHE"


@lru_cache(maxsize=None)
def compilation_cache_env() -> dict:
    """The environment that gives a JAX process the session's persistent compilation cache ({} for none):
    ``BACKPROP_PARITY_COMPILE_CACHE``, as the command line offers its own (``jax_impl`` keeps every
    program there, however small). conftest puts it in os.environ for the whole session, so every worker
    process inherits it; only outside a pytest session does this make a folder of its own. Not a
    framework switch (no JAX_ variable), so results computed with it keep ``check``'s key. Worker
    processes side by side use it at once: an entry one of them reads while another still writes it
    fails to decompress, and JAX then compiles the program itself (with a warning) — a cache entry is
    never half used."""
    from backprop_parity.reports.cache import COMPILE_ENV
    choice = os.environ.get(XLA_CACHE, "").strip()
    if choice == "off" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return {}
    if os.environ.get(COMPILE_ENV):
        return {COMPILE_ENV: os.environ[COMPILE_ENV]}
    if choice:
        path = os.path.abspath(os.path.expanduser(choice))
    else:
        path = tempfile.mkdtemp(prefix="backprop-parity-xla-")
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return {COMPILE_ENV: path}


@contextlib.contextmanager
def environment(values: dict):
    """``values`` in os.environ for the duration (the worker processes started meanwhile inherit them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --------------------------------------------------------------------------- per-element bounds, tested by injection

INJECTED = 1e-9        # a relative error in one entry: below any per-array bound of a large matrix, far above rounding
CANCELLED = 1e4        # an entry 1e4 times smaller than the magnitudes it is computed from (1 − ŷ at ŷ ≈ 1)


# The built-in cases where cancellation leaves some entries below float64's reach (CANCELLED), and why.
CANCELLING = {
    "robust-bce-saturated": "δ = ŷ − y of σ(20) ≈ 1: 1 − ŷ is 2e-9 of the numbers it is computed from",
    "digits-minibatch": "1 797 × 32 weighted sums of 64 pixels: a few land within 1e-4 of 0 by chance "
                        "(Z[1] = −1.8e-4 from terms summing to 2.0 in magnitude), and their gradients too",
}


def assert_one_wrong_entry_fails(backend: str, style: str) -> None:
    """×(1 + 1e-9) in any single nonzero entry of any element-bounded quantity of any built-in case fails — but
    where cancellation leaves the entry below float64's reach, only in the cases of CANCELLING."""
    made, escaped, cancelled = injection_escapes(backend, style)
    assert made > 1000 and not escaped, f"{len(escaped)} of {made} injections passed: {escaped[:5]}"
    assert cancelled <= set(CANCELLING), cancelled


INJECTED_PER_KEY = 16     # above this many entries, only the entries an injection is likeliest to slip through


def hardest(plain, value, entries: list) -> list:
    """The entries (flat indexes) to inject into: all of them, or — for a large array — the INJECTED_PER_KEY
    an injection would leave closest to (or furthest under) their own bound: the largest
    tol − |actual × (1 + INJECTED) − expected|, from the unmutated row's own per-element tolerance. A row
    passes only when every element is within its bound (``compare.reference_row``: elementwise, the
    tolerance from the reference alone), so when these injections are caught, every other one is; which
    keeps a 1 797 × 32 array's injections linear, not 57 000 comparisons of 57 000 elements each."""
    if len(entries) <= INJECTED_PER_KEY:
        return list(entries)
    import numpy as np
    tol = np.broadcast_to(np.asarray(plain.tolerance, dtype=float), value.shape).ravel()
    expected = np.asarray(plain.expected, dtype=float).ravel()
    slack = tol - np.abs(value.ravel() * (1 + INJECTED) - expected)
    entries = np.asarray(entries)
    return list(entries[np.argsort(-slack[entries], kind="stable")[:INJECTED_PER_KEY]])


def injection_escapes(backend: str, style: str) -> tuple[int, list[str], set]:
    """Multiply each nonzero entry of every element-bounded quantity of ``backend/style`` (every built-in
    case, its own trace) by 1 + INJECTED, one entry at a time, and compare that quantity with the
    reference by the path ``check`` takes (``compare.reference_row``). Returns (injections made, the ones
    that still passed, the cases of the entries not held to it). Quantities bounded per element are those
    ``tolerances.element_scales`` covers: the whole step (Z, A, g', ∂J/∂ŷ, δ, δ·Wᵀ, gradients, J, the first
    batch update). Not held to it: an entry CANCELLED times smaller than its rounding scale — a difference
    of numbers near 1, where 1e-9 of the entry is below 1e-13 of what it was computed from, so two correct
    float64 computations differ by more (torch's δ of σ(20) with a BCE cost differs from the exact one by 3.6e-8).
    Arrays of more than INJECTED_PER_KEY entries: their hardest entries (:func:`hardest`)."""
    import dataclasses

    import numpy as np

    from backprop_parity.reports import backends as B
    from backprop_parity.reports import compare
    runs = computed([backend])
    made, escaped, cancelled = 0, [], set()
    for name in CASES:
        i = _INDEX[name]
        c = case(name)
        if c.net is None:
            continue
        effective = (runs[backend].effective[i] or {}).get(style)
        ref = effective[0] if effective is not None else reference_trace(name)
        scales = compare._scales(effective[2] if effective is not None else c, ref)
        for t in runs[backend].traces[i]:
            if not isinstance(t, B.Trace) or t.style != style:
                continue
            for key in scales:
                if key not in t.values or key not in ref.values or key == f"A[{c.net.first_layer - 1}]":
                    continue
                value = np.asarray(t.values[key], dtype=float)
                plain = compare._declared_difference(c, key, t, compare.reference_row(c, t, ref, key, scales))
                if plain.status == "convention confirmed":
                    continue                  # the case says this framework gives another number here
                assert plain.passed, f"{name} {key} fails unmutated"
                scale = np.broadcast_to(scales[key], value.shape)
                held = list(np.flatnonzero((value != 0) & (scale <= CANCELLED * np.abs(value))))
                if len(held) < np.count_nonzero(value):
                    cancelled.add(name)
                for j in hardest(plain, value, held):
                    mutated = value.copy()
                    mutated.flat[j] *= 1 + INJECTED
                    row = compare.reference_row(c, dataclasses.replace(t, values={key: mutated}), ref, key, scales)
                    made += 1
                    if row.passed is not False:
                        escaped.append(f"{name} {key}{list(np.unravel_index(j, value.shape))} = {value.flat[j]:.3e}")
    return made, escaped, cancelled


def in_style_form(case, backend: str, style: str):
    """The case as that style's framework writes its optimizer (reference/optimizers.py ``in_form``): what the
    style is held to. The case itself where the forms agree (and for plain SGD)."""
    from backprop_parity.reference import optimizers as O
    found = O.in_form(case, registry.get(backend).style(style).forms)
    return found[0] if found is not None else case


def effective_forms(case, backend: str) -> dict:
    """``compare_case``'s ``effective`` for a backend's styles that write the case's optimizer in another form:
    {backend: {style: (the reference's trace in that form, note, the case in that form)}} — what
    ``run._effective_references`` adds in a check (without a backend's own effective case)."""
    from backprop_parity.reference import optimizers as O
    from backprop_parity.reports import backends as B
    out = {}
    for style in registry.get(backend).styles:
        found = O.in_form(case, style.forms)
        if found is not None:
            eff, note = found
            out[style.name] = (B.run(eff, REF)[0], f"{backend}/{style.name}: {note}", eff)
    return {backend: out} if out else {}


# --------------------------------------------------------------------------- random classifiers

# Softmax outputs for every backend's random networks: cce on every bias convention and layout, and a softmax
# trained on mse (δ(L) through the Jacobian, nothing collapses), as (i, loss, bias, layout).
SOFTMAX_GRID = [(i, *p) for i, p in enumerate([("cce", b, lay) for b in ("trick", "vectors", "none")
                                                for lay in ("rows", "columns")]
                                               + [("mse", "vectors", lay) for lay in ("rows", "columns")])]


# Mini-batches for every backend's random networks (reference/batches.py): a seeded order per epoch and a smaller
# last batch where the loss averages; a summed loss with 1/n on batches that divide n; as (i, loss, bias, layout,
# n, batch_size, grad_scale).
# The conventions of the classic worked examples (issue 15) for every backend's random networks: one bias shared by a
# whole layer (Mazur), trained as one number, on both layouts and rules, with L2 reaching it or not; and J = Σŷ,
# the output itself with no target (micrograd, cs231n), under every bias convention. As (i, loss, bias, layout,
# rule, l2, l2_bias); the networks are 3-4-2, tanh then sigmoid, with seeds 900 + i.
CONVENTION_GRID = [(i, *p) for i, p in enumerate(
    [("half_sse", "shared", lay, rule, 0.0, True) for lay in ("rows", "columns") for rule in ("batch", "sgd")]
    + [("output_sum", b, lay, "batch", 0.0, True) for b in ("trick", "vectors", "shared", "none")
       for lay in ("rows", "columns")]
    + [("mse", "shared", "rows", "batch", 0.1, True), ("bce", "shared", "columns", "sgd", 0.1, False),
       ("output_sum", "shared", "columns", "sgd", 0.05, True)])]
CONVENTION_IDS = [f"{p[1]}-{p[2]}-{p[3]}-{p[4]}" + (f"-l2{'' if p[6] else '-nobias'}" if p[5] else "")
                  for p in CONVENTION_GRID]


def convention_case(make_case, i, loss, bias, layout, rule, l2, l2_bias):
    """The CONVENTION_GRID network ``i``, built by a test module's own ``make_case``."""
    return make_case(900 + i, (3, 4, 2), [("tanh", {}), ("sigmoid", {})], loss, bias, layout, rule=rule,
                     grad_scale="1", l2=l2, l2_bias=l2_bias)


def assert_bias_gradients(rows, bias):
    """Every style's ∂J/∂b rows held (and were compared) exactly when the network has b parameters."""
    held = {r.style for r in rows if r.quantity.startswith("grad.b") and r.passed}
    styles = {r.style for r in rows}
    assert held == (styles if bias in ("vectors", "shared") else set()), (bias, held, styles)


MINIBATCH_GRID = [(i, *p) for i, p in enumerate([
    ("cce", "vectors", "rows", 7, 3, "1"), ("cce", "trick", "columns", 7, 3, "1"), ("mse", "none", "rows", 5, 2, "1"),
    ("bce", "vectors", "columns", 5, 4, "1"), ("half_sse", "trick", "rows", 6, 2, "1/n"),
    ("squared_error", "vectors", "columns", 6, 3, "1")])]


def class_output(activations: list, loss: str, layout: str) -> list:
    """The output layer as a case file gets it: a softmax on the layout's class axis (cce needs one)."""
    if loss in RLS.ONE_HOT or activations[-1].name == "softmax":
        activations[-1] = RA.make("softmax", axis=1 - EXAMPLE_AXIS[layout])
    return activations


def one_hot(rng, shape_y, layout: str) -> np.ndarray:
    """Random one-hot targets of that shape (one class per example, examples along the layout's axis)."""
    n, k = (shape_y if layout == "rows" else shape_y[::-1])
    y = np.eye(k)[rng.integers(0, k, n)]
    return y if layout == "rows" else y.T



def renormalised_dJ_dyhat(case, rows, traces, styles) -> list:
    """The rows of a cce case with the Keras convention for ∂J/∂ŷ taken out, after asserting it: from
    probabilities, CategoricalCrossentropy divides ŷ by its sum, which adds Σy/Σŷ = 1 to every class of ∂J/∂ŷ —
    (1 − y/ŷ)/n, at the float64 bound of the reference's own −(y/ŷ)/n (each entry's rounding is relative to
    1/n + |y/ŷ|/n). ``styles``: the styles (of ``traces``) that compute the loss with a Keras loss object."""
    if case.net.loss.name != "cce":
        return rows
    n = np.shape(case.y)[case.net.example_axis]
    for t in traces:
        if t.style not in styles:
            continue
        y, yhat = np.asarray(t.values["y"]), np.asarray(t.values["yhat"])
        want = (1 - np.where(y == 0, 0.0, y / yhat)) / n
        got = np.asarray(t.values["dJ_dyhat"])
        bound = 1e-12 * (1 + np.abs(y / yhat)) / n
        assert np.all(np.abs(got - want) <= bound), (t.style, got, want)
        matched = [r for r in rows if r.style == t.style and r.source == "reference" and r.quantity == "dJ_dyhat"]
        assert matched and all(r.passed is False for r in matched), [describe(r) for r in matched]
    return [r for r in rows if not (r.style in styles and r.source == "reference" and r.quantity == "dJ_dyhat")]


# Arguments for every backend's cross-entropy functions (reference/losses.py): one-hot rows and probabilities
# (softmax of the logits), class indices, logits that differ by up to 9 (ŷ down to ~1e-4), and a single example.
_Z = np.array([[2.0, -1.0, 0.5], [-3.0, 4.0, 1.0], [0.1, 0.2, -6.0], [1.5, 1.5, 1.5]])
_LABELS = np.array([0.0, 2.0, 1.0, 1.0])
_Y = np.eye(3)[_LABELS.astype(int)]
_P = RA.softmax(_Z, 1)
CROSS_ENTROPY_CALLS = [          # (form, targets, argument)
    ("cce", _Y, _P), ("cce_logits", _Y, _Z), ("sparse_cce", _LABELS, _P), ("sparse_cce_logits", _LABELS, _Z),
    ("cce_logits_delta", _Y, _Z), ("sparse_cce_logits_delta", _LABELS, _Z),
    ("cce_logits", _Y[1], _Z[1]), ("sparse_cce_logits", _LABELS[1:2], _Z[1]),        # one example, as a vector
]
CROSS_ENTROPY_IDS = [f"{f}-{'one' if np.ndim(x) == 1 else 'batch'}" for f, _, x in CROSS_ENTROPY_CALLS]


# --------------------------------------------------------------------------- checks run in a backend's own process

@lru_cache(maxsize=None)
def in_backend_process(backend: str, module: str) -> dict:
    """``parity_tests.<module>.collect()``, run in a new process with the backend's registry env set before any
    import (Keras on JAX and Keras on TensorFlow cannot share this pytest process): its JSON, or {"error": …}."""
    import json
    import subprocess
    import sys
    code = f"import json; from parity_tests.{module} import collect; print('PROBE' + json.dumps(collect()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **registry.get(backend).env},
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    line = next((x for x in r.stdout.splitlines() if x.startswith("PROBE")), None)
    if r.returncode or line is None:
        return {"error": (r.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(line[len("PROBE"):])


def collected(backend: str, module: str) -> dict:
    """``in_backend_process``'s outcome for a test: skipped (or failed, when required) if the backend cannot be
    imported, failed with the child's last line if it broke."""
    import pytest
    from .conftest import missing_backend
    found = in_backend_process(backend, module)
    if "error" in found:
        if "No module named" in found["error"]:
            missing_backend(backend, found["error"])
        pytest.fail(f"the {backend} process failed: {found['error']}", pytrace=False)
    return found
