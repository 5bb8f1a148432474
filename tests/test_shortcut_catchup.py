"""The "Add to incident timeline" message shortcut and `/incident catchup`, over signed HTTP against the simulator."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from bot.core.timeline import record_new
from bot.db.models import FollowUp, TimelineEvent
from bot.ids import CallbackId
from bot.slack_sim.blockkit import validate_message
from bot.slack_sim.state import Message
from tests.harness import Bot, paging_config, running_bot, wait_for


def _declared(bot: Bot, text: str = "declare sev2 Checkout slow") -> tuple[int, str]:
    bot.slack.slash_command("U0L1", text)
    incident = bot.wait_provisioned(len(bot.incidents()))
    return incident.id, incident.channel_id


def _added(bot: Bot, incident_id: int) -> list[TimelineEvent]:
    return [e for e in bot.timeline(incident_id) if e.kind == "pinned_message"]


def _answers(bot: Bot, response: Any) -> list[str]:
    """What the person who used the shortcut was told privately (through the payload's response_url)."""
    assert response.status == 200, response.text
    token = response.payload["response_url"].rstrip("/").rsplit("/", 1)[-1]
    post = wait_for(lambda: [p for p in bot.sim.workspace.response_posts if p.token == token], what="the shortcut's answer")
    for p in post:
        assert p.body.get("response_type") == "ephemeral"
    return [str(p.body["text"]) for p in post]


def test_the_shortcut_adds_a_message_once_however_often_it_is_clicked(database_url: str) -> None:
    with running_bot(database_url) as bot:
        incident_id, channel = _declared(bot)
        ws = bot.sim.workspace
        message = ws.add_message(Message(ts=ws.new_ts(), channel=channel, user="U0L2",
                                         text="Rolled back to v142 <!channel> & <@U0IC> <https://evil.example|click>"))
        first = bot.slack.message_shortcut("U0L1", channel, message.ts, CallbackId.ADD_TO_TIMELINE)
        assert "Added to the INC-" in _answers(bot, first)[0]
        second = bot.slack.message_shortcut("U0L1", channel, message.ts, CallbackId.ADD_TO_TIMELINE)
        assert "already on the" in _answers(bot, second)[0]
        third = bot.slack.message_shortcut("U0IC", channel, message.ts, CallbackId.ADD_TO_TIMELINE)  # someone else
        assert "already on the" in _answers(bot, third)[0]

        entries = _added(bot, incident_id)
        assert len(entries) == 1
        entry = entries[0]
        assert entry.actor == "U0L1"
        assert entry.data["author"] == "U0L2"
        assert entry.data["text"] == message.text
        assert entry.data["ts"] == message.ts and entry.data["channel"] == channel
        assert entry.data["message_time"].startswith(time.strftime("%Y-", time.gmtime(float(message.ts))))
        assert entry.data["permalink"] == f"https://sim.slack.local/archives/{channel}/p{message.ts.replace('.', '')}"
        # Hostile text is stored inert: no @channel ping, no mention or link can be drawn from the summary.
        assert "<!channel>" not in entry.summary and "&lt;!channel&gt;" in entry.summary
        assert "<https://" not in entry.summary and "&lt;@U0IC&gt;" in entry.summary
        assert entry.summary.startswith("Message from <@U0L2>: ")
        # The permalink came from Slack (chat.getPermalink, after the ack): the payload carries the rest.
        assert any(c.method == "chat.getPermalink" and c.args.get("message_ts") == message.ts for c in bot.sim.calls)


def test_a_thread_reply_joins_the_timeline(database_url: str) -> None:
    with running_bot(database_url) as bot:
        incident_id, channel = _declared(bot)
        ws = bot.sim.workspace
        parent = ws.add_message(Message(ts=ws.new_ts(), channel=channel, user="U0L1", text="what changed at 14:02?"))
        reply = ws.add_message(Message(ts=ws.new_ts(), channel=channel, user="U0L2", text="the pool size went 50 → 5",
                                       thread_ts=parent.ts))
        answered = bot.slack.message_shortcut("U0IC", channel, reply.ts, CallbackId.ADD_TO_TIMELINE)
        assert answered.payload is not None and answered.payload["message"]["thread_ts"] == parent.ts
        assert "Added to the" in _answers(bot, answered)[0]
        [entry] = _added(bot, incident_id)
        assert entry.data["ts"] == reply.ts and entry.data["thread_ts"] == parent.ts
        assert entry.data["text"] == "the pool size went 50 → 5" and entry.data["author"] == "U0L2"
        assert entry.data["permalink"].startswith("https://")
        # A reply and its parent are two messages: the parent can still be added on its own.
        bot.slack.message_shortcut("U0IC", channel, parent.ts, CallbackId.ADD_TO_TIMELINE)
        wait_for(lambda: len(_added(bot, incident_id)) == 2, what="the parent added too")


def test_outside_an_incident_channel_it_says_so_and_records_nothing(database_url: str) -> None:
    with running_bot(database_url) as bot:
        incident_id, _channel = _declared(bot)
        before = len(bot.timeline(incident_id))
        ws = bot.sim.workspace
        message = ws.add_message(Message(ts=ws.new_ts(), channel="C0GENERAL", user="U0L2", text="lunch?"))
        answered = bot.slack.message_shortcut("U0L1", "C0GENERAL", message.ts, CallbackId.ADD_TO_TIMELINE)
        assert "not an incident channel" in _answers(bot, answered)[0]
        assert not any(c.method == "chat.getPermalink" for c in bot.sim.calls)
        assert len(bot.timeline(incident_id)) == before
        with bot.db.unit_of_work() as session:
            assert session.query(TimelineEvent).filter(TimelineEvent.kind == "pinned_message").count() == 0


def test_a_pin_and_the_shortcut_on_one_message_make_one_entry(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    ws = bot.sim.workspace
    message = ws.add_message(Message(ts=ws.new_ts(), channel=channel, user="U0L2", text="error rate back to baseline"))
    reaction = {"type": "reaction_added", "user": "U0L1", "reaction": "pushpin",
                "item": {"type": "message", "channel": channel, "ts": message.ts}, "item_user": "U0L2"}
    bot.slack.event(reaction, event_id="EvPin1")
    wait_for(lambda: _added(bot, incident_id), what="the pinned message")
    _answers(bot, bot.slack.message_shortcut("U0IC", channel, message.ts, CallbackId.ADD_TO_TIMELINE))
    [entry] = _added(bot, incident_id)
    assert set(entry.data["sources"]) == {"reaction:U0L1", "shortcut"}
    # Taking the reaction off leaves it on the timeline: the shortcut still holds it.
    bot.slack.event({**reaction, "type": "reaction_removed"}, event_id="EvPin2")
    wait_for(lambda: _added(bot, incident_id)[0].data["sources"] == ["shortcut"], what="the reaction taken off")


def _catchup(bot: Bot, channel: str, user: str = "U0L2") -> dict[str, Any]:
    answer = bot.slack.slash_command(user, "catchup", channel_id=channel)
    assert answer.status == 200, answer.text
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    assert validate_message(body.get("text"), body.get("blocks")) == []
    body["elapsed"] = answer.elapsed
    return body


def _shown(body: dict[str, Any]) -> str:
    texts = []
    for block in body["blocks"]:
        if block.get("text"):
            texts.append(block["text"]["text"])
        texts += [e.get("text", "") for e in block.get("elements") or []]
    return "\n".join(texts)


def test_catchup_on_a_long_incident_fits_block_kit(database_url: str) -> None:
    with running_bot(database_url, paging_config()) as bot:
        incident_id, channel = _declared(bot, "declare sev1 Checkout failing for all EU users")
        wait_for(lambda: any(e.kind == "page_started" for e in bot.timeline(incident_id)), what="the page started")
        bot.say("U0L1", "assign comms <@U0L2>", channel)
        wait_for(lambda: any(e.kind == "role_assigned" and e.data.get("role") == "comms" for e in bot.timeline(incident_id)),
                 what="comms assigned")
        bot.say("U0L1", "runbook sev1-first-30-minutes", channel)
        bot.say("U0L1", "followup Add an alert on the pool size @nobody", channel)

        now = bot.runtime.deps.clock.now()
        hostile = "<!channel> " + "&<>*" * 1000  # 4,011 characters that each escape to several
        rows = [{"incident_id": incident_id, "at": now - timedelta(hours=30) + timedelta(seconds=i), "actor": "U0L2",
                 "kind": "note", "summary": f"old note {i} {hostile}", "data": {}} for i in range(5_000)]
        latest = [{"incident_id": incident_id, "at": now + timedelta(seconds=i), "actor": "U0IC", "kind": "note",
                   "summary": f"recent note {i} " + "x" * 2_000, "data": {}} for i in range(1, 6)]
        noise = [{"incident_id": incident_id, "at": now + timedelta(minutes=1, seconds=i), "actor": "sevbot", "kind": kind,
                  "summary": f"noise {kind} {i}", "data": {}}
                 for i, kind in enumerate(["slack_failed", "update_reminder", "card_posted", "refused"] * 10)]
        with bot.db.transaction() as connection:
            record_new(connection, rows + latest + noise)
            connection.execute(insert(FollowUp.__table__), [
                {"incident_id": incident_id, "text": f"follow-up {i} " + "<b>" * 400, "owner": "U0L2" if i % 2 else None,
                 "due": None, "created_by": "U0L1", "created_at": now} for i in range(40)])

        body = _catchup(bot, channel)
        shown = _shown(body)
        assert len(body["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"] if b["type"] == "section")
        assert len(body["text"]) <= 3000
        assert body["elapsed"] < 3, "Slack gives a command 3 seconds"
        # What it is, where it stands, who holds what.
        assert "Checkout failing for all EU users" in shown and "SEV1" in shown and "investigating" in shown
        assert "open for" in shown
        assert "Incident Commander: <@U0L1>" in shown and "Communications Lead: <@U0L2>" in shown and "Scribe: _unassigned_" in shown
        # The page, the runbook, the stakeholder updates.
        assert "*Paging:* paging now, tier 1" in shown
        assert "*Runbooks:*" in shown and "0/" in shown and "to go" in shown
        assert "*Stakeholder updates:* last none posted yet" in shown and "the next one is due at" in shown
        # The last five notable events (the noise after them skipped), oldest first.
        assert "*Latest 5 events:*" in shown
        positions = [shown.index(f"recent note {i} ") for i in range(1, 6)]
        assert positions == sorted(positions)
        assert "old note" not in shown and "noise" not in shown
        # Follow-ups: the first few, then how many more; hostile text inert.
        assert "*Follow-ups (41):*" in shown and "… and 36 more" in shown
        assert "<b>" not in shown and "<!channel>" not in shown


def test_catchup_on_a_fresh_incident_and_outside_one(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    body = _catchup(bot, channel)
    shown = _shown(body)
    assert "Checkout slow" in shown and "*Paging:* nobody has been paged" in shown
    assert "*Runbooks:* none started" in shown and "*Follow-ups:* none recorded" in shown
    assert "Declared" in shown  # the declare itself is a notable event
    answer = bot.slack.slash_command("U0L2", "catchup", channel_id="C0GENERAL").json()
    assert answer["response_type"] == "ephemeral" and "incident's channel" in answer["text"]
    # A stakeholder update shows as the last one, with the next one due when it promised.
    bot.slack.slash_command("U0L1", "update", channel_id=channel)
    view = wait_for(lambda: next((v for v in bot.sim.workspace.views.values()
                                  if v.view["callback_id"] == CallbackId.UPDATE_MODAL), None), what="the update form")
    assert bot.slack.submit_view("U0L1", view.id, {
        "update_status": {"update_status": "identified"},
        "update_impact": {"update_impact": "20% of checkouts <!here> time out"},
        "update_doing": {"update_doing": "Rolling back"},
        "update_next": {"update_next": "30"},
    }).status == 200
    shown = _shown(_catchup(bot, channel))
    assert "*Stakeholder updates:* last " in shown and "by <@U0L1>: 20% of checkouts &lt;!here&gt; time out" in shown
    assert "the next one is due at" in shown and ("(in 29m)" in shown or "(in 30m)" in shown)
    assert "*Status:* identified" in shown
    assert bot.incident(incident_id).status == "identified"
