"""Background work while the database is away: one warning when it goes, a reminder each minute while it stays
away, one line when it is back. Not a traceback twice a second."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from bot.db.engine import unavailable

log = logging.getLogger("sevbot.database")
T = TypeVar("T")
REMIND_EVERY = 60.0


class OutageLog:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic, remind_every: float = REMIND_EVERY) -> None:
        self._now = monotonic
        self._remind_every = remind_every
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_said = 0.0

    def guard(self, what: str, work: Callable[[], T]) -> T | None:
        """Run `work`; if the database is away, say so (once, then rarely) and return None."""
        try:
            result = work()
        except Exception as exc:
            if not unavailable(exc):
                raise
            self._went_away(what, exc)
            return None
        self._answered()
        return result

    def _went_away(self, what: str, exc: BaseException) -> None:
        now = self._now()
        with self._lock:
            if self._down_since is None:
                self._down_since = self._last_said = now
                log.warning("the database is not answering (%s during %s); background work waits for it", type(exc).__name__, what)
            elif now - self._last_said >= self._remind_every:
                self._last_said = now
                log.warning("the database is still not answering after %.0f s (%s)", now - self._down_since, type(exc).__name__)

    def _answered(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            away = self._now() - self._down_since
            self._down_since = None
        log.warning("the database is answering again after %.0f s", away)
