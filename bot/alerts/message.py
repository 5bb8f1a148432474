"""What an alert group looks like in Slack: its one living message in the alert channel, and the page DM.

Every piece of alert text (summary, description, label values, names) comes from the sender and is made inert
here: escaped, on one line where it must be, cut to fit Block Kit's limits. Links are http(s) only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.alerts.payloads import FIRING
from bot.core.actions import AlertButton
from bot.db.models import Alert, AlertEvent, AlertGroup, Incident, Page
from bot.domain.incident import human_id
from bot.domain.text import escape_mrkdwn, mrkdwn_link, one_line, truncate
from bot.ids import ActionId
from bot.paging.steps import EXHAUSTED, mention
from bot.render import slack_date

# Labels worth a glance; the rest stay in the alert's own links.
SHOWN_LABELS = ("alertname", "severity", "service", "team", "namespace", "cluster", "job", "instance", "env", "source",
                "component")
SILENCE_HOURS = 1


@dataclass(frozen=True)
class GroupView:
    id: int
    source: str
    title: str
    state: str
    severity: str
    service: str | None
    firing: int
    total: int
    truncated: int
    labels: dict[str, Any]
    description: str | None
    generator_url: str | None
    runbook: str | None
    silence_url: str | None
    first_fired_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    acked_by: str | None
    acked_at: datetime | None
    silenced_until: datetime | None
    paged: list[str]
    # The ladder ran out with nobody acknowledging.
    exhausted: bool
    incident_id: int | None
    incident_channel: str | None
    channel_id: str | None
    message_ts: str | None
    message_version: int
    message_synced_version: int
    # Schedules the ladder named that had nobody on call (their tiers were skipped, or nobody could be paged at all).
    nobody_on_call: tuple[str, ...] = ()


_GROUPS, _ALERTS, _PAGES, _EVENTS = AlertGroup.__table__, Alert.__table__, Page.__table__, AlertEvent.__table__
# Prebuilt Core reads (a storm renders a group for every change): the ORM's identity map and attribute tracking cost
# several times the queries themselves, and a view is read-only. The incident's channel comes with the group.
_GROUP_ROW = (select(_GROUPS, Incident.__table__.c.channel_id.label("incident_channel"))
              .outerjoin(Incident.__table__, Incident.__table__.c.id == _GROUPS.c.incident_id)
              .where(_GROUPS.c.id == bindparam("group_id")))
_ALERT_ROWS = (select(_ALERTS.c.status, _ALERTS.c.annotations, _ALERTS.c.generator_url)
               .where(_ALERTS.c.group_id == bindparam("group_id")).order_by(_ALERTS.c.id))
_PAGE_ROWS = (select(_PAGES.c.policy, _PAGES.c.round, _PAGES.c.tier, _PAGES.c.state)
              .where(_PAGES.c.alert_group_id == bindparam("group_id")).order_by(_PAGES.c.id))
_EMPTY_SCHEDULES = select(_EVENTS.c.data).where(_EVENTS.c.group_id == bindparam("group_id"),
                                                _EVENTS.c.kind == "page_requested")


def load_group(session: Session, group_id: int) -> GroupView:
    """The group as its message and DMs show it, read in the session's transaction (read before changing anything
    in it: pending ORM changes are not flushed first)."""
    connection = session.connection()
    key = {"group_id": group_id}
    group = connection.execute(_GROUP_ROW, key).one()
    alerts = connection.execute(_ALERT_ROWS, key).all()
    firing = [alert for alert in alerts if alert.status == FIRING]
    first = (firing or alerts)[0] if alerts else None
    pages = connection.execute(_PAGE_ROWS, key).all()
    paged: list[str] = []
    empty: list[str] = []
    for page in pages:
        reached = page.policy["tiers"] if page.round > 1 else page.policy["tiers"][: page.tier + 1]
        for tier in reached:
            empty.extend(c["schedule"] for c in tier.get("on_call", []) if not c["user"] and c["schedule"] not in empty)
        for tier in page.policy["tiers"][: page.tier + 1]:
            paged.extend(t for t in tier["targets"] if t not in paged)
    if not pages:  # a ladder whose schedules were all empty never started a page: its event names them
        for data in connection.scalars(_EMPTY_SCHEDULES, key):
            empty.extend(name for name in (data or {}).get("empty_schedules", []) if name not in empty)
    description = None
    if first is not None:
        description = first.annotations.get("description") or first.annotations.get("message")
    return GroupView(
        id=group.id, source=group.source, title=group.title, state=group.state, severity=group.severity,
        service=group.service, firing=len(firing), total=len(alerts), truncated=group.truncated,
        labels=dict(group.labels), description=description, generator_url=first.generator_url if first else None,
        runbook=group.runbook, silence_url=group.silence_url, first_fired_at=group.first_fired_at,
        resolved_at=group.resolved_at, resolved_by=group.resolved_by, acked_by=group.acked_by, acked_at=group.acked_at,
        silenced_until=group.silenced_until, paged=paged, exhausted=any(p.state == EXHAUSTED for p in pages),
        incident_id=group.incident_id,
        incident_channel=group.incident_channel, channel_id=group.channel_id, message_ts=group.message_ts,
        message_version=group.message_version, message_synced_version=group.message_synced_version,
        nobody_on_call=tuple(empty))


def who(actor: str) -> str:
    """A person as a mention; the sending tool (an events-v2 acknowledge) as plain words."""
    return escape_mrkdwn(actor.removeprefix("source:")) + " (the sender)" if actor.startswith("source:") else f"<@{actor}>"


def fallback_text(view: GroupView) -> str:
    state = "Resolved" if view.state != FIRING else f"Firing ({view.firing})"
    return f"{state}: {escape_mrkdwn(truncate(one_line(view.title), 150))}"


def message_blocks(view: GroupView, now: datetime) -> list[dict[str, Any]]:
    firing = view.state == FIRING
    silenced = view.silenced_until is not None and view.silenced_until > now
    icon = ":large_green_circle:" if not firing else (":mute:" if silenced else ":red_circle:")
    title = escape_mrkdwn(truncate(one_line(view.title), 200))
    count = (f"{view.firing} firing" + (f" of {view.total}" if view.total != view.firing else "") if firing
             else f"resolved {slack_date(view.resolved_at)}" if view.resolved_at else "resolved")
    if view.truncated:
        count += f" (+{view.truncated} more the sender left out)"
    head = f"{icon} *{title}*\n*{escape_mrkdwn(view.severity.upper())}* · {count} · since {slack_date(view.first_fired_at)}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(head, 3000)}}]
    if view.description:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": truncate(escape_mrkdwn(view.description), 1500)}})
    labels = [f"*{escape_mrkdwn(key)}*: {escape_mrkdwn(truncate(one_line(str(view.labels[key])), 100))}"
              for key in SHOWN_LABELS if view.labels.get(key)]
    if labels:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(" · ".join(labels), 3000)}]})
    links = _links(view)
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(" · ".join(links), 3000)}]})
    status = _status_line(view, silenced)
    if status:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(status, 3000)}]})
    buttons = _buttons(view, firing, silenced)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"alert{view.id}", "elements": buttons})
    return blocks


def _links(view: GroupView) -> list[str]:
    links = []
    if view.generator_url:
        links.append(mrkdwn_link(view.generator_url, "Source"))
    if view.runbook:
        links.append(mrkdwn_link(view.runbook, "Runbook") if view.runbook.startswith(("https://", "http://"))
                     else f"Runbook: `{escape_mrkdwn(truncate(one_line(view.runbook), 80)).replace('`', '')}`")
    if view.silence_url:
        links.append(mrkdwn_link(view.silence_url, "Silence at the source"))
    return links


def _status_line(view: GroupView, silenced: bool) -> str:
    parts = []
    if view.paged:
        parts.append("Paged " + ", ".join(mention(t) for t in view.paged[:10]))
    if view.nobody_on_call:
        names = escape_mrkdwn(", ".join(view.nobody_on_call))
        parts.append(f":warning: Nobody on call for {names}" + ("" if view.paged else ": nobody could be paged"))
    if view.exhausted and not view.acked_by and view.state == FIRING:
        parts.append(":rotating_light: *Nobody acknowledged the page*: call people by phone")
    if view.acked_by:
        parts.append(f":white_check_mark: Acknowledged by {who(view.acked_by)}"
                     + (f" {slack_date(view.acked_at)}" if view.acked_at else ""))
    if view.resolved_by:
        parts.append(f"Resolved in Slack by {who(view.resolved_by)}")
    if silenced and view.silenced_until is not None:
        parts.append(f":mute: Silenced until {slack_date(view.silenced_until)}")
    if view.incident_id is not None:
        where = f" in <#{view.incident_channel}>" if view.incident_channel else ""
        parts.append(f":rotating_light: {human_id(view.incident_id)} is open{where}")
    return " · ".join(parts)


def _buttons(view: GroupView, firing: bool, silenced: bool) -> list[dict[str, Any]]:
    value = AlertButton(view.id).encode()
    buttons: list[dict[str, Any]] = []
    if firing and view.acked_by is None and view.incident_id is None:
        buttons.append(_button(ActionId.ALERT_ACK, "Acknowledge", value, "primary"))
    if view.incident_id is None:
        buttons.append(_button(ActionId.ALERT_DECLARE, "Declare incident", value, "danger" if firing else None))
    if firing:
        buttons.append(_button(ActionId.ALERT_RESOLVE, "Resolve", value))
        if not silenced:
            buttons.append(_button(ActionId.ALERT_SILENCE, f"Silence {SILENCE_HOURS} h", value))
    return buttons


def _button(action_id: str, text: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text},
                              "value": value}
    if style:
        button["style"] = style
    return button


def page_dm_blocks(view: GroupView, *, tier: int, timeout_s: float, acked_line: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The page DM; once acknowledged (`acked_line`), the same DM without its button."""
    title = escape_mrkdwn(truncate(one_line(view.title), 300))
    minutes = max(1, round(timeout_s / 60)) if timeout_s >= 60 else None
    within = f"{minutes} min" if minutes else f"{int(timeout_s)} s"
    where = f" · <#{view.channel_id}>" if view.channel_id else ""
    text = (f":pager: *You are paged for an alert* (tier {tier}): {title}\n"
            f"*{escape_mrkdwn(view.severity.upper())}* · {view.firing} firing{where} · acknowledge within {within} or the next tier is paged.")
    links = _links(view)
    if links:
        text += "\n" + " · ".join(links)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}]
    if acked_line:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": acked_line}]})
    else:
        blocks.append({"type": "actions", "block_id": f"alertpage{view.id}", "elements": [
            _button(ActionId.ALERT_ACK, "Acknowledge", AlertButton(view.id).encode(), "primary")]})
    return f"You are paged: {escape_mrkdwn(truncate(one_line(view.title), 150))}", blocks
