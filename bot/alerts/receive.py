"""Taking in one notification: find (or open) its alert group, fold in each alert, and decide what follows:
a page, an incident, a line in the incident channel, or only a message update. One transaction, so a notification
is taken in whole or not at all, and a repeat of it (a retry, the other Alertmanager of an HA pair) changes nothing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.alerts.events import message_changed, record_alert_event, shown_title
from bot.alerts.paging import acknowledge_page, start_group_page, stop_group_page
from bot.alerts.payloads import FIRING, RESOLVED, Notification, Signal
from bot.config import AlertRoute
from bot.core.deps import Deps
from bot.core.outbox import enqueue
from bot.db.models import Alert, AlertGroup
from bot.domain.text import escape_mrkdwn, one_line, truncate

GROUPS = AlertGroup.__table__
_OPENED_WITH = ("source", "group_key", "live_key", "state", "route", "action", "title", "severity", "service", "channel_id",
                "runbook", "labels", "external_url", "silence_url", "firing", "truncated", "first_fired_at", "last_event_at",
                "message_version", "message_synced_version")
# Built once per dialect (building it per request cost more than running it): a twin's insert does nothing.
_OPEN_GROUP = {name: insert(GROUPS).values({column: bindparam(column, type_=GROUPS.c[column].type) for column in _OPENED_WITH})
               .on_conflict_do_nothing(index_elements=["live_key"]).returning(GROUPS.c.id)
               for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}


@dataclass(frozen=True)
class Received:
    group_id: int | None
    # created | changed | unchanged | dropped | unknown (a resolve or acknowledge for a group we never saw)
    outcome: str


def live_key(source: str, group_key: str) -> str:
    return hashlib.sha256(f"{source}\0{group_key}".encode()).hexdigest()


def receive(deps: Deps, source: str, note: Notification) -> Received:
    config = deps.config
    route = config.alerts.route(source, note.routing_labels)
    if route.action == "drop":
        return Received(None, "dropped")
    key = live_key(source, note.group_key)
    now = deps.clock.now()
    flap = timedelta(minutes=config.alerts.flap_minutes)
    with deps.db.unit_of_work() as session:
        group = _live_group(session, key)
        if group is not None and group.state == RESOLVED and group.resolved_at is not None and \
                group.resolved_at < now - flap and _new_firing(session, group, note):
            group.live_key = None  # resolved long enough ago: a new firing is a new group, with a new page
            session.flush()
            group = None
        if group is None:
            if not any(signal.status == FIRING for signal in note.signals):
                return Received(None, "unknown")
            group = _open_group(deps, session, source, key, note, route, now)
            if group is None:  # a twin delivery opened it a moment ago: fold into theirs
                group = _live_group(session, key)
                assert group is not None
            else:
                _fold(deps, session, group, note, now)
                _first_response(deps, session, group, route)
                message_changed(session, deps.clock, group)
                return Received(group.id, "created")
        changed = _fold(deps, session, group, note, now)
        if note.acknowledge and group.acked_by is None:
            _acknowledged_by_sender(deps, session, group, source, now)
            changed = True
        if changed:
            message_changed(session, deps.clock, group)
        return Received(group.id, "changed" if changed else "unchanged")


def _new_firing(session: Session, group: AlertGroup, note: Notification) -> bool:
    """Whether the notification fires something that is not already firing in the group: a sender repeating an old
    firing (say, after a person resolved the group in Slack) is not a new episode."""
    firing = {alert.fingerprint for alert in session.scalars(select(Alert).where(Alert.group_id == group.id,
                                                                                    Alert.status == FIRING))}
    return any(s.status == FIRING and s.fingerprint not in firing for s in note.signals)


def _live_group(session: Session, key: str) -> AlertGroup | None:
    return session.scalar(select(AlertGroup).where(AlertGroup.live_key == key).with_for_update())


def _open_group(deps: Deps, session: Session, source: str, key: str, note: Notification, route: AlertRoute,
                now: datetime) -> AlertGroup | None:
    """Insert the group, or None when a concurrent delivery of the same group got there first (the unique live_key
    makes one of two simultaneous inserts do nothing; on PostgreSQL it waits for the other to commit)."""
    labels = note.routing_labels
    annotations = {**(note.signals[0].annotations if note.signals else {}), **note.common_annotations}
    title = annotations.get("summary") or labels.get("alertname") or note.group_key
    mapped = route.severity_map.get(labels.get("severity", ""))
    severity = route.severity or (mapped if mapped in deps.config.severities else None) or deps.config.default_severity
    values = {
        "source": source, "group_key": note.group_key[:4000], "live_key": key, "state": FIRING,
        "route": route.name or "default", "action": route.action, "title": title[:500], "severity": severity,
        "service": route.service or _known_service(deps, labels), "channel_id": route.channel or deps.config.alerts.channel,
        "runbook": route.runbook or annotations.get("runbook_url") or annotations.get("runbook"),
        "labels": note.common_labels or labels, "external_url": note.external_url,
        "silence_url": note.silence_url, "firing": 0,
        "truncated": note.truncated, "first_fired_at": now, "last_event_at": now,
        "message_version": 0, "message_synced_version": 0,
    }
    inserted = session.execute(_OPEN_GROUP["postgresql" if deps.db.is_postgres else "sqlite"], values).scalar()
    if inserted is None:
        return None
    return session.get_one(AlertGroup, inserted)


def _known_service(deps: Deps, labels: dict[str, str]) -> str | None:
    """The alert's `service` label, when it names a service the policy knows."""
    service = labels.get("service")
    return service if service in deps.config.services else None


def _fold(deps: Deps, session: Session, group: AlertGroup, note: Notification, now: datetime) -> bool:
    """Bring the group's alerts up to date with the notification; True when anything a person would see changed."""
    known = {alert.fingerprint: alert for alert in session.scalars(select(Alert).where(Alert.group_id == group.id))}
    fired: list[Signal] = []
    resolved: list[Signal] = []
    for signal in note.signals:
        alert = known.get(signal.fingerprint)
        if alert is None:
            alert = Alert(group_id=group.id, fingerprint=signal.fingerprint, status=signal.status, labels=signal.labels,
                          annotations=signal.annotations, starts_at=signal.starts_at, ends_at=signal.ends_at,
                          generator_url=signal.generator_url, updated_at=now)
            session.add(alert)
            known[signal.fingerprint] = alert
            (fired if signal.status == FIRING else resolved).append(signal)
            continue
        if alert.status == signal.status:
            # A repeat: Alertmanager re-sends while firing, an HA pair sends everything twice, an events-v2 sender
            # re-triggers. (So a group a person resolved stays resolved until the source itself resolves and fires.)
            continue
        alert.status, alert.starts_at, alert.ends_at, alert.updated_at = signal.status, signal.starts_at, signal.ends_at, now
        if signal.labels:
            alert.labels, alert.annotations, alert.generator_url = signal.labels, signal.annotations, signal.generator_url
        (fired if signal.status == FIRING else resolved).append(signal)
    if not fired and not resolved and note.truncated == group.truncated:
        return False
    firing = sum(1 for alert in known.values() if alert.status == FIRING)
    group.firing, group.truncated, group.last_event_at = firing, note.truncated, now
    if fired:
        record_alert_event(session, group, kind="fired", actor="sevbot", at=now, summary=_names("Firing", fired),
                           data={"fingerprints": [s.fingerprint for s in fired]})
    if resolved:
        record_alert_event(session, group, kind="resolved", actor="sevbot", at=now, summary=_names("Resolved", resolved),
                           data={"fingerprints": [s.fingerprint for s in resolved]})
    if group.state == FIRING and firing == 0:
        _resolved(deps, session, group, now)
    elif group.state == RESOLVED and fired:
        _reopened(deps, session, group, now)
    elif fired and group.incident_id is not None:
        _tell_incident(deps, session, group, f":rotating_light: {_names('Firing again in', fired)}")
    return True


def _names(verb: str, signals: list[Signal]) -> str:
    names = sorted({escape_mrkdwn(truncate(one_line(s.labels.get("alertname") or s.annotations.get("summary") or s.fingerprint), 80))
                    for s in signals})
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{verb}: {shown} ({len(signals)} alert{'s' if len(signals) != 1 else ''})"


def _resolved(deps: Deps, session: Session, group: AlertGroup, now: datetime) -> None:
    group.state, group.resolved_at = RESOLVED, now
    record_alert_event(session, group, kind="group_resolved", actor="sevbot", at=now,
                       summary="Every alert of the group resolved at the source")
    stop_group_page(deps, session, group, "the source resolved every alert")
    if group.incident_id is not None:
        _tell_incident(deps, session, group, f":large_green_circle: Alert {shown_title(group)} resolved at the source.")


def _reopened(deps: Deps, session: Session, group: AlertGroup, now: datetime) -> None:
    """Firing again within the flap window: the same group and message, no new page storm."""
    group.state, group.resolved_at, group.resolved_by = FIRING, None, None
    record_alert_event(session, group, kind="reopened", actor="sevbot", at=now,
                       summary="Firing again soon after resolving (flapping): the same group, no new page")
    if group.incident_id is not None:
        _tell_incident(deps, session, group, f":rotating_light: Alert {shown_title(group)} is firing again.")


def _tell_incident(deps: Deps, session: Session, group: AlertGroup, text: str) -> None:
    """An attached group speaks in its incident's channel instead of paging (delivered once the channel exists)."""
    assert group.incident_id is not None
    enqueue(session, deps.clock, kind="incident_post", incident_id=group.incident_id,
            dedupe_key=f"alert:{group.id}:incident:{group.message_version}:{hashlib.sha1(text.encode()).hexdigest()[:12]}",
            payload={"incident_id": group.incident_id, "text": text})


def _first_response(deps: Deps, session: Session, group: AlertGroup, route: AlertRoute) -> None:
    """What the route says a new group does: page its ladder, open an incident, or only post."""
    now = deps.clock.now()
    if route.action == "declare":
        enqueue(session, deps.clock, kind="alert_declare", dedupe_key=f"alert:{group.id}:declare",
                payload={"group_id": group.id})
        return
    if route.action != "page":
        return
    chosen = deps.config.alert_policy(route, group.severity, group.service)
    if chosen is None:
        record_alert_event(session, group, kind="page_requested", actor="sevbot", at=now,
                           summary="Paging requested; no escalation policy is configured, nobody was paged")
        return
    start_group_page(deps, session, group, *chosen)


def _acknowledged_by_sender(deps: Deps, session: Session, group: AlertGroup, source: str, now: datetime) -> None:
    """Events API v2 `acknowledge`: someone is on it, says the sending tool."""
    acknowledge_page(deps, session, group, f"source:{source}"[:32])  # the page DMs lose their button too
    group.acked_by, group.acked_at = f"source:{source}"[:32], now
    record_alert_event(session, group, kind="acknowledged", actor="sevbot", at=now,
                       summary=f"Acknowledged by the sender ({escape_mrkdwn(source)})")
