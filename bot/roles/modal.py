"""The "assign a role" modal opened from the card's role picker: one user picker."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.domain.incident import human_id
from bot.config import Role
from bot.domain.text import truncate
from bot.ids import ActionId, CallbackId

USER_BLOCK = "assign_role_user"


def build(incident_id: int, role: Role, *, channel_id: str | None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.ASSIGN_ROLE,
        "title": {"type": "plain_text", "text": truncate(f"Assign {role.name}", 24)},
        "submit": {"type": "plain_text", "text": "Assign"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"incident_id": incident_id, "role": role.key, "channel_id": channel_id}),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{role.name}* for {human_id(incident_id)}: {role.description}"}},
            {
                "type": "input",
                "block_id": USER_BLOCK,
                "label": {"type": "plain_text", "text": "Who?"},
                "element": {"type": "users_select", "action_id": ActionId.ASSIGN_ROLE_USER},
            },
        ],
    }


@dataclass(frozen=True)
class AssignForm:
    incident_id: int
    role: str
    user_id: str
    channel_id: str | None


def read(view: dict[str, Any]) -> AssignForm | None:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        user = view["state"]["values"][USER_BLOCK][ActionId.ASSIGN_ROLE_USER].get("selected_user")
        if not user:
            return None
        return AssignForm(int(meta["incident_id"]), str(meta["role"]), str(user), meta.get("channel_id"))
    except (KeyError, TypeError, ValueError, json.JSONDecodeError):
        return None
