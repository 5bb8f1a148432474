"""`GET /oncall/<schedule>/<secret>.ics` through the real bot: the next 8 weeks of the final rota as iCalendar
(parsed back with the icalendar library), overrides included; every refusal is the same 404; the secret stays out
of the logs."""
from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import icalendar
import pytest

from bot.config import Schedule
from bot.env_secrets import MissingSecret
from bot.oncall.feed import calendar_secrets
from bot.oncall.ical import fold
from bot.oncall.overrides import add_override
from tests.harness import Bot, FakeClock, incident_config, running_bot

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=timezone.utc)
SECRET = "feed-secret-0123456789abcdef"
SCHEDULES = {
    "payments": Schedule.model_validate({"time_zone": "America/New_York", "calendar_secret": SECRET, "layers": [
        {"name": "primary", "users": ["U0L1", "U0L2"], "rotation": "weekly", "handoff": "09:00",
         "start": "2027-03-01"}]}),
    "secretless": Schedule.model_validate({"time_zone": "UTC", "layers": [
        {"name": "primary", "users": ["U0L1"], "rotation": "daily", "start": "2027-03-01"}]}),
}


@pytest.fixture
def feed_bot(database_url: str) -> Iterator[Bot]:
    with running_bot(database_url, incident_config(schedules=SCHEDULES), clock=FakeClock(NOW)) as running:
        yield running


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_the_feed_serves_eight_weeks_of_the_final_rota(feed_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot = feed_bot
    caplog.set_level(logging.DEBUG)
    cover = datetime(2027, 3, 12, 14, tzinfo=timezone.utc)
    with bot.db.unit_of_work() as session:
        add_override(session, schedule="payments", user_id="U0IC", starts_at=cover, ends_at=cover + timedelta(hours=4),
                     created_by="U0L2", now=NOW)
    status, kind, body = _get(f"{bot.runtime.url}/oncall/payments/{SECRET}.ics")
    assert status == 200 and kind.startswith("text/calendar")
    assert b"\r\n" in body and all(len(line) <= 75 for line in body.split(b"\r\n"))
    calendar = icalendar.Calendar.from_ical(body)
    events = [(str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND"), str(e["UID"]))
              for e in calendar.walk("VEVENT")]
    assert len({uid for *_, uid in events}) == len(events)
    assert all(e.get("DTSTAMP") is not None for e in calendar.walk("VEVENT"))
    # From midnight in New York (05:00 UTC, before the clocks go forward on 2027-03-14) for 8 weeks.
    assert events[0][:3] == ("On call: @sam (payments)", datetime(2027, 3, 10, 5, tzinfo=timezone.utc),
                             datetime(2027, 3, 12, 14, tzinfo=timezone.utc))
    assert events[1][:3] == ("On call: @ines (payments)", cover, cover + timedelta(hours=4))
    assert events[2][:3] == ("On call: @sam (payments)", cover + timedelta(hours=4),
                             datetime(2027, 3, 15, 13, tzinfo=timezone.utc))  # 09:00 EDT
    assert events[3][0] == "On call: @lee (payments)"
    assert events[-1][2] == datetime(2027, 5, 5, 4, tzinfo=timezone.utc)  # midnight EDT, 8 weeks on
    # Fetching again gives the same UIDs (calendar apps update events instead of adding copies).
    again = icalendar.Calendar.from_ical(_get(f"{bot.runtime.url}/oncall/payments/{SECRET}.ics")[2])
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == [uid for *_, uid in events]
    refusals = [_get(f"{bot.runtime.url}/oncall/{path}") for path in (
        f"payments/{SECRET[:-1]}x.ics", f"payments/{SECRET}", f"nosuch/{SECRET}.ics", f"secretless/{SECRET}.ics",
        "secretless/.ics", f"payments/{SECRET}.ics/more", "payments")]
    assert {(status, body) for status, _, body in refusals} == {(404, b'{"ok": false, "error": "not found"}')}
    assert SECRET not in caplog.text and SECRET[:-1] not in caplog.text


def test_escaping_and_folding_follow_rfc_5545() -> None:
    from bot.oncall.ical import escape_text

    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    folded = fold("SUMMARY:" + "é" * 80)
    assert all(len(line.encode()) <= 75 for line in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "SUMMARY:" + "é" * 80


def test_a_missing_secret_variable_stops_the_start_naming_it() -> None:
    config = incident_config(schedules={"pay": Schedule.model_validate({
        "time_zone": "UTC", "calendar_secret_env": "SEVBOT_ICS_PAY",
        "layers": [{"name": "p", "users": ["U0L1"], "start": "2027-01-01"}]})})
    with pytest.raises(MissingSecret, match="schedules.pay.calendar_secret_env: SEVBOT_ICS_PAY is not set"):
        calendar_secrets(config, {})
    with pytest.raises(MissingSecret, match="under 16 characters"):
        calendar_secrets(config, {"SEVBOT_ICS_PAY": "short"})
    assert calendar_secrets(config, {"SEVBOT_ICS_PAY": SECRET}) == {"pay": SECRET}
