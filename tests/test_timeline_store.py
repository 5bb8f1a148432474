"""The timeline's hot-path writes: keyed events once only (also when two arrive together), on both backends."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

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


def test_a_declare_writes_all_its_rows_in_one_statement_or_none(database_url: str) -> None:
    """The declare's insert: the incident and every row pointing at it land together (one statement and no BEGIN or
    COMMIT on PostgreSQL); a child row the database refuses takes the incident with it."""
    from sqlalchemy import event

    from bot.db.models import RoleAssignment, Timer
    from bot.db.with_children import insert_with_children

    url = load_settings(database_url=database_url).database_url
    upgrade(url)
    db = Database(url)
    now = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)
    incident = {"title": "t", "severity": "sev1", "status": "investigating", "declared_by": "U1", "declared_at": now}
    role = {"role": "ic", "user_id": "U1", "assigned_by": "U1", "assigned_at": now, "ended_at": None}
    events = [{"at": now, "actor": "U1", "kind": kind, "summary": kind, "data": {"n": n}, "dedupe_key": None}
              for n, kind in enumerate(["declared", "role_assigned"])]
    timer = {"kind": "update_reminder", "ref_id": 0, "due_at": now, "fired": 0, "fence": 0, "done_at": None}
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        children = [(RoleAssignment.__table__, [role]), (TimelineEvent.__table__, events), (Timer.__table__, [timer])]
        first = insert_with_children(db, Incident.__table__, incident, children, foreign_key="incident_id")
        if db.is_postgres:
            assert len(statements) == 1, statements
        second = insert_with_children(db, Incident.__table__, {**incident, "title": "u"}, children, foreign_key="incident_id")
        assert second == first + 1
        refused = [(TimelineEvent.__table__, [{**events[0], "dedupe_key": "k"}, {**events[1], "dedupe_key": "k"}])]
        try:
            insert_with_children(db, Incident.__table__, {**incident, "title": "never"}, refused, foreign_key="incident_id")
        except IntegrityError:
            pass
        else:
            raise AssertionError("a duplicate dedupe_key must be refused")
        with db.unit_of_work() as session:
            titles = session.scalars(select(Incident.title).order_by(Incident.id)).all()
            rows = session.execute(select(TimelineEvent.incident_id, TimelineEvent.kind, TimelineEvent.data)
                                   .order_by(TimelineEvent.id)).all()
            timers = session.scalars(select(Timer.incident_id)).all()
            roles = session.scalars(select(RoleAssignment.incident_id)).all()
        assert titles == ["t", "u"], "the refused insert left no incident behind"
        assert [tuple(r) for r in rows] == [(first, "declared", {"n": 0}), (first, "role_assigned", {"n": 1}),
                                            (second, "declared", {"n": 0}), (second, "role_assigned", {"n": 1})]
        assert sorted(timers) == [first, second] and sorted(roles) == [first, second]
    finally:
        db.dispose()
