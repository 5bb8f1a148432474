"""Process-level memory habits for `sevbot serve`: fewer malloc arenas, and start-up garbage handed back.

Both are glibc features reached through ctypes; elsewhere (musl, macOS) they quietly do nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

# mallopt() parameter number for the arena cap (glibc's malloc.h: #define M_ARENA_MAX -8).
_M_ARENA_MAX = -8


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_malloc_arenas(arenas: int = 1) -> None:
    """Call before any thread starts. glibc gives busy threads arenas of their own (up to 8 per core), each keeping
    its freed memory; the bot's threads mostly wait on Slack, so sharing one arena costs nothing and saves ~3 MiB."""
    libc = _libc()
    if libc is not None and libc.mallopt(_M_ARENA_MAX, arenas) != 1:
        log.debug("mallopt(M_ARENA_MAX) refused")


def settle_after_startup() -> None:
    """Free what start-up left behind (config parsing, template compiles), return it to the OS, and move the
    long-lived start-up objects out of the garbage collector's way (fewer, shorter pauses under load)."""
    gc.collect()
    gc.freeze()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def hand_back_freed() -> None:
    """After a one-off burst of allocations (an insights report reads a whole period), collect and return the freed
    pages to the OS, so a long-running bot does not keep the burst's high-water mark as its resting size."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
