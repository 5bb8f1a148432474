"""Exactly once under faults: replayed requests, bad input at the door, a Slack that answers too late, a crash
between a post and its record, a database that does not answer. Over signed HTTP against the simulator."""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, select, text, update

from bot.db.models import Incident, OutboxItem, TimelineEvent
from bot.ids import CallbackId
from tests.harness import Bot, incident_config, running_bot, wait_for


def _command_body(bot: Bot, user: str, text_: str, channel: str = "C0GENERAL") -> bytes:
    fields = bot.slack._slash_fields(user, text_, channel, "/incident")  # noqa: SLF001 (the driver's exact fields)
    return urlencode(fields).encode()


def _send(bot: Bot, body: bytes, headers: dict[str, str], content_type: str = "application/x-www-form-urlencoded") -> Any:
    return bot.slack.send_raw(body, {"Content-Type": content_type, **headers})


def _kinds(bot: Bot, incident_id: int) -> list[str]:
    return [e.kind for e in bot.timeline(incident_id)]


def _declared(bot: Bot) -> tuple[int, str]:
    bot.slack.slash_command("U0L1", "declare sev2 Search is slow")
    incident = bot.wait_provisioned(len(bot.incidents()))
    return incident.id, str(incident.channel_id)



# -- replays ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("command", "counted"), [
    ("declare sev2 Replayed declare", lambda bot, _incident: len(bot.incidents())),
    ("note Rolled back to v142", lambda bot, incident: _kinds(bot, incident).count("note")),
    ("status identified Found it", lambda bot, incident: _kinds(bot, incident).count("status_changed")),
])
def test_a_replayed_signed_command_has_no_effect(bot: Bot, command: str, counted: Any) -> None:
    incident_id, channel = _declared(bot)
    body = _command_body(bot, "U0L1", command, channel)
    headers = bot.slack.sign(body)
    assert _send(bot, body, headers).status == 200
    bot.settled()
    before = counted(bot, incident_id)
    replay = _send(bot, body, headers)
    assert replay.status == 409 and "replayed" in replay.json()["error"]
    time.sleep(0.3)
    assert counted(bot, incident_id) == before


def test_a_replayed_click_has_no_effect(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    card = bot.sim.workspace.find_message(channel, str(bot.incident(incident_id).card_ts))
    assert card is not None
    fields = {"payload": json.dumps({
        "type": "block_actions", "user": {"id": "U0L2", "username": "sam", "team_id": "T0SEVBOT"}, "api_app_id": "A0SEVBOT",
        "token": "x", "trigger_id": bot.sim.issue_trigger("U0L2"), "team": {"id": "T0SEVBOT", "domain": "sevbot"},
        "channel": {"id": channel, "name": "x"}, "container": {"type": "message", "message_ts": card.ts, "channel_id": channel},
        "response_url": bot.sim.issue_response_url(channel, "U0L2", card.ts),
        "actions": [{"type": "button", "action_id": "card_take_command", "block_id": "card_actions", "value": f"{incident_id}:U0L1",
                     "action_ts": str(time.time())}]})}
    body = urlencode(fields).encode()
    headers = bot.slack.sign(body)
    assert _send(bot, body, headers).status == 200
    wait_for(lambda: _kinds(bot, incident_id).count("role_assigned") == 2, what="Sam took command")
    bot.say("U0L2", "ic <@U0IC>", channel)  # a newer hand-over
    assert _send(bot, body, headers).status == 409, "the old click, replayed"
    time.sleep(0.3)
    assert _kinds(bot, incident_id).count("role_assigned") == 3


# -- bad input at the door --------------------------------------------------------------------------------------

def _signed_post(bot: Bot, body: bytes, content_type: str = "application/x-www-form-urlencoded") -> Any:
    return _send(bot, body, bot.slack.sign(body), content_type)


@pytest.mark.parametrize(("body", "content_type", "named"), [
    (b"payload=%7Bnot+json", "application/x-www-form-urlencoded", "not valid JSON"),
    (urlencode({"payload": "[" * 1000 + "]" * 1000}).encode(), "application/x-www-form-urlencoded", "nested"),
    (urlencode({"payload": json.dumps({"type": "block_actions", "x": json.loads("[" * 200 + "]" * 200)})}).encode(),
     "application/x-www-form-urlencoded", "nested deeper"),
    (b"command=%2Fincident&text=\xff\xfe", "application/x-www-form-urlencoded", "not valid UTF-8"),
    (b'{"type": "event_callback", "event": ', "application/json", "not valid JSON"),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U0L1\u0000"}})}).encode(),
     "application/x-www-form-urlencoded", "U+0000"),
])
def test_malformed_requests_get_a_400_naming_the_problem(bot: Bot, body: bytes, content_type: str, named: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    answer = _signed_post(bot, body, content_type)
    assert answer.status == 400
    assert named in answer.json()["error"]
    # Not counted: slack_sdk failing to reach a simulator that is gone, a leftover retry of an earlier test's bot
    # (seen once in a full run). This request makes no Slack call at all.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR
              and not (r.name.startswith("slack_sdk") and "Connection refused" in r.getMessage())]
    assert not errors, "no traceback, no ERROR"
    assert [r for r in caplog.records if r.levelno == logging.WARNING], "one WARNING line says what was refused"
    assert bot.incidents() == []


def test_a_nul_in_a_command_is_answered_and_recorded_nowhere(bot: Bot) -> None:
    """The same rule on both databases (PostgreSQL refuses NUL; SQLite would have stored it)."""
    incident_id, channel = _declared(bot)
    before = len(bot.timeline(incident_id))
    answer = bot.slack.slash_command("U0L1", "note bad\u0000byte", channel_id=channel)
    assert answer.status == 200 and "control character (U+0000)" in answer.json()["text"]
    assert len(bot.timeline(incident_id)) == before


def test_a_view_sevbot_never_opened_is_refused_plainly(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    payload = {"type": "view_submission", "user": {"id": "U0L1", "username": "lee", "team_id": "T0SEVBOT"}, "team": {"id": "T0SEVBOT"},
               "api_app_id": "A0SEVBOT", "token": "x", "trigger_id": "1.2.3",
               "view": {"id": "VNEVER", "type": "modal", "callback_id": CallbackId.ASSIGN_ROLE, "private_metadata": "{not json",
                        "state": {"values": {}}, "blocks": [], "hash": "h"}}
    answer = _signed_post(bot, urlencode({"payload": json.dumps(payload)}).encode())
    assert answer.status in (200, 400)
    if answer.status == 200:
        assert answer.json().get("response_action") == "errors"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bot.incidents() == []


def test_an_oversized_body_is_413(sqlite_bot: Bot) -> None:
    body = b"text=" + b"x" * (1024 * 1024 + 10)
    assert _signed_post(sqlite_bot, body).status == 413


# -- a Slack that answers too late ------------------------------------------------------------------------------

def test_a_post_answered_after_the_client_gave_up_is_not_posted_twice(tmp_path: Path) -> None:
    """Slack carried the post out but answered after the client's timeout: the retry looks first, so one card,
    one announcement, one status post."""
    with running_bot(f"sqlite:///{tmp_path / 'slow.db'}", incident_config(), slack_timeout=1.0) as bot:
        bot.sim.inject("chat.postMessage", answer_delay=1.6, times=2, when=lambda args: "blocks" in args)
        bot.slack.slash_command("U0L1", "declare sev2 Search is slow")
        incident = wait_for(lambda: (i := bot.incident(1)) and i.provisioned_at is not None and i, timeout=20, what="provisioned")
        ws = bot.sim.workspace
        cards = [m for m in ws.messages(str(incident.channel_id)) if m.blocks and m.blocks[0].get("type") == "header"]
        announcements = [m for m in ws.messages("C0STAKE") if "declared" in m.text]
        assert len(cards) == 1 and len(announcements) == 1, (len(cards), len(announcements))
        bot.sim.inject("chat.postMessage", answer_delay=1.6, when=lambda args: args.get("channel") == "C0STAKE")
        bot.say("U0L1", "status identified Found it", str(incident.channel_id))
        wait_for(lambda: all(i.done_at for i in _outbox(bot)), timeout=20, what="delivered")
        assert len([m for m in ws.messages("C0STAKE") if "identified" in m.text]) == 1


def _outbox(bot: Bot) -> list[OutboxItem]:
    with bot.db.unit_of_work() as session:
        return list(session.scalars(select(OutboxItem)))


# -- a crash between a post and its record ----------------------------------------------------------------------

def test_a_rerun_adopts_the_card_and_announcement_an_interrupted_run_posted(sqlite_bot: Bot) -> None:
    """The run died after Slack took the card and the announcement, before it stored them: the next run finds both
    by their metadata instead of posting twins."""
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    with bot.db.unit_of_work() as session:  # forget what the first run stored, as a SIGKILL before the store would
        session.execute(update(Incident).where(Incident.id == incident_id).values(
            card_ts=None, announcement_ts=None, provisioned_at=None, provision_lease_until=None))
    from bot.slack_sim.state import Message

    ws = bot.sim.workspace
    for n in range(250):  # a busy stakeholder channel: the announcement is far out of the newest 100
        ws.add_message(Message(ts=ws.new_ts(), channel="C0STAKE", user="U0EXEC", text=f"chatter {n}"))
    bot.runtime.core.provision(incident_id)
    cards = [m for m in ws.messages(channel) if m.blocks and m.blocks[0].get("type") == "header"]
    assert len(cards) == 1 and bot.incident(incident_id).card_ts == cards[0].ts
    assert len([m for m in ws.messages("C0STAKE") if "declared" in m.text]) == 1


def test_the_declarer_hears_once_through_the_outbox(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    _declared(bot)
    bot.settled()
    replies = [i for i in _outbox(bot) if i.kind == "respond"]
    assert len(replies) == 1 and replies[0].done_at is not None
    bot.runtime.core.provision(1)  # a second run (the sweep, a retry) queues nothing more
    assert len([i for i in _outbox(bot) if i.kind == "respond"]) == 1
    assert sum("is open in" in json.dumps(p.body) for p in bot.sim.workspace.response_posts) == 1


# -- a database that does not answer ----------------------------------------------------------------------------

def _locked(bot: Bot) -> Any:
    """Hold a write lock on the incidents table from another connection (as another process would)."""
    url = bot.runtime.settings.database_url
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=1, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        return connection
    engine = create_engine(url)
    connection = engine.connect()
    connection.execute(text("BEGIN"))
    connection.execute(text("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE"))
    return connection


def test_a_locked_database_answers_inside_three_seconds_and_records_nothing(bot: Bot) -> None:
    bot.slack.slash_command("U0L1", "declare sev3 First")
    bot.wait_provisioned(1)
    lock = _locked(bot)
    try:
        started = time.monotonic()
        answer = bot.slack.slash_command("U0L1", "declare sev3 While locked")
        took = time.monotonic() - started
        assert answer.status == 200 and "not answering" in answer.json()["text"] and "nothing was recorded" in answer.json()["text"]
        assert took < 3.0, took
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(bot.runtime.url + "/healthz", timeout=5)
        assert caught.value.code == 503 and b"not answering" in caught.value.read()
    finally:
        lock.rollback() if hasattr(lock, "rollback") else None
        lock.close()
    assert [i.title for i in bot.incidents()] == ["First"], "the refused declare was not recorded"
    assert "Declaring INC-2" in bot.slack.slash_command("U0L1", "declare sev3 After").json()["text"]


def test_background_work_says_once_that_the_database_is_away(caplog: pytest.LogCaptureFixture) -> None:
    from bot.db.outage import OutageLog
    from sqlalchemy.exc import OperationalError

    now = [0.0]
    outages = OutageLog(monotonic=lambda: now[0], remind_every=60)

    def broken() -> None:
        raise OperationalError("SELECT 1", None, Exception("connection refused"))

    caplog.set_level(logging.INFO, logger="sevbot.database")
    for _ in range(100):  # 50 s of ticks twice a second
        now[0] += 0.5
        assert outages.guard("the tick", broken) is None
    now[0] += 20
    outages.guard("the tick", broken)  # 70 s: one reminder
    assert outages.guard("the tick", lambda: 7) == 7
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert "not answering" in lines[0] and "still not answering" in lines[1] and "answering again" in lines[2]
    assert not any(r.exc_info for r in caplog.records), "no tracebacks"


def test_concurrent_identical_requests_act_once(sqlite_bot: Bot) -> None:
    """Two deliveries of the same signed request at the same instant: one acts."""
    bot = sqlite_bot
    body = _command_body(bot, "U0L1", "declare sev3 Twice at once")
    headers = bot.slack.sign(body)
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(_send(bot, body, headers).status)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    time.sleep(0.3)
    assert len(bot.incidents()) == 1
    assert TimelineEvent  # (imported for the type of bot.timeline rows)


def test_an_unreachable_database_gets_a_clear_answer(bot: Bot) -> None:
    """PostgreSQL refusing connections (ALLOW_CONNECTIONS false, every session terminated): the declare is answered
    'nothing was recorded', /healthz says 503, and it all works again when the database is back."""
    from sqlalchemy.engine import make_url

    from tests.dbs import PG_ADMIN_URL

    url = bot.runtime.settings.database_url
    if not url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (ALLOW_CONNECTIONS); SQLite has no server to lose")
    name = make_url(url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                         {"name": name})
        started = time.monotonic()
        answer = bot.slack.slash_command("U0L1", "declare sev2 While the database is away")
        assert time.monotonic() - started < 3.0
        assert answer.status == 200 and "nothing was recorded" in answer.json()["text"]
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(bot.runtime.url + "/healthz", timeout=5)
        assert caught.value.code == 503
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    wait_for(lambda: "Declaring INC-1" in bot.slack.slash_command("U0L1", "declare sev2 Back again").text, timeout=10, what="declares again")
    assert [i.title for i in bot.incidents()] == ["Back again"]


def test_a_connection_killed_while_idle_is_replaced_before_a_declare_uses_it(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend killed while its pooled connection sat idle (a failover, an idle-session killer): a connection idle
    past PING_AFTER_IDLE_S is pinged before use and replaced, so the next declare is recorded, not refused."""
    from sqlalchemy.engine import make_url

    from bot.db import engine as engine_module
    from tests.dbs import PG_ADMIN_URL

    url = bot.runtime.settings.database_url
    if not url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (pg_terminate_backend); a SQLite connection has no server side to lose")
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.2, raising=False)
    assert "Declaring INC-1" in bot.slack.slash_command("U0L1", "declare sev3 Before the kill").text
    bot.wait_provisioned(1)
    bot.settled()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name "
                                       "AND pid <> pg_backend_pid()"), {"name": make_url(url).database}).scalar_one()
    finally:
        admin.dispose()
    assert killed >= 1
    time.sleep(0.3)  # every pooled connection is now idle past the threshold
    answer = bot.slack.slash_command("U0L1", "declare sev3 After the kill")
    assert answer.status == 200 and "Declaring INC-2" in answer.text, answer.text
