"""`GET /oncall/<schedule>/<secret>.ics`: the next 8 weeks of a schedule's final rota (overrides included) for
calendar apps, which cannot send headers: the secret is in the path, compared in constant time. A wrong secret, an
unknown schedule and a schedule without a secret all get the same 404, so the feed tells no one which exist."""
from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta


from bot.env_secrets import environment, read_secret
from bot.config import IncidentConfig
from bot.core.deps import Deps
from bot.oncall.ical import render_calendar
from bot.oncall.lookup import final_rota
from bot.oncall.rotation import resolve_local

log = logging.getLogger(__name__)
PREFIX = "/oncall/"
WEEKS = 8
NOT_FOUND = b'{"ok": false, "error": "not found"}'
# Compared against when the schedule is unknown or has no secret, so every refusal costs the same.
_DECOY = b"sevbot-no-such-calendar-secret-0000000000"


def calendar_secrets(config: IncidentConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each schedule's feed secret (bot/env_secrets.py); schedules without one are left out (their feed is a 404)."""
    environ = environment() if environ is None else environ
    secrets: dict[str, str] = {}
    for name, schedule in config.schedules.items():
        value = read_secret(f"schedules.{name}", schedule.calendar_secret, "calendar_secret_env",
                            schedule.calendar_secret_env, environ, noun="secret")
        if value is not None:
            secrets[name] = value
    return secrets


@dataclass
class FeedAnswer:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


class CalendarFeed:
    def __init__(self, deps: Deps, secrets: dict[str, str]) -> None:
        self.deps = deps
        self.secrets = secrets

    def handle(self, rest: str) -> FeedAnswer:
        """`rest` is the path after /oncall/: `<schedule>/<secret>.ics`."""
        schedule_name, _, file_name = rest.partition("/")
        given = file_name.removesuffix(".ics") if file_name.endswith(".ics") and "/" not in file_name else ""
        expected = self.secrets.get(schedule_name)
        matches = hmac.compare_digest(given.encode(), (expected or "").encode() or _DECOY)
        schedule = self.deps.config.schedules.get(schedule_name)
        if not matches or expected is None or schedule is None or not given:
            return FeedAnswer(404, NOT_FOUND, [("Content-Type", "application/json; charset=utf-8")])
        now = self.deps.clock.now()
        # From the start of today in the schedule's zone: the first event stays put through the day's fetches.
        today = now.astimezone(schedule.zone).date()
        start, end = (resolve_local(day, time(), schedule.zone) for day in (today, today + timedelta(weeks=WEEKS)))
        with self.deps.db.unit_of_work() as session:
            shifts = final_rota(session, schedule_name, schedule, start, end)
        body = render_calendar(schedule_name, shifts, now, self._name_of).encode("utf-8")
        return FeedAnswer(200, body, [("Content-Type", "text/calendar; charset=utf-8"),
                                      ("Cache-Control", "private, max-age=300")])

    def _name_of(self, user: str) -> str:
        """The Slack username where Slack answers (cached by the gateway), else the id: the feed never fails on it."""
        try:
            info = self.deps.people.user(user)
        except Exception as exc:  # Slack unreachable or rate limited: the id will do
            log.info("calendar feed: no name for %s (%s)", user, type(exc).__name__)
            return user
        return f"@{info.name}" if info is not None and info.name else user
