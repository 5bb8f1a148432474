"""`/incident similar [what happened]`: past incidents like this one, or like your words (only you see it)."""
from __future__ import annotations

from bot.core.queries import incident_id_for_channel
from bot.similar.lookup import similar_answer
from commands.registry import Invocation, register


@register("similar", "/incident similar [what happened]",
          "past incidents like this one (in its channel) or like your words, with their root cause and fix (only you see it)")
def run_similar(invocation: Invocation) -> None:
    here = incident_id_for_channel(invocation.ctx.deps.db, invocation.channel_id) if invocation.channel_id else None
    invocation.reply(similar_answer(invocation.ctx.deps, here, invocation.args))
