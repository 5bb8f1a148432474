"""Writing the timeline: every flow records here, in the same transaction as the change it describes.

A summary is Slack mrkdwn that is safe to show as it is: user text in it is escaped when recorded (the raw text, when
it matters, is kept in `data`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.db.models import TimelineEvent

BOT_ACTOR = "sevbot"
TIMELINE = TimelineEvent.__table__


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

    Keyed events use two Core statements on the table (a lookup, then the insert): unlike the ORM path or a dialect's
    ON CONFLICT insert, both are compiled once and cached. The unique key still guards against a concurrent twin.
    """
    if dedupe_key is not None:
        if session.execute(select(TIMELINE.c.id).where(TIMELINE.c.dedupe_key == dedupe_key)).first() is not None:
            return None
        session.execute(insert(TIMELINE).values(
            incident_id=incident_id, at=at, actor=actor, kind=kind, summary=summary, data=data or {}, dedupe_key=dedupe_key))
        return None
    event = TimelineEvent(
        incident_id=incident_id, at=at, actor=actor, kind=kind, summary=summary, data=data or {}, dedupe_key=dedupe_key
    )
    session.add(event)
    return event
