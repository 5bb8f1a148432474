"""The HTTP surface: `POST /slack/events` (through the gate in bot/edge.py, then Bolt), `POST /alerts/<source>`
(bot/alerts/endpoint.py) and `GET /healthz`."""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.alerts.endpoint import MAX_BODY as ALERTS_MAX_BODY
from bot.alerts.endpoint import AlertEndpoint
from bot.edge import MAX_BODY, Gate

EVENTS_PATH = "/slack/events"
ALERTS_PREFIX = "/alerts/"
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_wsgi_app(app: App, health: Callable[[], str | None], gate: Gate | None = None,
                  alerts: AlertEndpoint | None = None) -> WsgiApp:
    """`health()` returns None when healthy, else the one-line reason. Without a gate (tests of Bolt alone),
    requests go straight to Bolt."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST":
            if gate is None:
                return slack(environ, start_response)
            return _gated(environ, start_response)
        if path.startswith(ALERTS_PREFIX) and alerts is not None:
            if method != "POST":
                return _json(start_response, 405, {"ok": False, "error": "alerts are POSTed"})
            return _alert(environ, start_response, path[len(ALERTS_PREFIX):])
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

    return wsgi


def _json(start_response: StartResponse, status: int, body: dict[str, Any],
          headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
              409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data))),
                                          *(headers or [])])
    return [data]
