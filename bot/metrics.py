"""What sevbot tells Prometheus at `GET /metrics`: every metric's definition, the functions features call to move
them, and the collectors that read the database at scrape time. The exposition format is written by
prometheus-client, never by hand.

Rules for anything added here: names start with `sevbot_` and end in their unit (`_seconds`, `_total`); label values
come from bounded sets that sevbot itself defines or reads from its config (severities, alert source names, Web API
method names written in the code, HTTP status codes it answers) and never from what people type, so a title or a
user id can never reach a label.

Counters and histograms live in one module-level registry (not prometheus-client's global one): a process that
builds several `Runtime`s (the tests) shares them, so a test reads how much a counter moved, never its absolute
value. What depends on a runtime's database (open incidents, the outbox backlog) is a collector each runtime builds
(`exposition`), read at scrape time; the state behind it lives in the database, so every replica reports the same
numbers (aggregate those with `max`, not `sum`).

This module imports no feature: any layer may call it without a cycle.
"""
from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client import make_wsgi_app as prometheus_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.db.engine import Database
from bot.db.models import Incident, OutboxItem

log = logging.getLogger(__name__)

# No `*_created` series beside each counter and histogram: Prometheus does not need them and they double the scrape.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)

# -- incidents and pages -------------------------------------------------------------------------------------------

INCIDENTS_DECLARED = Counter("sevbot_incidents_declared_total", "Incidents declared, by severity.", ["severity"],
                             registry=REGISTRY)
PAGE_KINDS = ("incident", "alert")
PAGES_STARTED = Counter("sevbot_pages_started_total", "Pages started (an escalation ladder or direct people), by what pages.",
                        ["kind"], registry=REGISTRY)
PAGES_ACKNOWLEDGED = Counter("sevbot_pages_acknowledged_total", "Pages acknowledged by someone, by what pages.", ["kind"],
                             registry=REGISTRY)
PAGES_ESCALATED = Counter("sevbot_pages_escalated_total",
                          "Pages stepped up to their next tier or round (nobody acknowledged in time, or /incident escalate).",
                          ["kind"], registry=REGISTRY)
TIME_TO_ACKNOWLEDGE = Histogram("sevbot_page_time_to_acknowledge_seconds", "From a page's start to its acknowledgement.",
                                ["kind"], buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200), registry=REGISTRY)
REMINDERS_FIRED = Counter("sevbot_update_reminders_fired_total", "Stakeholder-update reminders sent (an update was due).",
                          registry=REGISTRY)

# -- the scheduler ------------------------------------------------------------------------------------------------

TICK_DURATION = Histogram("sevbot_scheduler_tick_duration_seconds", "How long one scheduler tick took (timers and delivery pass).",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=REGISTRY)
TICK_LATENESS = Histogram("sevbot_scheduler_lateness_seconds",
                          "For each tick that fired timers: now minus the oldest due time among them.",
                          buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900), registry=REGISTRY)
TICK_LAST = Gauge("sevbot_scheduler_last_tick_timestamp_seconds", "When this process last finished a scheduler tick (Unix time).",
                  registry=REGISTRY)

# -- Slack's Web API ------------------------------------------------------------------------------------------------

SLACK_OUTCOMES = ("ok", "slack_error", "http_429", "http_5xx", "timeout", "unreachable")
SLACK_CALLS = Counter("sevbot_slack_api_calls_total",
                      "Web API calls, after slack_sdk's retries, by method and outcome (ok, slack_error, http_429, http_5xx, "
                      "timeout, unreachable).", ["method", "outcome"], registry=REGISTRY)
SLACK_LATENCY = Histogram("sevbot_slack_api_call_duration_seconds", "Web API call duration, retries and their waits included.",
                          ["method"], buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY)
SLACK_RETRIES = Counter("sevbot_slack_api_retries_total", "Web API requests slack_sdk sent again, by method and why "
                        "(http_429, http_5xx, unreachable).", ["method", "reason"], registry=REGISTRY)

# -- HTTP -----------------------------------------------------------------------------------------------------------

REQUEST_KINDS = ("slash_command", "block_actions", "view_submission", "event", "alerts", "oncall", "healthz", "metrics",
                 "other")
HTTP_REQUESTS = Counter("sevbot_http_requests_total", "HTTP requests answered, by kind and status code.", ["kind", "status"],
                        registry=REGISTRY)
HTTP_LATENCY = Histogram("sevbot_http_request_duration_seconds",
                         "From a request's arrival to its answer (for Slack, the ack its 3 s timer waits for), by kind.",
                         ["kind"], buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3, 5), registry=REGISTRY)

# -- alerts ---------------------------------------------------------------------------------------------------------

ALERTS_RECEIVED = Counter("sevbot_alerts_received_total",
                          "Notifications posted to /alerts/<source>, by configured source and outcome (created, changed, "
                          "unchanged, dropped, unknown, or the refusal: unauthorized, rate_limited, bad_payload, too_large, "
                          "database_unavailable).", ["source", "outcome"], registry=REGISTRY)

# -- build ----------------------------------------------------------------------------------------------------------


def _version() -> str:
    try:
        return version("sevbot")
    except PackageNotFoundError:
        return "unknown"


BUILD = Info("sevbot_build", "The running sevbot: its version and Python's.", registry=REGISTRY)
BUILD.info({"version": _version(), "python": platform.python_version()})


# -- what features call ---------------------------------------------------------------------------------------------

def on_commit(session: Session, count: Callable[[], None]) -> None:
    """Count when the transaction that decided something commits: a rolled-back decision counts nothing."""
    event.listen(session, "after_commit", lambda _session: count(), once=True)


def incident_declared(severity: str) -> None:
    INCIDENTS_DECLARED.labels(severity).inc()


def page_started(kind: str) -> None:
    PAGES_STARTED.labels(kind).inc()


def page_escalated(kind: str) -> None:
    PAGES_ESCALATED.labels(kind).inc()


def page_acknowledged(kind: str, seconds: float) -> None:
    PAGES_ACKNOWLEDGED.labels(kind).inc()
    TIME_TO_ACKNOWLEDGE.labels(kind).observe(max(seconds, 0.0))


def reminder_fired() -> None:
    REMINDERS_FIRED.inc()


def tick_done(seconds: float, lateness: float | None) -> None:
    TICK_DURATION.observe(seconds)
    if lateness is not None:
        TICK_LATENESS.observe(max(lateness, 0.0))
    TICK_LAST.set_to_current_time()


def slack_call(method: str, outcome: str, seconds: float) -> None:
    """`method` is one of the Web API method names written in bot/slack/gateway.py: a bounded set."""
    SLACK_CALLS.labels(method, outcome).inc()
    SLACK_LATENCY.labels(method).observe(seconds)


def slack_outcome(status: int | None) -> str:
    """The outcome of a call Slack answered with an error: rate limited, a server error, or Slack's own refusal."""
    if status == 429:
        return "http_429"
    if status is not None and status >= 500:
        return "http_5xx"
    return "slack_error"


def slack_retry(method: str, reason: str) -> None:
    SLACK_RETRIES.labels(method, reason).inc()


def slack_request_kind(kind: object) -> str:
    """A request to /slack/events by what the gate found in it (bot/edge.py `request_identity`: `slash_command`,
    `event`, or an interactive payload's type), as one of REQUEST_KINDS."""
    if kind in ("slash_command", "block_actions", "view_submission", "event"):
        return str(kind)
    if kind in ("url_verification", "app_rate_limited"):
        return "event"
    return "other"


def http_answered(kind: str, status: str, seconds: float) -> None:
    """`status` is the answer's status line ("200 OK"): its code is the label."""
    HTTP_REQUESTS.labels(kind if kind in REQUEST_KINDS else "other", status[:3]).inc()
    HTTP_LATENCY.labels(kind if kind in REQUEST_KINDS else "other").observe(seconds)


def alert_received(source: str, outcome: str) -> None:
    """`source` is a configured source's name (an unknown name is answered 404 and not counted here)."""
    ALERTS_RECEIVED.labels(source, outcome).inc()


# -- the scrape -----------------------------------------------------------------------------------------------------

class StateCollector:
    """Read at each scrape from the runtime's database: open incidents by severity and the outbox backlog.

    Reads use their own connection, outside SQLite's writer queue (WAL readers never wait for the writer). When
    the database does not answer, `sevbot_database_up` is 0 and the other families are left out of this scrape,
    rather than failing the whole scrape."""

    def __init__(self, db: Database, clock: Clock, severities: Iterable[str], closed_status: str) -> None:
        self.db = db
        self.clock = clock
        self.severities = tuple(severities)
        self.closed_status = closed_status
        self._open = select(Incident.severity, func.count()).where(Incident.status != closed_status).group_by(Incident.severity)
        self._pending = select(func.count(), func.min(OutboxItem.created_at)).where(OutboxItem.done_at.is_(None))

    def describe(self) -> Iterator[Metric]:
        yield from self._families(None)

    def collect(self) -> Iterator[Metric]:
        try:
            with self.db.engine.connect() as connection:
                open_by_severity = {str(severity): int(count) for severity, count in connection.execute(self._open)}
                pending, oldest = connection.execute(self._pending).one()
        except Exception as exc:
            log.warning("metrics: the database did not answer the scrape's queries: %s", type(exc).__name__)
            yield GaugeMetricFamily("sevbot_database_up", "1 when the database answered this scrape's queries.", value=0)
            return
        yield from self._families((open_by_severity, int(pending or 0), oldest))

    def _families(self, state: tuple[dict[str, int], int, datetime | None] | None) -> Iterator[Metric]:
        up = GaugeMetricFamily("sevbot_database_up", "1 when the database answered this scrape's queries.")
        incidents = GaugeMetricFamily("sevbot_incidents_open", "Incidents not yet resolved, by severity.", labels=["severity"])
        pending = GaugeMetricFamily("sevbot_outbox_pending", "Slack effects recorded and not yet delivered (or given up on).")
        age = GaugeMetricFamily("sevbot_outbox_oldest_pending_age_seconds",
                                "Age of the oldest undelivered Slack effect; 0 when there is none.")
        if state is not None:
            open_by_severity, count, oldest = state
            up.add_metric([], 1)
            # Every configured severity, zeros included; a severity since removed from the config still shows while open.
            for severity in sorted(set(self.severities) | set(open_by_severity)):
                incidents.add_metric([severity], open_by_severity.get(severity, 0))
            pending.add_metric([], count)
            age.add_metric([], max((self.clock.now() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0)
        yield from (up, incidents, pending, age)


class _Shared:
    """The module-level registry's metrics, as one collector of a runtime's scrape."""

    def describe(self) -> Iterator[Metric]:
        return REGISTRY.collect()

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


def scrape_registry(state: StateCollector) -> CollectorRegistry:
    """What one runtime's /metrics serves: the shared counters and histograms, plus its own database's state."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Shared())  # type: ignore[arg-type]
    registry.register(state)  # type: ignore[arg-type]
    return registry


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def exposition(db: Database, clock: Clock, severities: Iterable[str], closed_status: str) -> WsgiApp:
    """The WSGI app answering `GET /metrics` for one runtime (prometheus-client's: content negotiation, gzip)."""
    return prometheus_wsgi_app(scrape_registry(StateCollector(db, clock, severities, closed_status)))
