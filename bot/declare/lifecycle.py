"""What the clocks do when an incident opens (called inside the declare's transaction)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.core.deps import Deps
from bot.updates.cadence import arm_first_reminder
from bot.core.incident import NewIncident
from bot.paging.ladder import record_unpaged, request_page


def on_declared(deps: Deps, session: Session, incident: NewIncident) -> None:
    """Start the stakeholder-update cadence; page on-call when the severity says so."""
    arm_first_reminder(deps, session, incident)
    severity = deps.config.severities.get(incident.severity)
    if severity is None or not severity.page:
        return
    reason = f"declared {incident.severity.upper()}"
    if deps.config.policy_for(incident.severity, incident.service) is None:
        # No ladder to walk (and a new incident has no page running): one line on the timeline, no ORM round trips.
        record_unpaged(session.connection(), incident.id, reason=reason, actor=incident.declared_by, at=incident.declared_at)
        return
    request_page(deps, session, incident.id, reason=reason, actor=incident.declared_by)
