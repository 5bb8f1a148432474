"""Short texts and template contexts. User text is escaped here or by the template's `mrkdwn` filter."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.config import IncidentConfig
from bot.domain.incident import SCOPES, human_id
from bot.domain.text import escape_mrkdwn, one_line, truncate

if TYPE_CHECKING:
    from bot.usecases.incident_view import IncidentView
    from bot.usecases.provision import Snapshot

TOPIC_LIMIT = 250
STEP_NAMES: dict[str, str] = {
    "channel": "create the incident channel",
    "invite": "invite the responders",
    "topic": "set the channel topic",
    "card": "post the incident card",
    "pin": "pin the incident card",
    "announce": "announce to stakeholders",
}


def severity_label(config: IncidentConfig, key: str) -> str:
    return config.severities[key].label if key in config.severities else key.upper()


def topic(view: "IncidentView", config: IncidentConfig) -> str:
    label = severity_label(config, view.severity)
    return truncate(f"{label} · {view.status.capitalize()} · IC: <@{view.ic}> · {human_id(view.id)}", TOPIC_LIMIT)


def card_context(view: "IncidentView", config: IncidentConfig, offers: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    severity = config.severities.get(view.severity)
    closed = view.status == config.closed_status
    return {
        "incident_number": view.id,
        "incident_id": human_id(view.id),
        "title": view.title,
        "severity_label": severity_label(config, view.severity),
        "severity_description": severity.description if severity else "",
        "status": view.status.capitalize(),
        "ic": view.ic,
        "other_roles": [(role.name, view.roles[role.key]) for role in config.roles if role.key != "ic" and role.key in view.roles],
        "role_options": [(role.key, role.name) for role in config.roles][:100],
        "declared_by": view.declared_by,
        "declared_at": view.declared_at,
        "service": view.service,
        "critical": config.is_critical(view.service),
        "scope": SCOPES.get(view.scope or "", None),
        "description": view.description,
        "channel_id": view.channel_id,
        "open": not closed,
        # (name, title) of matching runbooks: "Start runbook" buttons while the incident is open
        "runbook_offers": [(name, truncate(f"Start runbook: {title}", 75)) for name, title in offers] if not closed else [],
    }


def card_fallback(snap: "IncidentView", config: IncidentConfig) -> str:
    """The notification text (and screen-reader text) for the card."""
    label = config.severity(snap.severity).label
    return truncate(f"{human_id(snap.id)} · {label}: {escape_mrkdwn(one_line(snap.title))}", 3000)


def announcement_fallback(snap: "IncidentView", config: IncidentConfig) -> str:
    label = config.severity(snap.severity).label
    return truncate(f"{label} declared: {human_id(snap.id)} {escape_mrkdwn(one_line(snap.title))}, in <#{snap.channel_id}>", 3000)


def declared_reply(incident_id: int, channel_id: str | None) -> str:
    return f":white_check_mark: {human_id(incident_id)} is open in <#{channel_id}>. `/incident help` lists what you can do there."


def declaring_ack(incident_id: int) -> str:
    return f":hourglass_flowing_sand: Declaring {human_id(incident_id)}… the channel will appear in a moment."


def provisioning_failed_reply(incident_id: int, step: str, code: str, snap: "Snapshot") -> str:
    done = [STEP_NAMES[name] for name, value in (
        ("channel", snap.channel_id), ("invite", snap.members_invited_at), ("topic", snap.topic_set_at),
        ("card", snap.card_ts), ("pin", snap.card_pinned_at), ("announce", snap.announcement_ts),
    ) if value]
    where = f" in <#{snap.channel_id}>" if snap.channel_id else ""
    so_far = f" Done so far: {', '.join(done)}." if done else ""
    return (
        f":warning: {human_id(incident_id)} is recorded{where}, but Slack would not let sevbot "
        f"{STEP_NAMES[step]} (`{escape_mrkdwn(code)}`).{so_far} sevbot keeps retrying in the background; "
        f"`/incident list` shows the incident meanwhile."
    )


def prompt_blocks(text: str, *, block_id: str, action_id: str, label: str, value: str, style: str = "primary") -> list[dict[str, Any]]:
    """A message that asks someone to act, with the one button that does it."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": block_id, "elements": [
            {"type": "button", "action_id": action_id, "style": style, "text": {"type": "plain_text", "text": label}, "value": value}]},
    ]
