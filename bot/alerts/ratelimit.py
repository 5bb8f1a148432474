"""Each alert source's request budget: a token bucket per source, in this process (each replica keeps its own)."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimit:
    def __init__(self, per_minute: int, now: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self._tokens = self.capacity
        self._now = now
        self._at = now()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when the request may go ahead; else how many seconds until it could (for Retry-After)."""
        with self._lock:
            now = self._now()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
