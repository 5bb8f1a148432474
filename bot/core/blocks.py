"""Block Kit pieces several features post."""
from __future__ import annotations

from typing import Any


def prompt_blocks(text: str, *, block_id: str, action_id: str, label: str, value: str, style: str = "primary") -> list[dict[str, Any]]:
    """A message that asks someone to act, with the one button that does it."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": block_id, "elements": [
            {"type": "button", "action_id": action_id, "style": style, "text": {"type": "plain_text", "text": label}, "value": value}]},
    ]
