"""Message shortcuts: "Add to incident timeline" on any message of an incident channel, thread replies included.

The message joins the timeline by the same path as a pin (`bot/timeline/notes.py`: text escaped in the summary,
author, time, permalink), keyed on channel + message ts, so however often it is clicked (or pinned as well) it is
recorded once. Asking Slack for the permalink happens after the ack; the answer is private, through the payload's
response_url. Outside an incident channel it says so and records nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.core.queries import incident_id_for_channel
from bot.db.engine import unavailable
from bot.domain.incident import human_id
from bot.edge import NOT_ANSWERING
from bot.slack.gateway import SlackError
from bot.timeline.notes import message_pinned
from commands.context import Context

NOT_AN_INCIDENT = ("This is not an incident channel, so nothing was added to a timeline. Use *Add to incident timeline* "
                   "on a message in an incident's channel (`/incident list` shows them).")
SOURCE = "shortcut"


@dataclass(frozen=True)
class MessageShortcut:
    """A `message_action` payload: who used it, on which message, and where to answer them."""

    user_id: str
    channel_id: str
    ts: str
    message: dict[str, Any]
    response_url: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> "MessageShortcut":
        message = body["message"]
        if not isinstance(message, dict):
            raise TypeError("message must be an object")
        ts = str(body.get("message_ts") or message["ts"])
        return cls(user_id=str(body["user"]["id"]), channel_id=str(body["channel"]["id"]), ts=ts, message=message,
                   response_url=body.get("response_url"))

    def answer(self, ctx: Context, text: str) -> None:
        if self.response_url:
            ctx.gateway.respond(self.response_url, text)


def on_add_to_timeline(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    shortcut = MessageShortcut.of(body)
    incident_id = incident_id_for_channel(ctx.deps.db, shortcut.channel_id)
    ack()
    if incident_id is None:
        ctx.run_later(shortcut.answer, ctx, f":no_entry: {NOT_AN_INCIDENT}")
        return
    ctx.run_later(_add_to_timeline, ctx, incident_id, shortcut)


def _add_to_timeline(ctx: Context, incident_id: int, shortcut: MessageShortcut) -> None:
    try:
        permalink: str | None = ctx.gateway.permalink(shortcut.channel_id, shortcut.ts)
    except SlackError:
        permalink = None  # recorded without a link rather than not at all
    try:
        added = message_pinned(ctx.deps, incident_id, channel_id=shortcut.channel_id, ts=shortcut.ts, source=SOURCE,
                               actor=shortcut.user_id, message=shortcut.message, permalink=permalink, label="Message")
    except Exception as exc:
        if not unavailable(exc):
            raise
        shortcut.answer(ctx, f":warning: {NOT_ANSWERING}")
        return
    where = human_id(incident_id)
    shortcut.answer(ctx, f":white_check_mark: Added to the {where} timeline." if added
                    else f":information_source: That message is already on the {where} timeline; nothing changed.")
