"""A small incident history whose insights are worked out by hand (tests/test_insights.py states each sum)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from bot.db.engine import Database
from bot.db.models import AlertGroup, FollowUp, Incident, TimelineEvent

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)  # a Monday, noon UTC
CLOSED = "resolved"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# id, severity, service, title, declared, minutes after declare of each stakeholder update, minutes to resolve (None:
# open), seconds to acknowledge, postmortem link
INCIDENTS: list[tuple[int, str, str | None, str, str, list[int], int | None, int | None, str | None]] = [
    (1, "sev1", "payments", "Card payments declined", "2026-11-10 10:00", [15, 30, 45], 60, 120, "https://docs.example.com/pm/1"),
    (2, "sev1", "payments", "Refunds stuck in queue", "2026-11-20 10:00", [15, 60], 120, 300, None),
    (3, "sev1", "checkout", "Checkout button spins", "2026-12-01 09:00", [], 30, 600, None),
    (4, "sev2", "payments", "Payouts delayed", "2026-12-06 20:00", [25], 60, None, None),
    (5, "sev3", "search", "Search suggestions stale", "2026-12-07 11:00", [], None, None, None),
    (6, "sev2", None, "Status page <!channel> wrong", "2026-11-15 08:00", [30], None, None, None),
    # the previous period (2026-10-08 12:00 → 2026-11-07 12:00)
    (7, "sev1", "payments", "Card payments declined again", "2026-10-20 14:00", [], 90, 60, None),
    (8, "sev2", "checkout", "Coupons refused", "2026-11-01 16:00", [], 45, None, None),
    (9, "sev3", "search", "Slow search", "2026-10-10 09:00", [], 30, None, None),
    # before both periods: counted nowhere
    (10, "sev0", "payments", "Everything down", "2026-09-01 02:00", [], 240, 30, None),
]
# Alert groups: the same alert on 4 of the 5 Mondays of the pattern window, 03:10 UTC.
ALERT_FIRINGS = ["2026-11-09 03:10", "2026-11-16 03:12", "2026-11-30 03:05", "2026-12-07 03:20"]


def seed(db: Database) -> None:
    with db.unit_of_work() as session:
        for number, severity, service, title, declared, updates, resolve_min, to_ack, postmortem in INCIDENTS:
            declared_at = _at(declared)
            resolved_at = declared_at + timedelta(minutes=resolve_min) if resolve_min is not None else None
            session.add(Incident(
                id=number, title=title, severity=severity, status=CLOSED if resolved_at else "investigating", service=service,
                declared_by="U0L1", declared_at=declared_at, resolved_at=resolved_at, resolved_by="U0L1" if resolved_at else None,
                seconds_to_resolve=resolve_min * 60 if resolve_min is not None else None,
                seconds_to_ack=to_ack if resolved_at else None, postmortem_url=postmortem, card_version=0, card_synced_version=0,
                provision_attempts=0))
            session.flush()
            events: list[dict[str, Any]] = [{"kind": "declared", "at": declared_at}]
            events += [{"kind": "stakeholder_update", "at": declared_at + timedelta(minutes=m)} for m in updates]
            events += [{"kind": "note", "at": declared_at + timedelta(minutes=7)}]  # not an update: ignored
            if resolved_at:
                events.append({"kind": "resolved", "at": resolved_at})
            for event in events:
                session.add(TimelineEvent(incident_id=number, actor="U0L1", summary=event["kind"], data={}, **event))
        session.add_all([
            FollowUp(incident_id=2, text="Alert on refund queue age", owner="U0L2", due=date(2026, 12, 1), created_by="U0L1",
                     created_at=_at("2026-11-20 12:00")),
            FollowUp(incident_id=3, text="Load-test checkout", owner="U0IC", due=date(2026, 12, 10), created_by="U0L1",
                     created_at=_at("2026-12-01 09:30")),
            FollowUp(incident_id=1, text="Write the card-decline runbook", owner=None, due=None, created_by="U0L1",
                     created_at=_at("2026-11-10 11:00")),
            FollowUp(incident_id=7, text="Old one", owner="U0L1", due=date(2026, 11, 1), created_by="U0L1",
                     created_at=_at("2026-10-20 16:00")),
        ])
        for n, fired in enumerate(ALERT_FIRINGS):
            at = _at(fired)
            session.add(AlertGroup(source="alertmanager", group_key=f"{{}}:{{alertname=\"PaymentsApiLatency\"}}#{n}", state="resolved",
                                   route="default", action="page", title="payments-api p99 latency over 2 s", severity="critical",
                                   service="payments", labels={"alertname": "PaymentsApiLatency", "service": "payments"},
                                   first_fired_at=at, last_event_at=at + timedelta(minutes=20), resolved_at=at + timedelta(minutes=20)))
