"""The stakeholder update modal: status, current impact, what we are doing, remaining risk, next update in."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.config import IncidentConfig
from bot.ids import CallbackId

STATUS, IMPACT, DOING, RISK, NEXT = "update_status", "update_impact", "update_doing", "update_risk", "update_next"
NEXT_CHOICES = (5, 10, 15, 30, 60, 120)


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def build(incident_id: int, status: str, cadence_minutes: int, config: IncidentConfig) -> dict[str, Any]:
    statuses = [{"text": _plain(s.capitalize()), "value": s} for s in config.statuses if s != config.closed_status]
    choices = sorted(set(NEXT_CHOICES) | {cadence_minutes})
    next_options = [{"text": _plain(f"{m} min"), "value": str(m)} for m in choices]
    initial_status = next((o for o in statuses if o["value"] == status), statuses[0])
    return {
        "type": "modal",
        "callback_id": CallbackId.UPDATE_MODAL,
        "title": _plain("Stakeholder update"),
        "submit": _plain("Post update"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"incident_id": incident_id}),
        "blocks": [
            {"type": "input", "block_id": STATUS, "label": _plain("Status"),
             "element": {"type": "static_select", "action_id": STATUS, "options": statuses, "initial_option": initial_status}},
            {"type": "input", "block_id": IMPACT, "label": _plain("Current impact: who and how many are affected?"),
             "element": {"type": "plain_text_input", "action_id": IMPACT, "multiline": True, "max_length": 1000,
                         "placeholder": _plain("About 30% of checkouts fail for all customers in the EU")}},
            {"type": "input", "block_id": DOING, "label": _plain("What we are doing"),
             "element": {"type": "plain_text_input", "action_id": DOING, "multiline": True, "max_length": 1000,
                         "placeholder": _plain("Rolling back payments-api to v142; Sam owns it")}},
            {"type": "input", "block_id": RISK, "label": _plain("Remaining risk"), "optional": True,
             "element": {"type": "plain_text_input", "action_id": RISK, "max_length": 500}},
            {"type": "input", "block_id": NEXT, "label": _plain("Next update in"),
             "element": {"type": "static_select", "action_id": NEXT, "options": next_options,
                         "initial_option": next(o for o in next_options if o["value"] == str(cadence_minutes))}},
        ],
    }


@dataclass(frozen=True)
class UpdateForm:
    incident_id: int
    status: str | None
    impact: str
    doing: str
    risk: str | None
    next_minutes: int | None


def read(view: dict[str, Any]) -> UpdateForm:
    values = (view.get("state") or {}).get("values") or {}

    def text(block: str) -> str:
        return ((values.get(block) or {}).get(block) or {}).get("value") or ""

    def selected(block: str) -> str | None:
        option = ((values.get(block) or {}).get(block) or {}).get("selected_option")
        return option.get("value") if option else None

    meta = json.loads(view.get("private_metadata") or "{}")
    minutes = selected(NEXT)
    return UpdateForm(int(meta["incident_id"]), selected(STATUS), text(IMPACT).strip(), text(DOING).strip(), text(RISK).strip() or None,
                      int(minutes) if minutes and minutes.isdigit() else None)


def errors(form: UpdateForm, config: IncidentConfig) -> dict[str, str]:
    problems = {}
    if form.status not in config.statuses:
        problems[STATUS] = "Choose a status."
    if not form.impact:
        problems[IMPACT] = "Say who is affected and how many, in users' words."
    if not form.doing:
        problems[DOING] = "Say what is being done and who owns it."
    if form.next_minutes is None or not 1 <= form.next_minutes <= 24 * 60:
        problems[NEXT] = "Choose when the next update comes."
    return problems
