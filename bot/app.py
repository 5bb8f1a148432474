"""The Bolt app, built once at start: verify, ack within 3 s, route to commands/. It parses nothing itself."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

import commands.declare
import commands.events
import commands.help  # noqa: F401  (registers itself)
import commands.list  # noqa: F401
import commands.paging
import commands.resolve
import commands.roles
import commands.runbooks
import commands.status  # noqa: F401
from bot.ids import START_RUNBOOK_PREFIX, ActionId, CallbackId
from bot.services import Services
from commands import dispatch


def build_app(services: Services, client: WebClient, signing_secret: str) -> App:
    app = App(
        client=client,
        signing_secret=signing_secret,
        # Listeners run on the request thread and only do fast database work before ack(); anything that calls
        # Slack goes to Services.run_later. This skips Bolt's ack polling (10 ms steps) on every request.
        process_before_response=True,
        ignoring_self_events_enabled=True,
    )
    services.gateway.bot_user_id()  # learn who we are once, at start, not on a user's request
    services.warm_caches()

    def with_services(handler: Callable[[Services, dict[str, Any], Callable[..., Any]], None]) -> Callable[..., None]:
        def listener(body: dict[str, Any], ack: Callable[..., Any]) -> None:
            handler(services, body, ack)

        return listener

    app.command("/incident")(with_services(dispatch))
    app.view(CallbackId.DECLARE_MODAL)(with_services(commands.declare.on_modal_submit))
    for action in (ActionId.DECLARE_SCOPE, ActionId.DECLARE_SERVICE):
        app.action(action)(with_services(commands.declare.on_modal_change))
    app.action(ActionId.TAKE_COMMAND)(with_services(commands.roles.on_take_command))
    app.action(ActionId.PICK_ROLE)(with_services(commands.roles.on_pick_role))
    app.view(CallbackId.ASSIGN_ROLE)(with_services(commands.roles.on_assign_submit))

    app.action(re.compile(f"^{START_RUNBOOK_PREFIX}[0-9]+$"))(with_services(commands.runbooks.on_start_from_card))
    for action in (ActionId.RUNBOOK_STEP_DONE, ActionId.RUNBOOK_STEP_SKIP, ActionId.RUNBOOK_STEP_FAILED):
        app.action(action)(with_services(commands.runbooks.on_step))
    app.view(CallbackId.RUNBOOK_FAILURE_NOTE)(with_services(commands.runbooks.on_note_submit))

    app.action(ActionId.OPEN_UPDATE)(with_services(commands.paging.on_open_update))
    app.action(ActionId.OPEN_ESCALATE)(with_services(commands.paging.on_open_escalate))
    app.action(ActionId.PAGE_ACK)(with_services(commands.paging.on_page_ack))
    app.view(CallbackId.UPDATE_MODAL)(with_services(commands.paging.on_update_submit))
    app.view(CallbackId.ESCALATE_MODAL)(with_services(commands.paging.on_escalate_submit))

    app.action(ActionId.OPEN_RESOLVE)(with_services(commands.resolve.on_resolve_button))
    app.view(CallbackId.RESOLVE_MODAL)(with_services(commands.resolve.on_resolve_submit))

    def event_listener(handler: Callable[[Services, dict[str, Any]], None]) -> Callable[..., None]:
        def listener(body: dict[str, Any]) -> None:
            handler(services, body)

        return listener

    for name in ("reaction_added", "reaction_removed"):
        app.event(name)(event_listener(commands.events.on_reaction))
    for name in ("pin_added", "pin_removed"):
        app.event(name)(event_listener(commands.events.on_pin))
    return app
