"""The HTTP surface: `POST /slack/events` (through the gate in bot/edge.py, then Bolt), `POST /alerts/<source>`
(bot/alerts/endpoint.py), `GET /oncall/<schedule>/<secret>.ics` (bot/oncall/feed.py), `GET /healthz` and
`GET /metrics` (bot/metrics.py); every answer is counted and timed."""
from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot import logs, metrics
from bot.alerts.endpoint import MAX_BODY as ALERTS_MAX_BODY
from bot.alerts.endpoint import AlertEndpoint
from bot.edge import MAX_BODY, Gate
from bot.oncall.feed import PREFIX as ONCALL_PREFIX
from bot.oncall.feed import CalendarFeed
from bot.priority import REQUESTS_FIRST

EVENTS_PATH = "/slack/events"
ALERTS_PREFIX = "/alerts/"
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
METRICS_PATH = "/metrics"
# environ key: what a request is, for the metrics (bot/metrics.py REQUEST_KINDS); the gate's parse refines a Slack one.
REQUEST_KIND = "sevbot.request_kind"


def make_wsgi_app(app: App, health: Callable[[], str | None], gate: Gate | None = None,
                  alerts: AlertEndpoint | None = None, metrics_app: WsgiApp | None = None,
                  calendars: CalendarFeed | None = None) -> WsgiApp:
    """`health()` returns None when healthy, else the one-line reason. Without a gate (tests of Bolt alone),
    requests go straight to Bolt. Without `metrics_app` (metrics off, or on their own port) /metrics is a 404."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == METRICS_PATH and metrics_app is not None:
            return metrics_app(environ, start_response)
        if path == EVENTS_PATH and method == "POST":
            # Every line logged for this request carries its id; the gate adds its kind and Slack's id (bot/logs.py).
            with logs.context(request_id=logs.new_request_id()), REQUESTS_FIRST.answering():
                if gate is None:
                    return slack(environ, start_response)
                return _gated(environ, start_response)
        if path.startswith(ALERTS_PREFIX) and alerts is not None:
            if method != "POST":
                return _json(start_response, 405, {"ok": False, "error": "alerts are POSTed"})
            with logs.context(request_kind="alerts", request_id=logs.new_request_id()), REQUESTS_FIRST.answering():
                return _alert(environ, start_response, path[len(ALERTS_PREFIX):])
        if path.startswith(ONCALL_PREFIX) and calendars is not None:
            # The path holds a secret: it is never echoed or logged, whatever the answer.
            if method not in ("GET", "HEAD"):
                return _json(start_response, 405, {"ok": False, "error": "calendar feeds are read with GET"})
            with logs.context(request_kind="oncall", request_id=logs.new_request_id()):
                feed = calendars.handle(path[len(ONCALL_PREFIX):])
            start_response(f"{feed.status} {'OK' if feed.status == 200 else 'Not Found'}",
                           [*feed.headers, ("Content-Length", str(len(feed.body)))])
            return [feed.body] if method == "GET" else []
        if path == "/healthz" and method in ("GET", "HEAD"):
            problem = health()
            status = "200 OK" if problem is None else "503 Service Unavailable"
            body = b"ok\n" if problem is None else f"unhealthy: {problem}\n".encode()
            start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
            return [body]
        return _json(start_response, 404, {"ok": False, "error": f"no such path: {method} {path[:100]}"})

    def _gated(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert gate is not None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _json(start_response, 400, {"ok": False, "error": "Content-Length is not a number"})
        if length > MAX_BODY:
            return _json(start_response, 413, {"ok": False, "error": f"the body is over {MAX_BODY} bytes"})
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        refusal = gate.check(body, headers)
        # The kind the gate found as it parsed the body (bot/edge.py request_identity): nothing is parsed again.
        environ[REQUEST_KIND] = metrics.slack_request_kind(logs.current().get("request_kind"))
        if refusal is not None:
            return _json(start_response, refusal.status, refusal.body())
        environ["wsgi.input"] = io.BytesIO(body)  # Bolt reads the body again
        return slack(environ, start_response)

    def _alert(environ: dict[str, Any], start_response: StartResponse, source: str) -> Iterable[bytes]:
        assert alerts is not None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _json(start_response, 400, {"ok": False, "error": "Content-Length is not a number"})
        if length > ALERTS_MAX_BODY:
            return _json(start_response, 413, {"ok": False, "error": f"the body is over {ALERTS_MAX_BODY} bytes"})
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {"authorization": environ.get("HTTP_AUTHORIZATION", "")}
        answer = alerts.handle(source, headers, body)
        return _json(start_response, answer.status, answer.body, answer.headers)

    return counted(wsgi)


def metrics_only(metrics_app: WsgiApp) -> WsgiApp:
    """The app of the separate metrics port (SEVBOT_METRICS_PORT): `GET /metrics` and nothing else."""
    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") == METRICS_PATH:
            return metrics_app(environ, start_response)
        return _json(start_response, 404, {"ok": False, "error": f"only {METRICS_PATH} is served on this port"})
    return counted(wsgi)


def _path_kind(path: str) -> str:
    if path.startswith(ALERTS_PREFIX):
        return "alerts"
    if path.startswith(ONCALL_PREFIX):
        return "oncall"
    return {"/healthz": "healthz", METRICS_PATH: "metrics"}.get(path, "other")


def counted(app: WsgiApp) -> WsgiApp:
    """Count each answer by the request's kind and status, and time it up to the answer (for Slack, its ack)."""
    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        environ[REQUEST_KIND] = _path_kind(environ.get("PATH_INFO", ""))
        answered: list[str] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.append(status)
            return start_response(status, headers, exc_info) if exc_info is not None else start_response(status, headers)
        try:
            return app(environ, start)
        finally:
            metrics.http_answered(environ[REQUEST_KIND], answered[-1] if answered else "500", time.perf_counter() - started)
    return wsgi


def _json(start_response: StartResponse, status: int, body: dict[str, Any],
          headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
              409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data))),
                                          *(headers or [])])
    return [data]
