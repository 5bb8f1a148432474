"""`/incident ic`, `assign`, `unassign`, `who`; the card's "Take command" button and role picker.

Handing a role to someone asks Slack who they are (a person, not a bot or a deactivated account), so those
commands ack at once and answer privately once Slack has said; nothing is recorded when the check fails.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.core.actions import IncidentChoice
from bot.core.errors import BadInput, Refused
from bot.domain.mentions import user_id_from_mention
from bot.roles import modal as role_modal
from bot.roles.assign import assign_role, check_assignable, unassign_role, who
from bot.slack.gateway import SlackError
from commands.clicks import Click
from commands.context import Context
from commands.registry import Invocation, register

MENTION_HINT = "Mention the person so Slack fills in who they are, e.g. `@lee`."


def _mentioned(word: str) -> str:
    user = user_id_from_mention(word)
    if user is None:
        raise BadInput(f"I need a person, not `{word[:40]}`. {MENTION_HINT}")
    return user


def _hand_over(invocation: Invocation, role_key: str, user_id: str) -> None:
    """Checks that need no Slack before the ack; the person check and the change after it."""
    incident_id = invocation.incident_here()
    check_assignable(invocation.ctx.deps, incident_id, role_key, invocation.user_id)
    invocation.ack()
    invocation.ctx.run_later(_assign_and_answer, invocation, incident_id, role_key, user_id)


def _assign_and_answer(invocation: Invocation, incident_id: int, role_key: str, user_id: str) -> None:
    try:
        text = assign_role(invocation.ctx.deps, incident_id, role_key, user_id, invocation.user_id)
    except BadInput as problem:
        text = f":x: {problem}"
    except Refused as problem:
        text = f":no_entry: {problem}"
    invocation.reply_later(text)


@register("ic", "/incident ic @user", "hand over Incident Commander")
def run_ic(invocation: Invocation) -> None:
    words = invocation.args.split()
    if len(words) != 1:
        raise BadInput(f"Usage: `/incident ic @user`. {MENTION_HINT}")
    _hand_over(invocation, "ic", _mentioned(words[0]))


@register("assign", "/incident assign <role> @user", "give someone a role (comms, scribe, ops…)")
def run_assign(invocation: Invocation) -> None:
    words = invocation.args.split()
    if len(words) != 2:
        raise BadInput(f"Usage: `/incident assign <role> @user`. {MENTION_HINT}")
    _hand_over(invocation, words[0].lower(), _mentioned(words[1]))


@register("unassign", "/incident unassign <role>", "leave a role empty (not the Incident Commander)")
def run_unassign(invocation: Invocation) -> None:
    words = invocation.args.split()
    if len(words) != 1:
        raise BadInput("Usage: `/incident unassign <role>`.")
    incident_id = invocation.incident_here()
    invocation.reply(unassign_role(invocation.ctx.deps, incident_id, words[0].lower(), invocation.user_id))


@register("who", "/incident who", "who holds which role")
def run_who(invocation: Invocation) -> None:
    invocation.reply(who(invocation.ctx.deps, invocation.incident_here()))


def on_take_command(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    """The card's Take command: the value carries the holder the clicker saw, so a stale card can't undo a newer hand-over."""
    ack()
    click = Click.of(body)
    try:
        value = click.for_this_channel(ctx, IncidentChoice)
    except BadInput as problem:
        click.answer(ctx, f":no_entry: {problem}")
        return
    ctx.run_later(_take_command, ctx, click, value)


def _take_command(ctx: Context, click: Click, value: IncidentChoice) -> None:
    try:
        text = assign_role(ctx.deps, value.incident_id, "ic", click.user_id, click.user_id, expected_holder=value.choice)
    except (BadInput, Refused) as problem:
        text = f":no_entry: {problem}"
    if click.response_url:
        ctx.gateway.respond(click.response_url, text)


def on_pick_role(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    click = Click.of(body)
    try:
        value = click.for_this_channel(ctx, IncidentChoice)
        role = ctx.deps.config.role(value.choice)
        if role is None:
            raise BadInput("That role no longer exists; nothing changed.")
    except BadInput as problem:
        click.answer(ctx, f":x: {problem}")
        return
    view = role_modal.build(value.incident_id, role, channel_id=click.channel_id)
    ctx.run_later(_open_view, ctx, click.trigger_id, view)


def _open_view(ctx: Context, trigger_id: str, view: dict[str, Any]) -> None:
    try:
        ctx.gateway.open_view(trigger_id, view)
    except SlackError:
        pass  # an expired trigger: the user clicks again


def on_assign_submit(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    """Field errors for what needs no Slack; the person check runs after the ack and answers in the channel."""
    form = role_modal.read(body["view"])
    if form is None:
        ack(response_action="errors", errors={role_modal.USER_BLOCK: "Choose a person."})
        return
    actor = body["user"]["id"]
    try:
        check_assignable(ctx.deps, form.incident_id, form.role, actor)
    except (BadInput, Refused) as problem:
        # Modal errors are plain text: no raw <@U…> or <!subteam^…> mentions.
        ack(response_action="errors", errors={role_modal.USER_BLOCK: _plain(str(problem))[:150]})
        return
    ack()
    ctx.run_later(_assign_from_modal, ctx, form, actor)


def _assign_from_modal(ctx: Context, form: role_modal.AssignForm, actor: str) -> None:
    try:
        text = assign_role(ctx.deps, form.incident_id, form.role, form.user_id, actor)
    except BadInput as problem:
        text = f":x: {problem}"
    except Refused as problem:
        text = f":no_entry: {problem}"
    if form.channel_id:
        try:
            ctx.gateway.post_ephemeral(form.channel_id, actor, text)
        except SlackError:
            pass  # the change is recorded (or refused) either way; a lost courtesy message is not worth a retry


def _plain(text: str) -> str:
    text = re.sub(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>", lambda m: f"@{m.group(2)}" if m.group(2) else "that person", text)
    return re.sub(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>", lambda m: m.group(1) or "a user group", text)
