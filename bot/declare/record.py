"""Declare: record the incident first (so nothing is ever lost), then provisioning drives Slack."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from bot.core.deps import Deps
from bot.core.incident import NewIncident
from bot.db.engine import Database, queued_in
from bot.declare.lifecycle import on_declared
from bot.db.models import Incident, RoleAssignment
from bot.domain.incident import human_id
from bot.core.timeline import record_new

MAX_TITLE = 2000
MAX_DESCRIPTION = 3000

INCIDENTS = Incident.__table__
# Prebuilt: declare is the hot path, and a reused statement skips SQLAlchemy's per-call compile work.
_INSERT_INCIDENT = insert(INCIDENTS).returning(INCIDENTS.c.id)
_INSERT_ROLE = insert(RoleAssignment.__table__)
_BY_KEY = select(INCIDENTS.c.id).where(INCIDENTS.c.idempotency_key == bindparam("key"))


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
    # Whether the declare queued Slack effects of its own (e.g. page DMs) for a delivery pass.
    enqueued: bool = False

    @property
    def human_id(self) -> str:
        return human_id(self.incident_id)


def declare(deps: Deps, request: DeclareRequest) -> Declared:
    """Record the incident, and in the same transaction start its clocks (the update reminder, paging)."""
    db, config, clock = deps.db, deps.config, deps.clock
    if request.severity not in config.severities:
        raise ValueError(f"unknown severity {request.severity!r}")
    if request.idempotency_key is not None:
        existing = _by_idempotency_key(db, request.idempotency_key)
        if existing is not None:
            return Declared(existing, created=False)
    now = clock.now()
    try:
        with db.unit_of_work() as session:
            connection = session.connection()
            incident_id = connection.execute(_INSERT_INCIDENT, {
                "title": request.title[:MAX_TITLE],
                "severity": request.severity,
                "status": config.open_status,
                "service": request.service,
                "scope": request.scope,
                "description": (request.description or None) and request.description[:MAX_DESCRIPTION],
                "declared_by": request.declared_by,
                "declared_at": now,
                "origin_channel_id": request.origin_channel_id,
                "response_url": request.response_url,
                "idempotency_key": request.idempotency_key,
            }).scalar_one()
            connection.execute(_INSERT_ROLE, {"incident_id": incident_id, "role": "ic", "user_id": request.declared_by,
                                              "assigned_by": request.declared_by, "assigned_at": now, "ended_at": None})
            label = config.severity(request.severity).label
            who = {"actor": request.declared_by, "at": now, "incident_id": incident_id}
            record_new(connection, [
                {**who, "kind": "declared", "summary": f"Declared {human_id(incident_id)} as {label}",
                 "data": {"severity": request.severity, "service": request.service, "scope": request.scope}},
                {**who, "kind": "role_assigned", "summary": "Incident Commander: the declarer, until handed over",
                 "data": {"role": "ic", "user": request.declared_by}},
            ])
            on_declared(deps, session, NewIncident(incident_id, request.severity, request.service, request.declared_by, now))
            enqueued = queued_in(session)
    except IntegrityError:
        # A concurrent submission of the same view won the race; answer with its incident.
        if request.idempotency_key is None:
            raise
        existing = _by_idempotency_key(db, request.idempotency_key)
        if existing is None:
            raise
        return Declared(existing, created=False)
    return Declared(incident_id, created=True, enqueued=enqueued)


def _by_idempotency_key(db: Database, key: str) -> int | None:
    with db.transaction() as connection:
        found: int | None = connection.execute(_BY_KEY, {"key": key}).scalar()
        return found
