"""Insights benchmark: `sevbot insights --since 90d` on a year of 50,000 incidents (target: at most 2 s), and the
memory of `sevbot serve` at rest before and after one `/incident insights`.

Seeds a scratch SQLite database (or PostgreSQL with --database-url) in bulk: N incidents spread over the last 365
days (severities 5/20/40/35 %, a dozen services, titles from a small vocabulary, 85 % resolved with time to resolve
and, when paged, to acknowledge), their timeline (declared, 0–6 stakeholder updates, a note, resolved), alert groups
(with a weekly 03:00 alert among them), follow-ups with owners and due dates. Then it runs the real CLI as a
subprocess, several times, and times each run from spawn to exit (Python start-up included). Then it starts
`sevbot serve` against the Slack simulator, reads its RSS at rest, sends one signed `/incident insights 90d`,
waits for the PNG in the DM, lets it settle and reads the RSS again; and it reports the peak RSS of a process that
draws the chart, which is what drawing in-process would have added to the bot.

Run: .venv/bin/python bench/insights_bench.py [--incidents 50000] [--runs 5] [--database-url postgresql://…]
"""
from __future__ import annotations

import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_harness import BOT_TOKEN, ROOT, BotProcess, argument_parser, proc_status, scratch_database  # noqa: E402

from bot.db.engine import Database  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import AlertGroup, FollowUp, Incident, TimelineEvent  # noqa: E402
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace  # noqa: E402

TARGET_S = 2.0
SEVERITIES = [("sev0", 5), ("sev1", 20), ("sev2", 40), ("sev3", 35)]
CADENCE_MIN = {"sev0": 15, "sev1": 15, "sev2": 30, "sev3": 60}
SERVICES = ["payments", "checkout", "login", "inventory", "database", "search", "api", "notifications", "billing",
            "shipping", "reports", "mobile"]
WORDS = ["latency", "errors", "timeouts", "degraded", "outage", "queue", "backlog", "slow", "5xx", "deploy", "memory",
         "disk", "certificate", "dns", "replica", "lag", "cache", "stale", "webhook", "retries"]
CHUNK = 5000


def _chunks(rows: list[dict[str, Any]]) -> Any:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def seed(url: str, incidents: int, now: datetime, rng: random.Random) -> dict[str, int]:
    db = Database(url)
    start = now - timedelta(days=365)
    severities = [s for s, w in SEVERITIES for _ in range(w)]
    counts = {"incidents": 0, "timeline_events": 0, "alert_groups": 0, "follow_ups": 0}
    try:
        with db.engine.begin() as conn:
            for first in range(1, incidents + 1, CHUNK):
                rows, events, followups = [], [], []
                for number in range(first, min(incidents, first + CHUNK - 1) + 1):
                    declared = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
                    severity = rng.choice(severities)
                    resolved = rng.random() < 0.85 and declared < now - timedelta(hours=6)
                    to_resolve = int(rng.lognormvariate(8.3, 0.9)) if resolved else None  # median ~70 min
                    resolved_at = declared + timedelta(seconds=to_resolve) if to_resolve else None
                    if resolved_at and resolved_at > now:
                        resolved_at, to_resolve, resolved = None, None, False
                    paged = severity in ("sev0", "sev1")
                    rows.append({"id": number, "title": " ".join(rng.sample(WORDS, 3)) + f" in {rng.choice(SERVICES)}",
                                 "severity": severity, "status": "resolved" if resolved else "investigating",
                                 "service": rng.choice(SERVICES), "declared_by": "U0L1", "declared_at": declared,
                                 "resolved_at": resolved_at, "resolved_by": "U0L1" if resolved else None,
                                 "seconds_to_resolve": to_resolve,
                                 "seconds_to_ack": int(rng.expovariate(1 / 240)) if resolved and paged else None,
                                 "postmortem_url": "https://docs.example.com/pm" if resolved and rng.random() < 0.7 else None,
                                 "card_version": 0, "card_synced_version": 0, "provision_attempts": 0})
                    events.append({"incident_id": number, "at": declared, "actor": "U0L1", "kind": "declared", "summary": "Declared", "data": {}})
                    end = resolved_at or min(now, declared + timedelta(hours=4))
                    at = declared
                    for _ in range(rng.randint(0, 6)):
                        at += timedelta(minutes=CADENCE_MIN[severity] * rng.uniform(0.6, 1.5))
                        if at >= end:
                            break
                        events.append({"incident_id": number, "at": at, "actor": "U0L1", "kind": "stakeholder_update",
                                       "summary": "Stakeholder update", "data": {}})
                    events.append({"incident_id": number, "at": declared + timedelta(minutes=3), "actor": "U0L2", "kind": "note",
                                   "summary": "Looking at the dashboards", "data": {}})
                    if resolved_at:
                        events.append({"incident_id": number, "at": resolved_at, "actor": "U0L1", "kind": "resolved",
                                       "summary": "Resolved", "data": {}})
                    if rng.random() < 0.3:
                        followups.append({"incident_id": number, "text": "Add an alert before customers notice",
                                          "owner": rng.choice(["U0L1", "U0L2", "U0IC", None]),
                                          "due": (declared + timedelta(days=rng.randint(3, 30))).date() if rng.random() < 0.8 else None,
                                          "created_by": "U0L1", "created_at": declared})
                conn.execute(insert(Incident), rows)
                for part in _chunks(events):
                    conn.execute(insert(TimelineEvent), part)
                if followups:
                    conn.execute(insert(FollowUp), followups)
                counts["incidents"] += len(rows)
                counts["timeline_events"] += len(events)
                counts["follow_ups"] += len(followups)
            groups = []
            for n in range(incidents // 2):
                fired = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
                name = f"{rng.choice(['High', 'Slow', 'Failing'])}{rng.choice(['Latency', 'Errors', 'Queue', 'Disk'])}"
                groups.append(_group(n, name, rng.choice(SERVICES), fired))
            monday = (now - timedelta(days=now.weekday())).replace(hour=3, minute=5, second=0, microsecond=0)
            for week in range(1, 14):  # a batch job that pages every Monday night: the report must find it
                groups.append(_group(10_000_000 + week, "NightlyBatchFailed", "reports", monday - timedelta(days=7 * week)))
            for part in _chunks(groups):
                conn.execute(insert(AlertGroup), part)
            counts["alert_groups"] = len(groups)
    finally:
        db.dispose()
    return counts


def _group(n: int, name: str, service: str, fired: datetime) -> dict[str, Any]:
    return {"source": "alertmanager", "group_key": f"{{}}:{{alertname=\"{name}\"}}#{n}", "state": "resolved", "route": "default",
            "action": "notify", "title": f"{name} on {service}", "severity": "warning", "service": service,
            "labels": {"alertname": name, "service": service}, "first_fired_at": fired,
            "last_event_at": fired + timedelta(minutes=10), "resolved_at": fired + timedelta(minutes=10)}


def time_cli(url: str, tmp: Path, runs: int, *extra: str) -> tuple[list[float], str]:
    env = BotProcess(url, "http://127.0.0.1:9/api/", tmp).env
    took, output = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bot", "insights", "--since", "90d", *extra], env=env, cwd=tmp,
                              capture_output=True, text=True, timeout=120)
        took.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"sevbot insights exited {done.returncode}: {done.stderr.strip()[-500:]}")
        output = done.stdout
    return took, output


def serve_memory(url: str, tmp: Path, settle: float) -> dict[str, float]:
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()
    bot = BotProcess(url, sim.api_url, tmp)
    try:
        bot.start()
        time.sleep(settle)
        fresh = proc_status(bot.pid)["VmRSS"]
        driver = SlackDriver(sim, bot.url + "/slack/events", bot.signing_secret, timeout=30)
        # A first command of any kind warms Bolt's request path and the connections: measured apart from insights.
        assert driver.slash_command("U0EXEC", "list", channel_id="C0GENERAL").status == 200
        time.sleep(settle)
        before = proc_status(bot.pid)["VmRSS"]
        t0 = time.perf_counter()
        answer = driver.slash_command("U0EXEC", "insights 90d", channel_id="C0GENERAL")
        assert answer.status == 200, answer.text
        ws = sim.workspace
        deadline = time.monotonic() + 120
        answered = pictured = None
        while time.monotonic() < deadline and pictured is None:
            if answered is None and ws.response_posts:
                answered = time.perf_counter() - t0
            dm = ws.dm_channel("U0EXEC")
            if dm is not None and any(m.files for m in ws.messages(dm.id)):
                pictured = time.perf_counter() - t0
            time.sleep(0.02)
        if pictured is None:
            raise RuntimeError("the picture never reached the DM:\n" + bot.log_tail())
        time.sleep(settle)
        after = proc_status(bot.pid)
        return {"rss_fresh_mib": fresh, "rss_before_mib": before, "rss_after_mib": after["VmRSS"], "hwm_mib": after["VmHWM"],
                "answer_s": answered or float("nan"), "picture_s": pictured}
    finally:
        bot.stop()
        sim.stop()


def chart_child_peak(url: str, tmp: Path) -> float:
    """Peak RSS (MiB) of a process that builds the report and draws the chart: what drawing in the bot would cost."""
    probe = ("import sys; from datetime import datetime, timezone; from bot.config import IncidentConfig; "
             "from bot.db.engine import Database; from bot.insights.report import build; from bot.insights.render import chart_data; "
             "from bot.insights.chart import render_png; from bot.scheduler.timing import Timing; c = IncidentConfig(); "
             f"db = Database({url!r}); r = build(db, c, Timing(c), datetime.now(timezone.utc), 90); render_png(chart_data(r))")
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, timeout=120)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to let serve settle before each RSS reading")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sevbot-insights-bench-") as tmpdir, \
            scratch_database(args.database_url, Path(tmpdir), sqlite_name="insights.db", pg_prefix="sevbot_insights_") as url:
        tmp = Path(tmpdir)
        backend = "postgresql" if url.startswith("postgresql") else "sqlite"
        upgrade(url)
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        counts = seed(url, args.incidents, now, random.Random(14))
        print(f"seeded {backend}: {counts} in {time.perf_counter() - t0:.1f} s")
        took, md = time_cli(url, tmp, args.runs)
        json_took, _ = time_cli(url, tmp, 1, "--format", "json")
        png_took, _ = time_cli(url, tmp, 1, "-o", str(tmp / "r.md"), "--png", str(tmp / "r.png"))
        found = "NightlyBatchFailed alerts:" in md
        print(f"sevbot insights --since 90d ({args.runs} runs, spawn to exit): median {statistics.median(took):.2f} s, "
              f"worst {max(took):.2f} s, target <= {TARGET_S:.0f} s: {'PASS' if max(took) <= TARGET_S else 'MISS'}")
        print(f"  --format json: {json_took[0]:.2f} s; with --png: {png_took[0]:.2f} s "
              f"({(tmp / 'r.png').stat().st_size:,} bytes); weekly NightlyBatchFailed pattern found: {found}")
        memory = serve_memory(url, tmp, args.settle)
        print(f"sevbot serve RSS at rest {memory['rss_fresh_mib']:.1f} MiB fresh, {memory['rss_before_mib']:.1f} MiB after one "
              f"/incident list, after one /incident insights 90d "
              f"{memory['rss_after_mib']:.1f} MiB (+{memory['rss_after_mib'] - memory['rss_before_mib']:.1f}; peak {memory['hwm_mib']:.1f}); "
              f"answer after {memory['answer_s']:.2f} s, picture in the DM after {memory['picture_s']:.2f} s")
        print(f"a process drawing the chart peaks at {chart_child_peak(url, tmp):.1f} MiB (what drawing in the bot would add)")
        return 0 if max(took) <= TARGET_S and found else 1


if __name__ == "__main__":
    raise SystemExit(main())
