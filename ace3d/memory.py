"""Process-wide settings that decide how fast explanations run on a CPU (not per request, not per model)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # the largest glibc accepts on 64-bit systems
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Have glibc's malloc serve blocks under `mmap_threshold` from its heap and keep up to `trim_threshold`
    bytes of freed heap instead of handing them back to the kernel.

    Why: every explanation allocates and frees tens of megabytes of tensors (the removed clips). By default
    glibc maps such blocks afresh and unmaps them when freed (or trims its heap), so each call faults all of
    that memory in again (measured effect: docs/PERFORMANCE.md). The price: the process keeps up to
    `trim_threshold` of freed memory for reuse. Returns False where the C library is not
    glibc or refuses the values; nothing changes then."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl's mallopt does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.info("malloc left as it is: not glibc")
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
    if not ok:
        log.warning("glibc refused malloc thresholds mmap=%d trim=%d", mmap_threshold, trim_threshold)
    return ok
