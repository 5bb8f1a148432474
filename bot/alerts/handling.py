"""What people do with an alert group: acknowledge it, resolve it, silence it for an hour, or open an incident from
it. Each is one transaction on the locked group row, so two clicks at once act once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.alerts.events import message_changed, record_alert_event, shown_title
from bot.alerts.message import SILENCE_HOURS, who
from bot.alerts.paging import acknowledge_page, stop_group_page
from bot.alerts.payloads import FIRING, RESOLVED
from bot.core.deps import Deps
from bot.core.errors import BadInput
from bot.core.timeline import record
from bot.db.models import AlertEvent, AlertGroup, Timer
from bot.scheduler import timers
from bot.declare.record import Declared, DeclareRequest, declare
from bot.domain.incident import human_id

SILENCE_OVER = "alert_silence_over"


def _locked(session: Session, group_id: int) -> AlertGroup:
    group = session.scalar(select(AlertGroup).where(AlertGroup.id == group_id).with_for_update())
    if group is None:
        raise BadInput("That alert is not one sevbot knows; nothing changed.")
    return group


def acknowledge_group(deps: Deps, group_id: int, user: str) -> str:
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        group = _locked(session, group_id)
        if group.acked_by is not None:
            return f"Already acknowledged by {who(group.acked_by)}."
        if group.incident_id is not None:
            return f"{human_id(group.incident_id)} took this alert over; its own page is the one to acknowledge."
        if group.state == RESOLVED:
            return "That alert is resolved already; nothing to acknowledge."
        took = acknowledge_page(deps, session, group, user)
        group.acked_by, group.acked_at = user, now
        record_alert_event(session, group, kind="acknowledged", actor=user, at=now,
                           summary=f"Acknowledged by <@{user}>" + (f" after {took}" if took else ""))
        message_changed(session, deps.clock, group)
        return f":white_check_mark: Acknowledged {shown_title(group, 80)}" + (f" (after {took}). The ladder stopped." if took else ".")


def acknowledge_in_channel(deps: Deps, channel_id: str, user: str) -> str:
    """`/incident ack` typed in an alert channel (Slack does not say which thread): the newest firing group there
    that nobody has acknowledged."""
    with deps.db.unit_of_work() as session:
        group_id = session.scalar(select(AlertGroup.id).where(
            AlertGroup.channel_id == channel_id, AlertGroup.state == FIRING, AlertGroup.acked_by.is_(None),
            AlertGroup.incident_id.is_(None)).order_by(AlertGroup.id.desc()))
    if group_id is None:
        raise BadInput("Nothing here is waiting for an acknowledgement. In an incident channel, `/incident ack` "
                       "acknowledges the incident's page.")
    return acknowledge_group(deps, group_id, user)


def resolve_group(deps: Deps, group_id: int, user: str) -> str:
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        group = _locked(session, group_id)
        if group.state == RESOLVED:
            return "That alert is already resolved."
        group.state, group.resolved_at, group.resolved_by = RESOLVED, now, user
        stop_group_page(deps, session, group, f"resolved by <@{user}>")
        record_alert_event(session, group, kind="resolved_by_person", actor=user, at=now,
                           summary=f"Resolved in Slack by <@{user}> (a new firing at the source opens it again)")
        message_changed(session, deps.clock, group)
        return f":large_green_circle: Resolved {shown_title(group, 80)}."


def silence_group(deps: Deps, group_id: int, user: str) -> str:
    now = deps.clock.now()
    until = now + timedelta(hours=SILENCE_HOURS)
    with deps.db.unit_of_work() as session:
        group = _locked(session, group_id)
        if group.silenced_until is not None and group.silenced_until > now:
            return f"Already silenced until {group.silenced_until:%H:%M} UTC."
        group.silenced_until = until
        stop_group_page(deps, session, group, f"silenced by <@{user}>")
        # When the hour is up, the message drops its mute (see silence_over).
        timers.arm(session, kind=SILENCE_OVER, incident_id=None, ref_id=group.id, due_at=until)
        record_alert_event(session, group, kind="silenced", actor=user, at=now,
                           summary=f"Silenced for {SILENCE_HOURS} h by <@{user}>: nobody is paged for it until {until:%H:%M} UTC")
        message_changed(session, deps.clock, group)
        return f":mute: Silenced {shown_title(group, 80)} until {until:%H:%M} UTC. Nobody is paged for it meanwhile."


def silence_over(deps: Deps, session: Session, timer: Timer) -> None:
    """Tick handler: the silence ran out; the message shows the group as it is again."""
    timer.done_at = deps.clock.now()
    group = session.get(AlertGroup, timer.ref_id)
    if group is not None:
        record_alert_event(session, group, kind="silence_over", actor="sevbot", at=deps.clock.now(),
                           summary="The silence is over")
        message_changed(session, deps.clock, group)


def incident_channel_ready(deps: Deps, incident_id: int) -> None:
    """The incident's channel exists now: the messages of the alert groups it took over link to it."""
    with deps.db.unit_of_work() as session:
        for group in session.scalars(select(AlertGroup).where(AlertGroup.incident_id == incident_id).with_for_update()):
            message_changed(session, deps.clock, group)


def declare_from_alert(deps: Deps, group_id: int, actor: str) -> Declared:
    """Open an incident through the declare path (title from the alert, severity and service from the route), then
    attach the group. A repeat (a double click, a retried outbox item) finds the same incident: the declare is keyed
    by the group."""
    with deps.db.unit_of_work() as session:
        # The group stays locked until the incident is attached: a second click waits here, then finds it (so two
        # clicks never race two inserts, which on PostgreSQL would burn an incident number).
        group = _locked(session, group_id)
        if group.incident_id is not None:
            return Declared(group.incident_id, created=False)
        declared = declare(deps, DeclareRequest(title=group.title, severity=group.severity, declared_by=actor,
                                                service=group.service, description=f"Opened from an alert ({group_id}).",
                                                idempotency_key=f"alert:{group_id}"))
        _attach(deps, session, group, declared.incident_id, actor)
    return declared


def _attach(deps: Deps, session: Session, group: AlertGroup, incident_id: int, actor: str) -> None:
    """The incident takes the group over: its ladder stops (the incident's own paging takes over), its events so far
    go onto the incident's timeline, and the card lists it."""
    now = deps.clock.now()
    stop_group_page(deps, session, group, f"{human_id(incident_id)} takes over")
    for event in session.scalars(select(AlertEvent).where(AlertEvent.group_id == group.id).order_by(AlertEvent.id)):
        record(session, incident_id, kind=f"alert_{event.kind}", actor=event.actor, at=event.at,
               summary=f"Alert {shown_title(group)}: {event.summary}", data={"alert_group_id": group.id, **event.data},
               dedupe_key=f"alertevent:{event.id}")
    group.incident_id = incident_id
    record_alert_event(session, group, kind="attached", actor=actor, at=now,
                       summary=f"Attached to {human_id(incident_id)}: later alerts post in its channel")
    message_changed(session, deps.clock, group)  # also re-renders the incident's card, which lists the group
