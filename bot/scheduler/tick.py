"""The scheduler tick: claim due timers in one transaction, run each through its use case, commit, then deliver.

On PostgreSQL the claim uses FOR UPDATE SKIP LOCKED, so several `sevbot serve` replicas share the work and each
timer fires exactly once; the fence on each row makes a stale or repeated run a no-op. On SQLite one process ticks.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.db.models import Page, Timer
from bot.scheduler import timers
from bot.services import Services

log = logging.getLogger(__name__)
BATCH = 200


@dataclass(frozen=True)
class TickResult:
    fired: int
    kinds: dict[str, int]


class Scheduler:
    def __init__(self, services: Services) -> None:
        self.services = services
        from bot.usecases.paging import page_timed_out
        from bot.usecases.resolve import archive_due, postmortem_due
        from bot.usecases.runbook_watch import runbook_check_due
        from bot.usecases.updates import reminder_due

        self.handlers: dict[str, Callable[[Services, Session, Timer], None]] = {
            timers.UPDATE_REMINDER: reminder_due,
            timers.PAGE_STEP: lambda services, session, timer: self._page_step(session, timer, page_timed_out),
            timers.RUNBOOK_CHECK: runbook_check_due,
            timers.POSTMORTEM_REMINDER: postmortem_due,
            timers.ARCHIVE_CHANNEL: archive_due,
        }

    def tick(self) -> TickResult:
        """Run everything due now (in batches), then hand the Slack effects to the outbox."""
        total: dict[str, int] = {}
        while True:
            fired = self._batch(total)
            if fired < BATCH:
                break
        if total or self.services.outbox.has_due():
            self.services.deliver_backlog()
        return TickResult(sum(total.values()), total)

    def _batch(self, total: dict[str, int]) -> int:
        now = self.services.clock.now()
        with self.services.db.unit_of_work() as session:
            due = timers.claim_due(session, now, BATCH)
            for timer in due:
                handler = self.handlers.get(timer.kind)
                if handler is None:
                    log.error("timer %s has unknown kind %s; closing it", timer.id, timer.kind)
                    timer.done_at = now
                    continue
                handler(self.services, session, timer)
                total[timer.kind] = total.get(timer.kind, 0) + 1
            return len(due)

    def _page_step(self, session: Session, timer: Timer, page_timed_out: Callable[[Services, Session, Page], None]) -> None:
        page = session.get(Page, timer.ref_id)
        if page is None or page.state != "paging":
            timer.done_at = self.services.clock.now()
            return
        timer.done_at = self.services.clock.now()  # the next tier arms a fresh timer
        session.flush()
        page_timed_out(self.services, session, page)
