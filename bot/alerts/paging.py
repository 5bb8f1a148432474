"""Paging for an alert group: the route's escalation ladder, walked until somebody acknowledges, the group resolves,
or an incident takes over. The same `pages` rows and ladder steps as an incident's page (`bot/paging/steps.py`);
the timer is this feature's own kind, with no incident."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import metrics
from bot.alerts.events import message_changed, record_alert_event
from bot.config import EscalationPolicy
from bot.core.deps import Deps
from bot.core.outbox import enqueue
from bot.db.models import AlertGroup, Page, Timer
from bot.paging.snapshot import snapshot_ladder
from bot.paging.steps import (CANCELLED, EXHAUSTED, PAGING, describe_targets, ladder_has_anyone, mark_acknowledged,
                              nobody_on_call, skip_unstaffed, step_up, tier_targets, tier_timeout)
from bot.scheduler import timers

ALERT_PAGE_STEP = "alert_page_step"


def start_group_page(deps: Deps, session: Session, group: AlertGroup, policy_name: str,
                     policy: EscalationPolicy) -> Page | None:
    """Start walking the ladder (None: its schedules' shifts are all empty and it names no one else)."""
    now = deps.clock.now()
    snapshot = snapshot_ladder(deps, session, policy)
    if not ladder_has_anyone(snapshot):
        record_alert_event(session, group, kind="page_requested", actor="sevbot", at=now,
                           summary=f"Paging requested; nobody could be paged: nobody is on call for "
                                   f"{', '.join(nobody_on_call(snapshot))} and the {policy_name} ladder names no one else",
                           data={"paged": False, "empty_schedules": nobody_on_call(snapshot)})
        return None
    page = Page(alert_group_id=group.id, incident_id=None, policy_name=policy_name, policy=snapshot, tier=0, round=1,
                state=PAGING, reason=f"alert {group.title[:200]}", context={}, started_by="sevbot", started_at=now)
    session.add(page)
    session.flush()
    _page_tier(deps, session, group, page, first=True)
    metrics.on_commit(session, lambda: metrics.page_started("alert"))
    return page


def _page_tier(deps: Deps, session: Session, group: AlertGroup, page: Page, *, first: bool = False) -> None:
    now = deps.clock.now()
    for note in skip_unstaffed(page, now):
        record_alert_event(session, group, kind="page_tier_skipped", actor="sevbot", at=now, summary=note,
                           data={"page_id": page.id})
    if page.state == EXHAUSTED:
        _exhausted(session, group, page, now)
        return
    targets = tier_targets(page)
    arm = timers.arm_new if first else timers.arm  # a page just started has no timer yet
    arm(session, kind=ALERT_PAGE_STEP, incident_id=None, ref_id=page.id, due_at=now + tier_timeout(page))
    record_alert_event(session, group, kind="paged", actor="sevbot", at=now,
                       summary=f"Paged tier {page.tier + 1} (round {page.round}): " + describe_targets(page, targets),
                       data={"page_id": page.id, "tier": page.tier + 1, "round": page.round, "targets": targets})
    enqueue(session, deps.clock, kind="alert_page_dm", dedupe_key=f"alertpage:{page.id}:{page.round}:{page.tier}",
            payload={"group_id": group.id, "page_id": page.id, "targets": targets, "tier": page.tier + 1,
                     "round": page.round, "timeout_s": tier_timeout(page).total_seconds()})


def alert_page_step_due(deps: Deps, session: Session, timer: Timer) -> None:
    """Tick handler: nobody acknowledged this tier in time."""
    now = deps.clock.now()
    timer.done_at = now
    page = session.get(Page, timer.ref_id)
    if page is None or page.state != PAGING or page.alert_group_id is None:
        return
    group = session.get_one(AlertGroup, page.alert_group_id)
    if step_up(page, now):
        record_alert_event(session, group, kind="page_escalated", actor="sevbot", at=now,
                           summary=f"No acknowledgement in time: escalating to tier {page.tier + 1} (round {page.round})",
                           data={"page_id": page.id, "tier": page.tier + 1, "round": page.round})
        _page_tier(deps, session, group, page)
        metrics.on_commit(session, lambda: metrics.page_escalated("alert"))
    else:
        _exhausted(session, group, page, now)
    message_changed(session, deps.clock, group)  # who was paged, or that nobody answered
    session.flush()


def _exhausted(session: Session, group: AlertGroup, page: Page, now: datetime) -> None:
    record_alert_event(session, group, kind="page_exhausted", actor="sevbot", at=now,
                       summary=f"Escalation exhausted: nobody acknowledged after {page.round} round(s)",
                       data={"page_id": page.id})


def live_page(session: Session, group_id: int) -> Page | None:
    return session.scalar(select(Page).where(Page.alert_group_id == group_id, Page.state == PAGING)
                          .order_by(Page.id.desc()).with_for_update())


def acknowledge_page(deps: Deps, session: Session, group: AlertGroup, user: str) -> str | None:
    """Stop the group's ladder for `user`; how long it took, or None when no ladder was running."""
    now = deps.clock.now()
    page = live_page(session, group.id)
    if page is None:
        return None
    took = mark_acknowledged(page, user, now)
    waited = (now - page.started_at).total_seconds()
    metrics.on_commit(session, lambda: metrics.page_acknowledged("alert", waited))
    timers.cancel(session, kind=ALERT_PAGE_STEP, incident_id=None, now=now, ref_id=page.id)
    dms_say_why(deps, session, group, page)
    return took


def stop_group_page(deps: Deps, session: Session, group: AlertGroup, why: str) -> bool:
    now = deps.clock.now()
    page = live_page(session, group.id)
    if page is None:
        return False
    page.state, page.ended_at = CANCELLED, now
    timers.cancel(session, kind=ALERT_PAGE_STEP, incident_id=None, now=now, ref_id=page.id)
    record_alert_event(session, group, kind="page_stopped", actor="sevbot", at=now, summary=f"Page stopped: {why}",
                       data={"page_id": page.id})
    dms_say_why(deps, session, group, page)
    return True


def dms_say_why(deps: Deps, session: Session, group: AlertGroup, page: Page) -> None:
    """The page's DMs lose their Acknowledge button and say who acknowledged, or why the paging stopped."""
    enqueue(session, deps.clock, kind="alert_dm_update", dedupe_key=f"alertpage:{page.id}:dms",
            payload={"group_id": group.id, "page_id": page.id})
