"""The buttons on an alert message and its page DM: Acknowledge, Declare incident, Resolve, Silence 1 h.

Each acks at once and answers the clicker privately afterwards. A click counts only from the group's own alert
channel, or (Acknowledge) from a direct message with sevbot, where page DMs land, or from sevbot's Home tab, where
the person's pages are listed: a button copied into any other channel changes nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot.alerts.handling import acknowledge_group, declare_from_alert, resolve_group, silence_group
from bot.core.actions import AlertButton
from bot.core.errors import BadInput, Refused
from bot.db.models import AlertGroup
from bot.domain.incident import human_id
from commands.clicks import Click
from commands.context import Context

Act = Callable[[Context, int, str], str]
ELSEWHERE = "That button belongs to an alert in another channel; nothing changed."


def _group_here(ctx: Context, click: Click, *, from_dm: bool) -> int:
    value = click.value(AlertButton)
    with ctx.deps.db.unit_of_work() as session:
        channel = session.scalar(select(AlertGroup.channel_id).where(AlertGroup.id == value.group_id))
    in_dm = from_dm and (click.channel_id or "").startswith("D")
    # A Home tab is as private as the DM: only sevbot publishes it (views.publish), only its owner sees and clicks
    # it, and Slack names it in the signed payload (a `view` container, view type `home`, no channel). A modal's
    # view container does not count, nor does a channel: those keep the channel rule.
    on_home = from_dm and click.from_home and click.channel_id is None
    if not (in_dm or on_home) and (click.channel_id is None or click.channel_id != channel):
        raise BadInput(ELSEWHERE)
    return value.group_id


def _listener(act: Act, *, from_dm: bool = False) -> Callable[[Context, dict[str, Any], Callable[..., Any]], None]:
    def listener(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
        ack()
        click = Click.of(body)
        try:
            text = act(ctx, _group_here(ctx, click, from_dm=from_dm), click.user_id)
        except (BadInput, Refused) as problem:
            text = f":x: {problem}"
        click.answer(ctx, text)

    return listener


def _declare(ctx: Context, group_id: int, user: str) -> str:
    # The declare is quick database work; opening the channel and the rest happen after, as for /incident declare.
    declared = declare_from_alert(ctx.deps, group_id, user)
    ctx.run_later(ctx.provision, declared.incident_id, True)
    if not declared.created:
        return f"This alert is already attached to {human_id(declared.incident_id)}."
    return f"Declaring {human_id(declared.incident_id)}… its channel will appear in a moment; the alert is attached."


on_acknowledge = _listener(lambda ctx, group_id, user: acknowledge_group(ctx.deps, group_id, user), from_dm=True)
on_resolve = _listener(lambda ctx, group_id, user: resolve_group(ctx.deps, group_id, user))
on_silence = _listener(lambda ctx, group_id, user: silence_group(ctx.deps, group_id, user))
on_declare = _listener(_declare)
