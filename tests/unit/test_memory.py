import platform
import subprocess
import sys

import pytest

from ace3d.memory import keep_freed_memory

GLIBC = platform.libc_ver()[0] == "glibc"

# Take and free a 16 MB block with the C library's malloc; print how much of it was mapped apart from the
# heap while in use, and how much free heap the allocator keeps afterwards (MB, from mallinfo2).
PROBE = """
import ctypes, sys
from ace3d.memory import keep_freed_memory
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
if sys.argv[1] == "keep":
    assert keep_freed_memory()
block = libc.malloc(16 << 20)
ctypes.memset(block, 1, 16 << 20)
mapped = libc.mallinfo2().hblkhd
libc.free(block)
print(mapped >> 20, libc.mallinfo2().fordblks >> 20)
"""


def _probe(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    mapped, kept = out.stdout.split()
    return int(mapped), int(kept)


@pytest.mark.skipif(not GLIBC, reason="the allocator setting is glibc's")
def test_freed_blocks_stay_in_the_heap_for_the_next_request():
    """By default glibc maps a 16 MB block on its own and hands it back when freed, so the next explanation
    faults it in again; after keep_freed_memory it comes from the heap and stays there once freed."""
    assert keep_freed_memory() is True
    assert _probe("default") == (16, 0)
    mapped, kept = _probe("keep")
    assert mapped == 0 and kept >= 16
