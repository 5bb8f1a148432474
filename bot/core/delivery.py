"""Starting delivery of queued Slack effects: after a commit (the unit of work calls `after_commit`), and the
periodic pass over whatever is due (retries, effects a crash left behind).

Pages have a lane of their own: a committed page goes straight to one of a few threads kept for pages, so it never
waits for a delivery pass to finish a batch of message edits (an alert storm queues hundreds). The periodic pass still
takes any page the lane could not finish (a retry, a crash): a page is claimed once, whoever gets there first."""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bot.core.background import Background
from bot.core.outbox import Outbox
from bot.db.engine import Queued
from bot.priority import REQUESTS_FIRST

# A commit that queued effects for more incidents than this (a busy tick) gets one pass over the whole backlog
# instead of one drain per incident.
PER_INCIDENT_DRAINS = 8
# A backlog pass delivers this many incidents at once, each in order: a Slack that takes 100 ms a call delivers
# ~10 posts a second per thread, and Slack's own limit is about one message a second per channel.
BACKLOG_THREADS = 8
# Pages being sent at once, beyond the passes: each takes one or two Slack calls, and a storm opens a few groups a
# second at most (grouping folds the rest).
PAGE_THREADS = 4


class Delivery:
    def __init__(self, outbox: Outbox, background: Background) -> None:
        self.outbox = outbox
        self.background = background
        self._delivering = threading.Lock()
        self._fan_out = ThreadPoolExecutor(max_workers=BACKLOG_THREADS, thread_name_prefix="sevbot-deliver")
        self._pages = Background(PAGE_THREADS, name="sevbot-page")

    def after_commit(self, queued: Queued) -> None:
        """Deliver what a transaction just queued, on the background pool: the request that queued it has its answer.
        Its pages first, each on the page lane."""
        for item_id in queued.urgent:
            self._pages.run_later(self._deliver_page, item_id)
        incidents = queued.incidents
        if len(incidents) > PER_INCIDENT_DRAINS or None in incidents:
            self.deliver_backlog()
            return
        for incident_id in incidents:
            self.background.run_later(self.outbox.drain, incident_id)

    def _deliver_page(self, item_id: int) -> None:
        with REQUESTS_FIRST.urgent():  # its claim too: the outbox knows it is a page only once claimed
            self.outbox.deliver(item_id)

    def deliver_backlog(self) -> None:
        """Start one background delivery pass over every due Slack effect, unless one is already running here."""
        if not self._delivering.acquire(blocking=False):
            return

        def deliver() -> None:
            while True:
                try:
                    self._deliver_due()
                finally:
                    self._delivering.release()
                # A commit that queued while we were busy skipped starting its own pass: look once more.
                if not self.outbox.has_due() or not self._delivering.acquire(blocking=False):
                    return

        self.background.run_later(deliver)

    def _deliver_due(self) -> None:
        """Every due item, an incident per thread (each incident's items stay in order), until nothing is due. Items
        of no incident (private answers, alert messages and pages) keep no order among themselves: they go out side
        by side, so one alert storm does not queue every page behind it."""
        while True:
            groups = self.outbox.due_groups()
            if not groups:
                return
            jobs: list[Callable[[], object]] = [partial(self.outbox.drain_group, group) for group in groups if group is not None]
            if None in groups:
                jobs += [partial(self.outbox.deliver, item) for item in self.outbox.due_of_no_incident()]
            list(self._fan_out.map(_run, jobs))

    def shutdown(self) -> None:
        self._pages.shutdown()
        self._fan_out.shutdown(wait=True)


def _run(job: Callable[[], object]) -> object:
    return job()
