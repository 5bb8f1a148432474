"""What people do with an alert, end to end over signed HTTP against the simulator: declare an incident from it (by
button, or by a route that declares by itself), resolve it, silence it, acknowledge it with `/incident ack`, the
flap window, bare `/incident page`, and buttons that turn up in the wrong channel."""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.db.models import AlertGroup, Page
from bot.ids import ActionId
from bot.render import Renderer
from bot.resolve.export import build_document, render_markdown
from bot.slack_sim.state import BOT_USER_ID, Message
from tests.alerts_harness import am_payload, post_alert
from tests.harness import Bot, FakeClock, wait_for
from tests.alerts_harness import alert_messages, dms, groups, pages, tick

TITLE = "Checkout 5xx above 5%"


# ---- helpers -----------------------------------------------------------------------------------------------------

def fire(bot: Bot, body: dict[str, Any] | None = None, outcome: str | None = None) -> dict[str, Any]:
    reply = post_alert(bot.runtime.url, "am", body if body is not None else am_payload())
    assert reply.status == 200, reply.body
    if outcome is not None:
        assert reply.body["outcome"] == outcome, reply.body
    bot.settled()
    return reply.body


def group(bot: Bot, group_id: int) -> AlertGroup:
    with bot.db.unit_of_work() as session:
        return session.get_one(AlertGroup, group_id)


def group_pages(bot: Bot, group_id: int) -> list[Page]:
    return [p for p in pages(bot) if p.alert_group_id == group_id]


def incident_pages(bot: Bot, incident_id: int) -> list[Page]:
    return [p for p in pages(bot) if p.incident_id == incident_id]


def answer_of(bot: Bot, response: Any) -> str:
    """The private answer to a click, posted to the click's response_url after the ack."""
    assert response.status == 200, response.text
    token = response.payload["response_url"].rstrip("/").rsplit("/", 1)[-1]
    post = wait_for(lambda: next((p for p in bot.sim.workspace.response_posts if p.token == token), None),
                    what="the answer to a click")
    return str(post.body["text"])


def click(bot: Bot, user: str, channel: str, ts: str, action_id: str) -> str:
    return answer_of(bot, bot.slack.click(user, channel, ts, action_id))


def click_as_seen(bot: Bot, user: str, channel: str, message: Message, action_id: str) -> str:
    """A click on `message` as the clicker's Slack showed it (a snapshot, possibly stale), reported as coming from
    `channel`: a button clicked twice before the message changed, or a button that turned up in another channel."""
    driver = bot.slack
    found = next(((block, el) for block in message.blocks if block.get("type") == "actions"
                  for el in block["elements"] if el.get("action_id") == action_id), None)
    assert found is not None, f"the message has no {action_id} button"
    block, element = found
    payload = {
        "type": "block_actions", "user": driver._user(user), "api_app_id": "A0SEVBOT", "token": "sim-verification-token",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": bot.sim.issue_trigger(user), "team": driver._team(), "enterprise": None,
        "is_enterprise_install": False, "channel": {"id": channel, "name": driver._channel_name(channel)},
        "message": message.to_api(), "state": {"values": {}},
        "response_url": bot.sim.issue_response_url(channel, user, message.ts),
        "actions": [driver._action(block, element, action_id, None)],
    }
    return answer_of(bot, driver._post_payload(payload))


def the_message(bot: Bot) -> Message:
    [message] = alert_messages(bot)
    return message


def shown(message: Message) -> str:
    return message.text + str(message.blocks)


def button_ids(message: Message) -> list[str]:
    return [el["action_id"] for block in message.blocks if block.get("type") == "actions" for el in block["elements"]]


# ---- 1. Declare incident button ----------------------------------------------------------------------------------

def test_declare_button_opens_one_incident_that_takes_the_alert_over(alert_bot: Bot, clock: FakeClock) -> None:
    bot = alert_bot
    group_id = fire(bot, outcome="created")["group"]
    [alert_page] = group_pages(bot, group_id)
    assert alert_page.state == "paging"
    before = copy.deepcopy(the_message(bot))  # what both clicks of the double click see
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: click_as_seen(bot, "U0L1", "C0ALERTS", before, ActionId.ALERT_DECLARE), range(2)))
    assert sum("Declaring INC-1" in a for a in answers) == 1, answers
    assert sum("already attached to INC-1" in a for a in answers) == 1, answers
    # A third click, later, from a client that still shows the old message: the same incident.
    assert "already attached to INC-1" in click_as_seen(bot, "U0L2", "C0ALERTS", before, ActionId.ALERT_DECLARE)

    incident = bot.wait_provisioned(1)
    bot.settled()
    assert [i.id for i in bot.incidents()] == [1], "a double click declares once"
    assert incident.title == TITLE and incident.declared_by == "U0L1"
    assert incident.severity == "sev1" and incident.service == "checkout"  # critical → sev1; the service label
    assert incident.channel_id is not None and incident.channel_id in bot.sim.workspace.channels
    assert group(bot, group_id).incident_id == 1
    assert group_pages(bot, group_id)[0].state == "cancelled", "the incident's own paging takes over"
    # The alert message says the incident took it over, and offers no second declare nor an ack of its own.
    # Once the channel exists the message links it (re-rendered just after provisioning finishes).
    message = wait_for(lambda: next((m for m in [the_message(bot)] if f"INC-1 is open in <#{incident.channel_id}>" in shown(m)), None),
                       what="the message links the incident's channel")
    assert ActionId.ALERT_DECLARE not in button_ids(message) and ActionId.ALERT_ACK not in button_ids(message)

    # The declare's own page (SEV1) runs; a new alert of the same group only speaks in the incident channel.
    wait_for(lambda: incident_pages(bot, 1), what="the incident's page")
    bot.settled()
    pages_before = len(pages(bot))
    clock.advance(minutes=3)
    fire(bot, am_payload(fingerprints=("a1", "a2"), starts_at="2026-12-02T03:03:00Z"), outcome="changed")
    lines = [m.text for m in bot.sim.workspace.messages(incident.channel_id) if "Firing again in" in m.text]
    assert len(lines) == 1 and "HighErrorRate" in lines[0], lines
    assert len(pages(bot)) == pages_before, "an attached group starts no page of its own"
    assert len(alert_messages(bot)) == 1
    # The card in the incident channel lists the alert, with its new firing count.
    card = bot.sim.workspace.find_message(incident.channel_id, incident.card_ts)
    assert card is not None and "*Alerts*" in str(card.blocks) and f":red_circle: {TITLE} · 2 firing" in str(card.blocks)
    # Resolved at the source: the card says so, and so does the incident channel.
    fire(bot, am_payload("resolved", fingerprints=("a1", "a2"), starts_at="2026-12-02T03:03:00Z"), outcome="changed")
    card = bot.sim.workspace.find_message(incident.channel_id, incident.card_ts)
    assert f":large_green_circle: {TITLE} · resolved" in str(card.blocks)
    assert [m for m in bot.sim.workspace.messages(incident.channel_id) if "resolved at the source" in m.text]
    assert len(pages(bot)) == pages_before

    kinds = [e.kind for e in bot.timeline(1)]
    assert "alert_fired" in kinds and "alert_attached" in kinds and "alert_page_stopped" in kinds
    assert kinds.count("alert_fired") == 2, "the first firing (copied at attach) and the new one"
    document = build_document(bot.db, bot.runtime.deps.config, 1)
    markdown = render_markdown(Renderer(), document)
    alert_lines = [line for line in markdown.splitlines() if "HighErrorRate" in line]
    assert alert_lines, "the postmortem timeline carries the alert's events"
    assert any("Attached to INC" in line for line in markdown.splitlines())


def test_the_first_card_of_an_incident_declared_from_an_alert_lists_it(alert_bot: Bot) -> None:
    bot = alert_bot
    fire(bot, outcome="created")
    assert "Declaring INC-1" in click(bot, "U0L1", "C0ALERTS", the_message(bot).ts, ActionId.ALERT_DECLARE)
    incident = bot.wait_provisioned(1)
    bot.settled()
    card = bot.sim.workspace.find_message(incident.channel_id, incident.card_ts)
    assert card is not None and f":red_circle: {TITLE} · 1 firing" in str(card.blocks)


# ---- 2. A route that declares by itself --------------------------------------------------------------------------

def test_declare_route_opens_exactly_one_incident_even_when_delivered_twice(alert_bot: Bot) -> None:
    bot = alert_bot
    body = am_payload(alertname="PaymentsDown", labels={"action": "declare"}, summary="Payments API down")
    with ThreadPoolExecutor(2) as pool:  # the two Alertmanagers of an HA pair, at once
        replies = list(pool.map(lambda _: post_alert(bot.runtime.url, "am", body), range(2)))
    assert [r.status for r in replies] == [200, 200]
    assert sorted(r.body["outcome"] for r in replies) == ["created", "unchanged"], [r.body for r in replies]
    assert post_alert(bot.runtime.url, "am", body).body["outcome"] == "unchanged"  # and a retry
    wait_for(bot.incidents, what="the incident the route opens")
    incident = bot.wait_provisioned(1)
    bot.settled()
    assert len(bot.incidents()) == 1
    assert incident.title == "Payments API down" and incident.service == "payments" and incident.severity == "sev1"
    assert incident.declared_by == BOT_USER_ID, "sevbot is the declarer of an incident a route opened"
    [g] = groups(bot)
    assert g.incident_id == 1 and g.action == "declare"
    assert group_pages(bot, g.id) == [], "a declare route does not page the group's ladder"
    kinds = [e.kind for e in bot.timeline(1)]
    assert "alert_fired" in kinds and "alert_attached" in kinds


# ---- 3. Resolve button -------------------------------------------------------------------------------------------

def test_resolve_button_resolves_stops_the_ladder_and_only_a_new_firing_reopens(alert_bot: Bot, clock: FakeClock) -> None:
    bot = alert_bot
    group_id = fire(bot, outcome="created")["group"]
    answer = click(bot, "U0L1", "C0ALERTS", the_message(bot).ts, ActionId.ALERT_RESOLVE)
    assert answer.startswith(":large_green_circle: Resolved") and TITLE in answer
    bot.settled()
    resolved = group(bot, group_id)
    assert resolved.state == "resolved" and resolved.resolved_by == "U0L1"
    assert group_pages(bot, group_id)[0].state == "cancelled"
    message = the_message(bot)
    assert ":large_green_circle:" in str(message.blocks) and "Resolved in Slack by <@U0L1>" in str(message.blocks)
    assert ActionId.ALERT_RESOLVE not in button_ids(message) and ActionId.ALERT_ACK not in button_ids(message)
    # The ladder stopped: nobody reaches tier 2.
    clock.advance(minutes=6)
    tick(bot)
    assert group_pages(bot, group_id)[0].tier == 0
    assert not [m for m in dms(bot, "U0L2") if "(tier 2)" in shown(m)]
    # The sender keeps re-sending the same firing alert: it stays resolved.
    fire(bot, outcome="unchanged")
    clock.advance(minutes=1)
    fire(bot, outcome="unchanged")
    assert group(bot, group_id).state == "resolved" and group(bot, group_id).resolved_by == "U0L1"
    assert ":large_green_circle:" in str(the_message(bot).blocks)
    # The source resolves, then fires anew (a new startsAt): the same group fires again, in the same message (within
    # the flap window, so nobody is paged again).
    fire(bot, am_payload("resolved"), outcome="changed")
    assert group(bot, group_id).state == "resolved"
    clock.advance(minutes=1)
    fire(bot, am_payload(starts_at="2026-12-02T04:00:00Z"), outcome="changed")
    reopened = group(bot, group_id)
    assert reopened.state == "firing" and reopened.resolved_by is None
    assert len(alert_messages(bot)) == 1 and ":red_circle:" in str(the_message(bot).blocks)
    assert ActionId.ALERT_RESOLVE in button_ids(the_message(bot))


def test_a_group_resolved_by_a_person_stays_resolved_past_the_flap_window(alert_bot: Bot, clock: FakeClock) -> None:
    bot = alert_bot
    group_id = fire(bot, outcome="created")["group"]
    click(bot, "U0L1", "C0ALERTS", the_message(bot).ts, ActionId.ALERT_RESOLVE)
    bot.settled()
    clock.advance(minutes=11)
    fire(bot, outcome="unchanged")  # an old firing, repeated: not a new episode
    assert [g.id for g in groups(bot)] == [group_id] and group(bot, group_id).state == "resolved"
    assert len(pages(bot)) == 1 and len(alert_messages(bot)) == 1
    # The source resolves and, long after the person resolved it, fires anew: a new group, message and page.
    fire(bot, am_payload("resolved"), outcome="changed")
    second = fire(bot, am_payload(starts_at="2026-12-02T05:00:00Z"), outcome="created")["group"]
    assert second != group_id and group(bot, group_id).state == "resolved" and group(bot, second).state == "firing"
    assert len(alert_messages(bot)) == 2 and group_pages(bot, second)[0].state == "paging"


# ---- 4. Silence 1 h ----------------------------------------------------------------------------------------------

def test_silence_stops_the_ladder_and_the_message_says_so(alert_bot: Bot, clock: FakeClock) -> None:
    bot = alert_bot
    group_id = fire(bot, outcome="created")["group"]
    assert ActionId.ALERT_SILENCE in button_ids(the_message(bot))
    answer = click(bot, "U0L1", "C0ALERTS", the_message(bot).ts, ActionId.ALERT_SILENCE)
    assert answer.startswith(":mute: Silenced") and "Nobody is paged" in answer
    bot.settled()
    silenced = group(bot, group_id)
    assert silenced.silenced_until is not None and silenced.state == "firing"
    assert group_pages(bot, group_id)[0].state == "cancelled"
    message = the_message(bot)
    assert ":mute: Silenced until" in str(message.blocks)
    assert ActionId.ALERT_SILENCE not in button_ids(message)
    assert ActionId.ALERT_RESOLVE in button_ids(message), "a silenced alert can still be resolved"
    clock.advance(minutes=6)
    tick(bot)
    assert group_pages(bot, group_id)[0].tier == 0
    assert not [m for m in dms(bot, "U0L2") if "(tier 2)" in shown(m)]


# ---- 5. Flapping -------------------------------------------------------------------------------------------------

def test_flapping_reopens_the_same_group_and_a_quiet_spell_opens_a_new_one(alert_bot: Bot, clock: FakeClock) -> None:
    bot = alert_bot
    first = fire(bot, outcome="created")["group"]
    message_ts = the_message(bot).ts
    fire(bot, am_payload("resolved"), outcome="changed")
    assert group(bot, first).state == "resolved" and group_pages(bot, first)[0].state == "cancelled"
    clock.advance(minutes=5)
    fire(bot, am_payload(starts_at="2026-12-02T03:05:00Z"), outcome="changed")
    assert [g.id for g in groups(bot)] == [first] and group(bot, first).state == "firing"
    assert [m.ts for m in alert_messages(bot)] == [message_ts], "the same single message"
    assert len(pages(bot)) == 1, "flapping pages nobody again"
    assert ":red_circle:" in str(the_message(bot).blocks)
    # Resolved, then quiet for longer than the flap window: the next firing is a new episode.
    fire(bot, am_payload("resolved", starts_at="2026-12-02T03:05:00Z"), outcome="changed")
    assert group(bot, first).state == "resolved"
    clock.advance(minutes=11)
    second = fire(bot, am_payload(starts_at="2026-12-02T03:30:00Z"), outcome="created")["group"]
    assert second != first and group(bot, first).state == "resolved"
    messages = alert_messages(bot)
    assert len(messages) == 2 and messages[0].ts == message_ts
    assert ":large_green_circle:" in str(messages[0].blocks) and ":red_circle:" in str(messages[1].blocks)
    assert len(pages(bot)) == 2 and group_pages(bot, second)[0].state == "paging"


# ---- 6. /incident ack --------------------------------------------------------------------------------------------

def test_ack_in_the_alert_channel_takes_the_newest_waiting_group(alert_bot: Bot) -> None:
    bot = alert_bot
    older = fire(bot, am_payload(alertname="DiskFull", summary="Disk almost full"), outcome="created")["group"]
    newer = fire(bot, am_payload(alertname="HighLatency", summary="Checkout p99 over 2s"), outcome="created")["group"]
    answer = bot.say("U0L2", "ack", "C0ALERTS")
    assert "Acknowledged" in answer and "Checkout p99 over 2s" in answer, answer
    assert group(bot, newer).acked_by == "U0L2" and group(bot, older).acked_by is None
    assert group_pages(bot, newer)[0].state == "acked" and group_pages(bot, older)[0].state == "paging"
    answer = bot.say("U0L1", "ack", "C0ALERTS")
    assert "Acknowledged" in answer and "Disk almost full" in answer, answer
    assert group(bot, older).acked_by == "U0L1"
    answer = bot.say("U0L1", "ack", "C0ALERTS")
    assert answer.startswith(":x:") and "Nothing here is waiting" in answer, answer
    bot.settled()
    [older_message, newer_message] = alert_messages(bot)
    assert "Acknowledged by <@U0L1>" in str(older_message.blocks)
    assert "Acknowledged by <@U0L2>" in str(newer_message.blocks)


def test_ack_in_an_incident_channel_still_acks_the_incident_page(alert_bot: Bot) -> None:
    bot = alert_bot
    group_id = fire(bot, outcome="created")["group"]
    bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    channel = bot.wait_provisioned(1).channel_id
    [page] = wait_for(lambda: incident_pages(bot, 1), what="the incident's page")
    assert page.state == "paging"
    answer = bot.say("U0L2", "ack", channel)
    assert "Acknowledged INC-1" in answer, answer
    assert incident_pages(bot, 1)[0].state == "acked" and incident_pages(bot, 1)[0].acked_by == "U0L2"
    assert group(bot, group_id).acked_by is None and group_pages(bot, group_id)[0].state == "paging", \
        "the alert in the alert channel is not what an ack in an incident channel means"


# ---- 7. Bare /incident page --------------------------------------------------------------------------------------

def test_bare_page_pages_the_incident_policy_and_refuses_outside_an_incident(alert_bot: Bot) -> None:
    bot = alert_bot
    answer = bot.say("U0L1", "page", "C0GENERAL")
    assert answer.startswith(":x:") and "incident's channel" in answer, answer
    assert pages(bot) == []
    bot.slack.slash_command("U0L1", "declare sev2 Search is slow")  # SEV2 pages nobody by itself
    channel = bot.wait_provisioned(1).channel_id
    bot.settled()
    assert pages(bot) == []
    answer = bot.say("U0IC", "page", channel)
    assert ":pager: Paging tier 1" in answer and "default" in answer, answer
    [page] = incident_pages(bot, 1)
    assert page.state == "paging" and page.tier == 0 and page.started_by == "U0IC"
    bot.settled()
    for person in ("U0L1", "U0L2"):  # the on-call group, tier 1
        assert [m for m in dms(bot, person) if "You are paged for INC-1" in m.text], person
    assert not [m for m in dms(bot, "U0IC") if "You are paged for INC-1" in m.text], "tier 3 is not paged yet"
    assert "already being paged" in bot.say("U0IC", "page", channel)
    assert len(incident_pages(bot, 1)) == 1


# ---- 8. Buttons in the wrong channel -----------------------------------------------------------------------------

def test_alert_buttons_clicked_in_another_channel_change_nothing(alert_bot: Bot) -> None:
    bot = alert_bot
    group_id = fire(bot, outcome="created")["group"]
    bot.slack.slash_command("U0L1", "declare sev2 Something else")
    incident_channel = bot.wait_provisioned(1).channel_id
    bot.settled()
    original = copy.deepcopy(the_message(bot))
    version = group(bot, group_id).message_version
    # The real message, clicked as if from elsewhere; and a copy of it posted in another channel.
    copied = Message(ts=bot.sim.workspace.new_ts(), channel="C0GENERAL", user=BOT_USER_ID, text=original.text,
                     blocks=copy.deepcopy(original.blocks))
    bot.sim.workspace.add_message(copied)
    for action in (ActionId.ALERT_RESOLVE, ActionId.ALERT_SILENCE, ActionId.ALERT_DECLARE, ActionId.ALERT_ACK):
        for channel in ("C0GENERAL", incident_channel):
            answer = click_as_seen(bot, "U0L1", channel, original, action)
            assert answer.startswith(":x:") and "another channel" in answer, (action, channel, answer)
        answer = click(bot, "U0L1", "C0GENERAL", copied.ts, action)
        assert answer.startswith(":x:") and "another channel" in answer, (action, answer)
    bot.settled()
    unchanged = group(bot, group_id)
    assert unchanged.state == "firing" and unchanged.resolved_by is None and unchanged.acked_by is None
    assert unchanged.silenced_until is None and unchanged.incident_id is None
    assert unchanged.message_version == version
    assert group_pages(bot, group_id)[0].state == "paging"
    assert [i.id for i in bot.incidents()] == [1], "no incident declared from the copied button"
    assert the_message(bot).blocks == original.blocks
    # The same button in its own channel works.
    assert click(bot, "U0L1", "C0ALERTS", original.ts, ActionId.ALERT_RESOLVE).startswith(":large_green_circle:")
    assert group(bot, group_id).state == "resolved"
