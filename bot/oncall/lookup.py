"""The final rota as stored: a schedule's layers with its overrides from the database (the caller's session)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.config import Schedule
from bot.oncall.overrides import active_overrides
from bot.oncall.rotation import Shift, next_handoff, on_call_at, schedule_shifts

# Overrides this far around an instant are read to find the edges of the shift holding it (rotations are shorter).
_AROUND = timedelta(days=366)


def final_rota(session: Session, name: str, schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Who is on call in [start, end), overrides included."""
    return schedule_shifts(schedule, start, end, active_overrides(session, name, start, end))


def on_call_now(session: Session, name: str, schedule: Schedule, at: datetime) -> Shift | None:
    """Who is on call for schedule `name` at `at` (None: nobody), overrides included."""
    return on_call_at(schedule, at, active_overrides(session, name, at - _AROUND, at + _AROUND))


def upcoming_handoff(session: Session, name: str, schedule: Schedule, after: datetime,
                     within: timedelta = timedelta(days=35)) -> datetime | None:
    """The next instant after `after` when the person on call for `name` changes (overrides included), or None if
    it does not within `within`."""
    overrides = active_overrides(session, name, after - _AROUND, after + within)
    return next_handoff(schedule, after, overrides, within=within)
