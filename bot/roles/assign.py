"""Roles: exactly one Incident Commander always; other roles assigned and unassigned explicitly.

A hand-over is one transaction that ends the current assignment only if it is still current (so two people taking
command at the same instant can't both win; the partial unique index is the final guard) and records the change,
bumps the card, and queues the Slack effects: invite the new holder, brief them by DM, tell the previous holder.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.incident import human_id
from bot.db.models import RoleAssignment
from bot.domain.text import escape_mrkdwn
from bot.core.outbox import enqueue
from bot.config import Role
from bot.core.deps import Deps
from bot.core.timeline import record
from bot.core.incident import card_changed
from bot.core.people import check_person
from bot.core.incident import locked_incident
from bot.core.permissions import require_permission
from bot.core.errors import BadInput, Refused

IC = "ic"


def role_names(deps: Deps) -> str:
    return ", ".join(f"`{role.key}` ({role.name})" for role in deps.config.roles)


def check_assignable(deps: Deps, incident_id: int, role_key: str, actor: str) -> Role:
    """What can be checked without asking Slack: the role exists, and `actor` may hand it over. Runs before the ack."""
    role = deps.config.role(role_key)
    if role is None:
        raise BadInput(f"There is no role `{escape_mrkdwn(role_key)}`. Roles: {role_names(deps)}.")
    if role.key == IC:
        require_permission(deps, incident_id, actor, deps.config.permissions.hand_over_ic, "hand over incident command")
    return role


def assign_role(deps: Deps, incident_id: int, role_key: str, user_id: str, actor: str, *, expected_holder: str | None = None) -> str:
    """Give `role_key` to `user_id`. With `expected_holder`, only if that person still holds it (a stale button).

    Asks Slack whether `user_id` is an active person, so it runs after the ack."""
    role = check_assignable(deps, incident_id, role_key, actor)
    check_person(deps.people, user_id)
    now = deps.clock.now()
    try:
        with deps.db.unit_of_work() as session:
            incident = locked_incident(session, incident_id)
            current = session.scalar(select(RoleAssignment).where(
                RoleAssignment.incident_id == incident_id, RoleAssignment.role == role.key, RoleAssignment.ended_at.is_(None)))
            if current is not None and current.user_id == user_id:
                return f"<@{user_id}> is already {role.name}."
            if expected_holder is not None and (current.user_id if current else None) != expected_holder:
                holder = f"<@{current.user_id}>" if current else "nobody"
                raise Refused(f"{role.name} changed before your click: {holder} holds it now.")
            if current is not None:
                ended = session.execute(update(RoleAssignment).where(
                    RoleAssignment.id == current.id, RoleAssignment.ended_at.is_(None)).values(ended_at=now)).rowcount
                if ended != 1:
                    raise _LostRace()
            session.add(RoleAssignment(incident_id=incident_id, role=role.key, user_id=user_id, assigned_by=actor, assigned_at=now))
            session.flush()
            previous = current.user_id if current else None
            handover = f" (from <@{previous}>)" if previous else ""
            record(session, incident_id, kind="role_assigned", actor=actor, at=now,
                   summary=f"{role.name}: <@{user_id}>{handover}", data={"role": role.key, "user": user_id, "previous": previous})
            card_changed(session, deps.clock, incident)
            if incident.channel_id:
                enqueue(session, deps.clock, kind="invite", incident_id=incident_id,
                        payload={"channel": incident.channel_id, "users": [user_id]})
                where = f" in <#{incident.channel_id}>"
            else:
                where = ""
            enqueue(session, deps.clock, kind="dm", incident_id=incident_id, payload={
                "user": user_id,
                "text": f":wave: You are now *{role.name}* for {human_id(incident_id)}{where}, assigned by <@{actor}>.\n*What this role does now:* {role.description}",
            })
            if previous and previous != actor:
                enqueue(session, deps.clock, kind="dm", incident_id=incident_id, payload={
                    "user": previous,
                    "text": f":arrows_counterclockwise: <@{user_id}> is now {role.name} for {human_id(incident_id)}{where} (changed by <@{actor}>). You no longer hold it.",
                })
    except (IntegrityError, _LostRace):
        with deps.db.unit_of_work() as session:
            holder = session.scalar(select(RoleAssignment.user_id).where(
                RoleAssignment.incident_id == incident_id, RoleAssignment.role == role.key, RoleAssignment.ended_at.is_(None)))
        raise Refused(f"Someone else was faster: <@{holder}> is {role.name} now.") from None
    return f":white_check_mark: <@{user_id}> is now {role.name}."


def unassign_role(deps: Deps, incident_id: int, role_key: str, actor: str) -> str:
    role = deps.config.role(role_key)
    if role is None:
        raise BadInput(f"There is no role `{escape_mrkdwn(role_key)}`. Roles: {role_names(deps)}.")
    if role.key == IC:
        raise BadInput("There is always an Incident Commander: hand over with `/incident ic @someone` instead.")
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        current = session.scalar(select(RoleAssignment).where(
            RoleAssignment.incident_id == incident_id, RoleAssignment.role == role.key, RoleAssignment.ended_at.is_(None)))
        if current is None:
            return f"Nobody is {role.name}; nothing to change."
        current.ended_at = now
        record(session, incident_id, kind="role_unassigned", actor=actor, at=now,
               summary=f"{role.name}: <@{current.user_id}> unassigned", data={"role": role.key, "user": current.user_id})
        card_changed(session, deps.clock, incident)
        if current.user_id != actor:
            enqueue(session, deps.clock, kind="dm", incident_id=incident_id, payload={
                "user": current.user_id, "text": f"<@{actor}> unassigned you as {role.name} for {human_id(incident_id)}."})
    return f":white_check_mark: {role.name} is now unassigned."


def who(deps: Deps, incident_id: int) -> str:
    with deps.db.unit_of_work() as session:
        rows = list(session.scalars(select(RoleAssignment).where(
            RoleAssignment.incident_id == incident_id, RoleAssignment.ended_at.is_(None))))
    holders = {row.role: row for row in rows}
    lines = [f"*Roles on {human_id(incident_id)}*"]
    for role in deps.config.roles:
        row = holders.get(role.key)
        since = f" (since {row.assigned_at:%H:%M} UTC)" if row else ""
        lines.append(f"• {role.name}: {f'<@{row.user_id}>' if row else '_unassigned_'}{since}")
    return "\n".join(lines)


class _LostRace(Exception):
    pass
