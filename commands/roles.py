"""`/incident ic`, `assign`, `unassign`, `who`; the card's "Take command" button and role picker."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from commands.registry import Invocation, register
from bot.domain.mentions import user_id_from_mention
from bot.services import Services
from bot.slack.gateway import SlackError
from bot.usecases.errors import BadInput, Refused
from bot.usecases.queries import incident_id_for_channel
from bot.usecases.roles import assign_role, unassign_role, who
from bot.views import role_modal

MENTION_HINT = "Mention the person so Slack fills in who they are, e.g. `@lee`."


def _mentioned(word: str) -> str:
    user = user_id_from_mention(word)
    if user is None:
        raise BadInput(f"I need a person, not `{word[:40]}`. {MENTION_HINT}")
    return user


@register("ic", "/incident ic @user", "hand over Incident Commander")
def run_ic(invocation: Invocation) -> None:
    words = invocation.args.split()
    if len(words) != 1:
        raise BadInput(f"Usage: `/incident ic @user`. {MENTION_HINT}")
    incident_id = invocation.incident_here()
    invocation.reply(assign_role(invocation.services, incident_id, "ic", _mentioned(words[0]), invocation.user_id))


@register("assign", "/incident assign <role> @user", "give someone a role (comms, scribe, ops…)")
def run_assign(invocation: Invocation) -> None:
    words = invocation.args.split()
    if len(words) != 2:
        raise BadInput(f"Usage: `/incident assign <role> @user`. {MENTION_HINT}")
    incident_id = invocation.incident_here()
    invocation.reply(assign_role(invocation.services, incident_id, words[0].lower(), _mentioned(words[1]), invocation.user_id))


@register("unassign", "/incident unassign <role>", "leave a role empty (not the Incident Commander)")
def run_unassign(invocation: Invocation) -> None:
    words = invocation.args.split()
    if len(words) != 1:
        raise BadInput("Usage: `/incident unassign <role>`.")
    incident_id = invocation.incident_here()
    invocation.reply(unassign_role(invocation.services, incident_id, words[0].lower(), invocation.user_id))


@register("who", "/incident who", "who holds which role")
def run_who(invocation: Invocation) -> None:
    invocation.reply(who(invocation.services, invocation.incident_here()))


def _card_value(services: Services, body: dict[str, Any]) -> tuple[int, str]:
    """`<incident>:<detail>` from the clicked element, checked against the channel it was clicked in."""
    action = body["actions"][0]
    raw = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    number, _, detail = raw.partition(":")
    if not number.isdigit() or not detail:
        raise BadInput("That button is not one sevbot made; nothing changed.")
    channel = (body.get("channel") or {}).get("id")
    if channel is None or incident_id_for_channel(services.db, channel) != int(number):
        raise BadInput("That button belongs to another incident; nothing changed.")
    return int(number), detail


def _answer(services: Services, body: dict[str, Any], text: str) -> None:
    """Private answer to a click, through the click's response_url (works for anyone who could see the button)."""
    response_url = body.get("response_url")
    if response_url:
        services.run_later(services.gateway.respond, response_url, text)


def _ephemeral(services: Services, channel: str, user: str, text: str) -> None:
    try:
        services.gateway.post_ephemeral(channel, user, text)
    except SlackError:
        pass  # the click already did (or refused) its work; a lost courtesy message is not worth a retry


def on_take_command(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    try:
        incident_id, seen_holder = _card_value(services, body)
        text = assign_role(services, incident_id, "ic", body["user"]["id"], body["user"]["id"], expected_holder=seen_holder)
    except (BadInput, Refused) as problem:
        text = f":no_entry: {problem}"
    _answer(services, body, text)


def on_pick_role(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    try:
        incident_id, role_key = _card_value(services, body)
        role = services.config.role(role_key)
        if role is None:
            raise BadInput("That role no longer exists; nothing changed.")
    except BadInput as problem:
        _answer(services, body, f":x: {problem}")
        return
    view = role_modal.build(incident_id, role, channel_id=(body.get("channel") or {}).get("id"))
    services.run_later(_open_view, services, body["trigger_id"], view)


def _open_view(services: Services, trigger_id: str, view: dict[str, Any]) -> None:
    try:
        services.gateway.open_view(trigger_id, view)
    except SlackError:
        pass  # an expired trigger: the user clicks again


def on_assign_submit(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    form = role_modal.read(body["view"])
    if form is None:
        ack(response_action="errors", errors={role_modal.USER_BLOCK: "Choose a person."})
        return
    try:
        text = assign_role(services, form.incident_id, form.role, form.user_id, body["user"]["id"])
    except (BadInput, Refused) as problem:
        # Modal errors are plain text: show people's names, not raw <@U…> mentions.
        ack(response_action="errors", errors={role_modal.USER_BLOCK: _plain_names(services, str(problem))[:150]})
        return
    ack()
    if form.channel_id:
        services.run_later(_ephemeral, services, form.channel_id, body["user"]["id"], text)



def _plain_names(services: Services, text: str) -> str:
    def name(match: re.Match[str]) -> str:
        try:
            info = services.gateway.user(match.group(1))
        except SlackError:
            info = None
        return f"@{info.name}" if info and info.name else "that person"

    return re.sub(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>", name, text)
