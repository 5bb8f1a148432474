"""Arming, cancelling and claiming timer rows (always inside the caller's transaction)."""
from __future__ import annotations

from datetime import datetime

from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from bot.db.models import Timer

UPDATE_REMINDER = "update_reminder"
PAGE_STEP = "page_step"
# A declare that calls for paging records this, due at once: the page starts right after the ack (and after a crash,
# on the next tick), so the declare's own write stays one statement.
PAGE_START = "page_start"
RUNBOOK_CHECK = "runbook_check"
POSTMORTEM_REMINDER = "postmortem_reminder"
ARCHIVE_CHANNEL = "archive_channel"

TIMERS = Timer.__table__


def arm(session: Session, *, kind: str, incident_id: int | None, due_at: datetime, ref_id: int = 0, reset_fired: bool = False) -> Timer:
    """Set (or move) the live timer of this kind; moving it bumps the fence so a stale run is a no-op."""
    timer = session.scalar(select(Timer).where(Timer.kind == kind, Timer.incident_id == incident_id, Timer.ref_id == ref_id,
                                               Timer.done_at.is_(None)).with_for_update())
    if timer is None:
        timer = Timer(kind=kind, incident_id=incident_id, ref_id=ref_id, due_at=due_at, fired=0, fence=0)
        session.add(timer)
        session.flush()
        return timer
    timer.due_at = due_at
    timer.fence += 1
    if reset_fired:
        timer.fired = 0
    return timer


def arm_new(session: Session, *, kind: str, incident_id: int | None, due_at: datetime, ref_id: int) -> None:
    """`arm` for a timer that cannot exist yet (its `ref_id` row was created in this transaction): one insert, no look
    and no flush of the session."""
    session.execute(_INSERT, {"kind": kind, "incident_id": incident_id, "ref_id": ref_id, "due_at": due_at})


_INSERT = TIMERS.insert().values(fired=0, fence=0)


def new_row(*, kind: str, due_at: datetime, ref_id: int = 0) -> tuple[Table, dict[str, Any]]:
    """The first timer of its kind for an incident being recorded (its id is filled in by the insert): nothing to look
    up or move."""
    return TIMERS, {"kind": kind, "ref_id": ref_id, "due_at": due_at, "fired": 0, "fence": 0, "done_at": None}


def cancel(session: Session, *, kind: str, incident_id: int | None, now: datetime, ref_id: int | None = None) -> int:
    query = update(Timer).where(Timer.kind == kind, Timer.incident_id == incident_id, Timer.done_at.is_(None))
    if ref_id is not None:
        query = query.where(Timer.ref_id == ref_id)
    return session.execute(query.values(done_at=now, fence=Timer.fence + 1).execution_options(synchronize_session=False)).rowcount


def live(session: Session, *, kind: str, incident_id: int, ref_id: int = 0) -> Timer | None:
    return session.scalar(select(Timer).where(Timer.kind == kind, Timer.incident_id == incident_id, Timer.ref_id == ref_id,
                                              Timer.done_at.is_(None)))


def claim_due(session: Session, now: datetime, limit: int, incident_id: int | None = None) -> list[Timer]:
    """Due rows (of one incident, or all), locked for this transaction; on PostgreSQL other replicas skip them rather
    than wait."""
    query = (select(Timer).where(Timer.done_at.is_(None), Timer.due_at <= now).order_by(Timer.due_at).limit(limit)
             .with_for_update(skip_locked=True))
    if incident_id is not None:
        query = query.where(Timer.incident_id == incident_id)
    return list(session.scalars(query))
