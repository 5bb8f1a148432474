"""`/incident oncall` over signed HTTP against the simulator: who is on call in the viewer's own zone, a schedule's
week, covers (and their DMs), the overrides list with its Remove button, and every bad input's answer."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import OncallOverride
from bot.ids import ActionId
from tests.harness import Bot, FakeClock, running_bot, wait_for
from tests.oncall_harness import WEDNESDAY_NOON, dms, oncall_config


@pytest.fixture
def oncall_bot(database_url: str) -> Iterator[Bot]:
    with running_bot(database_url, oncall_config(), clock=FakeClock(WEDNESDAY_NOON)) as running:
        running.sim.workspace.users["U0L1"].tz = "America/New_York"
        running.sim.workspace.users["U0L2"].tz = "Europe/Berlin"
        yield running


def overrides(bot: Bot) -> list[OncallOverride]:
    with bot.db.unit_of_work() as session:
        return list(session.scalars(select(OncallOverride).order_by(OncallOverride.id)))


def users_info_calls(bot: Bot) -> int:
    return len(bot.sim.calls_to("users.info"))


def test_who_is_on_call_in_the_viewers_zone_answered_with_the_ack_once_the_zone_is_known(oncall_bot: Bot) -> None:
    bot = oncall_bot
    first = bot.slack.slash_command("U0L1", "oncall")
    assert first.status == 200 and first.text == "", "the zone is not known yet: an empty ack, no Web API call before it"
    answer = bot.say("U0L1", "oncall", "C0GENERAL")  # the same question again: now known, answered in the ack
    later = wait_for(lambda: next((p for p in bot.sim.workspace.response_posts
                                   if p.token == first.payload["response_url"].rsplit("/", 1)[-1]), None), what="first answer")  # type: ignore[index]
    assert later.body["text"] == answer
    # Sam until Monday 19 Jan 09:00 Berlin = 03:00 in New York (EST), then Lee
    assert "*payments*: <@U0L2> until Mon 03:00 EST; next <@U0L1>" in answer
    # Ines, weekdays 09:00-18:00 Berlin: on now, until 18:00 Berlin = 12:00 New York, then nobody
    assert "*database*: <@U0IC> until Wed 12:00 EST; next _nobody_" in answer
    calls = users_info_calls(bot)
    quick = bot.slack.slash_command("U0L1", "oncall")
    assert quick.json()["text"] == answer and users_info_calls(bot) == calls, "answered from the cache, with the ack"
    # Sam reads it in Berlin time
    assert "*payments*: <@U0L2> until Mon 09:00 CET" in bot.say("U0L2", "oncall", "C0GENERAL")


def test_a_schedules_next_seven_days(oncall_bot: Bot) -> None:
    answer = oncall_bot.say("U0L2", "oncall payments", "C0GENERAL")
    assert answer.splitlines()[0] == "*payments: the next 7 days*"
    assert "• Wed 14 Jan 13:00 – Mon 19 Jan 09:00 CET · <@U0L2>" in answer
    assert "• Mon 19 Jan 09:00 – Wed 21 Jan 13:00 CET · <@U0L1>" in answer
    week = oncall_bot.say("U0L2", "oncall database", "C0GENERAL")
    assert "• Wed 14 Jan 13:00 – Wed 14 Jan 18:00 CET · <@U0IC>" in week
    assert "• Wed 14 Jan 18:00 – Thu 15 Jan 09:00 CET · _nobody on call_" in week
    assert "• Sat 17 Jan" not in week.replace("Fri 16 Jan 18:00 – Mon 19 Jan 09:00", "")


def test_cover_yourself_tells_the_person_replaced_and_shows_in_who_is_on_call(oncall_bot: Bot) -> None:
    bot = oncall_bot
    answer = bot.say("U0L1", "oncall cover payments 2h", "C0GENERAL")
    # 12:00 UTC + 2 h = 09:00 in New York
    assert answer.startswith(":white_check_mark: You are on call for *payments* from now until Wed 09:00 EST, in place of <@U0L2>.")
    [row] = overrides(bot)
    assert (row.schedule, row.user_id, row.replaced_user_id, row.created_by) == ("payments", "U0L1", "U0L2", "U0L1")
    assert row.ends_at - row.starts_at == timedelta(hours=2)
    bot.settled()
    [told] = [m for m in dms(bot, "U0L2") if "is covering" in m.text]
    assert "<@U0L1> is covering *payments* for you from now until <!date^" in told.text
    assert "<@U0L1> (cover) until Wed 09:00 EST; next <@U0L2>" in bot.say("U0L1", "oncall", "C0GENERAL")


def test_cover_for_someone_else_and_the_newest_cover_wins(oncall_bot: Bot) -> None:
    bot = oncall_bot
    first = bot.say("U0L2", "oncall cover payments <@U0IC|ines> until 18:00", "C0GENERAL")
    assert first.startswith(":white_check_mark: <@U0IC> is on call for *payments* from now until Wed 18:00 CET, in place of <@U0L2>.")
    second = bot.say("U0L2", "oncall cover payments <@U0EXEC> 1h", "C0GENERAL")
    assert "<@U0EXEC> is on call for *payments* from now until Wed 14:00 CET, in place of <@U0IC>." in second
    assert "This replaces <@U0IC>'s cover until Wed 18:00 CET (theirs resumes at Wed 14:00 CET)." in second
    assert "<@U0EXEC> (cover) until Wed 14:00 CET; next <@U0IC> (cover)" in bot.say("U0L2", "oncall", "C0GENERAL")
    bot.settled()
    assert any("<@U0EXEC> is covering *payments* for you" in m.text and "(<@U0L2> arranged it)" in m.text for m in dms(bot, "U0IC"))


def test_a_repeated_command_adds_one_cover(oncall_bot: Bot) -> None:
    bot = oncall_bot
    fields = bot.slack._slash_fields("U0L2", "oncall cover payments 3h", "C0GENERAL", "/incident")  # noqa: SLF001
    bot.say("U0L2", "oncall", "C0GENERAL")  # learn Sam's zone: the cover is answered in the ack
    first = bot.slack._post_form(fields)  # noqa: SLF001
    time.sleep(1.1)  # a new signature timestamp: not a replay, the same command delivered again
    again = bot.slack._post_form(fields)  # noqa: SLF001
    assert "You are on call" in first.json()["text"] or "already" in first.json()["text"]
    assert again.json()["text"] == "That cover is already recorded."
    assert len(overrides(bot)) == 1


def _clicks(bot: Bot, user: str, value: str, times: int) -> list[Any]:
    """Clicks on Remove as Slack sends them: each its own trigger and response_url, as a double click is, all made
    from the list as it was shown (the redraw after the first must not hide the button from the second)."""
    ws, driver = bot.sim.workspace, bot.slack
    eph = next(e for e in reversed(ws.ephemerals) if e.user == user and any(
        (b.get("accessory") or {}).get("value") == value for b in e.blocks))
    block = next(b for b in eph.blocks if (b.get("accessory") or {}).get("value") == value)
    payloads = [{
        "type": "block_actions", "user": driver._user(user), "api_app_id": "A0SEVBOT", "token": "sim-verification-token",  # noqa: SLF001
        "container": {"type": "message", "message_ts": eph.message_ts, "channel_id": eph.channel, "is_ephemeral": True},
        "trigger_id": bot.sim.issue_trigger(user), "team": driver._team(), "enterprise": None, "is_enterprise_install": False,  # noqa: SLF001
        "channel": {"id": eph.channel, "name": driver._channel_name(eph.channel)}, "state": {"values": {}},  # noqa: SLF001
        "response_url": bot.sim.issue_response_url(eph.channel, user, eph.message_ts),
        "actions": [driver._action(block, block["accessory"], ActionId.ONCALL_REMOVE_OVERRIDE, value)],  # noqa: SLF001
    } for _ in range(times)]
    return [driver._post_payload(payload) for payload in payloads]  # noqa: SLF001


def test_overrides_list_remove_redraws_and_a_double_click_removes_once(oncall_bot: Bot) -> None:
    bot = oncall_bot
    bot.say("U0L2", "oncall cover payments <@U0IC> until 18:00", "C0GENERAL")
    bot.say("U0L2", "oncall cover database <@U0L1> 2026-01-16 12:00", "C0GENERAL")
    bot.say("U0L2", "oncall overrides", "C0GENERAL")
    listing = wait_for(lambda: next((e for e in bot.sim.workspace.ephemerals if e.user == "U0L2" and "On-call overrides" in e.text), None))
    assert "On-call overrides (2)" in listing.text
    buttons = [b["accessory"] for b in listing.blocks if b.get("accessory")]
    assert [b["action_id"] for b in buttons] == [ActionId.ONCALL_REMOVE_OVERRIDE] * 2
    payments = next(b["accessory"]["value"] for b in listing.blocks if b.get("accessory") and "*payments*" in b["text"]["text"])
    assert [r.status for r in _clicks(bot, "U0L2", payments, 2)] == [200, 200]  # a double click
    wait_for(lambda: sum(p.body.get("replace_original") is True for p in bot.sim.workspace.response_posts) == 2, what="two redraws")
    [removed] = [r for r in overrides(bot) if r.schedule == "payments"]
    assert removed.removed_at is not None and removed.removed_by == "U0L2"
    notices = [p.body["text"] for p in bot.sim.workspace.response_posts if p.body.get("replace_original")]
    assert sum("Removed <@U0IC>'s cover on *payments*" in n for n in notices) == 1
    assert sum("already removed" in n for n in notices) == 1
    assert all("On-call overrides (1)" in n for n in notices), "the list is redrawn without the removed cover"
    assert "<@U0L2> until" in bot.say("U0L2", "oncall", "C0GENERAL"), "the rota applies again"


def test_forged_remove_value_changes_nothing(oncall_bot: Bot) -> None:
    bot = oncall_bot
    bot.say("U0L2", "oncall cover payments 1h", "C0GENERAL")
    bot.say("U0L2", "oncall overrides", "C0GENERAL")
    listing = wait_for(lambda: next((e for e in bot.sim.workspace.ephemerals if "On-call overrides (1)" in e.text), None))
    response = bot.slack.click_ephemeral("U0L2", listing.channel, listing.message_ts, ActionId.ONCALL_REMOVE_OVERRIDE, "1:drop")
    assert response.status == 200
    wait_for(lambda: any("not one sevbot made" in p.body.get("text", "") for p in bot.sim.workspace.response_posts))
    assert overrides(bot)[0].removed_at is None


@pytest.mark.parametrize(("command", "says"), [
    ("oncall cover payroll 2h", "I know no on-call schedule `payroll`. Schedules: `database`, `payments`."),
    ("oncall payroll", "I know no on-call schedule `payroll`. Schedules: `database`, `payments`."),
    ("oncall cover payments 2026-01-13 09:00", "That is in the past"),
    ("oncall cover payments 40d", "A cover lasts at most 31 days"),
    ("oncall cover payments whenever", "I can't read `whenever` as a time"),
    ("oncall cover payments", "Until when?"),
    ("oncall cover", "Usage: `/incident oncall cover <schedule> [@who]"),
    ("oncall cover payments @lee 2h", "Mention the person"),
    ("oncall overrides please", "takes nothing more"),
])
def test_bad_input_says_what_to_type(oncall_bot: Bot, command: str, says: str) -> None:
    answer = oncall_bot.say("U0L2", command, "C0GENERAL")
    assert answer.startswith(":x:") and says in answer, answer
    assert overrides(oncall_bot) == []


@pytest.mark.parametrize(("who", "says"), [
    ("<@U0NOBODY>", "Slack has no user <@U0NOBODY>"),
    ("<@U0GONE>", "<@U0GONE> is deactivated in Slack"),
    ("<@U0BOT>", "<@U0BOT> is a bot; on call needs a person."),
])
def test_cover_by_someone_who_cant_be_on_call(oncall_bot: Bot, who: str, says: str) -> None:
    answer = oncall_bot.say("U0L2", f"oncall cover payments {who} 2h", "C0GENERAL")
    assert answer.startswith(":x:") and says in answer, answer
    assert overrides(oncall_bot) == []


def test_cover_when_slack_cant_say_who_the_person_is(oncall_bot: Bot) -> None:
    oncall_bot.sim.inject("users.info", error="fatal_error", times=5, when=lambda args: args.get("user") == "U0IC")
    answer = oncall_bot.say("U0L2", "oncall cover payments <@U0IC> 2h", "C0GENERAL")
    assert answer.startswith(":x: Slack did not say who <@U0IC> is (fatal_error); nothing was recorded"), answer
    assert overrides(oncall_bot) == []


def test_no_schedules_configured(sqlite_bot: Bot) -> None:
    assert "No on-call schedules are configured" in sqlite_bot.say("U0L1", "oncall", "C0GENERAL")
