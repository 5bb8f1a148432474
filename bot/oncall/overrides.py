"""Overrides in the database: someone covers a schedule for a while. Queries only; the caller owns the unit of work."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.errors import BadInput
from bot.db.models import OncallOverride
from bot.oncall.rotation import OverrideWindow


def window(row: OncallOverride) -> OverrideWindow:
    return OverrideWindow(id=row.id, user=row.user_id, start=row.starts_at, end=row.ends_at, created_at=row.created_at)


def active_overrides(session: Session, schedule: str, start: datetime, end: datetime) -> list[OverrideWindow]:
    """The schedule's overrides (not removed) that overlap [start, end)."""
    rows = session.scalars(select(OncallOverride).where(
        OncallOverride.schedule == schedule, OncallOverride.removed_at.is_(None),
        OncallOverride.starts_at < end, OncallOverride.ends_at > start,
    ).order_by(OncallOverride.created_at, OncallOverride.id))
    return [window(row) for row in rows]


def add_override(session: Session, *, schedule: str, user_id: str, starts_at: datetime, ends_at: datetime,
                 created_by: str, now: datetime, replaced_user_id: str | None = None,
                 idempotency_key: str | None = None) -> OncallOverride:
    """Record an override; the same idempotency key again returns the first row instead of adding a second."""
    if ends_at <= starts_at:
        raise BadInput("An override has to end after it starts.")
    if idempotency_key is not None:
        existing = _by_key(session, idempotency_key)
        if existing is not None:
            return existing
    row = OncallOverride(schedule=schedule, user_id=user_id, replaced_user_id=replaced_user_id, starts_at=starts_at,
                         ends_at=ends_at, created_by=created_by, created_at=now, idempotency_key=idempotency_key)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # A concurrent retry of the same command got there first: its row is the one.
        existing = _by_key(session, idempotency_key) if idempotency_key is not None else None
        if existing is None:
            raise
        return existing
    return row


def remove_override(session: Session, override_id: int, *, removed_by: str, now: datetime) -> OncallOverride | None:
    """Mark an override removed (kept for the record); None if there is no such override. Removing twice keeps
    the first removal."""
    row = session.get(OncallOverride, override_id)
    if row is None:
        return None
    if row.removed_at is None:
        row.removed_at, row.removed_by = now, removed_by
    return row


def _by_key(session: Session, key: str) -> OncallOverride | None:
    return session.scalar(select(OncallOverride).where(OncallOverride.idempotency_key == key))
