"""The backends: which exist, their styles, how each is shown and how a process starts it.

This is the one place that lists the backend packages (:data:`PACKAGES`). Each package
declares itself in a light module ``info.py`` that defines ``BACKEND = Backend(...)``::

    from backprop_parity.reference.registry import Backend, Style

    BACKEND = Backend(
        name="jax", package="backprop_parity.jax_impl", title="JAX",
        styles=(Style("grad", "network", "jax.grad / jax.vjp, optax", "#009E73", "X"),
                Style("keras", "keras_style", "Keras 3 on JAX", "#CC79A7", "P")),
        distributions=("jax", "jaxlib", "optax", "keras"),
        env={"KERAS_BACKEND": "jax"},
        switches=("JAX_", "XLA_", "KERAS_"))

``info.py`` is read from its file *without importing its package* (a backend package's
``__init__`` imports its framework), so it may import only the standard library and this
module, by absolute name — never the framework, never ``from . import …``. It may also
define ``environment()`` (see ``reports/environment.py``): facts about the framework as a
worker process loaded it, called there after the backend was imported.

Everything else — which backends ``check`` runs, the order of the columns, the styles of
the step mapping, colours and markers of the plots, the versions in the environment block,
the ``differs`` keys a case file may use — is read from here. Nothing outside a backend's
folder, its own tests and this registry names a backend (``parity_tests/test_registry.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# The backend packages, in display order. The reference comes first; a package whose info.py
# does not exist (yet) is left out.
PACKAGES = ("backprop_parity.reference", "backprop_parity.torch_impl", "backprop_parity.tf_impl",
            "backprop_parity.jax_impl")

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RegistryError(ValueError):
    """An info.py that does not declare a usable backend (a programming mistake, said at once)."""


class UnknownBackend(ValueError):
    """A backend name that no registered backend has (a usage mistake: ``--backend nope``)."""


@dataclass(frozen=True)
class Style:
    name: str          # "autograd": the second half of "torch/autograd" in every row
    module: str        # the module of the backend package holding the contract's functions ("network")
    title: str         # a few words for people ("autograd on leaf tensors")
    colour: str        # the plots' colour for this style ("#D55E00")
    marker: str        # the plots' marker letter: o s D ^ v < > P X ("s", a square)
    optimizer_forms: tuple = ()   # ((optimizer, written form), …) where the framework's optimizer is not
                                  # written as its paper (reference/optimizers.py FORMS): "buffer", "eps-inside" …

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise RegistryError(f"style name {self.name!r}: use lower-case letters, digits and '_'")
        if not isinstance(self.module, str) or not _MODULE.fullmatch(self.module):
            raise RegistryError(f"style {self.name}: module {self.module!r} is not a module name")
        from .optimizers import FORMS
        forms = tuple(dict(self.optimizer_forms).items())
        for optimizer, written in forms:
            if written not in FORMS.get(optimizer, {}):
                raise RegistryError(f"style {self.name}: optimizer form {optimizer}={written!r} is not one of "
                                    f"reference/optimizers.py FORMS")
        object.__setattr__(self, "optimizer_forms", forms)

    @property
    def forms(self) -> dict:
        return dict(self.optimizer_forms)


@dataclass(frozen=True)
class Backend:
    name: str                       # "torch": what --backend takes and every row says
    package: str                    # "backprop_parity.torch_impl"
    title: str                      # "PyTorch"
    styles: tuple                   # Style, … in display order
    distributions: tuple = ()       # pip names whose versions the environment block reports
    env: dict = field(default_factory=dict)   # environment variables set before the package is imported
    imports: tuple = ()             # the framework's top-level modules ("torch"): the import floor of bench
    switches: tuple = ()            # prefixes of environment variables that change what the framework computes
                                    # ("TF_": TF_ENABLE_ONEDNN_OPTS …): part of a reused result's key (reports/cache.py)
    reference: bool = False         # the one backend every other is compared with
    sealed: bool = True             # in its worker the reference's numerics raise (reference/provenance.py);
                                    # only a test double that relabels the reference's numbers turns it off
    settings: dict = field(default_factory=dict)   # diagnose variant name -> the framework setting it is, in words;
                                    # the package's settings.py computes each with the framework's defaults
    log_noise: tuple = ()           # beginnings of the framework's own log lines that speak of speed, not numbers:
                                    # its worker does not relay them (reports/worker.py; shown with
                                    # BACKPROP_PARITY_FRAMEWORK_LOG=all)

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise RegistryError(f"backend name {self.name!r}: use lower-case letters, digits and '_'")
        styles = tuple(self.styles)
        if not styles or not all(isinstance(s, Style) for s in styles):
            raise RegistryError(f"backend {self.name}: styles must be one or more Style(...)")
        names = [s.name for s in styles]
        if len(set(names)) != len(names):
            raise RegistryError(f"backend {self.name}: duplicate style names {names}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in dict(self.env).items()):
            raise RegistryError(f"backend {self.name}: env must map variable names to text")
        object.__setattr__(self, "styles", styles)
        object.__setattr__(self, "distributions", tuple(self.distributions))
        if isinstance(self.switches, str) or not all(isinstance(p, str) and p for p in self.switches):
            raise RegistryError(f"backend {self.name}: switches must be a tuple of variable-name prefixes")
        object.__setattr__(self, "switches", tuple(self.switches))
        object.__setattr__(self, "imports", tuple(self.imports))
        object.__setattr__(self, "env", dict(self.env))
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in dict(self.settings).items()):
            raise RegistryError(f"backend {self.name}: settings must map variant names to text")
        object.__setattr__(self, "settings", dict(self.settings))

    def __hash__(self):                 # env is a dict: hash by identity of the declaration
        return hash((self.name, self.package))

    def style(self, name: str) -> Style:
        for s in self.styles:
            if s.name == name:
                return s
        raise KeyError(f"{self.name} has no style {name!r} (styles: {', '.join(self.style_names)})")

    @property
    def style_names(self) -> tuple:
        return tuple(s.name for s in self.styles)

    @property
    def folder(self) -> str:
        """The package's last component ("torch_impl")."""
        return self.package.rsplit(".", 1)[-1]


def package_dir(package: str) -> Path | None:
    """The folder ``package`` is imported from, found without importing it (None: not installed)."""
    module = sys.modules.get(package)
    if module is not None and getattr(module, "__file__", None):
        return Path(module.__file__).resolve().parent
    try:
        spec = importlib.util.find_spec(package)   # imports the parent package only, never this one
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def info_module(package: str):
    """``<package>.info``, loaded from its file (the package itself is not imported); None when absent."""
    name = f"{package}.info"
    if name in sys.modules:
        return sys.modules[name]
    if package in sys.modules:                  # already imported: the ordinary way
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                return None
            raise
    directory = package_dir(package)
    if directory is None or not (directory / "info.py").is_file():
        return None
    spec = importlib.util.spec_from_file_location(name, directory / "info.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _declared(package: str) -> Backend | None:
    module = info_module(package)
    if module is None:
        return None
    backend = getattr(module, "BACKEND", None)
    if not isinstance(backend, Backend):
        raise RegistryError(f"{package}.info defines no BACKEND = Backend(...)")
    if backend.package != package:
        raise RegistryError(f"{package}.info declares package {backend.package!r}")
    return backend


def entries() -> tuple:
    """Every declared backend, in the order of :data:`PACKAGES`."""
    found = [b for b in (_declared(p) for p in PACKAGES) if b is not None]
    names = [b.name for b in found]
    if len(set(names)) != len(names):
        raise RegistryError(f"two backends share a name: {names}")
    if sum(1 for b in found if b.reference) != 1:
        raise RegistryError("exactly one backend must be the reference (reference=True), found "
                            f"{[b.name for b in found if b.reference]}")
    return tuple(found)


def names() -> tuple:
    return tuple(b.name for b in entries())


def get(name: str) -> Backend:
    for b in entries():
        if b.name == name:
            return b
    raise UnknownBackend(f"unknown backend {name!r} (known: {', '.join(names())}, all)")


def reference() -> Backend:
    return next(b for b in entries() if b.reference)


def style_names(name: str) -> tuple:
    return get(name).style_names


def style(name: str, style_name: str) -> Style | None:
    """A style of a registered backend, or None (a style no info.py declares)."""
    for b in entries():
        if b.name == name:
            return next((s for s in b.styles if s.name == style_name), None)
    return None
