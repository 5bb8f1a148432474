"""`/incident declare [sev] <title>` and the declare modal (open, live severity hint, submit)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from commands.registry import Invocation, register
from bot.domain.severity import looks_like_severity, normalise_severity
from bot.domain.text import escape_mrkdwn, truncate
from bot.services import Services
from bot.slack.gateway import SlackError
from bot.usecases.declare import MAX_TITLE, DeclareRequest, declare
from bot.usecases.lifecycle import on_declared
from bot.views import declare_modal
from bot.views.messages import declaring_ack

log = logging.getLogger(__name__)


@register("declare", "/incident declare [sev0-3|p0-3] <title>", "open an incident and its channel (no title: a form)")
def run(invocation: Invocation) -> None:
    services = invocation.services
    if not invocation.args:
        invocation.ack()
        services.run_later(_open_modal, services, invocation.trigger_id, invocation.channel_id, invocation.user_id)
        return
    first, _, rest = invocation.args.partition(" ")
    severity = services.config.default_severity
    title = invocation.args
    if looks_like_severity(first):
        known = normalise_severity(first, services.config)
        if known is None:
            levels = ", ".join(services.config.severities)
            invocation.reply(f":x: `{escape_mrkdwn(truncate(first, 20))}` is not a severity here. Use one of {levels} (or p0…p3). Nothing was declared.")
            return
        severity, title = known, rest.strip()
    if not title:
        invocation.reply(":x: Say what is broken: `/incident declare sev1 Checkout is failing for all users`. Nothing was declared.")
        return
    if len(title) > MAX_TITLE:
        invocation.reply(f":x: Keep the title under {MAX_TITLE:,} characters ({len(title):,} given). Nothing was declared.")
        return
    declared = declare(
        services.db,
        services.config,
        services.clock,
        DeclareRequest(
            title=title,
            severity=severity,
            declared_by=invocation.user_id,
            origin_channel_id=invocation.channel_id,
            response_url=invocation.response_url,
        ),
        on_recorded=lambda session, incident: on_declared(services, session, incident),
    )
    # Recorded first: the ack names the incident, and Slack work happens after Slack has its answer.
    invocation.reply(declaring_ack(declared.incident_id))
    services.run_later(services.provision, declared.incident_id, declared.enqueued)
    if declared.enqueued:
        services.run_later(services.outbox.drain, declared.incident_id)  # pages go out without waiting for the channel


def _open_modal(services: Services, trigger_id: str, channel_id: str, user_id: str) -> None:
    try:
        services.gateway.open_view(trigger_id, declare_modal.build(services.config, origin_channel_id=channel_id))
    except SlackError as exc:
        log.warning("views.open failed: %s", exc.code)
        try:
            services.gateway.post_ephemeral(channel_id, user_id, f":x: Slack would not open the declare form (`{exc.code}`). Try again, or type `/incident declare sev1 <title>`.")
        except SlackError:
            log.warning("could not tell the user the form failed to open")


_modal_lock = threading.Lock()
_modal_applied: dict[str, float] = {}


def on_modal_change(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    """Scope or service changed: re-render the modal with (or without) the severity suggestion.

    Two quick changes arrive on two threads; each payload carries the whole form, so the newest one wins and an
    older one arriving late is skipped rather than overwriting it.
    """
    ack()
    services.run_later(_rerender_modal, services, body)


def _rerender_modal(services: Services, body: dict[str, Any]) -> None:
    view = body["view"]
    action_ts = float(body["actions"][0].get("action_ts") or 0)
    form = declare_modal.read(view)
    rebuilt = declare_modal.build(services.config, origin_channel_id=form.origin_channel_id, scope=form.scope, service=form.service)
    with _modal_lock:
        if _modal_applied.get(view["id"], 0.0) > action_ts:
            return
        _modal_applied[view["id"]] = action_ts
        if len(_modal_applied) > 1000:  # views live minutes; forget the oldest
            for stale in sorted(_modal_applied, key=_modal_applied.__getitem__)[:500]:
                del _modal_applied[stale]
        try:
            services.gateway.update_view(view["id"], rebuilt)
        except SlackError as exc:
            log.info("declare modal update skipped: %s", exc.code)


def on_modal_submit(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    view = body["view"]
    form = declare_modal.read(view)
    problems = declare_modal.errors(form, services.config)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    assert form.severity is not None
    declared = declare(
        services.db,
        services.config,
        services.clock,
        DeclareRequest(
            title=form.title,
            severity=form.severity,
            declared_by=body["user"]["id"],
            service=form.service,
            scope=form.scope,
            description=form.description,
            origin_channel_id=form.origin_channel_id,
            idempotency_key=f"view:{view['id']}",
        ),
        on_recorded=lambda session, incident: on_declared(services, session, incident),
    )
    ack()
    if declared.created:
        services.run_later(services.provision, declared.incident_id, declared.enqueued)
        if declared.enqueued:
            services.run_later(services.outbox.drain, declared.incident_id)
