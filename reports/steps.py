"""The mapping of manual backprop onto the frameworks, read from the source files.

Every line that implements a step of backprop carries a trailing marker comment::

    Z_l = L.affine(A_prev, params[net.W_name(l)], b, net.layout)        # [step:forward-affine] Z = A·W (+ b)

in the Python files of each backend package of the registry (``reference/registry.py``).
This module finds those markers in the files Python imports for each package (found
without importing it; the loaded module's ``__file__`` when it is already imported), and
returns, per step, the whole statement that carries the marker (a call spread over several
lines is shown whole), the function it is in, its file and line. The report and
``explain`` print these — never a retyped copy — so the mapping cannot drift from the code
that ran.

Which style a marked line belongs to comes from the registry: a style's own module
(``Style.module``) serves that style only; every other module of the backend's package
(losses, layout …) serves every style of that backend; and the framework-free modules of
the reference that every style runs through (:data:`SHARED_MODULES`: the trace assembly and
gradient checking, see ``reference/contract.py``) serve every style of every backend.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import textwrap
import tokenize
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from backprop_parity.reference import registry

# Modules of the reference package that run for every style of every backend (reference/trace.py
# assembles every trace; reference/gradcheck.py checks every gradient).
SHARED_MODULES = ("trace", "gradcheck")

MARKER = re.compile(r"\[step:([A-Za-z0-9_-]*)(?::([a-z0-9_,]+))?\]")   # [step:NAME] or [step:NAME:adam,adamw]


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    formula: str          # the article's formula (rows layout, Courtial's / deeplearning.ai's symbols)
    source: str           # where the articles write it


STEPS: dict[str, Step] = {s.name: s for s in [
    Step("bias-trick", "bias trick",
         "[A | 1]: a column of ones appended to every layer's input; the bias is the last row of W",
         "Courtial ch. 4"),
    Step("forward-affine", "weighted input",
         "Z = A·W (+ b)   —   columns layout: Z[l] = W[l]·A[l−1] + b[l]",
         "Courtial ch. 3–4; deeplearning.ai"),
    Step("forward-activation", "activation", "A = g(Z)", "Courtial ch. 3; deeplearning.ai; Zhou"),
    Step("cost", "cost", "J = Σ ½(y − ŷ)²  (or the case's loss: mse, squared error, cross-entropy)",
         "Courtial ch. 4; Zhou; deeplearning.ai"),
    Step("output-delta", "output delta", "δ(L) = ∂J/∂ŷ ⊙ g'(Z(L))  =  −(y − ŷ) ⊙ g'(Z(L)) for J = Σ½(y − ŷ)²",
         "Courtial ch. 6"),
    Step("hidden-delta", "hidden delta",
         "δ(l) = (δ(l+1)·W(l+1)ᵀ, bias-unit column dropped) ⊙ g'(Z(l))", "Courtial ch. 6"),
    Step("input-gradient", "input gradient",
         "∂J/∂X = δ(first)·W(first)ᵀ, the bias unit's column dropped: the gradient with respect to the inputs",
         "the chain rule one layer further; cs231n and micrograd differentiate a neuron's inputs"),
    Step("weight-gradient", "weight gradient", "∂J/∂W(l) = A(l−1)ᵀ·δ(l)   (columns layout: δ·Aᵀ)",
         "Courtial ch. 6; deeplearning.ai"),
    Step("update", "gradient-descent update", "W ← W − α·(1/n)·∂J/∂W   (or W − α·∂J/∂W; per example for SGD; or the "
         "case's optimizer: momentum, Nesterov, RMSprop, Adam, AdamW — reference/optimizers.py)",
         "Courtial ch. 6; Zhou; the optimizers' papers"),
    Step("l2", "L2 regularisation", "J += ½·λ·ΣW²,   ∂J/∂W += λ·W", "Courtial ch. 8"),
    Step("gradcheck", "gradient checking",
         "V2 = (J(w + h) − J(w − h)) / 2h;   ‖V1 − V2‖ / ‖V1 + V2‖ ≪ 1", "Courtial ch. 7"),
]}


# ∂J/∂ŷ of each loss of reference/losses.py, in the articles' symbols (what the output delta starts from)
DJ_DYHAT = {"half_sse": "−(y − ŷ)", "mse": "−2(y − ŷ)/N", "squared_error": "−2(y − ŷ)",
            "bce": "(−y/ŷ + (1 − y)/(1 − ŷ))/N", "cce": "−(y/ŷ)/n", "output_sum": "1"}


def for_case(name: str, net) -> Step:
    """Step ``name`` with its formula written for this case's network, where the general one would quote
    another case's loss: the cost is the case's own J, and the output delta the case's own ∂J/∂ŷ and output
    activation (softmax's Jacobian, or the fused (ŷ − y)/n of a cross-entropy after its activation)."""
    step = STEPS[name]
    if net is None or getattr(net, "loss", None) is None or name not in ("cost", "output-delta"):
        return step
    from dataclasses import replace
    from backprop_parity.reference.network import output_delta_words
    loss, out = net.loss, net.activations[-1]
    if name == "cost":
        return replace(step, formula=loss.formula, source=f"this case's loss, {loss.name}")
    words = output_delta_words(net)
    if out.elementwise and out.name not in loss.delta_after:
        words = (f"δ(L) = ∂J/∂ŷ ⊙ g'(Z(L))  =  {DJ_DYHAT.get(loss.name, '∂J/∂ŷ')} ⊙ {out.label}'(Z(L)) "
                 f"for {loss.formula}")
    return replace(step, formula=words, source="this case's loss and output activation")


# What a reader may type for --step besides a step's name: the article's symbols and the trace's keys.
ALIASES = {"z": "forward-affine", "affine": "forward-affine", "a": "forward-activation", "activation": "forward-activation",
           "a_aug": "bias-trick", "bias": "bias-trick", "j": "cost", "j_each": "cost", "loss": "cost",
           "costs": "cost", "grad": "weight-gradient", "dw": "weight-gradient", "gradient": "weight-gradient",
           "w_new": "update", "b_new": "update", "w_final": "update", "b_final": "update",
           "lambda": "l2", "regularization": "l2", "gradient-checking": "gradcheck", "dx": "input-gradient",
           "input-gradient": "input-gradient", "saliency": "input-gradient"}
DELTA_KEYS = ("delta", "deriv", "da", "delta_aug", "deriv_aug", "dj_dyhat", "error", "dz")


def resolve(name: str, net=None, quantities=()) -> str | None:
    """The step ``name`` means: a step's name; a symbol or trace key (``Z``, ``delta3``, ``grad.W[2]``, ``W_new``);
    or a quantity id of the case (its first trace key) — deltas by layer when the network is known
    (the last layer's is the output delta). None when nothing matches."""
    if name in STEPS:
        return name
    by_id = {q.id: q.of for q in quantities}
    if name in by_id:
        keys = sorted((k for k in _keys(by_id[name]) if resolve(k, net) is not None), key=lambda k: (-len(k), k))
        return resolve(keys[0], net) if keys else None
    m = re.fullmatch(r"([A-Za-z_.]+?)\.?\[?(\d*)\]?(?:\[.*\])?", name.strip())
    if not m:
        return None
    word, number = m.group(1).lower().rstrip("."), m.group(2)
    if word.startswith("gradcheck"):
        return "gradcheck"
    if word.startswith(("opt.", "opt_new.")) or word in ("opt", "opt_new", "velocity", "momentum", "optimizer"):
        return "update"
    if word.startswith("grad"):
        return "weight-gradient"
    if word == "da" and net is not None and number and int(number) == net.first_layer - 1:
        return "input-gradient"                # dA at the input layer is ∂J/∂X
    if word in DELTA_KEYS:
        if word in ("dj_dyhat", "error"):
            return "output-delta"
        if net is None or not number:
            return "output-delta" if word in ("dj_dyhat", "error") else "hidden-delta" if number else "output-delta"
        last = net.first_layer + net.depth - 1
        return "output-delta" if int(number) == last else "hidden-delta"
    return ALIASES.get(word)


def _keys(text: str) -> set:
    from backprop_parity.reference import expr
    try:
        return expr.names_used(text)
    except Exception:
        return set()


@dataclass(frozen=True)
class Marked:
    """One marked statement of one backend's source."""

    step: str
    backend: str
    styles: tuple          # the styles this line serves
    path: str              # relative to the project root (or absolute when outside it)
    line: int              # the line carrying the marker (1-based)
    start: int             # the statement's first and last line
    end: int
    function: str          # enclosing function (qualified), "" at module level
    code: str              # the statement, dedented, marker comments removed
    note: str              # the marker comment's own words ("Z = A·W (+ b)")
    only: tuple = ()       # the cases the line runs for, by their optimizer, loss or bias convention
                           # ([step:update:adam,adamw], [step:cost:output_sum], [step:forward-affine:shared]); (): every case

    def serves(self, case) -> bool:
        """Does this line run for ``case`` (its optimizer, its loss, its bias convention)?"""
        hyper, net = getattr(case, "hyper", None), getattr(case, "net", None)
        if not self.only or (hyper is None and net is None):
            return True
        names = {getattr(hyper, "optimizer", None)} | ({net.loss.name, net.bias} if net is not None else set())
        return bool(names & set(self.only))

    @property
    def where(self) -> str:
        fn = f" in {self.function}()" if self.function else ""
        return f"{self.path}:{self.line}{fn}"


class MarkerError(ValueError):
    pass


def package_dir(package: str) -> Path | None:
    """The directory Python imports ``package`` from (None when it is not installed)."""
    return registry.package_dir(package)


def module_file(package: str, stem: str, directory: Path) -> Path:
    module = sys.modules.get(f"{package}.{stem}")
    if module is not None and getattr(module, "__file__", None):
        return Path(module.__file__).resolve()
    return directory / f"{stem}.py"


def styles_for(backend: str, stem: str) -> tuple:
    """The styles a module of the backend's package serves: its own style(s), else all of them."""
    b = registry.get(backend)
    own = tuple(s.name for s in b.styles if s.module == stem)
    return own or b.style_names


def _display_path(path: Path) -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _comments(source: str) -> dict[int, tuple[int, str]]:
    """line -> (column, text) of each comment token (strings containing '#' are not comments)."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = (tok.start[1], tok.string)
    return out


def _statements(tree: ast.AST):
    """(stmt, qualified function name) for every statement, innermost functions named."""
    def walk(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                yield child, scope
            inner = scope
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{scope}.{child.name}" if scope else child.name
            yield from walk(child, inner)
    yield from walk(tree, "")


def _statement_span(stmts, line: int):
    """The innermost statement covering ``line``; a compound statement contributes its header only."""
    best = None
    for stmt, scope in stmts:
        start, end = stmt.lineno, stmt.end_lineno or stmt.lineno
        body = getattr(stmt, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.AST):
            end = body[0].lineno - 1          # header of for / if / with / def
        if start <= line <= end and (best is None or end - start < best[1] - best[0]):
            best = (start, end, scope)
    return best


def _tidy(code_lines: list[str]) -> str:
    """Dedent; continuation lines indented by four spaces (not aligned under an opening bracket far right)."""
    code_lines = textwrap.dedent("\n".join(code_lines)).strip("\n").split("\n")
    return "\n".join([code_lines[0]] + ["    " + l.strip() for l in code_lines[1:] if l.strip()])


def extract_file(path: Path, backend: str, styles: tuple) -> list[Marked]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    comments = _comments(source)
    stmts = list(_statements(ast.parse(source, filename=str(path))))
    out = []
    for number, (col, text) in sorted(comments.items()):
        m = MARKER.search(text)
        if not m:
            continue
        name = m.group(1)
        if name not in STEPS:
            raise MarkerError(f"{_display_path(path)}:{number}: unknown step marker [step:{name}] "
                              f"(known: {', '.join(STEPS)})")
        span = _statement_span(stmts, number)
        start, end, scope = span if span else (number, number, "")
        code_lines = []
        for i in range(start, end + 1):
            text_i = lines[i - 1]
            if i in comments and MARKER.search(comments[i][1]):
                text_i = text_i[:comments[i][0]]
            code_lines.append(text_i.rstrip())
        code = _tidy(code_lines)
        note = text[m.end():].strip()
        only = tuple(m.group(2).split(",")) if m.group(2) else ()
        out.append(Marked(name, backend, styles, _display_path(path), number, start, end, scope, code, note, only))
    return out


def borrowers(backend: str, package: str, directory: Path) -> dict[str, list[tuple[str, set]]]:
    """{module stem: [(style, the functions of that module it runs)]} for each style whose module takes contract
    functions from another module of the package (``sharded.py``: ``from .network import forward, backward, …``):
    those functions, and the module's functions they call, run for that style too, so their marked lines serve
    it. Read from the source (imports by name, names referenced), no framework imported."""
    from backprop_parity.reference.contract import NAMES
    out: dict[str, list[tuple[str, set]]] = {}
    for s in registry.get(backend).styles:
        path = module_file(package, s.module, directory)
        if not path.is_file():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 1 and node.module and node.module != s.module):
                continue
            taken = {a.name for a in node.names if a.name in NAMES}
            if taken:
                out.setdefault(node.module, []).append((s.name, taken))
    for stem, entries in out.items():
        source = module_file(package, stem, directory)
        tree = ast.parse(source.read_text(encoding="utf-8")) if source.is_file() else ast.Module(body=[])
        refers = {n.name: {x.id for x in ast.walk(n) if isinstance(x, ast.Name)} for n in tree.body
                  if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        merged: dict[str, set] = {}
        for style, taken in entries:
            merged.setdefault(style, set()).update(taken)
        for style, names in merged.items():
            todo = list(names)
            while todo:                                   # the functions they call, in the same module
                for callee in refers.get(todo.pop(), ()):
                    if callee in refers and callee not in names:
                        names.add(callee)
                        todo.append(callee)
        out[stem] = list(merged.items())
    return out


@lru_cache(maxsize=None)
def _extract_cached(backend: str, package: str, directory: str, shared: tuple, stamp: tuple) -> tuple:
    from . import cache
    return cache.derived(("steps", backend, package, directory, shared, stamp),
                         lambda: _extract_files(backend, package, directory, shared))


def _extract_files(backend: str, package: str, directory: str, shared: tuple) -> tuple:
    directory_path = Path(directory)
    out = []
    borrowed = borrowers(backend, package, directory_path)
    for stem in sorted(p.stem for p in directory_path.glob("*.py")):
        path = module_file(package, stem, directory_path)
        marked = extract_file(path, backend, styles_for(backend, stem))
        for m in marked:
            extra = tuple(style for style, runs in borrowed.get(stem, ())
                          if style not in m.styles and m.function.split(".")[0] in runs)
            out.append(replace(m, styles=m.styles + extra) if extra else m)
    all_styles = registry.get(backend).style_names
    for path in shared:                    # the reference's framework-free modules every style runs
        out.extend(extract_file(Path(path), backend, all_styles))
    return tuple(out)


def _shared_files(backend) -> list[Path]:
    if backend.reference:
        return []                          # already among the reference's own files
    ref = registry.reference()
    directory = package_dir(ref.package)
    if directory is None:
        return []
    return [module_file(ref.package, stem, directory) for stem in SHARED_MODULES
            if module_file(ref.package, stem, directory).is_file()]


def extract(backend: str) -> list[Marked] | None:
    """Every marked statement of one backend, in file order (None: the package is not installed)."""
    b = registry.get(backend)
    directory = package_dir(b.package)
    if directory is None:
        return None
    shared = _shared_files(b)
    files = sorted(directory.glob("*.py")) + shared
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    return list(_extract_cached(backend, b.package, str(directory), tuple(str(p) for p in shared), stamp))


def by_step(backends=None) -> dict:
    """{step: {backend: [Marked …]}} for every step, for each backend (None when not installed)."""
    backends = backends or registry.names()
    found = {b: extract(b) for b in backends}
    table = {name: {} for name in STEPS}
    for b, marked in found.items():
        for name in STEPS:
            table[name][b] = None if marked is None else [m for m in marked if m.step == name]
    return table


def unmarked(backend: str) -> dict[str, list[str]]:
    """{style: [steps with no marked line]} — what a style does not show (reported, not hidden)."""
    marked = extract(backend)
    if marked is None:
        return {}
    out = {}
    for style in registry.style_names(backend):
        have = {m.step for m in marked if style in m.styles}
        missing = [s for s in STEPS if s not in have]
        if missing:
            out[style] = missing
    return out


def ordered(marked: list, backend: str) -> list:
    """Each style's own lines in the registry's order of styles, then the shared ones (file order within)."""
    names = list(registry.style_names(backend))
    def rank(m):
        return names.index(m.styles[0]) if len(m.styles) == 1 and m.styles[0] in names else len(names)
    return sorted(marked, key=rank)


def for_step(step: str, backend: str, style: str | None = None) -> list[Marked]:
    marked = extract(backend) or []
    return [m for m in marked if m.step == step and (style is None or style in m.styles)]


# --------------------------------------------------------------------------- how each framework is set up

# The mirrors' mapping entries (Trace.mapping keys) that say how a framework is set up to compute a quantity of
# each step: the report's card of a quantity and explain's page of a step show those of the step, right for
# the case, as each mirror reported them (Keras' lr = α·s·m_step on an update, the loss reduction on a cost …).
SETUP_KEYS = {
    "bias-trick": ["bias trick", "input"],
    "forward-affine": ["bias trick", "input"],
    "forward-activation": ["activations", "leaky_relu slope", "activations at 0"],
    "cost": ["loss", "L2", "dJ_dyhat"],
    "output-delta": ["loss", "dJ_dyhat", "deltas", "g'(0)", "activations at 0", "leaky_relu slope"],
    "hidden-delta": ["deltas", "g'(0)", "activations at 0", "leaky_relu slope", "bias trick"],
    "input-gradient": ["deltas", "input"],
    "weight-gradient": ["loss", "L2", "frozen", "data parallel"],
    "update": ["learning rate", "update", "L2", "frozen", "data parallel"],
    "l2": ["L2"],
    "gradcheck": ["L2"],
}


def setup_notes(step: str, traces) -> list:
    """[(mapping key, ["backend/style", …], text)] for ``step``: each style's setting, in the order of
    :data:`SETUP_KEYS`, the styles that report the same text named together."""
    out: list = []
    for key in SETUP_KEYS.get(step, []):
        by_text: dict = {}
        for t in traces:
            v = (getattr(t, "mapping", None) or {}).get(key)
            if v not in (None, ""):
                by_text.setdefault(str(v), []).append(f"{t.backend}/{t.style}")
        out += [(key, names, text) for text, names in by_text.items()]
    return out
