#!/usr/bin/env python3
"""On-call benchmark: the rotation math of bot/oncall/rotation.py, pure (no database, no Slack).

  1. "Who is on call at t": on_call_at for a schedule of 3 layers (a daily base, a weekly layer restricted to office
     hours, a 12-hour layer), with 200 overrides, at --samples random instants over two years (DST transitions
     included). Target: p99 ≤ 1 ms. on_call_at computes only the periods around t (closed-form period index from the
     start date), so the cost does not grow with the time since the start date: the bench also measures it 10 years
     after the start to show that.
  2. A year of shifts: schedule_shifts for one schedule over 365 days (the final rota, with the 200 overrides).
     Target: ≤ 50 ms (the median of --repeat runs, each with the local-time cache cleared first).

resolve_local (local date and time → UTC instant) is memoised; the "cold" case clears that cache before every call,
the case of a process that has never looked at those days.

Run: .venv/bin/python bench/oncall_bench.py [--samples 20000] [--repeat 15] [--seed 1]
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Schedule  # noqa: E402
from bot.oncall.rotation import OverrideWindow, on_call_at, resolve_local, schedule_shifts  # noqa: E402

UTC = timezone.utc
START = datetime(2026, 1, 5, tzinfo=UTC)


def bench_schedule() -> Schedule:
    people = [f"U0P{i:02d}" for i in range(8)]
    return Schedule.model_validate({"time_zone": "America/New_York", "layers": [
        {"name": "base", "users": people[:4], "rotation": "daily", "handoff": "02:30", "start": "2026-01-05"},
        {"name": "office", "users": people[4:6], "rotation": "weekly", "handoff": "09:00", "start": "2026-01-05",
         "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]},
        {"name": "follow-the-sun", "users": people[6:], "rotation": "12h", "handoff": "08:00", "start": "2026-01-05",
         "restrictions": [{"days": ["sat", "sun"], "start": "08:00", "end": "20:00"}]},
    ]})


def bench_overrides(rng: random.Random, count: int, span_days: int) -> list[OverrideWindow]:
    out = []
    for number in range(count):
        begins = START + timedelta(minutes=rng.randrange(span_days * 24 * 60))
        out.append(OverrideWindow(number + 1, f"U0OV{number % 10}", begins, begins + timedelta(hours=rng.randint(1, 72)),
                                  created_at=START - timedelta(days=30) + timedelta(seconds=number)))
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    schedule = bench_schedule()
    overrides = bench_overrides(rng, 200, 730)
    print(f"machine: {os.cpu_count()} CPU(s), {platform.platform()}, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")

    verdicts = []
    cases = (("2 years from the start date", START, False), ("10 years after the start date", START + timedelta(days=3650), False),
             ("2 years from the start date, cold (local-time cache cleared before each call)", START, True))
    for label, origin, cold in cases:
        instants = [origin + timedelta(seconds=rng.randrange(730 * 86400)) for _ in range(args.samples)]
        windows = overrides if origin == START else [OverrideWindow(o.id, o.user, o.start + (origin - START),
                                                                    o.end + (origin - START), o.created_at) for o in overrides]
        for at in instants[:200]:  # warm up
            on_call_at(schedule, at, windows)
        timings = []
        nobody = 0
        for at in instants:
            if cold:
                resolve_local.cache_clear()
            began = time.perf_counter()
            shift = on_call_at(schedule, at, windows)
            timings.append((time.perf_counter() - began) * 1000)
            nobody += shift is None
        p50, p99, worst = percentile(timings, 0.5), percentile(timings, 0.99), max(timings)
        verdict = "PASS" if p99 <= 1.0 else "MISS"
        verdicts.append(verdict)
        print(f"on_call_at, 3 layers + 200 overrides, {args.samples} instants over {label}: "
              f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {worst:.3f} ms ({nobody} with nobody on call) "
              f"-> p99 <= 1 ms {verdict}")

    year = []
    count = 0
    for _ in range(args.repeat):
        resolve_local.cache_clear()  # cold: every local time of the year is worked out afresh
        began = time.perf_counter()
        shifts = schedule_shifts(schedule, START + timedelta(days=100), START + timedelta(days=465), overrides)
        year.append((time.perf_counter() - began) * 1000)
        count = len(shifts)
    best, median = min(year), statistics.median(year)
    verdict = "PASS" if median <= 50 else "MISS"
    verdicts.append(verdict)
    print(f"schedule_shifts, one year (365 days, {count} shifts in the final rota), 3 layers + overrides: "
          f"best {best:.1f} ms, median {median:.1f} ms of {args.repeat} -> <= 50 ms {verdict}")
    return 0 if all(v == "PASS" for v in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
