"""`/incident resolve` (+ the card's Resolve button), `followup`, `postmortem`, `export`."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from commands.registry import Invocation, register
from bot.db.models import Incident
from bot.domain.mentions import user_id_from_mention
from bot.services import Services
from bot.slack.gateway import SlackError
from bot.usecases.errors import BadInput, Refused
from bot.usecases.export import build_document, render_markdown
from bot.usecases.queries import incident_id_for_channel
from bot.usecases.resolve import add_followup, check_can_resolve, duration_text, record_postmortem, resolve
from bot.views import resolve_modal

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _open_resolve(services: Services, trigger_id: str, incident_id: int) -> None:
    with services.db.unit_of_work() as session:
        declared = session.get_one(Incident, incident_id).declared_at
    view = resolve_modal.build(incident_id, duration_text((services.clock.now() - declared).total_seconds()))
    try:
        services.gateway.open_view(trigger_id, view)
    except SlackError:
        pass  # an expired trigger: run the command again


@register("resolve", "/incident resolve", "resolve with a summary, the customer impact and the validation checklist")
def run_resolve(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    check_can_resolve(invocation.services, incident_id, invocation.user_id)
    invocation.ack()
    invocation.services.run_later(_open_resolve, invocation.services, invocation.trigger_id, incident_id)


def on_resolve_button(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    value = body["actions"][0].get("value") or ""
    channel = (body.get("channel") or {}).get("id")
    try:
        if not value.isdigit() or channel is None or incident_id_for_channel(services.db, channel) != int(value):
            raise BadInput("That button is not one sevbot made for this incident; nothing changed.")
        check_can_resolve(services, int(value), body["user"]["id"])
    except (BadInput, Refused) as problem:
        if body.get("response_url"):
            services.run_later(services.gateway.respond, body["response_url"], f":no_entry: {problem}")
        return
    services.run_later(_open_resolve, services, body["trigger_id"], int(value))


def on_resolve_submit(services: Services, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    form = resolve_modal.read(body["view"])
    problems = resolve_modal.errors(form)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    try:
        resolve(services, form, body["user"]["id"])
    except (BadInput, Refused) as problem:
        ack(response_action="errors", errors={resolve_modal.SUMMARY: re.sub(r"<@(\w+)>", r"@\1", str(problem))[:150]})
        return
    ack()


@register("followup", "/incident followup <what> [@owner] [YYYY-MM-DD]", "record an action item for the postmortem")
def run_followup(invocation: Invocation) -> None:
    words = invocation.args.split()
    owner: str | None = None
    due: date | None = None
    if words and DATE.match(words[-1]):
        try:
            due = date.fromisoformat(words.pop())
        except ValueError:
            raise BadInput("The due date must be a real date, YYYY-MM-DD.") from None
    if words and user_id_from_mention(words[-1]):
        owner = user_id_from_mention(words.pop())
    incident_id = invocation.incident_here()
    invocation.reply(add_followup(invocation.services, incident_id, " ".join(words), owner, due, invocation.user_id))


@register("postmortem", "/incident postmortem <link>", "record where the postmortem lives (stops the reminders)")
def run_postmortem(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.reply(record_postmortem(invocation.services, incident_id, invocation.args, invocation.user_id))


@register("export", "/incident export", "upload the postmortem draft (Markdown) to this channel")
def run_export(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.reply(":hourglass_flowing_sand: Drafting the postmortem from the timeline…")
    invocation.services.run_later(_upload_export, invocation.services, incident_id, invocation.channel_id, invocation.user_id,
                                  invocation.response_url)


def _upload_export(services: Services, incident_id: int, channel: str, user: str, response_url: str | None) -> None:
    markdown = render_markdown(services.renderer, build_document(services.db, services.config, incident_id))
    try:
        services.gateway.upload_file(channel, f"INC-{incident_id}-postmortem.md", markdown.encode("utf-8"),
                                     title=f"INC-{incident_id} postmortem draft",
                                     comment=f"Postmortem draft for INC-{incident_id}, from the timeline (requested by <@{user}>).")
    except SlackError as exc:
        if response_url:
            services.gateway.respond(response_url, f":x: Slack refused the upload ({exc.code}); `sevbot export INC-{incident_id}` writes it locally.")


def export_json(services: Services, incident_id: int) -> str:
    return json.dumps(build_document(services.db, services.config, incident_id), indent=2, ensure_ascii=False)
