"""`/incident list`: the open incidents, newest first, with links (or why a channel is still pending)."""
from __future__ import annotations

from commands.registry import Invocation, register
from bot.domain.incident import human_id
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.core.queries import open_incidents

MAX_LISTED = 30


@register("list", "/incident list", "the open incidents, with links to their channels")
def run(invocation: Invocation) -> None:
    incidents = open_incidents(invocation.ctx.deps.db, invocation.ctx.deps.config.closed_status, limit=MAX_LISTED + 1)
    if not incidents:
        invocation.reply(":white_check_mark: No open incidents.")
        return
    config = invocation.ctx.deps.config
    lines = [f"*Open incidents ({len(incidents) if len(incidents) <= MAX_LISTED else f'{MAX_LISTED}+'})*"]
    for incident in incidents[:MAX_LISTED]:
        where = f"<#{incident.channel_id}>" if incident.channel_id else "_channel pending: sevbot is retrying_"
        label = config.severities[incident.severity].label if incident.severity in config.severities else incident.severity
        title = escape_mrkdwn(truncate(one_line(incident.title), 120))
        lines.append(f"• *{human_id(incident.id)}* {label} · {incident.status} · {title} · {where}")
    invocation.reply("\n".join(lines))
