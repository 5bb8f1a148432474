"""The scheduler tick: claim due timers in one transaction, run each through its feature's handler, commit, deliver.

On PostgreSQL the claim uses FOR UPDATE SKIP LOCKED, so several `sevbot serve` replicas share the work and each
timer fires exactly once; the fence on each row makes a stale or repeated run a no-op. On SQLite one process ticks.
Each feature owns its timer kinds and registers their handlers with the composition root; the tick knows none.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import metrics
from bot.clock import Clock
from bot.db.engine import Database
from bot.db.models import Timer
from bot.scheduler import timers

log = logging.getLogger(__name__)
BATCH = 200

# Runs inside the tick's transaction: re-arm or finish the timer, record, enqueue Slack effects.
TimerHandler = Callable[[Session, Timer], None]


@dataclass(frozen=True)
class TickResult:
    fired: int
    kinds: dict[str, int]


class Scheduler:
    def __init__(self, db: Database, clock: Clock, handlers: Mapping[str, TimerHandler],
                 deliver_backlog: Callable[[], None], backlog_due: Callable[[], bool]) -> None:
        self.db = db
        self.clock = clock
        self.handlers = dict(handlers)
        self._deliver_backlog = deliver_backlog
        self._backlog_due = backlog_due

    def tick(self) -> TickResult:
        """Run everything due now (in batches), then one delivery pass over the whole due backlog: the tick's commits
        do not start delivery each, so a busy tick's batches don't compete with their own deliveries."""
        started = time.perf_counter()
        total: dict[str, int] = {}
        late: list[float] = []  # each batch's claim time minus its oldest due time
        while True:
            fired = self._batch(total, late)
            if fired < BATCH:
                break
        if total or self._backlog_due():
            self._deliver_backlog()
        metrics.tick_done(time.perf_counter() - started, max(late) if late else None)
        return TickResult(sum(total.values()), total)

    def run_due(self, incident_id: int) -> int:
        """One incident's due timers, now (e.g. the page a declare called for, right after its ack); what they queue
        is delivered on commit. The tick would run them too: claiming them under lock means exactly one of us does."""
        total: dict[str, int] = {}
        with self.db.unit_of_work() as session:
            self._fire(session, timers.claim_due(session, self.clock.now(), BATCH, incident_id), total)
        return sum(total.values())

    def _batch(self, total: dict[str, int], late: list[float]) -> int:
        now = self.clock.now()
        with self.db.unit_of_work(deliver=False) as session:
            due = timers.claim_due(session, now, BATCH)
            if due:
                late.append((now - min(timer.due_at for timer in due)).total_seconds())  # before the handlers re-arm them
            self._fire(session, due, total)
            return len(due)

    def _fire(self, session: Session, due: list[Timer], total: dict[str, int]) -> None:
        for timer in due:
            handler = self.handlers.get(timer.kind)
            if handler is None:
                log.error("timer %s has unknown kind %s; closing it", timer.id, timer.kind)
                timer.done_at = self.clock.now()
                continue
            handler(session, timer)
            total[timer.kind] = total.get(timer.kind, 0) + 1
