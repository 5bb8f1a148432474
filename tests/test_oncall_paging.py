"""Escalation tiers that name schedules, through the real bot: the person on call (overrides included) is paged and
the choice is snapshotted; an empty shift falls through to the next tier at once; nobody at all is said plainly.
Incidents and alert groups share the ladder, so both are driven."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from bot.config import EscalationPolicy, Schedule, Tier
from bot.db.models import AlertEvent, Page
from bot.oncall.overrides import add_override
from tests.alerts_harness import alert_messages, alerts_config, am_payload, dms, post_alert, tick
from tests.harness import Bot, FakeClock, paging_config, running_bot

TUESDAY = datetime(2027, 1, 5, 10, 0, tzinfo=timezone.utc)
SCHEDULES = {
    # U0L2 on Mondays, U0IC on Tuesdays, … (daily at 09:00 UTC from Monday 2027-01-04).
    "primary": Schedule.model_validate({"time_zone": "UTC", "layers": [
        {"name": "days", "users": ["U0L2", "U0IC"], "rotation": "daily", "handoff": "09:00", "start": "2027-01-04"}]}),
    # Only at weekends: on a Tuesday nobody is on call.
    "weekend": Schedule.model_validate({"time_zone": "Europe/Berlin", "layers": [
        {"name": "weekend", "users": ["U0L1"], "rotation": "weekly", "start": "2027-01-04",
         "restrictions": [{"days": ["sat", "sun"], "start": "00:00", "end": "00:00"}]}]}),
}
LADDER = EscalationPolicy(tiers=(Tier(targets=("schedule:weekend",)), Tier(targets=("schedule:primary",)),
                                 Tier(targets=("U0EXEC",))), repeat=2)


@pytest.fixture
def oncall_clock() -> FakeClock:
    return FakeClock(TUESDAY)


@pytest.fixture
def oncall_bot(database_url: str, oncall_clock: FakeClock) -> Iterator[Bot]:
    config = paging_config(escalation_policies={"default": LADDER}, schedules=SCHEDULES)
    with running_bot(database_url, config, clock=oncall_clock) as running:
        yield running


def _declare(bot: Bot) -> tuple[int, str]:
    bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    incident = bot.wait_provisioned(len(bot.incidents()))
    bot.settled()
    return incident.id, incident.channel_id


def _summaries(bot: Bot, incident_id: int) -> list[str]:
    return [e.summary for e in bot.timeline(incident_id)]


def _texts(bot: Bot, user: str) -> list[str]:
    return [m.text + str(m.blocks) for m in dms(bot, user)]


def test_the_person_on_call_is_paged_and_a_hand_off_mid_escalation_changes_nothing(oncall_bot: Bot,
                                                                                   oncall_clock: FakeClock) -> None:
    bot = oncall_bot
    with bot.db.unit_of_work() as session:  # Lee covers Ines's Tuesday from 09:30 to 10:03
        add_override(session, schedule="primary", user_id="U0L1", starts_at=TUESDAY.replace(minute=30, hour=9),
                     ends_at=TUESDAY.replace(minute=3), created_by="U0IC", now=TUESDAY.replace(hour=8))
    incident_id, channel = _declare(bot)
    summaries = _summaries(bot, incident_id)
    assert "Tier 1: nobody is on call for weekend, paging tier 2 at once" in summaries
    assert "Paged tier 2 (round 1): <@U0L1> (on call for primary)" in summaries
    told = [m.text for m in bot.sim.workspace.messages(channel)]
    assert any("Tier 1: nobody is on call for weekend, paging tier 2 at once" in t for t in told)
    assert any("You are paged for INC-1" in t for t in _texts(bot, "U0L1"))
    assert not any("You are paged" in t for t in _texts(bot, "U0IC")), "the override wins over the rota"
    with bot.db.unit_of_work() as session:
        page = session.scalars(select(Page)).one()
        assert page.policy["tiers"][1]["targets"] == ["U0L1"]
        assert page.policy["tiers"][1]["on_call"] == [{"schedule": "primary", "user": "U0L1"}]
        assert page.policy["tiers"][0]["on_call"] == [{"schedule": "weekend", "user": None}]
    # The override ends at 10:03 (Ines is on call again); tier 3 at 10:05, round 2 at 10:10 pages the snapshot.
    for _ in range(2):
        oncall_clock.advance(minutes=5)
        tick(bot)
    summaries = _summaries(bot, incident_id)
    assert "Paged tier 3 (round 1): <@U0EXEC>" in summaries
    assert "Paged tier 2 (round 2): <@U0L1> (on call for primary)" in summaries
    assert summaries.count("Tier 1: nobody is on call for weekend, paging tier 2 at once") == 2
    assert not any("You are paged" in t for t in _texts(bot, "U0IC"))


def test_a_removed_override_does_not_apply(oncall_bot: Bot) -> None:
    bot = oncall_bot
    from bot.oncall.overrides import remove_override

    with bot.db.unit_of_work() as session:
        row = add_override(session, schedule="primary", user_id="U0L1", starts_at=TUESDAY.replace(hour=9),
                           ends_at=TUESDAY.replace(hour=12), created_by="U0IC", now=TUESDAY.replace(hour=8))
        session.flush()
        remove_override(session, row.id, removed_by="U0IC", now=TUESDAY.replace(hour=8, minute=30))
    incident_id, _ = _declare(bot)
    assert "Paged tier 2 (round 1): <@U0IC> (on call for primary)" in _summaries(bot, incident_id)
    assert any("You are paged for INC-1" in t for t in _texts(bot, "U0IC"))


@pytest.fixture
def nobody_bot(database_url: str, oncall_clock: FakeClock) -> Iterator[Bot]:
    ladder = EscalationPolicy(tiers=(Tier(targets=("schedule:weekend",)),))
    config = paging_config(escalation_policies={"default": ladder}, schedules=SCHEDULES)
    with running_bot(database_url, config, clock=oncall_clock) as running:
        yield running


def test_nobody_on_call_anywhere_is_said_plainly(nobody_bot: Bot) -> None:
    bot = nobody_bot
    incident_id, channel = _declare(bot)
    assert ("Paging requested (declared SEV1); nobody could be paged: nobody is on call for weekend and the default "
            "ladder names no one else") in _summaries(bot, incident_id)
    assert any("Nobody could be paged" in m.text for m in bot.sim.workspace.messages(channel))
    with bot.db.unit_of_work() as session:
        assert session.scalars(select(Page)).all() == []
    assert not any("You are paged" in t for t in _texts(bot, "U0L1"))


@pytest.fixture
def nobody_critical_bot(database_url: str, oncall_clock: FakeClock) -> Iterator[Bot]:
    ladder = EscalationPolicy(tiers=(Tier(targets=("schedule:weekend",)),), escalation_contact=("U0EXEC",))
    config = paging_config(escalation_policies={"default": ladder}, schedules=SCHEDULES)
    with running_bot(database_url, config, clock=oncall_clock) as running:
        yield running


def test_on_the_critical_path_an_empty_ladder_still_pages_the_escalation_contact(nobody_critical_bot: Bot) -> None:
    bot = nobody_critical_bot
    bot.slack.slash_command("U0L1", "declare sev0 Payments failing")
    incident = bot.wait_provisioned(1)
    bot.settled()
    summaries = _summaries(bot, incident.id)
    assert any("nobody on call for weekend, escalation contact" in s and s.startswith("Page started") for s in summaries), summaries
    assert any("You are paged for INC-1" in t for t in _texts(bot, "U0EXEC"))
    assert not any("Nobody could be paged" in m.text for m in bot.sim.workspace.messages(incident.channel_id))


def test_off_the_critical_path_an_empty_ladder_pages_nobody_even_with_a_contact(nobody_critical_bot: Bot) -> None:
    bot = nobody_critical_bot
    bot.slack.slash_command("U0L1", "declare sev1 Search is slow")
    incident = bot.wait_provisioned(1)
    bot.settled()
    assert any("nobody could be paged" in s for s in _summaries(bot, incident.id))
    assert not any("You are paged" in t for t in _texts(bot, "U0EXEC"))


@pytest.fixture
def oncall_alert_bot(database_url: str, oncall_clock: FakeClock) -> Iterator[Bot]:
    config = alerts_config().model_copy(update={"escalation_policies": {"default": LADDER}, "schedules": SCHEDULES})
    with running_bot(database_url, config, clock=oncall_clock) as running:
        yield running


def test_an_alert_page_pages_the_person_on_call_too(oncall_alert_bot: Bot) -> None:
    bot = oncall_alert_bot
    assert post_alert(bot.runtime.url, "am", am_payload()).status == 200
    bot.settled()
    with bot.db.unit_of_work() as session:
        summaries = list(session.scalars(select(AlertEvent.summary).order_by(AlertEvent.id)))
    assert "Tier 1: nobody is on call for weekend, paging tier 2 at once" in summaries
    assert "Paged tier 2 (round 1): <@U0IC> (on call for primary)" in summaries
    assert any("paged" in t.lower() for t in _texts(bot, "U0IC"))
    assert not any("paged" in t.lower() for t in _texts(bot, "U0L2")), "Monday's person is not on call on Tuesday"
    shown = [m.text + str(m.blocks) for m in alert_messages(bot)]
    assert any("Nobody on call for weekend" in t and "Paged <@U0IC>" in t for t in shown), shown


@pytest.fixture
def nobody_alert_bot(database_url: str, oncall_clock: FakeClock) -> Iterator[Bot]:
    ladder = EscalationPolicy(tiers=(Tier(targets=("schedule:weekend",)),))
    config = alerts_config().model_copy(update={"escalation_policies": {"default": ladder}, "schedules": SCHEDULES})
    with running_bot(database_url, config, clock=oncall_clock) as running:
        yield running


def test_an_alert_nobody_is_on_call_for_says_so_in_its_message(nobody_alert_bot: Bot) -> None:
    bot = nobody_alert_bot
    assert post_alert(bot.runtime.url, "am", am_payload()).status == 200
    bot.settled()
    shown = [m.text + str(m.blocks) for m in alert_messages(bot)]
    assert any("Nobody on call for weekend: nobody could be paged" in t for t in shown), shown
    with bot.db.unit_of_work() as session:
        assert session.scalars(select(Page)).all() == []


def test_the_home_tab_shows_who_a_schedule_in_tier_1_reaches_now(database_url: str, oncall_clock: FakeClock) -> None:
    from tests.test_home import open_home, text_of

    ladders = {"default": LADDER, "primary": EscalationPolicy(tiers=(Tier(targets=("schedule:primary", "U0EXEC")),))}
    config = paging_config(escalation_policies=ladders, schedules=SCHEDULES)
    with running_bot(database_url, config, clock=oncall_clock) as bot:
        text = text_of(open_home(bot, "U0L1"))
    assert "*default*: nobody on call for weekend" in text
    assert "*primary*: <@U0IC> (on call for primary), <@U0EXEC>" in text
    assert "schedule:" not in text
