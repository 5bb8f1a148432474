"""Claiming a row for one worker: a lease that expires on its own, and an attempt counter that fences late writers.

Used by provisioning (incidents) and the outbox (items): the same conditional UPDATE decides who works on a row,
so two workers, two replicas or a restart after a crash never act on it at once.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.orm import InstrumentedAttribute, Session


def claim(session: Session, model: type[Any], row_id: int, *, lease_until: InstrumentedAttribute[Any],
          attempts: InstrumentedAttribute[Any], unfinished: ColumnElement[bool], now: datetime, lease: timedelta) -> bool:
    """Take the row when it is unfinished and nobody holds a live lease; bumps `attempts` (the fencing token)."""
    claimed = session.execute(
        update(model)
        .where(model.id == row_id, unfinished)
        .where(or_(lease_until.is_(None), lease_until < now))
        .values({lease_until.key: now + lease, attempts.key: attempts + 1})
        .execution_options(synchronize_session=False)
    ).rowcount
    return claimed == 1
