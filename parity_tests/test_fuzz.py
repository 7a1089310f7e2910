"""Property-based fuzzing of every input path: case files, expressions, ``backprop-parity check``.

The property is always the same: whatever the input, the program answers — a Case, a one-line
CaseError (exit code 2), or comparison rows (exit code 0 or 1) — and never lets another
exception escape (no traceback), never hangs on an absurd size.

Inputs (thousands per run):

* generated case documents: mostly-valid cases built from the CASES.md grammar (sizes,
  activations, layouts, matrices of the right or the wrong shape, quantities with generated
  expressions), with random values injected anywhere, written as TOML;
* mutations of every built-in case file, at the document level (a value replaced, a field
  deleted or added) and at the text level (characters inserted, deleted or replaced);
* random text as a case file and as an expression;
* generated expressions over a real trace's namespace;
* ``check`` (through ``backprop_parity.reports.cli.main``) on generated small cases, which run end to end.

Runs are derandomized (the same examples every run, for a reproducible CI). Set
BACKPROP_PARITY_FUZZ_RANDOM=1 to explore new examples, and BACKPROP_PARITY_FUZZ_SCALE=N to
multiply the number of examples.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import math
import os
import shutil
import tempfile
import tomllib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_parity.reference import case as case_mod
from backprop_parity.reference import registry
from backprop_parity.reference import expr
from backprop_parity.reference.backend import functions, trace_manual
from backprop_parity.reports import compare
from backprop_parity.reports.cli import main

pytestmark = pytest.mark.cost(22)     # its tests' seconds, summed (conftest: the costliest files start first)

REF = registry.reference().name

SCALE = float(os.environ.get("BACKPROP_PARITY_FUZZ_SCALE", "1"))
RANDOM = os.environ.get("BACKPROP_PARITY_FUZZ_RANDOM") == "1"


def fuzz(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=not RANDOM, database=None,
                    suppress_health_check=list(HealthCheck))


TMP = Path(tempfile.mkdtemp(prefix="backprop-fuzz-"))
atexit.register(shutil.rmtree, TMP, True)


def write(text: str, name: str = "fuzz.toml") -> Path:
    p = TMP / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- a tiny TOML writer

def _esc(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return _esc(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_esc(str(k))} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_document(d: dict) -> str:
    """Every top-level field as ``key = value`` (tables inline): valid TOML for any tree of values."""
    return "\n".join(f"{_esc(str(k))} = {toml_value(v)}" for k, v in d.items()) + "\n"


def test_toml_writer_round_trips():
    d = {"a": [1, 2.5, "x\ny\"\\\x7f"], "b": {"c": [[1, 2], [3]], "d": True}, "e": float("inf")}
    assert tomllib.loads(toml_document(d)) == d


# --------------------------------------------------------------------------- strategies

TRACE_NAMES = ["X", "y", "yhat", "error", "J", "J_each", "dJ_dyhat", "costs", "n_params", "n", "l2", "h",
               "learning_rate", "Z[1]", "Z[2]", "A[0]", "A[1]", "A[2]", "A_aug[1]", "deriv[1]", "deriv_aug[1]",
               "delta[1]", "delta[2]", "delta_aug[1]", "dA[1]", "W[1]", "W[2]", "b[1]", "b[2]", "grad.W[1]",
               "grad.b[2]", "W_new[1]", "W_final[2]", "predict.emily", "gradcheck.rel_error",
               "gradcheck.numerical.W[1]", "gradcheck.probe.J_plus", "xs", "zs"]
FUNCTION_NAMES = [*expr.MATH, "act.tanh", "act.tanh_prime", "act.relu_prime", "act.leaky_relu", "act.elu_prime",
                  "act.sigmoid", "act.identity", "loss.bce", "loss.mse", "loss.half_sse", "calc.computation_graph",
                  "calc.surface", "calc.surface_gradient", "calc.descent_step", "prep.standardize", "prep.std",
                  "prep.min_max", "prep.min_max_inverse", "prep.plus_minus"]
MATRIX_NAMES = ["X", "y", "yhat", "error", "Z[1]", "A[1]", "deriv[1]", "delta[1]", "dJ_dyhat", "W[1]", "grad.W[1]",
                "W_new[1]", "W_final[1]", "gradcheck.numerical.W[1]", "costs", "J_each", "A_aug[1]", "dA[2]",
                "delta_aug[1]", "predict.emily", "Z[2]"]
SCALAR_NAMES = ["J", "n_params", "gradcheck.rel_error", "Z[1][0, 0]", "A[1][0, 0]", "yhat[0, 0]", "costs[0]",
                "gradcheck.probe.J_plus", "n", "learning_rate"]
ODD_NUMBERS = ["0", "-0", "1e308", "1e400", "1e-400", "2**1023", "9**9**9", "10" * 30, "0.5", "-1", "3", "1e6"]

numbers = st.one_of(st.integers(-10, 10).map(str), st.sampled_from(ODD_NUMBERS),
                    st.floats(allow_nan=False, allow_infinity=False).map(repr))
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
leaves = st.one_of(st.sampled_from(TRACE_NAMES), numbers, identifiers)
indices = st.one_of(st.integers(-4, 6).map(str), st.sampled_from([":", "0:2", "::-1", "1:", "0, 1", ":, 0", "0:1, 0:0",
                                                                  "1e9", "-1e400", "0.5", "True", "None", "...", "X"]))


def _combine(children):
    two = st.tuples(children, children)
    return st.one_of(
        st.tuples(two, st.sampled_from(["+", "-", "*", "/", "**", "@", "<", "<=", "==", "!=", ">", "and", "%", "//"]))
        .map(lambda t: f"({t[0][0]} {t[1]} {t[0][1]})"),
        children.map(lambda a: f"-{a}"),
        st.tuples(st.sampled_from(FUNCTION_NAMES), st.lists(children, max_size=4))
        .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(children, indices).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, st.sampled_from(["T", "dJ_db", "J", "shape", "__class__", "real"]))
        .map(lambda t: f"{t[0]}.{t[1]}"),
        st.lists(children, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
    )


expressions = st.one_of(st.recursive(leaves, _combine, max_leaves=12), st.text(max_size=40))

scalars = st.one_of(st.integers(-3, 6), st.integers(), st.floats(), st.booleans(), st.text(max_size=12),
                    st.sampled_from(["rows", "columns", "trick", "vectors", "none", "tanh", "relu", "sigmoid",
                                     "leaky_relu", "elu", "identity", "half_sse", "mse", "bce", "batch", "sgd",
                                     "1/n", "1", "user", "dlai", "courtial", "W1", "b1", "0.5", "0,031", "−0.06",
                                     "1.15e - 08", "side", "value", "Z[1]"]))
values = st.recursive(scalars, lambda ch: st.one_of(st.lists(ch, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), ch, max_size=3)),
                      max_leaves=10)
ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu"]


def _matrix(draw, shape, wrong: bool):
    r, c = shape
    if wrong:
        r, c = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    cell = st.one_of(st.floats(-3, 3), st.integers(-3, 3)) if not wrong else st.one_of(
        st.floats(-3, 3), st.integers(-3, 3), scalars)
    return [[draw(cell) for _ in range(c)] for _ in range(r)]


@st.composite
def case_documents(draw, runnable: bool = False):
    """A case file as a dict: valid in structure most of the time, with mistakes injected.

    ``runnable``: small sizes and few epochs, so that a valid draw runs end to end quickly.
    """
    def wrong() -> bool:          # inject a mistake here, about one time in twenty (last: hypothesis favours the first)
        return draw(st.sampled_from([False] * 19 + [True]))

    depth = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 3)) for _ in range(depth + 1)]
    layout = draw(st.sampled_from(["rows", "columns"]))
    bias = draw(st.sampled_from(["trick", "vectors", "none"]))
    loss = draw(st.sampled_from(["half_sse", "mse", "squared_error", "bce"]))
    acts = []
    for _ in range(depth):
        name = draw(st.sampled_from(ACTIVATIONS))
        if name in ("relu", "leaky_relu", "elu") and draw(st.booleans()):
            extra = {"relu": "at_zero", "leaky_relu": "slope", "elu": "alpha"}[name]
            acts.append({"name": name, extra: draw(st.floats(-2, 2))})
        else:
            acts.append(name)
    if loss == "bce":
        acts[-1] = "sigmoid"
    net = {"sizes": sizes, "activations": acts, "loss": loss, "layout": layout, "bias": bias}
    if draw(st.booleans()):
        net["first_layer"] = draw(st.integers(0, 3))
    if wrong():
        net["sizes"] = draw(st.one_of(values, st.lists(st.integers(), max_size=5)))
    n = draw(st.integers(1, 4))
    doc: dict = {"schema": 1, "name": draw(st.sampled_from(["fuzz", "fuzz-1", "Fuzz", ""])) if wrong() else "fuzz",
                 "title": "fuzzed", "source": {"article": "user"}, "network": net}
    trick = bias == "trick"
    shapes = {}
    for l in range(depth):
        n_in, n_out = sizes[l] + (1 if trick else 0), sizes[l + 1]
        shapes[f"W{l + 1}"] = (n_in, n_out) if layout == "rows" else (n_out, n_in)
        if bias == "vectors":
            shapes[f"b{l + 1}"] = (1, n_out) if layout == "rows" else (n_out, 1)
    if draw(st.integers(0, 4)) == 0:
        doc["init"] = {"seed": draw(st.integers(0, 10)), "scale": 0.0 if wrong() else draw(st.sampled_from([0.5, 1.0]))}
    else:
        doc["params"] = {k: _matrix(draw, s, wrong()) for k, s in shapes.items()}
        if wrong():
            doc["params"].pop(draw(st.sampled_from(sorted(doc["params"]))), None)
    xs = (n, sizes[0]) if layout == "rows" else (sizes[0], n)
    ys = (n, sizes[-1]) if layout == "rows" else (sizes[-1], n)
    doc["data"] = {"X": _matrix(draw, xs, wrong())}
    if draw(st.integers(0, 5)) > 0:
        y = _matrix(draw, ys, wrong())
        if loss == "bce":
            y = [[abs(v) % 1 if isinstance(v, (int, float)) and math.isfinite(v) else v for v in row] for row in y]
        doc["data"]["y"] = y
    train = {}
    for k, strat in (("rule", st.sampled_from(["batch", "sgd"])), ("learning_rate", st.floats(0.01, 1)),
                     ("grad_scale", st.sampled_from(["1/n", "1"])), ("epochs", st.integers(1, 3)),
                     ("l2", st.sampled_from([0.0, 0.1])), ("l2_bias", st.booleans())):
        if draw(st.booleans()):
            train[k] = draw(strat)
    if train:
        doc["train"] = train
    if draw(st.booleans()):
        doc["gradcheck"] = {"h": 0.0 if wrong() else draw(st.sampled_from([1e-4, 1e-5, 1e-3]))}
        if draw(st.booleans()):
            pname = draw(st.sampled_from(sorted(shapes)))
            doc["gradcheck"]["probe"] = {"param": pname, "index": [draw(st.integers(-1, 3)), draw(st.integers(0, 3))]}
    if draw(st.booleans()):
        doc["arrays"] = {"xs": draw(st.lists(st.floats(-50, 50), min_size=1, max_size=4)),
                         "zs": draw(st.floats(-1e3, 1e3))}
    if draw(st.booleans()):
        doc["inputs"] = {"emily": _matrix(draw, ((1, sizes[0]) if layout == "rows" else (sizes[0], 1)), wrong())}
    quantities = []
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["same", "same", "scalar", "random"]))
        if kind == "same":        # the formula is the quantity itself, exactly or nudged: runs to a verdict
            name = draw(st.sampled_from(MATRIX_NAMES))
            q = {"id": f"q{i}", "of": name,
                 "formula": draw(st.sampled_from([name, f"{name} * 1", f"{name} + 1e-3", f"-{name}", f"{name}.T"]))}
        elif kind == "scalar":    # a printed number against a scalar: a verdict, or 'not in this trace'
            q = {"id": f"q{i}", "of": draw(st.sampled_from(SCALAR_NAMES)), "printed": draw(numbers)}
        else:
            q = {"id": f"q{i}", "of": draw(st.one_of(st.sampled_from(TRACE_NAMES), expressions))}
            if draw(st.booleans()):
                q["formula"] = draw(st.one_of(st.sampled_from(TRACE_NAMES), expressions))
            else:
                q["printed"] = draw(st.one_of(numbers, st.lists(numbers, min_size=1, max_size=3),
                                              st.lists(st.lists(numbers, min_size=1, max_size=2), min_size=1,
                                                       max_size=2)))
        hostile = st.sampled_from(["[/bold]", "[red]x", "<script>x</script>", "[/]", "a|b*c_`d`", "\\[x]"])
        for k, strat in (("erratum", st.one_of(st.text(max_size=10), hostile)), ("differs", st.just({REF: "x"})),
                         ("rounding", st.one_of(st.text(max_size=10), hostile)), ("note", hostile),
                         ("check", st.just("side")), ("tolerance", st.floats(0, 1))):
            if draw(st.sampled_from([False] * 7 + [True])):
                q[k] = draw(strat)
                if k == "check" and not wrong():
                    q["threshold"] = draw(st.floats(-1, 1))
                if k == "tolerance" and not wrong():
                    q["tolerance_reason"] = "why"
        quantities.append(q)
    doc["quantity"] = quantities
    # mistakes anywhere: a value replaced, a field dropped, an unknown field added
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        doc = _mutate(draw, doc)
    if runnable:
        t = doc.get("train")
        if isinstance(t, dict) and isinstance(t.get("epochs"), int) and not isinstance(t["epochs"], bool):
            t["epochs"] = min(t["epochs"], 3)
    return doc


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _paths(v, prefix + (i,))


def _mutate(draw, doc):
    import copy
    doc = copy.deepcopy(doc)
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return doc
    path = draw(st.sampled_from(paths))
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    action = draw(st.sampled_from(["replace", "replace", "delete", "add", "number"]))
    if action == "replace":
        parent[key] = draw(values)
    elif action == "number":
        parent[key] = draw(st.sampled_from([0, -1, 10**6, 2**64, 10**400, float("nan"), float("inf"), 1e308, 0.0]))
    elif action == "delete":
        del parent[key]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["colour", "W9", "epochs", "of", "printed", "x"]))] = draw(values)
    else:
        parent.append(draw(values))
    return doc


def _load(text: str):
    """The property: a Case or a one-line CaseError naming the file, nothing else."""
    path = write(text)
    try:
        return case_mod.load(path)
    except case_mod.CaseError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(str(path)), message
        return None


# --------------------------------------------------------------------------- the loader

@fuzz(1000)
@given(case_documents())
def test_loader_on_generated_cases(doc):
    _load(toml_document(doc))


@fuzz(600)
@given(st.dictionaries(st.sampled_from(sorted(case_mod.TOP_FIELDS | {"junk", "Name"})), values, max_size=8))
def test_loader_on_random_documents(doc):
    _load(toml_document(doc))


@fuzz(600)
@given(st.text(max_size=300))
def test_loader_on_random_text(text):
    _load(text)


@lru_cache(maxsize=None)
def builtin_raw(name: str) -> dict:
    with open(case_mod.CASES_DIR / f"{name}.toml", "rb") as f:
        return tomllib.load(f)


@lru_cache(maxsize=None)
def builtin_text(name: str) -> str:
    return (case_mod.CASES_DIR / f"{name}.toml").read_text(encoding="utf-8")


@fuzz(800)
@given(st.sampled_from(case_mod.builtin_names()), st.data())
def test_loader_on_mutated_builtin_cases(name, data):
    doc = builtin_raw(name)
    for _ in range(data.draw(st.integers(1, 3))):
        doc = _mutate(data.draw, doc)
    _load(toml_document(doc))


@fuzz(500)
@given(st.sampled_from(case_mod.builtin_names()), st.data())
def test_loader_on_text_edits_of_builtin_cases(name, data):
    text = builtin_text(name)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        text = text[:i] + data.draw(st.sampled_from(["", "[", "]", "=", '"', "\n", "nan", "1e999", "[[", ",",
                                                     "-", "0", "x", "\\", "{", "}", "#"])) + text[j:]
    _load(text)


def test_every_builtin_case_still_loads():
    for name in case_mod.builtin_names():
        assert case_mod.load(name).name == name


# --------------------------------------------------------------------------- expressions

@lru_cache(maxsize=None)
def real_namespace():
    c = case_mod.load("courtial-bias-trick")
    t = trace_manual(c)
    t.functions = functions()
    ns = compare.namespace(c, t)
    ns.values.update({"xs": np.array([-2.0, 0.0, 2.0]), "zs": np.float64(3.0),
                      "predict.emily": np.array([[0.1]])})
    ns.missing.update({"deriv_aug[9]": "a reason"})
    return ns


@fuzz(2000)
@given(expressions)
def test_expressions_raise_only_what_compare_handles(text):
    """Parse and evaluate on a real trace: a value, or ExprError / NoCounterpart / ValueError / TypeError —
    the exceptions reports.compare turns into a CaseError, a 'no counterpart' row or an 'unusable formula'."""
    try:
        expr.parse(text)
    except expr.ExprError:
        return
    with np.errstate(all="ignore"):
        try:
            value = real_namespace().evaluate(text)
            np.asarray(value, dtype=float)
        except (expr.ExprError, expr.NoCounterpart, ValueError, TypeError):
            pass


@pytest.mark.parametrize("text", ["9**9**9", "10**10**10 * X", "-" * 300 + "1", "X[0:1e400]", "1/0",
                                  "l2 / (l2 - l2)", "h ** -1000", "X[:, 0:1] * X[:, 0:1].T",
                                  "sum(" * 60 + "1" + ")" * 60, "1" + "0" * 400, "X[(h - h) / (h - h)]"])
def test_expression_bombs_are_refused_or_ieee(text):
    ns = expr.Namespace({"X": np.ones((4000, 3)), "l2": 0.5, "h": 1e-4})
    with np.errstate(all="ignore"):
        try:
            value = ns.evaluate(text)
        except expr.ExprError:
            return
    assert np.size(value) <= expr.MAX_RESULT_SIZE


# --------------------------------------------------------------------------- check, end to end

def _check(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), np.errstate(all="ignore"):
        code = main(["check", str(path), "--quiet", "--backend", REF])
    return code, out.getvalue(), err.getvalue()


STATS = {"0": 0, "1": 0, "2": 0}


@fuzz(400)
@given(case_documents(runnable=True))
def test_check_on_generated_cases(doc):
    """Exit code 0, 1 or 2; exit 2 with exactly one error line naming the file; never a traceback."""
    path = write(toml_document(doc), "check.toml")
    code, out, err = _check(path)
    STATS[str(code)] = STATS.get(str(code), 0) + 1
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        lines = [l for l in err.splitlines() if l.startswith("backprop-parity: error:")]
        assert len(lines) == 1 and str(path) in lines[0], err


def test_check_fuzz_reached_every_exit_code():
    """The generator is not degenerate: some cases run clean, some fail a comparison, some are refused."""
    if sum(STATS.values()) < 100:
        pytest.skip("run with test_check_on_generated_cases")
    assert all(STATS[k] > 0 for k in "012"), STATS


@fuzz(300)
@given(st.one_of(st.text(max_size=60), st.sampled_from(["[/bold]", "[bold]x[/bold]", "<script>alert(1)</script>",
                                                         "a | b", "\\[x\\]", "&lt;", "[link=x]y[/link]"])))
def test_user_text_is_shown_literally(text):
    """Any text from a case file reads literally: in the terminal (rich markup escaped, no MarkupError) and in
    Markdown (HTML as entities, so no renderer runs a tag; table pipes escaped)."""
    from rich.console import Console

    from backprop_parity.reports.render import md_escape
    from backprop_parity.reports.text import literal
    console = Console(file=io.StringIO(), width=1000, color_system=None, highlight=False, soft_wrap=True)
    console.print(literal(text), end="")
    if not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in text):     # control characters: issue 16
        assert console.file.getvalue() == text
    md = md_escape(text)
    assert "<" not in md and ">" not in md
    assert all(md[i - 1] == "\\" for i, c in enumerate(md) if c == "|")


@fuzz(60)
@given(st.integers(33, 3000), st.sampled_from(["key", "header", "inline"]), st.sampled_from(["a", "'q'", '"x y"']))
def test_dotted_key_bombs_are_refused_before_parsing(depth, where, part):
    """A dotted key (or table header) of more than 32 parts — the parser's cost grows with its square — is
    refused by the loader before parsing, with one line naming the line, whatever its form."""
    key = ".".join([part] * depth)
    body = {"key": f"{key} = 1\n", "header": f"[{key}]\nx = 1\n", "inline": f"t = {{ {key} = 1 }}\n"}[where]
    path = write('schema = 1\nname = "b"\n' + body, "bomb.toml")
    with pytest.raises(case_mod.CaseError) as err:
        case_mod.load(path)
    assert "line 3: a dotted key of more than 32 parts" in str(err.value)
