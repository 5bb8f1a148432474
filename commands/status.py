"""`/incident status`, `/incident sev`, `/incident title`, `/incident service`, `/incident note`, `/incident timeline`,
`/incident catchup`."""
from __future__ import annotations

from commands.registry import Invocation, register
from bot.domain.incident import human_id
from bot.domain.text import one_line, truncate
from bot.core.errors import BadInput
from bot.timeline.catchup import catchup
from bot.timeline.notes import add_note
from bot.core.queries import latest_events
from bot.status.change import reopen, set_severity, set_status
from bot.status.details import retitle, set_service

TIMELINE_SHOWN = 15


@register("status", "/incident status <status> [note]", "move the incident on (investigating → identified → monitoring → resolved)")
def run_status(invocation: Invocation) -> None:
    status, _, note = invocation.args.partition(" ")
    if not status:
        raise BadInput(f"Usage: `/incident status <status> [note]`. Statuses: {', '.join(invocation.ctx.deps.config.statuses)}.")
    incident_id = invocation.incident_here()
    invocation.reply(set_status(invocation.ctx.deps, incident_id, status, note.strip() or None, invocation.user_id))


@register("reopen", "/incident reopen [reason]", "reopen a resolved incident (updates resume)")
def run_reopen(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.reply(reopen(invocation.ctx.deps, incident_id, invocation.args.strip() or None, invocation.user_id))


@register("sev", "/incident sev <sev0-3> [reason]", "change the severity (raising to a paging level pages on-call)")
def run_severity(invocation: Invocation) -> None:
    level, _, reason = invocation.args.partition(" ")
    if not level:
        raise BadInput("Usage: `/incident sev <sev0-3|p0-3> [reason]`.")
    incident_id = invocation.incident_here()
    invocation.reply(set_severity(invocation.ctx.deps, incident_id, level, reason.strip() or None, invocation.user_id))


@register("title", "/incident title <new title>", "rename the incident as you learn what it is (the card follows; similar past incidents are looked up again)")
def run_title(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.reply(retitle(invocation.ctx.deps, incident_id, invocation.args, invocation.user_id))


@register("service", "/incident service <service|none>", "set the affected service (the card follows; similar past incidents are looked up again)")
def run_service(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.reply(set_service(invocation.ctx.deps, incident_id, invocation.args, invocation.user_id))


@register("note", "/incident note <text>", "add a note to the timeline")
def run_note(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.reply(add_note(invocation.ctx.deps, incident_id, invocation.args, invocation.user_id))


@register("timeline", "/incident timeline", f"the latest {TIMELINE_SHOWN} timeline events (only you see them)")
def run_timeline(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    events = latest_events(invocation.ctx.deps.db, incident_id, TIMELINE_SHOWN)
    lines = [f"*{human_id(incident_id)} timeline (latest {len(events)})*"]
    for event in events:
        who = "sevbot" if event.actor == "sevbot" else f"<@{event.actor}>"
        summary = truncate(one_line(event.summary), 200)  # summaries are stored escaped
        lines.append(f"`{event.at:%H:%M:%S}` {who} · {summary}")
    invocation.reply("\n".join(lines))


@register("catchup", "/incident catchup", "catch up on this incident: roles, updates, paging, runbooks, latest events (only you see it)")
def run_catchup(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    answer = catchup(invocation.ctx.deps, incident_id)
    invocation.ack(text=answer.text, blocks=answer.blocks, response_type="ephemeral")
