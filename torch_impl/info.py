"""The PyTorch mirror in the backend registry (``reference/registry.py``).

Read from its file without importing this package (whose ``__init__`` imports torch): no
framework import here, and only absolute imports.
"""

import sys

from backprop_parity.reference.registry import Backend, Style

BACKEND = Backend(
    name="torch",
    package="backprop_parity.torch_impl",
    title="PyTorch",
    styles=(Style("autograd", "network", "autograd on leaf tensors, retain_grad, torch.optim.SGD",
                  "#D55E00", "s", optimizer_forms=(("momentum", "buffer"), ("nesterov", "buffer"))),
            Style("modules", "idiomatic", "nn.Sequential of nn.Linear, a loss module, hooks, torch.optim.SGD",
                  "#E69F00", "D", optimizer_forms=(("momentum", "buffer"), ("nesterov", "buffer"))),
            Style("ddp", "ddp", "data parallel: DistributedDataParallel, torch.distributed (gloo) with 2 processes",
                  "#A50F15", "h", optimizer_forms=(("momentum", "buffer"), ("nesterov", "buffer")))),
    distributions=("torch",),
    env={},
    imports=("torch",),
    switches=("TORCH_", "PYTORCH_"),
    settings={"slope 0.01": "nn.LeakyReLU() (negative_slope=0.01 by default)",
              "mean": "reduction='mean', the default of its loss modules (nn.MSELoss(), nn.BCELoss()): the average "
                      "over every element",
              "float32": "torch.get_default_dtype() is float32"},
)


def environment() -> list:
    """(name, value) facts about torch as the worker process that ran it loaded it (never imports torch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return [("torch threads", "torch not loaded")]
    out = [("torch threads", f"intra-op {torch.get_num_threads()}, inter-op {torch.get_num_interop_threads()}")]
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        out.append(("torch.distributed", f"{dist.get_backend()}, world size {dist.get_world_size()}: the ddp style's "
                                         f"group (this worker rank {dist.get_rank()}, a helper process rank 1)"))
    return out
