"""The declare modal: title, severity described by impact, scope, service, description.

Changing scope or service re-renders the modal with a severity suggestion (all users on a critical service → SEV1+).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.config import IncidentConfig
from bot.domain.incident import SCOPES
from bot.domain.severity import suggested_minimum
from bot.domain.text import truncate
from bot.ids import ActionId, CallbackId, DeclareBlock

TITLE_MAX = 150  # a channel name and a header must carry it; longer context goes in the description
DESCRIPTION_MAX = 3000


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(value: str, text: str, description: str | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"text": _plain(truncate(text, 75)), "value": value}
    if description:
        option["description"] = _plain(truncate(description, 75))
    return option


def build(config: IncidentConfig, *, origin_channel_id: str | None, scope: str | None = None, service: str | None = None) -> dict[str, Any]:
    severity_options = [_option(key, sev.label, sev.description) for key, sev in config.severities.items()]
    default = config.default_severity
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": DeclareBlock.TITLE,
            "label": _plain("What is broken?"),
            "element": {
                "type": "plain_text_input",
                "action_id": ActionId.DECLARE_TITLE,
                "max_length": TITLE_MAX,
                "placeholder": _plain("Checkout fails for all users"),
            },
        },
        {
            "type": "input",
            "block_id": DeclareBlock.SCOPE,
            "label": _plain("Who is affected?"),
            "dispatch_action": True,
            "element": {
                "type": "radio_buttons",
                "action_id": ActionId.DECLARE_SCOPE,
                "options": [_option(key, label) for key, label in SCOPES.items()],
            },
        },
        {
            "type": "input",
            "block_id": DeclareBlock.SERVICE,
            "label": _plain("Affected service"),
            "optional": True,
            "dispatch_action": True,
            "element": {
                "type": "static_select",
                "action_id": ActionId.DECLARE_SERVICE,
                "placeholder": _plain("Choose a service"),
                "options": [
                    _option(name, name + (" (critical)" if config.is_critical(name) else "")) for name in config.services[:100]
                ],
            },
        },
        {
            "type": "input",
            "block_id": DeclareBlock.SEVERITY,
            "label": _plain("Severity (by impact, not complexity)"),
            "element": {
                "type": "static_select",
                "action_id": ActionId.DECLARE_SEVERITY,
                "options": severity_options,
                "initial_option": next(o for o in severity_options if o["value"] == default),
            },
        },
    ]
    minimum = suggested_minimum(scope, service, config)
    if minimum is not None:
        blocks.append(
            {
                "type": "context",
                "block_id": DeclareBlock.SUGGESTION,
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f":bulb: All users on *{service}*, a critical service: this is *{config.severity(minimum).label}* or higher.",
                    }
                ],
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": DeclareBlock.DESCRIPTION,
            "label": _plain("What do you see? (symptoms, since when, links)"),
            "optional": True,
            "element": {"type": "plain_text_input", "action_id": ActionId.DECLARE_DESCRIPTION, "multiline": True, "max_length": DESCRIPTION_MAX},
        }
    )
    return {
        "type": "modal",
        "callback_id": CallbackId.DECLARE_MODAL,
        "title": _plain("Declare an incident"),
        "submit": _plain("Declare"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"origin_channel_id": origin_channel_id}),
        "blocks": blocks,
    }


@dataclass(frozen=True)
class DeclareForm:
    title: str
    severity: str | None
    scope: str | None
    service: str | None
    description: str | None
    origin_channel_id: str | None


def read(view: dict[str, Any]) -> DeclareForm:
    """Pull the values out of a submitted (or changing) view's state, tolerating missing inputs."""
    values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}

    def element(block: str, action: str) -> dict[str, Any]:
        return values.get(block, {}).get(action) or {}

    def selected(block: str, action: str) -> str | None:
        option = element(block, action).get("selected_option")
        return option.get("value") if option else None

    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        metadata = {}
    return DeclareForm(
        title=(element(DeclareBlock.TITLE, ActionId.DECLARE_TITLE).get("value") or "").strip(),
        severity=selected(DeclareBlock.SEVERITY, ActionId.DECLARE_SEVERITY),
        scope=selected(DeclareBlock.SCOPE, ActionId.DECLARE_SCOPE),
        service=selected(DeclareBlock.SERVICE, ActionId.DECLARE_SERVICE),
        description=(element(DeclareBlock.DESCRIPTION, ActionId.DECLARE_DESCRIPTION).get("value") or "").strip() or None,
        origin_channel_id=metadata.get("origin_channel_id") if isinstance(metadata, dict) else None,
    )


def errors(form: DeclareForm, config: IncidentConfig) -> dict[str, str]:
    """Field errors Slack shows under each input; empty when the form can be declared."""
    problems: dict[str, str] = {}
    if not form.title:
        problems[DeclareBlock.TITLE] = "Say in a few words what is broken."
    elif len(form.title) > TITLE_MAX:
        problems[DeclareBlock.TITLE] = f"Keep the title under {TITLE_MAX} characters; put detail in the description."
    if form.severity not in config.severities:
        problems[DeclareBlock.SEVERITY] = "Choose a severity."
    if form.scope not in SCOPES:
        problems[DeclareBlock.SCOPE] = "Choose who is affected."
    if form.service is not None and form.service not in config.services:
        problems[DeclareBlock.SERVICE] = "Choose a service from the list."
    return problems
