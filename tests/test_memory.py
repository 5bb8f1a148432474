"""`sevbot serve`'s memory habits: they run on this platform and leave the collector in the state they promise."""
from __future__ import annotations

import gc

from bot.memory import limit_malloc_arenas, settle_after_startup


def test_settle_after_startup_freezes_what_start_up_built() -> None:
    limit_malloc_arenas()  # must not raise, glibc or not
    try:
        before = gc.get_freeze_count()
        kept = [object() for _ in range(1000)]
        settle_after_startup()
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()
