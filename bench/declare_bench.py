#!/usr/bin/env python3
"""Declare benchmark: 200 `/incident declare sev1 …` slash commands, 10 at a time, against the real bot.

The real `Runtime` (Bolt app behind waitress, the provisioning sweep, the real SlackGateway) runs in this
process, pointed at the local Slack simulator with 50 ms added to every Web API call, on a fresh SQLite
file (or, with --database-url, a scratch PostgreSQL database created and dropped around the run).

Measured per declare:
  ack          client-side HTTP round trip of the signed slash command (what Slack's 3 s timer sees)
  card posted  send time -> the simulator recording chat.postMessage into the incident's channel
  fully done   send time -> the last of the incident's Slack calls (the stakeholder announcement)
  calls        Web API calls the simulator recorded (response_url posts and start-up calls excluded)
plus resident memory of this process after the run (bot + simulator + load generator: an upper bound).

Run:  .venv/bin/python bench/declare_bench.py [--database-url postgresql://postgres@127.0.0.1:5432/test] [--json out.json]
Exit status: 0 whether or not targets are met (this is a measurement); 1 if something broke
(a non-200 ack, a declare never provisioned, a Slack spec violation).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import commands.declare as declare_command  # noqa: E402
from bot.config import IncidentConfig, Severity  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Incident  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace  # noqa: E402
from bot.slack_sim.server import _Handler as _SimHandler  # noqa: E402

SIGNING_SECRET = "bench-signing-secret-0123456789"
BOT_TOKEN = "xoxb-sim-token"
STAKEHOLDER_CHANNEL = "C0STAKE"
DECLARER = "U0IC"

TARGETS = {  # name -> (limit, unit)
    "ack_p99_ms": 25.0,
    "card_p99_ms": 150.0,
    "done_p99_ms": 250.0,
    "calls_per_declare_max": 6,
    "rss_mib": 80.0,
}


# ---------------------------------------------------------------------------------------------------------
# set-up: config, database, bot


def bench_config() -> IncidentConfig:
    """The tests' config: sev1 pages the S0ONCALL user group; announcements go to C0STAKE."""
    base = IncidentConfig()
    severities = dict(base.severities)
    s1 = severities["sev1"]
    severities["sev1"] = Severity(label=s1.label, description=s1.description, responders=("S0ONCALL",))
    return IncidentConfig(stakeholder_channel=STAKEHOLDER_CHANNEL, severities=severities)


@contextmanager
def scratch_database(url: str | None, tmp: Path) -> Iterator[str]:
    """A fresh SQLite file, or a scratch PostgreSQL database next to the one named (created, then dropped)."""
    if url is None:
        yield f"sqlite:///{tmp / 'sevbot-bench.db'}"
        return
    admin_url = load_settings(database_url=url).database_url  # normalises postgresql:// -> postgresql+psycopg://
    if not admin_url.startswith("postgresql"):
        yield admin_url  # a SQLite URL given explicitly: use it as is
        return
    name = f"sevbot_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ---------------------------------------------------------------------------------------------------------
# instrumentation (in-process wrappers around instances; no bot code is changed)


@dataclass
class Probe:
    """Where the time goes: per incident, Slack calls and DB transactions seen from inside the bot."""

    local: threading.local = field(default_factory=threading.local)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: dict[int, list[tuple[str, float, float]]] = field(default_factory=lambda: defaultdict(list))  # id -> (method, start, dur)
    db: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))  # id -> transaction durations
    run_window: dict[int, tuple[float, float]] = field(default_factory=dict)  # id -> provisioner.run start/end
    record_s: list[float] = field(default_factory=list)  # declare(): recording the incident before the ack
    profiles: list[cProfile.Profile] = field(default_factory=list)
    profile: bool = False
    profile_clock: str = "wall"
    stop: threading.Event = field(default_factory=threading.Event)
    queue_samples: list[int] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # component -> CPU seconds (thread_time)

    def add_cpu(self, component: str, seconds: float) -> None:
        with self.lock:
            self.cpu[component] += seconds

    def current(self) -> int | None:
        return getattr(self.local, "incident", None)


def instrument(runtime: Runtime, probe: Probe) -> None:
    services = runtime.services
    gateway, provisioner, db = services.gateway, services.provisioner, services.db

    orig_call = gateway._call  # noqa: SLF001 - bench instrumentation

    def timed_call(method: str, **args: Any) -> dict[str, Any]:
        t0 = time.time()
        try:
            return orig_call(method, **args)
        finally:
            inc = probe.current()
            if inc is not None:
                with probe.lock:
                    probe.calls[inc].append((method, t0, time.time() - t0))

    gateway._call = timed_call  # type: ignore[method-assign]

    orig_run = provisioner.run

    def timed_run(incident_id: int):  # type: ignore[no-untyped-def]
        probe.local.incident = incident_id
        prof = (cProfile.Profile(time.thread_time) if probe.profile_clock == "cpu" else cProfile.Profile()) if probe.profile else None
        t0 = time.time()
        c0 = time.thread_time()
        if prof:
            prof.enable()
        try:
            return orig_run(incident_id)
        finally:
            if prof:
                prof.disable()
            probe.add_cpu("bot: provisioning (listener threads)", time.thread_time() - c0)
            with probe.lock:
                probe.run_window.setdefault(incident_id, (t0, time.time()))
                if prof:
                    probe.profiles.append(prof)
            probe.local.incident = None

    provisioner.run = timed_run  # type: ignore[method-assign]

    orig_uow = db.unit_of_work

    @contextmanager
    def timed_uow():  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        with orig_uow() as session:
            yield session
        inc = probe.current()
        if inc is not None:
            with probe.lock:
                probe.db[inc].append(time.perf_counter() - t0)

    db.unit_of_work = timed_uow  # type: ignore[method-assign]

    orig_declare = declare_command.declare

    def timed_declare(*a: Any, **kw: Any):  # type: ignore[no-untyped-def]
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return orig_declare(*a, **kw)
        finally:
            probe.add_cpu("bot: record incident, pre-ack (listener)", time.thread_time() - c0)
            with probe.lock:
                probe.record_s.append(time.perf_counter() - t0)

    declare_command.declare = timed_declare  # type: ignore[assignment]

    # CPU per component: the WSGI request (verify signature, Bolt, wait for ack) on waitress's worker threads,
    # and every HTTP request the simulator serves.
    server = runtime.server
    orig_app = server.application  # type: ignore[union-attr]

    def timed_app(environ, start_response):  # type: ignore[no-untyped-def]
        c0 = time.thread_time()
        try:
            return orig_app(environ, start_response)
        finally:
            probe.add_cpu("bot: HTTP request + Bolt (waitress workers)", time.thread_time() - c0)

    server.application = timed_app  # type: ignore[union-attr]

    global _ORIG_DISPATCH
    _ORIG_DISPATCH = _SimHandler._dispatch

    def timed_dispatch(self):  # type: ignore[no-untyped-def]
        c0 = time.thread_time()
        try:
            return _ORIG_DISPATCH(self)
        finally:
            probe.add_cpu("Slack simulator (request handlers)", time.thread_time() - c0)

    _SimHandler._dispatch = timed_dispatch  # type: ignore[method-assign]

    # How many Bolt listener tasks wait for a free worker (a declare's ack cannot happen before its task runs).
    executor = runtime.app._listener_runner.listener_executor  # noqa: SLF001
    queue = getattr(executor, "_work_queue", None)
    if queue is not None:
        def sample() -> None:
            while not probe.stop.is_set():
                depth = queue.qsize()
                with probe.lock:
                    probe.queue_samples.append(depth)
                time.sleep(0.01)

        threading.Thread(target=sample, name="bench-queue-sampler", daemon=True).start()


_ORIG_DISPATCH = None


def uninstrument() -> None:
    import bot.usecases.declare as uc

    declare_command.declare = uc.declare  # type: ignore[assignment]
    if _ORIG_DISPATCH is not None:
        _SimHandler._dispatch = _ORIG_DISPATCH  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------------------
# measuring


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples is the 198th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": pct(values, 50), "p99": pct(values, 99), "max": max(values) if values else float("nan"),
            "mean": statistics.fmean(values) if values else float("nan")}


def memory() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0]) / 1024.0  # kB -> MiB
    return out


@dataclass
class Sent:
    index: int
    title: str
    sent_at: float  # time.time() just before the request
    status: int
    ack_s: float
    incident_id: int | None
    body: str


def listen_overflows() -> int | None:
    """System-wide TcpExt ListenOverflows: connections dropped because a listen queue was full."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for keys, values in zip(lines[::2], lines[1::2]):
        if keys.startswith("TcpExt:"):
            table = dict(zip(keys.split()[1:], values.split()[1:]))
            return int(table.get("ListenOverflows", 0))
    return None


ACK_RE = re.compile(r"Declaring INC-(\d+)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="sevbot-bench-") as tmpdir, scratch_database(args.database_url, Path(tmpdir)) as url:
        return _run(args, url)


def _run(args: argparse.Namespace, database_url: str) -> int:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()
    sim.latency = args.latency
    settings = load_settings(
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_app_token=None,
        slack_api_url=sim.api_url, database_url=database_url, sevbot_host="127.0.0.1", sevbot_port=0, sevbot_config=None,
    )
    upgrade(settings.database_url)
    runtime = Runtime.create(settings, bench_config(), sweep_seconds=3600)
    probe = Probe(profile=args.profile is not None, profile_clock=args.profile_clock)
    if not args.plain:
        instrument(runtime, probe)
    runtime.start_background()
    problems: list[str] = []
    try:
        driver = SlackDriver(sim, runtime.url + "/slack/events", SIGNING_SECRET, timeout=30)
        time.sleep(0.3)  # let the start-up sweep (empty: nothing pending) finish before counting
        startup_calls = [c for c in sim.calls if c.method != "response_url"]
        startup_count = len(startup_calls)
        mem_before = memory()
        overflows_before = listen_overflows()
        cpu_before = time.process_time()

        def send(i: int) -> Sent:
            title = f"Bench outage number {i:03d} in checkout"
            c0 = time.thread_time()
            t0 = time.time()
            resp = driver.slash_command(DECLARER, f"declare sev1 {title}")
            m = ACK_RE.search(resp.text)
            probe.add_cpu("load generator (sender threads)", time.thread_time() - c0)
            if args.pause:
                time.sleep(args.pause)
            return Sent(i, title, t0, resp.status, resp.elapsed, int(m.group(1)) if m else None, resp.text)

        started = time.time()
        with ThreadPoolExecutor(max_workers=args.concurrency, thread_name_prefix="bench-sender") as pool:
            sent = list(pool.map(send, range(args.declares)))
        sent_done = time.time()

        bad = [s for s in sent if s.status != 200 or s.incident_id is None]
        for s in bad[:5]:
            problems.append(f"declare {s.index}: HTTP {s.status}, body {s.body[:200]!r}")
        if bad:
            problems.append(f"{len(bad)} of {len(sent)} declares were not acked with 'Declaring INC-n'")

        # Wait for every declare to be provisioned.
        db = runtime.services.db
        deadline = time.monotonic() + args.timeout
        while True:
            with db.unit_of_work() as session:
                done = session.scalar(select(func.count()).select_from(Incident).where(Incident.provisioned_at.is_not(None))) or 0
            if done >= args.declares or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        all_done = time.time()
        if done < args.declares:
            problems.append(f"only {done} of {args.declares} incidents provisioned within {args.timeout:.0f}s")
        time.sleep(0.2)  # the final response_url posts land after provisioned_at; let them settle
        mem_after = memory()
        cpu_total = time.process_time() - cpu_before
        probe.stop.set()
        overflows_after = listen_overflows()

        with db.unit_of_work() as session:
            rows = list(session.execute(select(Incident.id, Incident.title, Incident.channel_id, Incident.card_ts,
                                               Incident.announcement_ts, Incident.provisioned_at)))
        by_id = {r.id: r for r in rows}

        # Map the simulator's calls to incidents: by channel id (create/invite/topic/card/pin) and by the
        # announcement's ts in the stakeholder channel. What maps to none (usergroups.users.list) is shared.
        with sim._lock:  # noqa: SLF001 - snapshot
            calls = list(sim.calls)
        web_calls = calls[startup_count:]
        web_calls = [c for c in web_calls if c.method != "response_url"]
        channel_to_inc = {r.channel_id: r.id for r in rows if r.channel_id}
        announce_to_inc = {r.announcement_ts: r.id for r in rows if r.announcement_ts}
        per_inc: dict[int, list[Any]] = defaultdict(list)
        unattributed: list[Any] = []
        for c in web_calls:
            inc = None
            if c.method == "conversations.create":
                inc = channel_to_inc.get(((c.response.get("channel") or {}).get("id")))
            elif c.method == "chat.postMessage" and c.args.get("channel") == STAKEHOLDER_CHANNEL:
                inc = announce_to_inc.get(c.response.get("ts"))
            elif c.args.get("channel") in channel_to_inc:
                inc = channel_to_inc[c.args["channel"]]
            (per_inc[inc].append(c) if inc is not None else unattributed.append(c))

        ack_ms, card_ms, done_ms, calls_per = [], [], [], []
        calls_per_incl_shared: list[int] = []
        for s in sent:
            if s.incident_id is None:
                continue
            ack_ms.append(s.ack_s * 1000)
            mine = per_inc.get(s.incident_id, [])
            row = by_id.get(s.incident_id)
            card = next((c for c in mine if c.method == "chat.postMessage" and row is not None
                         and c.args.get("channel") == row.channel_id and c.response.get("ts") == row.card_ts), None)
            if card is not None:
                card_ms.append((card.at - s.sent_at) * 1000)
            if mine and row is not None and row.announcement_ts:
                done_ms.append((max(c.at for c in mine) - s.sent_at) * 1000)
            calls_per.append(len(mine))
            shared = len(probe.calls.get(s.incident_id, [])) if not args.plain else len(mine)
            calls_per_incl_shared.append(shared)

        mean_calls = len(web_calls) / max(1, args.declares)
        max_calls = max(calls_per_incl_shared) if calls_per_incl_shared else 0
        if args.plain and unattributed:
            # Without the probes the shared usergroups.users.list calls cannot be pinned to a declare:
            # assume the worst (one of them landed on the busiest declare).
            max_calls += 1
        by_method: dict[str, int] = defaultdict(int)
        for c in web_calls:
            by_method[c.method] += 1

        if sim.violations:
            problems.append(f"{len(sim.violations)} Slack spec violations, e.g. {sim.violations[:3]}")

        results: dict[str, Any] = {
            "backend": backend,
            "declares": args.declares,
            "concurrency": args.concurrency,
            "pause_s": args.pause,
            "sim_latency_ms": args.latency * 1000,
            "instrumented": not args.plain,
            "wall_s": {"send_all": sent_done - started, "until_all_provisioned": all_done - started},
            "ack_ms": summary(ack_ms),
            "card_posted_ms": summary(card_ms),
            "fully_done_ms": summary(done_ms),
            "web_api_calls": {
                "startup": startup_count, "startup_methods": sorted({c.method for c in startup_calls}),
                "total_during_run": len(web_calls), "per_declare_mean": mean_calls,
                "per_declare_max": max_calls, "unattributed_shared": len(unattributed),
                "by_method": dict(sorted(by_method.items())),
            },
            "memory_mib": {"rss_before": mem_before.get("VmRSS"), "rss_after": mem_after.get("VmRSS"),
                           "hwm_after": mem_after.get("VmHWM"),
                           "note": "this process = bot + Slack simulator + load generator: an upper bound on the bot"},
            "cpu_s": {"process_total": cpu_total, **{k: v for k, v in sorted(probe.cpu.items())},
                      "unaccounted (waitress I/O thread, response_url posts' server side, polling, GC)":
                          cpu_total - sum(probe.cpu.values())} if not args.plain else {"process_total": cpu_total},
            "tcp_listen_overflows_during_run": (None if overflows_before is None or overflows_after is None
                                                else overflows_after - overflows_before),
            "problems": problems,
        }
        if not args.plain:
            results["breakdown"] = breakdown(sent, probe, per_inc, by_id)
        results["targets"] = verdicts(results)
        print_report(results)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
            print(f"\nresults written to {args.json}")
        if args.profile and probe.profiles:
            write_profile(probe.profiles, args.profile)
        return 1 if problems else 0
    finally:
        runtime.stop()
        sim.stop()
        uninstrument()


def breakdown(sent: list[Sent], probe: Probe, per_inc: dict[int, list[Any]], by_id: dict[int, Any]) -> dict[str, Any]:
    """Per declare: waiting before provisioning starts, time inside Slack calls, DB transactions, the rest."""
    queue_ms, slack_ms, db_ms, other_ms, run_ms, card_slack_ms = [], [], [], [], [], []
    for s in sent:
        if s.incident_id is None or s.incident_id not in probe.run_window:
            continue
        start, end = probe.run_window[s.incident_id]
        calls = probe.calls.get(s.incident_id, [])
        slack = sum(d for _, _, d in calls)
        dbt = sum(probe.db.get(s.incident_id, []))
        queue_ms.append((start - s.sent_at) * 1000)
        run_ms.append((end - start) * 1000)
        slack_ms.append(slack * 1000)
        db_ms.append(dbt * 1000)
        other_ms.append(max(0.0, (end - start) - slack - dbt) * 1000)
        # Slack calls that must finish before the card can be posted (sequential in the provisioner).
        before_card, seen_post = 0.0, False
        for method, _, d in calls:
            if method == "chat.postMessage" and not seen_post:
                before_card += d
                seen_post = True
                break
            before_card += d
        card_slack_ms.append(before_card * 1000)
    call_ms: dict[str, list[float]] = defaultdict(list)
    for calls in probe.calls.values():
        for method, _, d in calls:
            call_ms[method].append(d * 1000)
    return {
        "send_to_provision_start_ms": summary(queue_ms),
        "provisioner_run_ms": summary(run_ms),
        "in_slack_calls_ms": summary(slack_ms),
        "slack_calls_up_to_card_ms": summary(card_slack_ms),
        "in_db_transactions_ms": summary(db_ms),
        "rest_of_run_ms": summary(other_ms),
        "record_incident_before_ack_ms": summary([x * 1000 for x in probe.record_s]),
        "web_api_call_ms_by_method": {m: summary(v) for m, v in sorted(call_ms.items())},
        "db_transactions_per_declare": summary([float(len(v)) for v in probe.db.values()]),
        "listener_queue_depth": {"max": max(probe.queue_samples, default=0),
                                 "mean": statistics.fmean(probe.queue_samples) if probe.queue_samples else 0.0,
                                 "share_of_samples_nonzero": (sum(1 for d in probe.queue_samples if d) / len(probe.queue_samples))
                                 if probe.queue_samples else 0.0},
    }


def verdicts(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    measured = {
        "ack_p99_ms": r["ack_ms"]["p99"],
        "card_p99_ms": r["card_posted_ms"]["p99"],
        "done_p99_ms": r["fully_done_ms"]["p99"],
        "calls_per_declare_max": r["web_api_calls"]["per_declare_max"],
        "rss_mib": r["memory_mib"]["rss_after"],
    }
    return {k: {"measured": v, "target": TARGETS[k], "pass": bool(v == v and v <= TARGETS[k])} for k, v in measured.items()}


def print_report(r: dict[str, Any]) -> None:
    def row(name: str, s: dict[str, float], target: str, ok: bool | None) -> str:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        return f"  {name:<26}{s['p50']:>9.1f}{s['p99']:>9.1f}{s['max']:>9.1f}   {target:<16}{verdict}"

    t = r["targets"]
    w = r["web_api_calls"]
    m = r["memory_mib"]
    print(f"\nsevbot declare benchmark — {r['backend']}, {r['declares']} declares, {r['concurrency']} concurrent, "
          f"Slack latency {r['sim_latency_ms']:.0f} ms/call, Python {platform.python_version()}")
    print(f"  all sent in {r['wall_s']['send_all']:.2f}s; all provisioned after {r['wall_s']['until_all_provisioned']:.2f}s")
    print(f"\n  {'':<26}{'p50':>9}{'p99':>9}{'max':>9}   {'target':<16}")
    print(row("ack (ms)", r["ack_ms"], "p99 <= 25 ms", t["ack_p99_ms"]["pass"]))
    print(row("declare -> card (ms)", r["card_posted_ms"], "p99 <= 150 ms", t["card_p99_ms"]["pass"]))
    print(row("declare -> done (ms)", r["fully_done_ms"], "p99 <= 250 ms", t["done_p99_ms"]["pass"]))
    print(f"  {'Web API calls / declare':<26}{'mean':>9}{'max':>9}")
    print(f"  {'':<26}{w['per_declare_mean']:>9.2f}{w['per_declare_max']:>9d}{'':>9}   {'<= 6':<16}"
          f"{'PASS' if t['calls_per_declare_max']['pass'] else 'MISS'}")
    print(f"    start-up calls excluded: {w['startup']} ({', '.join(w['startup_methods'])}); during run {w['total_during_run']}:"
          f" {', '.join(f'{k} {v}' for k, v in w['by_method'].items())}")
    print(f"  {'RSS after run (MiB)':<26}{m['rss_after']:>9.1f}{'':>18}   {'<= 80 MiB':<16}{'PASS' if t['rss_mib']['pass'] else 'MISS'}")
    print(f"    VmHWM {m['hwm_after']:.1f} MiB, RSS before declares {m['rss_before']:.1f} MiB; {m['note']}")
    b = r.get("breakdown")
    if b:
        print("\n  where the time goes (in-process probes)   p50      p99      max")
        for key, label in (("record_incident_before_ack_ms", "record incident (pre-ack)"),
                           ("send_to_provision_start_ms", "send -> provisioning start"),
                           ("provisioner_run_ms", "provisioner.run"),
                           ("in_slack_calls_ms", "  of which Slack calls"),
                           ("slack_calls_up_to_card_ms", "  Slack calls up to the card"),
                           ("in_db_transactions_ms", "  of which DB transactions"),
                           ("rest_of_run_ms", "  the rest (render, etc.)")):
            s = b[key]
            print(f"    {label:<36}{s['p50']:>8.1f}{s['p99']:>9.1f}{s['max']:>9.1f}")
        print(f"    DB transactions per provisioning run: mean {b['db_transactions_per_declare']['mean']:.1f}")
        q = b["listener_queue_depth"]
        print(f"    Bolt listener tasks queued for a free worker (16 workers): max {q['max']}, mean {q['mean']:.1f}, "
              f"non-zero in {q['share_of_samples_nonzero']:.0%} of 10 ms samples")
        for method, s in b["web_api_call_ms_by_method"].items():
            print(f"    {method:<36}{s['p50']:>8.1f}{s['p99']:>9.1f}{s['max']:>9.1f}")
    cpu = r["cpu_s"]
    print(f"\n  CPU time of this process during the run: {cpu['process_total']:.2f}s "
          f"({cpu['process_total'] / r['wall_s']['until_all_provisioned']:.2f} cores avg over {r['wall_s']['until_all_provisioned']:.1f}s wall)")
    for k, v in cpu.items():
        if k != "process_total":
            print(f"    {k:<60}{v:>7.2f}s  {v / r['declares'] * 1000:>6.1f} ms/declare")
    if r["tcp_listen_overflows_during_run"]:
        print(f"  TCP ListenOverflows during the run: {r['tcp_listen_overflows_during_run']} (a full listen queue drops the SYN;"
              " the client retries after 1 s)")
    if r["problems"]:
        print("\nBROKEN:")
        for p in r["problems"]:
            print(f"  - {p}")


def write_profile(profiles: list[cProfile.Profile], path: str) -> None:
    stats = pstats.Stats(profiles[0])
    for p in profiles[1:]:
        stats.add(p)
    stats.dump_stats(path)
    buf = io.StringIO()
    pstats.Stats(path, stream=buf).sort_stats("cumulative").print_stats(25)
    print(f"\ncProfile of provisioner.run across all declares (written to {path}; seconds summed over threads):")
    print(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("SEVBOT_BENCH_DATABASE_URL"),
                        help="PostgreSQL server to create a scratch database on (default: a temp SQLite file)")
    parser.add_argument("--declares", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the simulator adds to each Web API call")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for all declares to be provisioned")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds each sender waits after an ack (0: closed loop)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--plain", action="store_true", help="no in-process probes (no time breakdown)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile every provisioning run and write pstats to FILE")
    parser.add_argument("--profile-clock", choices=("wall", "cpu"), default="wall",
                        help="wall: where provisioning waits (DB locks, Slack); cpu: where it burns the GIL")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
