"""The rotation math pinned at the 2027 daylight-saving transitions, restrictions, layering, overrides, gaps."""
from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, load_config
from bot.oncall.rotation import (OverrideWindow, Shift, gaps, layer_shifts, next_handoff, on_call_at,
                                 resolve_local, schedule_shifts)
from tests.oncall_helpers import layer, schedule, utc


@pytest.mark.parametrize("zone, day, clock, expected", [
    # New York springs forward 2027-03-14 02:00 EST → 03:00 EDT (07:00 UTC); falls back 2027-11-07 02:00 EDT → 01:00 EST.
    ("America/New_York", date(2027, 3, 13), time(2, 30), utc(2027, 3, 13, 7, 30)),
    ("America/New_York", date(2027, 3, 14), time(2, 30), utc(2027, 3, 14, 7, 0)),   # skipped: the transition
    ("America/New_York", date(2027, 3, 15), time(2, 30), utc(2027, 3, 15, 6, 30)),
    ("America/New_York", date(2027, 11, 7), time(1, 30), utc(2027, 11, 7, 5, 30)),  # twice: the first (EDT)
    ("America/New_York", date(2027, 11, 8), time(1, 30), utc(2027, 11, 8, 6, 30)),
    # Berlin: 2027-03-28 02:00 CET → 03:00 CEST (01:00 UTC); 2027-10-31 03:00 CEST → 02:00 CET (01:00 UTC).
    ("Europe/Berlin", date(2027, 3, 28), time(2, 30), utc(2027, 3, 28, 1, 0)),
    ("Europe/Berlin", date(2027, 3, 28), time(9, 0), utc(2027, 3, 28, 7, 0)),
    ("Europe/Berlin", date(2027, 10, 31), time(2, 30), utc(2027, 10, 31, 0, 30)),
    ("Europe/Berlin", date(2027, 10, 31), time(9, 0), utc(2027, 10, 31, 8, 0)),
    # Lord Howe: 2027-04-04 02:00 (+11) → 01:30 (+10:30), 15:00 UTC on 04-03; 2027-10-03 02:00 (+10:30) → 02:30 (+11).
    ("Australia/Lord_Howe", date(2027, 4, 4), time(1, 45), utc(2027, 4, 3, 14, 45)),  # twice: the first (+11)
    ("Australia/Lord_Howe", date(2027, 4, 5), time(1, 45), utc(2027, 4, 4, 15, 15)),
    ("Australia/Lord_Howe", date(2027, 10, 3), time(2, 15), utc(2027, 10, 2, 15, 30)),  # skipped: the transition
    ("Australia/Lord_Howe", date(2027, 10, 4), time(2, 15), utc(2027, 10, 3, 15, 15)),
    ("Asia/Kolkata", date(2027, 3, 14), time(2, 30), utc(2027, 3, 13, 21, 0)),
    ("UTC", date(2027, 3, 14), time(2, 30), utc(2027, 3, 14, 2, 30)),
])
def test_local_times_resolve_to_the_right_instant(zone: str, day: date, clock: time, expected) -> None:
    assert resolve_local(day, clock, ZoneInfo(zone)) == expected


def _starts(zone: str, handoff: str, first: str, count: int, rotation: str = "daily") -> list:
    sched = schedule(zone, layer(handoff=handoff, start=first, rotation=rotation))
    begin = resolve_local(date.fromisoformat(first), time(0, 0), sched.zone)
    return [s.start for s in layer_shifts(sched.layers[0], sched.zone, begin, begin + timedelta(days=count))]


def test_new_york_hand_offs_around_2027_transitions() -> None:
    assert _starts("America/New_York", "02:30", "2027-03-13", 3) == [
        utc(2027, 3, 13, 7, 30), utc(2027, 3, 14, 7, 0), utc(2027, 3, 15, 6, 30)]
    assert _starts("America/New_York", "01:30", "2027-11-06", 3) == [
        utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)]
    assert _starts("America/New_York", "09:00", "2027-03-13", 3) == [
        utc(2027, 3, 13, 14, 0), utc(2027, 3, 14, 13, 0), utc(2027, 3, 15, 13, 0)]


def test_berlin_hand_offs_around_2027_transitions() -> None:
    assert _starts("Europe/Berlin", "02:30", "2027-03-27", 3) == [
        utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1, 0), utc(2027, 3, 29, 0, 30)]
    assert _starts("Europe/Berlin", "02:30", "2027-10-30", 3) == [
        utc(2027, 10, 30, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30)]


def test_lord_howe_hand_offs_around_2027_transitions() -> None:
    assert _starts("Australia/Lord_Howe", "01:45", "2027-04-03", 3) == [
        utc(2027, 4, 2, 14, 45), utc(2027, 4, 3, 14, 45), utc(2027, 4, 4, 15, 15)]
    assert _starts("Australia/Lord_Howe", "02:15", "2027-10-02", 3) == [
        utc(2027, 10, 1, 15, 45), utc(2027, 10, 2, 15, 30), utc(2027, 10, 3, 15, 15)]


def test_kolkata_and_utc_have_no_transitions() -> None:
    assert _starts("Asia/Kolkata", "09:00", "2027-03-13", 3, "weekly") == [utc(2027, 3, 13, 3, 30)]
    assert _starts("UTC", "00:00", "2027-03-13", 2) == [utc(2027, 3, 13), utc(2027, 3, 14)]


def test_weekly_rotation_across_spring_forward_keeps_local_handoff_and_order() -> None:
    sched = schedule("America/New_York", layer(rotation="weekly", start="2027-03-01"))
    shifts = layer_shifts(sched.layers[0], sched.zone, utc(2027, 3, 1, 14), utc(2027, 3, 22, 13))
    assert [(s.user, s.start, s.end) for s in shifts] == [
        ("U0LEE", utc(2027, 3, 1, 14), utc(2027, 3, 8, 14)),
        ("U0SAM", utc(2027, 3, 8, 14), utc(2027, 3, 15, 13)),  # 167 hours long: the clocks went forward
        ("U0KIM", utc(2027, 3, 15, 13), utc(2027, 3, 22, 13)),
    ]


def test_hour_rotation_counts_elapsed_time_across_fall_back() -> None:
    sched = schedule("America/New_York", layer(rotation="12h", handoff="09:00", start="2027-11-06", users=("U0LEE", "U0SAM")))
    shifts = layer_shifts(sched.layers[0], sched.zone, utc(2027, 11, 6, 13), utc(2027, 11, 8, 13))
    assert [s.start for s in shifts] == [utc(2027, 11, 6, 13), utc(2027, 11, 7, 1), utc(2027, 11, 7, 13), utc(2027, 11, 8, 1)]
    assert {s.end - s.start for s in shifts} == {timedelta(hours=12)}
    # After the clocks go back, the hand-off is at 08:00 local: every shift lasts exactly 12 hours.
    assert shifts[2].start.astimezone(sched.zone).hour == 8


def test_nobody_is_on_call_before_a_layer_starts() -> None:
    sched = schedule("UTC", layer(start="2027-01-04"))
    assert on_call_at(sched, utc(2027, 1, 4, 8, 59)) is None
    assert on_call_at(sched, utc(2027, 1, 4, 9)) == Shift("U0LEE", utc(2027, 1, 4, 9), utc(2027, 1, 5, 9), "primary")
    assert on_call_at(sched, utc(2027, 1, 7, 9)).user == "U0LEE"  # type: ignore[union-attr]  (index 3 mod 3)


def test_restrictions_limit_a_layer_and_the_higher_layer_wins() -> None:
    sched = schedule(
        "Europe/Berlin",
        layer("base", users=("U0NIGHT",), rotation="weekly", start="2027-01-04", handoff="00:00"),
        layer("office", users=("U0DAY1", "U0DAY2"), rotation="weekly", start="2027-01-04",
              restrictions=[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]),
    )
    # Monday 2027-01-04 in Berlin is UTC+1: office hours are 08:00–17:00 UTC.
    day = schedule_shifts(sched, utc(2027, 1, 4, 0), utc(2027, 1, 5, 0))
    assert [(s.user, s.start, s.end, s.layer) for s in day] == [
        ("U0NIGHT", utc(2027, 1, 4, 0), utc(2027, 1, 4, 8), "base"),
        ("U0DAY1", utc(2027, 1, 4, 8), utc(2027, 1, 4, 17), "office"),
        ("U0NIGHT", utc(2027, 1, 4, 17), utc(2027, 1, 5, 0), "base"),
    ]
    saturday = schedule_shifts(sched, utc(2027, 1, 9, 0), utc(2027, 1, 10, 0))
    assert [s.user for s in saturday] == ["U0NIGHT"]
    assert on_call_at(sched, utc(2027, 1, 11, 12)) == Shift("U0DAY2", utc(2027, 1, 11, 8), utc(2027, 1, 11, 17), "office")
    assert on_call_at(sched, utc(2027, 1, 11, 20)).user == "U0NIGHT"  # type: ignore[union-attr]


def test_overnight_restriction_runs_into_the_next_day() -> None:
    sched = schedule("UTC", layer(users=("U0OWL",), restrictions=[{"days": ["fri"], "start": "22:00", "end": "06:00"}]))
    assert gaps(sched, utc(2027, 1, 8), utc(2027, 1, 10)) == [(utc(2027, 1, 8), utc(2027, 1, 8, 22)),
                                                             (utc(2027, 1, 9, 6), utc(2027, 1, 10))]


def test_newest_override_wins_and_pieces_merge_back() -> None:
    sched = schedule("UTC", layer(users=("U0LEE",), start="2027-01-01", handoff="00:00", rotation="weekly"))
    older = OverrideWindow(1, "U0SAM", utc(2027, 1, 5, 10), utc(2027, 1, 5, 14), created_at=utc(2027, 1, 1))
    newer = OverrideWindow(2, "U0KIM", utc(2027, 1, 5, 12), utc(2027, 1, 5, 13), created_at=utc(2027, 1, 2))
    rota = schedule_shifts(sched, utc(2027, 1, 5), utc(2027, 1, 6), [newer, older])
    assert [(s.user, s.start.hour, s.end.hour, s.override_id) for s in rota] == [
        ("U0LEE", 0, 10, None), ("U0SAM", 10, 12, 1), ("U0KIM", 12, 13, 2), ("U0SAM", 13, 14, 1), ("U0LEE", 14, 0, None)]
    assert on_call_at(sched, utc(2027, 1, 5, 12, 30), [older, newer]) == Shift(
        "U0KIM", utc(2027, 1, 5, 12), utc(2027, 1, 5, 13), "override", 2)
    assert on_call_at(sched, utc(2027, 1, 5, 13, 30), [older, newer]) == Shift(
        "U0SAM", utc(2027, 1, 5, 13), utc(2027, 1, 5, 14), "override", 1)
    assert next_handoff(sched, utc(2027, 1, 5, 9), [older, newer]) == utc(2027, 1, 5, 10)
    assert next_handoff(sched, utc(2027, 1, 5, 14), [older, newer]) is None  # U0LEE alone from then on


def test_next_handoff_follows_the_rotation_and_gaps() -> None:
    sched = schedule("UTC", layer(users=("U0A1", "U0B2"), start="2027-01-01", restrictions=[
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]))
    assert next_handoff(sched, utc(2027, 1, 4, 12)) == utc(2027, 1, 4, 17)  # to nobody
    assert next_handoff(sched, utc(2027, 1, 4, 18)) == utc(2027, 1, 5, 9)


def test_gaps_of_a_covered_schedule_are_empty() -> None:
    sched = schedule("America/New_York", layer(rotation="3d", handoff="02:30", start="2027-03-01"))
    assert gaps(sched, utc(2027, 3, 1, 7, 30), utc(2027, 12, 1)) == []
    assert gaps(sched, utc(2027, 3, 1), utc(2027, 3, 2)) == [(utc(2027, 3, 1), utc(2027, 3, 1, 7, 30))]


POLICY = """
[escalation_policies.default]
tiers = [{ targets = ["schedule:payments-primary", "U0BOSS"] }]

[schedules.payments-primary]
time_zone = "Europe/Berlin"
calendar_secret_env = "SEVBOT_ICS_PAYMENTS"
[[schedules.payments-primary.layers]]
name = "primary"
users = ["U0LEE", "U0SAM"]
rotation = "weekly"
handoff = "09:00"
start = 2026-01-05
[[schedules.payments-primary.layers.restrictions]]
days = ["mon", "tue"]
start = "09:00"
end = "18:00"
"""


def test_a_schedule_policy_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    config = load_config(path)
    sched = config.schedules["payments-primary"]
    assert sched.zone == ZoneInfo("Europe/Berlin") and sched.layers[0].period == (7, "d")
    assert config.escalation_policies["default"].tiers[0].schedules == ("payments-primary",)


@pytest.mark.parametrize("old, new, expected", [
    ('time_zone = "Europe/Berlin"', 'time_zone = "Europe/Berlinn"',
     "schedules.payments-primary.time_zone: unknown time zone 'Europe/Berlinn' (an IANA name such as Europe/Berlin)"),
    ('users = ["U0LEE", "U0SAM"]', "users = []", "schedules.payments-primary.layers.0.users: a layer needs at least one person"),
    ('users = ["U0LEE", "U0SAM"]', 'users = ["U0LEE", "lee"]',
     "schedules.payments-primary.layers.0.users: 'lee' is not a Slack user id (U…)"),
    ('users = ["U0LEE", "U0SAM"]', 'users = ["U0LEE", "S0GROUP"]',
     "schedules.payments-primary.layers.0.users: 'S0GROUP' is not a Slack user id (U…)"),
    ('rotation = "weekly"', 'rotation = "fortnightly"',
     """schedules.payments-primary.layers.0.rotation: 'fortnightly' is not a rotation: "daily", "weekly", "<N>d" or "<N>h" (N from 1)"""),
    ('rotation = "weekly"', 'rotation = "0d"', "schedules.payments-primary.layers.0.rotation: '0d' is not a rotation"),
    ('handoff = "09:00"', 'handoff = "25:00"',
     "schedules.payments-primary.layers.0.handoff: '25:00' is not a time of day HH:MM (00:00 to 23:59)"),
    ('days = ["mon", "tue"]', 'days = ["monday"]',
     "schedules.payments-primary.layers.0.restrictions.0.days: 'monday' is not one of mon, tue"),
    ('"schedule:payments-primary"', '"schedule:payments"',
     "escalation_policies.default.tiers.0.targets names schedule 'payments', which is not one of the schedules"),
    ('"schedule:payments-primary"', '"schedule:"', "escalation_policies.default.tiers.0.targets: 'schedule:' does not name a schedule"),
    ("start = 2026-01-05", 'start = "next monday"', "schedules.payments-primary.layers.0.start: Input should be a valid date"),
])
def test_bad_schedules_are_one_line_naming_the_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in POLICY
    path = tmp_path / "policy.toml"
    path.write_text(POLICY.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message, message
