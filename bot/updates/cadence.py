"""Stakeholder updates on a cadence: reminders that keep coming until an update is posted, and the update itself."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from bot import metrics
from bot.domain.incident import human_id
from bot.db.models import Incident, Timer
from bot.domain.text import escape_mrkdwn
from bot.ids import ActionId
from bot.core.outbox import enqueue
from bot.scheduler import timers
from bot.core.actions import ForIncident
from bot.core.deps import Deps
from bot.core.incident import card_changed
from bot.render import Renderer
from bot.core.timeline import record
from bot.core.incident import locked_incident
from bot.core.incident import NewIncident
from bot.core.errors import BadInput
from bot.core.incident import current_roles
from bot.core.blocks import prompt_blocks
from bot.domain.severity import severity_label
from bot.updates.modal import UpdateForm

DM_IC_AFTER = 2  # reminders in a row with no update: the IC hears about it directly too


def first_reminder(deps: Deps, incident: NewIncident) -> tuple[Table, dict[str, Any]]:
    """The first stakeholder-update reminder of an incident being declared."""
    return timers.new_row(kind=timers.UPDATE_REMINDER,
                          due_at=incident.declared_at + deps.timing.update_interval(incident.severity))


def reminder_due(deps: Deps, session: Session, timer: Timer) -> None:
    """Tick handler: remind (mentioning comms, else the IC), DM the IC after repeated misses, re-arm from now."""
    incident = session.get_one(Incident, timer.incident_id)
    now = deps.clock.now()
    if incident.status == deps.config.closed_status:
        timer.done_at = now
        return
    timer.fired += 1
    metrics.on_commit(session, metrics.reminder_fired)
    # From now, not from the old due time: after downtime this is one catch-up reminder, not one per missed slot.
    timer.due_at = now + deps.timing.update_interval(incident.severity)
    timer.fence += 1
    roles = current_roles(session, incident.id)
    owner = roles.get("comms") or roles.get("ic") or incident.declared_by
    missed = f" (reminder {timer.fired}: no update since the last one was due)" if timer.fired > 1 else ""
    text = f":alarm_clock: <@{owner}> a stakeholder update for {human_id(incident.id)} is due now{missed}."
    record(session, incident.id, kind="update_reminder", actor="sevbot", at=now,
           summary=f"Stakeholder update due; reminded <@{owner}>" + (f" (reminder {timer.fired})" if timer.fired > 1 else ""),
           data={"owner": owner, "reminder": timer.fired})
    if incident.channel_id:
        enqueue(session, deps.clock, kind="post", incident_id=incident.id, dedupe_key=f"reminder:{timer.id}:{timer.fence}",
                payload={"channel": incident.channel_id, "text": text, "blocks": prompt_blocks(
                    text, block_id=f"update{incident.id}", action_id=ActionId.OPEN_UPDATE, label="Post update", value=ForIncident(incident.id).encode())})
    ic = roles.get("ic", incident.declared_by)
    if timer.fired >= DM_IC_AFTER:
        enqueue(session, deps.clock, kind="dm", incident_id=incident.id, dedupe_key=f"reminder:{timer.id}:{timer.fence}:ic",
                payload={"user": ic, "text": f":alarm_clock: {human_id(incident.id)} has missed {timer.fired - 1} stakeholder update(s) in a row. "
                                              f"Post one from <#{incident.channel_id}> (`/incident update`) or ask your Comms Lead."})


def post_update(deps: Deps, renderer: Renderer, form: UpdateForm, author: str) -> str:
    config = deps.config
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, form.incident_id)
        if incident.status == config.closed_status:
            raise BadInput(f"{human_id(incident.id)} is resolved; updates stopped.")
        status_changed = form.status and form.status != incident.status
        if status_changed:
            if not config.can_move(incident.status, form.status):  # type: ignore[arg-type]
                raise BadInput(f"{human_id(incident.id)} can't go from {incident.status} to {form.status}.")
            previous = incident.status
            incident.status = form.status  # type: ignore[assignment]
            record(session, incident.id, kind="status_changed", actor=author, at=now,
                   summary=f"Status {previous} → {incident.status} (with a stakeholder update)", data={"from": previous, "to": incident.status})
            card_changed(session, deps.clock, incident)
        roles = current_roles(session, incident.id)
        minutes = form.next_minutes or int(deps.timing.update_interval(incident.severity).total_seconds() // 60)
        next_at = now + timedelta(minutes=minutes)
        text = renderer.text(
            "stakeholder_update.txt.j2", incident_number=incident.id, severity_label=severity_label(config, incident.severity),
            status=incident.status, title=incident.title, impact=form.impact, doing=form.doing, risk=form.risk, next_at=next_at,
            next_minutes=minutes, ic=roles.get("ic", incident.declared_by), comms=roles.get("comms"), author=author)
        event = record(session, incident.id, kind="stakeholder_update", actor=author, at=now,
                       summary=f"Stakeholder update: {escape_mrkdwn(form.impact)}",
                       data={"status": incident.status, "impact": form.impact, "doing": form.doing, "risk": form.risk,
                             "next_minutes": minutes, "text": text})
        session.flush()
        assert event is not None
        for channel in filter(None, (incident.channel_id, config.stakeholder_channel)):
            enqueue(session, deps.clock, kind="post", incident_id=incident.id, dedupe_key=f"update:{event.id}:{channel}",
                    payload={"channel": channel, "text": text})
        # The cadence restarts from now, at the promised interval; the missed-reminder count starts again.
        timers.arm(session, kind=timers.UPDATE_REMINDER, incident_id=incident.id, due_at=next_at, reset_fired=True)
    return f":white_check_mark: Update posted; the next one is due in {minutes} min."
