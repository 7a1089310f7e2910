"""A tiny, safe evaluator for the expressions written in case files.

A case file names *what* to compare with short expressions such as ``Z[2]``,
``A[2][0, 1]``, ``grad.W[1]``, ``A_aug[3].T`` or ``loss.mse(y_true, y_pred)``.
They are parsed with :mod:`ast` and only a few node types are allowed:
numbers, names, lists/tuples, indexing and slicing, ``.T``, arithmetic
(``+ - * / ** @``, unary minus), comparisons and calls of whitelisted functions.
Nothing else — no attribute access beyond what a namespace exposes, no dunders,
no imports — so a user's case file cannot run code.

Names resolve against a *namespace*: a flat mapping from keys such as
``"Z[2]"`` or ``"grad.W[1]"`` to values. An expression path like
``grad.W[1]`` is turned into that key; whatever indexing follows the longest
matching key is applied to the array (``A[2][0, 1]`` is element (0, 1) of
``A[2]``).
"""

from __future__ import annotations

import ast
import operator
from typing import Any, Callable, Mapping

import numpy as np


class ExprError(ValueError):
    """The expression is not allowed or names something unknown."""


class NoCounterpart(LookupError):
    """The expression needs a value that this backend does not have (with the reason)."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}

MAX_EXPR_LENGTH = 500
MAX_EXPR_DEPTH = 64              # nested operations (the parser's own limit is deeper than the evaluator's stack)
MAX_RESULT_SIZE = 10_000_000     # numbers one operation may produce (X * X.T of a long X would be n²)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _takes(f: Callable[..., Any], name: str, *counts: int) -> Callable[..., Any]:
    """``f`` with only these numbers of positional arguments: NumPy's extra positional
    arguments include ``out=``, which would let an expression overwrite a backend's numbers."""
    def call(*args):
        if len(args) not in counts:
            raise ExprError(f"{name}() takes {' or '.join(map(str, counts))} argument(s), got {len(args)}")
        return f(*args)
    return call


# Plain NumPy functions available in every expression. They are used to write
# an article's *printed formula* next to the quantity it claims to compute
# (see ``formula`` in CASES.md); the quantities themselves come from the backends.
MATH: dict[str, Callable[..., Any]] = {
    "tanh": _takes(np.tanh, "tanh", 1),
    "exp": _takes(np.exp, "exp", 1),
    "log": _takes(np.log, "log", 1),
    "sqrt": _takes(np.sqrt, "sqrt", 1),
    "abs": _takes(np.abs, "abs", 1),
    "sum": _takes(np.sum, "sum", 1, 2),              # (x) or (x, axis)
    "mean": _takes(np.mean, "mean", 1, 2),
    "where": _takes(np.where, "where", 3),
    "maximum": _takes(np.maximum, "maximum", 2),
    "minimum": _takes(np.minimum, "minimum", 2),
    "sigmoid": _takes(_sigmoid, "sigmoid", 1),
    "array": _takes(lambda x: np.asarray(x, dtype=float), "array", 1),
    "shape": _takes(lambda x: np.asarray(np.shape(x), dtype=float), "shape", 1),
    "size": _takes(lambda x: float(np.size(x)), "size", 1),
    "norm": _takes(np.linalg.norm, "norm", 1, 2),    # (x) or (x, ord)
    "diag": _takes(lambda x: np.diag(np.asarray(x, dtype=float)), "diag", 1),   # a vector -> its diagonal matrix
}


def parse(text: str) -> ast.expr:
    """Parse ``text`` and check that it only uses allowed syntax."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("expected a non-empty expression")
    if len(text) > MAX_EXPR_LENGTH:
        raise ExprError(f"expression longer than {MAX_EXPR_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"cannot parse {text!r}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:   # NUL bytes (older Pythons), absurd nesting
        raise ExprError(f"cannot parse {text!r}: {exc or type(exc).__name__}") from None
    if _depth(tree) > MAX_EXPR_DEPTH:
        raise ExprError(f"expression nested more than {MAX_EXPR_DEPTH} levels deep")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExprError(f"attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExprError("names starting with '_' are not allowed")
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"{type(node).__name__} is not allowed in {text!r}")
    return tree.body


def _depth(tree: ast.AST) -> int:
    """How deeply the nodes nest, walked without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _number(value):
    """Python numbers as float64 before arithmetic: IEEE results (inf, nan) instead of
    ZeroDivisionError, OverflowError or a 9**9**9 computed in arbitrary precision."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return np.float64(value)
        except OverflowError:
            raise ExprError("number too large for a float") from None
    return value


def _check_size(*operands, matmul: bool = False) -> None:
    """Refuse an operation whose result would hold more than MAX_RESULT_SIZE numbers, before computing it."""
    shapes = [np.shape(o) for o in operands if isinstance(o, (np.ndarray, np.generic, list, tuple, int, float))]
    if len(shapes) < 2:
        return
    try:
        if matmul and len(shapes) == 2 and len(shapes[0]) >= 1 and len(shapes[1]) >= 1:
            a, b = shapes
            out = int(np.prod(a[:-1], dtype=float) * (np.prod(b[:-2] + b[-1:], dtype=float) if len(b) > 1 else 1))
        else:
            out = int(np.prod(np.broadcast_shapes(*shapes), dtype=float))
    except (ValueError, TypeError):     # shapes that do not fit: the operation itself says so
        return
    if out > MAX_RESULT_SIZE:
        raise ExprError(f"the result would hold {out} numbers (limit {MAX_RESULT_SIZE})")


_ALLOWED = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript,
    ast.Slice, ast.Tuple, ast.List, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd,
    ast.Compare, ast.Call, *(_BINOPS), *(_CMPOPS),
)


def path_key(node: ast.expr) -> str | None:
    """The namespace key an expression path spells (``grad.W[1]``), or None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        if node.attr == "T":
            return None
        base = path_key(node.value)
        return None if base is None else f"{base}.{node.attr}"
    if isinstance(node, ast.Subscript):
        base = path_key(node.value)
        index = node.slice
        if base is not None and isinstance(index, ast.Constant) and isinstance(index.value, int):
            return f"{base}[{index.value}]"
        if (base is not None and isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub)
                and isinstance(index.operand, ast.Constant) and isinstance(index.operand.value, int)):
            return f"{base}[-{index.operand.value}]"
    return None


def names_used(text: str) -> set[str]:
    """Every namespace key (longest path) an expression could need."""
    used: set[str] = set()

    def visit(node: ast.expr) -> None:
        key = path_key(node)
        if key is not None:
            used.add(key)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(parse(text))
    return used


class Namespace:
    """Values (flat keys), the reasons some keys have no counterpart, and functions."""

    def __init__(self, values: Mapping[str, Any], missing: Mapping[str, str] | None = None,
                 functions: Mapping[str, Any] | None = None):
        self.values = values
        self.missing = missing or {}
        self.functions = {**MATH, **(functions or {})}

    def lookup(self, key: str) -> Any:
        if key in self.values:
            value = self.values[key]
            if isinstance(value, np.ndarray):         # read-only: an expression never changes a backend's numbers
                value = value.view()
                value.flags.writeable = False
            return value
        if key in self.missing:
            raise NoCounterpart(key, self.missing[key])
        if key in self.functions:
            return self.functions[key]
        return _UNKNOWN

    def _hint(self, name: str) -> str:
        near = sorted(k for k in (*self.values, *self.missing) if k.split("[")[0].split(".")[0] == name)
        return f" (known: {', '.join(near[:12])})" if near else ""

    def evaluate(self, text: str) -> Any:
        return self._eval(parse(text))

    def _eval(self, node: ast.expr) -> Any:
        key = path_key(node)
        if key is not None:
            value = self.lookup(key)
            if value is not _UNKNOWN:
                return value
            if isinstance(node, ast.Name):
                raise ExprError(f"unknown name {key!r}{self._hint(key)}")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExprError(f"only numbers are allowed as constants, not {_short(node.value)}")
            if isinstance(node.value, int) and abs(node.value) > 2 ** 53:
                return _number(node.value)          # beyond exact integers: a float (or refused)
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self._eval(e) for e in node.elts]
            total = sum(float(np.size(i)) for i in items if not isinstance(i, (slice, Mapping)) and not callable(i))
            if isinstance(node, ast.List) and total > MAX_RESULT_SIZE:    # a list literal is an array like any other
                raise ExprError(f"the list would hold {int(total)} numbers (limit {MAX_RESULT_SIZE})")
            return tuple(items) if isinstance(node, ast.Tuple) else np.asarray(items, dtype=float)
        if isinstance(node, ast.Attribute):
            base = self._eval(node.value)
            if node.attr == "T":
                return np.asarray(base).T
            if isinstance(base, Mapping) and node.attr in base:
                return base[node.attr]
            raise ExprError(f"unknown name {path_key(node) or node.attr!r}")
        if isinstance(node, ast.Subscript):
            base = self._eval(node.value)
            index = self._index(node.slice)
            if isinstance(base, Mapping):
                if index in base:
                    return base[index]
                raise ExprError(f"unknown key {index!r}")
            try:
                return np.asarray(base)[index]
            except IndexError as exc:
                raise ExprError(f"index out of range: {exc}") from None
        if isinstance(node, ast.BinOp):
            left, right = _number(self._eval(node.left)), _number(self._eval(node.right))
            _check_size(left, right, matmul=isinstance(node.op, ast.MatMult))
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            value = _number(self._eval(node.operand))
            return -value if isinstance(node.op, ast.USub) else +value
        if isinstance(node, ast.Compare):
            left = self._eval(node.left)
            result = True
            for op, right_node in zip(node.ops, node.comparators):
                right = self._eval(right_node)
                _check_size(result, left, right)
                result = np.logical_and(result, _CMPOPS[type(op)](left, right))
                left = right
            return np.asarray(result, dtype=float)
        if isinstance(node, ast.Call):
            if node.keywords:
                raise ExprError("keyword arguments are not allowed")
            func = self._eval(node.func)
            if not callable(func):
                raise ExprError(f"{ast.unparse(node.func)!r} is not a function")
            args = [self._eval(a) for a in node.args]
            _check_size(*args)
            return func(*args)
        raise ExprError(f"cannot evaluate {ast.unparse(node)!r}")

    def _index(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self._whole(self._eval(p)) for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        if isinstance(node, ast.Tuple):
            return tuple(self._index(e) for e in node.elts)
        return self._whole(self._eval(node))

    @staticmethod
    def _whole(value) -> int:
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ExprError(f"an index must be a whole number, not {_short(value)}")
        return int(value)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


_UNKNOWN = object()
