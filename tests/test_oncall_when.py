"""Reading when a cover ends, in the speaker's own zone: durations, `until HH:MM`, a date and time; and the refusals."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.core.errors import BadInput
from bot.oncall.show import at_local, slack_date
from bot.oncall.when import cover_end, parse_duration

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 12 January 2026, 10:00 in Berlin (09:00 UTC, CET)
NOW = datetime(2026, 1, 12, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("text", "minutes"), [("2h", 120), ("90m", 90), ("1h30m", 90), ("1h 30m", 90), ("3d", 3 * 1440),
                                               ("2 hours", 120), ("45 minutes", 45), ("1 day", 1440), ("2H", 120)])
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)
    assert cover_end(text, NOW, BERLIN) == NOW + timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["soon", "2x", "h2", "", "12:00:00", "-2h"])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_until_a_time_is_the_next_time_the_speakers_clock_shows_it() -> None:
    assert cover_end("until 18:00", NOW, BERLIN) == datetime(2026, 1, 12, 17, 0, tzinfo=timezone.utc)  # 18:00 CET today
    # 08:00 has passed in Berlin (it is 10:00): tomorrow morning
    assert cover_end("until 08:00", NOW, BERLIN) == datetime(2026, 1, 13, 7, 0, tzinfo=timezone.utc)
    # the same words in New York (04:00 there now) mean 08:00 EST today
    assert cover_end("until 08:00", NOW, ZoneInfo("America/New_York")) == datetime(2026, 1, 12, 13, 0, tzinfo=timezone.utc)
    assert cover_end("18:00", NOW, BERLIN) == datetime(2026, 1, 12, 17, 0, tzinfo=timezone.utc)


def test_a_date_and_time_in_the_speakers_zone() -> None:
    assert cover_end("2026-01-14 09:00", NOW, BERLIN) == datetime(2026, 1, 14, 8, 0, tzinfo=timezone.utc)
    assert cover_end("until 2026-01-14 09:00", NOW, BERLIN) == datetime(2026, 1, 14, 8, 0, tzinfo=timezone.utc)
    # summer time: 09:00 CEST is 07:00 UTC
    march = datetime(2026, 3, 27, 9, 0, tzinfo=timezone.utc)
    assert cover_end("2026-03-30 09:00", march, BERLIN) == datetime(2026, 3, 30, 7, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("text", "says"), [
    ("2026-01-11 09:00", "in the past"),
    ("until 2026-01-12 09:59", "in the past"),
    ("32d", "at most 31 days"),
    ("2026-03-01 09:00", "at most 31 days"),
    ("0h", "no time at all"),
    ("until 25:00", "not a time of day"),
    ("2026-02-30 09:00", "not a date"),
    ("tomorrow", "can't read"),
    ("until 2h", "can't read"),
    ("", "Until when?"),
])
def test_refusals_say_what_to_type(text: str, says: str) -> None:
    with pytest.raises(BadInput) as problem:
        cover_end(text, NOW, BERLIN)
    assert says in str(problem.value)


def test_a_time_the_clocks_skip_is_refused() -> None:
    before_spring = datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc)
    with pytest.raises(BadInput, match="does not exist in Europe/Berlin"):
        cover_end("2026-03-29 02:30", before_spring, BERLIN)


def test_times_read_in_the_viewers_zone() -> None:
    assert at_local(datetime(2026, 1, 19, 8, 0, tzinfo=timezone.utc), BERLIN, NOW) == "Mon 19 Jan 09:00 CET"
    assert at_local(datetime(2026, 1, 13, 8, 0, tzinfo=timezone.utc), BERLIN, NOW) == "Tue 09:00 CET"
    token = slack_date(datetime(2026, 1, 13, 8, 0, tzinfo=timezone.utc), BERLIN)
    assert token == "<!date^1768291200^{date_short_pretty} {time}|Tue 13 Jan 09:00 CET>"
