"""Reading what monitoring tools send: Alertmanager's webhook (version 4), Grafana's webhook contact point, and
PagerDuty's Events API v2. Each becomes one `Notification`: a group key and its alerts, whatever the sender.

Everything here is untrusted input. A payload that is not what its kind promises raises BadPayload naming the field
(the endpoint answers 400 with it, and nothing is stored).
"""
from __future__ import annotations

import hashlib
import json
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

FIRING, RESOLVED = "firing", "resolved"
# Alertmanager's "not set" time (Go's zero time).
_ZERO_TIME_YEAR = 1
MAX_LABELS = 64
MAX_LABEL_VALUE = 1024
MAX_ANNOTATION = 8192


class BadPayload(ValueError):
    """The body does not match its kind; `field` names where (e.g. `alerts[3].startsAt`)."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True)
class Signal:
    """One alert, as the sender last described it."""

    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str | None = None


@dataclass(frozen=True)
class Notification:
    group_key: str
    signals: tuple[Signal, ...]
    # The labels the whole group shares (routing reads these, then the first alert's).
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    external_url: str | None = None
    # Where a person silences this group at the source (Alertmanager's new-silence page, Grafana's silenceURL).
    silence_url: str | None = None
    truncated: int = 0
    # Events API v2 `acknowledge`: the sender says someone is on it.
    acknowledge: bool = False

    @property
    def routing_labels(self) -> dict[str, str]:
        first = self.signals[0].labels if self.signals else {}
        return {**first, **self.common_labels}


def parse(kind: str, body: dict[str, Any], now: datetime) -> Notification:
    if kind == "events-v2":
        return _events_v2(body, now)
    return _alertmanager_like(body, grafana=kind == "grafana")


def _alertmanager_like(body: dict[str, Any], *, grafana: bool) -> Notification:
    """Alertmanager's webhook body, version 4; Grafana's contact point sends the same shape as version 1."""
    version = body.get("version")
    expected = "1" if grafana else "4"
    if version != expected:
        raise BadPayload("version", f"expected {expected!r}, got {_shown(version)}")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise BadPayload("alerts", "must be a list")
    signals = tuple(_am_alert(alert, f"alerts[{n}]") for n, alert in enumerate(alerts))
    if not signals:
        raise BadPayload("alerts", "is empty")
    group_key = body.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        if not grafana:
            raise BadPayload("groupKey", "must be a non-empty string")
        # Older Grafana versions leave it out: the group is its shared labels.
        group_key = json.dumps(_labels(body.get("groupLabels", {}), "groupLabels"), sort_keys=True)
    truncated = body.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or truncated < 0:
        raise BadPayload("truncatedAlerts", "must be a whole number")
    common_labels = _labels(body.get("commonLabels", {}), "commonLabels")
    external_url = _url(body.get("externalURL"), "externalURL")
    if grafana:
        silence = next((_url(a.get("silenceURL"), f"alerts[{n}].silenceURL") for n, a in enumerate(alerts) if a.get("silenceURL")), None)
    else:
        silence = _alertmanager_silence(external_url, common_labels or signals[0].labels)
    return Notification(
        group_key=group_key,
        signals=signals,
        common_labels=common_labels,
        common_annotations=_labels(body.get("commonAnnotations", {}), "commonAnnotations", MAX_ANNOTATION),
        external_url=external_url,
        silence_url=silence,
        truncated=truncated,
    )


def _alertmanager_silence(external_url: str | None, labels: dict[str, str]) -> str | None:
    """Alertmanager's new-silence page, pre-filled with the group's labels."""
    if not external_url or not labels:
        return None
    matchers = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{external_url.rstrip('/')}/#/silences/new?filter=" + urllib.parse.quote("{" + matchers + "}", safe="")


def _am_alert(alert: Any, where: str) -> Signal:
    if not isinstance(alert, dict):
        raise BadPayload(where, "must be an object")
    status = alert.get("status")
    if status not in (FIRING, RESOLVED):
        raise BadPayload(f"{where}.status", f"must be firing or resolved, got {_shown(status)}")
    labels = _labels(alert.get("labels"), f"{where}.labels")
    annotations = _labels(alert.get("annotations", {}), f"{where}.annotations", MAX_ANNOTATION)
    starts_at = _time(alert.get("startsAt"), f"{where}.startsAt")
    if starts_at is None:
        raise BadPayload(f"{where}.startsAt", "is required")
    fingerprint = alert.get("fingerprint")
    if fingerprint is None:
        # Alertmanager always sends one; a hand-rolled sender may not: the labels identify the alert.
        fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    if not isinstance(fingerprint, str) or not fingerprint or len(fingerprint) > 128:
        raise BadPayload(f"{where}.fingerprint", "must be a string of 1 to 128 characters")
    return Signal(fingerprint=fingerprint, status=status, labels=labels, annotations=annotations, starts_at=starts_at,
                  ends_at=_time(alert.get("endsAt"), f"{where}.endsAt"),
                  generator_url=_url(alert.get("generatorURL"), f"{where}.generatorURL"))


EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
EVENT_SEVERITIES = ("critical", "error", "warning", "info")


def _events_v2(body: dict[str, Any], now: datetime) -> Notification:
    """PagerDuty's Events API v2 (`routing_key` is checked by the endpoint). One event is one alert in a group of
    its own `dedup_key`."""
    action = body.get("event_action")
    if action not in EVENT_ACTIONS:
        raise BadPayload("event_action", f"must be one of {', '.join(EVENT_ACTIONS)}, got {_shown(action)}")
    dedup_key = body.get("dedup_key")
    payload = body.get("payload")
    if action == "trigger":
        if not isinstance(payload, dict):
            raise BadPayload("payload", "is required for trigger")
        summary = _text(payload.get("summary"), "payload.summary", 1024, required=True)
        source = _text(payload.get("source"), "payload.source", 255, required=True)
        severity = payload.get("severity")
        if severity not in EVENT_SEVERITIES:
            raise BadPayload("payload.severity", f"must be one of {', '.join(EVENT_SEVERITIES)}, got {_shown(severity)}")
        if dedup_key is None:  # PagerDuty makes one up; so do we, from what the event says it is about
            dedup_key = hashlib.sha256(f"{source}\0{summary}".encode()).hexdigest()[:32]
    if not isinstance(dedup_key, str) or not dedup_key or len(dedup_key) > 255:
        raise BadPayload("dedup_key", "must be a string of 1 to 255 characters" + ("" if action == "trigger" else f" (required for {action})"))
    if action != "trigger":
        signal = Signal(fingerprint=dedup_key[:128], status=RESOLVED if action == "resolve" else FIRING, labels={},
                        annotations={}, starts_at=now)
        return Notification(group_key=dedup_key, signals=(signal,) if action == "resolve" else (),
                            acknowledge=action == "acknowledge")
    assert isinstance(payload, dict)
    labels = {"alertname": summary[:MAX_LABEL_VALUE], "severity": severity, "source": source}
    for key in ("component", "group", "class"):
        value = payload.get(key)
        if value is not None:
            labels[key] = _text(value, f"payload.{key}", MAX_LABEL_VALUE)
    annotations = {"summary": summary}
    details = payload.get("custom_details")
    if details is not None:
        annotations["description"] = (details if isinstance(details, str) else json.dumps(details, sort_keys=True))[:MAX_ANNOTATION]
    links = body.get("links") or []
    if not isinstance(links, list):
        raise BadPayload("links", "must be a list")
    generator_url = None
    for n, link in enumerate(links):
        if not isinstance(link, dict):
            raise BadPayload(f"links[{n}]", "must be an object")
        href = _url(link.get("href"), f"links[{n}].href")
        if href and generator_url is None:
            generator_url = href
        elif href and "runbook_url" not in annotations and "runbook" in str(link.get("text", "")).lower():
            annotations["runbook_url"] = href
    starts_at = _time(payload.get("timestamp"), "payload.timestamp") or now
    signal = Signal(fingerprint=dedup_key[:128], status=FIRING, labels=labels, annotations=annotations,
                    starts_at=starts_at, generator_url=generator_url)
    return Notification(group_key=dedup_key, signals=(signal,), common_labels=labels, common_annotations=annotations)


def _labels(value: Any, where: str, limit: int = MAX_LABEL_VALUE) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(where, "must be an object of strings")
    if len(value) > MAX_LABELS:
        raise BadPayload(where, f"has {len(value)} entries; at most {MAX_LABELS}")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise BadPayload(f"{where}.{key}"[:200], "must be a string")
        out[str(key)[:128]] = item[:limit]
    return out


def _text(value: Any, where: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadPayload(where, "must be a non-empty string" if required else "must be a string")
    return value[:limit]


def _url(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise BadPayload(where, "must be a URL of at most 2,048 characters")
    # Only links a person can follow safely: anything else is dropped, not shown.
    return value if value.startswith(("https://", "http://")) else None


def _time(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadPayload(where, "must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadPayload(where, f"{value[:40]!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if parsed.year == _ZERO_TIME_YEAR:
        return None
    return parsed.astimezone(timezone.utc)


def _shown(value: Any) -> str:
    return repr(value)[:40] if value is not None else "nothing"
