"""The PyTorch mirror of the NumPy reference (``reference/``).

Two styles, both loading the case's initial weights exactly, float64 by default:

* ``network``   — "autograd": the article's tensors, Z and A as the article writes
  them, δ from ``retain_grad()``, the update by ``torch.optim.SGD``;
* ``idiomatic`` — "modules": ``nn.Sequential`` of ``nn.Linear`` and activation
  modules, a loss module, hooks, ``torch.optim.SGD``.

Both keep the contract of ``reference/contract.py``; gradient checking and the trace
are the reference's (``reference/gradcheck.py``, ``reference/trace.py``).

``backend.py`` exposes them as ``STYLES`` and the small functions as ``functions()``.
Importing this package needs torch: without it the import fails and the report
shows the torch rows as NOT RUN (a failure), never as silently skipped.
"""

import torch  # noqa: F401  (fail early and clearly when torch is not installed)
