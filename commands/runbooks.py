"""`/incident runbook [name]`, the card's "Start runbook" buttons, step buttons and the failed-step note modal."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from commands.registry import Invocation, register
from bot.domain.text import escape_mrkdwn
from bot.ids import ActionId, CallbackId
from bot.runbooks.runs import add_failure_note, mark_step, start_runbook
from bot.services import Services
from bot.slack.gateway import SlackError
from bot.usecases.errors import BadInput, Refused
from bot.usecases.queries import incident_id_for_channel

NOTE_BLOCK = "runbook_failure_note"
ACTIONS = {ActionId.RUNBOOK_STEP_DONE: "done", ActionId.RUNBOOK_STEP_SKIP: "skip", ActionId.RUNBOOK_STEP_FAILED: "failed"}


@register("runbook", "/incident runbook [name]", "list the runbooks, or start one as a checklist in this channel")
def run(invocation: Invocation) -> None:
    services = invocation.services
    name = invocation.args.strip().lower()
    if name:
        invocation.reply(start_runbook(services, invocation.incident_here(), name, invocation.user_id))
        return
    if not services.runbooks.runbooks:
        invocation.reply("No runbooks are installed (add YAML files to `runbooks/`).")
        return
    incident_id = incident_id_for_channel(services.db, invocation.channel_id)
    matching: set[str] = set()
    if incident_id is not None:
        from bot.db.models import Incident

        with services.db.unit_of_work() as session:
            incident = session.get_one(Incident, incident_id)
            matching = {r.name for r in services.runbooks.matching(title=incident.title, service=incident.service, severity=incident.severity)}
    lines = ["*Runbooks* (start one with `/incident runbook <name>` in an incident channel)"]
    for runbook in services.runbooks.runbooks.values():
        star = " :star: _fits this incident_" if runbook.name in matching else ""
        lines.append(f"• `{runbook.name}`: {escape_mrkdwn(runbook.title)} ({len(runbook.steps)} steps, {escape_mrkdwn(runbook.owner)}){star}")
    invocation.reply("\n".join(lines))


def _respond(services: Services, body: dict[str, Any], text: str) -> None:
    if body.get("response_url"):
        services.run_later(services.gateway.respond, body["response_url"], text)


def on_start_from_card(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    value = body["actions"][0].get("value") or ""
    number, _, name = value.partition(":")
    channel = (body.get("channel") or {}).get("id")
    try:
        if not number.isdigit() or not name or channel is None or incident_id_for_channel(services.db, channel) != int(number):
            raise BadInput("That button is not one sevbot made for this incident; nothing changed.")
        text = start_runbook(services, int(number), name, body["user"]["id"])
    except (BadInput, Refused) as problem:
        text = f":x: {problem}"
    _respond(services, body, text)


def on_step(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    action = body["actions"][0]
    run_id, _, position = (action.get("value") or "").partition(":")
    channel = (body.get("channel") or {}).get("id") or ""
    try:
        if not run_id.isdigit() or not position.isdigit():
            raise BadInput("That button is not one sevbot made; nothing changed.")
        mark_step(services, int(run_id), int(position), ACTIONS[action["action_id"]], body["user"]["id"], channel_id=channel)
    except (BadInput, Refused) as problem:
        _respond(services, body, f":no_entry: {problem}")
        return
    if action["action_id"] == ActionId.RUNBOOK_STEP_FAILED:
        services.run_later(_open_note_modal, services, body["trigger_id"], int(run_id), int(position))


def _open_note_modal(services: Services, trigger_id: str, run_id: int, position: int) -> None:
    view = {
        "type": "modal",
        "callback_id": CallbackId.RUNBOOK_FAILURE_NOTE,
        "title": {"type": "plain_text", "text": f"Step {position} failed"},
        "submit": {"type": "plain_text", "text": "Add note"},
        "close": {"type": "plain_text", "text": "Skip"},
        "private_metadata": json.dumps({"run_id": run_id, "position": position}),
        "blocks": [{
            "type": "input", "block_id": NOTE_BLOCK,
            "label": {"type": "plain_text", "text": "What did you observe, and what do you suspect?"},
            "element": {"type": "plain_text_input", "action_id": ActionId.RUNBOOK_NOTE, "multiline": True, "max_length": 2000},
        }],
    }
    try:
        services.gateway.open_view(trigger_id, view)
    except SlackError:
        pass  # the step is already marked failed and the escalation prompt posted; a note can go in with /incident note


def on_note_submit(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    view = body["view"]
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        note = view["state"]["values"][NOTE_BLOCK][ActionId.RUNBOOK_NOTE].get("value") or ""
        add_failure_note(services, int(meta["run_id"]), int(meta["position"]), note, body["user"]["id"])
    except (KeyError, ValueError, TypeError, json.JSONDecodeError):
        ack(response_action="errors", errors={NOTE_BLOCK: "This form is damaged; close it and use /incident note."})
        return
    except BadInput as problem:
        ack(response_action="errors", errors={NOTE_BLOCK: str(problem)[:150]})
        return
    ack()
