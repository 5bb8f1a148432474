"""Resolve (validated), follow-ups, the postmortem link and its reminder, and archiving the channel later."""
from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.incident import human_id
from bot.db.models import FollowUp, Incident, Page, Timer
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.core.outbox import enqueue
from bot.scheduler import timers
from bot.core.deps import Deps
from bot.core.timeline import record
from bot.core.incident import card_changed
from bot.core.incident import locked_incident
from bot.core.permissions import require_permission
from bot.core.errors import BadInput
from bot.core.incident import current_roles
from bot.paging.ladder import cancel_pages
from bot.resolve.modal import VALIDATION, ResolveForm

URL = re.compile(r"^https?://\S{3,2000}$")


def duration_text(seconds: float) -> str:
    """`2d 3h 4m`, `1h 0m`, `12m`."""
    hours, minutes = divmod(int(seconds // 60), 60)
    days, hours = divmod(hours, 24)
    parts = ([f"{days}d"] if days else []) + ([f"{hours}h"] if days or hours else []) + [f"{minutes}m"]
    return " ".join(parts)


def check_can_resolve(deps: Deps, incident_id: int, actor: str) -> Incident:
    with deps.db.unit_of_work() as session:
        incident = session.get_one(Incident, incident_id)
        if incident.status == deps.config.closed_status:
            raise BadInput(f"{human_id(incident_id)} is already resolved; `/incident reopen` first if it came back.")
    require_permission(deps, incident_id, actor, deps.config.permissions.resolve, "resolve the incident")
    return incident


def resolve(deps: Deps, form: ResolveForm, actor: str) -> str:
    config = deps.config
    check_can_resolve(deps, form.incident_id, actor)
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, form.incident_id)
        if incident.status == config.closed_status:
            raise BadInput(f"{human_id(incident.id)} is already resolved.")
        previous = incident.status
        incident.status = config.closed_status
        incident.resolved_at, incident.resolved_by, incident.resolution = now, actor, form.as_record()
        incident.seconds_to_resolve = int((now - incident.declared_at).total_seconds())
        first_ack = session.scalar(select(func.min(Page.acked_at)).where(Page.incident_id == incident.id))
        first_page = session.scalar(select(func.min(Page.started_at)).where(Page.incident_id == incident.id))
        incident.seconds_to_ack = int((first_ack - first_page).total_seconds()) if first_ack and first_page else None
        on_closed(deps, session, incident)
        timers.arm(session, kind=timers.POSTMORTEM_REMINDER, incident_id=incident.id,
                   due_at=now + timedelta(hours=config.postmortem_reminder_hours), reset_fired=True)
        if config.archive_after_days is not None and incident.channel_id:
            timers.arm(session, kind=timers.ARCHIVE_CHANNEL, incident_id=incident.id, due_at=now + timedelta(days=config.archive_after_days))
        unchecked = [VALIDATION[k] for k, ok in form.validation.items() if not ok]
        took = duration_text(incident.seconds_to_resolve)
        record(session, incident.id, kind="resolved", actor=actor, at=now,
               summary=f"Resolved after {took} (from {previous}): {escape_mrkdwn(form.summary)}"
                       + (f". Resolved without: {', '.join(unchecked)}, because {escape_mrkdwn(form.anyway or '')}" if unchecked else ""),
               data={**form.as_record(), "from": previous, "seconds_to_resolve": incident.seconds_to_resolve,
                     "seconds_to_ack": incident.seconds_to_ack})
        card_changed(session, deps.clock, incident)
        text = (f":white_check_mark: *{human_id(incident.id)} resolved* after {took} by <@{actor}>: {escape_mrkdwn(truncate(one_line(form.summary), 500))}\n"
                f"*Impact:* {escape_mrkdwn(truncate(one_line(form.users_affected), 500))}")
        for channel in filter(None, (incident.channel_id, config.stakeholder_channel)):
            enqueue(session, deps.clock, kind="post", incident_id=incident.id, dedupe_key=f"resolved:{incident.id}:{incident.card_version}:{channel}",
                    payload={"channel": channel, "text": text})
        incident_id = incident.id
    return f":white_check_mark: {human_id(incident_id)} resolved after {took}. Reminders and pages stopped; `/incident export` drafts the postmortem."


def add_followup(deps: Deps, incident_id: int, text: str, owner: str | None, due: date | None, actor: str) -> str:
    text = text.strip()
    if not text:
        raise BadInput("Usage: `/incident followup <what> [@owner] [YYYY-MM-DD]`.")
    if len(text) > 1000:
        raise BadInput(f"Keep a follow-up under 1,000 characters ({len(text):,} given).")
    if due is not None and due < deps.clock.now().date():
        raise BadInput(f"The due date {due.isoformat()} is in the past.")
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        locked_incident(session, incident_id)
        session.add(FollowUp(incident_id=incident_id, text=text, owner=owner, due=due, created_by=actor, created_at=now))
        owned = f", owner <@{owner}>" if owner else ""
        by = f", due {due.isoformat()}" if due else ""
        record(session, incident_id, kind="followup", actor=actor, at=now, summary=f"Follow-up: {escape_mrkdwn(text)}{owned}{by}",
               data={"text": text, "owner": owner, "due": due.isoformat() if due else None})
    return f":white_check_mark: Follow-up recorded{owned}{by}."


def record_postmortem(deps: Deps, incident_id: int, link: str, actor: str) -> str:
    link = link.strip().strip("<>").split("|")[0]
    if not URL.match(link):
        raise BadInput("Give the postmortem's link: `/incident postmortem https://docs.example.com/pm/inc-42`.")
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        incident.postmortem_url = link
        timers.cancel(session, kind=timers.POSTMORTEM_REMINDER, incident_id=incident_id, now=now)
        record(session, incident_id, kind="postmortem_linked", actor=actor, at=now, summary=f"Postmortem: {escape_mrkdwn(link)}", data={"url": link})
    return f":white_check_mark: Postmortem recorded: {escape_mrkdwn(link)}. No more reminders."


def postmortem_due(deps: Deps, session: Session, timer: Timer) -> None:
    incident = session.get_one(Incident, timer.incident_id)
    now = deps.clock.now()
    if incident.postmortem_url or incident.status != deps.config.closed_status:
        timer.done_at = now
        return
    timer.fired += 1
    timer.due_at = now + timedelta(hours=deps.config.postmortem_reminder_hours)
    timer.fence += 1
    ic = current_roles(session, incident.id).get("ic", incident.declared_by)
    record(session, incident.id, kind="postmortem_reminder", actor="sevbot", at=now, summary=f"Reminded <@{ic}> to write the postmortem",
           data={"reminder": timer.fired})
    enqueue(session, deps.clock, kind="dm", incident_id=incident.id, dedupe_key=f"postmortem:{timer.id}:{timer.fence}", payload={
        "user": ic,
        "text": (f":memo: {human_id(incident.id)} was resolved; its blameless postmortem is due (within 48 hours, with the 5 Whys and "
                 f"owned follow-ups). `/incident export` in <#{incident.channel_id}> drafts it; record the link with "
                 f"`/incident postmortem <link>` to stop these reminders."),
    })


def archive_due(deps: Deps, session: Session, timer: Timer) -> None:
    incident = session.get_one(Incident, timer.incident_id)
    timer.done_at = deps.clock.now()
    if incident.status != deps.config.closed_status or not incident.channel_id:
        return
    record(session, incident.id, kind="channel_archived", actor="sevbot", at=deps.clock.now(), summary="Archived the incident channel", data={})
    enqueue(session, deps.clock, kind="archive", incident_id=incident.id, dedupe_key=f"archive:{incident.id}:{timer.id}",
            payload={"channel": incident.channel_id})


def on_closed(deps: Deps, session: Session, incident: Incident) -> None:
    """Resolved: reminders and escalations stop."""
    now = deps.clock.now()
    timers.cancel(session, kind=timers.UPDATE_REMINDER, incident_id=incident.id, now=now)
    timers.cancel(session, kind=timers.RUNBOOK_CHECK, incident_id=incident.id, now=now)
    cancel_pages(deps, session, incident.id, "the incident is resolved")
