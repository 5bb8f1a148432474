"""Property tests of the rotation math over zones with daylight saving (a 30-minute shift on Lord Howe included),
2026–2030, random rotations, hand-off times (inside skipped hours too), start dates and people."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings, strategies as st

from bot.config import Schedule
from bot.oncall.rotation import OverrideWindow, layer_shift_at, layer_shifts, on_call_at, schedule_shifts

UTC = timezone.utc
ZONES = ("America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
# Times inside the skipped hour (02:30 New York and Berlin, 02:15 Lord Howe) and the repeated one, and any other.
TRICKY = ("02:30", "02:15", "02:00", "01:30", "01:45", "00:00", "23:59", "03:00")
SETTINGS = settings(max_examples=300, deadline=None)

handoffs = st.one_of(st.sampled_from(TRICKY),
                     st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)))
rotations = st.one_of(st.sampled_from(("daily", "weekly")), st.integers(1, 15).map(lambda n: f"{n}d"),
                      st.integers(1, 72).map(lambda n: f"{n}h"))
people = st.lists(st.integers(0, 99).map(lambda i: f"U0P{i:02d}"), min_size=1, max_size=6, unique=True)
starts = st.dates(date(2026, 1, 1), date(2030, 6, 30))


def _transitions(zone: str) -> list[datetime]:
    """The instants 2026–2030 when the zone's offset changes (found by an hourly scan, then to the minute)."""
    tz, out = ZoneInfo(zone), []
    at, step = datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1)
    while at.year < 2031:
        if (at + step).astimezone(tz).utcoffset() != at.astimezone(tz).utcoffset():
            minute = at
            while minute.astimezone(tz).utcoffset() == at.astimezone(tz).utcoffset():
                minute += timedelta(minutes=15)
            out.append(minute)
        at += step
    return out


TRANSITIONS = {zone: _transitions(zone) for zone in ZONES}
assert len(TRANSITIONS["Australia/Lord_Howe"]) == 10 and TRANSITIONS["UTC"] == []


@st.composite
def windows(draw: st.DrawFn, zone: str) -> tuple[datetime, datetime, date]:
    """A window that crosses one of the zone's transitions (where it has any), and a layer start before it."""
    moments = TRANSITIONS[zone]
    anchor = draw(st.sampled_from(moments)) if moments else datetime.combine(draw(starts), time(), tzinfo=UTC)
    window_start = anchor - timedelta(days=draw(st.integers(0, 10)), minutes=draw(st.integers(0, 24 * 60)))
    span = timedelta(days=draw(st.integers(1, 30)), minutes=draw(st.integers(0, 24 * 60)))
    layer_start = window_start.date() - timedelta(days=draw(st.integers(-2, 400)))
    return window_start, window_start + span, layer_start


def _schedule(zone: str, layers: list[dict[str, Any]]) -> Schedule:
    return Schedule.model_validate({"time_zone": zone, "layers": layers})


def _layer(name: str, users: list[str], rotation: str, handoff: str, start: date, **extra: Any) -> dict[str, Any]:
    return {"name": name, "users": users, "rotation": rotation, "handoff": handoff, "start": start.isoformat(), **extra}


def _starts_at_local(instant: datetime, day: date, clock: time, zone: ZoneInfo) -> bool:
    """`instant` is the local `day clock`'s first occurrence, or, where that does not exist, the first valid
    instant after it (a transition, just before which the local clock read earlier than `clock`)."""
    wanted = datetime.combine(day, clock)
    local = instant.astimezone(zone)
    if local.replace(tzinfo=None) == wanted:
        # The first occurrence: no earlier instant read the same wall time (fall back repeats 30 or 60 minutes).
        return not _reads(instant, wanted, zone)
    before = (instant - timedelta(seconds=1)).astimezone(zone)
    exists = (wanted.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wanted)
    return (not exists and before.utcoffset() != local.utcoffset()
            and before.replace(tzinfo=None) < wanted < local.replace(tzinfo=None))


def _reads(instant: datetime, wanted: datetime, zone: ZoneInfo) -> bool:
    """Does some instant in the 3 hours before `instant` read the same local wall time (a repeated hour)?"""
    probe = instant - timedelta(minutes=30)
    while probe > instant - timedelta(hours=3):
        if probe.astimezone(zone).replace(tzinfo=None) == wanted:
            return True
        probe -= timedelta(minutes=15)
    return False


@SETTINGS
@given(zone=st.sampled_from(ZONES), users=people, rotation=rotations, handoff=handoffs, data=st.data())
@example(zone="America/New_York", users=["U0P01", "U0P02"], rotation="daily", handoff="02:30", data=None)
@example(zone="Europe/Berlin", users=["U0P01", "U0P02", "U0P03"], rotation="daily", handoff="02:30", data=None)
@example(zone="Australia/Lord_Howe", users=["U0P01", "U0P02"], rotation="daily", handoff="02:15", data=None)
@example(zone="Australia/Lord_Howe", users=["U0P01", "U0P02"], rotation="daily", handoff="01:45", data=None)
def test_a_layer_rotates_without_gaps_overlaps_skips_or_repeats(zone: str, users: list[str], rotation: str,
                                                                handoff: str, data: st.DataObject | None) -> None:
    if data is None:  # the pinned examples: the zone's 2027 transitions, from a few days before
        window_start, window_end, start = _pinned(zone)
    else:
        window_start, window_end, start = data.draw(windows(zone))
    sched = _schedule(zone, [_layer("l", users, rotation, handoff, start)])
    layer, tz = sched.layers[0], sched.zone
    shifts = layer_shifts(layer, tz, window_start, window_end)
    if not shifts:  # the layer only starts after the window
        assert datetime.combine(start, time(), tzinfo=UTC) >= window_end - timedelta(days=1)
        return
    clock = layer.handoff_time
    first = shifts[0].start
    # (1) No gaps and no overlaps: the shifts tile [max(window start, first hand-off), window end).
    assert shifts[-1].end == window_end
    assert all(a.end == b.start for a, b in zip(shifts, shifts[1:]))
    assert all(s.start < s.end for s in shifts)
    if first > window_start:
        assert _starts_at_local(first, start, clock, tz), "the layer's first shift starts at start + hand-off"
    length, unit = layer.period
    origin = shifts[0].start if first > window_start else None
    indexes: list[int] = []
    for number, shift in enumerate(shifts):
        if number == 0 and origin is None:
            continue  # clipped by the window
        # (2) Every shift begins at the local hand-off (or the first valid instant after it).
        if unit == "d":
            elapsed = (shift.start.astimezone(tz).date() - start).days
            assert elapsed % length == 0
            assert _starts_at_local(shift.start, shift.start.astimezone(tz).date(), clock, tz)
            indexes.append(elapsed // length)
        else:
            first_handoff = next(s.start for s in layer_shifts(layer, tz, datetime(2025, 1, 1, tzinfo=UTC),
                                                               datetime.combine(start + timedelta(days=2), time(), tzinfo=UTC)))
            assert _starts_at_local(first_handoff, start, clock, tz)
            steps, rest = divmod(shift.start - first_handoff, timedelta(hours=length))
            assert rest == timedelta(0)
            indexes.append(steps)
        # (3) The person is users[index mod n], the index being the periods elapsed since the start date.
        assert shift.user == users[indexes[-1] % len(users)]
    # …so consecutive shifts go users[i] → users[i+1 mod n]: no one skipped or repeated across a transition.
    assert all(b == a + 1 for a, b in zip(indexes, indexes[1:]))


def _pinned(zone: str) -> tuple[datetime, datetime, date]:
    spring, autumn = [t for t in TRANSITIONS[zone] if t.year == 2027]
    first, last = sorted((spring, autumn))
    return first - timedelta(days=3), last + timedelta(days=3), (first - timedelta(days=3)).date()


same_day = st.tuples(st.integers(5, 21), st.integers(1, 6)).map(lambda p: (f"{p[0]:02d}:00", f"{min(p[0] + p[1], 23):02d}:30"))
overnight = st.tuples(st.integers(18, 23), st.integers(5, 9)).map(lambda p: (f"{p[0]:02d}:00", f"{p[1]:02d}:00"))
restrictions = st.lists(st.tuples(st.lists(st.sampled_from(("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
                                           min_size=1, max_size=7, unique=True),
                                  st.one_of(same_day, overnight)), min_size=1, max_size=3)


def _inside(local: datetime, rules: list[tuple[list[str], tuple[str, str]]]) -> bool:
    """The oracle for restrictions, from the local wall clock (their times avoid the transition hours)."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    today, yesterday, now = names[local.weekday()], names[(local.weekday() - 1) % 7], local.strftime("%H:%M")
    for days, (opens, closes) in rules:
        if closes > opens and today in days and opens <= now < closes:
            return True
        if closes <= opens and ((today in days and now >= opens) or (yesterday in days and now < closes)):
            return True
    return False


@SETTINGS
@given(zone=st.sampled_from(ZONES), users=people, rotation=rotations, handoff=handoffs, start=starts, rules=restrictions,
       probes=st.lists(st.integers(0, 60 * 24 * 60), min_size=1, max_size=20))
def test_a_restricted_layer_covers_exactly_its_windows(zone: str, users: list[str], rotation: str, handoff: str,
                                                       start: date, rules: list, probes: list[int]) -> None:
    spec = [{"days": days, "start": opens, "end": closes} for days, (opens, closes) in rules]
    sched = _schedule(zone, [_layer("l", users, rotation, handoff, start, restrictions=spec)])
    layer, tz = sched.layers[0], sched.zone
    begin = datetime.combine(start + timedelta(days=3), time(), tzinfo=UTC)
    shifts = layer_shifts(layer, tz, begin, begin + timedelta(days=61))
    assert all(a.end <= b.start for a, b in zip(shifts, shifts[1:])) and all(s.start < s.end for s in shifts)
    for minutes in probes:
        at = begin + timedelta(minutes=minutes)
        inside = _inside(at.astimezone(tz), rules)
        piece = next((s for s in shifts if s.start <= at < s.end), None)
        assert (piece is not None) == inside
        direct = layer_shift_at(layer, tz, at)
        assert (direct is not None) == inside
        if piece is not None and direct is not None:
            assert piece.user == direct.user
            # The rotation decides who: the same person as the unrestricted layer at that instant.
            plain = layer_shift_at(sched.layers[0].model_copy(update={"restrictions": ()}), tz, at)
            assert plain is not None and plain.user == piece.user


@SETTINGS
@given(zone=st.sampled_from(ZONES), data=st.data(), start=starts, layer_count=st.integers(1, 3),
       probes=st.lists(st.integers(0, 30 * 24 * 60 - 1), min_size=1, max_size=15),
       override_spec=st.lists(st.tuples(st.integers(0, 30 * 24), st.integers(1, 72), st.integers(0, 10**6)), max_size=6))
def test_the_final_rota_has_no_overlaps_and_the_highest_cover_wins(zone: str, data: st.DataObject, start: date,
                                                                   layer_count: int, probes: list[int],
                                                                   override_spec: list) -> None:
    layers = []
    for number in range(layer_count):
        extra = {}
        if number and data.draw(st.booleans()):
            extra["restrictions"] = [{"days": days, "start": opens, "end": closes}
                                     for days, (opens, closes) in data.draw(restrictions)]
        layers.append(_layer(f"l{number}", data.draw(people), data.draw(rotations), data.draw(handoffs),
                             start + timedelta(days=data.draw(st.integers(0, 10))), **extra))
    sched = _schedule(zone, layers)
    begin = datetime.combine(start + timedelta(days=5), time(), tzinfo=UTC)
    end = begin + timedelta(days=30)
    overrides = [OverrideWindow(i + 1, f"U0OV{i}", begin + timedelta(hours=h), begin + timedelta(hours=h + d),
                                created_at=begin - timedelta(seconds=c))
                 for i, (h, d, c) in enumerate(override_spec)]
    rota = schedule_shifts(sched, begin, end, overrides)
    assert all(a.end <= b.start for a, b in zip(rota, rota[1:])) and all(s.start < s.end for s in rota)
    for minutes in probes:
        at = begin + timedelta(minutes=minutes)
        covering = [o for o in overrides if o.start <= at < o.end]
        if covering:
            newest = max(covering, key=lambda o: (o.created_at, o.id))
            expected = (newest.user, "override")
        else:
            top = next((s for s in (layer_shift_at(layer, sched.zone, at) for layer in reversed(sched.layers))
                        if s is not None), None)
            expected = (top.user, top.layer) if top is not None else None
        piece = next((s for s in rota if s.start <= at < s.end), None)
        assert (None if piece is None else (piece.user, piece.layer)) == expected
        direct = on_call_at(sched, at, overrides)
        assert (None if direct is None else (direct.user, direct.layer)) == expected
        if direct is not None and piece is not None:
            # on_call_at's piece is the rota's piece, unclipped by the window.
            assert direct.start <= piece.start or piece.start == begin
            assert direct.end >= piece.end or piece.end == end
            assert max(direct.start, begin) == piece.start and min(direct.end, end) == piece.end
