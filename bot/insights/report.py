"""The insights report, computed from the database: one read-only pass over one period and the one before it.

The aggregates run in SQL (counts by severity and service, each incident's longest stretch without a stakeholder
update), so the timeline itself is never loaded; what comes back is a few columns per incident of the period.

It reads over a plain connection, not a unit of work: on SQLite a unit of work queues behind (and holds) the
process's one writer, and a report must never make an acknowledgement wait.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select, text

from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.db.models import AlertGroup, FollowUp, Incident
from bot.db.types import UTCDateTime
from bot.domain.severity import severity_rank
from bot.insights import patterns
from bot.scheduler.timing import Timing

PERIOD = re.compile(r"^(\d{1,3})d$")
MAX_DAYS = 366
DEFAULT_DAYS = 30
# A stakeholder update may come this late and still count as on time (a reminder fires, someone writes it).
CADENCE_GRACE = timedelta(minutes=5)
# A resolved SEV0–SEV2 incident owes its postmortem link this long after resolve.
POSTMORTEM_DUE = timedelta(hours=48)
POSTMORTEM_MAX_RANK = 2
# Weekly patterns need a few weeks to show: the pattern search looks back at least this far.
PATTERN_MIN_WINDOW = timedelta(days=35)
REPEATS_SHOWN = 5
NO_SERVICE = "(no service)"
STAKEHOLDER_UPDATE = "stakeholder_update"  # the timeline kind bot/updates/cadence.py records


class BadPeriod(ValueError):
    """The period is not `<days>d`; the message says what to type."""


def parse_period(raw: str | None) -> int:
    """`30d` → 30. Empty means the default (30 days)."""
    word = (raw or "").strip().lower()
    if not word:
        return DEFAULT_DAYS
    match = PERIOD.match(word)
    if not match or not 1 <= int(match.group(1)) <= MAX_DAYS:
        raise BadPeriod(f"the period is a number of days from 1 to {MAX_DAYS} followed by d, e.g. 7d, 30d or 90d "
                        f"(got {raw.strip()[:20]!r})" if raw else "the period is missing")
    return int(match.group(1))


@dataclass(frozen=True)
class Count:
    key: str
    current: int
    previous: int

    @property
    def change(self) -> int:
        return self.current - self.previous

    @property
    def change_percent(self) -> float | None:
        return None if self.previous == 0 else 100.0 * self.change / self.previous


@dataclass(frozen=True)
class Times:
    """Time to acknowledge and to resolve of one severity's incidents, in seconds (nearest-rank percentiles)."""
    severity: str
    resolved: int
    resolve_p50: int | None
    resolve_p90: int | None
    acked: int
    ack_p50: int | None
    ack_p90: int | None


@dataclass(frozen=True)
class Cadence:
    severity: str
    cadence_minutes: float
    met: int
    total: int


@dataclass(frozen=True)
class Repeat:
    service: str
    incidents: int
    last_incident: int
    last_declared_at: datetime


@dataclass(frozen=True)
class MissingPostmortem:
    incident: int
    severity: str
    title: str
    resolved_at: datetime
    hours_since_resolve: int


@dataclass(frozen=True)
class OverdueFollowUp:
    incident: int
    text: str
    owner: str | None
    due: date
    days_overdue: int


@dataclass(frozen=True)
class Week:
    start: date
    resolved: int
    resolve_p50_hours: float | None


@dataclass
class Report:
    days: int
    start: datetime
    end: datetime
    total: Count
    by_severity: list[Count]
    by_service: list[Count]
    times: list[Times]
    cadence: list[Cadence]
    cadence_grace_minutes: float
    repeats: list[Repeat]
    patterns: list[patterns.Pattern]
    pattern_start: datetime
    missing_postmortems: list[MissingPostmortem]
    overdue_followups: list[OverdueFollowUp]
    followups_without_due: int
    # The picture: incidents and alerts by weekday (0 = Monday) and hour, UTC; weekly time to resolve.
    heat_incidents: list[list[int]] = field(default_factory=list)
    heat_alerts: list[list[int]] = field(default_factory=list)
    weeks: list[Week] = field(default_factory=list)

    @property
    def previous_start(self) -> datetime:
        return self.start - (self.end - self.start)

    @property
    def cadence_met(self) -> int:
        return sum(c.met for c in self.cadence)

    @property
    def cadence_total(self) -> int:
        return sum(c.total for c in self.cadence)


def percentile(values: list[int], p: int) -> int | None:
    """Nearest rank: p90 of 10 values is the 9th smallest, a real value, no interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[rank - 1]


def build(db: Database, config: IncidentConfig, timing: Timing, now: datetime, days: int) -> Report:
    start = now - timedelta(days=days)
    with db.engine.connect() as conn:
        if db.is_postgres:
            # A report is background work, not the ack path the 2 s statement timeout protects.
            conn.execute(text("SET LOCAL statement_timeout = '60s'"))
        return _build(conn, config, timing, now, start, days)


def _build(conn: Connection, config: IncidentConfig, timing: Timing, now: datetime, start: datetime, days: int) -> Report:
    previous_start = start - timedelta(days=days)
    by_severity, by_service, total = _counts(conn, previous_start, start, now)
    times, weeks = _times(conn, start, now)
    pattern_start = min(start, now - PATTERN_MIN_WINDOW)
    heat_incidents = [[0] * 24 for _ in range(7)]
    heat_alerts = [[0] * 24 for _ in range(7)]
    # Streamed into the detector (never a list): the pattern window's rows pass through once.
    found = patterns.detect(_occurrences(conn, pattern_start, start, now, heat_incidents, heat_alerts), pattern_start, now)
    return Report(
        days=days, start=start, end=now, total=total,
        by_severity=sorted(by_severity, key=lambda c: (severity_rank_or_last(c.key), c.key)),
        by_service=sorted(by_service, key=lambda c: (-c.current, -c.previous, c.key)),
        times=times, cadence=_cadence(conn, config, timing, start, now), cadence_grace_minutes=CADENCE_GRACE.total_seconds() / 60,
        repeats=_repeats(conn, by_service, start, now),
        patterns=found, pattern_start=pattern_start,
        missing_postmortems=_missing_postmortems(conn, config, start, now),
        overdue_followups=_overdue_followups(conn, start, now), followups_without_due=_undated_followups(conn, start, now),
        heat_incidents=heat_incidents, heat_alerts=heat_alerts, weeks=weeks,
    )


def severity_rank_or_last(key: str) -> int:
    try:
        return severity_rank(key)
    except ValueError:
        return 99


def _counts(conn: Connection, previous_start: datetime, start: datetime, end: datetime) -> tuple[list[Count], list[Count], Count]:
    current = func.sum(_case(Incident.declared_at >= start))
    previous = func.sum(_case(Incident.declared_at < start))
    window = (Incident.declared_at >= previous_start, Incident.declared_at < end)
    severities = [Count(str(s), int(c or 0), int(p or 0))
                  for s, c, p in conn.execute(select(Incident.severity, current, previous).where(*window).group_by(Incident.severity))]
    services = [Count(str(s) if s else NO_SERVICE, int(c or 0), int(p or 0))
                for s, c, p in conn.execute(select(Incident.service, current, previous).where(*window).group_by(Incident.service))]
    total = Count("all", sum(c.current for c in severities), sum(c.previous for c in severities))
    return severities, services, total


def _case(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _times(conn: Connection, start: datetime, end: datetime) -> tuple[list[Times], list[Week]]:
    """Only resolved incidents have the figures (bot/resolve/resolve.py computes them at resolve: time to resolve
    from declare; time to acknowledge from the first page to its first acknowledgement)."""
    rows = conn.execute(select(Incident.severity, Incident.declared_at, Incident.seconds_to_ack, Incident.seconds_to_resolve)
                        .where(Incident.declared_at >= start, Incident.declared_at < end, Incident.seconds_to_resolve.is_not(None)))
    resolve: dict[str, list[int]] = defaultdict(list)
    ack: dict[str, list[int]] = defaultdict(list)
    weekly: dict[date, list[int]] = defaultdict(list)
    for severity, declared_at, to_ack, to_resolve in rows:
        resolve[severity].append(int(to_resolve))
        if to_ack is not None:
            ack[severity].append(int(to_ack))
        day = declared_at.date()
        weekly[day - timedelta(days=day.weekday())].append(int(to_resolve))
    times = [Times(s, len(resolve[s]), percentile(resolve[s], 50), percentile(resolve[s], 90),
                   len(ack[s]), percentile(ack[s], 50), percentile(ack[s], 90))
             for s in sorted(resolve, key=lambda key: (severity_rank_or_last(key), key))]
    first_week = start.date() - timedelta(days=start.date().weekday())
    weeks: list[Week] = []
    week = first_week
    while week <= end.date():
        values = weekly.get(week, [])
        p50 = percentile(values, 50)
        weeks.append(Week(week, len(values), None if p50 is None else round(p50 / 3600, 2)))
        week += timedelta(days=7)
    return times, weeks


def _seconds_between(dialect: str, later: str, earlier: str) -> str:
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"(julianday({later}) - julianday({earlier})) * 86400.0"


def _cadence(conn: Connection, config: IncidentConfig, timing: Timing, start: datetime, end: datetime) -> list[Cadence]:
    """An incident met its cadence when no stretch between its declare, its stakeholder updates and its resolve (or
    now, while it is open) was longer than its severity's update interval plus the grace. The longest stretch of
    each incident is found in SQL (a window function over the period's updates only)."""
    gap = _seconds_between(conn.dialect.name, "at", "LAG(at) OVER (PARTITION BY id ORDER BY at)")
    # No shared CTE for the period: PostgreSQL materialises one that is read three times and then joins the
    # timeline to it blind (no statistics), a nested loop over every event; each branch filters incidents itself.
    period = "incidents.declared_at >= :start AND incidents.declared_at < :now"
    statement = text(f"""
        WITH marks AS (
            SELECT incidents.id AS id, incidents.severity AS severity, incidents.declared_at AS at
                FROM incidents WHERE {period}
            UNION ALL
            SELECT incidents.id, incidents.severity, timeline_events.at FROM timeline_events
                JOIN incidents ON incidents.id = timeline_events.incident_id
                WHERE timeline_events.kind = :kind AND {period}
            UNION ALL
            SELECT incidents.id, incidents.severity,
                   CASE WHEN incidents.status = :closed AND incidents.resolved_at IS NOT NULL THEN incidents.resolved_at ELSE :now END
                FROM incidents WHERE {period}
        ), gaps AS (
            SELECT id, severity, {gap} AS gap FROM marks
        )
        SELECT severity, id, MAX(gap) FROM gaps GROUP BY severity, id
    """).bindparams(bindparam("start", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))
    rows = conn.execute(statement, {"closed": config.closed_status, "start": start, "now": end, "kind": STAKEHOLDER_UPDATE})
    met: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for severity, _incident, longest in rows:
        allowed = (timing.update_interval(severity) + CADENCE_GRACE).total_seconds()
        total[severity] += 1
        # julianday works in days: a few microseconds of rounding must not turn an exact interval into a miss.
        if longest is None or float(longest) <= allowed + 0.01:
            met[severity] += 1
    return [Cadence(s, timing.update_interval(s).total_seconds() / 60, met[s], total[s])
            for s in sorted(total, key=lambda key: (severity_rank_or_last(key), key))]


def _repeats(conn: Connection, by_service: list[Count], start: datetime, end: datetime) -> list[Repeat]:
    """Services with more than one incident in the period, most first, with their latest incident."""
    repeated = [c for c in sorted(by_service, key=lambda c: (-c.current, c.key)) if c.current >= 2 and c.key != NO_SERVICE]
    found: list[Repeat] = []
    for count in repeated[:REPEATS_SHOWN]:
        number, declared_at = conn.execute(
            select(Incident.id, Incident.declared_at)
            .where(Incident.service == count.key, Incident.declared_at >= start, Incident.declared_at < end)
            .order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(1)).one()
        found.append(Repeat(count.key, count.current, int(number), declared_at))
    return found


def _occurrences(conn: Connection, pattern_start: datetime, start: datetime, end: datetime,
                 heat_incidents: list[list[int]], heat_alerts: list[list[int]]) -> Iterator[tuple[str, str, datetime]]:
    """(kind, key, time) for the pattern search; on the way, the period's weekday × hour counts for the picture."""
    for declared_at, service, title in conn.execute(
            select(Incident.declared_at, Incident.service, Incident.title)
            .where(Incident.declared_at >= pattern_start, Incident.declared_at < end)):
        if service:
            yield "service", service, declared_at
        cluster = patterns.title_cluster(title or "")
        if cluster:
            yield "title", cluster, declared_at
        if declared_at >= start:
            heat_incidents[declared_at.weekday()][declared_at.hour] += 1
    for fired_at, labels, service, title in conn.execute(
            select(AlertGroup.first_fired_at, AlertGroup.labels, AlertGroup.service, AlertGroup.title)
            .where(AlertGroup.first_fired_at >= pattern_start, AlertGroup.first_fired_at < end)):
        name = (labels or {}).get("alertname") if isinstance(labels, dict) else None
        yield "alert", str(name or title or "")[:200], fired_at
        if service:
            yield "service", service, fired_at
        if fired_at >= start:
            heat_alerts[fired_at.weekday()][fired_at.hour] += 1


def _missing_postmortems(conn: Connection, config: IncidentConfig, start: datetime, now: datetime) -> list[MissingPostmortem]:
    """Resolved in the period, SEV0–SEV2, still resolved, and no postmortem link 48 hours after resolve."""
    severities = [s for s in config.severities if severity_rank_or_last(s) <= POSTMORTEM_MAX_RANK]
    rows = conn.execute(select(Incident.id, Incident.severity, Incident.title, Incident.resolved_at)
                        .where(Incident.status == config.closed_status, Incident.severity.in_(severities),
                               Incident.postmortem_url.is_(None), Incident.resolved_at >= start,
                               Incident.resolved_at <= now - POSTMORTEM_DUE)
                        .order_by(Incident.resolved_at, Incident.id))
    return [MissingPostmortem(i, s, t, r, int((now - r).total_seconds() // 3600)) for i, s, t, r in rows]


def _overdue_followups(conn: Connection, start: datetime, now: datetime) -> list[OverdueFollowUp]:
    """Follow-ups of the period's incidents whose due date has passed. sevbot records no 'done' for a follow-up,
    so past due means the date passed, not that the work is undone; the list says so where it is shown."""
    today = now.astimezone(timezone.utc).date()
    rows = conn.execute(select(FollowUp.incident_id, FollowUp.text, FollowUp.owner, FollowUp.due)
                        .join(Incident, Incident.id == FollowUp.incident_id)
                        .where(Incident.declared_at >= start, Incident.declared_at < now, FollowUp.due.is_not(None), FollowUp.due < today)
                        .order_by(FollowUp.due, FollowUp.id))
    return [OverdueFollowUp(int(i), str(t), o, d, (today - d).days) for i, t, o, d in rows]


def _undated_followups(conn: Connection, start: datetime, now: datetime) -> int:
    return int(conn.scalar(select(func.count(FollowUp.id)).join(Incident, Incident.id == FollowUp.incident_id)
                           .where(Incident.declared_at >= start, Incident.declared_at < now, FollowUp.due.is_(None))) or 0)
