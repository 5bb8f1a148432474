"""Pages and their escalation ladder: start, step up on timeout, acknowledge, cancel, escalate with context.

All decisions happen in database transactions (the tick's or a command's); the DMs and channel lines are outbox
items, delivered after commit. A page that can't be delivered is said so in the incident channel.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from bot import metrics
from bot.domain.incident import human_id
from bot.db.models import Incident, Page, RunbookRun, RunbookStepState, Timer
from bot.domain.text import escape_mrkdwn, one_line
from bot.core.outbox import enqueue
from bot.scheduler import timers
from bot.core.deps import Deps
from bot.core.timeline import new_row, record
from bot.core.incident import NewIncident
from bot.core.errors import BadInput
from bot.core.incident import locked_incident
from bot.core.people import check_person

from bot.paging.snapshot import snapshot_ladder
from bot.paging.steps import (ACKED, CANCELLED, EXHAUSTED, PAGING, describe_targets, ladder_has_anyone, mark_acknowledged,
                              mention, nobody_on_call, skip_unstaffed, step_up, tier_targets, tier_timeout)


def active_page(session: Session, incident_id: int) -> Page | None:
    return session.scalar(select(Page).where(Page.incident_id == incident_id, Page.state == PAGING)
                          .order_by(Page.id.desc()).with_for_update())


def record_unpaged(session: Session, incident_id: int, *, reason: str, actor: str, at: datetime) -> str:
    """Paging was called for but there is no ladder to walk: say so on the timeline (and to the channel)."""
    record(session, incident_id, kind="page_requested", actor=actor, at=at, summary=_unpaged_summary(reason),
           data={"reason": reason, "paged": False})
    return ":pager: This calls for paging on-call, but no escalation policy is configured: page them by hand."


def _unpaged_summary(reason: str) -> str:
    return f"Paging requested ({reason}); no escalation policy is configured, nobody was paged"


def paging_on_declare(deps: Deps, incident: NewIncident) -> tuple[Table, dict[str, Any]] | None:
    """What a declare records about paging, as a row of its insert: nothing (the severity does not page), the line
    that nobody could be paged (no ladder), or the page-start timer, due at once (the page starts right after the
    ack: see page_start_due)."""
    severity = deps.config.severities.get(incident.severity)
    if severity is None or not severity.page:
        return None
    reason = _declared_reason(incident.severity)
    if deps.config.policy_for(incident.severity, incident.service) is None:
        return new_row(kind="page_requested", actor=incident.declared_by, at=incident.declared_at,
                       summary=_unpaged_summary(reason), data={"reason": reason, "paged": False})
    return timers.new_row(kind=timers.PAGE_START, due_at=incident.declared_at)


def page_start_due(deps: Deps, session: Session, timer: Timer) -> None:
    """The page a declare called for: started by the declare's own follow-up, or by the tick after a crash."""
    timer.done_at = deps.clock.now()
    incident = session.get(Incident, timer.incident_id)
    if incident is None or incident.status == deps.config.closed_status:
        return
    session.flush()
    request_page(deps, session, incident.id, reason=_declared_reason(incident.severity), actor=incident.declared_by)


def _declared_reason(severity: str) -> str:
    return f"declared {severity.upper()}"


def start_page(deps: Deps, session: Session, incident: Incident, *, reason: str, actor: str,
               context: dict[str, Any] | None = None, direct: list[str] | None = None, start_tier: int = 0) -> str:
    """Start a page (ladder from config, or `direct` people); returns the line to tell the channel.

    `reason` is sevbot's own words ("declared SEV1", "paged by <@U…>"), never user text: it is shown as it is."""
    now = deps.clock.now()
    if direct:
        policy_name = "direct"
        policy = deps.timing.snapshot_policy([{"targets": direct, "ack_timeout_minutes": 5}], 1, [])
    else:
        chosen = deps.config.policy_for(incident.severity, incident.service)
        if chosen is None:
            return record_unpaged(session, incident.id, reason=reason, actor=actor, at=now)
        policy_name, configured = chosen
        policy = snapshot_ladder(deps, session, configured)
        if not ladder_has_anyone(policy):
            empty = nobody_on_call(policy)
            contact = list(configured.escalation_contact)
            if contact and start_tier == 0 and deps.config.on_critical_path(incident.severity, incident.service):
                # The critical path always reaches the escalation contact, even when every shift is empty.
                return start_page(deps, session, incident, actor=actor, context=context, direct=contact,
                                  reason=f"{reason}; nobody on call for {', '.join(empty)}, escalation contact")
            return _nobody_to_page(deps, session, incident, policy_name, empty, reason=reason, actor=actor)
    start_tier = min(start_tier, len(policy["tiers"]) - 1)
    page = Page(incident_id=incident.id, policy_name=policy_name, policy=policy, tier=start_tier, round=1, state=PAGING,
                reason=reason, context=context or {}, started_by=actor, started_at=now)
    session.add(page)
    session.flush()
    critical = not direct and start_tier == 0 and deps.config.on_critical_path(incident.severity, incident.service)
    record(session, incident.id, kind="page_started", actor=actor, at=now,
           summary=f"Page started ({reason}), {policy_name} ladder" + (", critical path: escalation contact too" if critical else ""),
           data={"page_id": page.id, "policy": policy_name, "reason": reason, "critical_path": critical})
    _page_tier(deps, session, incident, page, include_contact=critical)
    metrics.on_commit(session, lambda: metrics.page_started("incident"))
    if direct:
        return f":pager: Paging {', '.join(mention(t) for t in direct)} ({reason})."
    return f":pager: Paging tier {page.tier + 1} of the *{policy_name}* ladder ({reason})."


def _nobody_to_page(deps: Deps, session: Session, incident: Incident, policy_name: str, empty: list[str], *,
                    reason: str, actor: str) -> str:
    """Every tier's schedules have an empty shift and no tier names anyone else: say so plainly, page nobody."""
    now = deps.clock.now()
    who = ", ".join(empty)
    record(session, incident.id, kind="page_requested", actor=actor, at=now,
           summary=f"Paging requested ({reason}); nobody could be paged: nobody is on call for {who} and the "
                   f"{policy_name} ladder names no one else",
           data={"reason": reason, "paged": False, "empty_schedules": empty})
    line = (f":rotating_light: *Nobody could be paged* ({reason}): nobody is on call for {who} and the *{policy_name}* "
            "ladder names no one else. Page someone by hand with `/incident page @someone`.")
    enqueue(session, deps.clock, kind="incident_post", incident_id=incident.id,
            dedupe_key=f"nobody-paged:{incident.id}:{now.isoformat()}", payload={"incident_id": incident.id, "text": line})
    return line


def page_person(deps: Deps, incident_id: int, user: str, actor: str) -> str:
    """`/incident page @user`: one person, with the same acknowledge flow. Asks Slack who they are: after the ack."""
    check_person(deps.people, user)
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        return start_page(deps, session, incident, reason=f"paged by <@{actor}>", actor=actor, direct=[user])


def page_policy(deps: Deps, incident_id: int, actor: str) -> str:
    """Bare `/incident page`: walk the incident's escalation policy now (unless a page is already running)."""
    with deps.db.unit_of_work() as session:
        locked_incident(session, incident_id)
        return request_page(deps, session, incident_id, reason=f"paged by <@{actor}>", actor=actor)


def _page_tier(deps: Deps, session: Session, incident: Incident, page: Page, *, include_contact: bool = False) -> None:
    now = deps.clock.now()
    for note in skip_unstaffed(page, now):
        record(session, incident.id, kind="page_tier_skipped", actor="sevbot", at=now, summary=note,
               data={"page_id": page.id})
        enqueue(session, deps.clock, kind="incident_post", incident_id=incident.id,
                dedupe_key=f"page:{page.id}:{page.round}:{page.tier}:skipped:{note[:60]}",
                payload={"incident_id": incident.id, "text": f":warning: {note}."})
    if page.state == EXHAUSTED:
        _exhausted(deps, session, incident, page, now)
        return
    targets = tier_targets(page, include_contact=include_contact)
    timers.arm(session, kind=timers.PAGE_STEP, incident_id=incident.id, ref_id=page.id, due_at=now + tier_timeout(page))
    record(session, incident.id, kind="paged", actor="sevbot", at=now,
           summary=f"Paged tier {page.tier + 1} (round {page.round}): " + describe_targets(page, targets),
           data={"page_id": page.id, "tier": page.tier + 1, "round": page.round, "targets": targets})
    enqueue(session, deps.clock, kind="page_dm", incident_id=incident.id,
            dedupe_key=f"page:{page.id}:{page.round}:{page.tier}",
            payload={"page_id": page.id, "incident_id": incident.id, "targets": targets, "tier": page.tier + 1,
                     "round": page.round, "timeout_s": tier_timeout(page).total_seconds()})


def page_timed_out(deps: Deps, session: Session, page: Page) -> None:
    """Nobody acknowledged this tier in time: next tier, next round, or say plainly that the ladder is exhausted."""
    incident = session.get_one(Incident, page.incident_id)
    now = deps.clock.now()
    if not step_up(page, now):
        _exhausted(deps, session, incident, page, now)
        return
    record(session, incident.id, kind="page_escalated", actor="sevbot", at=now,
           summary=f"No acknowledgement in time: escalating to tier {page.tier + 1} (round {page.round})",
           data={"page_id": page.id, "tier": page.tier + 1, "round": page.round})
    _page_tier(deps, session, incident, page)
    metrics.on_commit(session, lambda: metrics.page_escalated("incident"))


def _exhausted(deps: Deps, session: Session, incident: Incident, page: Page, now: datetime) -> None:
    timers.cancel(session, kind=timers.PAGE_STEP, incident_id=incident.id, now=now, ref_id=page.id)
    text = (f":rotating_light: *Nobody acknowledged the page for {human_id(incident.id)}* after {page.round} round(s) of the "
            f"*{page.policy_name}* ladder. Call people by phone now.")
    record(session, incident.id, kind="page_exhausted", actor="sevbot", at=now,
           summary=f"Escalation exhausted: nobody acknowledged after {page.round} round(s)", data={"page_id": page.id})
    for channel in filter(None, (incident.channel_id, deps.config.stakeholder_channel)):
        enqueue(session, deps.clock, kind="post", incident_id=incident.id, dedupe_key=f"page:{page.id}:exhausted:{channel}",
                payload={"channel": channel, "text": text})


def acknowledge(deps: Deps, incident_id: int, user: str, *, page_id: int | None = None) -> str:
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        if page_id is not None:
            page = session.scalar(select(Page).where(Page.id == page_id).with_for_update())
            if page is None or page.incident_id != incident_id:
                raise BadInput("That page is not one sevbot sent; nothing changed.")
        else:
            page = active_page(session, incident_id) or session.scalar(
                select(Page).where(Page.incident_id == incident_id).order_by(Page.id.desc()))
            if page is None:
                raise BadInput(f"Nobody is being paged for {human_id(incident_id)}.")
        if page.state == ACKED:
            return f"Already acknowledged by <@{page.acked_by}> at {page.acked_at:%H:%M} UTC."
        if page.state != PAGING:
            raise BadInput(f"That page is over ({page.state}); start a new one with `/incident page @someone`.")
        took = mark_acknowledged(page, user, now)
        waited = (now - page.started_at).total_seconds()
        metrics.on_commit(session, lambda: metrics.page_acknowledged("incident", waited))
        seconds = int(waited)
        timers.cancel(session, kind=timers.PAGE_STEP, incident_id=incident_id, now=now, ref_id=page.id)
        record(session, incident_id, kind="page_acked", actor=user, at=now,
               summary=f"Page acknowledged by <@{user}> after {took} (tier {page.tier + 1})",
               data={"page_id": page.id, "seconds_to_ack": seconds, "tier": page.tier + 1})
        incident = session.get_one(Incident, incident_id)
        if incident.channel_id:
            enqueue(session, deps.clock, kind="invite", incident_id=incident_id, payload={"channel": incident.channel_id, "users": [user]})
            enqueue(session, deps.clock, kind="post", incident_id=incident_id, dedupe_key=f"page:{page.id}:acked",
                    payload={"channel": incident.channel_id, "text": f":white_check_mark: <@{user}> acknowledged the page after {took}. The ladder stopped."})
    return f":white_check_mark: Acknowledged {human_id(incident_id)} (after {took}). You're invited to the incident channel."


def cancel_pages(deps: Deps, session: Session, incident_id: int, why: str) -> int:
    now = deps.clock.now()
    pages = list(session.scalars(select(Page).where(Page.incident_id == incident_id, Page.state == PAGING).with_for_update()))
    for page in pages:
        page.state, page.ended_at = CANCELLED, now
        timers.cancel(session, kind=timers.PAGE_STEP, incident_id=incident_id, now=now, ref_id=page.id)
        record(session, incident_id, kind="page_cancelled", actor="sevbot", at=now, summary=f"Page stopped: {why}", data={"page_id": page.id})
    return len(pages)


def escalate(deps: Deps, incident_id: int, actor: str, context: dict[str, str]) -> str:
    """`/incident escalate`: page the next tier now, carrying what was tried, observed and suspected."""
    with deps.db.unit_of_work() as session:
        incident = session.get_one(Incident, incident_id)
        context = {**context, "runbooks": runbook_progress(session, incident_id)}
        record(session, incident_id, kind="escalated", actor=actor, at=deps.clock.now(),
               summary="Escalated: " + "; ".join(f"{k}: {escape_mrkdwn(one_line(v))}" for k, v in context.items() if k != "runbooks" and v),
               data=context)
        page = active_page(session, incident_id)
        if page is not None:
            page.context = {**page.context, **context}
            page_timed_out(deps, session, page)  # step up now instead of waiting for the timeout
            line = f":arrow_double_up: Escalated to tier {page.tier + 1}."
        else:
            last = session.scalar(select(Page).where(Page.incident_id == incident_id).order_by(Page.id.desc()))
            next_tier = (last.tier + 1) if last is not None else 1
            line = start_page(deps, session, incident, reason=f"escalated by <@{actor}>", actor=actor, context=context, start_tier=next_tier)
    return line


def runbook_progress(session: Session, incident_id: int) -> list[str]:
    lines = []
    for run in session.scalars(select(RunbookRun).where(RunbookRun.incident_id == incident_id)):
        states = [s.state for s in session.scalars(select(RunbookStepState).where(RunbookStepState.run_id == run.id))]
        lines.append(f"{run.title}: {states.count('done')} done, {states.count('failed')} failed, {states.count('pending')} left")
    return lines


def request_page(deps: Deps, session: Session, incident_id: int, *, reason: str, actor: str) -> str:
    """A change that calls for a page (a paging severity declared or raised): start the incident's ladder, unless one
    is already running. Returns the line for the channel."""
    if active_page(session, incident_id) is not None:
        return ":pager: On-call is already being paged for this incident."
    incident = session.get_one(Incident, incident_id)
    return start_page(deps, session, incident, reason=reason, actor=actor)


def page_step_due(deps: Deps, session: Session, timer: Timer) -> None:
    """Tick handler for a tier's acknowledgement timeout."""
    page = session.get(Page, timer.ref_id)
    timer.done_at = deps.clock.now()  # the next tier arms a fresh timer
    if page is None or page.state != PAGING:
        return
    session.flush()
    page_timed_out(deps, session, page)
