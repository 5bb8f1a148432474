"""Events API: the pin reaction and channel pins add a message to the timeline; removing them takes it off.

Deliveries are deduplicated on `event_id` (Slack retries with X-Slack-Retry-Num) and the timeline entry itself is
keyed on channel + ts, so a retry, a duplicate, or a pin plus a reaction on the same message record it once.
The work reads the message from Slack, so it runs after the delivery is answered.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db.models import ProcessedEvent
from commands.context import Context
from bot.timeline.notes import message_pinned, message_unpinned
from bot.core.queries import incident_id_for_channel


def _already_handled(ctx: Context, event_id: str | None) -> bool:
    if not event_id:
        return False
    with ctx.deps.db.unit_of_work() as session:
        return session.get(ProcessedEvent, event_id) is not None


def _mark_handled(ctx: Context, event_id: str | None) -> None:
    if not event_id:
        return
    try:
        with ctx.deps.db.unit_of_work() as session:
            if session.scalar(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id == event_id)) is None:
                session.add(ProcessedEvent(event_id=event_id, received_at=ctx.deps.clock.now()))
    except IntegrityError:
        pass  # a concurrent duplicate delivery marked it first


def _reaction(ctx: Context, body: dict[str, Any]) -> None:
    event = body["event"]
    item = event.get("item") or {}
    if event.get("reaction") != ctx.deps.config.pin_reaction or item.get("type") != "message":
        return
    channel, ts = item.get("channel"), item.get("ts")
    incident_id = incident_id_for_channel(ctx.deps.db, channel) if channel else None
    if incident_id is None or not ts or _already_handled(ctx, body.get("event_id")):
        return
    source = f"reaction:{event.get('user')}"
    if event["type"] == "reaction_added":
        message = ctx.gateway.message(channel, ts)
        permalink = ctx.gateway.permalink(channel, ts)
        message_pinned(ctx.deps, incident_id, channel_id=channel, ts=ts, source=source, actor=event.get("user", "unknown"),
                       message=message, permalink=permalink)
    else:
        message_unpinned(ctx.deps, channel_id=channel, ts=ts, source=source)
    _mark_handled(ctx, body.get("event_id"))


def _pin(ctx: Context, body: dict[str, Any]) -> None:
    event = body["event"]
    item = event.get("item") or {}
    channel = event.get("channel_id") or item.get("channel")
    message = item.get("message") or {}
    ts = message.get("ts") or item.get("ts")
    if item.get("type") != "message" or not channel or not ts:
        return
    incident_id = incident_id_for_channel(ctx.deps.db, channel)
    if incident_id is None or _already_handled(ctx, body.get("event_id")):
        return
    if event["type"] == "pin_added":
        if not message.get("text"):
            message = ctx.gateway.message(channel, ts) or {}
        permalink = message.get("permalink") or ctx.gateway.permalink(channel, ts)
        message_pinned(ctx.deps, incident_id, channel_id=channel, ts=ts, source="pin", actor=event.get("user", "unknown"),
                       message=message, permalink=permalink)
    else:
        message_unpinned(ctx.deps, channel_id=channel, ts=ts, source="pin")
    _mark_handled(ctx, body.get("event_id"))


def on_reaction(ctx: Context, body: dict[str, Any]) -> None:
    """Reading the message asks Slack, so it happens after the delivery is answered."""
    ctx.run_later(_reaction, ctx, body)


def on_pin(ctx: Context, body: dict[str, Any]) -> None:
    ctx.run_later(_pin, ctx, body)
