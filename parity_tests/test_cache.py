"""Reused results (``reports/cache.py``) are never stale: each thing that made a result is in its key.

A change to the case file, the dtype, the project's source, a framework's version, a switch such as
oneDNN's ``TF_ENABLE_ONEDNN_OPTS`` (or any variable under a backend's ``switches`` prefixes) gives
another key, and the next run recomputes; ``--fresh`` reads nothing. The runs here go through
``run.compute`` with a Store, the path the command line takes, with the store in a folder of the
test's own (the rest of the suite never reads one: conftest turns reuse off).
"""

from __future__ import annotations

import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from backprop_parity.reference import registry
from backprop_parity.reference.case import builtin_paths, load
from backprop_parity.reports import cache, cli, run
from backprop_parity.reports.compare import Comparison

from .conftest import missing_backend

pytestmark = pytest.mark.cost(21)     # its tests' seconds, summed (conftest: the costliest files start first)

REF = registry.reference()
FRAMEWORKS = [b for b in registry.entries() if not b.reference]
CASE = "dlai-two-layer"


def case_file(tmp_path: Path, name: str = CASE) -> Path:
    src = next(p for p in builtin_paths() if p.stem == name)
    dst = tmp_path / f"{name}.toml"
    shutil.copy(src, dst)
    return dst


def counts(store, backend: str) -> tuple:
    return store.reused.get(backend, 0), store.computed.get(backend, 0)


def rows_of(cases, runs, backends):
    return [(r.case, r.quantity, r.backend, r.style, r.status, r.actual)
            for _, _, rs in run.assemble(cases, runs, backends) for r in rs]


# --------------------------------------------------------------------------- the key

@pytest.mark.parametrize("backend", registry.entries(), ids=lambda b: b.name)
def test_each_ingredient_changes_the_key(backend, tmp_path, monkeypatch):
    path = case_file(tmp_path)
    case = load(str(path))
    base = cache.key(backend, case)
    assert base == cache.key(backend, load(str(path))), "the same case loaded twice must give the same key"

    changed = {}
    changed["dtype"] = cache.key(backend, case.cast(np.float32))
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n# an edit that changes the file's bytes only\n", encoding="utf-8")
    changed["case file bytes"] = cache.key(backend, load(str(path)))
    path.write_text(text, encoding="utf-8")
    assert cache.key(backend, load(str(path))) == base

    edited = case.cast(case.params[next(iter(case.params))].dtype)
    k0 = next(iter(edited.params))
    edited.params = {**edited.params, k0: edited.params[k0] + 1e-15}
    changed["one parameter by 1e-15"] = cache.key(backend, edited)

    with monkeypatch.context() as m:
        m.setattr(cache, "source_digest", lambda: "another source")
        changed["source"] = cache.key(backend, case)
    with monkeypatch.context() as m:
        m.setattr(cache, "_version", lambda dist: "0.0.0-other")
        if backend.distributions:                     # the reference's own version is NumPy's, below
            changed["framework version"] = cache.key(backend, case)
    with monkeypatch.context() as m:
        m.setattr(cache.np, "__version__", "0.0-other")
        changed["array library version"] = cache.key(backend, case)
    for prefix in tuple(backend.switches) + cache.COMMON_SWITCHES:
        with monkeypatch.context() as m:
            m.setenv(prefix + "SOME_SWITCH", "1")
            changed[f"switch {prefix}…"] = cache.key(backend, case)
    with monkeypatch.context() as m:
        m.setenv("BACKPROP_PARITY_UNRELATED", "1")
        assert cache.key(backend, case) == base, "a variable under no switch prefix must not change the key"
    same = [what for what, k in changed.items() if k == base]
    assert not same, f"{backend.name}: the key ignores {same}"
    assert len(set(changed.values())) == len(changed), "two different changes gave the same key"


def test_the_same_case_file_in_another_folder_has_the_same_key(tmp_path):
    """The key holds the case file's bytes and what was loaded from it, not the folder it sits in: another clone
    of the project reuses what this one computed, and a changed byte still recomputes."""
    here, there = (case_file(tmp_path / d) for d in ("here", "there") if (tmp_path / d).mkdir() is None)
    framework = next(b for b in registry.entries() if b.name != REF.name)
    for backend in (REF, framework):
        assert cache.key(backend, load(str(here))) == cache.key(backend, load(str(there)))
    there.write_text(there.read_text(encoding="utf-8") + "\n# another byte\n", encoding="utf-8")
    assert cache.key(REF, load(str(here))) != cache.key(REF, load(str(there)))


def test_xla_compile_mode_is_in_the_jax_key_and_the_compiled_programs_folder_is_not(monkeypatch):
    """BACKPROP_PARITY_COMPILE=default (XLA's own compile flags, not jax_impl.QUICK_COMPILE: traced arrays may
    differ by an ulp) is another key; where JAX keeps its compiled programs (BACKPROP_PARITY_COMPILE_CACHE, a
    folder XLA keys by the program itself) is not."""
    covering = [b for b in registry.entries() if any("BACKPROP_PARITY_COMPILE".startswith(p) for p in b.switches)]
    assert covering, "no backend declares a switch prefix covering BACKPROP_PARITY_COMPILE"
    case = load(CASE)
    keys = {}
    for value in (None, "default"):
        if value is None:
            monkeypatch.delenv("BACKPROP_PARITY_COMPILE", raising=False)
        else:
            monkeypatch.setenv("BACKPROP_PARITY_COMPILE", value)
        for folder in ("/tmp/one", "/tmp/other"):
            monkeypatch.setenv(cache.COMPILE_ENV, folder)
            keys[value, folder] = cache.key(covering[0], case)
    assert keys[None, "/tmp/one"] == keys[None, "/tmp/other"], "the compiled programs' folder changed the key"
    assert keys["default", "/tmp/one"] == keys["default", "/tmp/other"]
    assert keys[None, "/tmp/one"] != keys["default", "/tmp/one"], "BACKPROP_PARITY_COMPILE=default kept the key"


def test_a_worker_is_offered_the_folder_of_compiled_programs_the_environment_names(tmp_path, monkeypatch):
    """A store offers its workers its own compiled/ folder, unless the environment names one (the tests' folder
    for the whole session); --fresh offers an empty name, which jax_impl takes for no folder at all."""
    monkeypatch.delenv(cache.COMPILE_ENV, raising=False)
    assert cache.Store(tmp_path).worker_env() == {cache.COMPILE_ENV: str(tmp_path / "compiled")}
    monkeypatch.setenv(cache.COMPILE_ENV, str(tmp_path / "the-session's"))
    assert cache.Store(tmp_path).worker_env() == {cache.COMPILE_ENV: str(tmp_path / "the-session's")}
    assert cache.Store(tmp_path, fresh=True).worker_env() == {cache.COMPILE_ENV: ""}
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.Store().worker_env() == {}          # no store: the worker inherits the environment as it is


def test_onednn_switch_is_in_the_tensorflow_key(tmp_path, monkeypatch):
    """TF_ENABLE_ONEDNN_OPTS changes what TensorFlow computes: set, unset and its value are three keys."""
    with_tf = [b for b in registry.entries() if any("TF_ENABLE_ONEDNN_OPTS".startswith(p) for p in b.switches)]
    assert with_tf, "no backend declares a switch prefix covering TF_ENABLE_ONEDNN_OPTS"
    case = load(CASE)
    keys = set()
    for value in (None, "0", "1"):
        if value is None:
            monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
        else:
            monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", value)
        keys.add(cache.key(with_tf[0], case))
    assert len(keys) == 3


def test_source_digest_reads_every_file(tmp_path, monkeypatch):
    """The digest covers the bytes of every source file of every package folder (here, copies)."""
    folders = []
    for folder in cache._package_folders():
        dst = tmp_path / folder.name
        shutil.copytree(folder, dst, ignore=shutil.ignore_patterns("__pycache__", "out"))
        folders.append(dst)
    monkeypatch.setattr(cache, "_package_folders", lambda: folders)
    digest = cache.source_digest.__wrapped__
    before = digest()
    assert before == digest()
    for folder in folders:
        target = sorted(folder.rglob("*.py"))[-1]
        original = target.read_bytes()
        target.write_bytes(original + b"\n# edited\n")
        assert digest() != before, f"an edit of {target.name} in {folder.name} left the source digest unchanged"
        target.write_bytes(original)
    assert digest() == before


# --------------------------------------------------------------------------- reuse, end to end

def test_reference_results_are_reused_then_recomputed_on_change(tmp_path):
    path = case_file(tmp_path)
    store_dir = tmp_path / "store"
    cases = [load(str(path))]
    first = cache.Store(store_dir)
    runs1 = run.compute(cases, [REF.name], store=first)
    assert counts(first, REF.name) == (0, 1)

    again = cache.Store(store_dir)
    runs2 = run.compute(cases, [REF.name], store=again)
    assert counts(again, REF.name) == (1, 0)
    assert rows_of(cases, runs1, [REF.name]) == rows_of(cases, runs2, [REF.name])
    assert len(rows_of(cases, runs2, [REF.name])) > 0

    fresh = cache.Store(store_dir, fresh=True)
    run.compute(cases, [REF.name], store=fresh)
    assert counts(fresh, REF.name) == (0, 1), "--fresh must read nothing"

    path.write_text(path.read_text(encoding="utf-8").replace("\n", "\n\n", 1), encoding="utf-8")
    edited = cache.Store(store_dir)
    run.compute([load(str(path))], [REF.name], store=edited)
    assert counts(edited, REF.name) == (0, 1), "an edited case file must be recomputed"

    f32 = cache.Store(store_dir)
    run.compute([cases[0].cast(np.float32)], [REF.name], store=f32)
    assert counts(f32, REF.name) == (0, 1), "another dtype must be recomputed"


def test_a_reused_reference_gives_every_row_a_fresh_one_gives(tmp_path):
    """Every built-in case, reference only: the rows of a run that reads the store — verdicts, numbers and the
    diagnosis of each printed number the reference does not reproduce — are the rows of the run that filled it.
    (A stored trace keeps its expressions' outcomes but not its functions; the diagnosis once tried its variants
    without them and said "no variant reproduces it" where a fresh run found the truncated print.)"""
    cases = [load(str(p)) for p in builtin_paths()]
    store_dir = tmp_path / "store"
    filled = cache.Store(store_dir)
    fresh = run.compute(cases, [REF.name], store=filled)
    again = cache.Store(store_dir)
    reused = run.compute(cases, [REF.name], store=again)
    assert counts(filled, REF.name) == (0, len(cases)) and counts(again, REF.name) == (len(cases), 0)

    def rows(runs):
        return [cli.dumps(cli._jsonable(cli.written(r.as_dict()))) for _, _, rs in run.assemble(cases, runs, [REF.name])
                for r in rs]
    got, want = rows(reused), rows(fresh)
    assert len(want) > 100 and sum('"diagnosis": null' not in r for r in want) >= 5
    assert len(got) == len(want)
    differ = [(a, b) for a, b in zip(got, want) if a != b]
    assert not differ, f"{len(differ)} rows differ; the first, reused then fresh:\n{differ[0][0]}\n{differ[0][1]}"


def test_a_torn_entry_is_a_miss(tmp_path):
    cases = [load(CASE)]
    store = cache.Store(tmp_path)
    run.compute(cases, [REF.name], store=store)
    for f in tmp_path.rglob("*.pickle"):
        f.write_bytes(f.read_bytes()[:20])
    again = cache.Store(tmp_path)
    run.compute(cases, [REF.name], store=again)
    assert counts(again, REF.name) == (0, 1)


def test_failures_are_not_stored(tmp_path):
    """A NOT RUN or ERROR row is never kept: the next run tries again."""
    cases = [load(CASE)]
    store = cache.Store(tmp_path)
    bad = [Comparison(CASE, "*", "backend failed", REF.name, REF.style_names[0], "reference", passed=False,
                      status="ERROR", reason="test")]
    store.put(REF, cases[0], cache.Entry(bad, None, None))
    assert not list(tmp_path.rglob("*.pickle"))


@pytest.mark.parametrize("backend", FRAMEWORKS, ids=lambda b: b.name)
def test_a_framework_is_not_started_again_and_a_switch_recomputes(backend, tmp_path, monkeypatch):
    """Second run: every case of the framework read from the store, equal row for row; a variable under
    the backend's switch prefixes set: computed again by the framework."""
    cases = [load(CASE)]
    store_dir = tmp_path / "store"
    first = cache.Store(store_dir)
    runs1 = run.compute(cases, [backend.name], store=first)
    got = runs1[backend.name].traces[0]
    if any(isinstance(t, Comparison) and t.status == "NOT RUN" for t in got):
        missing_backend(backend.name, got[0].reason)
    assert counts(first, backend.name) == (0, 1)
    assert runs1[backend.name].environment, "the framework's environment facts must come back"

    again = cache.Store(store_dir)
    runs2 = run.compute(cases, [backend.name], store=again)
    assert counts(again, backend.name) == (1, 0)
    assert runs2[backend.name].environment == runs1[backend.name].environment
    a, b = rows_of(cases, runs1, [backend.name]), rows_of(cases, runs2, [backend.name])
    assert a == b and len(a) > 10

    monkeypatch.setenv(backend.switches[0] + "BACKPROP_PARITY_TEST", "1")
    switched = cache.Store(store_dir)
    run.compute(cases, [backend.name], store=switched)
    assert counts(switched, backend.name) == (0, 1)


def test_the_command_says_what_it_reused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    assert cli.main(["check", CASE, "--backend", REF.name]) == 0
    assert f"{REF.name} 0 reused, 1 computed" in capsys.readouterr().err
    assert cli.main(["check", CASE, "--backend", REF.name]) == 0
    assert f"{REF.name} 1 reused, 0 computed" in capsys.readouterr().err
    assert cli.main(["check", CASE, "--backend", REF.name, "--fresh"]) == 0
    err = capsys.readouterr().err
    assert f"{REF.name} 0 reused, 1 computed" in err and "--fresh" in err
    monkeypatch.setenv(cache.ENV, "off")
    assert cli.main(["check", CASE, "--backend", REF.name]) == 0
    assert "not reused" in capsys.readouterr().err




# --------------------------------------------------------------------------- comparison rows and derived values

def written_rows(results) -> list:
    return [cli.dumps(cli._jsonable(cli.written(r.as_dict()))) for _, _, rs in results for r in rs]


def test_rows_are_read_only_when_every_result_they_were_made_from_was(tmp_path, monkeypatch):
    """The rows of a case are read from the store only with every backend's result read too, under the same key;
    a result computed again (its entry gone, the source changed) or --fresh: the rows are compared again."""
    name = "courtial-preprocessing"                # a printed number the reference does not reproduce: diagnosed
    cases = [load(str(case_file(tmp_path, name)))]
    store_dir = tmp_path / "store"
    first = cache.Store(store_dir)
    want = written_rows(run.run_cases(cases, [REF.name], store=first))
    assert first.rows_reused == 0 and len(list((store_dir / "rows").glob("*.pickle"))) == 1 and len(want) > 10
    assert any('"diagnosis": null' not in r for r in want)

    compared = []
    real = run.case_result
    monkeypatch.setattr(run, "case_result", lambda *a, **k: compared.append(a[0].name) or real(*a, **k))
    again = cache.Store(store_dir)
    got = written_rows(run.run_cases(cases, [REF.name], store=again))
    assert (again.rows_reused, compared) == (1, []), "the rows were compared again, not read"
    assert got == want
    assert "the comparisons of 1 case(s) reused" in again.summary()

    for what, store in [("--fresh", lambda: cache.Store(store_dir, fresh=True)),
                        ("another source", lambda: cache.Store(store_dir))]:
        with monkeypatch.context() as m:
            if what == "another source":
                m.setattr(cache, "source_digest", lambda: "another source")
            compared.clear()
            s = store()
            assert written_rows(run.run_cases(cases, [REF.name], store=s)) == want
            assert (s.rows_reused, compared) == (0, [name]), what

    for entry in (store_dir / REF.name).glob("*.pickle"):          # the result itself is gone: computed again
        entry.unlink()
    compared.clear()
    gone = cache.Store(store_dir)
    assert written_rows(run.run_cases(cases, [REF.name], store=gone)) == want
    assert (gone.rows_reused, counts(gone, REF.name), compared) == (0, (0, 1), [name])

    s = cache.Store(store_dir)                 # which backends, and in which order, is part of the rows' key
    other = FRAMEWORKS[0].name
    orders = ([REF.name], [REF.name, other], [other, REF.name], [other])
    assert len({s._rows_file(order, cases[0]) for order in orders}) == len(orders)


def test_a_rows_large_array_is_kept_as_its_place_in_the_traces(tmp_path):
    """A row's array above cli.WRITTEN_NUMBERS that views a trace's array is stored as where it is, and read back
    as a read-only view of the traces read beside it (same numbers, no copy); an array of the row's own is kept."""
    from backprop_parity.reference.contract import Trace
    from backprop_parity.reports.compare import held
    case = load(CASE)
    rng = np.random.default_rng(0)
    big = cli.WRITTEN_NUMBERS + 1
    trace = Trace(REF.name, REF.style_names[0], {"Z": [rng.random(3), rng.random(big)], "J": 1.0},
                  evaluated={"A[1]": rng.random((big, 2))})
    own = rng.random(big)                                   # computed for the row: in no trace
    rows = [Comparison(CASE, "Z[1]", "Z[1]", REF.name, REF.style_names[0], "reference",
                       expected=held(trace.values["Z"][1]), actual=held(trace.evaluated["A[1]"]), tolerance=held(own))]
    store = cache.Store(tmp_path)
    store.put_rows([REF.name], case, [trace], rows)
    (path,) = (tmp_path / "rows").glob("*.pickle")
    assert path.stat().st_size < own.nbytes + 20_000, "the traces' arrays were copied into the rows' entry"
    read_traces = [pickle.loads(pickle.dumps(trace))]         # the traces as another process reads them
    (got,) = store.get_rows([REF.name], case, read_traces)
    for name, src in [("expected", read_traces[0].values["Z"][1]), ("actual", read_traces[0].evaluated["A[1]"])]:
        value = getattr(got, name)
        assert np.shares_memory(value, src) and np.array_equal(value, src) and not value.flags.writeable, name
    assert np.array_equal(got.tolerance, own) and got.tolerance.dtype == own.dtype
    assert store.get_rows([REF.name], case, [Trace(REF.name, REF.style_names[0], {"J": 1.0})]) is None, \
        "rows whose place is not in the traces given must be a miss"


def test_a_derived_value_is_kept_by_the_source_and_never_read_when_reuse_is_off(tmp_path, monkeypatch):
    made = []

    def make():
        made.append(1)
        return ["marked lines"]
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    assert cache.derived(("what",), make) == ["marked lines"] and len(made) == 1
    assert cache.derived(("what",), make) == ["marked lines"] and len(made) == 1, "not read back"
    assert cache.derived(("another",), make) and len(made) == 2
    with monkeypatch.context() as m:
        m.setattr(cache, "source_digest", lambda: "another source")
        cache.derived(("what",), make)
        assert len(made) == 3, "another source read the old value"
    with monkeypatch.context() as m:
        m.setattr(cache, "_NOT_READ", {tmp_path})                 # --fresh
        cache.derived(("what",), make)
        assert len(made) == 4, "--fresh read a derived value"
    monkeypatch.setenv(cache.ENV, "off")
    before = sorted(tmp_path.rglob("*"))
    cache.derived(("off",), make)
    assert len(made) == 5 and sorted(tmp_path.rglob("*")) == before, "reuse off wrote something"


def test_the_marked_lines_read_back_are_those_extracted(tmp_path, monkeypatch):
    from backprop_parity.reports import steps
    monkeypatch.setenv(cache.ENV, "off")
    for b in registry.names():
        steps._extract_cached.cache_clear()
        want = steps.extract(b)
        monkeypatch.setenv(cache.ENV, str(tmp_path))
        for _ in range(2):                                       # written, then read
            steps._extract_cached.cache_clear()
            assert steps.extract(b) == want, b
        monkeypatch.setenv(cache.ENV, "off")
    assert len(list((tmp_path / "derived").glob("*.pickle"))) == len(registry.names())
    steps._extract_cached.cache_clear()


def test_a_report_after_a_check_writes_what_the_check_kept_as_a_fresh_report_would(tmp_path, monkeypatch, capsys):
    """check keeps each case's part of the report (its pages, Markdown, CSV and JSON lines) beside its rows; the
    report that follows writes it out without building a case section, and its files are those of a report
    computed from nothing (but the index's time stamp and times)."""
    from backprop_parity.reports import report
    name = "courtial-preprocessing"
    monkeypatch.setenv(cache.ENV, str(tmp_path / "store"))
    assert cli.main(["check", name, "--backend", REF.name, "--quiet"]) == 0
    assert len(list((tmp_path / "store" / "files").glob("*.pickle"))) == 1
    real = report.case_section
    with monkeypatch.context() as m:
        m.setattr(report, "case_section", lambda *a, **k: pytest.fail("a kept case section was built again"))
        assert cli.main(["report", name, "--backend", REF.name, "--quiet", "--out", str(tmp_path / "kept")]) == 0
    monkeypatch.setenv(cache.ENV, "off")
    assert report.case_section is real
    assert cli.main(["report", name, "--backend", REF.name, "--quiet", "--out", str(tmp_path / "fresh")]) == 0
    capsys.readouterr()
    kept, fresh = (sorted(p.relative_to(tmp_path / d).as_posix() for p in (tmp_path / d).rglob("*") if p.is_file())
                   for d in ("kept", "fresh"))
    assert kept == fresh and "cases/courtial-preprocessing.html" in kept and any(f.endswith(".svg") for f in kept)
    for f in kept:
        a, b = ((tmp_path / d / f).read_bytes() for d in ("kept", "fresh"))
        if f in ("index.html", "report.md"):               # the time stamp, and each style's seconds
            a, b = (re.sub(rb"Generated [^<\n]*UTC|\b\d+\.\d{2,3}\b", b"", x) for x in (a, b))
        assert a == b, f


def test_a_framework_worker_computes_on_one_thread_unless_the_environment_says_otherwise(monkeypatch):
    """Workers run side by side on a few cores: each framework's thread counts default to 1, a count the
    environment sets is kept, and a framework's results are keyed by the counts its worker ran with."""
    from backprop_parity.reports.worker import THREADS, XLA_ONE_THREAD, worker_environ
    env = worker_environ({"PATH": "/bin"})
    assert {k: env[k] for k in THREADS} == THREADS and env["XLA_FLAGS"] == XLA_ONE_THREAD and env["PATH"] == "/bin"
    own = {"OMP_NUM_THREADS": "4", "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true --xla_dump_to=/tmp/x"}
    assert {k: worker_environ(own)[k] for k in own} == own
    assert worker_environ({"XLA_FLAGS": "--xla_dump_to=/tmp/x"})["XLA_FLAGS"] == f"--xla_dump_to=/tmp/x {XLA_ONE_THREAD}"
    framework = next(b for b in registry.entries() if b.name != REF.name)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert cache.backend_facts(framework)["switches"]["OMP_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in cache.backend_facts(REF)["switches"]       # the reference computes in this process
    one = cache.key(framework, load(builtin_paths()[0]))
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert cache.backend_facts(framework)["switches"]["OMP_NUM_THREADS"] == "2"
    assert cache.key(framework, load(builtin_paths()[0])) != one
