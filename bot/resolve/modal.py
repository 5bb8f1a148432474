"""The resolve modal: summary, customer impact, root cause, and the validation checklist (seeds: validate before closing)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.domain.incident import human_id
from bot.ids import CallbackId

SUMMARY, USERS, REVENUE, ROOT, CHECKS, ANYWAY = "resolve_summary", "resolve_users", "resolve_revenue", "resolve_root", "resolve_checks", "resolve_anyway"
VALIDATION: dict[str, str] = {
    "metrics": "Metrics are back to normal",
    "errors": "Error rates are down to baseline",
    "stable": "The system has been stable since the fix",
    "customer": "A customer (or support) confirmed it works",
}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _input(block: str, label: str, *, multiline: bool = False, optional: bool = False, max_length: int = 1000, placeholder: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": block, "multiline": multiline, "max_length": max_length}
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    return {"type": "input", "block_id": block, "label": _plain(label), "optional": optional, "element": element}


def build(incident_id: int, duration_text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.RESOLVE_MODAL,
        "title": _plain(f"Resolve {human_id(incident_id)}"[:24]),
        "submit": _plain("Resolve"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"incident_id": incident_id}),
        "blocks": [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Open for {duration_text}. A fix without validation is just a guess that happened to work once."}]},
            _input(SUMMARY, "What fixed it?", multiline=True, placeholder="Rolled back payments-api to v142; error rate back to 0.2%"),
            _input(USERS, "Customer impact: who and how many were affected?", placeholder="~4,000 checkouts failed over 47 minutes, EU only"),
            _input(REVENUE, "Revenue impact, if known", optional=True, max_length=200),
            _input(ROOT, "Root cause, if known", multiline=True, optional=True),
            {"type": "input", "block_id": CHECKS, "label": _plain("Validation"), "optional": True,
             "element": {"type": "checkboxes", "action_id": CHECKS,
                         "options": [{"text": _plain(text), "value": key} for key, text in VALIDATION.items()]}},
            _input(ANYWAY, "Resolving with an item unchecked? Say why", multiline=True, optional=True, max_length=500),
        ],
    }


@dataclass(frozen=True)
class ResolveForm:
    incident_id: int
    summary: str
    users_affected: str
    revenue: str | None
    root_cause: str | None
    validation: dict[str, bool] = field(default_factory=dict)
    anyway: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {"summary": self.summary, "users_affected": self.users_affected, "revenue": self.revenue,
                "root_cause": self.root_cause, "validation": self.validation, "resolved_anyway_because": self.anyway}


def read(view: dict[str, Any]) -> ResolveForm:
    values = (view.get("state") or {}).get("values") or {}

    def text(block: str) -> str:
        return (((values.get(block) or {}).get(block) or {}).get("value") or "").strip()

    chosen = {o["value"] for o in ((values.get(CHECKS) or {}).get(CHECKS) or {}).get("selected_options") or []}
    meta = json.loads(view.get("private_metadata") or "{}")
    return ResolveForm(int(meta["incident_id"]), text(SUMMARY), text(USERS), text(REVENUE) or None, text(ROOT) or None,
                       {key: key in chosen for key in VALIDATION}, text(ANYWAY) or None)


def errors(form: ResolveForm) -> dict[str, str]:
    problems = {}
    if not form.summary:
        problems[SUMMARY] = "Say what fixed it."
    if not form.users_affected:
        problems[USERS] = "Say who was affected and how many (\"none\" is an answer)."
    if not all(form.validation.values()) and not form.anyway:
        problems[ANYWAY] = "Some validation is unchecked: say why you resolve anyway."
    return problems
