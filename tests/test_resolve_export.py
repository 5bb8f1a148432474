"""Resolve with validation, follow-ups, the postmortem reminder and link, archiving, and the export (Slack and CLI)."""
from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.people.lookup import NameBook
from bot.render import Renderer
from bot.resolve.export import build_document, render_markdown
from tests.harness import Bot, FakeClock, paging_config, running_bot, wait_for
from tests.markdown_check import html, inlines, shape
from tests.test_cli import SEVBOT, _env

GOLDEN = Path(__file__).parent / "golden" / "postmortem.md"
START = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)



def _say(bot: Bot, user: str, channel: str, text: str) -> str:
    return bot.say(user, text, channel)


def _resolve_view(bot: Bot, user: str, channel: str):  # type: ignore[no-untyped-def]
    before = set(bot.sim.workspace.views)
    bot.slack.slash_command(user, "resolve", channel_id=channel)
    return wait_for(lambda: next((v for k, v in bot.sim.workspace.views.items() if k not in before and v.view["callback_id"] == "resolve_modal"), None),
                    what="resolve modal")


ALL_CHECKED = ["metrics", "errors", "stable", "customer"]


def _fill(summary: str = "Rolled back payments-api to v142", users: str = "About 4,000 checkouts failed over 47 minutes",
          checks: list[str] | None = None, anyway: str | None = None, root: str | None = None) -> dict[str, dict[str, object]]:
    values: dict[str, dict[str, object]] = {
        "resolve_summary": {"resolve_summary": summary}, "resolve_users": {"resolve_users": users},
        "resolve_checks": {"resolve_checks": ALL_CHECKED if checks is None else checks},
    }
    if anyway:
        values["resolve_anyway"] = {"resolve_anyway": anyway}
    if root:
        values["resolve_root"] = {"resolve_root": root}
    return values


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def bot(database_url: str, clock: FakeClock) -> Iterator[Bot]:
    with running_bot(database_url, paging_config(), clock=clock) as running:
        yield running


def test_resolve_validates_then_stops_the_clocks_and_tells_everyone(bot: Bot, clock: FakeClock) -> None:
    bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    incident = bot.wait_provisioned(1)
    channel = incident.channel_id
    bot.settled()
    clock.advance(minutes=3)
    _say(bot, "U0L2", channel, "ack")
    clock.advance(minutes=44)
    assert "use `/incident resolve`" in _say(bot, "U0L1", channel, "status resolved")

    view = _resolve_view(bot, "U0L1", channel)
    errors = bot.slack.submit_view("U0L1", view.id, _fill(summary="", checks=["metrics"])).json()["errors"]
    assert {"resolve_summary", "resolve_anyway"} <= set(errors)
    assert bot.incident(1).status == "investigating"
    ok = bot.slack.submit_view("U0L1", view.id, _fill(checks=["metrics", "errors", "stable"], anyway="Customer support is asleep; metrics are clean"))
    assert ok.status == 200
    bot.settled()
    resolved = bot.incident(1)
    assert resolved.status == "resolved" and resolved.seconds_to_ack == 180 and resolved.seconds_to_resolve == 47 * 60
    assert resolved.resolution["validation"] == {"metrics": True, "errors": True, "stable": True, "customer": False}
    card = bot.sim.workspace.find_message(channel, resolved.card_ts)
    assert "Resolved" in str(card.blocks) and "card_take_command" not in str(card.blocks), "no buttons on a closed card"
    assert "Resolved" in bot.sim.workspace.channels[channel].topic
    assert any("INC-1 resolved" in m.text and "47m" in m.text for m in bot.sim.workspace.messages("C0STAKE"))
    # reminders and pages stopped
    clock.advance(hours=2)
    bot.runtime.core.scheduler.tick()
    kinds = [e.kind for e in bot.timeline(1)]
    assert "update_reminder" not in kinds and "page_escalated" not in kinds
    assert "already resolved" in _say(bot, "U0L1", channel, "resolve")


def test_followups_postmortem_reminder_and_link(bot: Bot, clock: FakeClock) -> None:
    bot.slack.slash_command("U0L1", "declare sev2 Search slow")
    channel = bot.wait_provisioned(1).channel_id
    assert "owner <@U0L2>, due 2026-12-01" in _say(bot, "U0L1", channel, "followup Add an alert on search p99 <@U0L2> 2026-12-01")
    assert "in the past" in _say(bot, "U0L1", channel, "followup Late one 2026-01-01")
    assert "real date" in _say(bot, "U0L1", channel, "followup Odd 2026-02-31")
    assert "Usage" in _say(bot, "U0L1", channel, "followup")
    view = _resolve_view(bot, "U0L1", channel)
    bot.slack.submit_view("U0L1", view.id, _fill())
    wait_for(lambda: bot.incident(1).status == "resolved", what="resolved")
    clock.advance(hours=23)
    bot.runtime.core.scheduler.tick()
    clock.advance(hours=1)
    bot.runtime.core.scheduler.tick()
    clock.advance(hours=24)
    bot.runtime.core.scheduler.tick()
    bot.settled()
    dm = bot.sim.workspace.dm_channel("U0L1")
    assert sum("blameless postmortem is due" in m.text for m in bot.sim.workspace.messages(dm.id)) == 2, "repeated, daily"
    assert "Give the postmortem's link" in _say(bot, "U0L1", channel, "postmortem not-a-link")
    assert "Postmortem recorded" in _say(bot, "U0L1", channel, "postmortem https://docs.example.com/pm/inc-1")
    clock.advance(hours=48)
    bot.runtime.core.scheduler.tick()
    bot.settled()
    assert sum("blameless postmortem is due" in m.text for m in bot.sim.workspace.messages(dm.id)) == 2
    assert "nothing to reopen" in _say(bot, "U0L1", channel, "reopen") or bot.incident(1).status == "investigating"


def test_channel_archived_days_after_resolve(tmp_path: Path, clock: FakeClock) -> None:
    with running_bot(f"sqlite:///{tmp_path / 'a.db'}", paging_config(archive_after_days=2), clock=clock) as bot:
        bot.slack.slash_command("U0L1", "declare sev3 Typo on the pricing page")
        channel = bot.wait_provisioned(1).channel_id
        view = _resolve_view(bot, "U0L1", channel)
        bot.slack.submit_view("U0L1", view.id, _fill())
        wait_for(lambda: bot.incident(1).status == "resolved", what="resolved")
        clock.advance(days=2)
        bot.runtime.core.scheduler.tick()
        bot.settled()
        assert bot.sim.workspace.channels[channel].is_archived


def test_export_uploads_with_the_three_step_flow(bot: Bot) -> None:
    bot.slack.slash_command("U0L1", "declare sev2 Search slow")
    channel = bot.wait_provisioned(1).channel_id
    bot.sim.reset_calls()
    assert "Drafting the postmortem" in _say(bot, "U0L1", channel, "export")
    wait_for(lambda: bot.sim.calls_to("files.completeUploadExternal"), what="upload completed")
    methods = [c.method for c in bot.sim.calls if c.method.startswith(("files.", "upload"))]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert not bot.sim.calls_to("files.upload"), "never the retired files.upload"
    shared = [m for m in bot.sim.workspace.messages(channel) if m.files]
    assert shared and shared[0].files[0]["name"] == "INC-1-postmortem.md"
    content = next(iter(bot.sim.workspace.files.values()))
    assert b"# Postmortem draft: INC-1" in bytes(content.content)


def _scripted_incident(bot: Bot, clock: FakeClock) -> None:
    """A whole incident, minute by minute, with hostile text where people type (and in a display name)."""
    _name_people(bot)
    bot.slack.slash_command("U0L1", "declare sev2 Checkout <b>failing</b> *for* [all](http://evil.example) users")
    channel = bot.wait_provisioned(1).channel_id
    bot.settled()
    clock.advance(minutes=2)
    _say(bot, "U0L1", channel, "assign comms <@U0EXEC>")
    clock.advance(minutes=1)
    _say(bot, "U0L2", channel, "sev sev1 Payments are failing too <script>alert(1)</script>")
    bot.settled()
    clock.advance(minutes=2)
    _say(bot, "U0L2", channel, "ack")
    clock.advance(minutes=1)
    _say(bot, "U0L1", channel, "runbook payment-failures")
    bot.settled()
    checklist = next(m for m in bot.sim.workspace.messages(channel) if "runbook_step_done" in str(m.blocks))
    clock.advance(minutes=1)
    bot.slack.click("U0L2", channel, checklist.ts, "runbook_step_done", block_id="rb1-1")
    clock.advance(minutes=1)
    bot.slack.click("U0L2", channel, checklist.ts, "runbook_step_failed", block_id="rb1-2")
    bot.settled()
    clock.advance(minutes=1)
    _say(bot, "U0L1", channel, "note Stripe green but our webhook secret rotated at 02:55 # heading | pipe")
    clock.advance(minutes=2)
    _say(bot, "U0L1", channel, "status identified Webhook secret mismatch")
    clock.advance(minutes=5)
    _say(bot, "U0L1", channel, "followup Alert on webhook signature failures <@U0L2> 2026-12-01")
    clock.advance(minutes=20)
    view = _resolve_view(bot, "U0L1", channel)
    bot.slack.submit_view("U0L1", view.id, _fill(summary="Restored the previous webhook secret", users="~1,200 card payments failed over 35 minutes",
                                                  checks=["metrics", "errors", "stable"], anyway="Customer confirmation pending",
                                                  root="Secret rotation job did not update payments-api"))
    wait_for(lambda: bot.incident(1).status == "resolved", what="resolved")
    bot.settled()


def _name_people(bot: Bot) -> None:
    """Display names as people set them in Slack: one with none (the real name shows), one with Markdown in it."""
    users = bot.sim.workspace.users
    users["U0L1"].display_name = "Lee Park"
    users["U0L2"].display_name = ""
    users["U0L2"].real_name = "Sam Okafor"
    users["U0EXEC"].display_name = "Erin *exec* [VP]"


def test_golden_markdown_export_and_json_round_trip(tmp_path: Path) -> None:
    clock = FakeClock(START)
    with running_bot(f"sqlite:///{tmp_path / 'g.db'}", paging_config(), clock=clock) as bot:
        _scripted_incident(bot, clock)
        deps = bot.runtime.deps
        # The names snapshot is filled after each change in the background; the export fills any gap itself.
        document = build_document(deps.db, deps.config, 1, names=NameBook(deps.db, bot.runtime.core.gateway, deps.clock))
        markdown = render_markdown(Renderer(), document)
    if not GOLDEN.exists():  # first run writes it for review; committed, it is the contract
        GOLDEN.write_text(markdown)
    assert markdown == GOLDEN.read_text(), "postmortem export changed: review and update tests/golden/postmortem.md"
    page = html(markdown)
    for injected in ("<script>", "<b>", "evil.example\"", "<em>exec", "<h1>heading"):
        assert injected not in page
    assert '<a href' not in page, "no link comes from typed text"
    assert "Checkout &lt;b&gt;failing&lt;/b&gt; *for* [all](http://evil.example) users" in page
    assert json.loads(json.dumps(document)) == document
    assert render_markdown(Renderer(), json.loads(json.dumps(document))) == markdown
    # Every key of sevbot-postmortem/1 before names, alerts and similar incidents is still there, unchanged in kind.
    assert set(OLD_KEYS["top"]) < set(document) and set(OLD_KEYS["incident"]) < set(document["incident"])
    for section in ("severity_history", "roles", "timeline", "pages", "followups", "runbooks"):
        assert all(set(OLD_KEYS[section]) < set(entry) for entry in document[section]), section
    assert document["timeline"][0]["t_plus"] == "T+00:00" and document["incident"]["declared_at"] == "2026-11-22T03:00:00+00:00"
    # A document from before this release (no names) still renders: people by id.
    old = {k: v for k, v in json.loads(json.dumps(document)).items() if k not in ("people", "alerts", "similar")}
    assert "| Incident Commander | @U0L1 |" in render_markdown(Renderer(), old)


OLD_KEYS = {
    "top": ["format", "incident", "resolution", "severity_history", "roles", "timeline", "updates", "pages", "paging_events",
            "runbooks", "validation", "followups"],
    "incident": ["id", "title", "severity", "severity_label", "status", "service", "scope", "description", "declared_by", "declared_at",
                 "resolved_by", "resolved_at", "seconds_to_ack", "seconds_to_resolve", "channel", "postmortem_url"],
    "severity_history": ["at", "t_plus", "by", "from", "to", "reason"],
    "roles": ["role", "role_name", "user", "assigned_by", "assigned_at", "ended_at"],
    "timeline": ["at", "t_plus", "actor", "kind", "summary"],
    "pages": ["started_at", "t_plus", "policy", "reason", "state", "tier", "round", "acked_by", "acked_at", "seconds_to_ack"],
    "followups": ["text", "owner", "due", "created_by", "created_at"],
    "runbooks": ["title", "name", "started_by", "started_at", "completed_at", "steps"],
}


def test_cli_export_formats_and_errors(tmp_path: Path) -> None:
    clock = FakeClock(START)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with running_bot(url, paging_config(), clock=clock) as bot:
        bot.slack.slash_command("U0L1", "declare sev2 Search slow")
        bot.wait_provisioned(1)
        bot.settled()
    env = _env(tmp_path, DATABASE_URL=url)
    md = subprocess.run([*SEVBOT, "export", "INC-1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert md.returncode == 0 and md.stdout.startswith("# Postmortem draft: INC-1")
    out = tmp_path / "inc1.json"
    js = subprocess.run([*SEVBOT, "export", "inc-1", "--format", "json", "-o", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert js.returncode == 0 and json.loads(out.read_text())["incident"]["id"] == "INC-1"
    for args, message in ((["INC-99"], "There is no incident INC-99"), (["42"], "is not an incident id"),
                          (["INC-1", "-o", str(tmp_path / "no-such-folder" / "inc1.md")],
                           f"sevbot: -o: cannot write {tmp_path / 'no-such-folder' / 'inc1.md'}: No such file or directory")):
        result = subprocess.run([*SEVBOT, "export", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr[-2000:]


def _snapshot(bot: Bot) -> dict[str, str]:
    from sqlalchemy import select

    from bot.db.models import PersonName
    with bot.runtime.deps.db.unit_of_work() as session:
        return {row.user_id: row.display_name for row in session.scalars(select(PersonName))}


def _exported(bot: Bot, channel: str, user: str = "U0L1") -> str:
    """Run `/incident export` over signed HTTP and return the Markdown file Slack received."""
    before = set(bot.sim.workspace.files)
    assert "Drafting the postmortem" in _say(bot, user, channel, "export")
    new = wait_for(lambda: [f for k, f in bot.sim.workspace.files.items() if k not in before and f.content], what="export uploaded")
    return bytes(new[0].content).decode("utf-8")


def _incident_with_everyone(bot: Bot, clock: FakeClock) -> str:
    """Declare (pages the on-call group), hand a role over, acknowledge, resolve: every way a person comes in."""
    _name_people(bot)
    bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    channel = bot.wait_provisioned(1).channel_id
    bot.settled()
    clock.advance(minutes=1, seconds=7)
    _say(bot, "U0L1", channel, "assign comms <@U0EXEC>")
    clock.advance(minutes=2, seconds=58)
    _say(bot, "U0L2", channel, "ack")
    clock.advance(hours=1, minutes=10, seconds=3)
    view = _resolve_view(bot, "U0L1", channel)
    bot.slack.submit_view("U0L1", view.id, _fill(summary="Handed back to <@U0EXEC> for comms"))
    wait_for(lambda: bot.incident(1).status == "resolved", what="resolved")
    bot.settled()
    return channel


def test_http_export_names_people_and_reads_times_like_a_person(bot: Bot, clock: FakeClock) -> None:
    channel = _incident_with_everyone(bot, clock)
    # Taken after the commits that brought each person in, off the request path.
    wait_for(lambda: {"U0L1", "U0L2", "U0EXEC"} <= set(_snapshot(bot)), what="names snapshot")
    assert _snapshot(bot)["U0L2"] == "Sam Okafor", "no display name set: the real name"
    markdown = _exported(bot, channel)
    page = html(markdown)
    assert "| Declared | 2026-11-22 03:00:00 UTC by @Lee Park |" in markdown
    assert "| Incident Commander | @Lee Park | 2026-11-22 03:00:00 UTC | end | @Lee Park |" in markdown
    assert "| Communications Lead | @Erin \\*exec\\* \\[VP\\] | 03:01:07 UTC | end | @Lee Park |" in markdown
    assert "acked by @Sam Okafor at 03:04:05 UTC (tier 1)" in markdown
    assert "| 03:04:05 UTC | T+04:05 | @Sam Okafor | Page acknowledged by @Sam Okafor" in markdown
    assert "| 04:14:08 UTC | T+1:14:08 | @Lee Park | Resolved after 1h 14m" in markdown
    assert "Handed back to @Erin \\*exec\\* \\[VP\\] for comms" in markdown, "a mention inside typed text is named"
    assert "### 2026-11-22" in markdown and markdown.count("2026-11-22") < 12, "the date once per day, not on every row"
    assert "@U0" not in markdown and not re.search(r"\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00|T\d{2}:", markdown) and "<em>exec" not in page
    document = build_document(bot.runtime.deps.db, bot.runtime.deps.config, 1)
    assert document["incident"]["declared_by"] == "U0L1" and document["incident"]["declared_by_name"] == "Lee Park"
    assert document["pages"][0]["acked_by"] == "U0L2" and document["pages"][0]["acked_by_name"] == "Sam Okafor"
    assert document["people"]["U0EXEC"] == "Erin *exec* [VP]"
    assert render_markdown(Renderer(), json.loads(json.dumps(document))) == render_markdown(Renderer(), document)


def test_a_person_who_left_is_still_named_from_the_snapshot(bot: Bot, clock: FakeClock, tmp_path: Path) -> None:
    channel = _incident_with_everyone(bot, clock)
    wait_for(lambda: "U0EXEC" in _snapshot(bot), what="Erin's name taken")
    del bot.sim.workspace.users["U0EXEC"]  # Erin left: Slack no longer knows her
    bot.sim.reset_calls()
    markdown = _exported(bot, channel)
    assert "| Communications Lead | @Erin \\*exec\\* \\[VP\\] |" in markdown
    assert not [c for c in bot.sim.calls_to("users.info") if c.args.get("user") == "U0EXEC"], "the snapshot answered"
    if bot.runtime.deps.db.url.startswith("sqlite"):  # and the CLI, with no Slack at all, names her the same way
        env = _env(tmp_path, DATABASE_URL=bot.runtime.deps.db.url)
        cli = subprocess.run([*SEVBOT, "export", "INC-1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0 and "@Erin \\*exec\\* \\[VP\\]" in cli.stdout


def test_export_fills_missing_names_and_never_fails_when_slack_cannot_answer(bot: Bot, clock: FakeClock) -> None:
    from sqlalchemy import delete

    from bot.db.models import PersonName
    channel = _incident_with_everyone(bot, clock)
    _say(bot, "U0L1", channel, "followup Check the webhook <@U0NOBODY>")  # an id Slack has never heard of
    bot.settled()
    # Every name taken before two are forgotten: a late one would land after the delete (or be missing below).
    wait_for(lambda: {"U0L1", "U0L2", "U0EXEC"} <= set(_snapshot(bot)), what="names taken")
    with bot.runtime.deps.db.unit_of_work() as session:
        session.execute(delete(PersonName).where(PersonName.user_id.in_(["U0L2", "U0EXEC"])))
    bot.runtime.core.gateway._user_cache.clear()  # a fresh process: nothing remembered in memory either
    bot.sim.inject("users.info", http_status=500, times=50)
    markdown = _exported(bot, channel)
    assert "@Lee Park" in markdown, "the snapshot still names whom it has"
    assert "| Communications Lead | @U0EXEC |" in markdown and "@U0NOBODY" in markdown, "else the raw id; the export is not lost"
    bot.sim.reset_calls()
    bot.sim.clear_faults()
    markdown = _exported(bot, channel)
    assert "| Communications Lead | @Erin \\*exec\\* \\[VP\\] |" in markdown and "@Sam Okafor" in markdown, "filled at export"
    assert "@U0NOBODY" in markdown
    looked_up = sorted(c.args.get("user") for c in bot.sim.calls_to("users.info"))
    assert looked_up == ["U0EXEC", "U0L2", "U0NOBODY"], "only the missing ones, once each"
    assert {"U0L2", "U0EXEC"} <= set(_snapshot(bot))


@dataclass(frozen=True)
class _Similar:
    """Shaped like bot/similar's SimilarIncident: what the export's hook takes."""

    incident_id: int
    title: str
    declared_at: datetime
    severity: str
    service: str | None
    root_cause: str | None
    fix: str | None
    postmortem_url: str | None
    score: float
    reasons: list[str]


def _attach_alerts(bot: Bot) -> None:
    from bot.db.models import Alert, AlertGroup
    fired = START + timedelta(seconds=-95)
    with bot.runtime.deps.db.unit_of_work() as session:
        group = AlertGroup(source="alertmanager", group_key="{}:{alertname=\"x\"}", state="resolved", route="payments", action="page",
                           title="Checkout *errors* > 5% <!channel>", severity="critical", service="payments", labels={},
                           external_url="https://am.example/#/alerts?receiver=sevbot&filter={a=\"b\"}", firing=0,
                           first_fired_at=fired, last_event_at=START, resolved_at=START + timedelta(minutes=40),
                           acked_by="U0L2", acked_at=START + timedelta(minutes=4, seconds=5), incident_id=1)
        session.add(group)
        session.flush()
        session.add_all([
            Alert(group_id=group.id, fingerprint="f1", status="resolved", labels={"alertname": "HighErrorRate_[prod](http://evil)"},
                  annotations={}, starts_at=fired, ends_at=START + timedelta(minutes=40),
                  generator_url="http://prometheus.example/graph?g0.expr=rate(x[5m])>0.05", updated_at=START),
            Alert(group_id=group.id, fingerprint="f2", status="resolved", labels={"alertname": "# LatencyHigh"}, annotations={},
                  starts_at=fired, ends_at=None, generator_url="javascript:alert(1)", updated_at=START),
        ])


def test_alerts_and_similar_incidents_sections(bot: Bot, clock: FakeClock) -> None:
    _name_people(bot)
    bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    bot.wait_provisioned(1)
    bot.settled()
    _attach_alerts(bot)
    deps = bot.runtime.deps
    past = [_Similar(7, "Checkout 500s after <b>deploy</b>", datetime(2026, 9, 1, 14, 5, 9, 123456, tzinfo=timezone.utc), "sev1", "payments",
                     "Expired webhook secret", "Rotated | restarted", "https://docs.example/pm/inc-7", 0.8123, ["same service", "title: *checkout*"]),
            _Similar(3, "Search slow", datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc), "sev3", None, None, None, None, 0.2, [])]
    seen: list[int] = []

    def similar(session: object, incident_id: int) -> list[_Similar]:
        seen.append(incident_id)
        return past

    document = build_document(deps.db, deps.config, 1, names=NameBook(deps.db, bot.runtime.core.gateway, deps.clock), similar=similar)
    assert seen == [1]
    markdown = render_markdown(Renderer(), document)
    alerts = markdown.split("## Alerts", 1)[1].split("\n## ", 1)[0]
    assert ("| 2026-11-22 02:58:25 UTC (T-01:35) | 03:04:05 UTC by @Sam Okafor | 03:40:00 UTC |") in alerts
    row = next(line for line in alerts.splitlines() if line.startswith("| [Checkout"))
    cells = inlines(f"| a | b | c | d | e |\n|---|---|---|---|---|\n{row}\n")[-5:]
    links = [(t.attrs["href"], t) for t in (cells[0].children or []) if t.type == "link_open"]
    assert [href for href, _ in links] == ["https://am.example/#/alerts?receiver=sevbot&filter=%7Ba=%22b%22%7D",
                                           "http://prometheus.example/graph?g0.expr=rate%28x%5B5m%5D%29%3E0.05"]
    _, text = shape(cells[0])
    assert text.replace("\u2060", "") == "Checkout *errors* > 5% @channel: HighErrorRate_[prod](http://evil), # LatencyHigh"
    assert "<!channel>" not in markdown and "@channel" not in markdown
    assert shape(cells[1])[1] == "alertmanager"
    similar_part = markdown.split("## Similar past incidents", 1)[1].split("\n## ", 1)[0]
    first, second = [line for line in similar_part.splitlines() if line.startswith("| INC-")]
    tokens = inlines(f"{'| x ' * 8}|\n{'|---' * 8}|\n{first}\n")[-8:]
    assert [shape(t)[1] for t in tokens] == ["INC-7 · Checkout 500s after <b>deploy</b>", "2026-09-01 14:05:09 UTC", "sev1", "payments",
                                             "same service; title: *checkout*", "Expired webhook secret", "Rotated | restarted", "postmortem"]
    assert [t.attrs["href"] for t in tokens[7].children or [] if t.type == "link_open"] == ["https://docs.example/pm/inc-7"]
    assert second.startswith("| INC-3 · Search slow | 2026-03-02 01:00:00 UTC | sev3 |  |  | not recorded | not recorded | none |")
    assert document["similar"][0] == {"id": "INC-7", "title": "Checkout 500s after <b>deploy</b>", "declared_at": "2026-09-01T14:05:09.123456+00:00",
                                      "severity": "sev1", "service": "payments", "root_cause": "Expired webhook secret", "fix": "Rotated | restarted",
                                      "postmortem_url": "https://docs.example/pm/inc-7", "score": 0.812, "reasons": ["same service", "title: *checkout*"]}
    assert document["alerts"][0]["acked_by"] == "U0L2" and document["alerts"][0]["acked_by_name"] == "Sam Okafor"
    assert render_markdown(Renderer(), json.loads(json.dumps(document))) == markdown
    # No search ran: no section; a search that found nothing says so.
    assert "## Similar past incidents" not in render_markdown(Renderer(), build_document(deps.db, deps.config, 1))
    nothing = render_markdown(Renderer(), build_document(deps.db, deps.config, 1, similar=lambda session, incident_id: []))
    assert "## Similar past incidents\n\nNo similar past incident was found." in nothing
