"""Hand-offs: the incoming person hears they are on call, once, with what they inherit.

One timer row per schedule (kind `oncall_handoff`, `ref_id` = the schedule's `oncall_rotas` row), due at the
schedule's next hand-off (overrides included). When it fires, the tick's transaction works out who is on call now
and since when (their run: adjacent shifts of one person count as one), records that as a hand-off (unique per
schedule, instant and person), queues the DM (an outbox item with a dedupe key) and the user group update, and re-arms the
timer for the next hand-off. So:

- a process that was down across one or several hand-offs sends one DM, for the shift in force now;
- two replicas, a retried tick, a restart: the unique hand-off row makes a second DM impossible;
- an override added or removed, or a schedule edited between restarts, re-arms the timer (`sync_schedule`), due at
  once when the person on call now is not the one last announced.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import Schedule
from bot.core.deps import Deps
from bot.core.outbox import enqueue
from bot.db.engine import note_queued
from bot.db.models import AlertGroup, Incident, OncallHandoff, OncallOverride, OncallRota, OutboxItem, Page, Timer
from bot.domain.incident import human_id
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.oncall.overrides import active_overrides, window
from bot.oncall.rotation import OverrideWindow, Shift, next_handoff, schedule_shifts
from bot.oncall.show import slack_date
from bot.scheduler import timers

ONCALL_HANDOFF = "oncall_handoff"
USERGROUP_SYNC = "oncall_usergroup"
# How far back the current person's run is traced, and how far ahead overrides are read for the next hand-off.
LOOK_BACK = timedelta(days=35)
SHORT_LOOK_BACK = timedelta(days=8)
LOOK_AHEAD = timedelta(days=62)
# The DM lists at most this many open incidents and pages: past that, `/incident list` reads better at 3 a.m.
MAX_LISTED = 15


@dataclass(frozen=True)
class Run:
    """Who is on call now (None: nobody, a gap) and since when, counting adjacent shifts of one person as one."""

    user: str | None
    since: datetime
    shift: Shift | None


def schedule_zone(schedule: Schedule) -> ZoneInfo:
    return schedule.zone


def overrides_near(session: Session, name: str, now: datetime) -> list[OverrideWindow]:
    return active_overrides(session, name, now - LOOK_BACK, now + LOOK_AHEAD)


def current_run(schedule: Schedule, now: datetime, overrides: Sequence[OverrideWindow]) -> Run:
    """Traced back over a short window first (most runs are a day or a week), the whole LOOK_BACK only when the run
    reaches the window's edge."""
    for back in (SHORT_LOOK_BACK, LOOK_BACK):
        run = _run_within(schedule, now, overrides, now - back)
        if run.since > now - back or back == LOOK_BACK:
            return run
    raise AssertionError("unreachable")


def _run_within(schedule: Schedule, now: datetime, overrides: Sequence[OverrideWindow], start: datetime) -> Run:
    shifts = sorted(schedule_shifts(schedule, start, now + timedelta(seconds=1), overrides), key=lambda s: s.start)
    index = next((i for i, shift in enumerate(shifts) if shift.start <= now < shift.end), None)
    if index is None:  # a gap: since the last shift before now ended
        ended = [shift.end for shift in shifts if shift.end <= now]
        return Run(None, max(ended) if ended else start, None)
    shift = shifts[index]
    since = shift.start
    for earlier in reversed(shifts[:index]):
        if earlier.user != shift.user or earlier.end < since:
            break
        since = earlier.start
    return Run(shift.user, since, shift)


def next_change(schedule: Schedule, now: datetime, overrides: Sequence[OverrideWindow]) -> datetime | None:
    return next_handoff(schedule, now, overrides)


# ---- arming ---------------------------------------------------------------------------------------------------


def _rota(session: Session, deps: Deps, name: str, schedule: Schedule, now: datetime) -> OncallRota:
    """The schedule's rota row, locked; made on first sight with the person on call now as already announced (a
    schedule sevbot starts watching does not DM whoever happens to be on call)."""
    rota = session.scalar(select(OncallRota).where(OncallRota.schedule == name).with_for_update())
    if rota is not None:
        return rota
    run = current_run(schedule, now, overrides_near(session, name, now))
    try:
        with session.begin_nested():
            rota = OncallRota(schedule=name, user_id=run.user, since=run.since, created_at=now)
            session.add(rota)
            session.add(OncallHandoff(schedule=name, at=run.since, user_id=run.user, previous_user_id=None, recorded_at=now))
    except IntegrityError:  # another replica made it meanwhile
        pass
    else:
        if schedule.usergroup and run.user is not None:  # the group starts out right, too
            enqueue(session, deps.clock, kind=USERGROUP_SYNC, payload={"schedule": name})
    return session.scalar(select(OncallRota).where(OncallRota.schedule == name).with_for_update())  # type: ignore[return-value]


def sync_schedule(session: Session, deps: Deps, name: str) -> datetime | None:
    """Arm (or move) the schedule's hand-off timer: due now when the person on call now has not been announced (an
    override just changed it, or the config did), else at the next hand-off. Returns when it is due."""
    schedule = deps.config.schedules.get(name)
    now = deps.clock.now()
    if schedule is None:
        return None
    rota = _rota(session, deps, name, schedule, now)
    overrides = overrides_near(session, name, now)
    run = current_run(schedule, now, overrides)
    timer = session.scalar(select(Timer).where(Timer.kind == ONCALL_HANDOFF, Timer.incident_id.is_(None), Timer.ref_id == rota.id,
                                               Timer.done_at.is_(None)).with_for_update())
    if timer is not None and timer.due_at <= now:
        return timer.due_at  # already due (e.g. a hand-off passed while we were down): the tick takes it
    due = now if (rota.user_id, rota.since) != (run.user, run.since) else next_change(schedule, now, overrides)
    if due is None:
        if timer is not None:
            timer.done_at, timer.fence = now, timer.fence + 1
        return None
    timers.arm(session, kind=ONCALL_HANDOFF, incident_id=None, due_at=due, ref_id=rota.id)
    return due


def sync_all(deps: Deps) -> int:
    """At start: a timer for every configured schedule, each due at its next hand-off (or now, when one was missed or
    the config changed who is on call); timers of schedules no longer configured are finished."""
    armed = 0
    for name in sorted(deps.config.schedules):
        with deps.db.unit_of_work() as session:
            if sync_schedule(session, deps, name) is not None:
                armed += 1
    with deps.db.unit_of_work() as session:
        gone = select(OncallRota.id).where(OncallRota.schedule.not_in(list(deps.config.schedules) or [""]))
        session.execute(update(Timer).where(Timer.kind == ONCALL_HANDOFF, Timer.done_at.is_(None), Timer.ref_id.in_(gone))
                        .values(done_at=deps.clock.now(), fence=Timer.fence + 1).execution_options(synchronize_session=False))
    return armed


# ---- firing ---------------------------------------------------------------------------------------------------


def handoff_due(deps: Deps, session: Session, timer: Timer) -> None:
    """Tick handler: record the hand-off in force now (once), tell the incoming person, re-arm for the next one.

    A tick may hand off hundreds of schedules in one transaction (every team at 09:00 on Monday): the rota rows and
    the overrides are read once per transaction, the hand-off and the DM are single keyed inserts, and the session is
    flushed once at commit."""
    now = deps.clock.now()
    with session.no_autoflush:
        rota = _tick_rotas(session).get(timer.ref_id)
        schedule = deps.config.schedules.get(rota.schedule) if rota is not None else None
        if rota is None or schedule is None:  # the schedule left the config: its timer ends
            timer.done_at = now
            return
        overrides = _tick_overrides(session, now).get(rota.schedule, [])
        run = current_run(schedule, now, overrides)
        upcoming = next_change(schedule, now, overrides)
        if (rota.user_id, rota.since) != (run.user, run.since):
            _record(session, deps, rota, schedule, run, upcoming, now)
        timer.fired += 1
        timer.fence += 1
        if upcoming is None:
            timer.done_at = now
        else:
            timer.due_at = upcoming


_ROTAS = "oncall_rotas"
_OVERRIDES = "oncall_overrides"


def _tick_rotas(session: Session) -> dict[int, OncallRota]:
    """Every rota row, read once per transaction (one row per configured schedule)."""
    rotas = session.info.get(_ROTAS)
    if rotas is None:
        rotas = session.info[_ROTAS] = {rota.id: rota for rota in session.scalars(select(OncallRota))}
    return rotas  # type: ignore[no-any-return]


def _tick_overrides(session: Session, now: datetime) -> dict[str, list[OverrideWindow]]:
    """Every schedule's overrides near now, read once per transaction (the tick adds none meanwhile)."""
    found = session.info.get(_OVERRIDES)
    if found is None:
        found = {}
        rows = session.scalars(select(OncallOverride).where(
            OncallOverride.removed_at.is_(None), OncallOverride.starts_at < now + LOOK_AHEAD, OncallOverride.ends_at > now - LOOK_BACK,
        ).order_by(OncallOverride.created_at, OncallOverride.id))
        for row in rows:
            found.setdefault(row.schedule, []).append(window(row))
        session.info[_OVERRIDES] = found
    return found  # type: ignore[no-any-return]


_PENDING = "oncall_pending_handoffs"


def _record(session: Session, deps: Deps, rota: OncallRota, schedule: Schedule, run: Run, until: datetime | None,
            now: datetime) -> None:
    """Note the hand-off and its DM; they are written together just before the transaction commits (`_write`), a
    few statements for the whole tick batch rather than two round trips per schedule."""
    previous = rota.user_id
    rota.user_id, rota.since = run.user, run.since
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "before_commit", _write, once=True)
    text_ = handoff_text(session, deps, rota.schedule, schedule, run.user, until) if run.user is not None else None
    pending.append(({"schedule": rota.schedule, "at": run.since, "user_id": run.user, "previous_user_id": previous,
                     "recorded_at": now}, text_))
    if run.user is not None:
        note_queued(session, None)  # the commit may queue a DM: the tick delivers after it
    if schedule.usergroup and run.user is not None and run.user != previous:
        enqueue(session, deps.clock, kind=USERGROUP_SYNC, payload={"schedule": rota.schedule})


def _write(session: Session) -> None:
    """The noted hand-offs, inserted unless already there (unique per schedule, instant and person: a hand-off is
    recorded once whoever fires it), and a DM for each one that was new. A hand-off already recorded (a cover was
    removed, and the rota's person is back on the shift they were told about) gets no second DM."""
    pending: list[tuple[dict[str, Any], str | None]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    connection = session.connection()
    upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    handoffs = cast(Table, OncallHandoff.__table__)
    inserted = {(row.schedule, _utc(row.at), row.user_id) for row in connection.execute(
        upsert(handoffs).on_conflict_do_nothing().returning(handoffs.c.schedule, handoffs.c.at, handoffs.c.user_id),
        [row for row, _text in pending])}
    now = pending[0][0]["recorded_at"]
    dms = [{"incident_id": None, "kind": "dm", "payload": {"user": row["user_id"], "text": text_},
            "dedupe_key": f"oncall_handoff:{row['schedule']}:{row['at'].isoformat()}:{row['user_id']}", "created_at": now,
            "due_at": now, "attempts": 0}
           for row, text_ in pending if text_ is not None and (row["schedule"], row["at"], row["user_id"]) in inserted]
    if dms:
        outbox = cast(Table, OutboxItem.__table__)
        connection.execute(upsert(outbox).on_conflict_do_nothing(index_elements=[outbox.c.dedupe_key]), dms)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def handoff_text(session: Session, deps: Deps, name: str, schedule: Schedule, user: str | None, until: datetime | None) -> str:
    zone = schedule_zone(schedule)
    when = f"until {slack_date(until, zone)}" if until is not None else "with no hand-off planned"
    lines = [f":pager: <@{user}>, you are now on call for *{escape_mrkdwn(name)}* {when}."]
    lines += inherited(session, deps)
    lines.append("`/incident oncall` shows who is on call; `/incident oncall cover` hands a shift to someone else.")
    return "\n".join(lines)


def inherited(session: Session, deps: Deps) -> list[str]:
    """What the incoming person takes over: the open incidents and the pages still waiting for an acknowledgement.

    Read once per transaction: a tick handing off many schedules at once (every team at 09:00 Monday) lists the
    same incidents for each."""
    cached = session.info.get(_INHERITED)
    if cached is None:
        cached = session.info[_INHERITED] = _inherited(session, deps)
    return list(cached)


_INHERITED = "oncall_inherited"


def _inherited(session: Session, deps: Deps) -> list[str]:
    config = deps.config
    incidents = list(session.scalars(select(Incident).where(Incident.status != config.closed_status)
                                     .order_by(Incident.id.desc()).limit(MAX_LISTED + 1)))
    lines: list[str] = []
    if incidents:
        lines.append("*Open incidents:*")
        for incident in incidents[:MAX_LISTED]:
            label = config.severities[incident.severity].label if incident.severity in config.severities else incident.severity
            where = f"<#{incident.channel_id}>" if incident.channel_id else "_channel pending_"
            lines.append(f"• *{human_id(incident.id)}* {label} · {escape_mrkdwn(truncate(one_line(incident.title), 100))} · {where}")
        if len(incidents) > MAX_LISTED:
            lines.append("• … and more: `/incident list`")
    else:
        lines.append("No open incidents.")
    incident_pages = list(session.execute(
        select(Page.id, Incident.id, Incident.title, Incident.channel_id).join(Incident, Incident.id == Page.incident_id)
        .where(Page.state == "paging").order_by(Page.id).limit(MAX_LISTED)))
    alert_pages = list(session.execute(
        select(Page.id, AlertGroup.title, AlertGroup.severity, AlertGroup.channel_id)
        .join(AlertGroup, and_(AlertGroup.id == Page.alert_group_id)).where(Page.state == "paging").order_by(Page.id).limit(MAX_LISTED)))
    if incident_pages or alert_pages:
        lines.append("*Pages nobody has acknowledged yet:*")
        for _page, incident_id, title, channel in incident_pages:
            where = f" · <#{channel}>" if channel else ""
            lines.append(f"• {human_id(incident_id)} · {escape_mrkdwn(truncate(one_line(title), 100))}{where}")
        for _page, title, severity, channel in alert_pages:
            where = f" · <#{channel}>" if channel else ""
            lines.append(f"• alert ({escape_mrkdwn(severity)}) · {escape_mrkdwn(truncate(one_line(title), 100))}{where}")
    else:
        lines.append("No unacknowledged pages.")
    return lines


def usergroup_members_now(deps: Deps, name: str) -> tuple[str, list[str]] | None:
    """(user group, its members) as the schedule stands: the outbox reads it at delivery time, so items delivered
    out of order still leave the group showing whoever is on call last."""
    schedule = deps.config.schedules.get(name)
    group = schedule.usergroup if schedule is not None else None
    if not group:
        return None
    with deps.db.unit_of_work() as session:
        user = session.scalar(select(OncallRota.user_id).where(OncallRota.schedule == name))
    return (group, [user]) if user else None


def sync_usergroup(deps: Deps, set_members: Callable[[str, list[str]], None], payload: dict[str, Any]) -> dict[str, Any]:
    """Outbox handler: the schedule's user group becomes whoever is on call (as recorded when it is delivered)."""
    found = usergroup_members_now(deps, str(payload["schedule"]))
    if found is None:
        return {"skipped": "no user group, or nobody on call"}
    group, users = found
    set_members(group, users)
    return {"usergroup": group, "users": users}
