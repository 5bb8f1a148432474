""""Has this happened before?" in the incident channel, and `/incident similar`, over signed HTTP against the
simulator."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from bot.db.models import Incident, OutboxItem, SimilarNotice
from bot.similar.notice import METADATA, NOTICE_KIND, refresh_notice
from bot.slack_sim.state import Message
from tests.harness import Bot, running_bot, wait_for
from tests.similar_history import seed_past


def _history(bot: Bot) -> dict[int, str]:
    with bot.db.unit_of_work() as session:
        return seed_past(session, datetime.now(timezone.utc))


def _declare(bot: Bot, title: str) -> Incident:
    bot.slack.slash_command("U0L1", f"declare sev2 {title}")
    incident = bot.wait_provisioned(len(bot.incidents()))
    bot.settled()
    return incident


def _notices(bot: Bot, channel: str) -> list[Message]:
    return [m for m in bot.sim.workspace.messages(channel) if (m.metadata or {}).get("event_type") == METADATA]


def _items(bot: Bot, incident_id: int) -> list[OutboxItem]:
    with bot.db.unit_of_work() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == NOTICE_KIND, OutboxItem.incident_id == incident_id)
                                    .order_by(OutboxItem.id)))


def test_a_declare_gets_one_quiet_message_with_the_similar_past_incidents(database_url: str) -> None:
    with running_bot(database_url) as bot:
        kinds = _history(bot)
        incident = _declare(bot, "Checkout timeouts when calling the payment gateway")
        [notice] = _notices(bot, incident.channel_id)
        assert notice.thread_ts is None and notice.blocks[0]["type"] == "context"  # quiet: a context line, no mention
        text = " ".join(str(b) for b in notice.blocks)
        shown = [i for i, k in kinds.items() if f"*INC-{i}*" in text]
        assert len(shown) >= 2 and {kinds[i] for i in shown} == {"payment-timeouts"}  # no service given: words alone
        assert "Connection pool to the payment gateway exhausted" in text  # root cause from the resolve form
        assert "Raised the pool size and added a circuit breaker" in text  # what fixed it
        assert "<https://wiki.example.com/pm/payment-timeouts-40|Postmortem>" in text
        assert "SEV2 · Medium" in text and "shared words: " in text
        with bot.db.unit_of_work() as session:
            recorded = session.get_one(SimilarNotice, incident.id)
            assert recorded.message_ts == notice.ts and sorted(recorded.shown) == sorted(shown)
        # The lookup ran after the ack, on the outbox, once.
        [item] = _items(bot, incident.id)
        assert item.done_at is not None and item.result["ts"] == notice.ts


def test_nothing_similar_posts_nothing(database_url: str) -> None:
    with running_bot(database_url) as bot:
        _history(bot)
        incident = _declare(bot, "Quarterly newsletter template has a typo")
        assert _notices(bot, incident.channel_id) == []
        [item] = _items(bot, incident.id)
        assert item.result == {"nothing_similar": True}
        with bot.db.unit_of_work() as session:
            assert session.get(SimilarNotice, incident.id) is None


def test_a_retry_or_a_duplicate_still_posts_once(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    _history(bot)
    incident = _declare(bot, "Kafka consumer lag, notifications delayed")
    [first] = _notices(bot, incident.channel_id)
    # A crash after Slack took the message and before it was recorded: the item runs again (a later attempt).
    with bot.db.unit_of_work() as session:
        session.execute(update(SimilarNotice).values(message_ts=None))
        session.execute(update(OutboxItem).where(OutboxItem.kind == NOTICE_KIND).values(done_at=None, due_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    bot.runtime.core.delivery.deliver_backlog()
    bot.settled()
    assert [m.ts for m in _notices(bot, incident.channel_id)] == [first.ts]
    with bot.db.unit_of_work() as session:
        assert session.get_one(SimilarNotice, incident.id).message_ts == first.ts  # adopted, not posted again
    # Two more looks (say, a duplicate change event) with the same list: nothing is posted or edited.
    updates_before = len(bot.sim.calls_to("chat.update"))
    for _ in range(2):
        with bot.db.unit_of_work() as session:
            refresh_notice(session, bot.runtime.deps.clock, incident.id)
    bot.settled()
    assert [m.ts for m in _notices(bot, incident.channel_id)] == [first.ts]
    assert len([c for c in bot.sim.calls_to("chat.update")[updates_before:] if c.args.get("ts") == first.ts]) == 0
    assert all(item.result.get("unchanged") == first.ts for item in _items(bot, incident.id)[1:])


def test_a_title_change_updates_the_message_in_place_when_the_list_changed(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    kinds = _history(bot)
    incident = _declare(bot, "Kafka consumer lag, notifications delayed")
    [first] = _notices(bot, incident.channel_id)
    answer = bot.say("U0L1", "title iOS app crashing on launch after release", incident.channel_id)
    assert answer.startswith(f":white_check_mark: INC-{incident.id} is now titled")
    bot.settled()
    [edited] = _notices(bot, incident.channel_id)
    assert edited.ts == first.ts and edited.edited_ts is not None  # in place: still one message
    text = " ".join(str(b) for b in edited.blocks)
    now_shown = [kinds[i] for i in kinds if f"*INC-{i}*" in text]
    assert len(now_shown) >= 2 and set(now_shown) == {"ios-crash"}
    assert [e.kind for e in bot.timeline(incident.id)].count("title_changed") == 1
    assert "iOS app crashing on launch after release" in str(bot.sim.workspace.messages(incident.channel_id)[0].blocks)  # the card


def test_a_service_change_posts_when_something_becomes_similar(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    with bot.db.unit_of_work() as session:  # one past incident of the search service that shares one word only
        session.add(Incident(title="Search results empty for some queries", severity="sev2", status="resolved", service="search",
                             declared_by="U0L1", declared_at=datetime.now(timezone.utc) - timedelta(days=9)))
    incident = _declare(bot, "Empty page for shoppers")
    assert _notices(bot, incident.channel_id) == []
    assert bot.say("U0L1", "service warehouse", incident.channel_id).startswith(":x: `warehouse` is not a service.")
    assert bot.say("U0L1", "service search", incident.channel_id).startswith(":white_check_mark:")
    bot.settled()
    [posted] = _notices(bot, incident.channel_id)
    assert "Search results empty for some queries" in str(posted.blocks) and "same service" in str(posted.blocks)
    assert bot.say("U0L1", "service search", incident.channel_id) == f"INC-{incident.id} is already on search."
    bot.settled()
    assert len(_notices(bot, incident.channel_id)) == 1


def test_user_text_in_the_message_is_escaped(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    with bot.db.unit_of_work() as session:
        session.add(Incident(title="<!channel> Checkout & payments broken <@U0IC>", severity="sev1", status="resolved",
                             declared_by="U0L1", declared_at=datetime.now(timezone.utc) - timedelta(days=3),
                             resolved_at=datetime.now(timezone.utc) - timedelta(days=2),
                             resolution={"summary": "Restarted <!here> the *pods*", "root_cause": "A <https://evil.example|link>"},
                             postmortem_url="javascript:alert(1)"))
    incident = _declare(bot, "Checkout payments broken again")
    [notice] = _notices(bot, incident.channel_id)
    text = " ".join(str(b) for b in notice.blocks)
    assert "&lt;!channel&gt; Checkout &amp; payments broken &lt;@U0IC&gt;" in text
    assert "Restarted &lt;!here&gt;" in text and "A &lt;https://evil.example|link&gt;" in text
    assert "<!channel>" not in text and "<!here>" not in text and "<@U0IC>" not in text
    assert "<javascript:" not in text and "Postmortem" in text  # shown as a word, never a link


def test_incident_similar_on_demand(database_url: str) -> None:
    with running_bot(database_url) as bot:
        kinds = _history(bot)
        incident = _declare(bot, "Search pods OOM killed, memory climbing")
        with bot.db.unit_of_work() as session:  # as the declare form would have recorded it
            session.get_one(Incident, incident.id).service = "search"
        here = bot.say("U0L1", "similar", incident.channel_id)
        assert f"Past incidents similar to INC-{incident.id}" in here
        assert [kinds[i] for i in kinds if f"*INC-{i}*" in here] == ["oom"] * 3
        anywhere = bot.say("U0L2", "similar certificate expired TLS handshake", "C0GENERAL")
        found = [kinds[i] for i in kinds if f"*INC-{i}*" in anywhere]
        assert len(found) >= 2 and set(found) == {"tls"}
        assert "Root cause:" in anywhere and "cert-manager renewal failed silently" in anywhere
        usage = bot.say("U0L2", "similar", "C0GENERAL")
        assert usage.startswith(":x: Say what happened") and "/incident similar checkout timeouts after deploy" in usage
        nothing = bot.say("U0L2", "similar quarterly <!channel> newsletter", "C0GENERAL")
        assert nothing.startswith(":mag: No past incident looks similar to") and "&lt;!channel&gt;" in nothing
        assert "similar" in bot.say("U0L2", "help", "C0GENERAL")


def test_in_a_burst_of_declares_every_notice_still_goes_out_once(sqlite_bot: Bot) -> None:
    """Notices wait while other declares are provisioned, and the burst's last one releases them."""
    from concurrent.futures import ThreadPoolExecutor

    bot = sqlite_bot
    _history(bot)
    titles = [f"Kafka consumer lag on notifications, wave {n}" for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda title: bot.slack.slash_command("U0L1", f"declare sev2 {title}"), titles))
    for incident_id in range(31, 37):
        bot.wait_provisioned(incident_id)
    bot.settled()
    for incident in bot.incidents()[30:]:
        assert len(_notices(bot, incident.channel_id)) == 1, incident.title
        assert all(item.done_at is not None and "ts" in item.result for item in _items(bot, incident.id))


def test_the_postmortem_draft_lists_the_similar_past_incidents(database_url: str) -> None:
    """`/incident export` runs the same search: the draft's "Similar past incidents" names the seeded look-alikes."""
    with running_bot(database_url) as bot:
        kinds = _history(bot)
        incident = _declare(bot, "Checkout timeouts when calling the payment gateway")
        before = set(bot.sim.workspace.files)
        assert "Drafting the postmortem" in bot.say("U0L1", "export", incident.channel_id)
        new = wait_for(lambda: [f for k, f in bot.sim.workspace.files.items() if k not in before and f.content],
                       what="export uploaded")
        markdown = bytes(new[0].content).decode("utf-8")
        section = markdown.split("## Similar past incidents", 1)[1].split("\n## ", 1)[0]
        listed = [int(n) for n in re.findall(r"^\| INC-(\d+) ", section, flags=re.M)]
        assert 1 <= len(listed) <= 3 and {kinds[i] for i in listed} == {"payment-timeouts"}, section
        assert "Connection pool to the payment gateway exhausted" in section
