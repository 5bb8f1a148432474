"""How similar past incidents read in Slack: the channel notice (Block Kit) and the `/incident similar` answer.

Titles, root causes and fixes are people's words, and alert names are a sender's: all of it is escaped."""
from __future__ import annotations

from typing import Any

from bot.config import IncidentConfig
from bot.domain.incident import human_id
from bot.domain.text import escape_mrkdwn, mrkdwn_link, one_line, truncate
from bot.similar.search import SimilarIncident

HEADING = ":mag: *Has this happened before?* Past incidents like this one. A hint, not an answer: check before acting."
NONE_ANY_MORE = ":mag: *Has this happened before?* After the latest change of title or service, no past incident looks similar."
MAX_TITLE = 150
MAX_FIELD = 300


def _field(value: str) -> str:
    return escape_mrkdwn(truncate(one_line(value), MAX_FIELD))


def describe(found: SimilarIncident, config: IncidentConfig) -> str:
    """One past incident in mrkdwn: id, title, when, severity, service; root cause, fix and postmortem when known."""
    severity = config.severities.get(found.severity)
    label = severity.label if severity is not None else found.severity.upper()
    service = f" · {escape_mrkdwn(found.service)}" if found.service else ""
    lines = [f"*{human_id(found.incident_id)}* {escape_mrkdwn(truncate(one_line(found.title), MAX_TITLE))}",
             f"{found.declared_at:%Y-%m-%d} · {escape_mrkdwn(label)}{service}"]
    if found.root_cause:
        lines.append(f"*Root cause:* {_field(found.root_cause)}")
    if found.fix:
        lines.append(f"*What fixed it:* {_field(found.fix)}")
    if found.postmortem_url:
        lines.append(mrkdwn_link(found.postmortem_url, "Postmortem"))
    return "\n".join(lines)


def why(found: SimilarIncident) -> str:
    return "Why: " + escape_mrkdwn(" · ".join(found.reasons))


def notice(found: list[SimilarIncident], config: IncidentConfig) -> tuple[str, list[dict[str, Any]]]:
    """The channel message: fallback text and blocks (at most 1 + 2 per incident)."""
    if not found:
        return NONE_ANY_MORE, [{"type": "context", "elements": [{"type": "mrkdwn", "text": NONE_ANY_MORE}]}]
    blocks: list[dict[str, Any]] = [{"type": "context", "elements": [{"type": "mrkdwn", "text": HEADING}]}]
    for item in found:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": describe(item, config)}})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": why(item)}]})
    text = "Has this happened before? Similar past incidents: " + ", ".join(human_id(i.incident_id) for i in found)
    return text, blocks


def answer(found: list[SimilarIncident], config: IncidentConfig, heading: str) -> str:
    """The private answer to `/incident similar`."""
    parts = [heading]
    for item in found:
        parts.append(f"{describe(item, config)}\n_{why(item)}_")
    return "\n\n".join(parts)
