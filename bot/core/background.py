"""The pool that runs slow work after the ack (Slack calls), off the request thread."""
from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("sevbot.work")

# Each declare holds a worker while Slack answers its steps (~150 ms of waiting, a few ms of work), so the pool is
# sized for declares in flight, not for CPU: 16 provisions ~100 declares/s (Slack allows ~20 channels a minute),
# and each idle thread costs memory (docs/performance.md: 8 workers queued declares; 32 cost 2-3 MiB in a burst).
WORKERS = 16


class Background:
    def __init__(self, workers: int = WORKERS, name: str = "sevbot-work") -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._closed = False

    def run_later(self, work: Callable[..., object], *args: object) -> None:
        """Errors are logged, never swallowed. While stopping, work handed over by work still finishing (a commit
        starting delivery) runs at once on the caller's thread, so a clean stop leaves nothing undelivered."""
        if self._closed:
            _logged(work, *args)
            return
        try:
            # In a copy of the caller's context: the work logs under the request (and incident) that handed it over.
            self._pool.submit(contextvars.copy_context().run, _logged, work, *args)
        except RuntimeError:  # shut down between the check and the submit
            _logged(work, *args)

    def shutdown(self) -> None:
        """Let work already handed over finish (it holds leases and would otherwise be swept later)."""
        self._closed = True
        self._pool.shutdown(wait=True)


def _logged(work: Callable[..., object], *args: object) -> None:
    try:
        work(*args)
    except Exception:
        log.exception("background work %s failed", getattr(work, "__qualname__", work))
