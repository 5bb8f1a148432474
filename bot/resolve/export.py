"""The postmortem draft: everything the timeline knows, as a JSON-able document and as Markdown from a template.

The Markdown is rendered from the JSON document itself, so the two formats can't disagree, and a JSON export
loaded back renders the same Markdown (the round-trip the tests check).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.db.models import FollowUp, Incident, Page, RoleAssignment, RunbookRun, RunbookStepState, TimelineEvent
from bot.domain.incident import human_id
from bot.render import Renderer
from bot.core.errors import BadInput
from bot.domain.severity import severity_label
from bot.resolve.modal import VALIDATION

FORMAT = "sevbot-postmortem/1"
DECLARE_ORDER = {kind: n for n, kind in enumerate((
    "declared", "role_assigned", "page_started", "paged", "channel_created", "members_invited", "topic_set",
    "card_posted", "card_pinned", "stakeholders_announced"))}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _t_plus(at: datetime, start: datetime) -> str:
    seconds = int((at - start).total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"T{sign}{hours:02d}:{rest // 60:02d}"


def build_document(db: Database, config: IncidentConfig, incident_id: int) -> dict[str, Any]:
    with db.unit_of_work() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise BadInput(f"There is no incident {human_id(incident_id)}.")
        start = incident.declared_at
        # Time order; declare's own events recorded at one instant (its Slack steps run in parallel) in their
        # logical order, so the same incident always exports the same way.
        events = sorted(session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)),
                        key=lambda e: (e.at, DECLARE_ORDER.get(e.kind, len(DECLARE_ORDER)), e.id))
        roles = list(session.scalars(select(RoleAssignment).where(RoleAssignment.incident_id == incident_id).order_by(RoleAssignment.id)))
        pages = list(session.scalars(select(Page).where(Page.incident_id == incident_id).order_by(Page.id)))
        runs = list(session.scalars(select(RunbookRun).where(RunbookRun.incident_id == incident_id).order_by(RunbookRun.id)))
        steps = {run.id: {s.position: s for s in session.scalars(select(RunbookStepState).where(RunbookStepState.run_id == run.id))}
                 for run in runs}
        followups = list(session.scalars(select(FollowUp).where(FollowUp.incident_id == incident_id).order_by(FollowUp.id)))
        role_names = {role.key: role.name for role in config.roles}
        return {
            "format": FORMAT,
            "incident": {
                "id": human_id(incident.id), "title": incident.title, "severity": incident.severity,
                "severity_label": severity_label(config, incident.severity), "status": incident.status,
                "service": incident.service, "scope": incident.scope, "description": incident.description,
                "declared_by": incident.declared_by, "declared_at": _iso(start), "resolved_by": incident.resolved_by,
                "resolved_at": _iso(incident.resolved_at), "seconds_to_ack": incident.seconds_to_ack,
                "seconds_to_resolve": incident.seconds_to_resolve, "channel": incident.channel_name,
                "postmortem_url": incident.postmortem_url,
            },
            "resolution": incident.resolution,
            "severity_history": [
                {"at": _iso(e.at), "t_plus": _t_plus(e.at, start), "by": e.actor, "from": e.data.get("from"), "to": e.data.get("to"),
                 "reason": e.data.get("reason")}
                for e in events if e.kind == "severity_changed"
            ],
            "roles": [
                {"role": r.role, "role_name": role_names.get(r.role, r.role), "user": r.user_id, "assigned_by": r.assigned_by,
                 "assigned_at": _iso(r.assigned_at), "ended_at": _iso(r.ended_at)}
                for r in roles
            ],
            "timeline": [
                {"at": _iso(e.at), "t_plus": _t_plus(e.at, start), "actor": e.actor, "kind": e.kind, "summary": e.summary}
                for e in events
            ],
            "updates": [
                {"at": _iso(e.at), "t_plus": _t_plus(e.at, start), "author": e.actor, "status": e.data.get("status"),
                 "impact": e.data.get("impact"), "doing": e.data.get("doing"), "risk": e.data.get("risk")}
                for e in events if e.kind == "stakeholder_update"
            ],
            "pages": [
                {"started_at": _iso(p.started_at), "t_plus": _t_plus(p.started_at, start), "policy": p.policy_name,
                 "reason": p.reason, "state": p.state, "tier": p.tier + 1, "round": p.round, "acked_by": p.acked_by,
                 "acked_at": _iso(p.acked_at),
                 "seconds_to_ack": int((p.acked_at - p.started_at).total_seconds()) if p.acked_at else None}
                for p in pages
            ],
            "paging_events": [
                {"at": _iso(e.at), "t_plus": _t_plus(e.at, start), "actor": e.actor, "kind": e.kind, "summary": e.summary}
                for e in events if e.kind.startswith("page") or e.kind in ("escalated", "escalation_suggested", "escalation_prompted")
            ],
            "runbooks": [
                {"title": run.title, "name": run.name, "started_by": run.started_by, "started_at": _iso(run.started_at),
                 "completed_at": _iso(run.completed_at),
                 "steps": [
                     {"position": i, "title": step["title"], "state": steps[run.id][i].state, "by": steps[run.id][i].actor,
                      "at": _iso(steps[run.id][i].at), "note": steps[run.id][i].note}
                     for i, step in enumerate(run.snapshot["steps"], start=1)
                 ]}
                for run in runs
            ],
            "validation": [
                {"check": text, "done": bool((incident.resolution or {}).get("validation", {}).get(key))}
                for key, text in VALIDATION.items()
            ] if incident.resolution else [],
            "followups": [
                {"text": f.text, "owner": f.owner, "due": f.due.isoformat() if f.due else None, "created_by": f.created_by,
                 "created_at": _iso(f.created_at)}
                for f in followups
            ],
        }


def render_markdown(renderer: Renderer, document: dict[str, Any]) -> str:
    if document.get("format") != FORMAT:
        raise BadInput(f"Not a {FORMAT} document.")
    return renderer.env.get_template("postmortem.md.j2").render(doc=document).rstrip() + "\n"
