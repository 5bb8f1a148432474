"""Socket Mode: Slack pushes each request over a WebSocket the app opened, and the same Bolt app answers it.

Each request is handled as an HTTP one is (bot/http.py): every line logged while it is answered, and by the work it
hands to the background pool, carries `request_id` (a short id of ours), `request_kind` and `slack_id` (as
`bot/edge.py` names them), plus `envelope_id`, Slack's id for the envelope it came in; and background work steps
aside while it is answered (bot/priority.py).
"""
from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot import logs
from bot.edge import request_identity
from bot.priority import REQUESTS_FIRST


class LoggedSocketModeHandler(SocketModeHandler):
    """Bolt's built-in Socket Mode handler, each request inside its own log context (a pool thread of the socket
    client handles many requests in turn: `context()` ends with each, so no field leaks into the next)."""

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        payload = req.payload if isinstance(req.payload, dict) else {}
        with logs.context(request_id=logs.new_request_id(), envelope_id=req.envelope_id, **request_identity(payload)), \
                REQUESTS_FIRST.answering():
            super().handle(client, req)  # type: ignore[arg-type]


def connect(app: App, app_token: str) -> LoggedSocketModeHandler:
    """Open the socket (raises what slack_sdk raises when Slack refuses); requests flow until the process stops."""
    handler = LoggedSocketModeHandler(app, app_token)
    handler.connect()
    return handler
