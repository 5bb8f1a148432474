"""`/incident update`, `ack`, `page @user`, `escalate`, and their buttons and modals."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commands.registry import Invocation, register
from bot.db.models import Incident
from bot.domain.mentions import user_id_from_mention
from bot.services import Services
from bot.slack.gateway import SlackError
from bot.usecases.common import check_person, locked_incident
from bot.usecases.errors import BadInput, Refused
from bot.usecases.paging import acknowledge, escalate, start_page
from bot.usecases.queries import incident_id_for_channel
from bot.usecases.updates import post_update
from bot.views import escalate_modal, update_modal


def _open_update_modal(services: Services, trigger_id: str, incident_id: int) -> None:
    with services.db.unit_of_work() as session:
        incident = session.get_one(Incident, incident_id)
        status, severity = incident.status, incident.severity
    minutes = int(services.timing.update_interval(severity).total_seconds() // 60) or 1
    _open(services, trigger_id, update_modal.build(incident_id, status, minutes, services.config))


def _open(services: Services, trigger_id: str, view: dict[str, Any]) -> None:
    try:
        services.gateway.open_view(trigger_id, view)
    except SlackError:
        pass  # an expired trigger: the person runs the command or clicks again


@register("update", "/incident update", "post a stakeholder update (impact, what we're doing, next update)")
def run_update(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.ack()
    invocation.services.run_later(_open_update_modal, invocation.services, invocation.trigger_id, incident_id)


@register("ack", "/incident ack", "acknowledge the page for this incident (stops the escalation ladder)")
def run_ack(invocation: Invocation) -> None:
    invocation.reply(acknowledge(invocation.services, invocation.incident_here(), invocation.user_id))


@register("page", "/incident page @user", "page one person, with the same acknowledge flow")
def run_page(invocation: Invocation) -> None:
    words = invocation.args.split()
    user = user_id_from_mention(words[0]) if len(words) == 1 else None
    if user is None:
        raise BadInput("Usage: `/incident page @user` (mention the person so Slack fills in who they are).")
    services = invocation.services
    incident_id = invocation.incident_here()
    check_person(services, user)
    with services.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        line = start_page(services, session, incident, reason=f"paged by <@{invocation.user_id}>", actor=invocation.user_id, direct=[user])
    services.run_later(services.outbox.drain, incident_id)
    invocation.reply(line.replace("tier 1 of the *direct* ladder", f"<@{user}>"))


@register("escalate", "/incident escalate", "page the next tier now, with what you tried, observed and suspect")
def run_escalate(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.ack()
    invocation.services.run_later(_open, invocation.services, invocation.trigger_id, escalate_modal.build(incident_id))


def _clicked_incident(services: Services, body: dict[str, Any]) -> int:
    value = (body["actions"][0].get("value") or "").split(":")[0]
    channel = (body.get("channel") or {}).get("id")
    if not value.isdigit() or channel is None or incident_id_for_channel(services.db, channel) != int(value):
        raise BadInput("That button is not one sevbot made for this incident; nothing changed.")
    return int(value)


def _respond(services: Services, body: dict[str, Any], text: str) -> None:
    if body.get("response_url"):
        services.run_later(services.gateway.respond, body["response_url"], text)


def _button_opening(open_modal: Callable[[Services, str, int], None]) -> Callable[[Services, dict[str, Any], Callable[..., Any]], None]:
    """A listener for a button whose only job is to open a modal for the incident it names."""
    def listener(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
        ack()
        try:
            incident_id = _clicked_incident(services, body)
        except BadInput as problem:
            _respond(services, body, f":x: {problem}")
            return
        services.run_later(open_modal, services, body["trigger_id"], incident_id)

    return listener


on_open_update = _button_opening(_open_update_modal)
on_open_escalate = _button_opening(lambda services, trigger_id, incident_id: _open(services, trigger_id, escalate_modal.build(incident_id)))


def on_page_ack(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    """Clicked in the page DM: the value names the incident and the page."""
    ack()
    incident, _, page = (body["actions"][0].get("value") or "").partition(":")
    try:
        if not incident.isdigit() or not page.isdigit():
            raise BadInput("That button is not one sevbot made; nothing changed.")
        text = acknowledge(services, int(incident), body["user"]["id"], page_id=int(page))
    except (BadInput, Refused) as problem:
        text = f":x: {problem}"
    _respond(services, body, text)


def on_update_submit(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    form = update_modal.read(body["view"])
    problems = update_modal.errors(form, services.config)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    try:
        post_update(services, form, body["user"]["id"])
    except BadInput as problem:
        ack(response_action="errors", errors={update_modal.STATUS: str(problem)[:150]})
        return
    ack()


def on_escalate_submit(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    incident_id, context = escalate_modal.read(body["view"])
    problems = escalate_modal.errors(context)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    ack()
    services.run_later(escalate, services, incident_id, body["user"]["id"], context)
