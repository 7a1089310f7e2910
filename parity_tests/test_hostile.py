"""Hostile or mistaken case files: shown literally, refused early, and given a hint where one is known.

* Text from a case file (title, label, erratum, note) is data, never markup: rich markup such as
  "[/bold]" prints as written in the terminal, and HTML reaches report.md as entities.
* A case-file expression that names what the reference's trace does not have (``Z[9]`` in a 2-layer
  network) is refused (exit 2, one line naming the field) as soon as the reference has run: the
  framework workers already started are stopped, not awaited.
* A square W written in the other orientation loads (its shape fits) and fails many comparisons; the
  reference tries it transposed and, when that clears the failures, the case gets a hint.
"""

from __future__ import annotations

import threading
import time

from backprop_parity.reference import registry
from backprop_parity.reports import run, worker
from backprop_parity.reports.cli import main

from .test_case_errors import GOOD
from .test_honesty import small_case

REF = registry.reference().name

HOSTILE = (GOOD.replace('title = "my worked example"', 'title = "<script>alert(1)</script> [/bold] x"')
           .replace('printed = "0.7"', 'printed = "0.7"\nlabel = "<img src=x onerror=alert(2)> [bold]L[/bold]"\n'
                                       'note = "<b>n</b> [/]"\nerratum = "<script>e</script> [/bold]"'))


def test_user_text_is_literal_in_check_and_explain(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")
    p = tmp_path / "h.toml"
    p.write_text(HOSTILE, encoding="utf-8")
    assert main(["check", str(p), "--backend", REF]) == 1          # the erratum now matches: a failure
    out = capsys.readouterr().out
    assert "<script>alert(1)</script> [/bold] x" in out and "<script>e</script> [/bold]" in out
    assert main(["explain", str(p), "--backend", REF]) in (0, 1)
    out = capsys.readouterr().out
    assert "[bold]L[/bold]" in out and "<script>e</script> [/bold]" in out


def test_user_text_is_html_escaped_in_the_report(tmp_path, capsys):
    p = tmp_path / "h.toml"
    p.write_text(HOSTILE, encoding="utf-8")
    out = tmp_path / "report"
    main(["report", str(p), "--backend", REF, "--out", str(out), "--quiet"])
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "index.html").read_text(encoding="utf-8")
    for raw in ("<script>alert(1)", "<script>e<", "<img src=x", "<b>n</b>"):
        assert raw not in md and raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md and "&lt;img src=x onerror=alert(2)&gt;" in md


def test_an_unknown_index_is_refused_before_the_frameworks_finish(tmp_path, capsys, monkeypatch):
    started, stopped = [], []

    def slow_worker(backend, cases, on_case=None, stderr=None, env=None, cancel=None):
        started.append(backend.name)
        deadline = time.monotonic() + 60
        while not (cancel and cancel.cancelled) and time.monotonic() < deadline:
            time.sleep(0.01)                  # a framework still computing
        if cancel and cancel.cancelled:
            stopped.append(backend.name)
        return worker.WorkerResult(failure="stopped")

    monkeypatch.setattr(worker, "run_in_worker", slow_worker)
    p = tmp_path / "z9.toml"
    p.write_text(GOOD.replace('of = "Z[1][0, 0]"', 'of = "Z[9][0, 0]"'), encoding="utf-8")
    code = main(["check", str(p), "--backend", "all"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "quantity[0] (z1).of: unknown name 'Z' (known: Z[1], Z[2])" in err
    frameworks = [b for b in registry.names() if b != REF]
    assert sorted(started) == sorted(stopped) == sorted(frameworks)


def test_a_cancelled_worker_process_is_killed():
    """Cancel kills a real worker process (here: one that would sleep for a minute) and stops new ones."""
    import subprocess
    import sys
    cancel = worker.Cancel()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert cancel.adopt(proc)
    threading.Timer(0.1, cancel).start()
    assert proc.wait(timeout=30) != 0
    late = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert not cancel.adopt(late) and late.wait(timeout=30) != 0


TRANSPOSED = 'of = "Z[1]"\nprinted = [["0.7", "1.1"], ["-0.25", "-0.2"]]'     # Z = X·W1 + b1 as written in GOOD


def hint_rows(case):
    (_, _, rows), = run.run_cases([case], [REF])
    return rows, [r for r in rows if r.status == "hint"]


def test_a_square_weight_written_transposed_gets_a_hint(tmp_path):
    case = small_case(tmp_path, TRANSPOSED)
    case.params["W1"] = case.params["W1"].T.copy()        # what a user writing W as (n_out, n_in) would load
    rows, hints = hint_rows(case)
    assert any(r.passed is False for r in rows)
    assert len(hints) == 1 and hints[0].passed is None
    assert hints[0].reason.startswith("W1 may be transposed: layout rows means W (n_in, n_out)")


def test_no_hint_when_the_numbers_match_or_transposing_does_not_help(tmp_path):
    rows, hints = hint_rows(small_case(tmp_path, TRANSPOSED))
    assert not hints and not any(r.passed is False for r in rows)
    rows, hints = hint_rows(small_case(tmp_path, 'of = "Z[1]"\nprinted = [["9", "1.1"], ["-0.25", "-0.2"]]'))
    assert not hints and any(r.passed is False for r in rows)


def test_a_reference_failure_on_an_effective_case_is_an_error_row(tmp_path):
    """A backend that computes a slightly different case (its effective case) is held to the reference run
    on that case; when the reference cannot run it, the backend's rows say so (ERROR with the reference's
    reason) instead of comparing against the original case or raising."""
    import dataclasses
    import numpy as np
    from backprop_parity.reports import backends as B
    from backprop_parity.reports.compare import compare_case
    c = small_case(tmp_path)
    ref_trace = run.reference_trace(c, REF)
    assert isinstance(ref_trace, B.Trace)
    broken = dataclasses.replace(c, params={k: np.zeros((7, 7)) for k in c.params})   # shapes the net cannot use
    backend_run = run.BackendRun("other", [[dataclasses.replace(ref_trace, backend="other")]],
                                 [(broken, "the slope as the framework keeps it")])
    run._effective_references(backend_run, REF)
    trace, note, _ = backend_run.effective[0][ref_trace.style]
    assert trace is None and note.startswith("the slope as the framework keeps it; the reference failed on it: ")
    rows = compare_case(c, backend_run.traces[0], ref_trace, {"other": backend_run.effective[0]})
    errors = [r for r in rows if r.status == "ERROR"]
    assert len(errors) == 1 and errors[0].backend == "other" and "the reference failed on it" in errors[0].reason
    assert not any(r.source == "reference" and r.passed for r in rows if r.backend == "other")
