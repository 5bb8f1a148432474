"""Read-only questions about incidents."""
from __future__ import annotations

from sqlalchemy import select

from bot.db.engine import Database
from bot.db.models import Incident
from bot.domain.incident import CLOSED_STATUS


def open_incidents(db: Database, limit: int = 50) -> list[Incident]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(select(Incident).where(Incident.status != CLOSED_STATUS).order_by(Incident.id.desc()).limit(limit))
        )
