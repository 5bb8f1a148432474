"""`/incident runbook [name]`, the card's "Start runbook" buttons, step buttons and the failed-step note modal."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from commands.registry import Invocation, register
from bot.db.models import Incident
from bot.domain.text import escape_mrkdwn
from bot.ids import ActionId, CallbackId
from bot.runbooks.runs import add_failure_note, mark_step, start_runbook
from commands.context import Context
from bot.slack.gateway import SlackError
from bot.core.actions import IncidentChoice, StepButton
from bot.core.errors import BadInput, Refused
from bot.core.queries import incident_id_for_channel
from commands.clicks import Click

NOTE_BLOCK = "runbook_failure_note"
ACTIONS = {ActionId.RUNBOOK_STEP_DONE: "done", ActionId.RUNBOOK_STEP_SKIP: "skip", ActionId.RUNBOOK_STEP_FAILED: "failed"}


@register("runbook", "/incident runbook [name]", "list the runbooks, or start one as a checklist in this channel")
def run(invocation: Invocation) -> None:
    ctx = invocation.ctx
    name = invocation.args.strip().lower()
    if name:
        invocation.reply(start_runbook(ctx.deps, ctx.runbooks, invocation.incident_here(), name, invocation.user_id))
        return
    if not ctx.runbooks.runbooks:
        invocation.reply("No runbooks are installed (add YAML files to `runbooks/`).")
        return
    incident_id = incident_id_for_channel(ctx.deps.db, invocation.channel_id)
    matching: set[str] = set()
    if incident_id is not None:
        with ctx.deps.db.unit_of_work() as session:
            incident = session.get_one(Incident, incident_id)
            matching = {r.name for r in ctx.runbooks.matching(title=incident.title, service=incident.service, severity=incident.severity)}
    lines = ["*Runbooks* (start one with `/incident runbook <name>` in an incident channel)"]
    for runbook in ctx.runbooks.runbooks.values():
        star = " :star: _fits this incident_" if runbook.name in matching else ""
        lines.append(f"• `{runbook.name}`: {escape_mrkdwn(runbook.title)} ({len(runbook.steps)} steps, {escape_mrkdwn(runbook.owner)}){star}")
    invocation.reply("\n".join(lines))


def on_start_from_card(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    click = Click.of(body)
    try:
        value = click.for_this_channel(ctx, IncidentChoice)
        text = start_runbook(ctx.deps, ctx.runbooks, value.incident_id, value.choice, click.user_id)
    except (BadInput, Refused) as problem:
        text = f":x: {problem}"
    click.answer(ctx, text)


def on_step(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    """Done / Skip / Failed. The use case checks the run belongs to the incident of the channel clicked in."""
    ack()
    click = Click.of(body)
    try:
        value = click.value(StepButton)
        mark_step(ctx.deps, value.run_id, value.position, ACTIONS[click.action_id], click.user_id, channel_id=click.channel_id or "")
    except (BadInput, Refused) as problem:
        click.answer(ctx, f":no_entry: {problem}")
        return
    if click.action_id == ActionId.RUNBOOK_STEP_FAILED:
        ctx.run_later(_open_note_modal, ctx, click.trigger_id, value.run_id, value.position)


def _open_note_modal(ctx: Context, trigger_id: str, run_id: int, position: int) -> None:
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
        ctx.gateway.open_view(trigger_id, view)
    except SlackError:
        pass  # the step is already marked failed and the escalation prompt posted; a note can go in with /incident note


def on_note_submit(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    view = body["view"]
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        note = view["state"]["values"][NOTE_BLOCK][ActionId.RUNBOOK_NOTE].get("value") or ""
        add_failure_note(ctx.deps, int(meta["run_id"]), int(meta["position"]), note, body["user"]["id"])
    except (KeyError, ValueError, TypeError, json.JSONDecodeError):
        ack(response_action="errors", errors={NOTE_BLOCK: "This form is damaged; close it and use /incident note."})
        return
    except BadInput as problem:
        ack(response_action="errors", errors={NOTE_BLOCK: str(problem)[:150]})
        return
    ack()
