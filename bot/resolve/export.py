"""The postmortem draft: everything the timeline knows, as a JSON-able document and as Markdown from a template.

The Markdown is rendered from the JSON document itself, so the two formats can't disagree, and a JSON export
loaded back renders the same Markdown (the round-trip the tests check). People are Slack ids in the document, each
with its display name beside it (`…_name`) and all of them in `people`, from the names snapshot
(bot/people/lookup.py), so a draft of an old incident still names people who have left.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.db.models import Alert, AlertGroup, FollowUp, Incident, Page, RoleAssignment, RunbookRun, RunbookStepState, TimelineEvent
from bot.domain.incident import human_id
from bot.people.collect import people_of_incident
from bot.people.lookup import NameBook
from bot.people.snapshot import known_names
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


class SimilarIncidentLike(Protocol):
    """One past incident like this one: the shape the similar-incidents search returns (bot/similar)."""

    incident_id: int
    title: str
    declared_at: datetime
    severity: str
    service: str | None
    root_cause: str | None
    fix: str | None
    postmortem_url: str | None
    score: float
    reasons: Sequence[str]


# The similar-incidents search (bot/similar/search.py similar_to_incident, 3 by default), passed in by the export's
# callers (commands/resolve.py, bot/cli.py) so the resolve feature does not depend on the similar one.
SimilarFinder = Callable[[Session, int], Sequence[SimilarIncidentLike]]

# Which names of a person each document key has (the id stays; the name is added next to it as `<key>_name`).
PERSON_KEYS = {
    "incident": ("declared_by", "resolved_by"), "severity_history": ("by",), "roles": ("user", "assigned_by"),
    "timeline": ("actor",), "updates": ("author",), "pages": ("acked_by",), "paging_events": ("actor",),
    "runbooks": ("started_by",), "followups": ("owner", "created_by"), "alerts": ("acked_by", "resolved_by"),
}


def similar_entry(item: SimilarIncidentLike) -> dict[str, Any]:
    """One similar incident as the document carries it (JSON types only)."""
    return {"id": human_id(item.incident_id), "title": item.title, "declared_at": _iso(item.declared_at),
            "severity": item.severity, "service": item.service, "root_cause": item.root_cause, "fix": item.fix,
            "postmortem_url": item.postmortem_url, "score": round(float(item.score), 3), "reasons": list(item.reasons)}


def build_document(db: Database, config: IncidentConfig, incident_id: int, *, names: NameBook | None = None,
                   similar: SimilarFinder | None = None) -> dict[str, Any]:
    """The document. `names` (a Slack lookup) fills in, with a bounded number of calls, the names the snapshot
    lacks; without it (the CLI needs no Slack) the snapshot alone names people. `similar`: see SimilarFinder."""
    document = _read_document(db, config, incident_id, similar)
    with db.transaction() as connection:
        ids, _ = people_of_incident(connection, incident_id)
        shown = known_names(connection, ids)
    if names is not None and ids - set(shown):
        shown.update(names.names(ids - set(shown)))
    _add_names(document, shown)
    return document


def _add_names(document: dict[str, Any], shown: dict[str, str]) -> None:
    document["people"] = dict(sorted(shown.items()))
    for section, keys in PERSON_KEYS.items():
        entries = [document[section]] if section == "incident" else document[section]
        for entry in entries:
            for key in keys:
                entry[f"{key}_name"] = shown.get(entry[key]) if entry[key] else None
    for run in document["runbooks"]:
        for step in run["steps"]:
            step["by_name"] = shown.get(step["by"]) if step["by"] else None


def _alerts(session: Session, incident_id: int) -> list[dict[str, Any]]:
    groups = list(session.scalars(select(AlertGroup).where(AlertGroup.incident_id == incident_id).order_by(AlertGroup.first_fired_at, AlertGroup.id)))
    entries = []
    for group in groups:
        alerts = session.scalars(select(Alert).where(Alert.group_id == group.id).order_by(Alert.starts_at, Alert.id))
        entries.append({
            "title": group.title, "source": group.source, "severity": group.severity, "service": group.service,
            "state": group.state, "fired_at": _iso(group.first_fired_at), "resolved_at": _iso(group.resolved_at),
            "resolved_by": group.resolved_by, "acked_at": _iso(group.acked_at), "acked_by": group.acked_by,
            "link": group.external_url,
            "alerts": [{"name": str(a.labels.get("alertname") or a.annotations.get("summary") or a.fingerprint),
                        "status": a.status, "starts_at": _iso(a.starts_at), "ends_at": _iso(a.ends_at), "link": a.generator_url}
                       for a in alerts],
        })
    return entries


def _read_document(db: Database, config: IncidentConfig, incident_id: int, similar: SimilarFinder | None) -> dict[str, Any]:
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
            "alerts": _alerts(session, incident_id),
            # None: no search ran (the section is left out); []: it ran and found nothing.
            "similar": None if similar is None else [similar_entry(item) for item in similar(session, incident_id)],
        }


def render_markdown(renderer: Renderer, document: dict[str, Any]) -> str:
    """A document from this release or an older one (without names, alerts or similar incidents) renders alike."""
    if document.get("format") != FORMAT:
        raise BadInput(f"Not a {FORMAT} document.")
    return renderer.env.get_template("postmortem.md.j2").render(doc=document, people=document.get("people") or {}).rstrip() + "\n"
