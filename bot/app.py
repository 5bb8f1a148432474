"""The Bolt app, built once at start: verify, ack within 3 s, route to commands/. It parses nothing itself.

A listener that fails answers clearly, never with a traceback page: a database that does not answer gets "nothing
was recorded, try again" (ephemeral, or a field error in a modal); a payload sevbot cannot read (a view it never
opened, a value it never made) gets a 400 naming the problem, with one WARNING line in the log.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware.authorization import SingleTeamAuthorization
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

import commands.alerts
import commands.declare
import commands.events
import commands.home
import commands.insights  # noqa: F401  (registers itself)
import commands.help  # noqa: F401  (registers itself)
import commands.list  # noqa: F401
import commands.oncall
import commands.paging
import commands.resolve
import commands.roles
import commands.runbooks
import commands.similar  # noqa: F401  (registers itself)
import commands.shortcuts
import commands.status  # noqa: F401
from bot.db.engine import unavailable
from bot.edge import NOT_ANSWERING
from bot.ids import START_RUNBOOK_PREFIX, ActionId, CallbackId
from bot.slack.gateway import Identity
from commands import dispatch
from commands.context import Context

Listener = Callable[[Context, dict[str, Any], Callable[..., Any]], None]
log = logging.getLogger(__name__)
# What reading a payload that is not the shape sevbot made raises.
MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def _seed_authorization(app: App, client: WebClient, identity: Identity) -> None:
    """Hand Bolt's single-workspace authorization the auth.test answer start-up already has. Bolt would otherwise
    ask Slack again (on the first request, with token verification off): one more call at a restart that can meet a
    slow Slack, and on a person's request at that. Bolt has no public setter, hence the middleware walk; a test
    (tests/test_cli.py) counts one auth.test per start and none on the first request."""
    answer = SlackResponse(client=client, http_verb="POST", api_url=f"{client.base_url}auth.test", req_args={},
                           data=identity.answer, headers=identity.headers, status_code=200)
    for middleware in getattr(app, "_middleware_list", ()):
        if isinstance(middleware, SingleTeamAuthorization):
            middleware.auth_test_result = answer


def build_app(ctx: Context, client: WebClient, signing_secret: str, identity: Identity | None = None) -> App:
    """`identity`: start-up's auth.test answer (bot/runtime.py check_slack); without it, Bolt asks Slack itself."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        # Listeners run on the request thread and only do fast database work before ack(); anything that calls
        # Slack goes to the background pool. This skips Bolt's ack polling (10 ms steps) on every request.
        process_before_response=True,
        ignoring_self_events_enabled=True,
        token_verification_enabled=identity is None,
    )
    if identity is not None:
        _seed_authorization(app, client, identity)

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
    app.action(ActionId.ALERT_ACK)(with_ctx(commands.alerts.on_acknowledge))
    app.action(ActionId.ALERT_DECLARE)(with_ctx(commands.alerts.on_declare))
    app.action(ActionId.ALERT_RESOLVE)(with_ctx(commands.alerts.on_resolve))
    app.action(ActionId.ALERT_SILENCE)(with_ctx(commands.alerts.on_silence))
    app.action(ActionId.HOME_DECLARE)(with_ctx(commands.home.on_declare))
    app.action(ActionId.ONCALL_REMOVE_OVERRIDE)(with_ctx(commands.oncall.on_remove_override))
    app.view(CallbackId.RESOLVE_MODAL)(with_ctx(commands.resolve.on_resolve_submit))
    app.message_shortcut(CallbackId.ADD_TO_TIMELINE)(with_ctx(commands.shortcuts.on_add_to_timeline))

    @app.error
    def on_error(error: Exception, body: dict[str, Any], request: BoltRequest) -> BoltResponse:
        given = request.context.ack.response  # the answer the listener gave before it failed, if any
        answer = answer_failure(ctx, error, body, acked=given is not None)
        return given if given is not None else answer

    def event_listener(handler: Callable[[Context, dict[str, Any]], None]) -> Callable[..., None]:
        def listener(body: dict[str, Any]) -> None:
            handler(ctx, body)

        return listener

    for name in ("reaction_added", "reaction_removed"):
        app.event(name)(event_listener(commands.events.on_reaction))
    for name in ("pin_added", "pin_removed"):
        app.event(name)(event_listener(commands.events.on_pin))
    app.event("app_home_opened")(event_listener(commands.home.on_home_opened))
    return app


def answer_failure(ctx: Context, error: Exception, body: dict[str, Any], acked: bool) -> BoltResponse:
    """The answer to a listener that raised (`acked`: it had already answered Slack, e.g. a button that acks first)."""
    kind = str(body.get("type") or ("slash_command" if "command" in body else "request"))
    if unavailable(error):
        log.warning("database not answering during a %s (%s): nothing recorded", kind, type(error).__name__)
        if acked:  # Slack has its answer: say it privately where we can
            if body.get("response_url"):
                ctx.run_later(ctx.gateway.respond, body["response_url"], f":warning: {NOT_ANSWERING}")
            return BoltResponse(status=200, body="")
        if "command" in body:
            return _json(200, {"response_type": "ephemeral", "text": f":warning: {NOT_ANSWERING}"})
        block = _first_input_block(body)
        if kind == "view_submission" and block:
            return _json(200, {"response_action": "errors", "errors": {block: NOT_ANSWERING[:150]}})
        return _json(503, {"ok": False, "error": NOT_ANSWERING})
    if isinstance(error, MALFORMED):
        log.warning("refused a malformed %s: %s: %s", kind, type(error).__name__, str(error)[:200])
        if acked:
            return BoltResponse(status=200, body="")
        return _json(400, {"ok": False, "error": f"this {kind} is not one sevbot can read ({type(error).__name__}); nothing was done"})
    log.error("a %s failed", kind, exc_info=error)
    if acked:
        return BoltResponse(status=200, body="")
    return _json(500, {"ok": False, "error": "sevbot failed on this request; it is logged"})


def _first_input_block(body: dict[str, Any]) -> str | None:
    blocks = ((body.get("view") or {}).get("blocks") or []) if isinstance(body.get("view"), dict) else []
    return next((b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")), None)


def _json(status: int, body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=status, body=json.dumps(body), headers={"content-type": "application/json; charset=utf-8"})
