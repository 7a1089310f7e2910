"""A user's case file with a mistake gets one line naming the file and the field, and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backprop_parity.reference import registry
from backprop_parity.reports.cli import main

REF = registry.reference().name

GOOD = '''
schema = 1
name = "mine"
title = "my worked example"

[source]
article = "user"

[network]
sizes = [2, 2, 1]
activations = ["tanh", "sigmoid"]
loss = "half_sse"
layout = "rows"
bias = "vectors"

[params]
W1 = [[0.1, 0.2], [0.3, 0.4]]
b1 = [[0.0, 0.1]]
W2 = [[0.5], [0.6]]
b2 = [[0.2]]

[data]
X = [[1.0, 2.0], [0.5, -1.0]]
y = [[1.0], [0.0]]

[train]
learning_rate = 0.5

[[quantity]]
id = "z1"
of = "Z[1][0, 0]"
printed = "0.7"
'''

# (what to replace, replacement, text the one-line error must contain)
BROKEN = [
    ('sizes = [2, 2, 1]', 'sizes = [2, 2, 1', "TOML syntax error"),
    ('name = "mine"', '', "name: missing required field"),
    ('title = "my worked example"', 'title = "x"\ncolour = "red"', "colour: unknown field"),
    ('loss = "half_sse"', 'loss = "hinge"', "network.loss: 'hinge' is not one of"),
    ('activations = ["tanh", "sigmoid"]', 'activations = ["tanh", "swish"]', "network.activations[1]: unknown activation 'swish'"),
    ('activations = ["tanh", "sigmoid"]', 'activations = ["tanh"]', "network.activations: expected a list of 2"),
    ('activations = ["tanh", "sigmoid"]', 'activations = [{ name = "leaky_relu", slop = 0.1 }, "tanh"]', "network.activations[0]: activation 'leaky_relu' takes no parameter 'slop'"),
    ('W1 = [[0.1, 0.2], [0.3, 0.4]]', 'W1 = [[0.1, 0.2], [0.3]]', "params.W1: ragged matrix"),
    ('W1 = [[0.1, 0.2], [0.3, 0.4]]', 'W1 = [[0.1, 0.2, 0.3], [0.3, 0.4, 0.5]]', "params.W1: expected shape (2, 2)"),
    ('W1 = [[0.1, 0.2], [0.3, 0.4]]', 'W1 = [[0.1, "x"], [0.3, 0.4]]', "params.W1[0][1]: expected a number, got text"),
    ('W1 = [[0.1, 0.2], [0.3, 0.4]]', 'W1 = [[0.1, nan], [0.3, 0.4]]', "params.W1[0][1]: nan is not finite"),
    ('W1 = [[0.1, 0.2], [0.3, 0.4]]', 'W1 = [[0.1, inf], [0.3, 0.4]]', "params.W1[0][1]: inf is not finite"),
    ('b2 = [[0.2]]', '', "params.b2: missing required field"),
    ('b2 = [[0.2]]', 'b2 = [[0.2]]\nb3 = [[1.0]]', "params.b3: unknown field"),
    ('X = [[1.0, 2.0], [0.5, -1.0]]', 'X = [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]', "data.X: 3 features per example"),
    ('y = [[1.0], [0.0]]', 'y = [[1.0], [0.0], [1.0]]', "data.y: expected shape (2, 1)"),
    ('sizes = [2, 2, 1]', 'sizes = [2, 1000000, 1]', "network.sizes[1]: 1000000 is out of range"),
    ('sizes = [2, 2, 1]\nactivations = ["tanh", "sigmoid"]',
     'sizes = [2, 2000, 2000, 1]\nactivations = ["tanh", "tanh", "sigmoid"]', "parameters: the limit is"),
    ('learning_rate = 0.5', 'learning_rate = -0.5', "train.learning_rate: -0.5 is out of range"),
    ('learning_rate = 0.5', 'learning_rate = "fast"', "train.learning_rate: expected a number"),
    ('learning_rate = 0.5', 'epochs = 0', "train.epochs: 0 is out of range"),
    ('of = "Z[1][0, 0]"', 'of = "__import__(\'os\')"', "quantity[0] (z1).of: names starting with '_' are not allowed"),
    ('of = "Z[1][0, 0]"', 'of = "Q[1]"', "quantity[0] (z1).of: unknown name 'Q'"),
    ('of = "Z[1][0, 0]"', 'of = "Z[1][0, 0"', "quantity[0] (z1).of: cannot parse"),
    ('printed = "0.7"', 'printed = "seven"', "quantity[0] (z1).printed: 'seven' is not a number"),
    ('printed = "0.7"', 'printed = 0.520', 'quantity[0] (z1).printed: 0.52 is a TOML number, which loses the printed '
                                           'digits (0.520 reads as 0.52): write it as text'),
    ('printed = "0.7"', 'printed = [["0.7", 0.1]]', 'write it as text, exactly as printed, e.g. "0.1"'),
    ('printed = "0.7"', 'printed = ["0.7", "0.1"]', "quantity[0] (z1).printed: 2 numbers printed"),
    ('printed = "0.7"', 'printed = [["0.7", "0.1"], ["0.2"]]', "quantity[0] (z1).printed: ragged"),
    ('printed = "0.7"', 'printed = "0.7"\ntolerance = 0.1', "tolerance_reason: a tolerance other than the printed precision needs a written reason"),
    ('article = "user"', 'article = "wikipedia"', "source.article: 'wikipedia' is not one of"),
    ('[[quantity]]\nid = "z1"', '[[quantity]]\nid = "z 1"', "quantity[0].id: 'z 1'"),
    ('layout = "rows"', 'layout = "diagonal"', "network.layout: 'diagonal' is not one of"),
    # hardened in issue 6 (each of these used to escape as a traceback, or to hang)
    ('W1 = [[0.1, 0.2], [0.3, 0.4]]', 'W1 = [[0.1, 1' + '0' * 400 + '], [0.3, 0.4]]',
     "params.W1[0][1]: integer too large for a float"),
    ('learning_rate = 0.5', 'learning_rate = 1' + '0' * 400, "train.learning_rate: integer too large for a float"),
    ('learning_rate = 0.5', 'learning_rate = 1' + '0' * 5000, "TOML value cannot be read"),
    ('printed = "0.7"', 'printed = "0.0e400"', "quantity[0] (z1).printed: '0.0e400': its last digit"),
    ('printed = "0.7"', 'printed = [[]]', "quantity[0] (z1).printed: an empty row"),
    ('printed = "0.7"', 'printed = ' + '[' * 40 + '"1"' + ']' * 40, "nested more than 32 levels deep"),
    ('printed = "0.7"', 'printed = ' + '[' * 3000 + '"1"' + ']' * 3000, "TOML nested too deeply"),
    ('article = "user"', 'article = "user"\nurl = 5', "source.url: expected text"),
    # a TOML bomb: the parser's time and memory grow with the square of a dotted key's length (100 KB took
    # 3.9 GB and died); refused before parsing
    ('article = "user"', 'article = "user"\n' + "a." * 50_000 + 'b = 1', "line 8: a dotted key of more than 32 parts"),
    ('[source]', '[' + ".".join(["s"] * 40) + ']\nx = 1\n[source]', "line 6: a dotted key of more than 32 parts"),
    ('title = "my worked example"', 'title = "x"\n"col\\nour" = 1', "col\\nour: unknown field"),
    ('of = "Z[1][0, 0]"', 'of = "exp(Z[1], W[1])"', "quantity[0] (z1).of: exp() takes 1 argument(s), got 2"),
    ('of = "Z[1][0, 0]"', 'of = "' + '-' * 100 + '1"', "quantity[0] (z1).of: expression nested more than 64"),
    ('of = "Z[1][0, 0]"', 'of = "X[0:1e400]"', "quantity[0] (z1).of: an index must be a whole number"),
    ('of = "Z[1][0, 0]"', 'of = "Z[1][0, 0] * 9**9**9 / 0"', None),      # IEEE inf, not a bigint: a MISMATCH, exit 1
    ('[params]\nW1 = [[0.1, 0.2], [0.3, 0.4]]\nb1 = [[0.0, 0.1]]\nW2 = [[0.5], [0.6]]\nb2 = [[0.2]]',
     '[init]\nseed = 0', None),                                                       # a valid variant
    ('sizes = [2, 2, 1]\nactivations = ["tanh", "sigmoid"]',
     'sizes = [2, 90000, 1]\nactivations = ["tanh", "sigmoid"]', "params.W1: expected shape (2, 90000)"),
    # a dataset that ships offline instead of written-out data; gradient checking on the first N examples
    ('X = [[1.0, 2.0], [0.5, -1.0]]\ny = [[1.0], [0.0]]', 'source = "mnist"', "data.source: 'mnist' is not one of"),
    ('X = [[1.0, 2.0], [0.5, -1.0]]\ny = [[1.0], [0.0]]', 'source = "load_digits"',
     "data.source: 64 features per example (rows layout, shape (1797, 64)) but network.sizes starts with 2"),
    ('y = [[1.0], [0.0]]', 'y = [[1.0], [0.0]]\nsource = "load_digits"',
     "data.X: give the data either as X and y or as a source, not both"),
    ('y = [[1.0], [0.0]]', 'y = [[1.0], [0.0]]\nexamples = 1', "data.examples: keeps the first N examples of a [data] source"),
    ('[train]', '[gradcheck]\nexamples = 3\n\n[train]', "gradcheck.examples: 3 is out of range"),
    # minibatches: batch_size and shuffle_seed only with rule = "minibatch", which needs a batch_size within n
    ('learning_rate = 0.5', 'learning_rate = 0.5\nbatch_size = 2',
     "train.batch_size: applies to rule = \"minibatch\" only (the rule is 'batch')"),
    ('learning_rate = 0.5', 'learning_rate = 0.5\nrule = "sgd"\nshuffle_seed = 2',
     "train.shuffle_seed: applies to rule = \"minibatch\" only (the rule is 'sgd')"),
    ('learning_rate = 0.5', 'learning_rate = 0.5\nrule = "minibatch"',
     'train.batch_size: rule = "minibatch" needs a batch_size'),
    ('learning_rate = 0.5', 'learning_rate = 0.5\nrule = "minibatch"\nbatch_size = 3', "train.batch_size: 3 is out of range"),
    ('learning_rate = 0.5', 'learning_rate = 0.5\nrule = "minibatch"\nbatch_size = 1\nshuffle_seed = -1',
     "train.shuffle_seed: -1 is out of range"),
    # classification: softmax only at the output, its axis from the layout, cce after a softmax on one-hot targets
    ('activations = ["tanh", "sigmoid"]', 'activations = ["softmax", "sigmoid"]',
     "network.activations[0]: softmax normalises over the classes of an example: only the output layer"),
    ('sizes = [2, 2, 1]\nactivations = ["tanh", "sigmoid"]',
     'sizes = [2, 2, 2]\nactivations = ["tanh", { name = "softmax", axis = 0 }]',
     "network.activations[1].axis: the class axis follows network.layout"),
    ('loss = "half_sse"', 'loss = "cce"',
     "network.loss: 'cce' is the cross-entropy of a class distribution: the output layer needs a softmax"),
    ('activations = ["tanh", "sigmoid"]', 'activations = ["tanh", "softmax"]',
     "network.sizes: a softmax over 1 class is 1 whatever Z is: a classifier needs at least 2 outputs"),
    ('loss = "half_sse"', 'loss = "output_sum"', "data.y: loss 'output_sum' (J = Σ ŷ (the output itself, no target)) has no targets: leave y out"),
    ('bias = "vectors"', 'bias = "shared"', "params.b1: expected shape (1, 1) for b1 (rows layout, shared bias), got (1, 2)"),
]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mine.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_good_file_runs(tmp_path, capsys):
    code = main(["check", str(write(tmp_path, GOOD)), "--quiet", "--backend", REF])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    assert "error" not in out.err


@pytest.mark.parametrize("old,new,message", BROKEN, ids=[(b[2] or b[1])[:40] for b in BROKEN])
def test_broken_case_file(tmp_path, capsys, old, new, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    code = main(["check", str(path), "--quiet", "--backend", REF])
    err = capsys.readouterr().err
    if message is None:           # not an input error: the run completes (0) or a comparison fails (1)
        assert code in (0, 1) and "Traceback" not in err
        return
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert message in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("argv,message", [
    (["check", "no-such-case"], "no built-in case named 'no-such-case'"),
    (["check", "/nonexistent/case.toml"], "no such file"),
    (["check", "courtial-one-car", "--backend", "no_such_backend"], "--backend: unknown backend 'no_such_backend'"),
    (["check", "--dtype", "float16"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_command_line(capsys, argv, message):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


def test_not_utf8_and_binary(tmp_path, capsys):
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["check", str(p)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_console_script_exit_code(tmp_path):
    path = write(tmp_path, GOOD.replace('loss = "half_sse"', 'loss = "hinge"'))
    proc = subprocess.run([sys.executable, "-m", "backprop_parity.reports.cli", "check", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "network.loss" in proc.stderr


INIT = GOOD.replace('[params]\nW1 = [[0.1, 0.2], [0.3, 0.4]]\nb1 = [[0.0, 0.1]]\nW2 = [[0.5], [0.6]]\nb2 = [[0.2]]',
                    '[init]\nseed = 0')


@pytest.mark.parametrize("sizes,message", [
    ("[2, 1000000, 1]", "network.sizes[1]: 1000000 is out of range"),             # a 10⁶-wide layer
    ("[2, 99999, 99999, 1]\nactivations = [\"tanh\", \"tanh\", \"sigmoid\"]", "parameters: the limit is"),  # 10¹⁰ weights
    ("[2, 60000, 1]", "network.sizes: gradient checking"),                         # days of gradient checking
])
def test_absurd_sizes_refused_before_allocating(tmp_path, capsys, sizes, message):
    import tracemalloc
    text = INIT.replace("sizes = [2, 2, 1]", f"sizes = {sizes}")
    if "\nactivations" in sizes:
        text = text.replace('activations = ["tanh", "sigmoid"]\n', "", 1)
    path = write(tmp_path, text)
    tracemalloc.start()
    try:
        code = main(["check", str(path), "--backend", REF])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert peak < 30_000_000, f"{peak} bytes allocated before refusing"


def test_a_directory_is_not_a_case(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a file" in err and len(err.strip().splitlines()) == 1


def test_a_name_too_long_for_the_system(capsys):
    assert main(["check", "x" * 5000 + ".toml"]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--json", ""], "--json: an empty file name"),
    (["--json", "{tmp}"], "is a folder, not a file"),
    (["--json", "{file}/rows.json"], "which is a file"),
    (["--json", "/dev/full"], "--json: cannot write /dev/full (No space left on device)"),
])
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, capsys, argv, message):
    """Checked before computing where a path says so; a failed write is caught too — never a traceback."""
    (tmp_path / "f").write_text("x", encoding="utf-8")
    argv = [a.format(tmp=tmp_path, file=tmp_path / "f") for a in argv]
    if argv[1] == "/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    code = main(["check", "courtial-one-car", "--backend", REF, "--quiet", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_report_out_that_is_a_file_is_refused_before_computing(tmp_path, capsys):
    (tmp_path / "f").write_text("x", encoding="utf-8")
    assert main(["report", "courtial-one-car", "--backend", REF, "--out", str(tmp_path / "f"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"backprop-parity: error: --out: {tmp_path / 'f'} is a file, not a folder", err


def test_python_m_reaches_the_same_error_handling(tmp_path):
    r = subprocess.run([sys.executable, "-m", "backprop_parity.reports.cli", "mutants", "--only", "no-such-bug"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_terminal_escapes_in_case_text_are_neutralised(tmp_path, capsys):
    p = tmp_path / "esc.toml"
    p.write_text(GOOD.replace('title = "my worked example"', 'title = "red \\u001b[31mALERT\\u001b]0;owned\\u0007 \\u202eevil"'),
                 encoding="utf-8")
    assert main(["check", str(p), "--backend", REF]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "red \\x1b[31mALERT\\x1b]0;owned\\x07 \\u202eevil" in out


def test_a_number_float32_cannot_hold_is_an_error_in_a_float32_run(tmp_path, capsys):
    """1e308 is a float64 number; in --dtype float32 it would become inf with only a warning: it is refused,
    naming the field."""
    p = write(tmp_path, GOOD.replace("W1 = [[0.1, 0.2], [0.3, 0.4]]", "W1 = [[0.1, 1e308], [0.3, 0.4]]"))
    assert main(["check", str(p), "--backend", REF, "--quiet"]) in (0, 1)          # float64 holds it
    capsys.readouterr()
    assert main(["check", str(p), "--backend", REF, "--quiet", "--dtype", "float32"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("params.W1[0][1]: 1e+308 overflows float32 (largest 3.4e+38)") and len(err.splitlines()) == 1


@pytest.mark.parametrize("old,new,field,message", [
    ('learning_rate = 0.5', 'learning_rate = 0.5\nepochs = 1000000\nrule = "sgd"', "train.epochs",
     "2000000 training steps would take about 16000 s on the slowest framework: the budget is 900 s"),
    ('sizes = [2, 2, 1]', 'sizes = [2, 5000, 1]', "inputs.many",
     "the run would hold about 6.0 GiB (5003 units × 20000 examples × 8 arrays"),
    ('sizes = [2, 2, 1]\nactivations = ["tanh", "sigmoid"]',
     'sizes = [2, 2, 3000]\nactivations = ["tanh", "softmax"]', "network.sizes",
     "(a softmax Jacobian of 3000 × 3000 for each of 200 examples)"),
])
def test_cost_budgets_are_checked_when_the_file_is_read(tmp_path, capsys, monkeypatch, old, new, field, message):
    """Memory and time of the whole run (activations × examples, [inputs], J for every epoch, training
    steps at a framework's per-step cost, gradient checking's passes) are estimated before anything runs;
    over the budget: one line naming the field, exit 2, in well under a second. --large lifts the budget."""
    text = GOOD.replace(old, new, 1)
    if field == "network.sizes":                        # 200 examples of 3000 classes, from [init]
        text = text[:text.index("[params]")] + "[init]\nseed = 0\n\n[data]\nX = [" + ", ".join(["[0.5, 0.1]"] * 200) \
            + "]\n\n" + text[text.index("[train]"):]
    if field.startswith("inputs."):
        text = text.replace("[train]", "[inputs]\nmany = [" + ", ".join(["[0.5, 0.1]"] * 20000) + "]\n\n[train]")
        text = text[:text.index("[params]")] + "[init]\nseed = 0\n\n" + text[text.index("[data]"):]
    p = write(tmp_path, text)
    monkeypatch.delenv("BACKPROP_PARITY_LARGE", raising=False)
    assert main(["check", str(p), "--backend", REF, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{field}: " in err and message in err and "(--large lifts it)" in err and len(err.splitlines()) == 1, err
    from backprop_parity.reference.case import LARGE_ENV, load
    monkeypatch.setenv(LARGE_ENV, "1")                 # what --large sets: the same file loads
    assert load(p).name == "mine"


def test_a_list_literal_counts_like_any_array(tmp_path, capsys):
    """`sum([X, X, …])` builds one array of every element: held to the same 10⁷-number limit as an operation."""
    from backprop_parity.reference import expr
    ns = expr.Namespace({"X": np.zeros((1000, 200))})
    with pytest.raises(expr.ExprError, match=r"the list would hold 20000000 numbers \(limit 10000000\)"):
        ns.evaluate("sum([" + ",".join(["X"] * 100) + "])")
    assert ns.evaluate("sum([X, X])") == 0.0


@pytest.mark.parametrize("y,message", [
    ("[[1.0, 0.0], [0.5, 0.5]]", "example 1 is [0.5, 0.5]"),
    ("[[1.0, 0.0], [1.0, 1.0]]", "example 1 is [1.0, 1.0]"),
    ("[[1.0, 0.0], [0.0, 0.0]]", "example 1 is [0.0, 0.0]"),
])
def test_cce_targets_must_be_one_hot(tmp_path, capsys, y, message):
    """cce reads each example's y as a class: exactly one 1, the rest 0 (soft labels are refused, not guessed at)."""
    text = (GOOD.replace('sizes = [2, 2, 1]', 'sizes = [2, 2, 2]')
                .replace('activations = ["tanh", "sigmoid"]\nloss = "half_sse"', 'activations = ["tanh", "softmax"]\nloss = "cce"')
                .replace('W2 = [[0.5], [0.6]]\nb2 = [[0.2]]', 'W2 = [[0.5, 0.1], [0.6, -0.2]]\nb2 = [[0.2, 0.0]]')
                .replace('y = [[1.0], [0.0]]', f'y = {y}'))
    assert main(["check", str(write(tmp_path, text)), "--backend", REF, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "data.y: loss 'cce' takes one-hot targets (one 1 per example, the rest 0): " + message in err, err
    assert len(err.splitlines()) == 1
    ok = text.replace(f'y = {y}', 'y = [[1.0, 0.0], [0.0, 1.0]]')
    assert main(["check", str(write(tmp_path, ok)), "--backend", REF, "--quiet"]) in (0, 1)


@pytest.mark.parametrize("extra,message", [
    ('grad_scale = "1/n"', 'whose 1/n would differ from the others\': with grad_scale = "1/n" choose a batch_size '
                           'that divides 3'),
    ('', "a summed loss (half_sse) then weighs it differently"),
])
def test_a_partial_last_batch_needs_a_mean_loss_and_no_1_over_n(tmp_path, capsys, extra, message):
    """3 examples in batches of 2 leave a last batch of 1: its 1/n, or its share of a summed loss, differs from the
    other batches' — no single learning rate maps it onto a framework whose loss averages. Refused in one line."""
    text = (GOOD.replace('X = [[1.0, 2.0], [0.5, -1.0]]', 'X = [[1.0, 2.0], [0.5, -1.0], [0.0, 1.0]]')
                .replace('y = [[1.0], [0.0]]', 'y = [[1.0], [0.0], [0.5]]')
                .replace('learning_rate = 0.5', f'learning_rate = 0.5\nrule = "minibatch"\nbatch_size = 2\n{extra}'))
    assert main(["check", str(write(tmp_path, text)), "--backend", REF, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "train.batch_size: 3 examples in batches of 2 leave a last batch of 1" in err and message in err, err
    ok = text.replace('loss = "half_sse"', 'loss = "mse"').replace('grad_scale = "1/n"', '')
    assert main(["check", str(write(tmp_path, ok)), "--backend", REF, "--quiet"]) in (0, 1)


def test_a_dataset_without_its_package_is_one_line(tmp_path, capsys, monkeypatch):
    """load_digits needs scikit-learn (the [data] extra): without it, one line naming the field and the fix."""
    import sys
    monkeypatch.setitem(sys.modules, "sklearn", None)                   # an absent package: find_spec finds nothing
    text = (GOOD.replace('sizes = [2, 2, 1]', 'sizes = [64, 2, 10]')
                .replace('X = [[1.0, 2.0], [0.5, -1.0]]\ny = [[1.0], [0.0]]', 'source = "load_digits"'))
    text = text[:text.index("[params]")] + "[init]\nseed = 0\n\n" + text[text.index("[data]"):]
    assert main(["check", str(write(tmp_path, text)), "--backend", REF, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("data.source: load_digits needs scikit-learn, which is not installed "
                        "(pip install 'backprop-parity[data]')") and len(err.splitlines()) == 1, err

