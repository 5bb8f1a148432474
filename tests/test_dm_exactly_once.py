"""Direct messages are sent once, like channel posts: a page DM whose answer comes after the client gave up, an outbox
DM retried after the process died between Slack taking it and the item being marked done, a page retried part-way,
an alert page likewise, a runbook checklist answered late; and without im:history, the retry posts (said once).
Over signed HTTP against the simulator, which checks that reading a DM's history takes im:history."""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.db.models import OutboxItem, Page
from bot.slack_sim.clock import OffsetClock
from bot.slack_sim.state import BOT_SCOPES, Message
from tests.alerts_harness import alerts_config, am_payload, post_alert
from tests.harness import Bot, FakeClock, paging_config, running_bot, wait_for


def _dms(bot: Bot, user: str, containing: str) -> list[Message]:
    channel = bot.sim.workspace.dm_channel(user)
    messages = bot.sim.workspace.messages(channel.id) if channel else []
    return [m for m in messages if containing in m.text + str(m.blocks)]


def _declare(bot: Bot, text: str) -> tuple[int, str]:
    bot.slack.slash_command("U0L1", text)
    incident = bot.wait_provisioned(len(bot.incidents()))
    bot.settled()
    return incident.id, str(incident.channel_id)


def _as_if_killed(bot: Bot, kind: str) -> int:
    """The items of this kind are due again, as after a SIGKILL between Slack's answer and the item's `done_at` (the
    restart takes its own leases back): the next drain is their second attempt. How many there were."""
    with bot.db.unit_of_work() as session:
        return session.execute(update(OutboxItem).where(OutboxItem.kind == kind).values(
            done_at=None, lease_until=None, result=None, due_at=bot.runtime.deps.clock.now())).rowcount


def _results(bot: Bot, kind: str) -> list[dict[str, Any]]:
    with bot.db.unit_of_work() as session:
        return [dict(r or {}) for r in session.scalars(select(OutboxItem.result).where(OutboxItem.kind == kind))]


# -- a Slack that answers too late ------------------------------------------------------------------------------

def test_a_page_dm_answered_after_the_client_gave_up_pages_once_and_counts_as_delivered(tmp_path: Path) -> None:
    """Slack took the page DM but answered after the client's timeout: the bot looks in the DM, finds it, and the
    person is paged once and counted as reached (not "could not reach": they were)."""
    with running_bot(f"sqlite:///{tmp_path / 'slow.db'}", paging_config(), clock=FakeClock(), slack_timeout=1.0) as bot:
        bot.sim.inject("chat.postMessage", answer_delay=1.6,
                       when=lambda args: args.get("channel") == "U0L1" and "paged" in str(args.get("text")))
        incident_id, channel = _declare(bot, "declare sev1 Checkout failing")
        assert len(_dms(bot, "U0L1", "You are paged for INC-1")) == 1
        assert len(_dms(bot, "U0L2", "You are paged for INC-1")) == 1
        [line] = [m.text for m in bot.sim.workspace.messages(channel) if m.text.startswith(":pager: Paged")]
        assert "<@U0L1>" in line and "Could not reach" not in line, line
        assert "page_undelivered" not in [e.kind for e in bot.timeline(incident_id)]
        opened = [c for c in bot.sim.calls_to("conversations.open") if c.args.get("users") == "U0L1"]
        assert opened and opened[0].ok, "it found the DM to look in"


def test_a_runbook_checklist_answered_late_is_posted_once(tmp_path: Path) -> None:
    """The checklist's post landed but its answer came too late: no second checklist, ever (a retry adopts it)."""
    with running_bot(f"sqlite:///{tmp_path / 'slow.db'}", slack_timeout=1.0) as bot:
        _, channel = _declare(bot, "declare sev2 Checkout failing")
        bot.sim.inject("chat.postMessage", answer_delay=1.6, when=lambda args: str(args.get("text")).startswith("Runbook:"))
        bot.say("U0L1", "runbook sev1-first-30-minutes", channel)

        def all_delivered() -> bool:  # what a client timeout left for later is made due and delivered now
            with bot.db.unit_of_work() as session:
                session.execute(update(OutboxItem).where(OutboxItem.done_at.is_(None)).values(due_at=bot.runtime.deps.clock.now()))
            bot.runtime.core.outbox.drain()
            with bot.db.unit_of_work() as session:
                return all(item.done_at is not None for item in session.scalars(select(OutboxItem)))
        wait_for(all_delivered, timeout=20, what="the checklist delivered")
        checklists = [m for m in bot.sim.workspace.messages(channel) if m.text.startswith("Runbook:")]
        assert len(checklists) == 1, [m.text for m in checklists]


# -- a crash between a DM and its record ------------------------------------------------------------------------

def test_a_dm_retried_after_a_crash_adopts_the_one_that_landed(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    _, channel = _declare(bot, "declare sev2 Search is slow")
    bot.say("U0L1", "ic <@U0IC|ines>", channel)
    bot.settled()
    [sent] = _dms(bot, "U0IC", "You are now *Incident Commander*")
    assert _as_if_killed(bot, "dm") >= 1
    bot.runtime.core.outbox.drain()
    assert _dms(bot, "U0IC", "You are now *Incident Commander*") == [sent]
    assert sent.metadata and sent.metadata["event_type"] == "sevbot_outbox", "found by its outbox id"
    results = _results(bot, "dm")
    assert results and all(r.get("adopted") for r in results), results
    assert any(r.get("ts") == sent.ts for r in results)


def test_a_page_retried_after_a_crash_repeats_no_dm_and_no_line(tmp_path: Path) -> None:
    """A page is one item that DMs each person, then tells the channel: a retry finds every one of them."""
    with running_bot(f"sqlite:///{tmp_path / 'page.db'}", paging_config(), clock=FakeClock()) as bot:
        _, channel = _declare(bot, "declare sev1 Checkout failing")
        before = {user: _dms(bot, user, "You are paged for INC-1") for user in ("U0L1", "U0L2")}
        assert all(len(dms) == 1 for dms in before.values()), before
        assert _as_if_killed(bot, "page_dm") == 1
        bot.runtime.core.outbox.drain()
        assert {user: _dms(bot, user, "You are paged for INC-1") for user in ("U0L1", "U0L2")} == before
        assert len([m for m in bot.sim.workspace.messages(channel) if m.text.startswith(":pager: Paged")]) == 1
        assert [r.get("delivered") for r in _results(bot, "page_dm")] == [["U0L1", "U0L2"]]


def test_an_alert_page_retried_after_a_crash_adopts_its_dms_and_keeps_them_updatable(tmp_path: Path) -> None:
    """The process died after Slack took the alert page DMs and before it recorded them on the page: the retry
    finds them, records them, and so an acknowledgement still edits the DMs people have."""
    clock = FakeClock()
    with running_bot(f"sqlite:///{tmp_path / 'alerts.db'}", alerts_config(), clock=clock) as bot:
        assert post_alert(bot.runtime.url, "am", am_payload()).status == 200
        bot.settled()
        before = {user: _dms(bot, user, "You are paged for an alert") for user in ("U0L1", "U0L2")}
        assert all(len(dms) == 1 for dms in before.values()), before
        with bot.db.unit_of_work() as session:
            page = session.scalars(select(Page)).one()
            page.context = {**page.context, "dms": []}  # never recorded
        assert _as_if_killed(bot, "alert_page_dm") == 1
        bot.runtime.core.outbox.drain()
        assert {user: _dms(bot, user, "You are paged for an alert") for user in ("U0L1", "U0L2")} == before
        with bot.db.unit_of_work() as session:
            recorded = {dm[0]: dm[2] for dm in session.scalars(select(Page)).one().context["dms"]}
        assert recorded == {user: dms[0].ts for user, dms in before.items()}


# -- a workspace that did not grant im:history ------------------------------------------------------------------

def test_without_im_history_a_retried_dm_is_sent_and_the_log_says_so_once(sqlite_bot: Bot,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    """An app installed before im:history was added: Slack refuses the look (missing_scope). Better a rare repeat
    than a lost DM: the retry posts, and the log says once (not every retry) what is missing."""
    bot = sqlite_bot
    bot.sim.scopes = BOT_SCOPES - {"im:history"}
    _, channel = _declare(bot, "declare sev2 Search is slow")
    bot.say("U0L1", "ic <@U0IC|ines>", channel)
    bot.settled()
    with caplog.at_level(logging.DEBUG, logger="bot.slack.gateway"):
        for retry in (1, 2):
            _as_if_killed(bot, "dm")
            bot.runtime.core.outbox.drain()
            assert len(_dms(bot, "U0IC", "You are now *Incident Commander*")) == 1 + retry
    refused = [c for c in bot.sim.calls_to("conversations.history") if c.response.get("error") == "missing_scope"]
    assert refused and all(c.response.get("needed") == "im:history" for c in refused)
    told = [r for r in caplog.records if r.levelno >= logging.WARNING and "im:history" in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]


def test_a_dm_retry_looks_only_as_far_back_as_the_item(sqlite_bot: Bot) -> None:
    """The look reads the DM's history from the item's creation on (minus clock skew), not the whole DM."""
    bot = sqlite_bot
    _, channel = _declare(bot, "declare sev2 Search is slow")
    bot.say("U0L1", "ic <@U0IC|ines>", channel)
    bot.settled()
    with bot.db.unit_of_work() as session:
        created = min(session.scalars(select(OutboxItem.created_at).where(OutboxItem.kind == "dm")))
    _as_if_killed(bot, "dm")
    bot.runtime.core.outbox.drain()
    looks = [c for c in bot.sim.calls_to("conversations.history") if str(c.args.get("channel", "")).startswith("D")]
    assert looks and all(float(c.args["oldest"]) <= (created - timedelta(seconds=59)).timestamp() for c in looks)
    assert all(float(c.args["oldest"]) >= (created - timedelta(seconds=61)).timestamp() for c in looks)


# -- a reply in a thread ----------------------------------------------------------------------------------------

def test_an_alert_pages_could_not_page_warning_is_posted_once_in_its_thread_across_a_retry(tmp_path: Path) -> None:
    """Nobody acknowledged an alert page, and Slack refuses the DM to tier 2: the bot warns in the alert's thread. The
    process dies before the item is marked done: the retry looks in that thread (conversations.replies; a channel's
    history leaves replies out), finds its warning, and posts no second one."""
    clock = OffsetClock()  # the bot's and Slack's: a look reads the thread from the item's creation on
    with running_bot(f"sqlite:///{tmp_path / 'thread.db'}", alerts_config(), clock=clock) as bot:
        bot.sim.workspace.clock = clock.time
        bot.sim.inject("chat.postMessage", error="cannot_dm_bot", times=10, when=lambda args: args.get("channel") == "U0L2"
                       and "(tier 2)" in str(args.get("text", "")) + str(args.get("blocks", "")))
        assert post_alert(bot.runtime.url, "am", am_payload()).status == 200
        bot.settled()
        clock.advance(5 * 60 + 1)
        bot.runtime.core.scheduler.tick()
        bot.settled()

        def warnings() -> list[Message]:
            return [m for m in bot.sim.workspace.messages("C0ALERTS") if m.text.startswith(":warning: Could not page")]
        [warning] = warnings()
        assert warning.thread_ts is not None and warning.thread_ts != warning.ts and "<@U0L2>" in warning.text
        assert _as_if_killed(bot, "alert_page_dm") == 2  # tier 1's item and tier 2's
        bot.runtime.core.outbox.drain()
        assert warnings() == [warning]
        looks = [c for c in bot.sim.calls_to("conversations.replies") if c.ok]
        assert looks and all(c.args.get("ts") == warning.thread_ts and c.args.get("channel") == "C0ALERTS" for c in looks)
        assert len(_dms(bot, "U0L1", "You are paged for an alert")) == 1


# -- a private answer (response_url) ------------------------------------------------------------------------------

def _open_replies(bot: Bot) -> list[Any]:
    return [c for c in bot.sim.calls_to("response_url") if "is open in" in str(c.args.get("text"))]


def test_a_private_answer_whose_connection_dropped_after_slack_took_it_is_not_sent_again(sqlite_bot: Bot) -> None:
    """Slack showed the declarer "INC-1 is open in …" and the connection dropped before its answer. A private answer
    cannot be looked for, so it is not sent again: not by slack_sdk's connection retry, not as a DM."""
    bot = sqlite_bot
    bot.sim.inject("response_url", drop=True, when=lambda body: "is open in" in str(body.get("text")))
    _declare(bot, "declare sev2 Search is slow")
    [reply] = _open_replies(bot)
    assert reply.ok and len(bot.sim.workspace.response_posts) == 1
    assert _dms(bot, "U0L1", "is open in") == []
    assert _results(bot, "respond") == [{"via": "response_url"}]


def test_a_private_answer_slack_refused_goes_as_a_dm_once(sqlite_bot: Bot) -> None:
    """Slack refused the response_url (used up or expired: nothing shown), so the declarer hears it in a DM, once."""
    bot = sqlite_bot
    bot.sim.inject("response_url", http_status=404, when=lambda body: "is open in" in str(body.get("text")))
    _declare(bot, "declare sev2 Search is slow")
    assert [c.ok for c in _open_replies(bot)] == [False]
    assert len(_dms(bot, "U0L1", "is open in")) == 1
    assert [r.get("via") for r in _results(bot, "respond")] == ["dm"]


def test_the_declarers_dm_about_a_failed_step_answered_late_is_sent_once(tmp_path: Path) -> None:
    """Slack would not set the topic, the declare's response_url is refused, and the DM saying so is answered after the
    client gave up: the bot looks in the DM, finds it, and sends no second one."""
    with running_bot(f"sqlite:///{tmp_path / 'notice.db'}", paging_config(), clock=FakeClock(), slack_timeout=1.0) as bot:
        bot.sim.inject("conversations.setTopic", error="too_long")
        bot.sim.inject("response_url", http_status=404, when=lambda body: "would not let sevbot" in str(body.get("text")))
        bot.sim.inject("chat.postMessage", answer_delay=1.6,
                       when=lambda args: args.get("channel") == "U0L1" and "would not let sevbot" in str(args.get("text")))
        bot.slack.slash_command("U0L1", "declare sev2 Search is slow")
        wait_for(lambda: len(_dms(bot, "U0L1", "would not let sevbot")) >= 1, what="the DM about the failed step")
        # The client gives up after 1 s and looks; under load that can be well after the DM landed.
        wait_for(lambda: any(str(c.args.get("channel", "")).startswith("D") for c in bot.sim.calls_to("conversations.history")),
                 what="the bot's look in the DM after the unanswered post")
        bot.settled()
        time.sleep(0.5)  # a second post would follow the look at once
        assert len(_dms(bot, "U0L1", "would not let sevbot")) == 1
