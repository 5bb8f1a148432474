"""Small pieces every incident use case shares: locking the row, checking people and permissions, recording refusals."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Incident
from bot.domain.permissions import allowed, describe
from bot.services import Services
from bot.timeline import record
from bot.usecases.errors import BadInput, Refused
from bot.usecases.incident_view import current_roles


def locked_incident(session: Session, incident_id: int) -> Incident:
    """The incident row, locked until commit on PostgreSQL so concurrent changes to one incident queue up."""
    incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update())
    if incident is None:
        raise BadInput(f"There is no incident {incident_id}.")
    return incident


def check_person(services: Services, user_id: str) -> None:
    info = services.gateway.user(user_id)
    if info is None:
        raise BadInput(f"Slack has no user <@{user_id}>.")
    if info.deleted:
        raise BadInput(f"<@{user_id}> is deactivated in Slack; choose someone active.")
    if info.is_bot:
        raise BadInput(f"<@{user_id}> is a bot; incident roles need a person.")


def require_permission(services: Services, incident_id: int, actor: str, rule: Iterable[str], action: str) -> None:
    """Raise Refused (and record the refusal) unless the config lets `actor` do `action`."""
    rule = tuple(rule)
    with services.db.unit_of_work() as session:
        ic = current_roles(session, incident_id).get("ic")
    if allowed(rule, actor, ic, services.gateway.usergroup_members):
        return
    reason = f"Only {describe(rule)} may {action} on this incident."
    with services.db.unit_of_work() as session:
        record(session, incident_id, kind="refused", actor=actor, at=services.clock.now(),
               summary=f"Refused: <@{actor}> tried to {action}", data={"action": action, "rule": list(rule)})
    raise Refused(reason)
