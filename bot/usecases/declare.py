"""Declare: record the incident first (so nothing is ever lost), then provisioning drives Slack."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.db.models import Incident, RoleAssignment
from bot.domain.incident import human_id
from bot.timeline import record

MAX_TITLE = 2000
MAX_DESCRIPTION = 3000


@dataclass(frozen=True)
class DeclareRequest:
    title: str
    severity: str
    declared_by: str
    service: str | None = None
    scope: str | None = None
    description: str | None = None
    origin_channel_id: str | None = None
    response_url: str | None = None
    # Set for modal submissions: the same view submitted twice declares once.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Declared:
    incident_id: int
    created: bool

    @property
    def human_id(self) -> str:
        return human_id(self.incident_id)


def declare(db: Database, config: IncidentConfig, clock: Clock, request: DeclareRequest,
            on_recorded: Callable[[Session, Incident], None] | None = None) -> Declared:
    """Record the incident; `on_recorded` runs in the same transaction (the clocks: reminders, paging)."""
    if request.severity not in config.severities:
        raise ValueError(f"unknown severity {request.severity!r}")
    if request.idempotency_key is not None:
        existing = _by_idempotency_key(db, request.idempotency_key)
        if existing is not None:
            return Declared(existing, created=False)
    now = clock.now()
    try:
        with db.unit_of_work() as session:
            incident = Incident(
                title=request.title[:MAX_TITLE],
                severity=request.severity,
                status=config.open_status,
                service=request.service,
                scope=request.scope,
                description=(request.description or None) and request.description[:MAX_DESCRIPTION],
                declared_by=request.declared_by,
                declared_at=now,
                origin_channel_id=request.origin_channel_id,
                response_url=request.response_url,
                idempotency_key=request.idempotency_key,
            )
            session.add(incident)
            session.flush()
            label = config.severity(request.severity).label
            record(
                session,
                incident.id,
                kind="declared",
                actor=request.declared_by,
                at=now,
                summary=f"Declared {human_id(incident.id)} as {label}",
                data={"severity": request.severity, "service": request.service, "scope": request.scope},
            )
            session.add(RoleAssignment(incident_id=incident.id, role="ic", user_id=request.declared_by, assigned_by=request.declared_by, assigned_at=now))
            record(
                session,
                incident.id,
                kind="role_assigned",
                actor=request.declared_by,
                at=now,
                summary="Incident Commander: the declarer, until handed over",
                data={"role": "ic", "user": request.declared_by},
            )
            if on_recorded is not None:
                on_recorded(session, incident)
            incident_id = incident.id
    except IntegrityError:
        # A concurrent submission of the same view won the race; answer with its incident.
        if request.idempotency_key is None:
            raise
        existing = _by_idempotency_key(db, request.idempotency_key)
        if existing is None:
            raise
        return Declared(existing, created=False)
    return Declared(incident_id, created=True)


def _by_idempotency_key(db: Database, key: str) -> int | None:
    with db.unit_of_work() as session:
        return session.scalar(select(Incident.id).where(Incident.idempotency_key == key))
