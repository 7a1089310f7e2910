"""Keep freed memory for the next array: glibc's malloc thresholds, set once per process.

Every step of the reference makes new arrays (``p − α·s·∂J/∂W`` is a new W; the history of training
keeps them all). glibc serves an allocation above its mmap threshold with a fresh ``mmap`` and hands
it back with ``munmap`` when freed; the next array of that size then page-faults its way in again.
At 784-256-128-10 that costs more than the arithmetic: one update ``W − 0.1·G`` of a 784×256 float64
W took 1.3 ms instead of 0.07 ms, and a whole training step twice its time (``backprop-parity bench``).
:func:`reuse_freed_memory` raises the mmap threshold (arrays up to 64 MiB come from the heap and are
reused) and the trim threshold (up to 256 MiB of freed heap is kept rather than returned). It changes
how memory is obtained, never a number. On anything but glibc it does nothing.

The command line calls it in the process that runs the reference; importing the reference does not.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 64 * 2 ** 20
TRIM_THRESHOLD = 256 * 2 ** 20
_done: list = []


def reuse_freed_memory() -> bool:
    """Set the thresholds (once); True when glibc accepted them."""
    if _done:
        return _done[0]
    ok = False
    if sys.platform.startswith("linux"):
        try:
            mallopt = ctypes.CDLL(None).mallopt          # the C library this Python runs on
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        except (OSError, AttributeError):
            ok = False            # not glibc (musl, macOS …): nothing to set
    _done.append(ok)
    return ok
