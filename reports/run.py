"""Load cases, compute every backend's traces, compare: the one path of check, report, explain and the tests.

:func:`run_cases` = :func:`compute` then :func:`assemble`.

* :func:`compute` runs the reference (NumPy, the registry's ``reference=True`` backend) in this
  process and every other backend in its own worker process (``reports/worker.py``): one per
  framework, all side by side (up to :data:`MAX_FRAMEWORK_PROCESSES`), even on fewer cores: the
  frameworks' costs differ (JAX compiles, TensorFlow imports for 6 s), and started together they share
  the cores while the longest runs — 39 s for every built-in case here against 48 s with two at a time
  (2 cores, cold). A NumPy-only
  run starts no worker and imports no framework. A backend that cannot be imported gives NOT RUN
  rows; a worker that dies gives ERROR rows for the cases it did not finish.
* A backend may compute a slightly different case than the one given (``effective_case`` in its
  ``backend`` module, e.g. TensorFlow keeps a leaky slope as a float32 attribute). Its worker sends
  that case back and the reference is rerun on it here, so that backend's reference parity is
  measured against it.
* :func:`assemble` compares, per case (``reports/compare.py``).

The tests (``parity_tests/helpers.py``) call :func:`compute` once per backend per session and
:func:`assemble` for every comparison they look at.
"""

from __future__ import annotations

import os
import queue
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from backprop_parity.reference import registry
from backprop_parity.reference.case import builtin_names, load

MAX_WORKERS = 2                 # processes one backend's cases may be split over (the tests' helpers): one per core
MAX_FRAMEWORK_PROCESSES = 4     # framework worker processes started at once (each holds a framework in memory)


def load_cases(specs: list[str], dtype: str):
    names = specs or builtin_names()
    cases = [load(s) for s in names]
    if dtype == "float32":
        cases = [c.cast(np.float32) for c in cases]
    return cases


@dataclass
class BackendRun:
    """One backend's traces of a list of cases, by case index."""

    backend: str
    traces: list                                   # per case: [Trace | Comparison (NOT RUN, ERROR)]
    effective: list                                # per case: {style: (reference trace on its effective case, note)}
                                                   # or None (a worker sends (effective case, note) first)
    environment: dict | None = None                # worker_facts of the framework (None: ran here or not at all)
    diagnoses: dict = field(default_factory=dict)  # reference only: case index -> {quantity: diagnosis line}

    def select(self, indexes) -> "BackendRun":
        return BackendRun(self.backend, [self.traces[i] for i in indexes], [self.effective[i] for i in indexes],
                          self.environment, {k: self.diagnoses[i] for k, i in enumerate(indexes) if i in self.diagnoses})


class Results(list):
    """[(case, traces, rows)] — with ``environment``: {backend: worker facts} of the frameworks that ran."""

    def __init__(self, items=(), environment=None):
        super().__init__(items)
        self.environment = dict(environment or {})
        self.kept: set = set()        # indexes of the cases whose rows were read from a store


def run_cases(cases, backends: list[str], progress=None, store=None) -> Results:
    kept: dict = {}                   # case index -> comparison rows read from the store
    runs = compute(cases, backends, progress, store=store, kept=kept)
    results = assemble(cases, runs, backends, kept=kept, store=store)
    results.kept = set(kept)
    return results


def needed(backends: list[str]) -> list[str]:
    """The backends to compute: those asked for, and the reference whenever another one must be compared."""
    ref = registry.reference().name
    if ref not in backends and backends:
        return [ref] + list(backends)
    return list(backends)


def workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


def compute(cases, backends: list[str], progress=None, known: dict | None = None, store=None,
            kept: dict | None = None) -> dict:
    """{backend: BackendRun} for ``needed(backends)``; runs in ``known`` are reused, not recomputed.

    ``store`` (a ``reports/cache.py`` Store, the command line's): each (backend, case) found there is
    read, not computed; a worker computes only the cases its backend misses, and what it computed is
    stored. ``kept`` (a dict to fill): the comparison rows of each case whose every result was read, when
    the store holds them too ({case index: rows}; such a case is not diagnosed again). ``progress(case)``
    is called (in this thread) when every backend has finished that case.
    """
    cases = list(cases)
    ref = registry.reference().name
    runs = dict(known or {})
    todo = [b for b in needed(backends) if b not in runs]
    reused = {b: _reused(store, b, cases) for b in todo}             # backend -> {case index: Entry}
    missing = {b: [i for i in range(len(cases)) if i not in reused[b]] for b in todo}
    if kept is not None and store is not None and not known:
        for i, case in enumerate(cases):
            if all(i in reused[b] for b in todo):
                rows = store.get_rows(backends, case, [t for b in backends for t in reused[b][i].traces])
                if rows is not None:
                    kept[i] = rows
    tracker = _Tracker(cases, todo, progress)
    for b in todo:
        for i in reused[b]:
            tracker.done(b, i)
    remote = [b for b in todo if b != ref and missing[b]]
    futures = {}
    pool = ThreadPoolExecutor(max_workers=min(MAX_FRAMEWORK_PROCESSES, len(remote))) if remote else None
    from .worker import Cancel, run_in_worker
    cancel = Cancel()
    try:
        for b in remote:
            futures[b] = pool.submit(run_in_worker, registry.get(b), [cases[i] for i in missing[b]],
                                     lambda k, b=b: tracker.callback(b)(missing[b][k]),
                                     env=store.worker_env() if store is not None else None, cancel=cancel)
        if ref in todo:
            runs[ref] = _here(ref, cases, tracker, reused[ref], store)
            mistake = case_file_mistake(cases, runs[ref], skip=kept or {})
            if mistake is not None:        # the case file names what no backend has: say so now, not after all ran
                cancel()
                raise mistake
            _diagnose(cases, runs[ref], skip=kept or {})    # while the frameworks' workers compute
        while futures and not all(f.done() for f in futures.values()):
            tracker.pump(0.05)
        tracker.pump(0)
        for b, fut in futures.items():
            try:
                result = fut.result()
            except Exception as exc:          # the parent's side itself failed: every case says so
                from .worker import WorkerResult
                result = WorkerResult(failure=f"running the worker failed: {type(exc).__name__}: {exc}")
            computed = _from_worker(b, [cases[i] for i in missing[b]], result)
            runs[b] = _merged(b, cases, reused[b], missing[b], computed, store)
            for i in missing[b]:
                tracker.done(b, i)            # NOT RUN or died early: nothing more will come
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    for b in todo:
        if b != ref and b not in runs:        # every case reused
            runs[b] = _merged(b, cases, reused[b], [], None, store)
    for b in todo:
        if b != ref:
            _effective_references(runs[b], ref, store, cases)
    return runs


DIAGNOSED = {"MISMATCH", "erratum confirmed", "not correctly rounded"}   # article verdicts given a diagnosis


def _diagnose(cases, ref_run: BackendRun, skip=()) -> None:
    """What reproduces each printed number the reference does not (reports/diagnose.py), per case (but those in
    ``skip``: their rows, diagnoses included, were read)."""
    from . import backends as B
    from .diagnose import summaries
    for i, (case, traces) in enumerate(zip(cases, ref_run.traces)):
        trace = next((t for t in traces if isinstance(t, B.Trace)), None)
        if trace is not None and i not in skip:
            ref_run.diagnoses[i] = summaries(case, trace)


def case_file_mistake(cases, ref_run: BackendRun, skip=()):
    """The first CaseError an expression of a case raises on the reference's trace (an unknown name, an
    index out of range …), found before any framework's numbers are awaited; None when every one evaluates
    (a case in ``skip`` has rows read from the store: it raised none when they were made)."""
    from . import backends as B
    from .compare import article_comparison
    from backprop_parity.reference.case import CaseError
    for i, (case, traces) in enumerate(zip(cases, ref_run.traces)):
        trace = next((t for t in traces if isinstance(t, B.Trace)), None)
        if trace is None or i in skip:
            continue
        for q in case.quantities:
            try:
                article_comparison(case, q, trace, trace)
            except CaseError as exc:
                return exc
    return None


def _reused(store, name: str, cases) -> dict:
    """{case index: cache Entry} of the cases ``store`` holds for backend ``name`` ({} without a store)."""
    if store is None:
        return {}
    backend = registry.get(name)
    found = {i: store.get(backend, c) for i, c in enumerate(cases)}
    return {i: e for i, e in found.items() if e is not None}


def _merged(name: str, cases, reused: dict, missing: list, computed: BackendRun | None, store) -> BackendRun:
    """One BackendRun over every case: the reused entries and the computed ones (which go to the store)."""
    from .cache import Entry
    traces, effective = [None] * len(cases), [None] * len(cases)
    environment = None
    for i, entry in reused.items():
        traces[i], effective[i] = list(entry.traces), entry.effective
        environment = environment or entry.environment
    if computed is not None:
        environment = computed.environment or environment
        for k, i in enumerate(missing):
            traces[i], effective[i] = computed.traces[k], computed.effective[k]
            if store is not None:
                store.put(registry.get(name), cases[i], Entry(traces[i], effective[i], computed.environment))
    return BackendRun(name, traces, effective, environment)


def _here(name: str, cases, tracker, reused: dict | None = None, store=None) -> BackendRun:
    """A backend computed in this process (the reference); ``reused`` cases are taken, not computed."""
    from . import backends as B
    from .cache import Entry
    from .worker import portable
    reused = reused or {}
    traces = []
    for i, case in enumerate(cases):
        if i in reused:
            traces.append(list(reused[i].traces))
            continue
        traces.append(B.run(case, name))
        if store is not None:
            store.put(registry.get(name), case, Entry(portable(case, name, traces[-1]), None, None))
        tracker.done(name, i)
    return BackendRun(name, traces, [None] * len(cases))


def _from_worker(name: str, cases, result) -> BackendRun:
    from . import backends as B
    from .compare import not_run
    styles = registry.style_names(name)
    traces, effective = [], []
    for i, case in enumerate(cases):
        if result.unavailable is not None:
            traces.append([not_run(case, name, s, result.unavailable) for s in styles])
            effective.append(None)
        elif i in result.cases:
            got, eff = result.cases[i]
            traces.append(list(got))
            effective.append(eff)
        else:
            why = result.failure or "the worker sent nothing for this case"
            traces.append([B.failed_row(case, name, s, why) for s in styles])
            effective.append(None)
    if result.failure is not None and result.unavailable is None and cases and len(result.cases) == len(cases):
        traces[-1] += [B.failed_row(cases[-1], name, s, result.failure + " (after sending every case)")
                       for s in styles]
    return BackendRun(name, traces, effective, result.environment or None)


def _effective_references(run: BackendRun, ref: str, store=None, cases=None) -> None:
    """Replace each effective case by {style: (the reference's trace on it, note, the case)}: the case a worker sent
    (the backend computes a slightly different one), and, per style, the case in the written form of its
    framework's optimizer (``Style.optimizer_forms``, reference/optimizers.py). Idempotent."""
    from backprop_parity.reference import optimizers as O

    from . import backends as B
    try:
        forms = {s.name: s.forms for s in registry.get(run.backend).styles}
    except registry.UnknownBackend:        # a test double: no declared optimizer forms
        forms = {}
    for i, found in enumerate(run.effective):
        if isinstance(found, dict):
            continue
        case = cases[i] if cases is not None else None
        per_style, done = {}, {}
        for style in dict.fromkeys(t.style for t in run.traces[i]):
            eff, notes = (found[0], [found[1]]) if found is not None else (case, [])
            written = O.in_form(eff, forms.get(style, {}))
            if written is not None:
                eff, note = written
                notes.append(f"{run.backend}/{style}: {note}")
            if not notes or eff is None:
                continue
            key = eff.hyper.form if written is not None else ""
            if key not in done:
                done[key] = reference_trace(eff, ref, store)
            trace, note = done[key], "; ".join(notes)
            # a failed reference run on the effective case is kept as its reason: compare reports it as an error
            per_style[style] = ((trace, note, eff) if isinstance(trace, B.Trace)
                                else (None, f"{note}; the reference failed on it: {trace}", eff))
        run.effective[i] = per_style or None


def reference_trace(case, ref: str, store=None):
    """The reference's Trace of ``case`` (from ``store`` when it holds it), or why it failed (text)."""
    from . import backends as B
    from .cache import Entry
    from .worker import portable
    backend = registry.get(ref)
    entry = store.get(backend, case) if store is not None else None
    traces = entry.traces if entry is not None else B.run(case, ref)
    if entry is None and store is not None:
        store.put(backend, case, Entry(portable(case, ref, traces), None, None))
    found = next((t for t in traces if isinstance(t, B.Trace)), None)
    return found if found is not None else "; ".join(t.reason for t in traces if t.reason) or "no trace"


def assemble(cases, runs: dict, backends: list[str], kept: dict | None = None, store=None) -> Results:
    """[(case, traces, rows)] for ``backends`` (in that order) from computed runs; the rows of a case in ``kept``
    are those (read from ``store``), the others are compared here and offered to ``store``."""
    ref = registry.reference().name
    out = []
    for i, case in enumerate(cases):
        if kept and i in kept:
            out.append((case, [t for b in backends for t in runs[b].traces[i]], kept[i]))
            continue
        out.append(case_result(case, i, runs, backends, ref))
        if store is not None:
            store.put_rows(backends, case, out[-1][1], out[-1][2])
    environment = {b: runs[b].environment for b in backends if b in runs and runs[b].environment}
    return Results(out, environment)


def case_result(case, i: int, runs: dict, backends: list[str], ref: str | None = None):
    from . import backends as B
    from .compare import compare_case
    ref = ref or registry.reference().name
    traces = [t for b in backends for t in runs[b].traces[i]]
    ref_trace = next((t for t in runs[ref].traces[i] if isinstance(t, B.Trace)), None) if ref in runs else None
    effective = {b: runs[b].effective[i] for b in backends
                 if b != ref and b in runs and runs[b].effective[i] is not None}
    rows = compare_case(case, traces, ref_trace, effective)
    if ref in runs and any(r.source == "article" and r.status in DIAGNOSED for r in rows):
        notes = runs[ref].diagnoses.get(i)
        if notes is None:
            from .diagnose import summaries
            notes = summaries(case, ref_trace)
        for r in rows:
            if r.source == "article" and r.status in DIAGNOSED and r.quantity in notes:
                r.diagnosis = notes[r.quantity]
    if ref_trace is not None and any(r.source == "article" and r.status == "MISMATCH" for r in rows):
        from .hints import transposed
        hint = transposed(case, [r for r in rows if r.backend == ref] or compare_case(case, [ref_trace]), ref)
        if hint is not None:
            rows.append(hint)
    return case, traces, rows


class _Tracker:
    """Per-case progress over several backends: a case is done when every backend has finished it
    (cases are announced in order; a backend may finish them in any order)."""

    def __init__(self, cases, backends, progress):
        self.cases, self.progress = cases, progress
        self.finished = {b: set() for b in backends}
        self.events: queue.Queue = queue.Queue()
        self.shown = 0

    def callback(self, backend):
        return lambda i: self.events.put((backend, i))

    def done(self, backend, i):
        self.finished[backend].add(i)
        self._show()

    def pump(self, timeout: float) -> None:
        try:
            backend, i = self.events.get(timeout=timeout) if timeout else self.events.get_nowait()
            self.done(backend, i)
            while True:
                backend, i = self.events.get_nowait()
                self.done(backend, i)
        except queue.Empty:
            pass

    def _show(self):
        if not self.finished:
            return
        while self.shown < len(self.cases) and all(self.shown in f for f in self.finished.values()):
            if self.progress:
                self.progress(self.cases[self.shown])
            self.shown += 1


class Progress:
    """Progress on stderr, one line per case (nothing with --quiet)."""

    def __init__(self, total: int, quiet: bool, stream=None):
        self.total, self.quiet, self.done = total, quiet, 0
        self.stream = stream or sys.stderr
        self.start = self.last = time.perf_counter()

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def __call__(self, case) -> None:
        self.done += 1
        now = time.perf_counter()
        self.say(f"[{self.done}/{self.total}] {case.name} ({now - self.last:.1f} s)")
        self.last = now
