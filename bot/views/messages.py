"""Short texts and template contexts. User text is escaped here or by the template's `mrkdwn` filter."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.config import IncidentConfig
from bot.domain.incident import SCOPES, human_id
from bot.domain.text import escape_mrkdwn, one_line, truncate

if TYPE_CHECKING:
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


def topic(incident_id: int, severity_label: str, status: str, ic: str) -> str:
    return truncate(f"{severity_label} · {status.capitalize()} · IC: <@{ic}> · {human_id(incident_id)}", TOPIC_LIMIT)


def card_context(snap: "Snapshot", config: IncidentConfig) -> dict[str, Any]:
    severity = config.severity(snap.severity)
    return {
        "incident_id": human_id(snap.id),
        "title": snap.title,
        "severity_label": severity.label,
        "severity_description": severity.description,
        "status": snap.status.capitalize(),
        "ic": snap.ic,
        "declared_by": snap.declared_by,
        "declared_at": snap.declared_at,
        "service": snap.service,
        "critical": config.is_critical(snap.service),
        "scope": SCOPES.get(snap.scope or "", None),
        "description": snap.description,
        "channel_id": snap.channel_id,
    }


def card_fallback(snap: "Snapshot", config: IncidentConfig) -> str:
    """The notification text (and screen-reader text) for the card."""
    label = config.severity(snap.severity).label
    return truncate(f"{human_id(snap.id)} · {label}: {escape_mrkdwn(one_line(snap.title))}", 3000)


def announcement_fallback(snap: "Snapshot", config: IncidentConfig) -> str:
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
