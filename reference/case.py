"""Case files: one worked example of an article (or of a user), as data.

A case file is TOML (see ``reference/cases/CASES.md`` for every field). Loading
checks everything before any array is allocated or any backend runs, and every
mistake becomes a :class:`CaseError` that names the file and the field::

    my_case.toml: params.W1: expected shape (4, 3) for W1 (rows layout, bias trick), got (3, 3)
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import activations as act_mod
from . import expr
from . import layout as L
from . import losses as loss_mod
from .batches import steps_per_epoch as hyper_steps
from . import registry
from .spec import Hyper, Net

CASES_DIR = Path(__file__).parent / "cases"
ARTICLES_FILE = Path(__file__).parent / "articles.toml"

# Refuse absurd sizes before allocating anything.
MAX_WIDTH = 100_000          # units in one layer
MAX_DEPTH = 100              # layers
MAX_PARAMS = 2_000_000       # numbers in all parameters
MAX_WORK = 2_000_000_000     # epochs × examples × parameters
MAX_FILE_BYTES = 20_000_000
MAX_EPOCHS = 1_000_000
MAX_NESTING = 32             # lists/tables inside each other (a matrix needs 2, printed numbers 3)
# Gradient checking perturbs every parameter twice and runs a forward pass each time:
# about 2·P·(n·P) multiply-adds. Refused above this, before anything runs.
MAX_GRADCHECK_WORK = 20_000_000_000

# The cost of a run, estimated when the file is read, before any array is allocated or any step runs.
# Budgets: what one run may hold in memory and take on the slowest framework. A case meant to be big
# runs with --large (BACKPROP_PARITY_LARGE=1), which lifts them.
MAX_BYTES = 4 * 2 ** 30
MAX_SECONDS = 900.0
JACOBIANS = 4                 # softmax's g'(Z) per example (n × k × k): the trace's, a framework's, their copies
ARRAYS_PER_UNIT = 8           # Z, A, g'(Z), δ, δ·Wᵀ, [A | 1] and a framework's autograd copies, per example and unit
STEP_SECONDS = 0.008          # a framework's overhead per training step (eager TF measured 7 ms on a 2-parameter net)
LAYER_PASS_SECONDS = 1e-4     # a framework's overhead per layer of one forward pass (gradient checking's 2·P passes)
MACS_PER_SECOND = 1e9         # multiply-adds per second, NumPy/BLAS on one core
COST_BYTES = 200              # per epoch: J is kept for every epoch (a framework scalar and its NumPy copy);
                              # parameters only before training, after the first epoch and after the last
LARGE_ENV = "BACKPROP_PARITY_LARGE"

TOP_FIELDS = {"schema", "name", "title", "description", "source", "network", "params", "init",
              "data", "arrays", "inputs", "train", "gradcheck", "quantity", "remark"}
SOURCE_FIELDS = {"article", "sections", "url"}
NETWORK_FIELDS = {"sizes", "activations", "loss", "layout", "bias", "first_layer", "first_weight", "frozen"}
INIT_FIELDS = {"distribution", "seed", "scale"}
DATA_FIELDS = {"X", "y", "source", "examples"}
TRAIN_FIELDS = {"rule", "batch_size", "shuffle_seed", "learning_rate", "grad_scale", "epochs", "l2", "l2_bias", "optimizer", "momentum", "beta1",
                "beta2", "eps", "rho", "centered", "weight_decay", "lr_schedule"}
# which optimizer each hyper-parameter belongs to (a field that does not apply is refused: it would be ignored)
OPTIMIZER_FIELDS = {"momentum": ("momentum", "nesterov"), "beta1": ("adam", "adamw"), "beta2": ("adam", "adamw"),
                    "eps": ("rmsprop", "adam", "adamw"), "rho": ("rmsprop",), "centered": ("rmsprop",),
                    "weight_decay": ("adamw",)}
GRADCHECK_FIELDS = {"h", "probe", "examples"}
QUANTITY_FIELDS = {"id", "label", "section", "of", "printed", "printed_as", "formula", "tolerance",
                   "tolerance_reason", "erratum", "rounding", "differs", "differs_float32", "same_in_float32",
                   "differs_value", "check", "threshold", "note"}
REMARK_FIELDS = {"section", "text"}
# Names an array may not take: bare trace keys, namespace prefixes and expression functions.
RESERVED_NAMES = {"X", "y", "J", "J_each", "yhat", "error", "costs", "dJ_dyhat", "dX", "n_params", "n", "l2",
                  "learning_rate", "h", "act", "loss", "calc", "prep", "grad", "gradcheck", "predict", "inputs", "opt", "opt_new",
                  "momentum", "beta1", "beta2", "eps", "rho", "weight_decay",
                  *expr.MATH}


class CaseError(ValueError):
    """A mistake in a case file: which file, which field, what is wrong — always one line."""

    def __init__(self, path: str | Path, where: str, message: str):
        self.path, self.where, self.message = _one_line(str(path)), _one_line(where), _one_line(message)
        super().__init__(f"{self.path}: {self.where}: {self.message}" if self.where
                         else f"{self.path}: {self.message}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


# What a terminal would act on rather than show: C0 and C1 controls but newline and tab (ESC starts ANSI and OSC
# sequences: colours, cursor moves, window titles, hyperlinks), and the bidirectional overrides that reorder text.
_TERMINAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def neutral(text: str) -> str:
    """Case text as something to read: every terminal control character written as its escape (ESC as \\x1b),
    so a title cannot recolour, move or retitle the reader's terminal."""
    return _TERMINAL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _one_line(text: str) -> str:
    """Control characters (a newline in a key, a file name …) escaped, so an error stays on one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# --------------------------------------------------------------------------- printed numbers

_NUMBER = re.compile(r"^[+-]?(\d+)?(\.(\d*))?([eE][+-]?\d+)?$")


def normalize_printed(text: str) -> str:
    """The printed text as a Python number: '0,248' -> '0.248', '−0.06' -> '-0.06',
    '1.157e - 08' -> '1.157e-08', '16 999.55' -> '16999.55'."""
    s = text.strip().replace("\u2212", "-").replace("\u2009", "").replace("\u00a0", "").replace(" ", "")
    if "," in s and "." not in s and s.count(",") == 1:
        s = s.replace(",", ".")
    return s


@dataclass(frozen=True)
class Printed:
    """One number as an article prints it: its text, value and the precision the text carries."""

    text: str
    value: float
    tolerance: float          # one unit of the last printed digit; 0 for an exact integer

    @property
    def half(self) -> float:
        """½ unit of the last printed digit: how far a correctly rounded print can be from the value."""
        return self.tolerance / 2

    @classmethod
    def parse(cls, raw: Any) -> "Printed":
        if isinstance(raw, bool):
            raise ValueError(f"expected a number written as text, got {raw!r}")
        if isinstance(raw, float):
            # TOML keeps no digits of a float: 0.520 arrives as 0.52 and would be held to 1e-2, not 1e-3
            raise ValueError(f"{raw!r} is a TOML number, which loses the printed digits (0.520 reads as 0.52): "
                             f"write it as text, exactly as printed, e.g. \"{raw!r}\"")
        if isinstance(raw, int):                 # an integer keeps every digit: exact
            text = repr(raw)
        elif isinstance(raw, str):
            text = raw
        else:
            raise ValueError(f"expected a number written as text, got {raw!r}")
        s = normalize_printed(text)
        m = _NUMBER.match(s)
        if not m or not (m.group(1) or m.group(3)):
            raise ValueError(f"{text!r} is not a number")
        value = float(s)
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not finite")
        decimals = len(m.group(3) or "")
        exponent = 0
        if m.group(4):
            if len(m.group(4)) > 8:           # e±9999999 at most: float() already made the value 0 or inf
                raise ValueError(f"{text!r}: exponent out of range")
            exponent = int(m.group(4)[1:])
        exact_integer = m.group(2) is None and exponent >= 0
        try:
            tolerance = 0.0 if exact_integer else 10.0 ** (exponent - decimals)
        except OverflowError:
            raise ValueError(f"{text!r}: its last digit is worth more than 1e308") from None
        return cls(text, value, tolerance)


def parse_printed(raw: Any) -> list:
    """Nested lists of Printed, the same nesting as the TOML value."""
    if isinstance(raw, list):
        return [parse_printed(r) for r in raw]
    return Printed.parse(raw)


def printed_array(printed) -> tuple[np.ndarray, np.ndarray]:
    """(values, per-element tolerances) of a nested Printed structure."""
    def walk(p, attr):
        return [walk(x, attr) for x in p] if isinstance(p, list) else getattr(p, attr)
    return np.asarray(walk(printed, "value"), dtype=float), np.asarray(walk(printed, "tolerance"), dtype=float)


# --------------------------------------------------------------------------- the case

@dataclass
class Quantity:
    id: str
    label: str
    section: str
    of: str
    printed: Any = None            # nested Printed
    printed_as: str | None = None
    formula: str | None = None
    tolerance: float | None = None
    tolerance_reason: str | None = None
    erratum: str | None = None
    rounding: str | None = None    # why the print is within one unit of its last digit but not within ½
    differs: dict = field(default_factory=dict)
    differs_float32: dict = field(default_factory=dict)   # conventions that show only in a float32 run
    same_in_float32: tuple = ()                           # `differs` keys whose difference float32 cannot show
    differs_value: dict = field(default_factory=dict)     # key -> the formula of that convention's own number
    check: str = "value"
    threshold: float | None = None
    note: str | None = None
    index: int = 0                 # position in the file, for error messages

    @property
    def where(self) -> str:
        return f"quantity[{self.index}] ({self.id})"

    def differs_for(self, backend: str, style: str) -> str | None:
        """Why ``backend/style`` gives another number (a ``differs`` key "backend/style", else "backend")."""
        return self.differs.get(f"{backend}/{style}", self.differs.get(backend))


@dataclass
class Case:
    name: str
    path: Path
    title: str
    description: str
    article: str
    article_title: str
    sections: list
    net: Net | None
    params: dict
    X: np.ndarray | None
    y: np.ndarray | None
    arrays: dict                   # other named arrays: data.y_true, inputs.NAME …
    inputs: dict                   # named inputs for predict.NAME
    hyper: Hyper
    quantities: list
    remarks: list

    def cast(self, dtype) -> "Case":
        """The same case with every array in ``dtype`` (float32 runs)."""
        import copy
        c = copy.copy(self)
        c.net = None if self.net is None else type(self.net)(**{**self.net.__dict__, "dtype": dtype})
        def narrow(field: str, a):
            """``a`` in ``dtype``; a finite number the narrower type cannot hold is the case's error, not an inf."""
            with np.errstate(over="ignore"):
                out = a.astype(dtype)
            lost = np.isfinite(a) & ~np.isfinite(out)
            if np.any(lost):
                i = np.unravel_index(int(np.argmax(lost)), a.shape)
                raise CaseError(self.path, f"{field}{''.join(f'[{k}]' for k in i)}",
                                f"{a[i]:g} overflows {np.dtype(dtype).name} (largest {float(np.finfo(dtype).max):.3g})")
            return out
        c.params = {k: narrow(f"params.{k}", v) for k, v in self.params.items()}
        c.X = None if self.X is None else narrow("data.X", self.X)
        c.y = None if self.y is None else narrow("data.y", self.y)
        c.inputs = {k: narrow(f"inputs.{k}", v) for k, v in self.inputs.items()}
        if np.dtype(dtype) == np.float32:      # the conventions of a float32 run: some appear, some vanish
            c.quantities = [dataclasses.replace(q, differs={k: v for k, v in {**q.differs, **q.differs_float32}.items()
                                                            if k not in q.same_in_float32})
                            if q.differs_float32 or q.same_in_float32 else q for q in self.quantities]
        return c


def _articles() -> dict:
    with open(ARTICLES_FILE, "rb") as f:
        return tomllib.load(f)


def sources_text() -> str:
    """The built-in cases' sources in a few words: "six tutorials (four texts, Mazur's and micrograd)"."""
    articles = {k: v for k, v in _articles().items() if v.get("author")}
    texts = sum(1 for v in articles.values() if v.get("seed_file"))
    brought = [v["author"].split()[-1] for v in articles.values() if not v.get("seed_file")]
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
    say = lambda n: words.get(n, str(n))                       # noqa: E731
    return (f"{say(len(articles))} tutorials ({say(texts)} texts"
            + "".join(f", {a}'s" for a in brought[:-1]) + (f" and {brought[-1]}'s" if brought else "") + ")")


def builtin_paths() -> list[Path]:
    return sorted(p for p in CASES_DIR.glob("*.toml"))


def builtin_names() -> list[str]:
    return [p.stem for p in builtin_paths()]


def resolve(spec: str) -> Path:
    """A built-in case name or a path to a case file."""
    p = Path(spec)
    if p.suffix == ".toml" or _exists(p) or "/" in spec:
        return p
    q = CASES_DIR / f"{spec}.toml"
    if _exists(q):
        return q
    raise CaseError(spec, "", f"no built-in case named {spec!r} and no such file "
                              f"(built-in: {', '.join(builtin_names())})")


def _exists(p: Path) -> bool:
    try:
        return p.exists()
    except (OSError, ValueError):      # a name too long for the system, a NUL byte …
        return False


def load(spec: str | Path) -> Case:
    path = resolve(str(spec))
    if not _exists(path):
        raise CaseError(path, "", "no such file")
    try:
        if not path.is_file():
            raise CaseError(path, "", "not a file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CaseError(path, "", f"file larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise CaseError(path, "", f"cannot read the file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaseError(path, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    deep = _deep_dotted_key(text)
    if deep is not None:              # tomllib takes time and memory quadratic in a dotted key's length
        raise CaseError(path, "", f"line {deep}: a dotted key of more than {MAX_NESTING} parts "
                                  f"(nested more than {MAX_NESTING} levels deep)")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(path, "", f"TOML syntax error: {exc}") from None
    except ValueError as exc:            # e.g. an integer of more than 4300 digits
        raise CaseError(path, "", f"TOML value cannot be read: {exc}") from None
    except RecursionError:
        raise CaseError(path, "", f"TOML nested too deeply (limit {MAX_NESTING} levels)") from None
    too_deep = _too_deep(raw)
    if too_deep is not None:
        raise CaseError(path, too_deep, f"nested more than {MAX_NESTING} levels deep")
    return _Loader(path, raw).case()


_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
_DEEP_KEY = re.compile(_KEY_PART + r"(?:[ \t]*\.[ \t]*" + _KEY_PART + r"){%d,}" % MAX_NESTING)


def _deep_dotted_key(text: str) -> int | None:
    """The line of the first run of more than MAX_NESTING dot-joined key parts (``a.a.a…`` as a key or a
    table header), found before parsing: the parser's cost grows with the square of such a key's length
    (30,000 parts took 3.5 GB). No number, array or sentence of a case file comes near 33 dotted parts."""
    m = _DEEP_KEY.search(text)
    return None if m is None else text.count("\n", 0, m.start()) + 1


def _too_deep(raw: dict) -> str | None:
    """The first field nested deeper than MAX_NESTING (walked without recursion), or None."""
    stack = [(raw, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_NESTING:
            return where
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
    return None


class _Loader:
    def __init__(self, path: Path, raw: dict):
        self.path, self.raw = path, raw

    def fail(self, where: str, message: str):
        raise CaseError(self.path, where, message)

    # -- generic checks ------------------------------------------------------
    def table(self, where: str, value: Any, allowed: set, required: set = frozenset()) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"expected a table, got {_kind(value)}")
        for k in value:
            if k not in allowed:
                self.fail(f"{where}.{k}" if where else k,
                          f"unknown field (allowed here: {', '.join(sorted(allowed))})")
        for k in required:
            if k not in value:
                self.fail(f"{where}.{k}" if where else k, "missing required field")
        return value

    def string(self, where: str, value: Any, choices=None) -> str:
        if not isinstance(value, str):
            self.fail(where, f"expected text, got {_kind(value)}")
        if choices is not None and value not in choices:
            self.fail(where, f"{value!r} is not one of: {', '.join(choices)}")
        return neutral(value)

    def integer(self, where: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, f"expected a whole number, got {_kind(value)}")
        if not lo <= value <= hi:
            self.fail(where, f"{value} is out of range [{lo}, {hi}]")
        return value

    def number(self, where: str, value: Any, lo=-math.inf, hi=math.inf, lo_open=False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(where, f"expected a number, got {_kind(value)}")
        if isinstance(value, int) and not math.isfinite(_float(value)):
            self.fail(where, "integer too large for a float")
        value = _float(value)
        if not math.isfinite(value):
            self.fail(where, f"{value} is not finite")
        if value < lo or value > hi or (lo_open and value == lo):
            self.fail(where, f"{value} is out of range {'(' if lo_open else '['}{lo}, {hi}]")
        return value

    def matrix(self, where: str, value: Any, shape: tuple | None = None, what: str = "") -> np.ndarray:
        if not isinstance(value, list) or not value:
            self.fail(where, f"expected a matrix (a list of rows), got {_kind(value)}")
        if not all(isinstance(r, list) for r in value):
            self.fail(where, "expected a matrix (a list of rows); write a row vector as [[...]]")
        widths = {len(r) for r in value}
        if len(widths) != 1:
            self.fail(where, f"ragged matrix: rows have lengths {sorted(widths)}")
        if 0 in widths:
            self.fail(where, "empty rows")
        n_rows, n_cols = len(value), widths.pop()
        if n_rows * n_cols > MAX_PARAMS:
            self.fail(where, f"{n_rows}×{n_cols} is too large (limit {MAX_PARAMS} numbers)")
        for i, r in enumerate(value):
            for j, v in enumerate(r):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    self.fail(f"{where}[{i}][{j}]", f"expected a number, got {_kind(v)}")
                if not math.isfinite(_float(v)):
                    self.fail(f"{where}[{i}][{j}]", f"{v} is not finite" if isinstance(v, float)
                              else "integer too large for a float")
        if shape is not None and (n_rows, n_cols) != tuple(shape):
            self.fail(where, f"expected shape {tuple(shape)}{' for ' + what if what else ''}, "
                             f"got {(n_rows, n_cols)}")
        return np.asarray(value, dtype=np.float64)

    def expression(self, where: str, value: Any) -> str:
        text = self.string(where, value)
        try:
            expr.parse(text)
        except expr.ExprError as exc:
            self.fail(where, str(exc))
        return text

    # -- sections --------------------------------------------------------------
    def case(self) -> Case:
        raw = self.table("", self.raw, TOP_FIELDS, {"name", "title", "source", "quantity"})
        if "schema" in raw:
            self.integer("schema", raw["schema"], 1, 1)
        name = self.string("name", raw["name"])
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,80}", name):
            self.fail("name", f"{name!r}: use lower-case letters, digits, '-' and '_'")
        title = self.string("title", raw["title"])
        description = self.string("description", raw.get("description", ""))
        source = self.table("source", raw["source"], SOURCE_FIELDS, {"article"})
        articles = _articles()
        article = self.string("source.article", source["article"], list(articles))
        sections = source.get("sections", [])
        if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
            self.fail("source.sections", "expected a list of section titles")
        if "url" in source:
            self.string("source.url", source["url"])

        net = self.network(raw["network"]) if "network" in raw else None
        for needs in ("params", "init", "train", "gradcheck"):
            if needs in raw and net is None:
                self.fail(needs, "needs a [network] table")
        params = self.parameters(raw, net) if net else {}
        X, y = self.data(raw.get("data", {}), net)
        arrays = self.arrays(raw.get("arrays", {}))
        inputs = self.inputs(raw.get("inputs", {}), net)
        hyper = self.hyper(raw.get("train", {}), raw.get("gradcheck", {}), net, params, X, y)
        if net is not None and X is None:
            self.fail("data.X", "a case with a [network] needs inputs X")
        if y is not None and net is None:
            self.fail("data.y", "targets need a [network]")
        if net is not None and X is not None and os.environ.get(LARGE_ENV, "") not in ("1", "yes", "true"):
            self.budget(net, hyper, X, y, inputs)
        quantities = self.quantities(raw["quantity"])
        remarks = raw.get("remark", [])
        if not isinstance(remarks, list):
            self.fail("remark", "expected [[remark]] tables")
        for i, r in enumerate(remarks):
            self.table(f"remark[{i}]", r, REMARK_FIELDS, {"text"})
            self.string(f"remark[{i}].text", r["text"])
            if "section" in r:
                self.string(f"remark[{i}].section", r["section"])
        return Case(name=name, path=self.path, title=title, description=description, article=article,
                    article_title=articles[article]["title"], sections=sections, net=net, params=params,
                    X=X, y=y, arrays=arrays, inputs=inputs, hyper=hyper, quantities=quantities,
                    remarks=remarks)

    def budget(self, net, hyper, X, y, inputs) -> None:
        """Refuse, naming the field, a run whose memory or time on the slowest framework exceeds the budget."""
        n = X.shape[net.example_axis]
        units = sum(net.sizes) + (net.depth if net.trick else 0)
        macs = sum(a * b for a, b in zip(net.sizes, net.sizes[1:]))
        P = net.n_params()
        rows = {"data.X": n, **{f"inputs.{k}": v.shape[net.example_axis] for k, v in inputs.items()}}
        widest = max(rows, key=rows.get)
        memory = {widest: 8 * ARRAYS_PER_UNIT * units * rows[widest],
                  "train.epochs": 3 * 8 * P + hyper.epochs * COST_BYTES}
        if not net.activations[-1].elementwise:           # g'(Z) of a softmax: a k × k Jacobian per example
            memory["network.sizes"] = JACOBIANS * 8 * net.sizes[-1] ** 2 * n
        steps = hyper.epochs * hyper_steps(hyper, n)
        passes = (2 * P + (4 if hyper.probe else 0)) if y is not None else 0
        seconds = {"train.epochs": steps * STEP_SECONDS + hyper.epochs * n * 3 * macs / MACS_PER_SECOND,
                   "network.sizes": passes * (net.depth * LAYER_PASS_SECONDS
                                              + (hyper.gradcheck_examples or n) * macs / MACS_PER_SECOND)}
        if sum(memory.values()) > MAX_BYTES:
            field = max(memory, key=memory.get)
            what = (f"a softmax Jacobian of {net.sizes[-1]} × {net.sizes[-1]} for each of {n} examples"
                    if field == "network.sizes" else
                    f"{units} units × {rows[widest]} examples × {ARRAYS_PER_UNIT} arrays, J for each of "
                    f"{hyper.epochs} epochs")
            self.fail(field, f"the run would hold about {sum(memory.values()) / 2 ** 30:.1f} GiB ({what}): "
                             f"the budget is {MAX_BYTES / 2 ** 30:.0f} GiB (--large lifts it)")
        if sum(seconds.values()) > MAX_SECONDS:
            field = max(seconds, key=seconds.get)
            what = (f"{steps} training steps" if field == "train.epochs"
                    else f"gradient checking: {passes} forward passes of {net.depth} layers")
            self.fail(field, f"{what} would take about {sum(seconds.values()):.0f} s on the slowest framework: the "
                             f"budget is {MAX_SECONDS:.0f} s (--large lifts it)")

    def network(self, raw) -> Net:
        raw = self.table("network", raw, NETWORK_FIELDS, {"sizes", "activations"})
        sizes = raw["sizes"]
        if not isinstance(sizes, list) or len(sizes) < 2:
            self.fail("network.sizes", "expected a list of at least two layer sizes (inputs … outputs)")
        if len(sizes) - 1 > MAX_DEPTH:
            self.fail("network.sizes", f"{len(sizes) - 1} layers: the limit is {MAX_DEPTH}")
        sizes = tuple(self.integer(f"network.sizes[{i}]", s, 1, MAX_WIDTH) for i, s in enumerate(sizes))
        acts = raw["activations"]
        if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
            self.fail("network.activations", f"expected a list of {len(sizes) - 1} activations (one per layer "
                                             f"after the input), got {_kind(acts)}"
                      + (f" of {len(acts)}" if isinstance(acts, list) else ""))
        activations = tuple(self.activation(f"network.activations[{i}]", a) for i, a in enumerate(acts))
        loss = loss_mod.make("half_sse")
        if "loss" in raw:
            name = self.string("network.loss", raw["loss"], list(loss_mod.LOSSES))
            loss = loss_mod.make(name)
        layout = self.string("network.layout", raw.get("layout", "rows"), ["rows", "columns"])
        bias = self.string("network.bias", raw.get("bias", "vectors"), ["trick", "vectors", "shared", "none"])
        first_layer = self.integer("network.first_layer", raw.get("first_layer", 1), 0, 1000)
        first_weight = self.integer("network.first_weight", raw.get("first_weight", 1), 0, 1000)
        activations = self.class_axis(activations, layout, loss, sizes[-1])
        net = Net(sizes=sizes, activations=activations, loss=loss, layout=layout, bias=bias,
                  first_layer=first_layer, first_weight=first_weight)
        if net.n_params() > MAX_PARAMS:
            self.fail("network.sizes", f"{net.n_params()} parameters: the limit is {MAX_PARAMS}")
        frozen = raw.get("frozen", [])
        if not isinstance(frozen, list):
            self.fail("network.frozen", "expected a list of parameter names")
        for i, f in enumerate(frozen):
            self.string(f"network.frozen[{i}]", f, net.param_names())
        return Net(**{**net.__dict__, "frozen": frozenset(frozen)})

    def class_axis(self, activations, layout, loss, classes: int) -> tuple:
        """A softmax normalises each example over its classes: only the output layer may have one, and its axis
        is the layout's class axis (1 when examples are rows, 0 when they are columns), set here, never by hand.
        A loss over class distributions (cce) needs a softmax output to read ŷ as one."""
        last = len(activations) - 1
        out = []
        for i, act in enumerate(activations):
            if act.name in act_mod.NOT_ELEMENTWISE:
                if i != last:
                    self.fail(f"network.activations[{i}]", f"{act.name} normalises over the classes of an example: "
                                                           f"only the output layer (activations[{last}]) may use it")
                if classes < 2:
                    self.fail("network.sizes", f"a {act.name} over {classes} class is 1 whatever Z is: a classifier "
                                               f"needs at least 2 outputs (one unit: sigmoid and bce)")
                if "axis" in act.params:
                    self.fail(f"network.activations[{i}].axis", "the class axis follows network.layout (rows: 1, "
                                                                "columns: 0); leave it out")
                act = act_mod.make(act.name, axis=1 - L.EXAMPLE_AXIS[layout])
            out.append(act)
        if loss.name in loss_mod.ONE_HOT and activations[last].name != "softmax":
            self.fail("network.loss", f"{loss.name!r} is the cross-entropy of a class distribution: the output "
                                      f"layer needs a softmax (activations[{last}] is {activations[last].name!r})")
        return tuple(out)

    def activation(self, where, raw) -> act_mod.Activation:
        if isinstance(raw, str):
            name, params = raw, {}
        elif isinstance(raw, dict):
            if "name" not in raw:
                self.fail(f"{where}.name", "missing required field")
            name = self.string(f"{where}.name", raw["name"])
            params = {k: v for k, v in raw.items() if k != "name"}
            for k, v in params.items():
                self.number(f"{where}.{k}", v)
        else:
            self.fail(where, f"expected an activation name or table, got {_kind(raw)}")
        try:
            return act_mod.make(name, **params)
        except ValueError as exc:
            self.fail(where, str(exc))

    def parameters(self, raw, net: Net) -> dict:
        shapes = net.param_shapes()
        if ("params" in raw) == ("init" in raw):
            self.fail("params", "give the initial parameters either as [params] or as [init] (exactly one)")
        what = f"({net.layout} layout, {'bias trick' if net.trick else net.bias + ' bias'})"
        if "params" in raw:
            table = self.table("params", raw["params"], set(shapes), set(shapes))
            return {n: self.matrix(f"params.{n}", table[n], s, f"{n} {what}") for n, s in shapes.items()}
        init = self.table("init", raw["init"], INIT_FIELDS, {"seed"})
        seed = self.integer("init.seed", init["seed"], 0, 2**63 - 1)
        dist = self.string("init.distribution", init.get("distribution", "normal"), ["normal", "uniform"])
        scale = self.number("init.scale", init.get("scale", 1.0), 0, 1e6, lo_open=True)
        rng = np.random.default_rng(seed)
        draw = rng.standard_normal if dist == "normal" else (lambda s: rng.uniform(-1, 1, s))
        return {n: scale * draw(s) for n, s in shapes.items()}

    def data(self, raw, net: Net | None):
        raw = self.table("data", raw, DATA_FIELDS)
        X = y = None
        if "source" in raw:
            X, y = self.dataset(raw, net)
        elif "examples" in raw:
            self.fail("data.examples", "keeps the first N examples of a [data] source; there is none")
        where_X, where_y = ("data.source", "data.source") if "source" in raw else ("data.X", "data.y")
        if "X" in raw:
            X = self.matrix("data.X", raw["X"])
        if X is not None and net is not None:
            n_in = X.shape[1] if net.layout == "rows" else X.shape[0]
            if n_in != net.sizes[0]:
                self.fail(where_X, f"{n_in} features per example ({net.layout} layout, shape {X.shape}) "
                                   f"but network.sizes starts with {net.sizes[0]}")
        if "y" in raw:
            y = self.matrix("data.y", raw["y"])
        if net is not None and net.loss.name in loss_mod.NO_TARGET:
            if "y" in raw or "source" in raw:
                self.fail(where_y, f"loss {net.loss.name!r} ({net.loss.formula}) has no targets: leave y out")
            if X is not None:                                                 # never read: J is the output alone
                n = X.shape[net.example_axis]
                y = np.zeros((n, net.sizes[-1]) if net.layout == "rows" else (net.sizes[-1], n))
        if y is not None:
            if net is not None and X is not None:
                n = X.shape[net.example_axis]
                expected = (n, net.sizes[-1]) if net.layout == "rows" else (net.sizes[-1], n)
                if y.shape != expected:
                    self.fail(where_y, f"expected shape {expected} ({n} examples, {net.sizes[-1]} outputs, "
                                       f"{net.layout} layout), got {y.shape}")
                if net.loss.name in loss_mod.ONE_HOT:
                    rows = np.moveaxis(y, net.example_axis, 0)
                    bad = ~(np.isin(rows, (0.0, 1.0)).all(axis=1) & (rows.sum(axis=1) == 1))
                    if bad.any():
                        i = int(np.argmax(bad))
                        self.fail("data.y", f"loss {net.loss.name!r} takes one-hot targets (one 1 per example, "
                                            f"the rest 0): example {i} is {rows[i].tolist()}")
        return X, y

    def dataset(self, raw: dict, net: Net | None) -> tuple:
        """[data] source = "load_digits" (reference/datasets.py): X and y from a dataset that ships offline, in
        the case's layout, instead of written out; ``examples`` keeps the first N."""
        from . import datasets
        for name in ("X", "y"):
            if name in raw:
                self.fail(f"data.{name}", "give the data either as X and y or as a source, not both")
        name = self.string("data.source", raw["source"], list(datasets.SOURCES))
        try:
            X, y = datasets.SOURCES[name]()
        except datasets.DatasetError as exc:
            self.fail("data.source", str(exc))
        if "examples" in raw:
            keep = self.integer("data.examples", raw["examples"], 1, len(X))
            X, y = X[:keep], y[:keep]
        if net is not None and net.layout == "columns":
            X, y = X.T.copy(), y.T.copy()
        return X, y

    def arrays(self, raw) -> dict:
        """Other named numbers a quantity may use: a number, a vector or a matrix."""
        if not isinstance(raw, dict):
            self.fail("arrays", f"expected a table of named arrays, got {_kind(raw)}")
        out = {}
        for name, v in raw.items():
            where = f"arrays.{name}"
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in RESERVED_NAMES:
                self.fail(where, f"array names must be identifiers other than {', '.join(sorted(RESERVED_NAMES))}")
            if isinstance(v, list) and v and all(isinstance(r, list) for r in v):
                out[name] = self.matrix(where, v)
            elif isinstance(v, list):
                out[name] = self.matrix(where, [v])[0]
            else:
                out[name] = np.float64(self.number(where, v))
        return out

    def inputs(self, raw, net) -> dict:
        if not isinstance(raw, dict):
            self.fail("inputs", f"expected a table of named inputs, got {_kind(raw)}")
        out = {}
        for name, v in raw.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.fail(f"inputs.{name}", "input names must be identifiers")
            if net is None:
                self.fail(f"inputs.{name}", "named inputs need a [network]")
            m = self.matrix(f"inputs.{name}", v)
            n_in = m.shape[1] if net.layout == "rows" else m.shape[0]
            if n_in != net.sizes[0]:
                self.fail(f"inputs.{name}", f"{n_in} features, but the network takes {net.sizes[0]}")
            out[name] = m
        return out

    def hyper(self, train, gradcheck, net, params, X, y=None) -> Hyper:
        train = self.table("train", train, TRAIN_FIELDS)
        gradcheck = self.table("gradcheck", gradcheck, GRADCHECK_FIELDS)
        kw: dict = {}
        if "rule" in train:
            kw["rule"] = self.string("train.rule", train["rule"], ["batch", "sgd", "minibatch"])
        kw.update(self.minibatch(train, kw.get("rule", "batch"), net, X))
        if "learning_rate" in train:
            kw["learning_rate"] = self.number("train.learning_rate", train["learning_rate"], 0, 1e6, lo_open=True)
        if "grad_scale" in train:
            kw["grad_scale"] = self.string("train.grad_scale", train["grad_scale"], ["1/n", "1"])
        if "epochs" in train:
            kw["epochs"] = self.integer("train.epochs", train["epochs"], 1, MAX_EPOCHS)
        if "l2" in train:
            kw["l2"] = self.number("train.l2", train["l2"], 0, 1e6)
        if "l2_bias" in train:
            if not isinstance(train["l2_bias"], bool):
                self.fail("train.l2_bias", f"expected true or false, got {_kind(train['l2_bias'])}")
            kw["l2_bias"] = train["l2_bias"]
        kw.update(self.optimizer(train, kw))
        if "h" in gradcheck:
            kw["h"] = self.number("gradcheck.h", gradcheck["h"], 0, 1, lo_open=True)
        if "examples" in gradcheck:
            n = X.shape[net.example_axis] if net is not None and X is not None else 10 ** 9
            kw["gradcheck_examples"] = self.integer("gradcheck.examples", gradcheck["examples"], 1, n)
        if "probe" in gradcheck:
            probe = self.table("gradcheck.probe", gradcheck["probe"], {"param", "index"}, {"param", "index"})
            pname = self.string("gradcheck.probe.param", probe["param"], list(params))
            index = probe["index"]
            shape = params[pname].shape
            if (not isinstance(index, list) or len(index) != len(shape)
                    or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < s
                               for i, s in zip(index, shape))):
                self.fail("gradcheck.probe.index", f"expected {len(shape)} indices within {shape}, got {index!r}")
            kw["probe"] = (pname, tuple(index))
        hyper = Hyper(**kw)
        if net is not None and X is not None:
            self.partial_batches(hyper, net, X.shape[net.example_axis])
            work = hyper.epochs * X.shape[net.example_axis] * net.n_params()
            if work > MAX_WORK:
                self.fail("train.epochs", f"{hyper.epochs} epochs × {X.shape[net.example_axis]} examples × "
                                          f"{net.n_params()} parameters is too much work (limit {MAX_WORK:.0e})")
            P, n = net.n_params(), hyper.gradcheck_examples or X.shape[net.example_axis]
            if y is not None and 2 * P * n * P > MAX_GRADCHECK_WORK:
                self.fail("network.sizes", f"gradient checking {P} parameters on {n} examples takes 2·P·n·P = "
                                           f"{2 * P * n * P:.1e} multiply-adds (limit {MAX_GRADCHECK_WORK:.0e})")
        return hyper

    def minibatch(self, train: dict, rule: str, net, X) -> dict:
        """batch_size and shuffle_seed: given for the minibatch rule (batch_size required), refused for the others."""
        for name in ("batch_size", "shuffle_seed"):
            if name in train and rule != "minibatch":
                self.fail(f"train.{name}", f"applies to rule = \"minibatch\" only (the rule is {rule!r})")
        if rule != "minibatch":
            return {}
        if "batch_size" not in train:
            self.fail("train.batch_size", "rule = \"minibatch\" needs a batch_size (examples per update)")
        n = X.shape[net.example_axis] if net is not None and X is not None else 10 ** 9
        out = {"batch_size": self.integer("train.batch_size", train["batch_size"], 1, n)}
        if "shuffle_seed" in train:
            out["shuffle_seed"] = self.integer("train.shuffle_seed", train["shuffle_seed"], 0, 2 ** 63 - 1)
        return out

    def partial_batches(self, hyper: Hyper, net, n: int) -> None:
        """A last batch smaller than the others takes another step size wherever the step is scaled by the batch:
        grad_scale = "1/n" (a framework's lr is set once) or a loss that sums (Keras' mapping m = r·N); refused."""
        if hyper.rule != "minibatch" or n % hyper.batch_size == 0:
            return
        last = n % hyper.batch_size
        if hyper.grad_scale == "1/n":
            self.fail("train.batch_size", f"{n} examples in batches of {hyper.batch_size} leave a last batch of {last}, "
                                          f"whose 1/n would differ from the others': with grad_scale = \"1/n\" choose "
                                          f"a batch_size that divides {n}, or write the loss as a mean")
        if net.loss.reduce == "sum":
            self.fail("train.batch_size", f"{n} examples in batches of {hyper.batch_size} leave a last batch of {last}: "
                                          f"a summed loss ({net.loss.name}) then weighs it differently from the others "
                                          f"in a framework whose loss averages; choose a batch_size that divides {n}, "
                                          f"or a mean loss")

    def optimizer(self, train: dict, kw: dict) -> dict:
        """[train] optimizer and its hyper-parameters: each checked for range and for applying at all."""
        from . import optimizers as O
        out: dict = {}
        kind = self.string("train.optimizer", train.get("optimizer", "sgd"), list(O.OPTIMIZERS))
        out["optimizer"] = kind
        for name, applies in OPTIMIZER_FIELDS.items():
            if name in train and kind not in applies:
                self.fail(f"train.{name}", f"does not apply to optimizer {kind!r} (it is for {', '.join(applies)})"
                          + ("; coupled L2 (a weight_decay added to the gradient, as SGD or Adam take it) is train.l2" if name == "weight_decay"
                             else ""))
        ranges = {"momentum": (0, 1, False, True), "beta1": (0, 1, False, True), "beta2": (0, 1, False, True),
                  "rho": (0, 1, False, True), "eps": (0, 1, True, False), "weight_decay": (0, 1e6, False, False)}
        for name, (lo, hi, lo_open, hi_open) in ranges.items():
            if name in train:
                x = self.number(f"train.{name}", train[name], lo, hi, lo_open=lo_open)
                if hi_open and x >= hi:
                    self.fail(f"train.{name}", f"{x!r} must be below {hi}")
                out[name] = x
        if kind in ("momentum", "nesterov") and out.get("momentum", 0.0) <= 0:
            self.fail("train.momentum", f"optimizer {kind!r} needs a momentum μ in (0, 1)")
        if kind == "adamw" and train.get("l2"):
            self.fail("train.l2", "adamw decays by train.weight_decay (decoupled); coupled L2 on top is not supported")
        if "centered" in train:
            if not isinstance(train["centered"], bool):
                self.fail("train.centered", f"expected true or false, got {_kind(train['centered'])}")
            out["centered"] = train["centered"]
        if kind in O.ADAPTIVE and kw.get("grad_scale", "1") != "1":
            self.fail("train.grad_scale", f"'1/n' scales the step of a linear optimizer; {kind} divides by the "
                                          f"gradient's own size, so write the loss as a mean instead")
        if "lr_schedule" in train:
            raw = train["lr_schedule"]
            if not isinstance(raw, list) or not raw or len(raw) > 1000:
                self.fail("train.lr_schedule", "expected a list of [step, lr] pairs (1 to 1000 of them)")
            entries, last = [], 0
            for i, pair in enumerate(raw):
                where = f"train.lr_schedule[{i}]"
                if not isinstance(pair, list) or len(pair) != 2:
                    self.fail(where, f"expected [step, lr], got {_kind(pair)}")
                step = self.integer(f"{where}[0]", pair[0], 1, 10 ** 12)
                if step <= last:
                    self.fail(f"{where}[0]", f"steps must increase (step {step} after step {last})")
                entries.append((step, self.number(f"{where}[1]", pair[1], 0, 1e6, lo_open=True)))
                last = step
            out["lr_schedule"] = tuple(entries)
        return out

    def quantities(self, raw) -> list:
        if not isinstance(raw, list) or not raw:
            self.fail("quantity", "expected at least one [[quantity]] table")
        out, seen = [], set()
        for i, q in enumerate(raw):
            where = f"quantity[{i}]"
            q = self.table(where, q, QUANTITY_FIELDS, {"id", "of"})
            qid = self.string(f"{where}.id", q["id"])
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", qid):
                self.fail(f"{where}.id", f"{qid!r}: use letters, digits, '.', '-' and '_'")
            if qid in seen:
                self.fail(f"{where}.id", f"duplicate id {qid!r}")
            seen.add(qid)
            where = f"quantity[{i}] ({qid})"
            if ("printed" in q) == ("formula" in q):
                self.fail(where, "give exactly one of 'printed' (the article's numbers) "
                                 "or 'formula' (the article's formula)")
            item = Quantity(id=qid, label=self.string(f"{where}.label", q.get("label", qid)),
                            section=self.string(f"{where}.section", q.get("section", "")),
                            of=self.expression(f"{where}.of", q["of"]), index=i)
            if "printed" in q:
                try:
                    item.printed = parse_printed(q["printed"])
                except ValueError as exc:
                    self.fail(f"{where}.printed", str(exc))
                if isinstance(item.printed, list) and not _all_nonempty(item.printed):
                    self.fail(f"{where}.printed", "no numbers" if not item.printed else "an empty row")
                try:
                    printed_array(item.printed)
                except ValueError:
                    self.fail(f"{where}.printed", "ragged: rows of different lengths")
            else:
                item.formula = self.expression(f"{where}.formula", q["formula"])
            if "printed_as" in q:
                item.printed_as = self.string(f"{where}.printed_as", q["printed_as"])
            if "tolerance" in q:
                item.tolerance = self.number(f"{where}.tolerance", q["tolerance"], 0, 1e6)
                if "tolerance_reason" not in q:
                    self.fail(f"{where}.tolerance_reason", "a tolerance other than the printed precision "
                                                          "needs a written reason")
            if "tolerance_reason" in q:
                item.tolerance_reason = self.string(f"{where}.tolerance_reason", q["tolerance_reason"])
            if "erratum" in q:
                item.erratum = self.string(f"{where}.erratum", q["erratum"])
            if "rounding" in q:
                item.rounding = self.string(f"{where}.rounding", q["rounding"])
                if "printed" not in q or "tolerance" in q or "erratum" in q:
                    self.fail(f"{where}.rounding", "a reason why printed digits are not correctly rounded: only "
                                                   "with 'printed', without 'tolerance' or 'erratum'")
            styles = {f"{b.name}/{st}" for b in registry.entries() for st in b.style_names}
            keys = set(registry.names()) | styles
            for name in ("differs", "differs_float32"):
                if name in q:
                    d = self.table(f"{where}.{name}", q[name], keys)
                    setattr(item, name, {k: self.string(f"{where}.{name}.{k}", v) for k, v in d.items()})
            if "differs_value" in q:
                d = self.table(f"{where}.differs_value", q["differs_value"], keys)
                for k, v in d.items():
                    if k not in item.differs and k not in item.differs_float32:
                        self.fail(f"{where}.differs_value.{k}", "a formula for a convention this quantity does not "
                                                                "declare in `differs`")
                item.differs_value = {k: self.expression(f"{where}.differs_value.{k}", v) for k, v in d.items()}
            if "same_in_float32" in q:
                same = q["same_in_float32"]
                if not isinstance(same, list) or not all(isinstance(k, str) and k in item.differs for k in same):
                    self.fail(f"{where}.same_in_float32", "expected a list of this quantity's `differs` keys")
                item.same_in_float32 = tuple(same)
            if "check" in q:
                item.check = self.string(f"{where}.check", q["check"], ["value", "side"])
            if item.check == "side":
                if "threshold" not in q:
                    self.fail(f"{where}.threshold", "check = 'side' needs a threshold")
                if "printed" not in q:
                    self.fail(f"{where}.printed", "check = 'side' compares against printed numbers")
            if "threshold" in q:
                item.threshold = self.number(f"{where}.threshold", q["threshold"])
            if "note" in q:
                item.note = self.string(f"{where}.note", q["note"])
            out.append(item)
        return out


def _float(value: int | float) -> float:
    """float(value), an integer too large for a float becoming inf (then refused as not finite)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _all_nonempty(printed) -> bool:
    """No empty list anywhere in a nested printed value."""
    if isinstance(printed, list):
        return bool(printed) and all(_all_nonempty(p) for p in printed)
    return True


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        if isinstance(value, int) and abs(value) >= 10 ** 40:
            return f"a number ({str(value)[:20]}…, {len(str(value))} digits)"
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
