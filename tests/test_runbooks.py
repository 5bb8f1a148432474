"""Runbooks: the file checker (file:line: problem), start-up refusal, and checklists driven over HTTP."""
from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from bot.ids import START_RUNBOOK_PREFIX, ActionId
from bot.runbooks.loader import RUNBOOKS_DIR, load_dir
from tests.harness import Bot, running_bot, wait_for
from tests.test_cli import SEVBOT, _env

GOOD = """name: {name}
title: Check the thing
owner: Team
steps:
  - title: Look at the dashboard
    detail: "Open <https://grafana.example.com|Grafana>"
"""

BROKEN = {
    "unknown-key": ("name: unknown-key\ntitle: T\nowner: O\ncolour: red\nsteps:\n  - title: A\n", 4, "unknown key 'colour'"),
    "missing-title": ("name: missing-title\nowner: O\nsteps:\n  - title: A\n", 1, "missing 'title'"),
    "empty-steps": ("name: empty-steps\ntitle: T\nowner: O\nsteps: []\n", 4, "'steps' is empty"),
    "bad-yaml": ("name: bad-yaml\ntitle: [unclosed\nowner: O\n", 3, "not valid YAML"),
    "step-unknown": ("name: step-unknown\ntitle: T\nowner: O\nsteps:\n  - title: A\n    command: rm -rf\n", 6, "unknown key 'command' in step 1"),
    "long-title": ("name: long-title\ntitle: T\nowner: O\nsteps:\n  - title: " + "x" * 151 + "\n", 5, "'title' is 151 characters; the limit is 150"),
    "bad-severity": ("name: bad-severity\ntitle: T\nowner: O\napplies_when:\n  severities: [high]\nsteps:\n  - title: A\n", 5, "'high' is not a severity"),
}


def test_shipped_runbooks_are_valid_and_cover_the_seeds() -> None:
    runbooks, problems = load_dir(RUNBOOKS_DIR, {"payments", "checkout", "login", "inventory", "database", "search", "api"})
    assert problems == []
    assert {"payment-failures", "slow-checkout-db-pool", "inventory-sync-errors", "elevated-5xx-after-deploy", "sev1-first-30-minutes"} <= set(runbooks)
    for runbook in runbooks.values():
        assert all("investigate" != step.title.lower().strip() for step in runbook.steps)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_reports_file_and_line_for_each_kind_of_mistake(tmp_path: Path, name: str) -> None:
    text, line, message = BROKEN[name]
    (tmp_path / f"{name}.yml").write_text(text)
    (tmp_path / "fine.yml").write_text(GOOD.format(name="fine"))
    result = subprocess.run([*SEVBOT, "runbooks", "check", str(tmp_path)], cwd=tmp_path, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{tmp_path / (name + '.yml')}:{line}: {message}" in result.stdout, result.stdout


def test_duplicate_names_are_reported(tmp_path: Path) -> None:
    (tmp_path / "dup.yml").write_text(GOOD.format(name="dup"))
    sub = tmp_path / "other.yaml"
    sub.write_text(GOOD.format(name="dup"))
    _, problems = load_dir(tmp_path)
    assert any("duplicate name 'dup'" in str(p) or "must match the file name" in str(p) for p in problems)


def test_valid_directory_passes(tmp_path: Path) -> None:
    (tmp_path / "fine.yml").write_text(GOOD.format(name="fine"))
    result = subprocess.run([*SEVBOT, "runbooks", "check", str(tmp_path)], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "1 runbook(s) OK" in result.stdout


def test_serve_refuses_an_invalid_runbook_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "books"
    bad.mkdir()
    (bad / "broken.yml").write_text(BROKEN["unknown-key"][0].replace("unknown-key", "broken"))
    migrated = subprocess.run([*SEVBOT, "migrate"], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert migrated.returncode == 0
    result = subprocess.run([*SEVBOT, "serve"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env=_env(tmp_path, SLACK_BOT_TOKEN="xoxb-x", SLACK_SIGNING_SECRET="s" * 20, SEVBOT_RUNBOOKS=str(bad)))
    assert result.returncode == 2
    assert f"runbooks: {bad / 'broken.yml'}:4: unknown key 'colour'" in result.stderr


def _declare(bot: Bot, text: str) -> tuple[int, str, str]:
    bot.slack.slash_command("U0L1", text)
    incident = bot.wait_provisioned(len(bot.incidents()))
    return incident.id, incident.channel_id, incident.card_ts


def _checklist(bot: Bot, channel: str, index: int = 0):  # type: ignore[no-untyped-def]
    return wait_for(lambda: (m := [m for m in bot.sim.workspace.messages(channel) if "runbook_step" in str(m.blocks) or "📋" in str(m.blocks)])
                    and len(m) > index and m[index], what="checklist posted")



def test_matching_runbook_offered_started_and_checked_off(bot: Bot) -> None:
    incident_id, channel, card_ts = _declare(bot, "declare sev2 Payment card declined for everyone")
    card = bot.sim.workspace.find_message(channel, card_ts)
    assert "Start runbook: Payment failures" in str(card.blocks)
    listing = bot.slack.slash_command("U0L1", "runbook", channel_id=channel).json()["text"]
    assert "`payment-failures`" in listing and "fits this incident" in listing

    bot.slack.click("U0L1", channel, card_ts, f"{START_RUNBOOK_PREFIX}1")
    checklist = _checklist(bot, channel)
    assert "0/12 done" in str(checklist.blocks)
    steps_block = lambda n: f"rb1-{n}"  # noqa: E731
    bot.slack.click("U0L2", channel, checklist.ts, ActionId.RUNBOOK_STEP_DONE, block_id=steps_block(1))
    bot.slack.click("U0L2", channel, checklist.ts, ActionId.RUNBOOK_STEP_SKIP, block_id=steps_block(2))
    bot.settled()
    updated = bot.sim.workspace.find_message(channel, checklist.ts)
    assert "2/12 done" in str(updated.blocks) and "Done by <@U0L2>" in str(updated.blocks) and updated.edited_ts
    assert len([m for m in bot.sim.workspace.messages(channel) if "📋" in str(m.blocks)]) == 1, "updated in place, not re-posted"

    bot.slack.click("U0L1", channel, checklist.ts, ActionId.RUNBOOK_STEP_FAILED, block_id=steps_block(3))
    note_view = wait_for(lambda: next((v for v in bot.sim.workspace.views.values() if v.view["callback_id"] == "runbook_failure_note_modal"), None), what="note modal")
    bot.slack.submit_view("U0L1", note_view.id, {"runbook_failure_note": {ActionId.RUNBOOK_NOTE: "Pods restart every 30s, OOMKilled; suspect the new cache"}})
    bot.settled()
    texts = [m.text for m in bot.sim.workspace.messages(channel)]
    prompt = next(t for t in texts if "Step 3 failed: escalate to L2?" in t)
    assert "What we tried:* 1. Size the blast radius" in prompt and "What failed:*" in prompt
    assert any("OOMKilled; suspect the new cache" in t for t in texts)
    kinds = [e.kind for e in bot.timeline(incident_id)]
    assert {"runbook_started", "runbook_step_done", "runbook_step_skipped", "runbook_step_failed", "escalation_suggested", "runbook_step_note"} <= set(kinds)

    before = len(bot.timeline(incident_id))
    # an outdated copy of the message still shows step 1's buttons: clicking it changes nothing, politely
    bot.slack.click("U0L1", channel, checklist.ts, ActionId.RUNBOOK_STEP_SKIP, value="1:1", block_id=steps_block(5))
    wait_for(lambda: any("already marked done" in e.text for e in bot.sim.workspace.ephemerals), what="polite refusal")
    assert len(bot.timeline(incident_id)) == before


def test_simultaneous_clicks_and_forged_values(bot: Bot) -> None:
    incident_id, channel, _ = _declare(bot, "declare sev1 Checkout broken")
    bot.slack.slash_command("U0L1", "runbook sev1-first-30-minutes", channel_id=channel)
    checklist = _checklist(bot, channel)
    statuses: list[int] = []
    racers = [threading.Thread(target=lambda u=u: statuses.append(bot.slack.click(u, channel, checklist.ts, ActionId.RUNBOOK_STEP_DONE, block_id="rb1-1").status))
              for u in ("U0L1", "U0L2")]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert statuses == [200, 200]
    wait_for(lambda: any("already marked done" in e.text for e in bot.sim.workspace.ephemerals), what="the slower click is told")
    assert [e.kind for e in bot.timeline(incident_id)].count("runbook_step_done") == 1
    for forged in ("99:1", "1:99", "x:y", "1"):
        bot.slack.click("U0L1", channel, checklist.ts, ActionId.RUNBOOK_STEP_DONE, value=forged, block_id="rb1-2")
    wait_for(lambda: len([e for e in bot.sim.workspace.ephemerals if "nothing changed" in e.text]) >= 5, what="forged values refused")
    assert [e.kind for e in bot.timeline(incident_id)].count("runbook_step_done") == 1
    again = bot.slack.slash_command("U0L1", "runbook sev1-first-30-minutes", channel_id=channel).json()["text"]
    assert "already running" in again
    unknown = bot.slack.slash_command("U0L1", "runbook nope", channel_id=channel).json()["text"]
    assert "There is no runbook `nope`" in unknown


def test_sixty_steps_stay_within_block_kit_and_finish(tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    steps = "".join(f"  - title: Step number {i} with a specific command\n    detail: \"```kubectl get pods -n ns{i}```\"\n" for i in range(1, 61))
    (books / "long.yml").write_text(f"name: long\ntitle: A very long checklist\nowner: SRE\napplies_when:\n  keywords: [long]\nsteps:\n{steps}")
    with running_bot(f"sqlite:///{tmp_path / 'b.db'}", runbooks_dir=books) as bot:
        incident_id, channel, _ = _declare(bot, "declare sev3 A long night")
        bot.slack.slash_command("U0L1", "runbook long", channel_id=channel)
        parts = wait_for(lambda: (p := [m for m in bot.sim.workspace.messages(channel) if "📋" in str(m.blocks)]) and len(p) == 4 and p, what="4 parts")
        assert all(len(m.blocks) <= 50 for m in parts)
        # snapshot: changing the loaded runbook now does not change the running checklist
        bot.runtime.core.runbooks.runbooks.clear()
        for part_index, part in enumerate(parts):
            for n in range(part_index * 15 + 1, part_index * 15 + 16):
                bot.slack.click("U0L2", channel, part.ts, ActionId.RUNBOOK_STEP_DONE, block_id=f"rb1-{n}")
        wait_for(lambda: any("Runbook complete: A very long checklist: 60 done" in m.text for m in bot.sim.workspace.messages(channel)), timeout=30, what="summary")
        bot.settled()
        first = bot.sim.workspace.find_message(channel, parts[0].ts)
        assert "60/60 done" in str(first.blocks) and "Complete" in str(first.blocks)
