"""What the card and the topic show, as template context. User text is escaped by the template's `mrkdwn` filter."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.config import IncidentConfig
from bot.core.actions import ForIncident, IncidentChoice
from bot.core.incident import IncidentView
from bot.domain.incident import SCOPES, human_id
from bot.domain.severity import severity_label
from bot.domain.text import escape_mrkdwn, one_line, truncate

TOPIC_LIMIT = 250


def topic(view: IncidentView, config: IncidentConfig) -> str:
    label = severity_label(config, view.severity)
    return truncate(f"{label} · {view.status.capitalize()} · IC: <@{view.ic}> · {human_id(view.id)}", TOPIC_LIMIT)


def card_context(view: IncidentView, config: IncidentConfig, offers: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
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
        # (button value, label): every value goes through the one codec (bot/core/actions.py)
        "role_options": [(IncidentChoice(view.id, role.key).encode(), role.name) for role in config.roles][:100],
        "take_command_value": IncidentChoice(view.id, view.ic).encode(),
        "resolve_value": ForIncident(view.id).encode(),
        "declared_by": view.declared_by,
        "declared_at": view.declared_at,
        "service": view.service,
        "critical": config.is_critical(view.service),
        "scope": SCOPES.get(view.scope or "", None),
        "description": view.description,
        # One line per attached alert group (mrkdwn: the alert's title comes from the sender, so it is escaped here).
        "alerts": [f"{':large_green_circle:' if state == 'resolved' else ':red_circle:'} {escape_mrkdwn(truncate(one_line(title), 120))}"
                   f" · {'resolved' if state == 'resolved' else f'{firing} firing'}" for title, state, firing in view.alerts],
        "channel_id": view.channel_id,
        "open": not closed,
        # matching runbooks as (button value, label): "Start runbook" buttons while the incident is open
        "runbook_offers": [(IncidentChoice(view.id, name).encode(), truncate(f"Start runbook: {title}", 75))
                           for name, title in offers] if not closed else [],
    }


def card_fallback(snap: IncidentView, config: IncidentConfig) -> str:
    """The notification text (and screen-reader text) for the card."""
    label = config.severity(snap.severity).label
    return truncate(f"{human_id(snap.id)} · {label}: {escape_mrkdwn(one_line(snap.title))}", 3000)
