"""What the clocks do when an incident opens, closes or reopens (called inside the transaction of that change)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.db.models import Incident
from bot.scheduler import timers
from bot.services import Services
from bot.usecases.declare import NewIncident
from bot.usecases.paging import cancel_pages, record_unpaged


def on_declared(services: Services, session: Session, incident: NewIncident) -> None:
    """Start the stakeholder-update cadence; page on-call when the severity says so."""
    from bot.usecases.updates import arm_first_reminder

    arm_first_reminder(services, session, incident)
    severity = services.config.severities.get(incident.severity)
    if severity is None or not severity.page:
        return
    reason = f"declared {incident.severity.upper()}"
    if services.config.policy_for(incident.severity, incident.service) is None:
        # No ladder to walk (and a new incident has no page running): one line on the timeline, no ORM round trips.
        record_unpaged(session.connection(), incident.id, reason=reason, actor=incident.declared_by, at=incident.declared_at)
        return
    services.pager.request_page(session, incident.id, reason=reason, actor=incident.declared_by)


def on_closed(services: Services, session: Session, incident: Incident) -> None:
    """Resolved: reminders and escalations stop."""
    now = services.clock.now()
    timers.cancel(session, kind=timers.UPDATE_REMINDER, incident_id=incident.id, now=now)
    timers.cancel(session, kind=timers.RUNBOOK_CHECK, incident_id=incident.id, now=now)
    cancel_pages(services, session, incident.id, "the incident is resolved")


def on_reopened(services: Services, session: Session, incident: Incident) -> None:
    """Reopened: the update cadence resumes from now."""
    now = services.clock.now()
    timers.arm(session, kind=timers.UPDATE_REMINDER, incident_id=incident.id,
               due_at=now + services.timing.update_interval(incident.severity), reset_fired=True)
    timers.cancel(session, kind=timers.POSTMORTEM_REMINDER, incident_id=incident.id, now=now)
    timers.cancel(session, kind=timers.ARCHIVE_CHANNEL, incident_id=incident.id, now=now)
