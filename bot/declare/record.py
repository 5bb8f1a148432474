"""Declare: record the incident first (so nothing is ever lost), then provisioning drives Slack."""
from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import IntegrityError

from bot import metrics
from bot.core.deps import Deps
from bot.core.incident import NewIncident
from bot.core.timeline import new_row
from bot.db.engine import Database
from bot.db.models import Incident, RoleAssignment
from bot.db.with_children import insert_with_children
from bot.declare.lifecycle import on_declared
from bot.domain.incident import human_id
from bot.scheduler.timers import PAGE_START, TIMERS

MAX_TITLE = 2000
MAX_DESCRIPTION = 3000

INCIDENTS = Incident.__table__
ROLES = RoleAssignment.__table__
# Prebuilt: a reused statement skips SQLAlchemy's per-call compile work.
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
    # Whether the declare called for a page: its start is due at once (bot/paging/ladder.page_start_due).
    pages: bool = False

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
    label = config.severity(request.severity).label
    by = request.declared_by
    children = [
        (ROLES, {"role": "ic", "user_id": by, "assigned_by": by, "assigned_at": now, "ended_at": None}),
        new_row(actor=by, at=now, kind="declared", summary=f"Declared as {label}",
                data={"severity": request.severity, "service": request.service, "scope": request.scope}),
        new_row(actor=by, at=now, kind="role_assigned", summary="Incident Commander: the declarer, until handed over",
                data={"role": "ic", "user": by}),
        *on_declared(deps, NewIncident(request.severity, request.service, by, now)),
    ]
    row = {
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
    }
    try:
        # One statement on PostgreSQL: the ack waits for a single round trip (bot/db/with_children.py).
        incident_id = insert_with_children(db, INCIDENTS, row, _by_table(children), foreign_key="incident_id")
    except IntegrityError:
        # A concurrent submission of the same view won the race; answer with its incident.
        if request.idempotency_key is None:
            raise
        existing = _by_idempotency_key(db, request.idempotency_key)
        if existing is None:
            raise
        return Declared(existing, created=False)
    metrics.incident_declared(request.severity)  # committed: the insert ran on its own connection
    pages = any(table is TIMERS and child["kind"] == PAGE_START for table, child in children)
    return Declared(incident_id, created=True, pages=pages)


def _by_table(rows: list[tuple[Table, dict[str, Any]]]) -> list[tuple[Table, list[dict[str, Any]]]]:
    grouped: dict[Table, list[dict[str, Any]]] = {}
    for table, child in rows:
        grouped.setdefault(table, []).append(child)
    return list(grouped.items())


def _by_idempotency_key(db: Database, key: str) -> int | None:
    with db.transaction() as connection:
        found: int | None = connection.execute(_BY_KEY, {"key": key}).scalar()
        return found
