"""Stateful optimizers by hand: each update as its paper states it, and in each other written form in use.

The frameworks agree on plain SGD and disagree, in small ways that show, on everything with state.
Each optimizer has the forms below (:data:`FORMS`); the paper's is the default, and a backend style
declares in the registry which form its framework's optimizer is written in (``Style.optimizer_forms``):

* momentum — ``velocity``: v = μv − lr·g; p += v (Sutskever et al. 2013, eq. 1–2) | ``buffer``:
  b = μb + g; p −= lr·b. The same while lr is constant (v = −lr·b); apart after a change of lr.
* nesterov — ``velocity``: v = μv − lr·g; p += μv − lr·g (Bengio et al. 2012's rewriting) |
  ``buffer``: b = μb + g; p −= lr·(g + μb).
* rmsprop — ``eps-outside``: v = ρv + (1−ρ)g²; p −= lr·g/(√v + ε) (Tieleman & Hinton 2012, with ε)
  | ``eps-inside``: p −= lr·g/√(v + ε). Centered: v − ḡ² under the root, ḡ = ρḡ + (1−ρ)g.
* adam, adamw — ``eps-after``: m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ), p −= lr·m̂/(√v̂ + ε) (Kingma & Ba
  2015, Algorithm 1) | ``eps-before``: lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ), p −= lr_t·m/(√v + ε) — ε added
  to √v before the bias correction, ε/√(1−β2ᵗ) in Algorithm 1's terms (31.6·ε at t = 1).
  adamw first decays: p −= lr·λ·p (Loshchilov & Hutter 2019, decoupled).

A style whose form is not the case's gets the reference rerun in its form (``reports/run.py``),
so its numbers are held to that form at the float64 bound, and a case's ``differs`` rows measure
how far the forms are apart. The state is traced after the first epoch (``opt_new.*``) and after
the last (``opt.*``): ``velocity`` (momentum buffer, in the form's own sign and scale), ``m``
(first moment, or ḡ of centered RMSprop), ``v`` (second moment), ``t`` (updates so far).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
ADAPTIVE = ("rmsprop", "adam", "adamw")          # not linear in the gradient: α·s cannot move into lr
FORMS = {
    "momentum": {"velocity": "v = μv − lr·g; p += v", "buffer": "b = μb + g; p −= lr·b"},
    "nesterov": {"velocity": "v = μv − lr·g; p += μv − lr·g", "buffer": "b = μb + g; p −= lr·(g + μb)"},
    "rmsprop": {"eps-outside": "p −= lr·g/(√v + ε)", "eps-inside": "p −= lr·g/√(v + ε)"},
    "adam": {"eps-after": "p −= lr·m̂/(√v̂ + ε), ε after the bias correction",
             "eps-before": "p −= lr·√(1−β2ᵗ)/(1−β1ᵗ)·m/(√v + ε), ε before the bias correction"},
}
FORMS["adamw"] = FORMS["adam"]
PAPER = {"momentum": "velocity", "nesterov": "velocity", "rmsprop": "eps-outside", "adam": "eps-after",
         "adamw": "eps-after"}
SLOTS = {"sgd": (), "momentum": ("velocity",), "nesterov": ("velocity",), "rmsprop": ("v",),
         "adam": ("m", "v"), "adamw": ("m", "v")}


def slots(hyper) -> tuple[str, ...]:
    """The state an optimizer keeps per parameter (centered RMSprop also keeps ḡ as ``m``)."""
    return SLOTS[hyper.optimizer] + (("m",) if hyper.optimizer == "rmsprop" and hyper.centered else ())


def form(hyper) -> str:
    """The written form the case's optimizer follows: the case's ``form``, else its paper's ("" for SGD)."""
    return hyper.form or PAPER.get(hyper.optimizer, "")


def in_form(case, forms: dict):
    """(the case in the form a style's framework writes its optimizer, a note), or None when that is the case's."""
    import dataclasses
    h = case.hyper if case is not None and case.net is not None else None
    if h is None or h.optimizer not in FORMS:
        return None
    theirs = forms.get(h.optimizer, PAPER[h.optimizer])
    if theirs == form(h):
        return None
    note = (f"its {h.optimizer} is written {FORMS[h.optimizer][theirs]} where the case's is "
            f"{FORMS[h.optimizer][form(h)]}; the reference is run in that form")
    return dataclasses.replace(case, hyper=dataclasses.replace(h, form=theirs)), note


def lr_at(hyper, t: int) -> float:
    """The learning rate of update t (1, 2, …): the last ``lr_schedule`` entry whose step ≤ t, else α."""
    lr = hyper.learning_rate
    for start, value in hyper.lr_schedule:
        if t >= start:
            lr = value
    return lr


def schedule_points(hyper, *factors: float) -> tuple[list, list]:
    """The schedule for a framework that counts updates from 0: (the count at which each new lr starts,
    [lr before the first start, lr after each]), every lr multiplied by ``factors`` in order (α·s·m, rounded
    as the frameworks' own products are). An entry from update 1 replaces α. No starts: one constant lr."""
    def times(v):
        for f in factors:
            v = v * f
        return v
    starts = [t - 1 for t, _ in hyper.lr_schedule]
    values = [times(hyper.learning_rate)] + [times(v) for _, v in hyper.lr_schedule]
    if starts and starts[0] == 0:
        starts, values = starts[1:], values[1:]
    return starts, values


@dataclass
class State:
    """The optimizer by hand: its hyper-parameters, the form it follows, and its state per parameter."""
    hyper: object
    scale: float = 1.0                          # s of the article's α·s (SGD-like optimizers only)
    t: int = 0
    state: dict = field(default_factory=dict)   # slot -> {parameter name: array}

    def snapshot(self) -> dict:
        return {"t": self.t, **{slot: dict(arrays) for slot, arrays in self.state.items()}}


def constant(hyper, name: str, value: float) -> float:
    """An optimizer constant as the form computes with it: float32-rounded where a framework keeps it so."""
    return float(np.float32(value)) if name in hyper.float32_constants else value


def update(opt: State, name: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """One parameter's new value after update ``opt.t`` (already counted), by the optimizer's formula."""
    h, kind = opt.hyper, opt.hyper.optimizer
    lr = lr_at(h, opt.t) * opt.scale
    form_ = form(h)
    S = opt.state

    def slot(key):
        return S.setdefault(key, {}).get(name, np.zeros_like(p))

    if kind == "sgd":
        return p - lr * g                                                    # [step:update:sgd] p −= lr·g
    if kind in ("momentum", "nesterov"):
        mu = constant(h, "momentum", h.momentum)
        if form_ == "velocity":                                              # v = μv − lr·g
            v = mu * slot("velocity") - lr * g                               # [step:update:momentum,nesterov] v = μv − lr·g
            S["velocity"][name] = v
            return p + v if kind == "momentum" else p + mu * v - lr * g      # [step:update:momentum,nesterov] p += v | μv − lr·g
        b = mu * slot("velocity") + g                                        # [step:update:momentum,nesterov] b = μb + g
        S["velocity"][name] = b
        return p - lr * b if kind == "momentum" else p - lr * (g + mu * b)   # [step:update:momentum,nesterov] p −= lr·b | lr·(g + μb)
    if kind == "rmsprop":
        rho, eps = h.rho, h.eps
        v = rho * slot("v") + (1 - rho) * g * g                              # [step:update:rmsprop] v = ρv + (1−ρ)g²
        S["v"][name] = v
        centred = v
        if h.centered:
            gbar = rho * slot("m") + (1 - rho) * g                           # ḡ = ρḡ + (1−ρ)g
            S["m"][name] = gbar
            centred = v - gbar * gbar
        if form_ == "eps-inside":
            return p - lr * g / np.sqrt(centred + eps)                       # [step:update:rmsprop] ε inside the root
        return p - lr * g / (np.sqrt(centred) + eps)                         # [step:update:rmsprop] ε outside
    # adam, adamw
    b1, b2, eps, t = h.beta1, h.beta2, h.eps, opt.t
    if kind == "adamw":
        p = p - p * constant(h, "weight_decay", h.weight_decay) * lr         # [step:update:adamw] decoupled: p −= lr·λ·p
    m = b1 * slot("m") + (1 - b1) * g                                        # [step:update:adam,adamw] m = β1m + (1−β1)g
    v = b2 * slot("v") + (1 - b2) * g * g                                    # [step:update:adam,adamw] v = β2v + (1−β2)g²
    S["m"][name], S["v"][name] = m, v
    p1, p2 = constant(h, "beta powers", b1) ** t, constant(h, "beta powers", b2) ** t
    if form_ == "eps-before":
        lr_t = lr * np.sqrt(1 - p2) / (1 - p1)                               # ε before the bias correction
        return p - lr_t * m / (np.sqrt(v) + eps)                             # [step:update:adam,adamw] ε before the correction
    m_hat, v_hat = m / (1 - p1), v / (1 - p2)                                # bias correction
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)                           # [step:update:adam,adamw] p −= lr·m̂/(√v̂ + ε)


def traced(hyper, snapshots: dict) -> dict:
    """The trace keys of {"opt_new": snapshot, "opt": snapshot} — none for plain SGD, which keeps no state."""
    if hyper.optimizer == "sgd":
        return {}
    out = {}
    for prefix, snap in snapshots.items():
        out.update(state_keys(prefix, snap))
    return out


def state_keys(prefix: str, snapshot: dict | None) -> dict:
    """``{prefix}.t`` and ``{prefix}.{slot}.W[k]`` … from an optimizer's state (as NumPy, article names)."""
    from .spec import param_key
    if not snapshot:
        return {}
    out = {f"{prefix}.t": np.float64(snapshot["t"])}
    for slot_name, arrays in snapshot.items():
        if slot_name != "t":
            for pname, x in arrays.items():
                out[param_key(f"{prefix}.{slot_name}", pname)] = np.asarray(x)
    return out


def describe(hyper) -> str:
    """The optimizer and its hyper-parameters, in words (what the case asks for)."""
    h, o = hyper, hyper.optimizer
    parts = {"sgd": [], "momentum": [f"μ = {h.momentum:g}"], "nesterov": [f"μ = {h.momentum:g}"],
             "rmsprop": [f"ρ = {h.rho:g}", f"ε = {h.eps:g}"] + (["centered"] if h.centered else []),
             "adam": [f"β1 = {h.beta1:g}", f"β2 = {h.beta2:g}", f"ε = {h.eps:g}"],
             "adamw": [f"β1 = {h.beta1:g}", f"β2 = {h.beta2:g}", f"ε = {h.eps:g}", f"λ = {h.weight_decay:g}"]}[o]
    if h.lr_schedule:
        parts.append("lr " + ", ".join(f"{lr:g} from step {s}" for s, lr in h.lr_schedule))
    return o + (f" ({', '.join(parts)})" if parts else "")
