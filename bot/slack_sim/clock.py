"""OffsetClock: real time plus an offset that only moves forward, shared by the bot and the simulator.

The sandbox hands the same clock to the bot (`Runtime.create(..., clock=...)`, which reads `now()`) and to the
simulated workspace (which reads `time()` for message ts, trigger and response_url lifetimes). Fast-forwarding it
makes "15 minutes later" true for both sides at once; request signatures keep using real time, as Slack's do.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone


class OffsetClock:
    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self._base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        """Seconds since the epoch, like time.time(), shifted by the offset."""
        with self._lock:
            return self._base() + self._offset

    def now(self) -> datetime:
        """The bot's Clock protocol: an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), timezone.utc)

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> datetime:
        """Jump forward (never back: due times already handed out must stay in the past once passed)."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()
