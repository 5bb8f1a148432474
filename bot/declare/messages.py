"""What declare and provisioning say: the declarer's replies and the stakeholder announcement's text."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import IncidentConfig
from bot.domain.incident import human_id
from bot.domain.text import escape_mrkdwn, one_line, truncate

if TYPE_CHECKING:
    from bot.core.incident import IncidentView
    from bot.declare.provision import Snapshot

STEP_NAMES: dict[str, str] = {
    "channel": "create the incident channel",
    "invite": "invite the responders",
    "topic": "set the channel topic",
    "card": "post the incident card",
    "pin": "pin the incident card",
    "announce": "announce to stakeholders",
}


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
