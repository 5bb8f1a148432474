"""Delivering pages: the DMs with an Acknowledge button (user groups expanded), and the line in the incident channel.

Outbox handlers, run after the commit that decided the page; they read the page again, so an acknowledgement that
landed meanwhile stops the DMs.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.domain.incident import human_id
from bot.core.actions import PageButton
from bot.core.deps import Deps
from bot.core.incident import current_roles
from bot.core.outbox import NotYet, enqueue, post_for_item
from bot.core.timeline import record
from bot.db.models import Incident, Page
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.ids import ActionId
from bot.paging.steps import PAGING, mention
from bot.slack.gateway import SlackError, SlackGateway


def deliver_page(deps: Deps, gateway: SlackGateway, payload: dict[str, Any]) -> dict[str, Any]:
    """Outbox handler: DM every target (groups expanded) with an Acknowledge button, then tell the channel. A retry
    (the process died part-way) finds the DMs and the line that already landed, and sends only the rest."""
    with deps.db.unit_of_work() as session:
        incident = session.get_one(Incident, int(payload["incident_id"]))
        page = session.get_one(Page, int(payload["page_id"]))
        ic = current_roles(session, incident.id).get("ic", incident.declared_by)
        title, channel, context = incident.title, incident.channel_id, dict(page.context)
        still_paging = page.state == PAGING
    if not still_paging:
        return {"skipped": "acknowledged or cancelled before delivery"}
    people, failed = expand_targets(gateway, payload["targets"])
    where = f"<#{channel}>" if channel else "its channel (being created)"
    minutes = max(1, round(payload["timeout_s"] / 60)) if payload["timeout_s"] >= 60 else None
    within = f"{minutes} min" if minutes else f"{int(payload['timeout_s'])} s"
    details = "".join(f"\n*{k.capitalize()}:* {escape_mrkdwn(truncate(one_line(str(v)), 500))}" for k, v in context.items()
                      if k in ("tried", "observed", "suspect") and v)
    if context.get("runbooks"):
        details += "\n*Runbooks:* " + escape_mrkdwn("; ".join(context["runbooks"]))
    text = (f":pager: *You are paged for {human_id(incident.id)}* (tier {payload['tier']}): {escape_mrkdwn(truncate(one_line(title), 300))}\n"
            f"IC <@{ic}> · join {where} · acknowledge within {within} or the next tier is paged.{details}")
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}},
        {"type": "actions", "block_id": f"page{payload['page_id']}", "elements": [
            {"type": "button", "action_id": ActionId.PAGE_ACK, "style": "primary", "text": {"type": "plain_text", "text": "Acknowledge"},
             "value": PageButton(incident.id, int(payload["page_id"])).encode()}]},
    ]
    delivered: list[str] = []
    for person in people:
        try:
            post_for_item(gateway, payload, person, f"You are paged for {human_id(incident.id)}", blocks)
            delivered.append(person)
        except SlackError as exc:
            failed.append((person, exc.code))
    line = f":pager: Paged {', '.join(f'<@{p}>' for p in delivered) or 'nobody'} (tier {payload['tier']}, round {payload['round']})"
    if failed:
        line += ". :warning: Could not reach " + ", ".join(f"{mention(p)} ({code})" for p, code in failed) + ": page them another way."
    with deps.db.unit_of_work() as session:
        # The channel line is an item of its own, keyed: a retry of this page finds it queued already (even when the
        # channel appeared in between), and it waits for a channel still being made; the DMs above never wait.
        enqueue(session, deps.clock, kind="incident_post", incident_id=incident.id,
                dedupe_key=f"page:{payload['page_id']}:{payload['round']}:{payload['tier']}:line",
                payload={"incident_id": incident.id, "text": line})
    if failed:
        with deps.db.unit_of_work() as session:
            record(session, incident.id, kind="page_undelivered", actor="sevbot", at=deps.clock.now(),
                   summary="Page not delivered to " + ", ".join(f"{mention(p)} ({code})" for p, code in failed),
                   data={"page_id": payload["page_id"], "failed": failed})
    return {"delivered": delivered, "failed": failed}


def expand_targets(gateway: SlackGateway, targets: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """A tier's targets as people (user groups expanded, each person once), and the groups Slack would not list."""
    people: list[str] = []
    failed: list[tuple[str, str]] = []
    for target in targets:
        if not target.startswith("S"):
            people.append(target)
            continue
        try:
            people.extend(gateway.usergroup_members(target))
        except SlackError as exc:  # one bad group must not stop the rest of the tier
            failed.append((target, exc.code))
    return list(dict.fromkeys(people)), failed


def post_in_incident_channel(deps: Deps, gateway: SlackGateway, payload: dict[str, Any]) -> dict[str, Any]:
    """Outbox handler: a line for the incident channel, once the channel exists."""
    with deps.db.unit_of_work() as session:
        channel = session.scalar(select(Incident.channel_id).where(Incident.id == int(payload["incident_id"])))
    if channel is None:
        raise NotYet()
    return post_for_item(gateway, payload, channel, payload["text"])
