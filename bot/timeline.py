"""Writing the timeline: every flow records here, in the same transaction as the change it describes.

A summary is Slack mrkdwn that is safe to show as it is: user text in it is escaped when recorded (the raw text, when
it matters, is kept in `data`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.db.models import TimelineEvent

BOT_ACTOR = "sevbot"


def record(
    session: Session,
    incident_id: int,
    *,
    kind: str,
    actor: str,
    summary: str,
    at: datetime,
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> TimelineEvent | None:
    """Add one event; with a dedupe_key already recorded it returns None and adds nothing.

    Keyed events are written with INSERT … ON CONFLICT DO NOTHING: one statement, and safe against a concurrent twin.
    """
    if dedupe_key is not None:
        insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
        session.execute(
            insert(TimelineEvent)
            .values(incident_id=incident_id, at=at, actor=actor, kind=kind, summary=summary, data=data or {}, dedupe_key=dedupe_key)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        return None
    event = TimelineEvent(
        incident_id=incident_id, at=at, actor=actor, kind=kind, summary=summary, data=data or {}, dedupe_key=dedupe_key
    )
    session.add(event)
    return event
