"""Roles, status, severity, notes, pinned messages and the timeline, driven over signed HTTP against the simulator."""
from __future__ import annotations

import threading

import pytest

from bot.db.models import OutboxItem, RoleAssignment
from bot.ids import ActionId, CallbackId
from bot.slack_sim.state import Message
from tests.harness import Bot, incident_config, running_bot, wait_for


def _declared(bot: Bot, text: str = "declare sev2 Checkout slow") -> tuple[int, str]:
    bot.slack.slash_command("U0L1", text)
    incident = bot.wait_provisioned(len(bot.incidents()))
    return incident.id, incident.channel_id


def _say(bot: Bot, user: str, channel: str, text: str) -> str:
    return bot.say(user, text, channel)


def _card(bot: Bot, incident_id: int):  # type: ignore[no-untyped-def]
    incident = bot.incident(incident_id)
    return bot.sim.workspace.find_message(incident.channel_id, incident.card_ts)


def _dms(bot: Bot, user: str) -> list[str]:
    channel = bot.sim.workspace.dm_channel(user)
    return [m.text for m in bot.sim.workspace.messages(channel.id)] if channel else []


def test_roles_handoff_updates_card_and_topic_in_place(bot: Bot) -> None:
    incident_id, channel = _declared(bot)
    posts_before = len(bot.sim.calls_to("chat.postMessage"))

    assert "is now Communications Lead" in _say(bot, "U0L1", channel, "assign comms <@U0L2|sam>")
    assert "is now Incident Commander" in _say(bot, "U0L2", channel, "ic <@U0IC|ines>")
    bot.settled()

    ws = bot.sim.workspace
    assert "U0IC" in ws.channels[channel].members, "the new IC is invited"
    assert any("stakeholder updates every 15 minutes" in text for text in _dms(bot, "U0IC")), "the new IC is briefed"
    assert any("no longer hold it" in text for text in _dms(bot, "U0L1")), "the previous IC is told"
    assert any("Communications Lead" in text for text in _dms(bot, "U0L2"))
    card = _card(bot, incident_id)
    assert "<@U0IC>" in str(card.blocks) and "Communications Lead: <@U0L2>" in str(card.blocks)
    assert card.edited_ts is not None, "the pinned card was updated with chat.update"
    assert "IC: <@U0IC>" in ws.channels[channel].topic
    # updated in place: no second card (only the DMs were new chat.postMessage calls)
    new_posts = bot.sim.calls_to("chat.postMessage")[posts_before:]
    assert all(call.args["channel"].startswith("U") for call in new_posts)

    who = _say(bot, "U0L2", channel, "who")
    assert "Incident Commander: <@U0IC>" in who and "Communications Lead: <@U0L2>" in who and "Scribe: _unassigned_" in who
    assert "unassigned" in _say(bot, "U0IC", channel, "unassign comms")
    assert "always an Incident Commander" in _say(bot, "U0IC", channel, "unassign ic")
    kinds = [e.kind for e in bot.timeline(incident_id)]
    assert kinds.count("role_assigned") == 3 and kinds.count("role_unassigned") == 1
    with bot.db.unit_of_work() as session:
        current_ic = session.query(RoleAssignment).filter_by(incident_id=incident_id, role="ic", ended_at=None).all()
    assert [r.user_id for r in current_ic] == ["U0IC"]


def test_take_command_race_leaves_exactly_one_ic(bot: Bot) -> None:
    incident_id, channel = _declared(bot)
    answered_before = len(bot.sim.workspace.ephemerals)
    card = _card(bot, incident_id)
    results: list[int] = []

    def click(user: str) -> None:
        results.append(bot.slack.click(user, channel, card.ts, ActionId.TAKE_COMMAND).status)

    racers = [threading.Thread(target=click, args=(user,)) for user in ("U0L2", "U0IC")]
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join()
    assert results == [200, 200]
    wait_for(lambda: {e.user for e in bot.sim.workspace.ephemerals[answered_before:]} >= {"U0L2", "U0IC"},
             what="both clickers answered")
    with bot.db.unit_of_work() as session:
        holders = [r.user_id for r in session.query(RoleAssignment).filter_by(incident_id=incident_id, role="ic", ended_at=None)]
    assert len(holders) == 1 and holders[0] in ("U0L2", "U0IC")
    loser = "U0IC" if holders[0] == "U0L2" else "U0L2"
    told = [e.text for e in bot.sim.workspace.ephemerals if e.user == loser]
    assert told and f"<@{holders[0]}>" in told[-1]
    assert [e.kind for e in bot.timeline(incident_id)].count("role_assigned") == 2  # declare + the one winner


def test_role_picker_opens_a_modal_and_assigns(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    card = _card(bot, incident_id)

    def open_picker() -> str:
        before = {v.id for v in bot.sim.workspace.views.values()}
        assert bot.slack.click("U0L1", channel, card.ts, ActionId.PICK_ROLE, value=f"{incident_id}:scribe").status == 200
        return wait_for(lambda: next((v.id for v in bot.sim.workspace.views.values()
                                      if v.view.get("callback_id") == CallbackId.ASSIGN_ROLE and v.id not in before), None), what="role modal")

    # Whether the person is active needs Slack: the form closes at once, the answer comes privately, nothing is recorded.
    submitted = bot.slack.submit_view("U0L1", open_picker(), {"assign_role_user": {ActionId.ASSIGN_ROLE_USER: "U0GONE"}})
    assert submitted.status == 200 and not submitted.text.strip()
    told = wait_for(lambda: next((e for e in bot.sim.workspace.ephemerals if e.user == "U0L1" and "deactivated" in e.text), None),
                    what="the deactivated person refused")
    assert told.channel == channel
    assert not [e for e in bot.timeline(incident_id) if e.kind == "role_assigned" and e.data.get("role") == "scribe"]
    assert bot.slack.submit_view("U0L1", open_picker(), {"assign_role_user": {ActionId.ASSIGN_ROLE_USER: "U0EXEC"}}).status == 200
    wait_for(lambda: any(e.kind == "role_assigned" and e.data.get("role") == "scribe" for e in bot.timeline(incident_id)), what="scribe assigned")
    bot.settled()
    assert "Scribe: <@U0EXEC>" in str(_card(bot, incident_id).blocks)


def test_role_modal_refusal_needs_no_slack_and_names_no_raw_mention(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A permission refusal is known before the ack: a field error in plain text (no <@U…> or <!subteam^…>)."""
    from bot.config import Permissions

    config = incident_config(permissions=Permissions(hand_over_ic=("ic", "S0ONCALL")))
    with running_bot(f"sqlite:///{tmp_path / 's.db'}", config) as bot:
        incident_id, channel = _declared(bot)
        card = _card(bot, incident_id)
        bot.slack.click("U0EXEC", channel, card.ts, ActionId.PICK_ROLE, value=f"{incident_id}:ic")
        view = wait_for(lambda: next((v.id for v in bot.sim.workspace.views.values() if v.view.get("callback_id") == CallbackId.ASSIGN_ROLE), None),
                        what="role modal")
        calls = len(bot.sim.calls)
        answer = bot.slack.submit_view("U0EXEC", view, {"assign_role_user": {ActionId.ASSIGN_ROLE_USER: "U0EXEC"}}).json()
        error = answer["errors"]["assign_role_user"]
        assert answer["response_action"] == "errors" and "Only the Incident Commander or" in error
        assert "<@" not in error and "<!subteam" not in error
        assert len(bot.sim.calls) == calls, "the refusal asked Slack nothing"


def test_forged_and_stale_buttons_change_nothing(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    card = _card(bot, incident_id)
    before = len(bot.timeline(incident_id))
    bot.slack.click("U0L2", channel, card.ts, ActionId.TAKE_COMMAND, value="999:U0L1")
    bot.slack.click("U0L2", channel, card.ts, ActionId.TAKE_COMMAND, value="garbage")
    bot.slack.click("U0L2", channel, card.ts, ActionId.TAKE_COMMAND, value=f"{incident_id}:U0EXEC")  # stale: U0EXEC never held it
    wait_for(lambda: len([e for e in bot.sim.workspace.ephemerals if e.user == "U0L2"]) >= 3, what="three polite refusals")
    texts = [e.text for e in bot.sim.workspace.ephemerals if e.user == "U0L2"]
    assert "another incident" in texts[0] or "another incident" in " ".join(texts)
    assert any("not one sevbot made" in t for t in texts) and any("changed before your click" in t for t in texts)
    assert len(bot.timeline(incident_id)) == before


def test_status_and_severity_update_card_topic_and_stakeholders(bot: Bot) -> None:
    incident_id, channel = _declared(bot)
    assert "now identified" in _say(bot, "U0L1", channel, "status identified Bad deploy of payments-api v143 <!channel>")
    assert "SEV0" in _say(bot, "U0L2", channel, "sev sev0 Data loss risk")
    bot.settled()
    ws = bot.sim.workspace
    assert "Identified" in ws.channels[channel].topic and "SEV0" in ws.channels[channel].topic
    card = _card(bot, incident_id)
    assert "Identified" in str(card.blocks) and "SEV0" in str(card.blocks)
    stakeholder_texts = [m.text for m in ws.messages("C0STAKE")]
    assert any("identified" in t for t in stakeholder_texts) and any("severity raised" in t for t in stakeholder_texts)
    assert all("<!channel>" not in t for t in stakeholder_texts + [m.text for m in ws.messages(channel)])
    events = bot.timeline(incident_id)
    assert [e.kind for e in events][-3:] == ["status_changed", "severity_changed", "page_requested"]
    assert events[-1].data["paged"] is False, "the paging seam records intent and does not pretend to page"
    assert any("page them by hand" in m.text for m in ws.messages(channel))


@pytest.mark.parametrize(
    ("user", "text", "expected"),
    [
        ("U0L1", "assign wizard <@U0L2>", "no role `wizard`"),
        ("U0L1", "assign comms <@U0NOPE>", "Slack has no user"),
        ("U0L1", "assign comms <@U0GONE>", "deactivated"),
        ("U0L1", "assign comms @sam", "Mention the person"),
        ("U0L1", "status partying", "not a status"),
        ("U0L1", "status investigating", "already investigating"),
        ("U0L1", "sev sev9", "not a severity"),
        ("U0L1", "note " + "x" * 3000, "limited to 2,900 characters"),
        ("U0L1", "note", "Write the note"),
    ],
)
def test_bad_input_gets_an_explanation_and_changes_nothing(sqlite_bot: Bot, user: str, text: str, expected: str) -> None:
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    before = len(bot.timeline(incident_id))
    answer = _say(bot, user, channel, text)
    assert expected in answer
    assert len(bot.timeline(incident_id)) == before


def test_incident_commands_outside_an_incident_channel(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    _declared(bot)
    for text in ("status identified", "note hello", "who", "timeline", "ic <@U0L2>"):
        assert "Run this in an incident's channel" in _say(bot, "U0L1", "C0GENERAL", text)


def test_permissions_refuse_and_record(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.config import Permissions

    config = incident_config(permissions=Permissions(change_severity=("ic",), hand_over_ic=("ic", "S0ONCALL"), resolve=("ic",)),
                         status_transitions={"investigating": ("identified",), "identified": ("monitoring", "investigating"),
                                             "monitoring": ("resolved", "investigating")})
    with running_bot(f"sqlite:///{tmp_path / 's.db'}", config) as bot:
        incident_id, channel = _declared(bot)  # U0L1 declared: IC
        assert "Only the Incident Commander may change the severity" in _say(bot, "U0EXEC", channel, "sev sev1")
        assert "Only the Incident Commander or" in _say(bot, "U0EXEC", channel, "ic <@U0EXEC>")
        assert "is now Incident Commander" in _say(bot, "U0L2", channel, "ic <@U0L2>"), "on-call group members may"
        assert "can't go from investigating to monitoring" in _say(bot, "U0L2", channel, "status monitoring")
        assert "Only the Incident Commander may resolve" in _say(bot, "U0EXEC", channel, "resolve")
        kinds = [e.kind for e in bot.timeline(incident_id)]
        assert kinds.count("refused") == 3
        assert bot.incident(incident_id).severity == "sev2"


def test_notes_and_timeline(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    _say(bot, "U0L2", channel, "note Rolled back payments-api to v142 & <!here>")
    bot.settled()
    posted = [m.text for m in bot.sim.workspace.messages(channel)]
    assert any("Rolled back payments-api to v142 &amp; &lt;!here&gt;" in t for t in posted)
    timeline = _say(bot, "U0L1", channel, "timeline")
    assert "Rolled back payments-api" in timeline and "Declared as" in timeline and "<!here>" not in timeline


def test_pins_and_pin_reactions_join_the_timeline_once(bot: Bot) -> None:
    incident_id, channel = _declared(bot)
    ws = bot.sim.workspace
    message = ws.add_message(Message(ts=ws.new_ts(), channel=channel, user="U0L2", text="p99 latency back to 180ms after rollback"))
    reaction = {"type": "reaction_added", "user": "U0L1", "reaction": "pushpin", "item": {"type": "message", "channel": channel, "ts": message.ts}, "item_user": "U0L2"}
    assert bot.slack.event(reaction, event_id="Ev1").status == 200
    assert bot.slack.event(reaction, event_id="Ev1", retry_num=1).status == 200  # Slack's retry
    assert bot.slack.event(reaction, event_id="Ev2").status == 200  # a duplicate delivery
    assert bot.slack.event({**reaction, "reaction": "eyes"}, event_id="Ev3").status == 200  # not the pin reaction

    # Reading the message asks Slack, so events are worked on after they are answered: wait for each to land.
    def pinned() -> list:  # type: ignore[type-arg]
        return [e for e in bot.timeline(incident_id) if e.kind == "pinned_message"]

    def sources() -> set[str]:
        return {s for e in pinned() for s in e.data.get("sources", [])}

    wait_for(lambda: pinned(), what="the pinned message on the timeline")
    bot.settled()
    entries = pinned()
    assert len(entries) == 1
    assert entries[0].data["author"] == "U0L2" and "p99 latency" in entries[0].data["text"] and entries[0].data["permalink"].startswith("https://")

    pin = {"type": "pin_added", "user": "U0IC", "channel_id": channel,
           "item": {"type": "message", "channel": channel, "message": {"type": "message", "user": "U0L2", "text": message.text, "ts": message.ts}}}
    bot.slack.event(pin, event_id="Ev4")
    wait_for(lambda: "pin" in sources(), what="the pin counted")
    assert len(pinned()) == 1
    bot.slack.event({**reaction, "type": "reaction_removed"}, event_id="Ev5")
    wait_for(lambda: sources() == {"pin"}, what="the reaction taken off")
    assert len(pinned()) == 1, "still pinned"
    bot.slack.event({**pin, "type": "pin_removed"}, event_id="Ev6")
    wait_for(lambda: pinned() == [], what="the last pin removed")


def test_a_post_retried_after_a_crash_is_not_posted_twice(sqlite_bot: Bot) -> None:
    """Slack took the message, then the process died before recording it: the retry finds it by its metadata."""
    bot = sqlite_bot
    incident_id, channel = _declared(bot)
    _say(bot, "U0L1", channel, "status identified Cause found")
    bot.settled()
    posted = [m for m in bot.sim.workspace.messages("C0STAKE") if "identified" in m.text]
    assert len(posted) == 1
    with bot.db.unit_of_work() as session:  # as if we died right after Slack answered
        for item in session.query(OutboxItem).filter(OutboxItem.kind == "post"):
            item.done_at, item.lease_until, item.result = None, None, None
    bot.runtime.core.outbox.drain()
    assert [m for m in bot.sim.workspace.messages("C0STAKE") if "identified" in m.text] == posted
    with bot.db.unit_of_work() as session:
        results = [item.result for item in session.query(OutboxItem).filter(OutboxItem.kind == "post")]
    assert results and all(r.get("adopted") for r in results)
