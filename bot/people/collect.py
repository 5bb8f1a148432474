"""Who took part in an incident: every user id its rows and timeline name, for the names snapshot."""
from __future__ import annotations

import re

from sqlalchemy import Connection, select, union
from sqlalchemy.orm import Session

from bot.db.models import AlertGroup, FollowUp, Incident, Page, RoleAssignment, RunbookRun, RunbookStepState, TimelineEvent
from bot.people.snapshot import is_user_id

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)")


def people_of_incident(session: Session | Connection, incident_id: int, *, events_after: int = 0) -> tuple[set[str], int]:
    """(user ids, the newest timeline event id read). `events_after` skips timeline events already read, so a
    refresh after every change of a long incident reads only what is new."""
    ids: set[str] = set()
    columns = union(
        select(Incident.declared_by).where(Incident.id == incident_id),
        select(Incident.resolved_by).where(Incident.id == incident_id),
        select(RoleAssignment.user_id).where(RoleAssignment.incident_id == incident_id),
        select(RoleAssignment.assigned_by).where(RoleAssignment.incident_id == incident_id),
        select(Page.started_by).where(Page.incident_id == incident_id),
        select(Page.acked_by).where(Page.incident_id == incident_id),
        select(FollowUp.owner).where(FollowUp.incident_id == incident_id),
        select(FollowUp.created_by).where(FollowUp.incident_id == incident_id),
        select(RunbookRun.started_by).where(RunbookRun.incident_id == incident_id),
        select(RunbookStepState.actor).join(RunbookRun, RunbookRun.id == RunbookStepState.run_id).where(RunbookRun.incident_id == incident_id),
        select(AlertGroup.acked_by).where(AlertGroup.incident_id == incident_id),
        select(AlertGroup.resolved_by).where(AlertGroup.incident_id == incident_id),
    )
    ids.update(value for value in session.execute(columns).scalars() if is_user_id(value))
    newest = events_after
    events = session.execute(select(TimelineEvent.id, TimelineEvent.actor, TimelineEvent.summary)
                             .where(TimelineEvent.incident_id == incident_id, TimelineEvent.id > events_after))
    for event_id, actor, summary in events:
        newest = max(newest, event_id)
        if is_user_id(actor):
            ids.add(actor)
        ids.update(_MENTION.findall(summary or ""))
    return ids, newest
