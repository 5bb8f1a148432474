"""Logging that never prints a secret: tokens and the signing secret are scrubbed from every line, exception text
included, in both formats.

`text` (the default) is one human-readable line per record. `json` is one JSON object per line, with `time` (RFC 3339,
UTC), `level`, `logger`, `message`, then, where known, `incident` (`INC-42`), `request_kind` (`slash_command`,
`block_actions`, `view_submission`, `event`, `alerts`, …), `request_id` (a short id sevbot gives each request, over
HTTP or Socket Mode; background work the request hands over keeps it), `slack_id` (Slack's own id for the request:
the `event_id` of an event, the `trigger_id` of a command or an interaction, else an action's `action_ts`),
`envelope_id` (Socket Mode only: Slack's id for the envelope the request came in) and `exception`.

The per-request fields live in a `contextvars` context: the HTTP layer (bot/http.py) and the Socket Mode handler
(bot/socket_mode.py) open one per request (`context(...)`), code that learns more adds to it (`bind(...)`), and
background work runs in a copy of its submitter's context.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets as _random
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from bot.domain.incident import human_id

_TOKEN = re.compile(r"xox[abpre]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The context fields, in the order a JSON line shows them.
CONTEXT_FIELDS = ("incident", "request_kind", "request_id", "slack_id", "envelope_id")

_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("sevbot_log_context", default={})


def new_request_id() -> str:
    """12 hex digits: unique enough to find one request's lines among a day's."""
    return _random.token_hex(6)


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """The given fields (None ones left out) are on every record logged inside, then the outer context is back."""
    token = _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current context, until the enclosing `context()` ends."""
    _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})


def current() -> Mapping[str, Any]:
    return _CONTEXT.get()


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _TOKEN.sub("[redacted]", text)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


class RedactSecrets(logging.Filter):
    """Scrubs the message early (so any other handler sees it clean); the formatters scrub the whole line too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._scrub = Redactor(secrets)
        self.secrets = self._scrub.secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class StampContext(logging.Filter):
    """Copies the current context onto the record as it is made (on the logging thread), for the formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "sevbot_context"):
            record.sevbot_context = _CONTEXT.get()
        return True


class TextFormatter(logging.Formatter):
    """The classic line; the whole of it (exception and stack included) is scrubbed."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(TEXT_FORMAT)
        self._scrub = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Each value is scrubbed before encoding, so JSON escaping can't hide a secret."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._scrub = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._scrub(record.getMessage()),
        }
        known = getattr(record, "sevbot_context", None) or _CONTEXT.get()
        for name in CONTEXT_FIELDS:
            value = known.get(name)
            if value is not None:
                line[name] = human_id(value) if name == "incident" and isinstance(value, int) else self._scrub(str(value))
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = self._scrub(record.exc_text)
        if record.stack_info:
            line["stack"] = self._scrub(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(kind: str, secrets: Iterable[str] = ()) -> logging.Formatter:
    if kind not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {kind!r}")
    return JsonFormatter(secrets) if kind == "json" else TextFormatter(secrets)


def configure(level: str = "INFO", secrets: Iterable[str] = (), log_format: str = "text") -> None:
    secrets = list(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format, secrets))
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(StampContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # slack_sdk logs full request headers (the bearer token) at DEBUG; keep it above that regardless.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, root.level))
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
