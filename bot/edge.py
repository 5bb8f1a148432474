"""What a request to `POST /slack/events` passes before Bolt sees it.

1. **Signed by Slack**, within 5 minutes: checked here over the raw bytes (so a body that is not even UTF-8 gets a
   401 or a 400, not a traceback), and again by Bolt.
2. **Well formed**: UTF-8, a form or JSON body that parses, nested no deeper than any real Slack payload, and no
   control characters (NUL and the other C0 codes but tab, newline and carriage return) in any text. This is the
   one rule for such text on every database: PostgreSQL refuses NUL where SQLite would store it.
3. **Once**: a signed request is remembered (in the database, so every replica knows) for the signature window;
   the same signed request sent again is a replay and is refused with no effect. Slack's own Events API retries
   carry a new timestamp and signature, and are de-duplicated on `event_id` further in.

Problems are answered in JSON naming the problem; a slash command gets an ephemeral text instead, which Slack
shows to the person who typed it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import bindparam, delete, text

from bot import logs
from bot.clock import Clock
from bot.db.engine import Database, unavailable
from bot.db.models import SeenRequest
from bot.db.types import UTCDateTime

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_DEPTH = 48  # a view submission with rich text reaches about 15
SIGNATURE_WINDOW = 5 * 60
_CONTROL = {c for c in range(32) if chr(c) not in "\t\n\r"} | {127}
_CONTROL_TABLE = {c: None for c in _CONTROL}
_REMEMBER = text("INSERT INTO seen_requests (digest, seen_at) VALUES (:digest, :now) ON CONFLICT (digest) DO NOTHING").bindparams(
    bindparam("now", type_=UTCDateTime()))
NOT_ANSWERING = "The database is not answering, so nothing was recorded. Try again in a moment."


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str
    # A slash command's refusal is shown to the person as an ephemeral message (HTTP 200), not as an error page.
    for_command: bool = False

    def body(self) -> dict[str, Any]:
        if self.for_command:
            return {"response_type": "ephemeral", "text": f":x: {self.error}"}
        return {"ok": False, "error": self.error}


class Gate:
    def __init__(self, signing_secret: str, db: Database, clock: Clock) -> None:
        self._secret = signing_secret.encode()
        self.db = db
        self.clock = clock

    def check(self, body: bytes, headers: dict[str, str]) -> Refusal | None:
        """None when the request may go on to Bolt; otherwise why not."""
        timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
        if not self._signed(body, timestamp, signature):
            return Refusal(401, "invalid or missing Slack signature, or a timestamp more than 5 minutes off")
        try:
            fields = _parse(body, headers.get("content-type", ""))
        except ValueError as problem:
            log.warning("refused a malformed Slack request: %s", problem)
            return Refusal(400, str(problem))
        logs.bind(**request_identity(fields))
        command = "command" in fields and "payload" not in fields
        bad = _control_character(fields)
        if bad is not None:
            log.warning("refused a Slack request with control character U+%04X", bad)
            return Refusal(200 if command else 400, f"The text contains a control character (U+{bad:04X}); nothing was recorded.",
                           for_command=command)
        try:
            first_time = self._remember(hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest())
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.warning("database not answering at the door: %s", type(exc).__name__)
            return Refusal(200 if command else 503, NOT_ANSWERING, for_command=command)
        if not first_time:
            log.warning("refused a replayed Slack request (the same signed request was already handled)")
            if fields.get("type") == "event_callback":
                return Refusal(200, "already handled")  # as for a Slack retry: acknowledged, nothing done again
            return Refusal(409, "replayed request: this exact signed request was already handled; nothing was done")
        return None

    def _signed(self, body: bytes, timestamp: str, signature: str) -> bool:
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW:
            return False
        expected = "v0=" + hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def _remember(self, digest: str) -> bool:
        """True the first time this signed request is seen. One statement in autocommit: a single round trip on
        PostgreSQL, on the path of every ack."""
        with self.db.autocommit() as connection:
            return connection.execute(_REMEMBER, {"digest": digest, "now": self.clock.now()}).rowcount == 1

    def forget_old(self) -> int:
        """Requests older than the signature window can't be replayed (their signature has expired): drop them."""
        cutoff = self.clock.now() - timedelta(seconds=SIGNATURE_WINDOW * 2)
        with self.db.transaction() as connection:
            return connection.execute(delete(SeenRequest).where(SeenRequest.seen_at < cutoff)).rowcount


def request_identity(body: dict[str, Any]) -> dict[str, str | None]:
    """What the logs call a Slack request (a form with its payload decoded, or Bolt's body): its kind
    (`slash_command`, `event`, or the payload's type: `block_actions`, `view_submission`, …) and Slack's id for it
    (an event's `event_id`, else the `trigger_id`, else the first action's `action_ts`)."""
    def text(value: Any) -> str | None:
        return value[:80] if isinstance(value, str) and value else None

    if "command" in body and "payload" not in body:
        return {"request_kind": "slash_command", "slack_id": text(body.get("trigger_id"))}
    kind = text(body.get("type"))
    if kind == "event_callback":
        return {"request_kind": "event", "slack_id": text(body.get("event_id"))}
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    return {"request_kind": kind, "slack_id": text(body.get("trigger_id")) or text(first.get("action_ts"))}


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    """The request's fields, with an interactivity `payload` decoded; ValueError naming what is wrong."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the body is not valid UTF-8") from None
    if content_type.startswith("application/json"):
        return _json_object(decoded, "body")
    fields: dict[str, Any] = dict(parse_qsl(decoded, keep_blank_values=True))
    if "payload" in fields:
        fields = {**fields, **_json_object(fields["payload"], "payload")}
    return fields


def _json_object(raw: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except RecursionError:
        raise ValueError(f"the {what} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the {what} is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise ValueError(f"the {what} must be a JSON object")
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"the {what} is nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        nxt: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                nxt.extend(item.values())
            elif isinstance(item, list):
                nxt.extend(item)
        level = [v for v in nxt if isinstance(v, (dict, list))]
        if depth > MAX_DEPTH:
            break
    return depth


def _control_character(value: Any) -> int | None:
    """The first forbidden control character in any text (keys included), or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.translate(_CONTROL_TABLE) != item:
                return next(ord(c) for c in item if ord(c) in _CONTROL)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
