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
from commands import dispatch
from commands.context import Context

Listener = Callable[[Context, dict[str, Any], Callable[..., Any]], None]


def build_app(ctx: Context, client: WebClient, signing_secret: str) -> App:
    app = App(
        client=client,
        signing_secret=signing_secret,
        # Listeners run on the request thread and only do fast database work before ack(); anything that calls
        # Slack goes to the background pool. This skips Bolt's ack polling (10 ms steps) on every request.
        process_before_response=True,
        ignoring_self_events_enabled=True,
    )

    def with_ctx(handler: Listener) -> Callable[..., None]:
        def listener(body: dict[str, Any], ack: Callable[..., Any]) -> None:
            handler(ctx, body, ack)

        return listener

    app.command("/incident")(with_ctx(dispatch))
    app.view(CallbackId.DECLARE_MODAL)(with_ctx(commands.declare.on_modal_submit))
    modal_changes = commands.declare.ModalChanges()
    for action in (ActionId.DECLARE_SCOPE, ActionId.DECLARE_SERVICE):
        app.action(action)(with_ctx(modal_changes.on_change))
    app.action(ActionId.TAKE_COMMAND)(with_ctx(commands.roles.on_take_command))
    app.action(ActionId.PICK_ROLE)(with_ctx(commands.roles.on_pick_role))
    app.view(CallbackId.ASSIGN_ROLE)(with_ctx(commands.roles.on_assign_submit))

    app.action(re.compile(f"^{START_RUNBOOK_PREFIX}[0-9]+$"))(with_ctx(commands.runbooks.on_start_from_card))
    for action in (ActionId.RUNBOOK_STEP_DONE, ActionId.RUNBOOK_STEP_SKIP, ActionId.RUNBOOK_STEP_FAILED):
        app.action(action)(with_ctx(commands.runbooks.on_step))
    app.view(CallbackId.RUNBOOK_FAILURE_NOTE)(with_ctx(commands.runbooks.on_note_submit))

    app.action(ActionId.OPEN_UPDATE)(with_ctx(commands.paging.on_open_update))
    app.action(ActionId.OPEN_ESCALATE)(with_ctx(commands.paging.on_open_escalate))
    app.action(ActionId.PAGE_ACK)(with_ctx(commands.paging.on_page_ack))
    app.view(CallbackId.UPDATE_MODAL)(with_ctx(commands.paging.on_update_submit))
    app.view(CallbackId.ESCALATE_MODAL)(with_ctx(commands.paging.on_escalate_submit))

    app.action(ActionId.OPEN_RESOLVE)(with_ctx(commands.resolve.on_resolve_button))
    app.view(CallbackId.RESOLVE_MODAL)(with_ctx(commands.resolve.on_resolve_submit))

    def event_listener(handler: Callable[[Context, dict[str, Any]], None]) -> Callable[..., None]:
        def listener(body: dict[str, Any]) -> None:
            handler(ctx, body)

        return listener

    for name in ("reaction_added", "reaction_removed"):
        app.event(name)(event_listener(commands.events.on_reaction))
    for name in ("pin_added", "pin_removed"):
        app.event(name)(event_listener(commands.events.on_pin))
    return app
