"""Starting delivery of queued Slack effects: after a commit (the unit of work calls `after_commit`), and the
periodic pass over whatever is due (retries, effects a crash left behind)."""
from __future__ import annotations

import threading

from bot.core.background import Background
from bot.core.outbox import Outbox

# A commit that queued effects for more incidents than this (a busy tick) gets one pass over the whole backlog
# instead of one drain per incident.
PER_INCIDENT_DRAINS = 8


class Delivery:
    def __init__(self, outbox: Outbox, background: Background) -> None:
        self.outbox = outbox
        self.background = background
        self._delivering = threading.Lock()

    def after_commit(self, incidents: frozenset[int | None]) -> None:
        """Deliver what a transaction just queued, on the background pool: the request that queued it has its answer."""
        if len(incidents) > PER_INCIDENT_DRAINS or None in incidents:
            self.deliver_backlog()
            return
        for incident_id in incidents:
            self.background.run_later(self.outbox.drain, incident_id)

    def deliver_backlog(self) -> None:
        """Start one background delivery pass over every due Slack effect, unless one is already running here."""
        if not self._delivering.acquire(blocking=False):
            return

        def deliver() -> None:
            while True:
                try:
                    self.outbox.drain(until_empty=True)
                finally:
                    self._delivering.release()
                # A commit that queued while we were busy skipped starting its own pass: look once more.
                if not self.outbox.has_due() or not self._delivering.acquire(blocking=False):
                    return

        self.background.run_later(deliver)
