"""Alert sources for tests: a policy with sources of each kind, and a sender that POSTs to `/alerts/<source>`."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bot.config import AlertRoute, Alerts, AlertSource, IncidentConfig
from bot.db.models import AlertGroup, Page
from tests.harness import Bot, paging_config

TOKEN = "am-token-0123456789abcdef"
GRAFANA_TOKEN = "grafana-token-0123456789"
EVENTS_TOKEN = "events-routing-key-0123456789"


def alerts_config(**alerts: Any) -> IncidentConfig:
    """The paging test workspace (on-call group, then U0L2, then U0IC) with one source of each kind, alert messages
    in C0ALERTS, and a route that opens an incident at once for `action=declare` alerts."""
    settings: dict[str, Any] = {
        "channel": "C0ALERTS",
        "sources": {"am": AlertSource(kind="alertmanager", token=TOKEN),
                    "grafana": AlertSource(kind="grafana", token=GRAFANA_TOKEN),
                    "events": AlertSource(kind="events-v2", token=EVENTS_TOKEN)},
        "routes": (AlertRoute(name="declare", match={"action": "declare"}, action="declare", service="payments"),
                   AlertRoute(name="quiet", match={"action": "notify"}, action="notify"),
                   AlertRoute(name="noise", match_re={"alertname": "Watchdog|InfoInhibitor"}, action="drop")),
    } | alerts
    return paging_config(alerts=Alerts(**settings))


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def post_alert(base_url: str, source: str, body: Any, token: str | None = TOKEN, *, raw: bytes | None = None) -> Reply:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base_url}/alerts/{source}", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, json.loads(response.read() or b"{}"), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, json.loads(error.read() or b"{}"), dict(error.headers))


def am_payload(status: str = "firing", *, alertname: str = "HighErrorRate", group_key: str | None = None,
               fingerprints: tuple[str, ...] = ("a1",), starts_at: str = "2026-12-02T03:00:00Z",
               labels: dict[str, str] | None = None, summary: str = "Checkout 5xx above 5%",
               statuses: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4), as its webhook notifier sends it."""
    common = {"alertname": alertname, "severity": "critical", "service": "checkout", **(labels or {})}
    alerts = []
    for n, fingerprint in enumerate(fingerprints):
        alert_status = statuses[n] if statuses else status
        alerts.append({
            "status": alert_status, "labels": {**common, "instance": f"web-{n}:9090"},
            "annotations": {"summary": summary, "description": "Error ratio over 5m is 7.3%", "runbook_url": "https://runbooks.example.com/5xx"},
            "startsAt": starts_at, "endsAt": "2026-12-02T03:30:00Z" if alert_status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=rate%28http_requests_total%5B5m%5D%29", "fingerprint": fingerprint})
    return {"version": "4", "groupKey": group_key or f'{{}}:{{alertname="{alertname}"}}', "truncatedAlerts": 0,
            "status": status, "receiver": "sevbot", "groupLabels": {"alertname": alertname}, "commonLabels": common,
            "commonAnnotations": {"summary": summary}, "externalURL": "http://alertmanager:9093", "alerts": alerts}


# -- probes shared by the alert tests (their fixtures, `alert_bot` and `clock`, are in tests/conftest.py) ---------


def tick(bot: Bot) -> None:
    bot.runtime.core.scheduler.tick()
    bot.settled()


def alert_messages(bot: Bot) -> list:  # type: ignore[type-arg]
    return [m for m in bot.sim.workspace.messages("C0ALERTS") if not m.thread_ts]


def dms(bot: Bot, user: str) -> list:  # type: ignore[type-arg]
    channel = bot.sim.workspace.dm_channel(user)
    return bot.sim.workspace.messages(channel.id) if channel else []


def groups(bot: Bot) -> list[AlertGroup]:
    with bot.db.unit_of_work() as session:
        return list(session.query(AlertGroup).order_by(AlertGroup.id))


def pages(bot: Bot) -> list[Page]:
    with bot.db.unit_of_work() as session:
        return list(session.query(Page).order_by(Page.id))
