"""`POST /alerts/<source>`: where monitoring tools deliver. Checks, in order: the source exists (404), the body
fits (413), the token (401, compared in constant time), the source's rate (429 with Retry-After), the body is the
JSON its kind promises (400 naming the field). Only then is anything stored, in one transaction (503 with
Retry-After when the database does not answer: the sender retries, nothing is half-stored). A 2xx means kept."""
from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


from bot import metrics
from bot.alerts.payloads import BadPayload, Notification, parse
from bot.alerts.ratelimit import RateLimit, retry_after
from bot.alerts.receive import Received, receive
from bot.alerts.repeats import RecentNotifications
from bot.env_secrets import MissingSecret, environment, read_secret
from bot.config import IncidentConfig
from bot.core.deps import Deps
from bot.db.engine import unavailable

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


def source_tokens(config: IncidentConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each source's secret (bot/env_secrets.py); the config makes sure every source has one of token or token_env."""
    environ = environment() if environ is None else environ
    tokens: dict[str, str] = {}
    for name, source in config.alerts.sources.items():
        token = read_secret(f"alerts.sources.{name}", source.token, "token_env", source.token_env, environ, noun="token")
        if token is None:  # unreachable through IncidentConfig's validator: refuse rather than serve without a token
            raise MissingSecret(f"alerts.sources.{name}: set token or token_env")
        tokens[name] = token
    return tokens


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]] = field(default_factory=list)
    outcome: str = ""  # what became of a notification taken in (Received.outcome), for the metrics


# The metrics' outcome of a refused notification, by the status it was answered with.
REFUSED = {400: "bad_payload", 401: "unauthorized", 413: "too_large", 429: "rate_limited", 503: "database_unavailable"}


class AlertEndpoint:
    def __init__(self, deps: Deps, tokens: dict[str, str]) -> None:
        self.deps = deps
        self.tokens = tokens
        self.limits = {name: RateLimit(source.rate_limit_per_minute) for name, source in deps.config.alerts.sources.items()}
        self.recent = RecentNotifications()

    def handle(self, name: str, headers: Mapping[str, str], body: bytes) -> Answer:
        answer = self._handle(name, headers, body)
        if name in self.deps.config.alerts.sources:  # a configured name: a bounded label (a 404 is not counted here)
            metrics.alert_received(name, answer.outcome or REFUSED.get(answer.status, "refused"))
        return answer

    def _handle(self, name: str, headers: Mapping[str, str], body: bytes) -> Answer:
        source = self.deps.config.alerts.sources.get(name)
        if source is None:
            return Answer(404, {"ok": False, "error": f"no alert source named {name[:64]!r}"})
        if len(body) > MAX_BODY:
            return Answer(413, {"ok": False, "error": f"the body is over {MAX_BODY} bytes"})
        document: Any = None
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass  # answered after the token check: an unauthenticated caller learns nothing
        if not self._authorised(name, source.kind, headers, document):
            return Answer(401, {"ok": False, "error": "missing or wrong token"}, [("WWW-Authenticate", 'Bearer realm="sevbot"')])
        wait = self.limits[name].take()
        if wait:
            return Answer(429, {"ok": False, "error": f"over {source.rate_limit_per_minute} requests a minute for {name}"},
                          [("Retry-After", retry_after(wait))])
        if document is None:
            return Answer(400, {"ok": False, "error": "the body is not JSON (UTF-8)", "field": "body"})
        if not isinstance(document, dict):
            return Answer(400, {"ok": False, "error": "the body must be a JSON object", "field": "body"})
        try:
            note = parse(source.kind, document, self.deps.clock.now())
        except BadPayload as problem:
            log.warning("alert source %s: refused a payload: %s", name, problem)
            return Answer(400, {"ok": False, "error": str(problem), "field": problem.field})
        repeat = self.recent.repeat_of(name, note)
        if repeat is not None:
            return self._answer(source.kind, note, Received(repeat, "unchanged"))
        try:
            received = receive(self.deps, name, note)
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.warning("alert source %s: the database is not answering; asked the sender to retry", name)
            return Answer(503, {"ok": False, "error": "the database is not answering; nothing was stored, retry"},
                          [("Retry-After", "5")])
        if received.group_id is not None:
            self.recent.remember(name, note, received.group_id)
        return self._answer(source.kind, note, received)

    @staticmethod
    def _answer(kind: str, note: Notification, received: Received) -> Answer:
        if kind == "events-v2":
            return Answer(202, {"status": "success", "message": "Event processed", "dedup_key": note.group_key},
                          outcome=received.outcome)
        return Answer(200, {"ok": True, "group": received.group_id, "outcome": received.outcome}, outcome=received.outcome)

    def _authorised(self, name: str, kind: str, headers: Mapping[str, str], document: Any) -> bool:
        expected = self.tokens[name].encode()
        given = headers.get("authorization", "")
        if given[:7].lower() == "bearer " and hmac.compare_digest(given[7:].strip().encode(), expected):
            return True
        if kind == "events-v2" and isinstance(document, dict) and isinstance(document.get("routing_key"), str):
            return hmac.compare_digest(document["routing_key"].encode(), expected)
        return False
