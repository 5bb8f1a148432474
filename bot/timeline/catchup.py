"""`/incident catchup`: one private screen for someone joining mid-incident, from sevbot's own records alone.

What the incident is, severity, status and age, who holds each role, the last stakeholder update and when the next
is due, the page, the runbooks' progress, the latest notable timeline events and the follow-ups. Every query is
bounded (LIMIT or an aggregate), so an incident with thousands of timeline events costs the same as a new one, and
every part is cut to a fixed size, so the answer stays inside Block Kit's limits (3,000 characters a section, 50
blocks a message) however long the incident has run.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.deps import Deps
from bot.core.incident import current_roles
from bot.db.models import FollowUp, Incident, Page, RunbookRun, RunbookStepState, TimelineEvent, Timer
from bot.domain.incident import human_id
from bot.domain.severity import severity_label
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.paging.steps import ACKED, CANCELLED, EXHAUSTED, PAGING
from bot.resolve.resolve import duration_text
from bot.scheduler import timers

NOTABLE_SHOWN = 5
FOLLOWUPS_SHOWN = 5
RUNS_SHOWN = 3
ROLES_SHOWN = 10
SECTION_LIMIT = 3000  # Block Kit: a section's text
LINE_LIMIT = 200  # one event, follow-up or runbook line (as `/incident timeline`): a handful stay well inside a section
# Bookkeeping, not news: provisioning steps, reminders, prompts, refusals and Slack deliveries that failed (card syncs).
NOISE = frozenset({
    "channel_created", "members_invited", "topic_set", "card_posted", "card_pinned", "update_reminder",
    "postmortem_reminder", "escalation_prompted", "slack_failed", "refused",
})


@dataclass(frozen=True)
class Catchup:
    """The answer: blocks, and the notification text that goes with them."""

    text: str
    blocks: list[dict[str, Any]]


def catchup(deps: Deps, incident_id: int) -> Catchup:
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = session.get_one(Incident, incident_id)
        sections = [
            _about(incident),
            _state(deps, incident, now),
            _roles(deps, session, incident),
            _updates(deps, session, incident, now),
            _paging(session, incident_id, now),
            _runbooks(session, incident_id),
            _notable(session, incident_id),
            _followups(session, incident_id),
        ]
        label = severity_label(deps.config, incident.severity)
        heading = f"{human_id(incident_id)} catch-up · {label} · {incident.status}"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": truncate(heading, 150)}}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}} for text in sections if text]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                   "Only you can see this. From sevbot's records; `/incident timeline` lists the latest events."}]})
    return Catchup(text=truncate(f"{heading}: {escape_mrkdwn(one_line(incident.title))}", SECTION_LIMIT), blocks=blocks)


def _ago(now: datetime, then: datetime) -> str:
    return f"{duration_text(max(0.0, (now - then).total_seconds()))} ago"


def _when(now: datetime, then: datetime) -> str:
    return f"{then:%H:%M} UTC ({_ago(now, then)})" if then <= now else f"{then:%H:%M} UTC (in {duration_text((then - now).total_seconds())})"


def _line(text: str) -> str:
    """Stored mrkdwn (already escaped) on one line, cut without splitting an escape."""
    return truncate(one_line(text), LINE_LIMIT)


def _plain_line(text: str) -> str:
    """User text (raw) escaped, then cut: the escapes count towards the limit."""
    return _line(escape_mrkdwn(text))


def _more(shown: int, total: int) -> list[str]:
    return [f"… and {total - shown:,} more"] if total > shown else []


def _about(incident: Incident) -> str:
    title = escape_mrkdwn(truncate(one_line(incident.title), 200))
    description = escape_mrkdwn(truncate(one_line(incident.description or ""), 600))
    service = f"\n*Service:* {escape_mrkdwn(truncate(one_line(incident.service), 100))}" if incident.service else ""
    return f"*{title}*" + (f"\n{description}" if description else "") + service


def _state(deps: Deps, incident: Incident, now: datetime) -> str:
    label = severity_label(deps.config, incident.severity)
    if incident.status == deps.config.closed_status and incident.resolved_at is not None:
        age = f"resolved {_ago(now, incident.resolved_at)}, after {duration_text((incident.resolved_at - incident.declared_at).total_seconds())}"
    else:
        age = f"open for {duration_text(max(0.0, (now - incident.declared_at).total_seconds()))}"
    return f"*Severity:* {label} · *Status:* {incident.status} · {age} (declared by <@{incident.declared_by}> at {incident.declared_at:%Y-%m-%d %H:%M} UTC)"


def _roles(deps: Deps, session: Session, incident: Incident) -> str:
    holders = current_roles(session, incident.id)
    holders.setdefault("ic", incident.declared_by)  # the declarer commands until someone takes over
    names = {role.key: role.name for role in deps.config.roles}
    keys = [role.key for role in deps.config.roles] + sorted(set(holders) - set(names))
    parts = [f"{escape_mrkdwn(names.get(key, key))}: {f'<@{holders[key]}>' if key in holders else '_unassigned_'}" for key in keys]
    return "*Roles:* " + " · ".join(parts[:ROLES_SHOWN] + _more(ROLES_SHOWN, len(parts)))


def _updates(deps: Deps, session: Session, incident: Incident, now: datetime) -> str:
    last = session.scalar(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "stakeholder_update")
                          .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc()).limit(1))
    if last is None:
        said = "none posted yet"
    else:
        impact = _plain_line(str(last.data.get("impact") or ""))
        said = f"{_when(now, last.at)} by <@{last.actor}>" + (f": {impact}" if impact else "")
    if incident.status == deps.config.closed_status:
        due = "updates stopped (resolved)"
    else:
        timer = session.scalar(select(Timer).where(Timer.kind == timers.UPDATE_REMINDER, Timer.incident_id == incident.id,
                                                   Timer.done_at.is_(None)).limit(1))
        if timer is None:
            due = "no update is scheduled"
        else:
            due = ("the next one is *overdue* since " if timer.due_at <= now else "the next one is due at ") + _when(now, timer.due_at)
            if timer.fired:
                due += f", {timer.fired} reminder(s) unanswered"
    return f"*Stakeholder updates:* last {said}\n{due}"


def _paging(session: Session, incident_id: int, now: datetime) -> str:
    page = session.scalar(select(Page).where(Page.incident_id == incident_id).order_by(Page.id.desc()).limit(1))
    if page is None:
        return "*Paging:* nobody has been paged"
    since = _when(now, page.started_at)
    if page.state == PAGING:
        tiers = len(page.policy.get("tiers") or [])
        state = f"paging now, tier {page.tier + 1} of {tiers}, round {page.round}; started {since}"
    elif page.state == ACKED:
        state = f"acknowledged by <@{page.acked_by}>" + (f" at {_when(now, page.acked_at)}" if page.acked_at else "")
    elif page.state == EXHAUSTED:
        state = f"*exhausted*: nobody acknowledged after {page.round} round(s) (started {since})"
    elif page.state == CANCELLED:
        state = f"cancelled (started {since})"
    else:
        state = f"{escape_mrkdwn(page.state)} (started {since})"
    reason = _line(page.reason) if page.reason else ""  # stored as mrkdwn (it names people)
    return f"*Paging:* {state}" + (f"\n_{reason}_" if reason else "")


def _runbooks(session: Session, incident_id: int) -> str:
    total = session.scalar(select(func.count()).select_from(RunbookRun).where(RunbookRun.incident_id == incident_id)) or 0
    if not total:
        return "*Runbooks:* none started"
    runs = list(session.scalars(select(RunbookRun).where(RunbookRun.incident_id == incident_id)
                                .order_by(RunbookRun.id.desc()).limit(RUNS_SHOWN)))
    counts: dict[int, dict[str, int]] = {run.id: {} for run in runs}
    for run_id, state, count in session.execute(
            select(RunbookStepState.run_id, RunbookStepState.state, func.count())
            .where(RunbookStepState.run_id.in_(list(counts))).group_by(RunbookStepState.run_id, RunbookStepState.state)):
        counts[run_id][state] = count
    lines = []
    for run in runs:
        c = counts[run.id]
        steps = sum(c.values())
        finished = "complete" if run.completed_at else f"{c.get('pending', 0)} to go"
        lines.append(_line(f"• {escape_mrkdwn(run.title)}: {c.get('done', 0)}/{steps} done, {c.get('skipped', 0)} skipped, "
                           f"{c.get('failed', 0)} failed, {finished}"))
    return "*Runbooks:*\n" + "\n".join(lines + _more(len(runs), total))


def _notable(session: Session, incident_id: int) -> str:
    events = list(session.scalars(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind.not_in(NOISE))
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc()).limit(NOTABLE_SHOWN)))
    if not events:
        return "*Latest events:* none yet"
    lines = []
    for event in reversed(events):  # oldest first, like the timeline
        who = "sevbot" if event.actor == "sevbot" else f"<@{event.actor}>"
        lines.append(f"`{event.at:%H:%M}` {who} · {_line(event.summary)}")  # summaries are stored escaped
    return f"*Latest {len(events)} events:*\n" + "\n".join(lines)


def _followups(session: Session, incident_id: int) -> str:
    total = session.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.incident_id == incident_id)) or 0
    if not total:
        return "*Follow-ups:* none recorded"
    rows = list(session.scalars(select(FollowUp).where(FollowUp.incident_id == incident_id)
                                .order_by(FollowUp.id).limit(FOLLOWUPS_SHOWN)))
    lines = []
    for row in rows:
        owner = f" · <@{row.owner}>" if row.owner else " · _no owner_"
        due = f" · due {row.due.isoformat()}" if row.due else ""
        lines.append(f"• {_plain_line(row.text)}{owner}{due}")
    return f"*Follow-ups ({total:,}):*\n" + "\n".join(lines + _more(len(rows), total))
