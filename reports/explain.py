"""``backprop-parity explain CASE [--step NAME]``: one case, step by step, in the terminal.

For each step of backprop, layer by layer in the order the articles compute it
(forward, cost, output delta, then each layer's gradient and the next delta
back, the update, gradient checking): the formula in the case's own numbering,
the numbers as the article lays them out (the NumPy reference's), the article's
printed value where there is one, every other backend's difference from NumPy,
and the code line of each backend that computes the step (read from the
``# [step:NAME]`` markers, see :mod:`reports.steps`).

rich draws the tables and colours in a terminal; piped or redirected, the same
text comes out plain.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from backprop_parity.reference import batches as B
from backprop_parity.reference import registry
from backprop_parity.reference.backend import Trace
from backprop_parity.reference.spec import TRACE_DOC

from . import formatting as F
from .formatting import usage_error
from . import cache, steps
from .compare import Comparison, _texts
from .text import make_console

VERDICT_COLOUR = {True: "green", False: "bold red", None: "yellow"}


def add_arguments(p) -> None:
    p.add_argument("case", help="a built-in case name or a case file")
    p.add_argument("--step", metavar="NAME",
                   help="show only this step: " + ", ".join(steps.STEPS))
    p.add_argument("--backend", default="all",
                   help=f"{', '.join(registry.names())}, a comma list, or all (default: all; "
                        f"{registry.reference().name} always runs)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.add_argument("--interactive", action="store_true",
                   help="one page at a time (the header, each step, the rest): Enter next, p back, a page number, "
                        "step or quantity id to jump, q to quit; with --step, start at that step")
    from .cli import add_run_options
    add_run_options(p)


def main(args) -> int:
    from . import backends as B
    from .run import load_cases, run_cases
    try:
        backends = B.selected_with_reference(args.backend)
    except ValueError as exc:
        return usage_error(f"--backend: {exc}")
    cases = load_cases([args.case], args.dtype)
    if args.step is not None:
        step = steps.resolve(args.step, cases[0].net, cases[0].quantities)
        if step is None:
            return usage_error(f"--step: unknown step {args.step!r} (steps: {', '.join(steps.STEPS)}; or a symbol "
                               f"such as Z, delta3, grad.W[2], W_new, or a quantity id of the case)")
        args.step = step
    if not args.quiet:
        print(f"running {cases[0].name} on {', '.join(backends)} …", file=sys.stderr, flush=True)
    store = cache.from_args(args)
    case, traces, rows = run_cases(cases, backends, store=store)[0]
    console = make_console()
    if args.interactive:
        all_pages = pages(case, traces, rows)
        start = _page_of(all_pages, args.step, case.net, case.quantities) if args.step else 0
        browse(console, all_pages, start or 0, net=case.net, quantities=case.quantities)
    else:
        walkthrough(console, case, traces, rows, args.step)
    sys.stdout.flush()
    cache.finish(store, args.quiet)
    return 1 if any(r.passed is False for r in rows) else 0


# --------------------------------------------------------------------------- the walk

@dataclass
class Station:
    step: str
    title: str
    formulas: list
    keys: list = field(default_factory=list)


def _act(net, l) -> str:
    return net.activations[l].label


def stations(case) -> list[Station]:
    """The steps of this case's network in the articles' order, with the trace keys each produces."""
    net, h = case.net, case.hyper
    rows = net.layout == "rows"
    out = []
    for l in range(net.depth):
        n, k = net.layer_number(l), net.first_weight + l
        A_in = f"A[{n - 1}]"
        if net.trick:
            out.append(Station("bias-trick", f"layer {n}: the bias unit",
                               [f"A_aug[{n - 1}] = [A[{n - 1}] | 1]" if rows else f"A_aug[{n - 1}] = [A[{n - 1}] ; 1]",
                                "a column of ones appended (rows layout)" if rows else "a row of ones appended"],
                               [f"A_aug[{n - 1}]"]))
            A_in = f"A_aug[{n - 1}]"
        b = f" + b[{k}]" if net.has_b else ""
        product = f"{A_in} · W[{k}]" if rows else f"W[{k}] · {A_in}"
        out.append(Station("forward-affine", f"layer {n}: weighted input", [f"Z[{n}] = {product}{b}"], [f"Z[{n}]"]))
        out.append(Station("forward-activation", f"layer {n}: activation",
                           [f"A[{n}] = {_act(net, l)}(Z[{n}])"], [f"A[{n}]"]))
    if case.y is None:
        return out
    l2 = f" + ½·λ·ΣW²  (λ = {h.l2:g})" if h.l2 else ""
    loss = net.loss.formula if net.loss.formula.lstrip().startswith("J") else f"J = {net.loss.formula}"
    out.append(Station("cost", "cost", [f"{loss}{l2}", "ŷ = A at the last layer; error = y − ŷ"],
                       ["yhat", "error", "J_each", "J"]))
    last = net.depth - 1
    nL = net.layer_number(last)
    out_act = net.activations[last]
    if out_act.elementwise:
        formulas = [f"delta[{nL}] = dJ_dyhat ⊙ {_act(net, last)}'(Z[{nL}])"]
    else:
        formulas = [f"delta[{nL}] = dJ_dyhat · {_act(net, last)}'(Z[{nL}]): each example's row times its "
                    f"{net.sizes[-1]} × {net.sizes[-1]} Jacobian (softmax is not element-wise)"]
    if out_act.name in net.loss.delta_after:
        formulas.append(f"= (ŷ − y)/{'n' if net.loss.reduce == 'example_mean' else 'N'} for {net.loss.name} after "
                        f"{out_act.name}: the product collapses to a subtraction")
    out.append(Station("output-delta", f"layer {nL}: output delta", formulas,
                       ["dJ_dyhat", f"deriv[{nL}]", f"delta[{nL}]"]))
    for l in range(last, -1, -1):
        n, k = net.layer_number(l), net.first_weight + l
        A_in = f"A_aug[{n - 1}]" if net.trick else f"A[{n - 1}]"
        grad = f"grad.W[{k}] = {A_in}ᵀ · delta[{n}]" if rows else f"grad.W[{k}] = delta[{n}] · {A_in}ᵀ"
        formulas = [grad + (f" + λ·W[{k}]" if h.l2 else "")]
        keys = [f"grad.W[{k}]"]
        if net.has_b:
            over = "the examples and the units" if net.bias == "shared" else "the examples"
            formulas.append(f"grad.b[{k}] = Σ over {over} of delta[{n}]" + (" + λ·b" if h.l2 and h.l2_bias else ""))
            keys.append(f"grad.b[{k}]")
        out.append(Station("weight-gradient", f"layer {n}: gradient of W{k}", formulas, keys))
        if l > 0:
            back = f"dA[{n - 1}] = delta[{n}] · W[{k}]ᵀ" if rows else f"dA[{n - 1}] = W[{k}]ᵀ · delta[{n}]"
            formulas = [back]
            if net.trick:
                formulas.append("drop the bias unit's " + ("column" if rows else "row")
                                + " of dA: the constant 1 has no link back")
            formulas.append(f"delta[{n - 1}] = dA[{n - 1}] ⊙ {_act(net, l - 1)}'(Z[{n - 1}])")
            keys = [f"dA[{n - 1}]", f"deriv[{n - 1}]", f"deriv_aug[{n - 1}]", f"delta_aug[{n - 1}]", f"delta[{n - 1}]"]
            out.append(Station("hidden-delta", f"layer {n - 1}: hidden delta", formulas, keys))
    n0, k0 = net.layer_number(0), net.first_weight
    name = f"dA[{n0 - 1}]" if net.trick else "dX"
    back = f"{name} = delta[{n0}] · W[{k0}]ᵀ" if rows else f"{name} = W[{k0}]ᵀ · delta[{n0}]"
    formulas = [back + "   (the inputs' error: nothing to update, what a saliency map shows)"]
    if net.trick:
        formulas.append("dX = {} without the bias unit's {}".format(name, "column" if rows else "row"))
    out.append(Station("input-gradient", "the inputs: ∂J/∂X", formulas,
                       [f"dA[{n0 - 1}]", "dX"] if net.trick else ["dX"]))
    if h.l2:
        out.append(Station("l2", "L2 regularisation",
                           [f"J includes ½·λ·ΣW² and every ∂J/∂W includes λ·W (λ = {h.l2:g}; "
                            f"reaches the biases: {'yes' if h.l2_bias else 'no'})"], []))
    n_ex = case.X.shape[net.example_axis]
    scale = f"1/{h.step_size(n_ex)}" if h.grad_scale == "1/n" else "1"
    rule = B.words(h, n_ex)
    keys = [k for name in net.param_names() for k in (f"{name[0]}_new[{name[1:]}]",)]
    formulas = [f"W_new = W − α·s·grad.W   (α = {h.learning_rate:g}, s = {scale}), {rule}"]
    if h.optimizer != "sgd":
        from backprop_parity.reference import optimizers as O
        form = O.form(h)
        formulas = [f"{O.describe(h)}, {rule}: {O.FORMS[h.optimizer][form]} (the case's form, {form}); "
                    f"each style is held to its framework's own form"]
        keys += sorted(k for name in net.param_names() for slot in O.slots(h)
                       for k in (f"opt_new.{slot}.{name[0]}[{name[1:]}]", f"opt.{slot}.{name[0]}[{name[1:]}]"))
    if net.frozen:
        formulas.append(f"frozen (never updated): {', '.join(sorted(net.frozen))}")
    if h.epochs > 1:
        formulas.append(f"{h.epochs} epochs: W_final after the last; costs = J before training and after each epoch")
        keys += ["costs"] + [f"{name[0]}_final[{name[1:]}]" for name in net.param_names()]
    else:
        keys += ["costs"]
    keys += [f"predict.{name}" for name in case.inputs]
    out.append(Station("update", "gradient-descent update", formulas, keys))
    gc = ["V2 = (J(w + h) − J(w − h)) / 2h for every entry w", f"h = {h.h:g}; relative error ‖V1 − V2‖ / ‖V1 + V2‖"]
    keys = [f"gradcheck.numerical.{name[0]}[{name[1:]}]" for name in net.param_names()] + ["gradcheck.rel_error"]
    if h.probe:
        gc.append(f"probe: {h.probe[0]}{list(h.probe[1])} ± h, at the initial parameters and after one epoch")
        keys += [f"gradcheck.{p}.{x}" for p in ("probe", "probe_new")
                 for x in ("A_plus", "A_minus", "J_plus", "J_minus", "numerical")]
    out.append(Station("gradcheck", "gradient checking", gc, keys))
    return out


def doc(key: str) -> str:
    if key in TRACE_DOC:
        return TRACE_DOC[key]
    generic = re.sub(r"\[\d+\]", "[l]", key)
    if generic in TRACE_DOC:
        return TRACE_DOC[generic]
    generic_k = re.sub(r"\[\d+\]", "[k]", key)
    for k, v in TRACE_DOC.items():
        if generic_k in [p.strip() for p in k.split("/")]:
            return v
    if key.startswith("predict."):
        return TRACE_DOC["predict.NAME"]
    if key.startswith("gradcheck.numerical."):
        return TRACE_DOC["gradcheck.numerical.W[k]"]
    if key.startswith("gradcheck.probe_new."):
        return "one perturbed entry, at the parameters after one epoch"
    if key.startswith("gradcheck.probe."):
        return "one perturbed entry, at the initial parameters"
    return ""


def base_key(expression: str, keys) -> str | None:
    """The trace key an article quantity reads (``A_aug[3].T`` -> ``A_aug[3]``), if any."""
    text = expression.replace(" ", "")
    best = None
    for k in keys:
        if text == k or (text.startswith(k) and text[len(k)] in "[."):
            if best is None or len(k) > len(best):
                best = k
    return best


def quantity_steps(case, keys) -> dict:
    """{quantity id: the backprop step that computes the trace key it reads} for a case with a network (its
    stations' steps; a quantity that reads no trace key has none) — where explain shows it, and whose marked
    lines the report's card shows."""
    if case.net is None:
        return {}
    owner = {k: st.step for st in reversed(stations(case)) for k in st.keys}
    out = {}
    for q in case.quantities:
        k = base_key(q.of, keys)
        if k in owner:
            out[q.id] = owner[k]
    return out


# --------------------------------------------------------------------------- printing

def print_matrix(console, lines: list[str]) -> None:
    """A matrix, one row per line; a row wider than the screen folds at spaces under its indent, so no number
    is ever cut (a wider terminal, COLUMNS, or ``check --json`` shows each row on one line)."""
    for line in lines:
        _say(console, 4, line)


def _matrix(console, a, texts: bool = False) -> list[str]:
    """A matrix (``texts``: the article's printed numbers, as printed) drawn as the articles draw it, with as many
    of its corner columns as the screen holds (at least one each side of the '…'); a number is never cut."""
    if isinstance(a, str):
        return bracket([a])
    cols = F.MAX_COLS
    while True:
        lines = bracket(F.matrix_lines(a, texts=texts, max_cols=cols))
        if cols <= 2 or max(map(len, lines)) <= console.width - 4:
            return lines
        cols -= 2


def bracket(lines: list[str]) -> list[str]:
    """A matrix the way the articles draw it."""
    extra = [l for l in lines if l.startswith("(")]
    lines = [l for l in lines if not l.startswith("(")]
    if len(lines) <= 1:
        return [f"[ {lines[0] if lines else ''} ]"] + extra
    width = max(len(l) for l in lines)
    out = []
    for i, l in enumerate(lines):
        left, right = ("⎡", "⎤") if i == 0 else ("⎣", "⎦") if i == len(lines) - 1 else ("⎢", "⎥")
        out.append(f"{left} {l.ljust(width)} {right}")
    return out + extra


def _verdict(row) -> Text:
    if row.passed is not None and row.max_abs_diff == 0 and row.source == "reference":
        return Text("exact", style="green")
    if row.passed and row.status == "not correctly rounded":
        return Text(row.status, style="yellow")
    return Text(row.status, style=VERDICT_COLOUR[row.passed])


def _shape(value) -> str:
    shape = F.shape_of(value)
    return "scalar" if shape == () else "×".join(str(s) for s in shape)


def _ref_table(key, ref_rows_by_key) -> Table | None:
    rows = ref_rows_by_key.get(key, [])
    if not rows:
        return None
    t = Table(box=None, show_header=True, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0))
    for col in ("vs NumPy", "max |diff|", "max rel diff", "tolerance", "verdict"):
        t.add_column(col)
    starred = False
    for r in rows:
        name = f"{r.backend}/{r.style}"
        if (r.tolerance_reason or "").startswith("against the reference run on"):
            name, starred = name + " *", True
        if r.passed is None:
            t.add_row(name, "—", "—", "—", Text(_no_counterpart(r.reason), style="yellow"))
        else:
            t.add_row(name, F.diff(r.max_abs_diff), F.diff(r.max_rel_diff), F.tolerance(r.tolerance, " each"), _verdict(r))
    if starred:
        t.caption = ("* against the reference rerun on that style's effective case (its framework's own form of the "
                     "optimizer, or its float32 constants); the numbers shown are the case's")
        t.caption_justify = "left"
    return t


def _article_table(q, rows_q) -> Table:
    t = Table(box=None, show_header=True, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0))
    for col in ("vs the article", "max |diff|", "tolerance", "verdict"):
        t.add_column(col)
    for r in rows_q:
        if r.passed is None:
            t.add_row(f"{r.backend}/{r.style}", "—", "—", Text(_no_counterpart(r.reason), style="yellow"))
        else:
            t.add_row(f"{r.backend}/{r.style}", F.diff(r.max_abs_diff), F.tolerance(r.tolerance, " each"), _verdict(r))
    return t


def _say(console, indent: int, text: str, style: str = "") -> None:
    """A line indented by ``indent``; longer than the screen, it folds at spaces under its own indent (a code
    line, a reason, an erratum: never cut, never back at column 0)."""
    console.print(Padding(Text(text, style=style), (0, 0, 0, indent)))


def _print_article(console, q, rows_q) -> None:
    head = Text("  article ", style="bold")
    head.append(f"{q.id}", style="bold cyan")
    head.append(f" — {q.label}" if q.label and q.label != q.id else "")
    if q.section:
        head.append(f"  ({q.section})", style="dim")
    console.print(head)
    if q.printed is not None:
        print_matrix(console, _matrix(console, _texts(q.printed), texts=True))
    else:
        _say(console, 4, f"formula: {q.formula}  (evaluated on each backend's own numbers)")
    if q.erratum:
        _say(console, 4, f"erratum: {q.erratum}", style="yellow")
    if q.rounding:
        _say(console, 4, f"not correctly rounded: {q.rounding}", style="yellow")
    diagnosis = next((r.diagnosis for r in rows_q if r.diagnosis), None)
    if diagnosis:
        _say(console, 4, f"diagnosis: {diagnosis}", style="cyan")
    for b, why in q.differs.items():
        _say(console, 4, f"{b} differs by convention: {why}", style="yellow")
    console.print(Padding(_article_table(q, rows_q), (0, 0, 0, 4)))
    rounding = {r.reason for r in rows_q if r.status == "not correctly rounded" and r.reason}
    for why in sorted(rounding):
        _say(console, 4, f"{why}", style="yellow" if q.rounding else "bold red")
    for r in rows_q:
        if r.passed is False and r.actual is not None:             # a failure: show what that backend computed
            _say(console, 4, f"{r.backend}/{r.style} computes:", style="bold red")
            print_matrix(console, _matrix(console, r.actual))


def _print_setup(console, step: str, traces) -> None:
    """How each framework is set up for this step, from the mirrors' own mapping for the case (Keras' lr =
    α·s·m_step on an update …): the styles that report the same text named together."""
    notes = steps.setup_notes(step, [t for t in traces if isinstance(t, Trace)])
    if not notes:
        return
    _say(console, 2, "how each framework is set up for it", style="bold")
    for key, names, text in notes:
        _say(console, 4, f"{key} — {', '.join(names)}: {text}")


def _print_code(console, step: str, backends_ran: list, case=None) -> None:
    _say(console, 2, "code", style="bold")
    for entry in registry.entries():
        b = entry.name
        if b not in backends_ran:
            continue
        marked = [m for m in steps.ordered(steps.for_step(step, b), b) if m.serves(case)]
        if not marked:
            _say(console, 4, f"{b}: no line marked [step:{step}]", style="yellow")
            continue
        all_styles = set(entry.style_names)
        for m in marked:
            tag = "" if len(all_styles) == 1 or set(m.styles) == all_styles else f"[{'/'.join(m.styles)}] "
            _say(console, 4, f"{b} {tag}{m.where}" + (f" — {m.note}" if m.note else ""), style="dim")
            for line in m.code.splitlines():
                _say(console, 6, line, style="cyan")


def header(console, case, traces) -> None:
    console.rule(Text(f"{case.name}", style="bold"))
    console.print(Text(case.title, style="bold"))
    console.print(Text(f"{case.article_title} — {'; '.join(case.sections)}", style="dim"))
    if case.net is not None:
        net, h = case.net, case.hyper
        console.print(f"network {' → '.join(map(str, net.sizes))}, activations "
                      f"{', '.join(a.label for a in net.activations)}, loss {net.loss.name}, {net.layout} layout, "
                      f"bias {net.bias}, first layer {net.first_layer}, first weight W{net.first_weight}; "
                      f"{h.rule} α = {h.learning_rate:g} × {h.grad_scale}, {h.epochs} epoch(s), λ = {h.l2:g}")
    ran = [f"{t.backend}/{t.style}" for t in traces if isinstance(t, Trace)]
    console.print(Text("backends: " + ", ".join(ran), style="green"))
    for t in traces:
        if isinstance(t, Comparison):
            console.print(Text(f"NOT RUN {t.backend}/{t.style}: {t.status}: {t.reason}", style="bold red"))


_SAID: dict = {}          # no-counterpart reason -> its number, in this walkthrough (said in full once)


def _no_counterpart(reason: str | None) -> str:
    """The reason in full the first time a walkthrough meets it; after that, a reference to it."""
    reason = reason or ""
    if reason in _SAID:
        return f"no counterpart ({_SAID[reason]}, as above)"
    _SAID[reason] = f"#{len(_SAID) + 1}"
    return f"no counterpart {_SAID[reason]}: {reason}"


@dataclass
class Page:
    """One screen of the walkthrough: the case's header, one step (its quantities, the article's numbers and
    each backend's code), or what comes last; ``draw`` prints it."""
    title: str
    draw: object
    step: str = ""
    quantities: tuple = ()


def walkthrough(console, case, traces, rows, only_step: str | None = None) -> None:
    """The whole walk, page after page (what ``explain`` prints)."""
    _SAID.clear()
    for page in pages(case, traces, rows, only_step):
        page.draw(console)


def pages(case, traces, rows, only_step: str | None = None) -> list[Page]:
    """The walk as pages: the header (with any hint), then one page per step of the case, then the quantities no
    step claims and gradient checking."""
    def front(console):
        header(console, case, traces)
        for r in rows:
            if r.status == "hint":
                console.print(Text(f"hint: {r.reason}", style="bold yellow"))
    out = [Page(case.name, front)]
    ref_name = registry.reference().name
    ref = next((t for t in traces if isinstance(t, Trace) and t.backend == ref_name), None)
    article_rows: dict = {}
    for r in rows:
        if r.source == "article":
            article_rows.setdefault(r.quantity, []).append(r)
    ref_rows: dict = {}
    for r in rows:
        if r.source == "reference" and r.quantity != "*":
            ref_rows.setdefault(r.quantity, []).append(r)
    backends_ran = sorted({t.backend for t in traces if isinstance(t, Trace)})

    if case.net is None or ref is None:
        def small(console):
            if only_step is not None:
                console.print(Text(f"\n--step {only_step}: this case has no network, so no backprop steps.",
                                   style="yellow"))
            console.print(Text("\nNo network: the article's small examples, one by one.", style="bold"))
            for q in case.quantities:
                console.print()
                _print_article(console, q, article_rows.get(q.id, []))
        out.append(Page("the article's examples", small, quantities=tuple(q.id for q in case.quantities)))
        return out

    keys = list(ref.values)
    claimed: dict = {}
    for q in case.quantities:
        k = base_key(q.of, keys)
        if k is not None:
            claimed.setdefault(k, []).append(q)
    shown_code = set()
    all_stations = stations(case)
    if only_step is not None:
        all_stations = [s for s in all_stations if s.step == only_step]
        if not all_stations:
            why = {"bias-trick": f"this case does not use the bias trick (bias = {case.net.bias})",
                   "l2": "this case has no L2 term (λ = 0)"}.get(only_step, "this case does not reach this step")

            def absent(console):
                console.print(Text(f"\n{only_step}: {why}. The code that would compute it:", style="yellow"))
                _print_code(console, only_step, backends_ran, case)
            out.append(Page(only_step, absent, only_step))
            return out

    def station(st, with_code):
        def draw(console):
            console.print()
            step = steps.for_case(st.step, case.net)
            console.rule(Text(f"{st.title}  [{st.step}]", style="bold magenta"), align="left")
            for f in st.formulas:
                _say(console, 2, f, style="bold")
            _say(console, 2, f"{step.formula}  ({step.source})", style="dim")
            for key in st.keys:
                if key not in ref.values:
                    continue
                value = ref.values[key]
                title = Text(f"  {key}", style="bold cyan")
                title.append(f"  {_shape(value)}", style="dim")
                d = doc(key)
                if d:
                    title.append(f"  — {d}", style="dim")
                console.print(title)
                print_matrix(console, _matrix(console, value))
                t = _ref_table(key, ref_rows)
                if t is not None:
                    console.print(Padding(t, (0, 0, 0, 4)))
                for r in ref_rows.get(key, []):
                    if r.passed is False and r.actual is not None:     # a disagreement: show that backend's numbers
                        _say(console, 4, f"{r.backend}/{r.style} computes:", style="bold red")
                        print_matrix(console, _matrix(console, r.actual))
                for q in claimed.get(key, []):
                    _print_article(console, q, article_rows.get(q.id, []))
            if with_code:
                _print_setup(console, st.step, traces)
                _print_code(console, st.step, backends_ran, case)
        return draw

    for st in all_stations:
        with_code = st.step not in shown_code or only_step is not None
        shown_code.add(st.step)
        out.append(Page(st.title, station(st, with_code), st.step,
                        tuple(q.id for k in st.keys for q in claimed.get(k, []))))
    if only_step is None:
        used = {q.id for qs in claimed.values() for q in qs}
        rest = [q for q in case.quantities if q.id not in used]
        if rest:
            def others(console):
                console.print()
                console.rule(Text("other quantities of this case", style="bold magenta"), align="left")
                for q in rest:
                    _print_article(console, q, article_rows.get(q.id, []))
            out.append(Page("other quantities of this case", others, quantities=tuple(q.id for q in rest)))
        g = [r for r in rows if r.source == "gradcheck"]
        if g:
            def gradcheck(console):
                console.print()
                t = Table(title="backprop vs centered differences", box=None, header_style="bold",
                          title_justify="left")
                for col in ("backend", "‖V1 − V2‖/‖V1 + V2‖", "bound", "verdict"):
                    t.add_column(col)
                for r in g:
                    t.add_row(f"{r.backend}/{r.style}", F.diff(r.actual) if r.actual is not None else "—",
                              F.tolerance(r.tolerance, " each"), _verdict(r))
                console.print(t)
            out.append(Page("gradient checking", gradcheck, "gradcheck"))
    return out


def browse(console, all_pages: list[Page], start: int = 0, read=input, net=None, quantities=()) -> None:
    """``--interactive``: one page at a time. Enter (or n) goes forward, p back, a page number or a step, symbol
    or quantity id jumps there, q (or the end of input) stops. A no-counterpart reason is said in full on every
    page that meets it (a page read alone cannot point back)."""
    i, n = max(0, min(start, len(all_pages) - 1)), len(all_pages)
    shown = None
    while True:
        if shown != i:
            _SAID.clear()
            all_pages[i].draw(console)
            shown = i
        console.print(Text(f"\n— {i + 1}/{n} {all_pages[i].title} · Enter next · p back · a page number, step or "
                           "quantity id: go there · q quit", style="dim"))
        try:
            answer = read("> ").strip()
        except EOFError:
            return
        if answer in ("q", "quit", "exit"):
            return
        if answer in ("", "n", "next"):
            if i == n - 1:
                return
            i += 1
        elif answer in ("p", "prev", "back"):
            i = max(0, i - 1)
        elif answer.isdigit() and 1 <= int(answer) <= n:
            i = int(answer) - 1
        else:
            found = _page_of(all_pages, answer, net, quantities)
            if found is None:
                console.print(Text(f"no page for {answer!r}: Enter, p, q, 1–{n}, a step ({', '.join(steps.STEPS)}), "
                                   "a symbol such as delta3 or a quantity id", style="yellow"))
                continue
            i = found


def _page_of(all_pages: list[Page], answer: str, net, quantities) -> int | None:
    """The first page showing this quantity id, or of this step (a step name or a symbol steps.resolve knows)."""
    for k, page in enumerate(all_pages):
        if answer in page.quantities:
            return k
    step = steps.resolve(answer, net, quantities) if net is not None else (answer if answer in steps.STEPS else None)
    return next((k for k, page in enumerate(all_pages) if step and page.step == step), None)
