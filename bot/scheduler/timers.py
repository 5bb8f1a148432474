"""Arming, cancelling and claiming timer rows (always inside the caller's transaction)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from bot.db.models import Timer

UPDATE_REMINDER = "update_reminder"
PAGE_STEP = "page_step"
RUNBOOK_CHECK = "runbook_check"
POSTMORTEM_REMINDER = "postmortem_reminder"
ARCHIVE_CHANNEL = "archive_channel"

_INSERT = insert(Timer.__table__)


def arm(session: Session, *, kind: str, incident_id: int, due_at: datetime, ref_id: int = 0, reset_fired: bool = False) -> Timer:
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


def arm_new(connection: Connection, *, kind: str, incident_id: int, due_at: datetime, ref_id: int = 0) -> None:
    """The first timer of its kind for an incident recorded in this same transaction: nothing to look up or move."""
    connection.execute(_INSERT, {"kind": kind, "incident_id": incident_id, "ref_id": ref_id, "due_at": due_at, "fired": 0,
                                 "fence": 0, "done_at": None})


def cancel(session: Session, *, kind: str, incident_id: int, now: datetime, ref_id: int | None = None) -> int:
    query = update(Timer).where(Timer.kind == kind, Timer.incident_id == incident_id, Timer.done_at.is_(None))
    if ref_id is not None:
        query = query.where(Timer.ref_id == ref_id)
    return session.execute(query.values(done_at=now, fence=Timer.fence + 1).execution_options(synchronize_session=False)).rowcount


def live(session: Session, *, kind: str, incident_id: int, ref_id: int = 0) -> Timer | None:
    return session.scalar(select(Timer).where(Timer.kind == kind, Timer.incident_id == incident_id, Timer.ref_id == ref_id,
                                              Timer.done_at.is_(None)))


def claim_due(session: Session, now: datetime, limit: int) -> list[Timer]:
    """Due rows, locked for this transaction; on PostgreSQL other replicas skip them rather than wait."""
    query = (select(Timer).where(Timer.done_at.is_(None), Timer.due_at <= now).order_by(Timer.due_at).limit(limit)
             .with_for_update(skip_locked=True))
    return list(session.scalars(query))
