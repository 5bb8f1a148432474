"""`/incident resolve` (+ the card's Resolve button), `followup`, `postmortem`, `export`."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from commands.registry import Invocation, register
from bot.db.models import Incident
from bot.domain.incident import human_id
from bot.domain.mentions import user_id_from_mention
from commands.context import Context
from bot.slack.gateway import SlackError
from bot.core.actions import ForIncident
from bot.core.errors import BadInput, Refused
from bot.people.lookup import NameBook
from bot.resolve.export import build_document, render_markdown
from bot.similar.search import similar_to_incident
from commands.clicks import Click
from bot.resolve.resolve import add_followup, check_can_resolve, duration_text, record_postmortem, resolve
from bot.resolve import modal as resolve_modal

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _open_resolve(ctx: Context, trigger_id: str, incident_id: int) -> None:
    with ctx.deps.db.unit_of_work() as session:
        declared = session.get_one(Incident, incident_id).declared_at
    view = resolve_modal.build(incident_id, duration_text((ctx.deps.clock.now() - declared).total_seconds()))
    try:
        ctx.gateway.open_view(trigger_id, view)
    except SlackError:
        pass  # an expired trigger: run the command again


@register("resolve", "/incident resolve", "resolve with a summary, the customer impact and the validation checklist")
def run_resolve(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    check_can_resolve(invocation.ctx.deps, incident_id, invocation.user_id)
    invocation.ack()
    invocation.ctx.run_later(_open_resolve, invocation.ctx, invocation.trigger_id, incident_id)


def on_resolve_button(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    ack()
    click = Click.of(body)
    try:
        value = click.for_this_channel(ctx, ForIncident)
        check_can_resolve(ctx.deps, value.incident_id, click.user_id)
    except (BadInput, Refused) as problem:
        click.answer(ctx, f":no_entry: {problem}")
        return
    ctx.run_later(_open_resolve, ctx, click.trigger_id, value.incident_id)


def on_resolve_submit(ctx: Context, body: dict[str, Any], ack: Callable[..., Any]) -> None:
    form = resolve_modal.read(body["view"])
    problems = resolve_modal.errors(form)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    try:
        resolve(ctx.deps, form, body["user"]["id"])
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
    invocation.reply(add_followup(invocation.ctx.deps, incident_id, " ".join(words), owner, due, invocation.user_id))


@register("postmortem", "/incident postmortem <link>", "record where the postmortem lives (stops the reminders)")
def run_postmortem(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.reply(record_postmortem(invocation.ctx.deps, incident_id, invocation.args, invocation.user_id))


@register("export", "/incident export", "upload the postmortem draft (Markdown) to this channel")
def run_export(invocation: Invocation) -> None:
    incident_id = invocation.incident_here()
    invocation.reply(":hourglass_flowing_sand: Drafting the postmortem from the timeline…")
    invocation.ctx.run_later(_upload_export, invocation.ctx, incident_id, invocation.channel_id, invocation.user_id,
                                  invocation.response_url)


def _upload_export(ctx: Context, incident_id: int, channel: str, user: str, response_url: str | None) -> None:
    # Runs after the ack, so names the snapshot lacks may be asked of Slack here (a bounded number of calls).
    names = NameBook(ctx.deps.db, ctx.gateway, ctx.deps.clock)
    markdown = render_markdown(ctx.renderer, build_document(ctx.deps.db, ctx.deps.config, incident_id, names=names,
                                                              similar=similar_to_incident))
    name = human_id(incident_id)
    try:
        ctx.gateway.upload_file(channel, f"{name}-postmortem.md", markdown.encode("utf-8"), title=f"{name} postmortem draft",
                                comment=f"Postmortem draft for {name}, from the timeline (requested by <@{user}>).")
    except SlackError as exc:
        if response_url:
            ctx.gateway.respond(response_url, f":x: Slack refused the upload ({exc.code}); `sevbot export {name}` writes it locally.")
