"""Writing the timeline: every flow records here, in the same transaction as the change it describes.

A summary is Slack mrkdwn that is safe to show as it is: user text in it is escaped when recorded (the raw text, when
it matters, is kept in `data`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.models import TimelineEvent

BOT_ACTOR = "sevbot"
TIMELINE = TimelineEvent.__table__
# Built once: a statement object memoises its cache key, so reusing it skips SQLAlchemy's per-call compile work.
_INSERT = insert(TIMELINE)
# A keyed event already recorded is skipped by the database itself, in the same statement (both backends speak
# ON CONFLICT DO NOTHING); a concurrent twin is skipped the same way instead of failing the transaction.
_INSERT_KEYED: dict[str, Insert] = {
    "sqlite": sqlite.insert(TIMELINE).on_conflict_do_nothing(index_elements=[TIMELINE.c.dedupe_key]),
    "postgresql": postgresql.insert(TIMELINE).on_conflict_do_nothing(index_elements=[TIMELINE.c.dedupe_key]),
}


def record(
    session: Session | Connection,
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

    Keyed events are one prebuilt INSERT … ON CONFLICT DO NOTHING. On a Core connection (the hot paths) unkeyed
    events are a plain prebuilt insert too, and nothing is returned.
    """
    row = {"incident_id": incident_id, "at": at, "actor": actor, "kind": kind, "summary": summary, "data": data or {},
           "dedupe_key": dedupe_key}
    if isinstance(session, Session):
        if dedupe_key is None:
            event = TimelineEvent(**row)
            session.add(event)
            return event
        session.flush()  # keep the order of events added earlier in this transaction
        connection = session.connection()
    else:
        connection = session
    connection.execute(_INSERT if dedupe_key is None else _INSERT_KEYED[connection.dialect.name], row)
    return None


def record_new(connection: Connection | Session, rows: list[dict[str, Any]]) -> None:
    """Several unkeyed events in one statement (rows: incident_id, at, actor, kind, summary, data)."""
    if isinstance(connection, Session):
        connection.flush()
        connection = connection.connection()
    connection.execute(_INSERT, [{"dedupe_key": None, **row} for row in rows])
