"""torch's own defaults that are variants of the diagnose catalogue (``reference/variants.py``).

``info.py`` names each in words (shown by ``diagnose`` next to a reproducing variant); here torch
computes it with nothing but its defaults, and ``parity_tests/test_diagnose.py`` holds each to the
reference's variant of the same name — the framework confirms the setting.
"""

import numpy as np
import torch


def _t(x):
    return torch.tensor(np.asarray(x, dtype=np.float64))


COMPUTE = {
    "slope 0.01": lambda z, y, yhat: torch.nn.LeakyReLU()(_t(z)).numpy(),
    "mean": lambda z, y, yhat: torch.nn.MSELoss()(_t(yhat), _t(y)).item(),
    "float32": lambda z, y, yhat: str(torch.get_default_dtype()).removeprefix("torch."),
}
