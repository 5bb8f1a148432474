"""The timeline's hot-path writes: keyed events once only (also when two arrive together), on both backends."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.db.models import Incident, TimelineEvent
from bot.settings import load_settings
from bot.core.timeline import record, record_keyed


def test_keyed_events_are_recorded_once(database_url: str) -> None:
    url = load_settings(database_url=database_url).database_url
    upgrade(url)
    db = Database(url)
    now = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)
    try:
        with db.unit_of_work() as session:
            session.add(Incident(title="t", severity="sev1", status="investigating", declared_by="U1", declared_at=now))
            session.flush()
            incident_id = session.scalar(select(Incident.id))
        assert incident_id is not None
        row = {"incident_id": incident_id, "at": now, "actor": "sevbot", "kind": "card_posted", "summary": "Posted",
               "data": {"ts": "1.2"}, "dedupe_key": f"{incident_id}:provision:card_posted"}
        with db.transaction() as connection:
            record_keyed(connection, [row, {**row, "kind": "card_pinned", "dedupe_key": f"{incident_id}:provision:card_pinned"}])
        with db.transaction() as connection:  # a retried run records the same steps again: nothing is added
            record_keyed(connection, [row])
            record(connection, incident_id, kind="card_posted", actor="sevbot", summary="Posted", at=now,
                   dedupe_key=row["dedupe_key"])
        with db.unit_of_work() as session:  # the ORM path with the same key adds nothing either
            record(session, incident_id, kind="card_posted", actor="sevbot", summary="Posted", at=now, dedupe_key=row["dedupe_key"])
            record(session, incident_id, kind="note", actor="U1", summary="unkeyed", at=now)
        with db.unit_of_work() as session:
            kinds = dict(session.execute(select(TimelineEvent.kind, func.count()).group_by(TimelineEvent.kind)).all())
            stored = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "card_posted")).one()
        assert kinds == {"card_posted": 1, "card_pinned": 1, "note": 1}
        assert stored.at == now and stored.data == {"ts": "1.2"}  # types survive the hand-written statement
    finally:
        db.dispose()
