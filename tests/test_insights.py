"""Insights: the figures of a seeded history against sums done by hand, the pattern rule, the CLI, and
`/incident insights` over signed HTTP (the private answer, and the PNG uploaded to the person's DM)."""
from __future__ import annotations

import json
import random
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.insights import patterns
from bot.insights.chart import PNG_SIGNATURE
from bot.insights.render import markdown, slack_text
from bot.insights.report import BadPeriod, Report, build, parse_period, percentile
from bot.scheduler.timing import Timing
from tests.harness import Bot, FakeClock, running_bot, wait_for
from tests.insights_history import NOW, seed
from bot.people.snapshot import save_name
from tests.test_cli import SEVBOT, _env


@pytest.fixture
def history(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    seed(db)
    try:
        yield db
    finally:
        db.dispose()


def _report(db: Database, days: int = 30) -> Report:
    config = IncidentConfig()
    return build(db, config, Timing(config), NOW, days)


def test_figures_match_the_hand_computation(history: Database) -> None:
    report = _report(history)
    # Period: 2026-11-07 12:00 → 2026-12-07 12:00; previous: 2026-10-08 12:00 → 2026-11-07 12:00.
    # This period: INC-1,2,3 (sev1), INC-4,6 (sev2), INC-5 (sev3) = 6; previous: INC-7 (sev1), 8 (sev2), 9 (sev3) = 3;
    # INC-10 (September) is in neither.
    assert (report.total.current, report.total.previous, report.total.change) == (6, 3, 3)
    assert report.total.change_percent == 100.0
    assert [(c.key, c.current, c.previous) for c in report.by_severity] == [("sev1", 3, 1), ("sev2", 2, 1), ("sev3", 1, 1)]
    # payments: INC-1,2,4 now, INC-7 before; checkout: 3 / 8; search: 5 / 9; INC-6 has no service.
    assert [(c.key, c.current, c.previous) for c in report.by_service] == [
        ("payments", 3, 1), ("checkout", 1, 1), ("search", 1, 1), ("(no service)", 1, 0)]

    # Resolved sev1 this period: time to resolve 60, 120, 30 min → sorted 1800, 3600, 7200 s. Nearest rank:
    # p50 = ceil(3 × 0.5) = 2nd = 3600; p90 = ceil(3 × 0.9) = 3rd = 7200. Acks 120, 300, 600 → p50 300, p90 600.
    # sev2: only INC-4 is resolved (60 min, never paged); INC-6 is open; sev3's INC-5 is open.
    times = {t.severity: t for t in report.times}
    assert set(times) == {"sev1", "sev2"}
    sev1, sev2 = times["sev1"], times["sev2"]
    assert (sev1.resolved, sev1.resolve_p50, sev1.resolve_p90) == (3, 3600, 7200)
    assert (sev1.acked, sev1.ack_p50, sev1.ack_p90) == (3, 300, 600)
    assert (sev2.resolved, sev2.resolve_p50, sev2.resolve_p90, sev2.acked, sev2.ack_p50) == (1, 3600, 3600, 0, None)

    # Cadence: sev1 allows 15 + 5 = 20 min, sev2 30 + 5 = 35, sev3 60 + 5 = 65.
    # INC-1: declare, +15, +30, +45, resolve +60 → stretches 15,15,15,15: met.
    # INC-2: +15, +60, resolve +120 → 15, 45, 60: missed.  INC-3: no update, resolved +30 → 30: missed.
    # INC-4: +25, resolve +60 → 25, 35 (exactly the limit): met.  INC-6 (open): +30, then until now (weeks): missed.
    # INC-5 (open, declared 11:00, now 12:00): 60 ≤ 65: met.  The note events are not updates.
    assert [(c.severity, c.cadence_minutes, c.met, c.total) for c in report.cadence] == [
        ("sev1", 15, 1, 3), ("sev2", 30, 1, 2), ("sev3", 60, 1, 1)]
    assert (report.cadence_met, report.cadence_total) == (3, 6)

    # Repeats: only payments has more than one incident this period (3); its latest is INC-4.
    assert [(r.service, r.incidents, r.last_incident) for r in report.repeats] == [("payments", 3, 4)]

    # Postmortems: resolved SEV0–2 in the period with no link and resolved ≥ 48 h ago: INC-2 (resolved 11-20 12:00,
    # 17 days = 408 h ago), INC-3 (resolved 12-01 09:30: 6 d 2.5 h = 146 h). INC-1 has its link; INC-4 was resolved
    # 15 h ago.
    assert [(m.incident, m.hours_since_resolve) for m in report.missing_postmortems] == [(2, 408), (3, 146)]
    # Follow-ups: INC-2's was due 12-01 (6 days ago, owner U0L2); INC-3's is due 12-10; INC-7's belongs to the
    # previous period; INC-1's has no date.
    assert [(f.incident, f.owner, f.days_overdue) for f in report.overdue_followups] == [(2, "U0L2", 6)]
    assert report.followups_without_due == 1

    # Patterns (window: the 35 days from 11-02 12:00): the alert on the Mondays 11-09, 11-16, 11-30, 12-07 at 03:xx;
    # the Mondays whose 03:00 lies in the window are 11-09, 11-16, 11-23, 11-30, 12-07: 4 of 5. The payments service
    # carries the same 4 slots (plus its incidents at other hours).
    assert [p.sentence() for p in report.patterns] == [
        "PaymentsApiLatency alerts: 4 of the last 5 Mondays between 03:00 and 04:00 UTC",
        "payments incidents and alerts: 4 of the last 5 Mondays between 03:00 and 04:00 UTC",
    ]

    # The picture's data: Monday 03:00 holds the period's 4 alerts; incidents by their declare hour.
    assert report.heat_alerts[0][3] == 4 and sum(map(sum, report.heat_alerts)) == 4
    assert sum(map(sum, report.heat_incidents)) == 6 and report.heat_incidents[6][20] == 1  # INC-4, Sunday 20:00
    # Weekly time to resolve: the week of 11-30 resolved INC-3 (30 min) and INC-4 (60 min): nearest-rank p50 = 0.5 h.
    week = next(w for w in report.weeks if w.start.isoformat() == "2026-11-30")
    assert (week.resolved, week.resolve_p50_hours) == (2, 0.5)


def test_the_texts_escape_user_text_and_say_the_rule(history: Database) -> None:
    report = _report(history)
    slack = slack_text(report)
    assert "<!channel>" not in slack and "<@U0L2>" in slack  # the owner is a mention; nothing in a title can ping
    assert "PaymentsApiLatency alerts: 4 of the last 5 Mondays between 03:00 and 04:00 UTC" in slack
    assert "*Stakeholder updates on cadence:* 50% (3 of 6 incidents)" in slack
    assert "INC-2 (SEV1, resolved 2026-11-20), INC-3 (SEV1, resolved 2026-12-01)" in slack
    md = markdown(report)
    assert "| SEV1 | 3 | 5m | 10m | 3 | 1h 00m | 2h 00m |" in md
    assert "| payments | 3 | 1 | +2, +200% |" in md
    assert "INC-2 (SEV1) Refunds stuck in queue: resolved 2026-11-20, 408 h ago" in md


def test_a_longer_period_counts_more(history: Database) -> None:
    # 90 days back from 12-07 12:00 is 09-08 12:00: INC-1…9 (INC-10 is 09-01); the 90 days before hold INC-10.
    report = _report(history, 90)
    assert (report.total.current, report.total.previous) == (9, 1)


def test_period_words() -> None:
    assert (parse_period(""), parse_period("7d"), parse_period("90D"), parse_period(" 30d ")) == (30, 7, 90, 30)
    for bad in ("30", "0d", "400d", "1w", "d", "-5d"):
        with pytest.raises(BadPeriod):
            parse_period(bad)
    assert percentile([5], 90) == 5 and percentile([], 50) is None and percentile(list(range(1, 11)), 90) == 9


# ---- the pattern rule, pure -------------------------------------------------------------------------------------

def _mondays_0300(weeks: int, end: datetime) -> list[datetime]:
    last_monday = (end - timedelta(days=end.weekday())).replace(hour=3, minute=0, second=0, microsecond=0)
    if last_monday >= end:
        last_monday -= timedelta(days=7)
    return [last_monday - timedelta(days=7 * i) + timedelta(minutes=7 * i) for i in range(weeks)]


def test_every_monday_at_three_is_a_pattern_in_words() -> None:
    end = NOW
    start = end - timedelta(days=35)  # Mondays with 03:00 inside: 11-09, 11-16, 11-23, 11-30, 12-07
    fired = [t for n, t in enumerate(_mondays_0300(5, end)) if n != 2]  # 4 of the 5 (not 11-23)
    rng = random.Random(7)
    noise = [start + timedelta(seconds=rng.uniform(0, 35 * 86400)) for _ in range(6)]
    occurrences = [("alert", "payments-api latency", t) for t in fired] + [("alert", "disk full", t) for t in noise]
    found = patterns.detect(occurrences, start, end)
    assert [p.sentence() for p in found] == ["payments-api latency alerts: 4 of the last 5 Mondays between 03:00 and 04:00 UTC"]
    assert found[0].chance < 1e-5


def test_a_random_series_is_not_a_pattern() -> None:
    end = NOW
    start = end - timedelta(days=90)
    rng = random.Random(20261203)
    occurrences = [(kind, key, start + timedelta(seconds=rng.uniform(0, 90 * 86400)))
                   for kind, key in [("service", "payments")] * 25 + [("alert", "CPUHigh")] * 25 + [("title", "checkout slow")] * 25]
    # The bare "3 times at the same hour" rule would fire on this noise: some hour holds 3+ of a key's days.
    busiest = max(Counter(t.hour for kind, key, t in occurrences if key == "payments").values())
    assert busiest >= 3
    assert patterns.detect(occurrences, start, end) == []


def test_same_hour_on_different_days_is_a_daily_pattern() -> None:
    end = NOW
    start = end - timedelta(days=35)
    nights = [datetime(2026, 11, d, 22, 40, tzinfo=timezone.utc) for d in (10, 12, 14, 16, 19, 27)]  # no weekday thrice
    nights += [datetime(2026, 11, 12, 22, 50, tzinfo=timezone.utc)]  # twice in one night counts once
    found = patterns.detect([("title", "nightly batch export", t) for t in nights], start, end)
    assert [p.sentence() for p in found] == [
        "incidents titled like \u201cnightly batch export\u201d: on 6 of the last 35 days between 22:00 and 23:00 UTC"]


def test_title_clusters() -> None:
    assert patterns.title_cluster("Checkout latency HIGH!") == patterns.title_cluster("High latency on checkout") == "checkout high latency"
    assert patterns.title_cluster("Errors 500 on the API") == "500 api" or patterns.title_cluster("Errors 500 on the API") == "api"
    assert patterns.title_cluster("is down") is None


# ---- the CLI ------------------------------------------------------------------------------------------------------

def _cli(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = _env(tmp_path, DATABASE_URL=url)
    return subprocess.run([*SEVBOT, "insights", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_cli_writes_markdown_json_and_the_png(history: Database, database_url: str, tmp_path: Path) -> None:
    with history.unit_of_work() as session:  # the names snapshot the export keeps names owners in the CLI too
        save_name(session.connection(), "U0L2", "Sam Okafor", None, NOW)
    until = ["--until", NOW.isoformat()]
    md = _cli(tmp_path, database_url, *until)
    assert md.returncode == 0, md.stderr
    assert "(owner @Sam Okafor, due 2026-12-01" in md.stdout
    assert md.stdout.startswith("# Incident insights: the last 30 days")
    assert "- PaymentsApiLatency alerts: 4 of the last 5 Mondays between 03:00 and 04:00 UTC" in md.stdout
    assert "| SEV1 | 15 min | 1 | 3 | 33% |" in md.stdout

    out, png = tmp_path / "report.json", tmp_path / "insights.png"
    done = _cli(tmp_path, database_url, "--since", "90d", "--format", "json", "-o", str(out), "--png", str(png), *until)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and f"wrote {out}" in done.stderr and f"wrote {png}" in done.stderr
    document = json.loads(out.read_text())
    assert document["format"] == "sevbot-insights/1" and document["period"]["days"] == 90
    assert document["incidents"] == {"key": "all", "current": 9, "previous": 1, "change": 8, "change_percent": 800.0}
    # 90 days take in INC-7 (previous 30 days), whose follow-up was due 11-01: the oldest due date first.
    assert [f["incident"] for f in document["followups_overdue"]] == ["INC-7", "INC-2"]
    assert document["followups_overdue"][1] == {"incident": "INC-2", "text": "Alert on refund queue age", "owner": "U0L2",
                                                 "due": "2026-12-01", "days_overdue": 6}
    image = png.read_bytes()
    assert image.startswith(PNG_SIGNATURE) and len(image) > 20_000
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")  # the IHDR chunk
    assert (width, height) == (1100, 850)


@pytest.mark.parametrize(("args", "expected"), [
    (["--since", "3 weeks"], "sevbot: --since: the period is a number of days"),
    (["--since", "0d"], "sevbot: --since: "),
    (["--format", "pdf"], "sevbot: --format: use md or json (got 'pdf')"),
    (["--until", "yesterday"], "sevbot: --until: use a UTC date or time"),
])
def test_cli_bad_options_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    done = _cli(tmp_path, f"sqlite:///{tmp_path / 'none.db'}", *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr


def test_cli_on_an_unmigrated_database_is_one_line(tmp_path: Path) -> None:
    done = _cli(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "sevbot: DATABASE_URL: the database is not migrated: run `sevbot migrate` first\n"


# ---- /incident insights over signed HTTP ------------------------------------------------------------------------

@pytest.fixture
def insights_bot(database_url: str) -> Iterator[Bot]:
    with running_bot(database_url, clock=FakeClock(NOW)) as running:
        seed(running.db)
        yield running


def test_slash_command_answers_privately_and_sends_the_picture_to_the_dm(insights_bot: Bot) -> None:
    bot = insights_bot
    answer = bot.say("U0EXEC", "insights 30d", "C0GENERAL")
    assert answer.startswith(":bar_chart: *Incident insights: the last 30 days")
    assert "PaymentsApiLatency alerts: 4 of the last 5 Mondays between 03:00 and 04:00 UTC" in answer
    assert "*Incidents:* 6 (previous 3: +3, +100%)" in answer and "on its way to your DM with sevbot" in answer
    assert bot.sim.workspace.messages("C0GENERAL") == [], "nothing is posted in the channel"
    post = next(p for p in bot.sim.workspace.response_posts if p.body["text"] == answer)
    assert post.body["response_type"] == "ephemeral", "only the person who asked sees the report"

    ws = bot.sim.workspace
    dm = wait_for(lambda: ws.dm_channel("U0EXEC"), what="the DM")
    share = wait_for(lambda: next((m for m in ws.messages(dm.id) if m.files), None), timeout=30, what="the picture in the DM")
    assert share.files[0]["name"] == "sevbot-insights-30d.png" and share.files[0]["mimetype"] == "image/png"
    uploaded = ws.files[share.files[0]["id"]]
    assert uploaded.completed and uploaded.content is not None and uploaded.content.startswith(PNG_SIGNATURE)
    assert len(uploaded.content) == uploaded.length > 20_000


def test_slash_command_bad_period_says_what_to_type(insights_bot: Bot) -> None:
    answer = insights_bot.say("U0L1", "insights 3weeks", "C0GENERAL")
    assert answer.startswith(":x: Usage: `/incident insights [7d|30d|90d]` (default 30d)") and "'3weeks'" in answer
    assert insights_bot.sim.workspace.files == {}


def test_a_picture_slack_refuses_is_reported_and_the_report_still_arrives(insights_bot: Bot) -> None:
    bot = insights_bot
    bot.sim.inject("files.completeUploadExternal", error="not_allowed_token_type")
    answer = bot.say("U0L1", "insights", "C0GENERAL")
    assert answer.startswith(":bar_chart: *Incident insights: the last 30 days")  # no word: 30 days
    warning = wait_for(lambda: next((p.body["text"] for p in bot.sim.workspace.response_posts if ":warning:" in p.body["text"]), None),
                       timeout=30, what="the warning")
    assert "not_allowed_token_type" in warning and "`sevbot insights --since 30d --png insights.png`" in warning


def test_one_picture_at_a_time(insights_bot: Bot) -> None:
    import commands.insights

    assert commands.insights.DRAWING.acquire(blocking=False)  # as if another request were drawing now
    try:
        answer = insights_bot.say("U0L1", "insights 7d", "C0GENERAL")
        assert answer.startswith(":bar_chart: *Incident insights: the last 7 days")
        skipped = wait_for(lambda: next((p.body["text"] for p in insights_bot.sim.workspace.response_posts
                                         if "Another insights picture is being drawn" in p.body["text"]), None), what="the notice")
        assert "ask again in a minute" in skipped
    finally:
        commands.insights.DRAWING.release()
    assert insights_bot.sim.workspace.files == {}, "no second drawing was started"
