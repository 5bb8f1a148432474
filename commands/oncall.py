"""`/incident oncall`: who is on call (now and next, or a schedule's next 7 days), `cover`, `overrides`, and the
overrides list's Remove button.

Times are shown in the viewer's own zone (Slack's users.info). When it is already known the answer comes with the
ack; otherwise the command acks at once (no Web API call before the ack) and answers through its response_url once
Slack has said.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.actions import OverrideButton
from bot.core.errors import BadInput
from bot.oncall.board import now_text, overrides_message, week_text
from bot.oncall.cover import COVER_USAGE, CoverRequest, cover, known_schedules, parse_cover, remove_cover, schedule_named
from bot.oncall.zones import Zone
from commands.clicks import Click
from commands.context import Context
from commands.registry import Invocation, register

USAGE = ("`/incident oncall` (who is on call now), `/incident oncall <schedule>` (its next 7 days), "
         f"{COVER_USAGE}, `/incident oncall overrides` (list and remove covers)")


def _answer(invocation: Invocation, compose: Callable[[Zone], str]) -> None:
    """Answer with the ack when the viewer's zone is known; else ack now and answer once Slack has told us."""
    zones = invocation.ctx.zone_book
    zone = zones.known(invocation.user_id)
    if zone is not None:
        invocation.reply(compose(zone))
        return
    invocation.ack()

    def later() -> None:
        try:
            text = compose(zones.look_up(invocation.user_id))
        except BadInput as problem:
            text = f":x: {problem}"
        invocation.reply_later(text)
    invocation.ctx.run_later(later)


@register("oncall", "/incident oncall [schedule | cover … | overrides]", "who is on call, a schedule's week, covers and overrides")
def run(invocation: Invocation) -> None:
    deps = invocation.ctx.deps
    verb, _, rest = invocation.args.partition(" ")
    if not verb:
        _answer(invocation, lambda zone: now_text(deps, zone))
    elif verb.lower() == "cover":
        request = parse_cover(deps, rest)
        key = f"slack:{invocation.trigger_id}" if invocation.trigger_id else f"slack:{invocation.response_url}"
        _cover(invocation, request, key)
    elif verb.lower() == "overrides":
        if rest.strip():
            raise BadInput(f"`/incident oncall overrides` takes nothing more. Usage: {USAGE}.")
        invocation.ack()
        invocation.ctx.run_later(_list_overrides, invocation.ctx, invocation.user_id, invocation.response_url)
    else:
        if rest.strip():
            raise BadInput(f"Usage: {USAGE}. {known_schedules(deps)}")
        name = schedule_named(deps, verb)
        _answer(invocation, lambda zone: week_text(deps, name, zone))


def _cover(invocation: Invocation, request: CoverRequest, key: str) -> None:
    # Someone else covering needs Slack to say who they are (users.info), so that answer always comes after the ack.
    deps = invocation.ctx.deps
    if request.who is None:
        _answer(invocation, lambda zone: cover(deps, request, invocation.user_id, zone, key))
        return
    invocation.ack()

    def later() -> None:
        try:
            text = cover(deps, request, invocation.user_id, invocation.ctx.zone_book.look_up(invocation.user_id), key)
        except BadInput as problem:
            text = f":x: {problem}"
        invocation.reply_later(text)
    invocation.ctx.run_later(later)


def _list_overrides(ctx: Context, user_id: str, response_url: str | None) -> None:
    if response_url:
        text, blocks = overrides_message(ctx.deps, ctx.zone_book.look_up(user_id))
        ctx.gateway.respond(response_url, text, blocks)


def on_remove_override(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    """Remove, on the overrides list: the override row is the check; the list is redrawn in place with the outcome
    on top (a second click finds it gone and says so)."""
    ack()
    click = Click.of(body)
    try:
        value = click.value(OverrideButton)
    except BadInput as problem:
        click.answer(ctx, f":x: {problem}")
        return
    ctx.run_later(_remove_and_redraw, ctx, click, value.override_id)


def _remove_and_redraw(ctx: Context, click: Click, override_id: int) -> None:
    zone = ctx.zone_book.look_up(click.user_id)
    try:
        notice = remove_cover(ctx.deps, override_id, click.user_id, zone)
    except BadInput as problem:
        notice = f":x: {problem}"
    text, blocks = overrides_message(ctx.deps, zone, notice)
    if click.response_url:
        ctx.gateway.respond(click.response_url, text, blocks, replace_original=True)
