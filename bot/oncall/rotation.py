"""Who is on call when: the pure rotation math of a schedule.

Hand-offs are local wall-clock times in the schedule's zone (never fixed UTC offsets): the arithmetic runs on local
dates and each boundary is converted to UTC on its own. A local time that does not exist (spring forward) starts at
the first valid instant after it, the transition itself; an ambiguous one (fall back) is its first occurrence.
"<N>h" rotations are the exception by design: they hand off every N hours of elapsed time from the first hand-off,
so every shift lasts exactly N hours (see docs/oncall.md).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.config import Layer, Schedule

UTC = timezone.utc
OVERRIDE = "override"
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Shift:
    user: str
    start: datetime  # UTC-aware
    end: datetime  # UTC-aware, exclusive
    layer: str  # the layer's name, or "override"
    override_id: int | None = None


@dataclass(frozen=True)
class OverrideWindow:
    """An override as the math sees it: `user` covers [start, end); the newest wins where overrides overlap."""

    id: int
    user: str
    start: datetime
    end: datetime
    created_at: datetime


@lru_cache(maxsize=65536)
def resolve_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """(Pure, so remembered: rotations ask for the same few days over and over.) The UTC instant of a local date and time of day. Ambiguous (fall back): the first occurrence (fold=0).
    Non-existent (spring forward): the first valid instant after it, which is the transition itself."""
    naive = datetime.combine(day, clock)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # In the gap, fold=0 reads the time with the offset from before the transition (a later instant, already past
    # it) and fold=1 with the offset from after (an earlier instant, not yet at it): the transition lies between.
    low, high = naive.replace(tzinfo=zone, fold=1).astimezone(UTC), instant
    after = high.astimezone(zone).utcoffset()
    while high - low > _SECOND:
        middle = low + (high - low) // 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high


def first_handoff(layer: Layer, zone: ZoneInfo) -> datetime:
    return resolve_local(layer.start, layer.handoff_time, zone)


def period_start(layer: Layer, zone: ZoneInfo, index: int) -> datetime:
    """When rotation period `index` begins (period 0 is users[0]'s first shift)."""
    length, unit = layer.period
    if unit == "d":
        return resolve_local(layer.start + timedelta(days=index * length), layer.handoff_time, zone)
    return first_handoff(layer, zone) + timedelta(hours=index * length)


def period_index(layer: Layer, zone: ZoneInfo, at: datetime) -> int:
    """The period holding `at` (negative before the layer starts), in closed form: no walk from the start date."""
    length, unit = layer.period
    if unit == "h":
        return (at - first_handoff(layer, zone)) // timedelta(hours=length)
    index = (at.astimezone(zone).date() - layer.start).days // length
    # The local date puts us in the right period or next to it (the hand-off is not at midnight): step once.
    while period_start(layer, zone, index) > at:
        index -= 1
    while period_start(layer, zone, index + 1) <= at:
        index += 1
    return index


def _rotation(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime, int]]:
    """Rotation periods clipped to [start, end): (start, end, index)."""
    if end <= start:
        return []
    first = max(period_index(layer, zone, start), 0)
    out: list[tuple[datetime, datetime, int]] = []
    index, begins = first, period_start(layer, zone, first)
    while begins < end:
        ends = period_start(layer, zone, index + 1)
        if ends > start:
            out.append((max(begins, start), min(ends, end), index))
        index, begins = index + 1, ends
    return out


def restriction_windows(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The times a restricted layer covers, merged and clipped to [start, end)."""
    windows: list[tuple[datetime, datetime]] = []
    day, last = start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date()
    while day <= last:
        for rule in layer.restrictions:
            if day.weekday() in rule.weekdays:
                overnight = rule.end_time <= rule.start_time
                opens = resolve_local(day, rule.start_time, zone)
                closes = resolve_local(day + timedelta(days=1 if overnight else 0), rule.end_time, zone)
                if closes > start and opens < end and closes > opens:
                    windows.append((max(opens, start), min(closes, end)))
        day += timedelta(days=1)
    windows.sort()
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in windows:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def layer_shifts(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """The layer's shifts clipped to [start, end), in order; a restricted layer only inside its windows."""
    periods = _rotation(layer, zone, start, end)
    users = layer.users
    if not layer.restrictions:
        return [Shift(users[index % len(users)], begins, ends, layer.name) for begins, ends, index in periods]
    windows = restriction_windows(layer, zone, start, end)
    out: list[Shift] = []
    w = 0
    for begins, ends, index in periods:
        while w < len(windows) and windows[w][1] <= begins:
            w += 1
        v = w
        while v < len(windows) and windows[v][0] < ends:
            piece_start, piece_end = max(begins, windows[v][0]), min(ends, windows[v][1])
            out.append(Shift(users[index % len(users)], piece_start, piece_end, layer.name))
            v += 1
    return out


def layer_shift_at(layer: Layer, zone: ZoneInfo, at: datetime) -> Shift | None:
    """The layer's (unclipped) shift holding `at`, or None where the layer does not cover it."""
    index = period_index(layer, zone, at)
    if index < 0:
        return None
    begins, ends = period_start(layer, zone, index), period_start(layer, zone, index + 1)
    if layer.restrictions:
        window = next((w for w in restriction_windows(layer, zone, at - timedelta(days=2), at + timedelta(days=2))
                       if w[0] <= at < w[1]), None)
        if window is None:
            return None
        begins, ends = max(begins, window[0]), min(ends, window[1])
    return Shift(layer.users[index % len(layer.users)], begins, ends, layer.name)


def _newest_first(overrides: Iterable[OverrideWindow]) -> list[OverrideWindow]:
    return sorted(overrides, key=lambda o: (o.created_at, o.id), reverse=True)


def schedule_shifts(schedule: Schedule, start: datetime, end: datetime,
                    overrides: Sequence[OverrideWindow] = ()) -> list[Shift]:
    """The final rota in [start, end): the highest layer covering a time wins, overrides on top (newest wins)."""
    zone = schedule.zone
    layers = [layer_shifts(layer, zone, start, end) for layer in schedule.layers]
    # Overrides as clipped shifts; rank orders them oldest to newest (a higher rank wins).
    ranked = sorted((o for o in overrides if o.start < end and o.end > start and o.end > o.start),
                    key=lambda o: (o.created_at, o.id))
    pending = sorted(((max(o.start, start), min(o.end, end), rank, o) for rank, o in enumerate(ranked)),
                     key=lambda item: item[0])
    bounds = sorted({t for shifts in layers for s in shifts for t in (s.start, s.end)}
                    | {t for item in pending for t in item[:2]})
    pointers = [0] * len(layers)
    active: list[tuple[datetime, datetime, int, OverrideWindow]] = []
    next_pending = 0
    out: list[Shift] = []
    last_source: object = None
    for a, b in zip(bounds, bounds[1:]):
        while next_pending < len(pending) and pending[next_pending][0] <= a:
            active.append(pending[next_pending])
            next_pending += 1
        if active:
            active = [item for item in active if item[1] > a]
        winner: Shift | None = None
        source: object = None
        if active:
            top = max(active, key=lambda item: item[2])
            source, winner = top[3], Shift(top[3].user, a, b, OVERRIDE, top[3].id)
        else:
            for level in range(len(layers) - 1, -1, -1):
                shifts, p = layers[level], pointers[level]
                while p < len(shifts) and shifts[p].end <= a:
                    p += 1
                pointers[level] = p
                if p < len(shifts) and shifts[p].start <= a:
                    source, winner = shifts[p], shifts[p]
                    break
        if winner is None:
            last_source = None
            continue
        if source is last_source and out and out[-1].end == a:
            previous = out[-1]
            out[-1] = Shift(previous.user, previous.start, b, previous.layer, previous.override_id)
        else:
            out.append(Shift(winner.user, a, b, winner.layer, winner.override_id))
        last_source = source
    return out


def on_call_at(schedule: Schedule, at: datetime, overrides: Sequence[OverrideWindow] = ()) -> Shift | None:
    """Who is on call at `at` (None: nobody), as the piece of the final rota holding it. Computes only the periods
    around `at`, never the shifts since the start date."""
    source: Shift | None = None
    newest = next((o for o in _newest_first(o for o in overrides if o.start <= at < o.end)), None)
    if newest is not None:
        source = Shift(newest.user, newest.start, newest.end, OVERRIDE, newest.id)
    else:
        for layer in reversed(schedule.layers):
            source = layer_shift_at(layer, schedule.zone, at)
            if source is not None:
                break
    if source is None:
        return None
    nearby = [o for o in overrides if o.start < source.end and o.end > source.start]
    return next((s for s in schedule_shifts(schedule, source.start, source.end, nearby) if s.start <= at < s.end),
                None)


def next_handoff(schedule: Schedule, after: datetime, overrides: Sequence[OverrideWindow] = (),
                 *, within: timedelta = timedelta(days=366)) -> datetime | None:
    """The next instant after `after` when the person on call changes (to someone else or to nobody); None if it
    does not change within `within`."""
    current = on_call_at(schedule, after, overrides)
    who = current.user if current is not None else None
    position, horizon, step = after, after + within, timedelta(days=14)
    while position < horizon:
        chunk_end = min(position + step, horizon)
        for shift in schedule_shifts(schedule, position, chunk_end, overrides):
            if shift.start > position and who is not None:
                return position  # a gap: nobody from here
            if shift.user != who:
                return max(shift.start, after)
            position = shift.end
        if position < chunk_end:
            if who is not None:
                return position
            position = chunk_end
    return None


def gaps(schedule: Schedule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Times in [start, end) that no layer covers (overrides aside: this is about the configuration)."""
    covered = sorted((s.start, s.end) for layer in schedule.layers for s in layer_shifts(layer, schedule.zone, start, end))
    out: list[tuple[datetime, datetime]] = []
    position = start
    for begins, ends in covered:
        if begins > position:
            out.append((position, begins))
        position = max(position, ends)
    if position < end:
        out.append((position, end))
    return out
