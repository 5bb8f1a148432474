"""The Home tab one person sees: their pages waiting for an acknowledgement (with Acknowledge buttons), the open
incidents by severity with the role they hold in each, who a page reaches first, their follow-ups coming due, and a
Declare incident button.

`gather` reads the database (and the gateway's cached user-group members); `render` is pure, so the block budget
(Slack allows 100 blocks in a Home view) is kept in one place.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.actions import AlertButton, PageButton
from bot.config import EscalationPolicy, IncidentConfig
from bot.core.deps import Deps
from bot.db.models import AlertGroup, FollowUp, Incident, Page, RoleAssignment
from bot.domain.incident import human_id
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.ids import ActionId
from bot.paging.snapshot import resolve_schedules
from bot.paging.steps import PAGING, describe, tier_targets

# What one section of the tab shows at most; the rest is counted ("and 4 more"). With the headers, dividers and
# "more" lines this stays well under Slack's 100 blocks (render checks it).
MAX_PAGES = 10
MAX_INCIDENTS = 30
MAX_POLICIES = 10
MAX_FOLLOW_UPS = 10
FOLLOW_UP_HORIZON = timedelta(days=7)
MAX_BLOCKS = 100

Members = Callable[[str], tuple[str, ...]]


@dataclass(frozen=True)
class PageLine:
    page_id: int
    incident_id: int | None
    group_id: int | None
    title: str
    severity: str
    tier: int
    since: datetime


@dataclass(frozen=True)
class IncidentLine:
    id: int
    title: str
    severity: str
    status: str
    channel_id: str | None
    roles: tuple[str, ...]  # the names of the roles this person holds in it


@dataclass(frozen=True)
class FollowUpLine:
    incident_id: int
    text: str
    due: date


@dataclass(frozen=True)
class HomeData:
    user: str
    pages: list[PageLine] = field(default_factory=list)
    incidents: list[IncidentLine] = field(default_factory=list)
    more_incidents: int = 0
    on_call: list[tuple[str, str]] = field(default_factory=list)  # (policy, who its tier 1 reaches now, as mrkdwn)
    follow_ups: list[FollowUpLine] = field(default_factory=list)
    today: date | None = None
    severity_labels: dict[str, str] = field(default_factory=dict)


def paged(page: Page, user: str, members: Members, *, include_contact: bool = False) -> bool:
    """Whether the page's current tier reaches `user`: named, or a member of a user group it names (from the
    gateway's cache; a group Slack will not list counts as not reaching them)."""
    for target in tier_targets(page, include_contact=include_contact):
        if target == user:
            return True
        if target.startswith("S"):
            try:
                if user in members(target):
                    return True
            except Exception:  # noqa: BLE001 - a group Slack won't list must not hide the rest of the tab
                continue
    return False


def gather(deps: Deps, members: Members, user: str) -> HomeData:
    config = deps.config
    rank = {key: index for index, key in enumerate(config.severities)}
    role_names = {role.key: role.name for role in config.roles}
    today = deps.clock.now().date()
    with deps.db.unit_of_work() as session:
        open_incidents = list(session.scalars(select(Incident).where(Incident.status != config.closed_status)))
        open_incidents.sort(key=lambda i: (rank.get(i.severity, len(rank)), -i.id))
        shown = open_incidents[:MAX_INCIDENTS]
        held: dict[int, list[str]] = {}
        if shown:
            rows = session.execute(select(RoleAssignment.incident_id, RoleAssignment.role).where(
                RoleAssignment.user_id == user, RoleAssignment.ended_at.is_(None),
                RoleAssignment.incident_id.in_([i.id for i in shown])).order_by(RoleAssignment.id))
            for incident_id, role in rows:
                held.setdefault(incident_id, []).append(role_names.get(role, role))
        incidents = [IncidentLine(i.id, i.title, i.severity, i.status, i.channel_id, tuple(held.get(i.id, ())))
                     for i in shown]
        pages: list[PageLine] = []
        for page in session.scalars(select(Page).where(Page.state == PAGING).order_by(Page.id.desc())):
            if page.incident_id is not None:
                incident = session.get(Incident, page.incident_id)
                if incident is None:
                    continue
                # As start_page does: on the critical path, the first tier of the first round pages the contact too.
                critical = (page.policy_name != "direct" and page.round == 1 and page.tier == 0
                            and config.on_critical_path(incident.severity, incident.service))
                if not paged(page, user, members, include_contact=critical):
                    continue
                title, severity = incident.title, incident.severity
            else:
                if not paged(page, user, members):
                    continue
                group = session.get(AlertGroup, page.alert_group_id)
                if group is None:
                    continue
                title, severity = group.title, group.severity
            pages.append(PageLine(page.id, page.incident_id, page.alert_group_id, title, severity, page.tier + 1, page.started_at))
            if len(pages) >= MAX_PAGES:
                break
        follow_ups = [FollowUpLine(f.incident_id, f.text, f.due) for f in session.scalars(
            select(FollowUp).where(FollowUp.owner == user, FollowUp.due.is_not(None), FollowUp.due <= today + FOLLOW_UP_HORIZON)
            .order_by(FollowUp.due, FollowUp.id).limit(MAX_FOLLOW_UPS)) if f.due is not None]
        # Schedules in tier 1 are shown as the person on call now (overrides included), as a page would resolve them.
        on_call = [(name, describe(*_first_tier(session, config, policy, deps.clock.now())))
                   for name, policy in list(config.escalation_policies.items())[:MAX_POLICIES]]
    return HomeData(user=user, pages=pages, incidents=incidents, more_incidents=len(open_incidents) - len(shown),
                    on_call=on_call, follow_ups=follow_ups, today=today,
                    severity_labels={key: s.label for key, s in config.severities.items()})


def _first_tier(session: Session, config: IncidentConfig, policy: EscalationPolicy,
                now: datetime) -> tuple[list[str], list[dict[str, Any]]]:
    [tier] = resolve_schedules(session, config.schedules, policy.tiers[:1], now)
    return tier["targets"], tier["on_call"]


def _section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}, **extra}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _button(text: str, action_id: str, value: str, style: str | None = "primary") -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}, "value": value}
    if style:
        button["style"] = style
    return button


def _title(text: str, limit: int = 150) -> str:
    return escape_mrkdwn(truncate(one_line(text), limit))


def render(data: HomeData, notice: str | None = None) -> dict[str, Any]:
    label = data.severity_labels
    blocks: list[dict[str, Any]] = [
        _header("sevbot"),
        {"type": "actions", "block_id": "home_actions", "elements": [
            {"type": "button", "action_id": ActionId.HOME_DECLARE, "style": "danger",
             "text": {"type": "plain_text", "text": "Declare incident"}, "value": "declare"}]},
    ]
    if notice:
        blocks.append(_section(notice, block_id="home_notice"))

    blocks += [{"type": "divider"}, _header("Waiting for your acknowledgement")]
    if not data.pages:
        blocks.append(_context("Nothing is paging you."))
    for line in data.pages:
        what = human_id(line.incident_id) if line.incident_id is not None else "Alert"
        text = (f":pager: *{what}* · {escape_mrkdwn(label.get(line.severity, line.severity.upper()))} · tier {line.tier}, "
                f"paging since {line.since:%H:%M} UTC\n{_title(line.title)}")
        if line.incident_id is not None:
            button = _button("Acknowledge", ActionId.PAGE_ACK, PageButton(line.incident_id, line.page_id).encode())
        else:
            assert line.group_id is not None
            button = _button("Acknowledge", ActionId.ALERT_ACK, AlertButton(line.group_id).encode())
        blocks.append(_section(text, block_id=f"home_page_{line.page_id}", accessory=button))

    blocks += [{"type": "divider"}, _header("Open incidents")]
    if not data.incidents:
        blocks.append(_context("No incident is open."))
    for incident in data.incidents:
        where = f"<#{incident.channel_id}>" if incident.channel_id else "channel being created"
        role = ("Your role: *" + ", ".join(escape_mrkdwn(r) for r in incident.roles) + "*") if incident.roles else "No role for you"
        blocks.append(_section(f"*{human_id(incident.id)}* · {escape_mrkdwn(label.get(incident.severity, incident.severity.upper()))} · "
                               f"{escape_mrkdwn(incident.status)} · {where}\n{_title(incident.title)}\n{role}",
                               block_id=f"home_incident_{incident.id}"))
    if data.more_incidents:
        blocks.append(_context(f"…and {data.more_incidents} more: `/incident list` shows them all."))

    blocks += [{"type": "divider"}, _header("Who a page reaches first")]
    if data.on_call:
        blocks.append(_context("Who a page would reach first right now: *tier 1 of each escalation policy* (for a "
                               "schedule in it, whoever is on call)."))
        for name, reach in data.on_call:
            blocks.append(_section(f"*{escape_mrkdwn(name)}*: " + reach))
    else:
        blocks.append(_context("No on-call schedules or escalation policies are configured: pages go to nobody until "
                               "an escalation policy is set up."))

    blocks += [{"type": "divider"}, _header("Your follow-ups coming due")]
    if not data.follow_ups:
        blocks.append(_context(f"Nothing of yours is due in the next {FOLLOW_UP_HORIZON.days} days."))
    for item in data.follow_ups:
        late = data.today is not None and item.due < data.today
        when = f"*overdue* since {item.due.isoformat()}" if late else f"due {item.due.isoformat()}"
        blocks.append(_section(f"{':warning: ' if late else ''}{when} · {human_id(item.incident_id)}\n{_title(item.text, 500)}"))
    assert len(blocks) <= MAX_BLOCKS, f"the Home tab grew past Slack's {MAX_BLOCKS} blocks"
    return {"type": "home", "blocks": blocks}


def home_view(deps: Deps, members: Members, user: str, notice: str | None = None) -> dict[str, Any]:
    return render(gather(deps, members, user), notice)
