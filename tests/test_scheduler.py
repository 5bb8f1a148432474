"""Stakeholder-update reminders and the escalation ladder, every branch, with an injected clock."""
from __future__ import annotations

from pathlib import Path

from bot.db.models import Page
from bot.ids import ActionId
from tests.harness import Bot, FakeClock, paging_config, running_bot, wait_for




def _tick(bot: Bot) -> None:
    bot.runtime.core.scheduler.tick()
    bot.settled()


def _declare(bot: Bot, text: str = "declare sev1 Checkout failing") -> tuple[int, str]:
    bot.slack.slash_command("U0L1", text)
    incident = bot.wait_provisioned(len(bot.incidents()))
    bot.settled()
    return incident.id, incident.channel_id


def _dm_texts(bot: Bot, user: str) -> list[str]:
    channel = bot.sim.workspace.dm_channel(user)
    return [m.text + str(m.blocks) for m in bot.sim.workspace.messages(channel.id)] if channel else []


def _pages(bot: Bot) -> list[Page]:
    with bot.db.unit_of_work() as session:
        return list(session.query(Page).order_by(Page.id))


def _kinds(bot: Bot, incident_id: int) -> list[str]:
    return [e.kind for e in bot.timeline(incident_id)]


def test_page_acknowledged_before_the_timeout_stops_the_ladder(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot)
    assert any("You are paged for INC-1" in t for t in _dm_texts(bot, "U0L2")), "tier 1 is the on-call group (U0L1, U0L2)"
    assert any("Paged <@U0L1>, <@U0L2> (tier 1" in m.text for m in bot.sim.workspace.messages(channel))
    clock.advance(minutes=4)
    answer = bot.slack.slash_command("U0L2", "ack", channel_id=channel).json()["text"]
    assert "Acknowledged INC-1 (after 4m00s)" in answer
    clock.advance(minutes=10)
    _tick(bot)
    assert _pages(bot)[0].state == "acked" and _pages(bot)[0].tier == 0
    assert not any("tier 2" in t for t in _dm_texts(bot, "U0L2"))
    assert "page_acked" in _kinds(bot, incident_id) and "page_escalated" not in _kinds(bot, incident_id)
    assert "U0L2" in bot.sim.workspace.channels[channel].members


def test_no_ack_escalates_at_the_timeout_then_ack_by_button(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot)
    clock.advance(minutes=4, seconds=59)
    _tick(bot)
    assert _pages(bot)[0].tier == 0, "not before the timeout"
    clock.advance(seconds=1)
    _tick(bot)
    assert _pages(bot)[0].tier == 1
    assert any("Paged <@U0L2> (tier 2" in m.text for m in bot.sim.workspace.messages(channel))
    dm = bot.sim.workspace.dm_channel("U0L2")
    tier2 = [m for m in bot.sim.workspace.messages(dm.id) if "tier 2" in m.text + str(m.blocks)][-1]
    assert bot.slack.click("U0L2", dm.id, tier2.ts, ActionId.PAGE_ACK).status == 200
    wait_for(lambda: _pages(bot)[0].state == "acked", what="acked by button")
    clock.advance(minutes=30)
    _tick(bot)
    assert _pages(bot)[0].tier == 1 and _kinds(bot, incident_id).count("page_escalated") == 1


def test_ladder_repeats_then_says_plainly_it_is_exhausted(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot)
    for _ in range(6):  # 3 tiers x 2 rounds
        clock.advance(minutes=5)
        _tick(bot)
    page = _pages(bot)[0]
    assert page.state == "exhausted" and page.round == 2
    assert _kinds(bot, incident_id).count("paged") == 6
    told = [m.text for m in bot.sim.workspace.messages(channel)] + [m.text for m in bot.sim.workspace.messages("C0STAKE")]
    assert sum("Nobody acknowledged the page for INC-1" in t for t in told) == 2
    clock.advance(minutes=30)
    _tick(bot)
    assert _kinds(bot, incident_id).count("paged") == 6


def test_resolve_mid_ladder_stops_everything_and_reopen_resumes_updates(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot)
    bot.slack.slash_command("U0L1", "resolve", channel_id=channel)
    view = wait_for(lambda: next((v for v in bot.sim.workspace.views.values() if v.view["callback_id"] == "resolve_modal"), None), what="modal")
    bot.slack.submit_view("U0L1", view.id, {"resolve_summary": {"resolve_summary": "Fixed by rollback"},
                                            "resolve_users": {"resolve_users": "Checkout for everyone, 20 min"},
                                            "resolve_checks": {"resolve_checks": ["metrics", "errors", "stable", "customer"]}})
    clock.advance(hours=2)
    _tick(bot)
    assert _pages(bot)[0].state == "cancelled"
    assert "update_reminder" not in _kinds(bot, incident_id) and "page_escalated" not in _kinds(bot, incident_id)
    assert "nothing to reopen" not in bot.slack.slash_command("U0L1", "reopen It came back", channel_id=channel).json()["text"]
    assert "nothing to reopen" in bot.slack.slash_command("U0L1", "reopen", channel_id=channel).json()["text"]
    clock.advance(minutes=15)
    _tick(bot)
    assert _kinds(bot, incident_id).count("update_reminder") == 1


def test_reminders_keep_coming_and_the_ic_hears_after_two_misses(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot, "declare sev2 Search slow")  # sev2: 30 min cadence, no page
    assert "is now Communications Lead" in bot.say("U0L1", "assign comms <@U0EXEC>", channel)
    clock.advance(minutes=29)
    _tick(bot)
    assert "update_reminder" not in _kinds(bot, incident_id)
    clock.advance(minutes=1)
    _tick(bot)
    reminders = [m for m in bot.sim.workspace.messages(channel) if "stakeholder update for INC-1 is due" in m.text]
    assert len(reminders) == 1 and "<@U0EXEC>" in reminders[0].text, "the Comms Lead is mentioned"
    assert not any("missed" in t for t in _dm_texts(bot, "U0L1"))
    clock.advance(minutes=30)
    _tick(bot)
    assert _kinds(bot, incident_id).count("update_reminder") == 2
    assert any("missed 1 stakeholder update" in t for t in _dm_texts(bot, "U0L1")), "the IC is DMed on the second reminder"


def test_catch_up_after_downtime_is_one_reminder(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    incident_id, _ = _declare(bot, "declare sev2 Search slow")
    clock.advance(hours=3)  # six intervals passed while "down"
    _tick(bot)
    _tick(bot)
    assert _kinds(bot, incident_id).count("update_reminder") == 1


def test_an_update_just_before_the_reminder_restarts_the_cadence(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot, "declare sev2 Search slow")
    clock.advance(minutes=29, seconds=59)
    bot.slack.slash_command("U0L1", "update", channel_id=channel)
    view = wait_for(lambda: next((v for v in bot.sim.workspace.views.values() if v.view["callback_id"] == "stakeholder_update_modal"), None), what="modal")
    empty = bot.slack.submit_view("U0L1", view.id, {}).json()
    assert empty["response_action"] == "errors" and {"update_impact", "update_doing"} <= set(empty["errors"])
    ok = bot.slack.submit_view("U0L1", view.id, {
        "update_status": {"update_status": "identified"},
        "update_impact": {"update_impact": "About 20% of searches time out for all users <!channel>"},
        "update_doing": {"update_doing": "Sam is rolling back search-api to v88"},
        "update_next": {"update_next": "30"},
    })
    assert ok.status == 200
    bot.settled()
    stakeholder = [m.text for m in bot.sim.workspace.messages("C0STAKE") if "INC-1 update" in m.text]
    assert len(stakeholder) == 1 and "20% of searches time out" in stakeholder[0] and "<!channel>" not in stakeholder[0]
    assert "Next update:" in stakeholder[0] and "Identified" in stakeholder[0]
    clock.advance(seconds=2)
    _tick(bot)
    assert "update_reminder" not in _kinds(bot, incident_id)
    clock.advance(minutes=30)
    _tick(bot)
    assert _kinds(bot, incident_id).count("update_reminder") == 1
    assert bot.incident(incident_id).status == "identified"


def test_running_escalation_keeps_its_snapshot(paging_bot: Bot, clock: FakeClock) -> None:
    from bot.config import EscalationPolicy, Tier

    bot = paging_bot
    _declare(bot)
    deps = bot.runtime.deps
    # The policy file edited after the page started (Deps is frozen; this stands in for a reload).
    object.__setattr__(deps, "config", deps.config.model_copy(update={"escalation_policies": {"default": EscalationPolicy(tiers=(Tier(targets=("U0EXEC",)),))}}))
    clock.advance(minutes=5)
    _tick(bot)
    assert any("tier 2" in t for t in _dm_texts(bot, "U0L2")) and not _dm_texts(bot, "U0EXEC")


def test_critical_path_pages_tier_one_and_the_contact_together(paging_bot: Bot) -> None:
    bot = paging_bot
    _declare(bot, "declare sev0 Customer data exposed")
    assert any("You are paged" in t for t in _dm_texts(bot, "U0IC")), "the escalation contact"
    assert any("You are paged" in t for t in _dm_texts(bot, "U0L1"))


def test_escalate_pages_the_next_tier_with_context(paging_bot: Bot) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot)
    bot.slack.slash_command("U0L1", "runbook sev1-first-30-minutes", channel_id=channel)
    bot.settled()
    bot.slack.slash_command("U0L1", "escalate", channel_id=channel)
    view = wait_for(lambda: next((v for v in bot.sim.workspace.views.values() if v.view["callback_id"] == "escalate_modal"), None), what="modal")
    assert bot.slack.submit_view("U0L1", view.id, {}).json()["response_action"] == "errors"
    bot.slack.submit_view("U0L1", view.id, {
        "escalate_tried": {"tried": "Restarted payments pods"}, "escalate_observed": {"observed": "502s at 40%"},
        "escalate_suspect": {"suspect": "Bad config push at 14:02"}})
    wait_for(lambda: _pages(bot)[0].tier == 1, what="tier 2 paged now")
    bot.settled()
    dm = next(t for t in _dm_texts(bot, "U0L2") if "tier 2" in t)
    assert "Restarted payments pods" in dm and "502s at 40%" in dm and "Bad config push" in dm and "0 done" in dm


def test_direct_page_and_undeliverable_pages_are_reported(paging_bot: Bot) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot, "declare sev2 Search slow")
    assert "deactivated" in bot.say("U0L1", "page <@U0GONE>", channel)
    assert "paged" not in _kinds(bot, incident_id), "nobody was paged: Slack said the person is deactivated"
    assert "Paging <@U0EXEC>" in bot.say("U0L1", "page <@U0EXEC>", channel)
    bot.settled()
    assert any("You are paged for INC-1" in t for t in _dm_texts(bot, "U0EXEC"))
    bot.sim.inject("chat.postMessage", error="channel_not_found", when=lambda args: args.get("channel") == "U0EXEC")
    assert "Paging <@U0EXEC>" in bot.say("U0L1", "page <@U0EXEC>", channel)
    bot.settled()
    assert any("Could not reach <@U0EXEC>" in m.text for m in bot.sim.workspace.messages(channel))
    assert "page_undelivered" in _kinds(bot, incident_id)


def test_a_long_runbook_while_still_investigating_prompts_the_ic(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    incident_id, channel = _declare(bot, "declare sev2 Payment card declined")
    bot.slack.slash_command("U0L1", "runbook payment-failures", channel_id=channel)
    bot.settled()
    clock.advance(minutes=15)
    _tick(bot)
    assert any("15-minute rule" in m.text for m in bot.sim.workspace.messages(channel))
    assert "escalation_prompted" in _kinds(bot, incident_id)


def test_durations_from_the_environment(tmp_path: Path, clock: FakeClock) -> None:
    with running_bot(f"sqlite:///{tmp_path / 'd.db'}", paging_config(), clock=clock,
                     sevbot_update_interval="90s", sevbot_ack_timeout="2m") as bot:
        incident_id, _ = _declare(bot)
        clock.advance(seconds=90)
        _tick(bot)
        assert _kinds(bot, incident_id).count("update_reminder") == 1
        assert _pages(bot)[0].tier == 0
        clock.advance(seconds=30)
        _tick(bot)
        assert _pages(bot)[0].tier == 1


def test_a_bad_group_in_a_tier_does_not_stop_the_rest(tmp_path: Path, clock: FakeClock) -> None:
    from bot.config import EscalationPolicy, Tier

    policy = EscalationPolicy(tiers=(Tier(targets=("S0NOPE", "U0L2")),))
    with running_bot(f"sqlite:///{tmp_path / 'g.db'}", paging_config(escalation_policies={"default": policy}), clock=clock) as bot:
        incident_id, channel = _declare(bot)
        assert any("You are paged for INC-1" in t for t in _dm_texts(bot, "U0L2"))
        line = next(m.text for m in bot.sim.workspace.messages(channel) if "Paged <@U0L2>" in m.text)
        assert "Could not reach <!subteam^S0NOPE> (no_such_subteam)" in line
        assert "page_undelivered" in _kinds(bot, incident_id)
