"""A button click or select, as Slack sends it: who clicked, where, and the typed value of what was clicked.

`for_this_channel` is the one check that a click belongs to the incident of the channel it came from; a button
copied into another incident's channel (or a forged payload) changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from bot.core.actions import ButtonValue
from bot.core.errors import BadInput
from bot.core.queries import incident_id_for_channel
from commands.context import Context

V = TypeVar("V", bound=ButtonValue)
ELSEWHERE = "That button belongs to another incident; nothing changed."


@dataclass(frozen=True)
class Click:
    user_id: str
    channel_id: str | None
    action_id: str
    raw_value: str | None
    trigger_id: str
    response_url: str | None
    # Clicked on sevbot's Home tab: a `view` container holding a home view (no channel, no response_url).
    from_home: bool = False

    @classmethod
    def of(cls, body: dict[str, Any]) -> "Click":
        action = (body.get("actions") or [{}])[0]
        raw = action.get("value") or (action.get("selected_option") or {}).get("value")
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        from_home = (body.get("container") or {}).get("type") == "view" and view.get("type") == "home"
        return cls(user_id=body["user"]["id"], channel_id=(body.get("channel") or {}).get("id"),
                   action_id=str(action.get("action_id", "")), raw_value=raw, trigger_id=str(body.get("trigger_id", "")),
                   response_url=body.get("response_url"), from_home=from_home)

    def value(self, kind: type[V]) -> V:
        return kind.decode(self.raw_value)

    def for_this_channel(self, ctx: Context, kind: type[V]) -> V:
        """The value, once its incident is proven to be the one whose channel the click came from."""
        value = self.value(kind)
        if self.channel_id is None or incident_id_for_channel(ctx.deps.db, self.channel_id) != value.incident:
            raise BadInput(ELSEWHERE)
        return value

    def answer(self, ctx: Context, text: str) -> None:
        """A private answer through the click's response_url, after the ack; a Home tab click has none, so its
        answer is shown at the top of the clicker's Home tab."""
        if self.response_url:
            ctx.run_later(ctx.gateway.respond, self.response_url, text)
        elif self.from_home and ctx.home is not None:
            ctx.home.answer(self.user_id, text)
