"""The subcommand registry and the `/incident` dispatcher."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from commands.context import Context
from bot.core.errors import BadInput, Refused
from bot.core.queries import incident_id_for_channel
from bot.domain.text import escape_mrkdwn, truncate


@dataclass(frozen=True)
class Invocation:
    """One `/incident …` as Slack sent it; `ack` answers within Slack's 3 s (ephemeral by default)."""

    ctx: Context
    args: str
    user_id: str
    channel_id: str
    trigger_id: str
    response_url: str | None
    ack: Callable[..., Any]

    def reply(self, text: str) -> None:
        self.ack(text=text, response_type="ephemeral")

    def reply_later(self, text: str) -> None:
        """A private answer after the ack (for work that has to ask Slack first), through the command's response_url."""
        if self.response_url:
            self.ctx.gateway.respond(self.response_url, text)

    def incident_here(self) -> int:
        """The incident whose channel this command was typed in, or a BadInput that says where to go."""
        incident_id = incident_id_for_channel(self.ctx.deps.db, self.channel_id)
        if incident_id is None:
            raise BadInput("Run this in an incident's channel (`/incident list` shows them).")
        return incident_id


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    run: Callable[[Invocation], None]


REGISTRY: dict[str, Subcommand] = {}


def register(name: str, usage: str, summary: str) -> Callable[[Callable[[Invocation], None]], Callable[[Invocation], None]]:
    def wrap(run: Callable[[Invocation], None]) -> Callable[[Invocation], None]:
        if name in REGISTRY:
            raise ValueError(f"/incident {name} registered twice")
        REGISTRY[name] = Subcommand(name, usage, summary, run)
        return run

    return wrap


def help_text(intro: str | None = None) -> str:
    lines = [intro] if intro else []
    lines.append("*sevbot: `/incident` commands*")
    lines += [f"• `{sub.usage}`: {sub.summary}" for sub in REGISTRY.values()]
    return "\n".join(lines)


def dispatch(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    text = (body.get("text") or "").strip()
    verb, _, rest = text.partition(" ")
    invocation = Invocation(
        ctx=ctx,
        args=rest.strip(),
        user_id=body["user_id"],
        channel_id=body.get("channel_id", ""),
        trigger_id=body.get("trigger_id", ""),
        response_url=body.get("response_url"),
        ack=ack,
    )
    sub = REGISTRY.get(verb.lower())
    if sub is None:
        intro = f"I don't know `/incident {escape_mrkdwn(truncate(verb, 40))}`." if verb else None
        invocation.reply(help_text(intro))
        return
    try:
        sub.run(invocation)
    except (BadInput, Refused) as problem:
        # Bad input and refusals answer privately; nothing was changed (a refusal is recorded by the use case).
        invocation.reply(f":no_entry: {problem}" if isinstance(problem, Refused) else f":x: {problem}")
