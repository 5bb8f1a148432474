"""`/incident escalate`: the seeds' escalation context — what you tried, what you observed, what you suspect."""
from __future__ import annotations

import json
from typing import Any

from bot.ids import CallbackId

FIELDS = (("tried", "What you tried", "Rolled back payments-api to v142; restarted the pods"),
          ("observed", "What you observed", "5xx at 30% since 14:05; DB connections at the pool limit"),
          ("suspect", "What you suspect", "The new connection pool setting in v143"))


def build(incident_id: int) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text":
                                     "The next tier is paged now, with this context, so they start from data, not from zero."}}]
    for key, label, placeholder in FIELDS:
        blocks.append({"type": "input", "block_id": f"escalate_{key}", "label": {"type": "plain_text", "text": label},
                       "element": {"type": "plain_text_input", "action_id": key, "multiline": True, "max_length": 1000,
                                   "placeholder": {"type": "plain_text", "text": placeholder}}})
    return {"type": "modal", "callback_id": CallbackId.ESCALATE_MODAL, "title": {"type": "plain_text", "text": "Escalate"},
            "submit": {"type": "plain_text", "text": "Page next tier"}, "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"incident_id": incident_id}), "blocks": blocks}


def read(view: dict[str, Any]) -> tuple[int, dict[str, str]]:
    values = (view.get("state") or {}).get("values") or {}
    context = {key: (((values.get(f"escalate_{key}") or {}).get(key) or {}).get("value") or "").strip() for key, _, _ in FIELDS}
    return int(json.loads(view.get("private_metadata") or "{}")["incident_id"]), context


def errors(context: dict[str, str]) -> dict[str, str]:
    return {f"escalate_{key}": f"{label}: L2 needs this to start from data." for key, label, _ in FIELDS if not context.get(key)}
