"""Read-only questions about incidents."""
from __future__ import annotations

from sqlalchemy import select

from bot.db.engine import Database
from bot.db.models import Incident, TimelineEvent


def open_incidents(db: Database, closed_status: str, limit: int = 50) -> list[Incident]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(select(Incident).where(Incident.status != closed_status).order_by(Incident.id.desc()).limit(limit))
        )


def incident_id_for_channel(db: Database, channel_id: str) -> int | None:
    with db.unit_of_work() as session:
        return session.scalar(select(Incident.id).where(Incident.channel_id == channel_id))


def latest_events(db: Database, incident_id: int, limit: int = 15) -> list[TimelineEvent]:
    """The newest `limit` events, oldest first."""
    with db.unit_of_work() as session:
        rows = list(session.scalars(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc()).limit(limit)
        ))
    return list(reversed(rows))
