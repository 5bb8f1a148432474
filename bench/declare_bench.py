#!/usr/bin/env python3
"""Declare benchmark: 200 `/incident declare sev1 …` slash commands, 10 at a time, against `sevbot serve`.

The bot under test is a separate `sevbot serve` process (`python -m bot serve`, after `python -m bot migrate`),
configured only through its environment, exactly as it runs in production: SLACK_API_URL points it at the local
Slack simulator, which adds 50 ms to every Web API call; DATABASE_URL is a fresh SQLite file (or, with
--database-url, a scratch PostgreSQL database created and dropped around the run); SEVBOT_CONFIG is a TOML file
that sends sev1 to the S0ONCALL user group and announces in C0STAKE. The simulator and the load generator run in
this process, so they do not share the bot's GIL, and the bot's memory and CPU are read from /proc/<pid>.

Measured per declare, from outside the bot only (the simulator's recorded calls and the database):
  ack          client-side HTTP round trip of the signed slash command (what Slack's 3 s timer sees)
  card posted  send time -> the simulator recording chat.postMessage of the card into the incident's channel
  fully done   send time -> the last of the incident's Web API calls (create, invite, topic, card, pin, announcement)
  calls        Web API calls the simulator recorded during the run (response_url posts and start-up calls excluded)
plus VmRSS/VmHWM of the serve process after start-up and after the run, and its CPU seconds per declare.

"10 at a time" means 10 declares in flight: each of 10 senders sends its next declare when its previous one is fully
provisioned. --burst instead sends on the ack alone, so the offered rate is set by how fast the bot acks (a stress
test: no bot on this stack can provision that fast). The first --warmup declares (10) after start-up are sent the
same way and reported apart as the cold start.

Run:  .venv/bin/python bench/declare_bench.py [--database-url postgresql://postgres@127.0.0.1:5432/test] [--json out.json]
Exit status: 0 whether or not targets are met (this is a measurement); 1 if something broke
(a non-200 ack, a declare never provisioned, a Slack spec violation, the bot failing to start).
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import urllib.request
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bot.similar.notice import METADATA as SIMILAR_METADATA  # noqa: E402
from bot.db.models import Incident  # noqa: E402
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace  # noqa: E402
from serve_harness import (BOT_TOKEN, BotProcess, argument_parser, cpu_since, postgres_cpu, print_problems,  # noqa: E402
                           proc_cpu, proc_status, scratch_database, summary)

STAKEHOLDER_CHANNEL = "C0STAKE"
DECLARER = "U0IC"


def config_toml() -> str:
    """The incident policy for the bot: the default severities, with sev1 paging the S0ONCALL user group and
    announcements in C0STAKE (a [severities] table replaces the defaults, so all of them are written out)."""
    from bot.config import DEFAULT_SEVERITIES

    lines = ["# Written by bench/declare_bench.py", f'stakeholder_channel = "{STAKEHOLDER_CHANNEL}"']
    for key, sev in DEFAULT_SEVERITIES.items():
        responders = ("S0ONCALL",) if key == "sev1" else sev.responders
        lines += ["", f"[severities.{key}]", f"label = {json.dumps(sev.label, ensure_ascii=False)}",
                  f"description = {json.dumps(sev.description, ensure_ascii=False)}",
                  f"responders = {json.dumps(list(responders))}", f"page = {'true' if sev.page else 'false'}"]
    return "\n".join(lines) + "\n"


TARGETS = {  # name -> limit
    "ack_p99_ms": 25.0,
    "card_p99_ms": 150.0,
    "done_p99_ms": 250.0,
    "calls_per_declare_max": 6,
    "rss_mib": 80.0,
}


# ---------------------------------------------------------------------------------------------------------
# measuring


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
    with tempfile.TemporaryDirectory(prefix="sevbot-bench-") as tmpdir, \
            scratch_database(args.database_url, Path(tmpdir), sqlite_name="sevbot-bench.db", pg_prefix="sevbot_bench_") as url:
        return _run(args, url, Path(tmpdir))


def _run(args: argparse.Namespace, database_url: str, tmp: Path) -> int:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    signing_secret = secrets.token_hex(16)
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()
    sim.latency = args.latency
    config = tmp / "sevbot-bench.toml"
    config.write_text(config_toml(), encoding="utf-8")
    bot = BotProcess(database_url, sim.api_url, tmp, signing_secret=signing_secret, extra_env={"SEVBOT_CONFIG": str(config)})
    reader = create_engine(database_url, poolclass=NullPool)  # the bench's own read-only view of the scratch DB
    problems: list[str] = []
    spy: subprocess.Popen[bytes] | None = None
    try:
        try:
            bot.migrate()
            if args.history:
                _seed_history(database_url, args.history)
            startup_s = bot.start()
        except RuntimeError as exc:
            print(f"BROKEN: {exc}", file=sys.stderr)
            return 1
        driver = SlackDriver(sim, bot.url + "/slack/events", signing_secret, timeout=30)
        time.sleep(args.settle)  # let the start-up sweep and cache warming finish before counting
        with sim._lock:  # noqa: SLF001 - snapshot
            startup_calls = [c for c in sim.calls if c.method != "response_url"]
        startup_count = len(startup_calls)
        if args.profile:
            spy = subprocess.Popen([args.py_spy, "record", "-p", str(bot.pid), "-f", "raw", "-o", args.profile,
                                    "-r", "200", "--gil", "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)  # py-spy attaches

        gave_up = threading.Event()  # one declare never provisioned: stop waiting on the rest (reported below)

        def send(i: int) -> Sent:
            title = f"Bench outage number {i:03d} in checkout" if i >= 0 else f"Bench warm-up {-i:03d} in checkout"
            with sim._lock:  # noqa: SLF001 - where to start looking for this declare's calls
                first_call = len(sim.calls)
            t0 = time.time()
            resp = driver.slash_command(DECLARER, f"declare sev1 {title}")
            m = ACK_RE.search(resp.text)
            if not args.burst and m and not gave_up.is_set():
                # "10 at a time" read as 10 declares in flight: the next one goes when this one is fully done, which
                # the bot tells the declarer through the command's response_url ("INC-n is open in #…") once every
                # step is stored. The simulator wakes us when that post arrives: no polling to load the box.
                token = resp.payload["response_url"].rsplit("/", 1)[-1]
                told = sim.wait_for_call(lambda c: c.method == "response_url" and c.args.get("token") == token
                                         and "is open in" in str(c.args.get("text", "")), args.timeout, start=first_call)
                if told is None:
                    gave_up.set()
            if args.pause:
                time.sleep(args.pause)
            return Sent(i, title, t0, resp.status, resp.elapsed, int(m.group(1)) if m else None, resp.text)

        def provisioned_count() -> int:
            with reader.connect() as conn:
                return int(conn.scalar(select(func.count()).select_from(Incident).where(Incident.provisioned_at.is_not(None))) or 0)

        # Warm-up: the first declares after a restart pay for connections, compiled statements and thread start-up,
        # and arrive all at once. They are sent the same way, then reported apart ("cold start"), not in the figures.
        warm: list[Sent] = []
        if args.warmup:
            with ThreadPoolExecutor(max_workers=args.concurrency, thread_name_prefix="bench-warmup") as pool:
                warm = list(pool.map(send, range(-args.warmup, 0)))
            deadline = time.monotonic() + args.timeout
            while provisioned_count() < args.warmup and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)  # the warm-up's response_url posts
        with sim._lock:  # noqa: SLF001 - snapshot
            first_measured_call = len(sim.calls)
        mem_before = proc_status(bot.pid)
        bot_cpu_before = proc_cpu(bot.pid)
        db_cpu_before = postgres_cpu() if backend == "postgresql" else {}
        overflows_before = listen_overflows()
        bench_cpu_before = time.process_time()

        started = time.time()
        with ThreadPoolExecutor(max_workers=args.concurrency, thread_name_prefix="bench-sender") as pool:
            sent = list(pool.map(send, range(args.declares)))
        sent_done = time.time()

        bad = [s for s in sent if s.status != 200 or s.incident_id is None]
        for s in bad[:5]:
            problems.append(f"declare {s.index}: HTTP {s.status}, body {s.body[:200]!r}")
        if bad:
            problems.append(f"{len(bad)} of {len(sent)} declares were not acked with 'Declaring INC-n'")

        # Wait for every declare to be provisioned (read from the scratch database).
        deadline = time.monotonic() + args.timeout
        while True:
            done = provisioned_count() - args.warmup
            if done >= args.declares or time.monotonic() > deadline or bot.proc.poll() is not None:  # type: ignore[union-attr]
                break
            time.sleep(0.05)
        all_done = time.time()
        if done < args.declares:
            problems.append(f"only {done} of {args.declares} incidents provisioned within {args.timeout:.0f}s")
        time.sleep(0.2)  # the final response_url posts land after provisioned_at; let them settle
        if bot.proc.poll() is not None:  # type: ignore[union-attr]
            problems.append(f"sevbot serve exited {bot.proc.returncode} during the run:\n{bot.log_tail()}")  # type: ignore[union-attr]
            return finish_broken(problems)
        mem_after = proc_status(bot.pid)
        server_acks = _server_side_acks(bot.url)
        bot_cpu = proc_cpu(bot.pid) - bot_cpu_before
        db_cpu = cpu_since(db_cpu_before, postgres_cpu()) if backend == "postgresql" else None
        bench_cpu = time.process_time() - bench_cpu_before
        overflows_after = listen_overflows()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            try:
                _, err = spy.communicate(timeout=30)
                if spy.returncode:
                    print(f"py-spy exited {spy.returncode}: {err.decode(errors='replace')[-500:]}", file=sys.stderr)
            except subprocess.TimeoutExpired:
                spy.kill()

        with reader.connect() as conn:
            rows = list(conn.execute(select(Incident.id, Incident.title, Incident.channel_id, Incident.card_ts,
                                            Incident.announcement_ts, Incident.provisioned_at)))
        by_id = {r.id: r for r in rows}

        with sim._lock:  # noqa: SLF001 - snapshot
            calls = list(sim.calls)
        # "Has this happened before?" (issue #14) posts its own message after the declare, and waits for a quiet
        # moment to do so: counted apart, not as one of the declare's calls nor in its "done".
        notices = [c for c in calls[first_measured_call:] if _is_similar_notice(c)]
        web_calls = [c for c in calls[first_measured_call:] if c.method != "response_url" and not _is_similar_notice(c)]
        per_inc, unattributed = _calls_by_incident(web_calls, rows)

        def measure(batch: list[Sent], calls_of: dict[int, list[Any]]) -> dict[str, list[float]]:
            """ack / card / done and the split of each declare in `batch`, from the simulator's records."""
            out: dict[str, list[float]] = defaultdict(list)
            for s in batch:
                if s.incident_id is None:
                    continue
                out["ack"].append(s.ack_s * 1000)
                mine = calls_of.get(s.incident_id, [])
                row = by_id.get(s.incident_id)
                if row is None or row.provisioned_at is None:
                    continue
                card = next((c for c in mine if c.method == "chat.postMessage" and c.args.get("channel") == row.channel_id
                             and c.response.get("ts") == row.card_ts), None)
                create = next((c for c in mine if c.method == "conversations.create"), None)
                done_at = max(c.at for c in mine) if mine and row.announcement_ts else None
                if card is not None:
                    out["card"].append((card.at - s.sent_at) * 1000)
                if create is not None:
                    # the record is taken after the simulated latency: subtract it to get when the bot sent it
                    out["start"].append((create.at - args.latency - s.sent_at) * 1000)
                    if card is not None:
                        out["create_to_card"].append((card.at - create.at + args.latency) * 1000)
                if card is not None and done_at is not None:
                    out["card_to_done"].append((done_at - card.at) * 1000)
                if done_at is not None:
                    out["done"].append((done_at - s.sent_at) * 1000)
                out["calls"].append(len(mine))
                out["per_declare"].append({  # type: ignore[arg-type]
                    "i": s.index, "sent_at": s.sent_at - started, "ack_ms": s.ack_s * 1000,
                    "queue_ms": (create.at - args.latency - s.sent_at) * 1000 if create is not None else None,
                    "card_ms": (card.at - s.sent_at) * 1000 if card is not None else None,
                    "done_ms": (done_at - s.sent_at) * 1000 if done_at is not None else None})
            return out

        figures = measure(sent, per_inc)
        ack_ms, card_ms, done_ms, calls_per = figures["ack"], figures["card"], figures["done"], figures["calls"]
        start_ms, create_to_card_ms, card_to_done_ms = figures["start"], figures["create_to_card"], figures["card_to_done"]
        per_declare = figures["per_declare"]
        cold = measure(warm, _calls_by_incident([c for c in calls[:first_measured_call]
                                                 if c.method != "response_url" and not _is_similar_notice(c)], rows)[0])

        mean_calls = len(web_calls) / max(1, args.declares)
        # Calls shared between declares (usergroups.users.list when the group cache misses) cannot be pinned to
        # one declare from outside the bot: assume the worst, that one of them landed on the busiest declare.
        max_calls = (max(calls_per) if calls_per else 0) + (1 if unattributed else 0)
        by_method: dict[str, int] = defaultdict(int)
        for c in web_calls:
            by_method[c.method] += 1

        if sim.violations:
            problems.append(f"{len(sim.violations)} Slack spec violations, e.g. {sim.violations[:3]}")

        wall = all_done - started
        results: dict[str, Any] = {
            "mode": "sevbot serve subprocess",
            "load": "burst (next declare on ack)" if args.burst else f"{args.concurrency} declares in flight (next declare when done)",
            "backend": backend,
            "declares": args.declares,
            "concurrency": args.concurrency,
            "pause_s": args.pause,
            "sim_latency_ms": args.latency * 1000,
            "bot_startup_to_healthz_s": startup_s,
            "wall_s": {"send_all": sent_done - started, "until_all_provisioned": wall},
            "ack_ms": summary(ack_ms),
            "card_posted_ms": summary(card_ms),
            "fully_done_ms": summary(done_ms),
            "split_ms": {"send_to_create_sent": summary(start_ms), "create_sent_to_card_posted": summary(create_to_card_ms),
                         "card_posted_to_done": summary(card_to_done_ms)},
            "rates_per_s": {"acked": args.declares / max(1e-9, sent_done - started),
                            "provisioned": args.declares / max(1e-9, wall)},
            "web_api_calls": {
                "startup": startup_count, "startup_methods": sorted({c.method for c in startup_calls}),
                "total_during_run": len(web_calls), "per_declare_mean": mean_calls,
                "per_declare_max": max_calls, "unattributed_shared": len(unattributed),
                "by_method": dict(sorted(by_method.items())),
                "similar_notices": len(notices),
            },
            "server_side_ack_share": server_acks,
            "memory_mib": {"rss_before": mem_before.get("VmRSS"), "hwm_before": mem_before.get("VmHWM"),
                           "rss_after": mem_after.get("VmRSS"), "hwm_after": mem_after.get("VmHWM"),
                           "threads_after": int(mem_after.get("Threads", 0)),
                           "note": "the sevbot serve process only (/proc/<pid>/status)"},
            "cpu": {"bot_s": bot_cpu, "bot_ms_per_declare": bot_cpu / max(1, args.declares) * 1000,
                    "bot_cores_avg": bot_cpu / wall if wall > 0 else float("nan"),
                    "bench_process_s": bench_cpu, "postgres_server_s": db_cpu,
                    "note": "bot = utime+stime of sevbot serve; bench process = Slack simulator + load generator"},
            "serve_log": bot.log_counts(),
            "tcp_listen_overflows_during_run": (None if overflows_before is None or overflows_after is None
                                                else overflows_after - overflows_before),
            "problems": problems,
            "cold_start": {"declares": len(warm), "ack_ms": summary(cold["ack"]), "card_posted_ms": summary(cold["card"]),
                           "fully_done_ms": summary(cold["done"]),
                           "note": "the warm-up declares right after start-up, sent the same way; not in the figures above"},
            "per_declare": per_declare,
        }
        results["targets"] = verdicts(results)
        print_report(results)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
            print(f"\nresults written to {args.json}")
        if args.profile:
            print(f"py-spy samples of the serve process during the run written to {args.profile}")
        return 1 if problems else 0
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait()
        bot.stop()
        reader.dispose()
        sim.stop()


def _server_side_acks(url: str) -> dict[str, float]:
    """The bot's own histogram of slash-command answers (bot/metrics.py), warm-up included: what share was answered
    within 10, 25 and 50 ms of arriving, without the load generator's own delays (it shares a process, and a GIL,
    with the simulator answering the bot's Web API calls)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:  # noqa: S310 - local URL
            body = resp.read().decode()
    except OSError:
        return {}
    buckets: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "sevbot_http_request_duration_seconds_bucket" and sample.labels.get("kind") == "slash_command":
                buckets[sample.labels["le"]] = sample.value
    total = buckets.get("+Inf", 0.0)
    return {le: buckets.get(le, 0.0) / total for le in ("0.01", "0.025", "0.05")} if total else {}


def _is_similar_notice(call: Any) -> bool:
    metadata = call.args.get("metadata") if call.method == "chat.postMessage" else None
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return isinstance(metadata, dict) and metadata.get("event_type") == SIMILAR_METADATA


def _calls_by_incident(web_calls: list[Any], rows: list[Any]) -> tuple[dict[int, list[Any]], list[Any]]:
    """Map the simulator's calls to incidents: by channel id (create/invite/topic/card/pin) and by the
    announcement's ts in the stakeholder channel. What maps to none (usergroups.users.list) is shared."""
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
    return per_inc, unattributed


def finish_broken(problems: list[str]) -> int:
    print_problems(problems)
    return 1


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
    c = r["cpu"]
    print(f"\nsevbot declare benchmark — sevbot serve on {r['backend']}, {r['declares']} declares, {r['concurrency']} concurrent, "
          f"Slack latency {r['sim_latency_ms']:.0f} ms/call, Python {platform.python_version()}")
    print(f"  bot up (healthz 200) after {r['bot_startup_to_healthz_s']:.2f}s; all sent in {r['wall_s']['send_all']:.2f}s; "
          f"all provisioned after {r['wall_s']['until_all_provisioned']:.2f}s "
          f"(acked {r['rates_per_s']['acked']:.0f}/s, provisioned {r['rates_per_s']['provisioned']:.0f}/s)")
    print(f"  load: {r['load']}")
    cold = r["cold_start"]
    if cold["declares"]:
        print(f"  cold start (the first {cold['declares']} declares after start-up, not counted below): ack p50/max "
              f"{cold['ack_ms']['p50']:.1f}/{cold['ack_ms']['max']:.1f} ms, card {cold['card_posted_ms']['p50']:.1f}/"
              f"{cold['card_posted_ms']['max']:.1f} ms, done {cold['fully_done_ms']['p50']:.1f}/{cold['fully_done_ms']['max']:.1f} ms")
    print(f"\n  {'':<26}{'p50':>9}{'p99':>9}{'max':>9}   {'target':<16}")
    print(row("ack (ms)", r["ack_ms"], "p99 <= 25 ms", t["ack_p99_ms"]["pass"]))
    if r.get("server_side_ack_share"):
        share = r["server_side_ack_share"]
        print(f"    the bot's own histogram (arrival -> answer, warm-up included): {share['0.01']:.1%} within 10 ms,"
              f" {share['0.025']:.1%} within 25 ms, {share['0.05']:.1%} within 50 ms")
    print(row("declare -> card (ms)", r["card_posted_ms"], "p99 <= 150 ms", t["card_p99_ms"]["pass"]))
    print(row("declare -> done (ms)", r["fully_done_ms"], "p99 <= 250 ms", t["done_p99_ms"]["pass"]))
    sp = r["split_ms"]
    print(row("  send -> create sent", sp["send_to_create_sent"], "(queue wait)", None))
    print(row("  create sent -> card", sp["create_sent_to_card_posted"], "", None))
    print(row("  card -> done", sp["card_posted_to_done"], "", None))
    print(f"  {'Web API calls / declare':<26}{'mean':>9}{'max':>9}")
    print(f"  {'':<26}{w['per_declare_mean']:>9.2f}{w['per_declare_max']:>9d}{'':>9}   {'<= 6':<16}"
          f"{'PASS' if t['calls_per_declare_max']['pass'] else 'MISS'}")
    print(f"    start-up calls excluded: {w['startup']} ({', '.join(w['startup_methods'])}); during run {w['total_during_run']}:"
          f" {', '.join(f'{k} {v}' for k, v in w['by_method'].items())}")
    print(f"    not counted above: {w['similar_notices']} \"has this happened before?\" notice(s) (issue #14), posted once the"
          f" declares in flight are done")
    print(f"  {'RSS after run (MiB)':<26}{m['rss_after']:>9.1f}{'':>18}   {'<= 80 MiB':<16}{'PASS' if t['rss_mib']['pass'] else 'MISS'}")
    print(f"    VmHWM {m['hwm_after']:.1f} MiB; after start-up RSS {m['rss_before']:.1f} MiB (HWM {m['hwm_before']:.1f}); "
          f"{m['threads_after']} threads; {m['note']}")
    print(f"\n  bot CPU: {c['bot_s']:.2f}s = {c['bot_ms_per_declare']:.1f} ms/declare ({c['bot_cores_avg']:.2f} cores avg); "
          f"simulator + load generator: {c['bench_process_s']:.2f}s"
          + (f"; PostgreSQL server (same box): {c['postgres_server_s']:.2f}s" if c.get("postgres_server_s") is not None else ""))
    log = r["serve_log"]
    if log.get("error_lines") or log.get("tracebacks"):
        print(f"  serve log: {log['error_lines']} ERROR lines, {log['tracebacks']} tracebacks")
    if r["tcp_listen_overflows_during_run"]:
        print(f"  TCP ListenOverflows during the run: {r['tcp_listen_overflows_during_run']} (a full listen queue drops the SYN;"
              " the client retries after 1 s)")
    print_problems(r["problems"])


def _seed_history(database_url: str, count: int) -> None:
    """Past incidents (similar_bench's vocabulary, alerts included) so the declare's post-ack work, the similar
    past incidents lookup above all, searches a history of this size."""
    import random
    from datetime import datetime, timezone

    from bot.db.engine import Database
    from similar_bench import seed

    db = Database(database_url)
    try:
        took = seed(db, count, random.Random(14), datetime.now(timezone.utc))
        with db.transaction() as connection:  # a history, not a backlog: provisioned long ago, and over
            connection.exec_driver_sql("UPDATE incidents SET provisioned_at = declared_at, "
                                       "resolved_at = COALESCE(resolved_at, declared_at), status = 'resolved'")
    finally:
        db.dispose()
    print(f"  history: {count:,} past incidents seeded in {took:.1f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--declares", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the simulator adds to each Web API call")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for all declares to be provisioned")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds each sender waits after an ack (0: closed loop)")
    parser.add_argument("--burst", action="store_true",
                        help="each sender sends its next declare as soon as the previous one is acked, instead of when "
                             "it is fully provisioned: the offered rate is then set by ack speed alone (a stress test)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="declares sent first (10 at a time) and reported apart as the cold start (default 10; 0: none)")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds to wait after /healthz before the first declare (start-up sweep, cache warming)")
    parser.add_argument("--history", type=int, default=0,
                        help="past incidents to seed before the run (e.g. 50000: the similar-incidents lookup's worst case)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--profile", metavar="FILE",
                        help="sample the serve process with py-spy during the run (collapsed stacks, on-CPU only)")
    parser.add_argument("--py-spy", default=str(Path(sys.executable).with_name("py-spy")), help="py-spy binary for --profile")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
