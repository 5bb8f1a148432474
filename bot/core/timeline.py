"""Writing the timeline: every flow records here, in the same transaction as the change it describes.

A summary is Slack mrkdwn that is safe to show as it is: user text in it is escaped when recorded (the raw text, when
it matters, is kept in `data`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Table, bindparam, insert, text
from sqlalchemy.orm import Session

from bot.db.models import TimelineEvent
from bot.db.types import UTCDateTime

BOT_ACTOR = "sevbot"
TIMELINE = TimelineEvent.__table__
# Built once: a statement object memoises its cache key, so reusing it skips SQLAlchemy's per-call compile work.
_INSERT = insert(TIMELINE)
# A keyed event already recorded is skipped by the database itself, in the same statement, and so is a concurrent
# twin. SQLite and PostgreSQL spell ON CONFLICT alike; it is written out because SQLAlchemy's dialect-specific
# on_conflict constructs can't be cached and would be compiled again on every call.
_INSERT_KEYED = text(
    "INSERT INTO timeline_events (incident_id, at, actor, kind, summary, data, dedupe_key) "
    "VALUES (:incident_id, :at, :actor, :kind, :summary, :data, :dedupe_key) ON CONFLICT (dedupe_key) DO NOTHING"
).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("data", type_=JSON()))


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
    connection.execute(_INSERT if dedupe_key is None else _INSERT_KEYED, row)
    return None


def new_row(*, kind: str, actor: str, summary: str, at: datetime, data: dict[str, Any] | None = None) -> tuple[Table, dict[str, Any]]:
    """An event of an incident being recorded (its id is filled in by the insert: see bot/db/with_children.py)."""
    return TIMELINE, {"at": at, "actor": actor, "kind": kind, "summary": summary, "data": data or {}, "dedupe_key": None}


def record_keyed(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Several keyed events in one statement (rows as for record_new, each with its dedupe_key); one round trip."""
    if rows:
        connection.execute(_INSERT_KEYED, rows)


def record_new(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Several unkeyed events in one statement (rows: incident_id, at, actor, kind, summary, data)."""
    connection.execute(_INSERT, [{"dedupe_key": None, **row} for row in rows])
