"""Status and severity changes: update, record, refresh the card and topic, and tell the channel and stakeholders."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain.incident import human_id
from bot.db.models import Incident
from bot.domain.severity import normalise_severity, severity_rank
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.core.outbox import enqueue
from bot.core.deps import Deps
from bot.core.timeline import record
from bot.core.incident import card_changed
from bot.core.incident import locked_incident
from bot.core.permissions import require_permission
from bot.core.errors import BadInput
from bot.paging.ladder import request_page
from bot.scheduler import timers
from bot.domain.severity import severity_label

MAX_REASON = 1000


def _reason(text: str | None) -> str | None:
    if not text:
        return None
    if len(text) > MAX_REASON:
        raise BadInput(f"Keep the note under {MAX_REASON:,} characters ({len(text):,} given); add detail with `/incident note`.")
    return text


def set_status(deps: Deps, incident_id: int, status: str, note: str | None, actor: str) -> str:
    config = deps.config
    status = status.lower()
    if status not in config.statuses:
        raise BadInput(f"`{escape_mrkdwn(truncate(status, 30))}` is not a status. Statuses: {', '.join(config.statuses)}.")
    note = _reason(note)
    if status == config.closed_status:
        raise BadInput("Resolving needs its validation: use `/incident resolve` (or the card's Resolve button).")
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        previous = incident.status
        if previous == status:
            return f"{human_id(incident_id)} is already {status}."
        if not config.can_move(previous, status):
            allowed = [s for s in config.statuses if config.can_move(previous, s)]
            raise BadInput(f"{human_id(incident_id)} can't go from {previous} to {status}. From {previous} it can go to: {', '.join(allowed) or 'nothing'}.")
        incident.status = status
        if previous == config.closed_status:  # a configured transition out of resolved is a reopen
            on_reopened(deps, session, incident)
        suffix = f": {escape_mrkdwn(note)}" if note else ""
        record(session, incident_id, kind="status_changed", actor=actor, at=now,
               summary=f"Status {previous} → {status}{suffix}", data={"from": previous, "to": status, "note": note})
        card_changed(session, deps.clock, incident)
        detail = f"\n>{escape_mrkdwn(one_line(note))}" if note else ""
        line = f":large_blue_circle: *{human_id(incident_id)}* status: {previous} → *{status}* by <@{actor}>{detail}"
        _announce(deps, session, incident, line, f"status:{incident.card_version}")
    return f":white_check_mark: {human_id(incident_id)} is now {status}."


def reopen(deps: Deps, incident_id: int, reason: str | None, actor: str) -> str:
    """Back to the first status: the update cadence resumes."""
    config = deps.config
    reason = _reason(reason)
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        if incident.status != config.closed_status:
            raise BadInput(f"{human_id(incident_id)} is open ({incident.status}); nothing to reopen.")
        incident.status = config.open_status
        on_reopened(deps, session, incident)
        suffix = f": {escape_mrkdwn(reason)}" if reason else ""
        record(session, incident_id, kind="reopened", actor=actor, at=now, summary=f"Reopened{suffix}",
               data={"reason": reason, "status": incident.status})
        card_changed(session, deps.clock, incident)
        detail = f"\n>{escape_mrkdwn(one_line(reason))}" if reason else ""
        _announce(deps, session, incident, f":repeat: *{human_id(incident_id)}* reopened by <@{actor}>{detail}", f"reopen:{incident.card_version}")
    return f":white_check_mark: {human_id(incident_id)} is open again ({config.open_status}); stakeholder updates resume."


def set_severity(deps: Deps, incident_id: int, level: str, reason: str | None, actor: str) -> str:
    config = deps.config
    severity = normalise_severity(level, config)
    if severity is None:
        raise BadInput(f"`{escape_mrkdwn(truncate(level, 20))}` is not a severity. Use one of {', '.join(config.severities)} (or p0…p3).")
    reason = _reason(reason)
    require_permission(deps, incident_id, actor, config.permissions.change_severity, "change the severity")
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        previous = incident.severity
        if previous == severity:
            return f"{human_id(incident_id)} is already {severity_label(config, severity)}."
        incident.severity = severity
        raised = severity_rank(severity) < severity_rank(previous)
        word = "raised" if raised else "lowered"
        suffix = f": {escape_mrkdwn(reason)}" if reason else ""
        record(session, incident_id, kind="severity_changed", actor=actor, at=now,
               summary=f"Severity {word}: {severity_label(config, previous)} → {severity_label(config, severity)}{suffix}",
               data={"from": previous, "to": severity, "reason": reason})
        card_changed(session, deps.clock, incident)
        detail = f"\n>{escape_mrkdwn(one_line(reason))}" if reason else ""
        line = f":rotating_light: *{human_id(incident_id)}* severity {word}: {severity_label(config, previous)} → *{severity_label(config, severity)}* by <@{actor}>{detail}"
        if raised and config.severity(severity).page:
            line += "\n" + request_page(deps, session, incident_id, reason=f"severity raised to {severity}", actor=actor)
        _announce(deps, session, incident, line, f"severity:{incident.card_version}")
    return f":white_check_mark: {human_id(incident_id)} is now {severity_label(config, severity)}."


def _announce(deps: Deps, session, incident, line: str, key: str) -> None:  # type: ignore[no-untyped-def]
    """The change in the incident channel, and for stakeholders in their channel."""
    if incident.channel_id:
        enqueue(session, deps.clock, kind="post", incident_id=incident.id, dedupe_key=f"{incident.id}:{key}:channel",
                payload={"channel": incident.channel_id, "text": line})
    if deps.config.stakeholder_channel:
        follow = f" · <#{incident.channel_id}>" if incident.channel_id else ""
        enqueue(session, deps.clock, kind="post", incident_id=incident.id, dedupe_key=f"{incident.id}:{key}:stakeholders",
                payload={"channel": deps.config.stakeholder_channel, "text": line + follow})


def on_reopened(deps: Deps, session: Session, incident: Incident) -> None:
    """Reopened: the update cadence resumes from now."""
    now = deps.clock.now()
    timers.arm(session, kind=timers.UPDATE_REMINDER, incident_id=incident.id,
               due_at=now + deps.timing.update_interval(incident.severity), reset_fired=True)
    timers.cancel(session, kind=timers.POSTMORTEM_REMINDER, incident_id=incident.id, now=now)
    timers.cancel(session, kind=timers.ARCHIVE_CHANNEL, incident_id=incident.id, now=now)
