"""The incident row as use cases share it: a plain, session-free picture (IncidentView), who holds which role,
locking the row, and saying the card must show a change."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.core.errors import BadInput
from bot.core.outbox import enqueue
from bot.db.models import AlertGroup, Incident, RoleAssignment
from bot.domain.incident import human_id


@dataclass(frozen=True)
class IncidentView:
    id: int
    title: str
    severity: str
    status: str
    service: str | None
    scope: str | None
    description: str | None
    declared_by: str
    declared_at: datetime
    channel_id: str | None
    channel_name: str | None
    card_ts: str | None
    card_version: int
    card_synced_version: int
    topic: str | None
    roles: dict[str, str] = field(default_factory=dict)
    # Alert groups attached to the incident: (title, state, firing count), oldest first.
    alerts: tuple[tuple[str, str, int], ...] = ()

    @property
    def ic(self) -> str:
        return self.roles.get("ic", self.declared_by)


@dataclass(frozen=True)
class NewIncident:
    """What the clocks need to know about an incident being recorded (its id comes from that same insert)."""

    severity: str
    service: str | None
    declared_by: str
    declared_at: datetime


ROLES = RoleAssignment.__table__
_CURRENT_ROLES = select(ROLES.c.role, ROLES.c.user_id).where(ROLES.c.incident_id == bindparam("id"), ROLES.c.ended_at.is_(None))


def current_roles(executor: Session | Connection, incident_id: int) -> dict[str, str]:
    """Who holds which role now; through a session (which flushes pending changes first) or a Core connection."""
    return {role: user for role, user in executor.execute(_CURRENT_ROLES, {"id": incident_id})}


def view_from_row(row: Any, roles: dict[str, str]) -> IncidentView:
    """An IncidentView from anything with the incident's columns as attributes: a Core row or an `Incident`."""
    return IncidentView(
        id=row.id, title=row.title, severity=row.severity, status=row.status, service=row.service, scope=row.scope,
        description=row.description, declared_by=row.declared_by, declared_at=row.declared_at, channel_id=row.channel_id,
        channel_name=row.channel_name, card_ts=row.card_ts, card_version=row.card_version,
        card_synced_version=row.card_synced_version, topic=row.topic, roles=roles,
    )


ALERT_GROUPS = AlertGroup.__table__
_ATTACHED_ALERTS = (select(ALERT_GROUPS.c.title, ALERT_GROUPS.c.state, ALERT_GROUPS.c.firing)
                    .where(ALERT_GROUPS.c.incident_id == bindparam("id")).order_by(ALERT_GROUPS.c.id).limit(10))


def attached_alerts(executor: Session | Connection, incident_id: int) -> tuple[tuple[str, str, int], ...]:
    """The alert groups an incident took over, as the card lists them (the first 10)."""
    return tuple((title, state, firing) for title, state, firing in executor.execute(_ATTACHED_ALERTS, {"id": incident_id}))


def view_of(session: Session, incident: Incident) -> IncidentView:
    return replace(view_from_row(incident, current_roles(session, incident.id)), alerts=attached_alerts(session, incident.id))


def load_view(session: Session, incident_id: int) -> IncidentView:
    return view_of(session, session.get_one(Incident, incident_id))


def incident_in_channel(session: Session, channel_id: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.channel_id == channel_id))


def locked_incident(session: Session, incident_id: int) -> Incident:
    """The incident row, locked until commit on PostgreSQL so concurrent changes to one incident queue up."""
    incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update())
    if incident is None:
        raise BadInput(f"There is no incident {human_id(incident_id)}.")
    return incident


def card_changed(session: Session, clock: Clock, incident: Incident) -> None:
    """Call inside the transaction of any change the card or topic shows: the card feature re-renders it after commit."""
    incident.card_version += 1
    enqueue(session, clock, kind="sync_card", payload={"incident_id": incident.id}, incident_id=incident.id,
            dedupe_key=f"card:{incident.id}:{incident.card_version}")
