#!/usr/bin/env python3
"""Scheduler benchmark: 10,000 open incidents whose stakeholder-update reminders fall due spread over 15 minutes.

The bot under test is a separate `sevbot serve` process (`python -m bot migrate`, then `python -m bot serve`),
configured only through its environment: SLACK_API_URL points it at the local Slack simulator (no added latency
unless --latency), DATABASE_URL is a fresh SQLite file (or, with --database-url, a scratch PostgreSQL database
created and dropped around the run), SEVBOT_UPDATE_INTERVAL is 1h, longer than the window, so each reminder fires
exactly once during the run. The simulator runs in this process; the bot's CPU and memory come from /proc/<pid>.

Set-up, before the bot starts: N incidents (default 10,000), each open, provisioned, with an IC and an existing
simulator channel the bot is in, and one `update_reminder` timer. The due times are evenly spaced over the window
(default 900 s; --window 120 for a quick run), starting --lead seconds after seeding so the bot is up first.
Everything is bulk-inserted with SQLAlchemy Core; the due times are kept in memory.

Measured, from outside the bot:
  firing lateness    timeline_events.at of the incident's `update_reminder` event (when the tick decided it) - due_at
  delivery lateness  the simulator's record (RecordedCall.at) of chat.postMessage into the incident channel - due_at
  tick cost          bot CPU (utime+stime from /proc/<pid>/stat) over the window / window seconds (= ticks at 1 s);
                     also while idle before the first due time (empty ticks), and per reminder
  tick in-process    after the run, on the same (scratch) database: Scheduler.tick() timed in this process with
                     nothing due, and with 200 due rows (one claim batch) - decision only, delivery excluded
  memory             VmRSS / VmHWM of the serve process after start-up and after the run
  exactly once       every incident: one update_reminder timeline event and one chat.postMessage into its channel

Run:  .venv/bin/python bench/scheduler_bench.py [--window 120] [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                                 [--json out.json]
Exit status: 0 whether or not the targets are met (this is a measurement); 1 if something broke: the bot failed to
migrate/start/stay up, an incident was reminded (or posted to) other than exactly once, a Slack spec violation.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select, text, update  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bot.db.models import Incident, OutboxItem, RoleAssignment, TimelineEvent, Timer  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.slack_sim import SlackSimulator, Workspace  # noqa: E402
from bot.slack_sim.state import Channel  # noqa: E402
from serve_harness import (BOT_TOKEN, BotProcess, argument_parser, print_problems, proc_cpu,  # noqa: E402
                           proc_status, scratch_database)
from serve_harness import summary as harness_summary  # noqa: E402

IC = "U0L1"
TARGETS = {"firing_lateness_p99_s": 1.0, "rss_mib": 200.0}
TICK_SECONDS = 1.0  # bot.runtime.TICK_SECONDS
BATCH = 200  # bot.scheduler.tick.BATCH
TICK_LOG_MARKERS = {  # counted in the serve log; APScheduler logs these at WARNING
    "ticks_skipped_still_running": "maximum number of running instances reached",  # previous tick still running
    "ticks_missed": "was missed by",  # a tick run late
}


def channel_id(n: int) -> str:
    return f"CSCHED{n:05d}"


# ---------------------------------------------------------------------------------------------------------
# set-up: database, seeding, the bot process


def seed(database_url: str, sim: SlackSimulator, count: int, window: float, lead: float) -> tuple[dict[int, float], float]:
    """N open incidents with channels the bot is in, an IC, and one update reminder each; returns
    {incident id: due time (epoch s)} and the seconds seeding took. Due times are evenly spaced over the window."""
    t0 = time.monotonic()
    engine = create_engine(database_url, poolclass=NullPool)
    now = datetime.now(timezone.utc)
    for n in range(1, count + 1):
        sim.workspace.channels[channel_id(n)] = Channel(channel_id(n), f"sev3-sched-{n}", creator="U0BOT", members={"U0BOT", IC})
    incidents = [dict(id=n, title=f"Scheduler bench {n}", severity="sev3", status="investigating", declared_by=IC,
                      declared_at=now, channel_id=channel_id(n), channel_name=f"sev3-sched-{n}", provisioned_at=now,
                      provision_attempts=1, card_version=0, card_synced_version=0) for n in range(1, count + 1)]
    roles = [dict(incident_id=n, role="ic", user_id=IC, assigned_by=IC, assigned_at=now) for n in range(1, count + 1)]
    with engine.begin() as conn:
        for chunk in range(0, count, 2000):
            conn.execute(insert(Incident.__table__), incidents[chunk:chunk + 2000])
            conn.execute(insert(RoleAssignment.__table__), roles[chunk:chunk + 2000])
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('incidents_id_seq', :n)"), {"n": count})
    # The timers last, with the window starting `lead` seconds from now (after the bot is up).
    start = time.time() + lead
    due = {n: start + window * (n - 1) / count for n in range(1, count + 1)}
    timers = [dict(incident_id=n, kind="update_reminder", ref_id=0, due_at=datetime.fromtimestamp(due[n], timezone.utc),
                   fired=0, fence=0) for n in range(1, count + 1)]
    with engine.begin() as conn:
        for chunk in range(0, count, 2000):
            conn.execute(insert(Timer.__table__), timers[chunk:chunk + 2000])
    engine.dispose()
    return due, time.monotonic() - t0


# ---------------------------------------------------------------------------------------------------------
# measuring


def summary(values: list[float]) -> dict[str, float]:
    """The shared summary with p90 and min as well: lateness spreads wider than one p50/p99 pair shows."""
    return harness_summary(values, (50, 90, 99), with_min=True)


class PostWatcher:
    """Reads the simulator's recorded calls incrementally: first chat.postMessage per bench channel, and counts."""

    def __init__(self, sim: SlackSimulator, count: int) -> None:
        self.sim, self.count = sim, count
        self.seen = 0
        self.first_at: dict[int, float] = {}
        self.posts: Counter[int] = Counter()
        self.other_calls: Counter[str] = Counter()

    def poll(self) -> int:
        with self.sim._lock:  # noqa: SLF001 - a snapshot of the new records
            new = self.sim.calls[self.seen:]
        self.seen += len(new)
        for call in new:
            channel = str(call.args.get("channel", ""))
            if call.method == "chat.postMessage" and channel.startswith("CSCHED") and call.ok:
                n = int(channel[6:])
                self.posts[n] += 1
                self.first_at.setdefault(n, call.at)
            else:
                self.other_calls[call.method] += 1
        return len(self.first_at)


def sleep_until(epoch: float) -> None:
    while (left := epoch - time.time()) > 0:
        time.sleep(min(left, 0.5))


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="sevbot-schedbench-") as tmpdir, \
            scratch_database(args.database_url, Path(tmpdir), sqlite_name="sevbot-sched-bench.db",
                             pg_prefix="sevbot_schedbench_") as url:
        return _run(args, url, Path(tmpdir))


def _run(args: argparse.Namespace, database_url: str, tmp: Path) -> int:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()
    sim.latency = args.latency
    bot = BotProcess(database_url, sim.api_url, tmp, extra_env={"SEVBOT_UPDATE_INTERVAL": args.interval},
                     stop_timeout=30.0)
    problems: list[str] = []
    n = args.incidents
    try:
        try:
            bot.migrate()
        except RuntimeError as exc:
            print(f"BROKEN: {exc}", file=sys.stderr)
            return 1
        due, seed_s = seed(database_url, sim, n, args.window, args.lead)
        start, end = due[1], due[1] + args.window
        print(f"seeded {n} incidents + timers in {seed_s:.1f}s on {backend}; reminders due from "
              f"{datetime.fromtimestamp(start, timezone.utc):%H:%M:%S} over {args.window:.0f}s "
              f"({n / args.window:.1f}/s)", flush=True)
        try:
            startup_s = bot.start()
        except RuntimeError as exc:
            print(f"BROKEN: {exc}", file=sys.stderr)
            return 1
        healthy_at = time.time()
        if healthy_at > start:
            problems.append(f"the bot was healthy {healthy_at - start:.1f}s after the first due time: raise --lead")
        # Idle: empty ticks only (nothing due yet), after start-up settles.
        time.sleep(min(2.0, max(0.0, start - time.time() - 4)))
        mem_start = proc_status(bot.pid)
        idle_t0, idle_cpu0 = time.time(), proc_cpu(bot.pid)
        sleep_until(start - 0.5)
        idle_s, idle_cpu = time.time() - idle_t0, proc_cpu(bot.pid) - idle_cpu0

        watcher = PostWatcher(sim, n)
        watcher.poll()
        cpu0, t0 = proc_cpu(bot.pid), time.time()
        rss_samples: list[float] = []
        next_report = start + 30
        while time.time() < end:
            time.sleep(1.0)
            if not bot.alive():
                problems.append(f"sevbot serve exited {bot.proc.returncode} during the run:\n{bot.log_tail()}")  # type: ignore[union-attr]
                break
            rss_samples.append(proc_status(bot.pid).get("VmRSS", float("nan")))
            delivered = watcher.poll()
            if time.time() >= next_report:
                next_report += 30
                print(f"  t+{time.time() - start:5.0f}s  due so far {sum(1 for d in due.values() if d <= time.time())}"
                      f"  delivered {delivered}  RSS {rss_samples[-1]:.1f} MiB", flush=True)
        window_cpu, window_wall = (proc_cpu(bot.pid) - cpu0, time.time() - t0) if bot.alive() else (float("nan"), float("nan"))
        # The tail: wait for the last deliveries while they keep coming (a backlog drains slowly), up to --grace.
        deadline, last_count, last_progress = end + args.grace, -1, time.time()
        while bot.alive() and (delivered := watcher.poll()) < n and time.time() < deadline:
            if delivered != last_count:
                last_count, last_progress = delivered, time.time()
            elif time.time() - last_progress > args.stall:
                break
            if time.time() >= next_report:
                next_report += 30
                print(f"  t+{time.time() - start:5.0f}s  (window over)  delivered {delivered}", flush=True)
            time.sleep(0.2)
        all_delivered_s = (max(watcher.first_at.values()) - start) if watcher.first_at else float("nan")
        time.sleep(min(args.grace, 2.0))  # a duplicate would show up here
        log_warnings = [l for l in bot.log_path.read_text(errors="replace").splitlines() if " WARNING " in l or " ERROR " in l]
        watcher.poll()
        total_cpu, total_wall = (proc_cpu(bot.pid) - cpu0, time.time() - t0) if bot.alive() else (float("nan"), float("nan"))
        mem_end = proc_status(bot.pid) if bot.alive() else {}
        rc = bot.stop()
        if rc not in (0, None):
            problems.append(f"sevbot serve exited {rc} on SIGTERM")

        # Decisions, from the database.
        reader = create_engine(database_url, poolclass=NullPool)
        with reader.connect() as conn:
            events = list(conn.execute(select(TimelineEvent.incident_id, TimelineEvent.at)
                                       .where(TimelineEvent.kind == "update_reminder")))
            outbox_failed = conn.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.last_error.is_not(None))) or 0
            outbox_pending = conn.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.done_at.is_(None))) or 0
        reader.dispose()
        fired = Counter(e.incident_id for e in events)
        decided_at: dict[int, float] = {}
        for e in events:
            decided_at.setdefault(e.incident_id, e.at.timestamp())
        firing = [decided_at[i] - due[i] for i in decided_at if i in due]
        delivery = [watcher.first_at[i] - due[i] for i in watcher.first_at if i in due]
        not_fired = [i for i in due if fired[i] == 0]
        fired_twice = [i for i in due if fired[i] > 1]
        not_posted = [i for i in due if watcher.posts[i] == 0]
        posted_twice = [i for i in due if watcher.posts[i] > 1]
        for what, ids in (("never reminded", not_fired), ("reminded more than once", fired_twice),
                          ("no reminder posted", not_posted), ("reminder posted more than once", posted_twice)):
            if ids:
                problems.append(f"{len(ids)} incidents {what}, e.g. INC-{', INC-'.join(map(str, ids[:5]))}")
        early = [x for x in firing if x < -0.001]
        if early:
            problems.append(f"{len(early)} reminders fired before they were due (earliest {min(early):.3f}s)")
        if sim.violations:
            problems.append(f"{len(sim.violations)} Slack spec violations, e.g. {sim.violations[:3]}")
        if outbox_failed:
            problems.append(f"{outbox_failed} outbox items had a Slack error")

        tick_inproc = None
        if args.inprocess and rc in (0, None) and not fired_twice and not posted_twice:
            tick_inproc = time_ticks_in_process(database_url, sim, n, args)

        ticks = window_wall / TICK_SECONDS
        results: dict[str, Any] = {
            "mode": "sevbot serve subprocess",
            "backend": backend,
            "incidents": n,
            "window_s": args.window,
            "due_rate_per_s": n / args.window,
            "update_interval": args.interval,
            "sim_latency_ms": args.latency * 1000,
            "seed_s": seed_s,
            "bot_startup_to_healthz_s": startup_s,
            "last_post_after_window_start_s": all_delivered_s,
            "firing_lateness_s": summary(firing),
            "delivery_lateness_s": summary(delivery),
            "reminders": {"decided": sum(fired.values()), "incidents_reminded": len(decided_at), "posted": sum(watcher.posts.values()),
                          "incidents_posted_to": len(watcher.first_at), "exactly_once": not (not_fired or fired_twice or not_posted or posted_twice),
                          "outbox_pending_at_stop": outbox_pending, "other_web_api_calls": dict(watcher.other_calls)},
            "cpu": {
                "idle_s": idle_cpu, "idle_wall_s": idle_s, "idle_ms_per_tick": idle_cpu / max(1e-9, idle_s / TICK_SECONDS) * 1000,
                "idle_core_pct": idle_cpu / max(1e-9, idle_s) * 100,
                "window_s": window_cpu, "window_wall_s": window_wall, "ticks": ticks,
                "window_ms_per_tick": window_cpu / max(1e-9, ticks) * 1000, "window_core_pct": window_cpu / max(1e-9, window_wall) * 100,
                "run_s": total_cpu, "run_wall_s": total_wall, "ms_per_reminder": total_cpu / max(1, n) * 1000,
                "note": "utime+stime of sevbot serve: the tick (decide) plus the outbox (deliver) and everything else it runs",
            },
            "tick_in_process": tick_inproc,
            "memory_mib": {"rss_start": mem_start.get("VmRSS"), "hwm_start": mem_start.get("VmHWM"),
                           "rss_max_sampled": max(rss_samples) if rss_samples else None,
                           "rss_end": mem_end.get("VmRSS"), "hwm_end": mem_end.get("VmHWM"),
                           "threads_end": int(mem_end.get("Threads", 0))},
            "serve_log": {**bot.log_counts(warnings=True, markers=TICK_LOG_MARKERS), "warnings_and_errors": log_warnings[:20]},
            "python": platform.python_version(),
            "problems": problems,
        }
        results["targets"] = {
            "firing_lateness_p99_s": {"measured": results["firing_lateness_s"]["p99"], "target": TARGETS["firing_lateness_p99_s"]},
            "rss_mib": {"measured": mem_end.get("VmHWM", float("nan")), "target": TARGETS["rss_mib"]},
        }
        for v in results["targets"].values():
            v["pass"] = bool(v["measured"] == v["measured"] and v["measured"] <= v["target"])
        print_report(results)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
            print(f"\nresults written to {args.json}")
        return 1 if problems else 0
    finally:
        bot.stop()
        sim.stop()


def time_ticks_in_process(database_url: str, sim: SlackSimulator, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """Scheduler.tick() in this process, on the run's database (bot stopped): empty ticks, then ticks with 200
    due rows (the claim batch). Only the decision is timed; the delivery it hands off is drained between rounds."""
    import logging

    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    from bot.config import IncidentConfig
    from bot.runtime import Runtime

    settings = load_settings(database_url=database_url, slack_bot_token=BOT_TOKEN, slack_signing_secret="x" * 32,
                             slack_api_url=sim.api_url, sevbot_port=0, sevbot_host="127.0.0.1", sevbot_update_interval=args.interval)
    runtime = Runtime.create(settings, IncidentConfig(), sweep_seconds=3600, tick_seconds=3600)
    core = runtime.core
    try:
        def settle() -> None:
            while core.outbox.drain(limit=1000):
                pass
            time.sleep(0.3)  # the tick's own background drain finishes

        settle()  # deliver any backlog the run left, so the timed ticks don't share the GIL with it
        core.scheduler.tick()  # warm-up (statement cache)
        empty = []
        for _ in range(args.inprocess_rounds * 5):
            t = time.perf_counter()
            core.scheduler.tick()
            empty.append((time.perf_counter() - t) * 1000)
        batch = []
        for r in range(args.inprocess_rounds + 1):  # round 0 warms up the reminder path
            ids = [(r * BATCH + k) % count + 1 for k in range(BATCH)]
            past = core.deps.clock.now() - timedelta(seconds=1)
            with core.deps.db.unit_of_work() as session:
                session.execute(update(Timer).where(Timer.incident_id.in_(ids), Timer.kind == "update_reminder", Timer.done_at.is_(None))
                                .values(due_at=past, fired=0).execution_options(synchronize_session=False))
            t = time.perf_counter()
            result = core.scheduler.tick()
            ms = (time.perf_counter() - t) * 1000
            if result.fired != BATCH:
                return {"error": f"in-process tick fired {result.fired}, expected {BATCH}"}
            if r:
                batch.append(ms)
            settle()
        return {"empty_tick_ms": summary(empty), "tick_200_due_ms": summary(batch),
                "ms_per_reminder_decided": statistics.median(batch) / BATCH, "rounds": args.inprocess_rounds,
                "note": f"Scheduler.tick() wall time in the bench process on the run's database ({count} incidents); "
                        "decision only (claim, timeline event, outbox row, re-arm, commit), not the Slack delivery"}
    finally:
        runtime.stop()


def print_report(r: dict[str, Any]) -> None:
    def row(name: str, s: dict[str, float], unit_scale: float, target: str = "", verdict: bool | None = None) -> str:
        v = "" if verdict is None else ("PASS" if verdict else "MISS")
        return (f"  {name:<30}{s['p50'] * unit_scale:>9.0f}{s['p90'] * unit_scale:>9.0f}{s['p99'] * unit_scale:>9.0f}"
                f"{s['max'] * unit_scale:>9.0f}   {target:<16}{v}")

    t, c, m, rem = r["targets"], r["cpu"], r["memory_mib"], r["reminders"]
    print(f"\nsevbot scheduler benchmark — sevbot serve on {r['backend']}, {r['incidents']} open incidents, one update reminder "
          f"each, due evenly over {r['window_s']:.0f}s ({r['due_rate_per_s']:.1f}/s); tick every {TICK_SECONDS:.0f}s; "
          f"Slack latency {r['sim_latency_ms']:.0f} ms/call; Python {r['python']}")
    print(f"  seeded in {r['seed_s']:.1f}s; bot healthy after {r['bot_startup_to_healthz_s']:.1f}s")
    print(f"\n  {'lateness (ms)':<30}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}   {'target':<16}")
    print(row("firing (decided - due)", r["firing_lateness_s"], 1000, "p99 <= 1000 ms", t["firing_lateness_p99_s"]["pass"]))
    print(row("delivery (posted - due)", r["delivery_lateness_s"], 1000))
    print(f"  last reminder posted {r['last_post_after_window_start_s']:.1f}s after the first was due (window {r['window_s']:.0f}s)")
    print(f"\n  reminders: {rem['decided']} decided for {rem['incidents_reminded']} incidents, {rem['posted']} posted into "
          f"{rem['incidents_posted_to']} channels -> exactly once: {'yes' if rem['exactly_once'] else 'NO'}"
          f"; other Web API calls {rem['other_web_api_calls'] or 'none'}")
    print(f"  bot CPU idle (empty ticks): {c['idle_ms_per_tick']:.1f} ms/tick ({c['idle_core_pct']:.1f} % of a core) over {c['idle_wall_s']:.0f}s")
    print(f"  bot CPU over the window:    {c['window_ms_per_tick']:.1f} ms/tick ({c['window_core_pct']:.1f} % of a core), "
          f"{c['window_s']:.1f}s over {c['ticks']:.0f} ticks; {c['ms_per_reminder']:.2f} ms per reminder decided + delivered")
    ti = r.get("tick_in_process")
    if ti and "error" not in ti:
        print(f"  Scheduler.tick() in-process: empty {ti['empty_tick_ms']['p50']:.1f} ms (p99 {ti['empty_tick_ms']['p99']:.1f}); "
              f"200 due {ti['tick_200_due_ms']['p50']:.0f} ms (max {ti['tick_200_due_ms']['max']:.0f}) = "
              f"{ti['ms_per_reminder_decided']:.2f} ms per reminder decided")
    elif ti:
        print(f"  Scheduler.tick() in-process: {ti['error']}")
    print(f"  RSS (MiB): {m['rss_start']:.1f} before the window (HWM {m['hwm_start']:.1f}); max sampled {m['rss_max_sampled'] or float('nan'):.1f}; "
          f"after the run {m['rss_end'] or float('nan'):.1f}, HWM {m['hwm_end'] or float('nan'):.1f}   "
          f"target HWM <= {TARGETS['rss_mib']:.0f}   {'PASS' if t['rss_mib']['pass'] else 'MISS'}")
    log = r["serve_log"]
    print(f"  serve log: {log.get('error_lines', 0)} ERROR, {log.get('warning_lines', 0)} WARNING lines; ticks skipped (still running) "
          f"{log.get('ticks_skipped_still_running', 0)}, ticks run late {log.get('ticks_missed', 0)}")
    for line in log.get("warnings_and_errors", [])[:5]:
        print(f"    {line[:200]}")
    print_problems(r["problems"])


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=900.0, help="seconds the due times are spread over (default 900 = 15 min)")
    parser.add_argument("--lead", type=float, default=15.0, help="seconds from seeding to the first due time (the bot starts meanwhile)")
    parser.add_argument("--grace", type=float, default=900.0,
                        help="at most this many seconds after the window to wait for the last deliveries")
    parser.add_argument("--stall", type=float, default=30.0,
                        help="stop waiting after the window when no reminder was delivered for this many seconds")
    parser.add_argument("--interval", default="1h", help="SEVBOT_UPDATE_INTERVAL for the bot: longer than the window, so each fires once")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the simulator adds to each Web API call")
    parser.add_argument("--no-inprocess", dest="inprocess", action="store_false", help="skip timing Scheduler.tick() in-process after the run")
    parser.add_argument("--inprocess-rounds", type=int, default=5, help="ticks of 200 due rows to time in-process")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.incidents < 1 or args.window <= 0:
        parser.error("--incidents and --window must be positive")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
