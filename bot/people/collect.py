"""Who took part in an incident: every user id its rows and timeline name, for the names snapshot."""
from __future__ import annotations

import re

from sqlalchemy import Connection, bindparam, select, union
from sqlalchemy.orm import Session

from bot.db.models import AlertGroup, FollowUp, Incident, Page, RoleAssignment, RunbookRun, RunbookStepState, TimelineEvent
from bot.people.snapshot import is_user_id

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)")


_INCIDENT = bindparam("incident_id")
# Every column that names a person, built and compiled once (this runs after every commit that changed an incident).
_COLUMNS = union(
    select(Incident.declared_by).where(Incident.id == _INCIDENT),
    select(Incident.resolved_by).where(Incident.id == _INCIDENT),
    select(RoleAssignment.user_id).where(RoleAssignment.incident_id == _INCIDENT),
    select(RoleAssignment.assigned_by).where(RoleAssignment.incident_id == _INCIDENT),
    select(Page.started_by).where(Page.incident_id == _INCIDENT),
    select(Page.acked_by).where(Page.incident_id == _INCIDENT),
    select(FollowUp.owner).where(FollowUp.incident_id == _INCIDENT),
    select(FollowUp.created_by).where(FollowUp.incident_id == _INCIDENT),
    select(RunbookRun.started_by).where(RunbookRun.incident_id == _INCIDENT),
    select(RunbookStepState.actor).join(RunbookRun, RunbookRun.id == RunbookStepState.run_id).where(RunbookRun.incident_id == _INCIDENT),
    select(AlertGroup.acked_by).where(AlertGroup.incident_id == _INCIDENT),
    select(AlertGroup.resolved_by).where(AlertGroup.incident_id == _INCIDENT),
)
_EVENTS = (select(TimelineEvent.id, TimelineEvent.actor, TimelineEvent.summary)
           .where(TimelineEvent.incident_id == _INCIDENT, TimelineEvent.id > bindparam("after")))


def people_of_incident(session: Session | Connection, incident_id: int, *, events_after: int = 0) -> tuple[set[str], int]:
    """(user ids, the newest timeline event id read). `events_after` skips timeline events already read, so a
    refresh after every change of a long incident reads only what is new."""
    ids = {value for value in session.execute(_COLUMNS, {"incident_id": incident_id}).scalars() if is_user_id(value)}
    newest = events_after
    for event_id, actor, summary in session.execute(_EVENTS, {"incident_id": incident_id, "after": events_after}):
        newest = max(newest, event_id)
        if is_user_id(actor):
            ids.add(actor)
        ids.update(_MENTION.findall(summary or ""))
    return ids, newest
