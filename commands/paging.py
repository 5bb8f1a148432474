"""`/incident update`, `ack`, `page @user`, `escalate`, and their buttons and modals."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.actions import ForIncident, PageButton
from bot.core.errors import BadInput, Refused
from bot.db.models import Incident
from bot.domain.mentions import user_id_from_mention
from bot.paging import escalate_modal
from bot.alerts.handling import acknowledge_in_channel
from bot.core.queries import incident_id_for_channel
from bot.paging.ladder import acknowledge, escalate, page_person, page_policy
from bot.slack.gateway import SlackError
from bot.updates import modal as update_modal
from bot.updates.cadence import post_update
from commands.clicks import Click
from commands.context import Context
from commands.registry import Invocation, register


def _open_update_modal(ctx: Context, trigger_id: str, incident_id: int) -> None:
    with ctx.deps.db.unit_of_work() as session:
        incident = session.get_one(Incident, incident_id)
        status, severity = incident.status, incident.severity
    minutes = int(ctx.deps.timing.update_interval(severity).total_seconds() // 60) or 1
    _open(ctx, trigger_id, update_modal.build(incident_id, status, minutes, ctx.deps.config))


def _open_escalate_modal(ctx: Context, trigger_id: str, incident_id: int) -> None:
    _open(ctx, trigger_id, escalate_modal.build(incident_id))


def _open(ctx: Context, trigger_id: str, view: dict[str, Any]) -> None:
    try:
        ctx.gateway.open_view(trigger_id, view)
    except SlackError:
        pass  # an expired trigger: the person runs the command or clicks again


@register("update", "/incident update", "post a stakeholder update (impact, what we're doing, next update)")
def run_update(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.ack()
    invocation.ctx.run_later(_open_update_modal, invocation.ctx, invocation.trigger_id, incident_id)


@register("ack", "/incident ack", "acknowledge the page here: this incident's, or the newest alert's in an alert channel")
def run_ack(invocation: Invocation) -> None:
    deps = invocation.ctx.deps
    incident_id = incident_id_for_channel(deps.db, invocation.channel_id)
    if incident_id is None:  # not an incident channel: an alert channel's newest unacknowledged alert
        invocation.reply(acknowledge_in_channel(deps, invocation.channel_id, invocation.user_id))
        return
    invocation.reply(acknowledge(deps, incident_id, invocation.user_id))


@register("page", "/incident page [@user]", "page the incident's escalation policy, or one person")
def run_page(invocation: Invocation) -> None:
    words = invocation.args.split()
    if not words:
        invocation.reply(page_policy(invocation.ctx.deps, invocation.incident_here(), invocation.user_id))
        return
    user = user_id_from_mention(words[0]) if len(words) == 1 else None
    if user is None:
        raise BadInput("Usage: `/incident page` (the incident's escalation policy) or `/incident page @user` "
                       "(mention the person so Slack fills in who they are).")
    incident_id = invocation.incident_here()
    invocation.ack()  # who the person is needs Slack: answer once it has said
    invocation.ctx.run_later(_page_and_answer, invocation, incident_id, user)


def _page_and_answer(invocation: Invocation, incident_id: int, user: str) -> None:
    try:
        text = page_person(invocation.ctx.deps, incident_id, user, invocation.user_id)
    except BadInput as problem:
        text = f":x: {problem}"
    invocation.reply_later(text)


@register("escalate", "/incident escalate", "page the next tier now, with what you tried, observed and suspect")
def run_escalate(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.ack()
    invocation.ctx.run_later(_open_escalate_modal, invocation.ctx, invocation.trigger_id, incident_id)


def _button_opening(open_modal: Callable[[Context, str, int], None]) -> Callable[[Context, dict[str, Any], Callable[..., Any]], None]:
    """A listener for a button whose only job is to open a modal for the incident it names."""
    def listener(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
        ack()
        click = Click.of(body)
        try:
            value = click.for_this_channel(ctx, ForIncident)
        except BadInput as problem:
            click.answer(ctx, f":x: {problem}")
            return
        ctx.run_later(open_modal, ctx, click.trigger_id, value.incident_id)

    return listener


on_open_update = _button_opening(_open_update_modal)
on_open_escalate = _button_opening(_open_escalate_modal)


def on_page_ack(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    """Clicked in the page DM or on the Home tab: the value names the incident and the page (the page row is the
    check, whatever the container); the answer goes to the DM's response_url or to the top of the Home tab."""
    ack()
    click = Click.of(body)
    try:
        value = click.value(PageButton)
        text = acknowledge(ctx.deps, value.incident_id, click.user_id, page_id=value.page_id)
    except (BadInput, Refused) as problem:
        text = f":x: {problem}"
    click.answer(ctx, text)


def on_update_submit(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    form = update_modal.read(body["view"])
    problems = update_modal.errors(form, ctx.deps.config)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    try:
        post_update(ctx.deps, ctx.renderer, form, body["user"]["id"])
    except BadInput as problem:
        ack(response_action="errors", errors={update_modal.STATUS: str(problem)[:150]})
        return
    ack()


def on_escalate_submit(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    incident_id, context = escalate_modal.read(body["view"])
    problems = escalate_modal.errors(context)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    ack()
    ctx.run_later(escalate, ctx.deps, incident_id, body["user"]["id"], context)
