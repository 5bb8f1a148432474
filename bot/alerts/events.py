"""An alert group's own timeline, and the one place that says its message must change.

An event of a group attached to an incident is recorded on the incident's timeline too (kind `alert_<kind>`), so
the timeline and the postmortem export carry every alert event.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.core.incident import card_changed
from bot.core.outbox import enqueue
from bot.core.timeline import record
from bot.db.models import AlertEvent, AlertGroup, Incident
from bot.domain.text import escape_mrkdwn, one_line, truncate


def record_alert_event(session: Session, group: AlertGroup, *, kind: str, actor: str, at: datetime, summary: str,
                       data: dict[str, Any] | None = None) -> None:
    """`summary` is Slack mrkdwn safe to show as it is: alert text in it must already be escaped."""
    session.add(AlertEvent(group_id=group.id, kind=kind, actor=actor, at=at, summary=summary, data=data or {}))
    if group.incident_id is not None:
        record(session, group.incident_id, kind=f"alert_{kind}", actor=actor, at=at,
               summary=f"Alert {shown_title(group)}: {summary}", data={"alert_group_id": group.id, **(data or {})})


def shown_title(group: AlertGroup, limit: int = 150) -> str:
    """The group's title as mrkdwn that can't ping anyone or break the message (it comes from the sender)."""
    return escape_mrkdwn(truncate(one_line(group.title), limit))


def message_changed(session: Session, clock: Clock, group: AlertGroup) -> None:
    """Call in the transaction of any change the group's message shows: it is re-rendered after commit. So is the
    card of the incident the group is attached to, which lists the group's state and firing count."""
    group.message_version += 1
    enqueue(session, clock, kind="alert_sync", payload={"group_id": group.id},
            dedupe_key=f"alert:{group.id}:{group.message_version}")
    if group.incident_id is not None:
        card_changed(session, clock, session.get_one(Incident, group.incident_id))
