"""The catalogue of conventions and slips a printed number may have been computed under (``diagnose``).

A printed number that the reference does not reproduce was computed some other way: a learning rate
doubled, the ½ of the loss dropped, the derivative taken on A instead of Z, a step done layer by layer,
factors rounded before they were multiplied … Each of those is one small function below, registered
with ``@variant(family)``: given a case (and the digits the quantity prints), it yields the
:class:`Variant` s that apply to it — each the case as that variant computes it. The reference then
runs the variant case exactly as it runs any case (``values``), and ``reports/diagnose.py`` asks which
variants give the printed digits.

Most variants are a change of the case (its ``Hyper``, its ``Net``'s activations or loss, its
parameters or data). Two cannot be: the *sequential* update replaces the reference's ``train`` (a style
module with that one function changed), and *the bias unit's column kept* reads the trace's ``_aug``
keys in place of the plain ones. Adding a variant is one function here; CASES.md lists the catalogue.
"""

from __future__ import annotations

import copy
import dataclasses
import types
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from . import batches as B
from . import activations as RA
from . import layout as L
from . import network as N
from .contract import History, Training
from .trace import trace

FAMILIES = ("update", "optimizer", "parameters", "loss", "l2", "activation", "layout", "arithmetic", "preprocessing")
FORWARD_FAMILIES = ("activation", "layout", "arithmetic")


@dataclass(frozen=True)
class Variant:
    name: str                                     # short id, e.g. "lr×2"
    family: str                                   # one of FAMILIES
    description: str                              # what it computes, with this case's numbers
    change: Callable                              # case -> the case as the variant computes it
    style: object = None                          # a style module replacing the reference's (or None)
    keys: Callable | None = None                  # trace values -> trace values read instead (or None)
    functions: Callable | None = None             # the expression functions -> those evaluated instead (or None)

    def then(self, other: "Variant") -> "Variant | None":
        """Both variants at once (a pair), or None when they cannot combine (two styles, one family twice)."""
        if self.family == other.family or (self.style is not None and other.style is not None):
            return None
        keys = (None if self.keys is None and other.keys is None else
                lambda v: (other.keys or (lambda x: x))((self.keys or (lambda x: x))(v)))
        functions = (None if self.functions is None and other.functions is None else
                     lambda f: (other.functions or (lambda x: x))((self.functions or (lambda x: x))(f)))
        return Variant(f"{self.name} + {other.name}", f"{self.family}+{other.family}",
                       f"{self.description}; and {other.description}",
                       lambda c: other.change(self.change(c)), self.style or other.style, keys, functions)


_GENERATORS: list[tuple[str, Callable]] = []


def variant(family: str):
    """Register a generator ``(case, digits) -> Iterator[Variant]`` under ``family`` (catalogue order)."""
    assert family in FAMILIES, family

    def register(fn):
        _GENERATORS.append((family, fn))
        return fn
    return register


@dataclass(frozen=True)
class Digits:
    """How the quantity under diagnosis is printed: decimals after the point and significant digits."""
    decimals: int
    significant: int


def catalogue(case, digits: Digits | None = None) -> list[Variant]:
    """Every variant that applies to ``case``, simplest first (catalogue order)."""
    if case.net is None:            # no network: only the data preparation's conventions can vary
        usable = ("preprocessing",)
    else:                           # a forward-only case (no y) has no loss, update or L2 to vary
        usable = FAMILIES if case.y is not None else FORWARD_FAMILIES
    out = [v for family, gen in _GENERATORS if family in usable for v in gen(case, digits)]
    assert all(v.family in FAMILIES for v in out)
    return out


def values(case, v: Variant | None = None) -> dict:
    """The reference's trace values of ``case`` under variant ``v`` (``None``: the case as written)."""
    c = case if v is None else v.change(case)
    if c.net is None:               # a case of expressions only: nothing to trace (its functions may vary)
        return {}
    S = N if v is None or v.style is None else v.style
    with np.errstate(all="ignore"):
        got, _, _ = trace(S, c.net, c.params, c.X, c.y, c.hyper, c.inputs)
    return got if v is None or v.keys is None else v.keys(got)


# --------------------------------------------------------------------------- helpers that change a case

def with_hyper(case, **changes):
    c = copy.copy(case)
    c.hyper = dataclasses.replace(case.hyper, **changes)
    return c


def with_net(case, **changes):
    c = copy.copy(case)
    c.net = dataclasses.replace(case.net, **changes)
    return c


def n_examples(case) -> int:
    return int(case.X.shape[case.net.example_axis])


@dataclass(frozen=True)
class Changed(RA.Activation):
    """An activation with g and/or g' replaced (same name and parameters, so the rest of the network,
    e.g. the fused sigmoid + BCE output δ, treats it as the article's)."""
    g_fn: Callable | None = None
    g_prime_fn: Callable | None = None

    def g(self, Z):
        return self.g_fn(Z) if self.g_fn is not None else super().g(Z)

    def g_prime(self, Z, A=None):
        return self.g_prime_fn(Z, A) if self.g_prime_fn is not None else super().g_prime(Z, A)


def with_activations(case, which: Callable, make: Callable):
    """The case with every activation ``a`` for which ``which(a)`` replaced by ``make(a)``; None if none is."""
    acts = case.net.activations
    if not any(which(a) for a in acts):
        return None
    return lambda c: with_net(c, activations=tuple(make(a) if which(a) else a for a in c.net.activations))


def with_loss(case, suffix: str, terms: Callable, grad: Callable, reduce: str | None = None,
              fused: Callable | None = None):
    """The case's loss with its element terms, ∂J/∂ŷ (and fused output δ) replaced."""
    def change(c):
        loss = c.net.loss
        new = dataclasses.replace(loss, name=loss.name, formula=f"{loss.formula} ({suffix})",
                                  terms=terms(loss.terms), grad=grad(loss.grad), reduce=reduce or loss.reduce,
                                  delta_after={a: fused(f) for a, f in loss.delta_after.items()} if fused else {})
        return with_net(c, loss=new)
    return change


def scaled(k: float) -> Callable:
    return lambda f: (lambda *args: k * f(*args))


def round_decimals(d: int) -> Callable:
    return lambda x: np.round(np.asarray(x, dtype=float), d)


def round_significant(k: int) -> Callable:
    def r(x):
        x = np.asarray(x, dtype=float)
        magnitude = np.floor(np.log10(np.where(x == 0, 1.0, np.abs(x))))
        factor = 10.0 ** (k - 1 - magnitude)
        return np.round(x * factor) / factor
    return r


# --------------------------------------------------------------------------- update

@variant("update")
def learning_rate(case, digits) -> Iterator[Variant]:
    a = case.hyper.learning_rate
    if a == 0:
        return
    yield Variant("α×2", "update", f"learning rate doubled (α = {2 * a:g} instead of {a:g})",
                  lambda c: with_hyper(c, learning_rate=2 * c.hyper.learning_rate))
    yield Variant("α÷2", "update", f"learning rate halved (α = {a / 2:g} instead of {a:g})",
                  lambda c: with_hyper(c, learning_rate=c.hyper.learning_rate / 2))
    yield Variant("update sign", "update", "the step added instead of subtracted (W ← W + α·∂J/∂W)",
                  lambda c: with_hyper(c, learning_rate=-c.hyper.learning_rate))


@variant("update")
def one_over_n(case, digits) -> Iterator[Variant]:
    n = n_examples(case)
    if n < 2 or case.hyper.learning_rate == 0:
        return
    if case.hyper.grad_scale == "1/n":
        yield Variant("no 1/n", "update", f"the step without the 1/n (α·∂J/∂W, not α·(1/{n})·∂J/∂W)",
                      lambda c: with_hyper(c, grad_scale="1"))
    else:
        yield Variant("1/n", "update", f"the step scaled by 1/n (α·(1/{n})·∂J/∂W)",
                      lambda c: with_hyper(c, grad_scale="1/n"))


@variant("update")
def rule(case, digits) -> Iterator[Variant]:
    n = n_examples(case)
    if n < 2:
        return
    if case.hyper.rule == "batch":
        yield Variant("per-sample", "update", f"one step per example in data order ({n} steps per epoch), "
                      f"not one step on the batch", lambda c: with_hyper(c, rule="sgd"))
    else:
        yield Variant("batch", "update", "one step on the whole batch per epoch, not one per example",
                      lambda c: with_hyper(c, rule="batch"))

        def reverse(c):
            c = copy.copy(c)
            ax = c.net.example_axis
            c.X, c.y = np.flip(c.X, axis=ax).copy(), np.flip(c.y, axis=ax).copy()
            return c
        yield Variant("reversed order", "update", "the examples taken in reverse order", reverse)


def _sequential_step(net, params, X, y, hyper):
    """One step layer by layer from the top: each layer's δ goes through the already-updated W above it."""
    fwd = N.forward(net, params, X)
    opt = N.optimizer(net, params, hyper, L.n_examples(X, net.layout))
    new = dict(params)
    for l in reversed(range(net.depth)):
        stepped = N.step(net, new, N.gradients(net, new, fwd, N.backward(net, new, fwd, y, hyper), hyper), hyper, opt)
        for name in (net.W_name(l), net.b_name(l)):
            if name in new:
                new[name] = stepped[name]
    return new


def _sequential_train(net, params_np, X_np, y_np, hyper, every_epoch=False):
    params, X, y = N.load(net, params_np), N.tensor(net, X_np), N.tensor(net, y_np)
    history = History(params, every_epoch)
    costs = [N.cost(net, params, N.predict(net, params, X), y, hyper)]
    for e in range(hyper.epochs):
        for idx in B.batches(hyper, L.n_examples(X, net.layout), e):
            params = _sequential_step(net, params, L.examples(X, idx, net.layout), L.examples(y, idx, net.layout), hyper)
        history.append(params)
        costs.append(N.cost(net, params, N.predict(net, params, X), y, hyper))
    return Training(history, np.asarray(costs))


SEQUENTIAL = types.SimpleNamespace(**{k: getattr(N, k) for k in dir(N) if not k.startswith("__")})
SEQUENTIAL.train = _sequential_train


@variant("update")
def sequential(case, digits) -> Iterator[Variant]:
    if case.net.depth >= 2 and case.hyper.learning_rate != 0:
        yield Variant("sequential", "update", "layers updated one at a time from the output down, each δ taken "
                      "through the already-updated weights above it (not all from the same weights)",
                      lambda c: c, style=SEQUENTIAL)


# --------------------------------------------------------------------------- the optimizer's form and defaults

@variant("optimizer")
def optimizer_forms(case, digits) -> Iterator[Variant]:
    """Every other written form of the case's optimizer (reference/optimizers.py FORMS): the number a
    framework that writes it so gives."""
    from . import optimizers as O
    h = case.hyper
    for name, text in O.FORMS.get(h.optimizer, {}).items():
        if name != O.form(h):
            yield Variant(f"{h.optimizer} {name}", "optimizer", f"{h.optimizer} written {text}",
                          lambda c, name=name: with_hyper(c, form=name))


@variant("optimizer")
def optimizer_defaults(case, digits) -> Iterator[Variant]:
    """A framework's default where the case states another value, its constants through float32, and the
    schedule one update early or late (a scheduler counting from 0 where the case counts from 1)."""
    h = case.hyper
    if h.optimizer in ("rmsprop", "adam", "adamw"):
        for eps in (1e-8, 1e-7):
            if eps != h.eps:
                yield Variant(f"ε = {eps:g}", "optimizer", f"ε = {eps:g} (one of the two defaults in use, 1e-8 "
                              f"and 1e-7), not {h.eps:g}", lambda c, eps=eps: with_hyper(c, eps=eps))
    if h.optimizer == "rmsprop":
        for rho in (0.9, 0.99):
            if rho != h.rho:
                yield Variant(f"ρ = {rho:g}", "optimizer", f"ρ = {rho:g} (one of the two defaults in use, 0.9 and "
                              f"0.99), not {h.rho:g}", lambda c, rho=rho: with_hyper(c, rho=rho))
    if h.optimizer == "adamw":
        yield Variant("λ coupled", "optimizer", f"λ = {h.weight_decay:g} added to the gradient (coupled, "
                      f"an L2 term: Adam with weight_decay) instead of decoupled",
                      lambda c: with_hyper(c, optimizer="adam", l2=c.hyper.weight_decay, weight_decay=0.0))
    names = {"momentum": ("momentum",), "nesterov": ("momentum",), "adam": ("beta powers",),
             "adamw": ("beta powers", "weight_decay")}.get(h.optimizer, ())
    if names and not h.float32_constants:
        yield Variant("float32 constants", "optimizer", f"{', '.join(names)} rounded to float32 (as a float32 "
                      f"constant cast to float64 would be)", lambda c: with_hyper(c, float32_constants=names))
    if h.lr_schedule:
        for shift, words in ((-1, "one update early"), (1, "one update late")):
            moved = tuple((max(1, t + shift), lr) for t, lr in h.lr_schedule)
            if moved != h.lr_schedule and len({t for t, _ in moved}) == len(moved):
                yield Variant(f"schedule {words.split()[-1]}", "optimizer", f"every lr change {words}",
                              lambda c, moved=moved: with_hyper(c, lr_schedule=moved))


# --------------------------------------------------------------------------- which parameters

@variant("parameters")
def initial_or_updated(case, digits) -> Iterator[Variant]:
    if case.hyper.learning_rate == 0:
        return
    yield Variant("initial weights", "parameters", "every number 'after the step' computed at the initial weights "
                  "(the step not applied: W_new = W, costs and gradient checking after the step at W)",
                  lambda c: with_hyper(c, learning_rate=0.0))

    def updated(c):
        h = dataclasses.replace(c.hyper, epochs=1)
        new = N.train(c.net, c.params, c.X, c.y, h).history[1]
        out = copy.copy(c)
        out.params = {k: np.array(v) for k, v in new.items()}
        return out
    yield Variant("updated weights", "parameters", "every number computed at the weights after one step "
                  "(the forward pass, gradients and gradient checking at W_new instead of W)", updated)


@variant("parameters")
def biases_frozen(case, digits) -> Iterator[Variant]:
    names = {k for k in case.net.param_shapes() if k.startswith("b")}
    if names and not names <= case.net.frozen and case.hyper.learning_rate != 0:
        yield Variant("biases not updated", "parameters", "the biases left at their initial values by the update",
                      lambda c: with_net(c, frozen=frozenset(c.net.frozen | names)))


@variant("parameters")
def bias_column(case, digits) -> Iterator[Variant]:
    if not case.net.trick or case.net.depth < 2:
        return

    def kept(v: dict) -> dict:
        out = dict(v)
        for k in list(v):
            for plain, aug in (("deriv[", "deriv_aug["), ("delta[", "delta_aug[")):
                if k.startswith(aug):
                    out[plain + k[len(aug):]] = v[k]
        return out
    yield Variant("bias column kept", "parameters", "the bias unit's column kept in g'(Z) and δ of the hidden layers "
                  "(δ = (δ·Wᵀ) ⊙ g'([Z | 1]), the column not dropped)", lambda c: c, keys=kept)


# --------------------------------------------------------------------------- loss

@variant("loss")
def loss_half(case, digits) -> Iterator[Variant]:
    name = case.net.loss.name
    if name == "half_sse":
        yield Variant("no ½", "loss", "the loss without its ½ (J = Σ(y − ŷ)², ∂J/∂ŷ = −2(y − ŷ))",
                      with_loss(case, "without ½", scaled(2.0), scaled(2.0), fused=scaled(2.0)))
    elif name in ("mse", "squared_error"):
        yield Variant("with ½", "loss", "the loss with a ½ (J = ½·…, ∂J/∂ŷ = −(y − ŷ)·…)",
                      with_loss(case, "with ½", scaled(0.5), scaled(0.5), fused=scaled(0.5)))


@variant("loss")
def loss_reduction(case, digits) -> Iterator[Variant]:
    loss, size = case.net.loss, int(np.size(case.y))
    if size < 2:
        return
    if loss.reduce == "sum":
        yield Variant("mean", "loss", f"the loss averaged over its {size} terms instead of summed",
                      with_loss(case, "mean", lambda t: t, lambda g: (lambda y, yh: g(y, yh) / np.size(y)), "mean",
                                fused=lambda f: (lambda y, Z: f(y, Z) / np.size(y))))
    else:
        yield Variant("sum", "loss", f"the loss summed over its {size} terms instead of averaged",
                      with_loss(case, "sum", lambda t: t, lambda g: (lambda y, yh: g(y, yh) * np.size(y)), "sum",
                                fused=lambda f: (lambda y, Z: f(y, Z) * np.size(y))))
    outputs = case.y.shape[1 - case.net.example_axis]
    if outputs > 1:
        k = float(outputs)
        if loss.reduce == "sum":
            yield Variant("mean over examples", "loss", f"the loss summed over the {outputs} outputs and averaged "
                          f"over the examples", with_loss(case, "mean over examples",
                                                          lambda t: (lambda y, yh: t(y, yh) * k / np.size(y)),
                                                          lambda g: (lambda y, yh: g(y, yh) * k / np.size(y))))
        else:
            yield Variant("mean over examples", "loss", f"the loss summed over the {outputs} outputs and averaged "
                          f"over the examples (not over every element)",
                          with_loss(case, "mean over examples", lambda t: (lambda y, yh: t(y, yh) * k / np.size(y)),
                                    lambda g: (lambda y, yh: g(y, yh) * k), "sum", fused=scaled(k)))


@variant("loss")
def bce_sign(case, digits) -> Iterator[Variant]:
    if case.net.loss.name == "bce":
        yield Variant("BCE sign", "loss", "the cross-entropy without its leading minus (J = Σ[y log ŷ + (1 − y) log(1 − ŷ)]/m)",
                      with_loss(case, "sign flipped", scaled(-1.0), scaled(-1.0), fused=scaled(-1.0)))


# --------------------------------------------------------------------------- L2

@variant("l2")
def l2(case, digits) -> Iterator[Variant]:
    lam, m = case.hyper.l2, n_examples(case)
    if not lam:
        return
    yield Variant("L2 sign", "l2", "the L2 term subtracted (J −= ½λΣW², ∂J/∂W −= λW)",
                  lambda c: with_hyper(c, l2=-c.hyper.l2))
    yield Variant("λ not ½λ", "l2", "J += λΣW² (∂J/∂W += 2λW): the ½ of the L2 term dropped",
                  lambda c: with_hyper(c, l2=2 * c.hyper.l2))
    yield Variant("λ/2", "l2", "J += (λ/4)ΣW² (∂J/∂W += (λ/2)W): λ halved", lambda c: with_hyper(c, l2=c.hyper.l2 / 2))
    if m > 1:
        yield Variant("λ/(2m)", "l2", f"J += (λ/2m)ΣW² (∂J/∂W += (λ/m)W, m = {m}), deeplearning.ai's form",
                      lambda c: with_hyper(c, l2=c.hyper.l2 / m))
    yield Variant("L2 on biases" if not case.hyper.l2_bias else "L2 not on biases", "l2",
                  "the L2 term also on the biases" if not case.hyper.l2_bias else "the L2 term on the weights only",
                  lambda c: with_hyper(c, l2_bias=not c.hyper.l2_bias))


# --------------------------------------------------------------------------- activations

@variant("activation")
def derivative_of_A(case, digits) -> Iterator[Variant]:
    change = with_activations(case, lambda a: a.name != "identity",
                              lambda a: Changed(a.name, a.params, g_prime_fn=lambda Z, A=None, a=a: a.g_prime(a.g(Z))))
    if change:
        yield Variant("g'(A)", "activation", "each derivative taken at A = g(Z) instead of Z (g'(A), e.g. σ(A)(1 − σ(A)))",
                      change)


@variant("activation")
def tanh_without_square(case, digits) -> Iterator[Variant]:
    change = with_activations(case, lambda a: a.name == "tanh",
                              lambda a: Changed(a.name, a.params, g_prime_fn=lambda Z, A=None: 1 - np.tanh(Z)))
    if change:
        yield Variant("tanh' = 1 − tanh", "activation", "tanh' written without the square (1 − tanh(Z))", change)


@variant("activation")
def leaky_slopes(case, digits) -> Iterator[Variant]:
    for slope in (0.01, 0.1, 0.2, 0.3):
        change = with_activations(case, lambda a: a.name == "leaky_relu" and a.params["slope"] != slope,
                                  lambda a, s=slope: RA.make("leaky_relu", **{**a.params, "slope": s}))
        if change:
            yield Variant(f"slope {slope:g}", "activation", f"leaky ReLU with slope {slope:g}", change)


@variant("activation")
def derivative_at_zero(case, digits) -> Iterator[Variant]:
    for value in (0.0, 1.0):
        change = with_activations(case, lambda a: a.name in ("relu", "leaky_relu") and RA.at_zero(a) != value,
                                  lambda a, v=value: RA.make(a.name, **{**a.params, "at_zero": v}))
        if change:
            yield Variant(f"g'(0) = {value:g}", "activation", f"relu'(0) = {value:g} (the derivative at exactly 0)", change)


# --------------------------------------------------------------------------- layout

def square_weights(net) -> list:
    """The names of the weight matrices that load in either orientation (square, at least 2×2)."""
    return [name for name, shape in net.param_shapes().items()
            if name.startswith("W") and shape[0] == shape[1] and shape[0] >= 2]


def with_transposed(case, name: str):
    """The case with parameter ``name`` transposed."""
    c = copy.copy(case)
    c.params = {**c.params, name: np.ascontiguousarray(c.params[name].T)}
    return c


@variant("layout")
def transposed(case, digits) -> Iterator[Variant]:
    for name in square_weights(case.net):
        yield Variant(f"{name}ᵀ", "layout", f"{name} read in the other orientation (transposed)",
                      lambda c, name=name: with_transposed(c, name))


# --------------------------------------------------------------------------- arithmetic

@variant("arithmetic")
def float32(case, digits) -> Iterator[Variant]:
    if case.net.dtype != np.float32:
        yield Variant("float32", "arithmetic", "computed in float32", lambda c: c.cast(np.float32))


@variant("arithmetic")
def rounded(case, digits) -> Iterator[Variant]:
    if digits is None:
        return
    rounders = []
    if 0 < digits.decimals <= 15:
        rounders.append((f"rounded to {digits.decimals} decimals", round_decimals(digits.decimals)))
    if 0 < digits.significant <= 15:
        rounders.append((f"rounded to {digits.significant} significant digits", round_significant(digits.significant)))
    for label, r in rounders:
        change = with_activations(case, lambda a: True,
                                  lambda a, r=r: Changed(a.name, a.params, g_fn=lambda Z, a=a: r(a.g(r(Z))),
                                                         g_prime_fn=lambda Z, A=None, a=a: r(a.g_prime(
                                                             r(Z), A=r(a.g(r(Z)))))))
        yield Variant(f"intermediates {label}", "arithmetic",
                      f"Z, A and g'(Z) {label} (as the text prints them) before they are used further; "
                      f"σ' and tanh' from the rounded A", change)


# --------------------------------------------------------------------------- preprocessing (prep.*)

def _prep(case) -> bool:
    return any("prep." in (q.of or "") for q in case.quantities)


def _sigma_table(ddof: int = 0, eps: float = 0.0, square: bool = False) -> Callable:
    """The expression functions with prep.std and prep.standardize computing σ another way: dividing by
    n − ddof, with ε added to the variance inside the root, or (``square``) dividing by the variance."""
    def sigma(x, d=None):
        var = np.var(np.asarray(x, dtype=float), axis=0, ddof=ddof if d is None else int(d))
        return var + eps if square else np.sqrt(var + eps)

    def standardize(x, *given):
        x = np.asarray(x, dtype=float)
        if given:
            mean, s = (np.asarray(g, dtype=float) for g in given)
            return (x - mean) / (np.square(s) + eps if square else np.sqrt(np.square(s) + eps))
        return (x - np.mean(x, axis=0)) / sigma(x)

    return lambda functions: {**functions, "prep.std": sigma, "prep.standardize": standardize}


@variant("preprocessing")
def sigma_conventions(case, digits) -> Iterator[Variant]:
    if not _prep(case):
        return
    same = lambda c: c          # noqa: E731  (the case is unchanged: only the functions differ)
    # which library takes each σ by default is in CASES.md ("Data preparation"); naming it here, as diagnose's
    # other framework defaults do, needs the registry's settings and a probe that confirms it
    yield Variant("σ ÷ (n − 1)", "preprocessing", "σ dividing by n − 1, the sample σ (ddof = 1), not by n", same,
                  functions=_sigma_table(ddof=1))
    yield Variant("ε = 1e-5 in σ", "preprocessing", "σ as √(variance + 1e-5): ε = 1e-5 added inside the root",
                  same, functions=_sigma_table(eps=1e-5))
    yield Variant("÷ variance", "preprocessing", "divided by the variance σ² instead of σ", same,
                  functions=_sigma_table(square=True))


def families() -> dict:
    """{family: [generator name, …]}: the catalogue as CASES.md documents it."""
    out: dict = {f: [] for f in FAMILIES}
    for family, gen in _GENERATORS:
        out[family].append(gen.__name__)
    return out
