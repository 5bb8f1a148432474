"""`/incident declare [sev] <title>` and the declare modal (open, live severity hint, submit)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from commands.registry import Invocation, register
from bot.domain.severity import looks_like_severity, normalise_severity
from bot.domain.text import escape_mrkdwn, truncate
from commands.context import Context
from bot.slack.gateway import SlackError
from bot.declare.record import MAX_TITLE, DeclareRequest, declare
from bot.declare import modal as declare_modal
from bot.declare.messages import declaring_ack

log = logging.getLogger(__name__)


@register("declare", "/incident declare [sev0-3|p0-3] <title>", "open an incident and its channel (no title: a form)")
def run(invocation: Invocation) -> None:
    ctx = invocation.ctx
    if not invocation.args:
        invocation.ack()
        ctx.run_later(_open_modal, ctx, invocation.trigger_id, invocation.channel_id, invocation.user_id)
        return
    first, _, rest = invocation.args.partition(" ")
    severity = ctx.deps.config.default_severity
    title = invocation.args
    if looks_like_severity(first):
        known = normalise_severity(first, ctx.deps.config)
        if known is None:
            levels = ", ".join(ctx.deps.config.severities)
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
        ctx.deps,
        DeclareRequest(
            title=title,
            severity=severity,
            declared_by=invocation.user_id,
            origin_channel_id=invocation.channel_id,
            response_url=invocation.response_url,
        ),
    )
    # Recorded first: the ack names the incident, and Slack work happens after Slack has its answer.
    invocation.reply(declaring_ack(declared.incident_id))
    ctx.run_later(ctx.provision, declared.incident_id, declared.pages)


def _open_modal(ctx: Context, trigger_id: str, channel_id: str, user_id: str) -> None:
    try:
        ctx.gateway.open_view(trigger_id, declare_modal.build(ctx.deps.config, origin_channel_id=channel_id))
    except SlackError as exc:
        log.warning("views.open failed: %s", exc.code)
        try:
            ctx.gateway.post_ephemeral(channel_id, user_id, f":x: Slack would not open the declare form (`{exc.code}`). Try again, or type `/incident declare sev1 <title>`.")
        except SlackError:
            log.warning("could not tell the user the form failed to open")


class ModalChanges:
    """Scope or service changed in the declare form: re-render it with (or without) the severity suggestion.

    Two quick changes arrive on two threads; each payload carries the whole form, so the newest one wins and an
    older one arriving late is skipped rather than overwriting it. One instance lives in the Bolt app.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._applied: dict[str, float] = {}

    def on_change(self, ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
        ack()
        ctx.run_later(self._rerender, ctx, body)

    def _rerender(self, ctx: Context, body: dict[str, Any]) -> None:
        view = body["view"]
        action_ts = float(body["actions"][0].get("action_ts") or 0)
        form = declare_modal.read(view)
        rebuilt = declare_modal.build(ctx.deps.config, origin_channel_id=form.origin_channel_id, scope=form.scope, service=form.service)
        with self._lock:
            if self._applied.get(view["id"], 0.0) > action_ts:
                return
            self._applied[view["id"]] = action_ts
            if len(self._applied) > 1000:  # views live minutes; forget the oldest
                for stale in sorted(self._applied, key=self._applied.__getitem__)[:500]:
                    del self._applied[stale]
            try:
                ctx.gateway.update_view(view["id"], rebuilt)
            except SlackError as exc:
                log.info("declare modal update skipped: %s", exc.code)


def on_modal_submit(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    view = body["view"]
    form = declare_modal.read(view)
    problems = declare_modal.errors(form, ctx.deps.config)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    assert form.severity is not None
    declared = declare(
        ctx.deps,
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
    )
    ack()
    if declared.created:
        ctx.run_later(ctx.provision, declared.incident_id, declared.pages)
