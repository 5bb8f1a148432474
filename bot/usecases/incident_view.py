"""A plain, session-free picture of one incident: what the card, the topic and the commands read."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Incident, RoleAssignment


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

    @property
    def ic(self) -> str:
        return self.roles.get("ic", self.declared_by)


def current_roles(session: Session, incident_id: int) -> dict[str, str]:
    rows = session.execute(
        select(RoleAssignment.role, RoleAssignment.user_id).where(
            RoleAssignment.incident_id == incident_id, RoleAssignment.ended_at.is_(None)
        )
    )
    return {role: user for role, user in rows}


def view_of(session: Session, incident: Incident) -> IncidentView:
    return IncidentView(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        service=incident.service,
        scope=incident.scope,
        description=incident.description,
        declared_by=incident.declared_by,
        declared_at=incident.declared_at,
        channel_id=incident.channel_id,
        channel_name=incident.channel_name,
        card_ts=incident.card_ts,
        card_version=incident.card_version,
        card_synced_version=incident.card_synced_version,
        topic=incident.topic,
        roles=current_roles(session, incident.id),
    )


def load_view(session: Session, incident_id: int) -> IncidentView:
    return view_of(session, session.get_one(Incident, incident_id))


def incident_in_channel(session: Session, channel_id: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.channel_id == channel_id))
