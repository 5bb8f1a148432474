"""`/incident declare` end to end: signed slash commands over HTTP, the simulator as Slack, both databases."""
from __future__ import annotations

from tests.harness import Bot, wait_for


def test_inline_declare_opens_a_complete_incident(bot: Bot) -> None:
    response = bot.slack.slash_command("U0L1", "declare sev1 Checkout is failing for all users")
    assert response.status == 200
    ack = response.json()
    assert ack["response_type"] == "ephemeral" and "Declaring INC-1" in ack["text"]

    incident = bot.wait_provisioned(1)
    ws = bot.sim.workspace
    channel = ws.channel_by_name(incident.channel_name)
    assert channel is not None and channel.id == incident.channel_id
    assert incident.channel_name.startswith("sev1-") and incident.channel_name.endswith("-checkout-is-failing-for-all-users")
    # declarer + the sev1 responders (user group S0ONCALL = U0L1, U0L2) are in the channel
    assert {"U0L1", "U0L2"} <= set(channel.members)
    assert "SEV1" in channel.topic and "Investigating" in channel.topic and "<@U0L1>" in channel.topic
    card = ws.find_message(channel.id, incident.card_ts)
    assert card is not None and card.ts in ws.pins(channel.id)
    card_text = str(card.blocks)
    assert "Checkout is failing for all users" in card_text and "Incident Commander" in card_text and "<@U0L1>" in card_text
    announcement = ws.find_message("C0STAKE", incident.announcement_ts)
    assert announcement is not None and f"<#{channel.id}>" in str(announcement.blocks)
    kinds = [e.kind for e in bot.timeline(1) if e.kind != "page_requested"]  # sev1 pages; no ladder is configured here
    assert any(e.kind == "page_requested" for e in bot.timeline(1))
    # after the channel, the independent steps run in parallel; only the pin must follow the card
    assert kinds[:3] == ["declared", "role_assigned", "channel_created"]
    assert sorted(kinds[3:]) == sorted(["members_invited", "topic_set", "card_posted", "card_pinned", "stakeholders_announced"])
    assert kinds.index("card_posted") < kinds.index("card_pinned")
    assert all(e.at.tzinfo is not None and e.actor for e in bot.timeline(1))
    # the declarer hears where the incident lives, and that paging must be done by hand (no ladder configured here)
    reply = wait_for(lambda: next((p for p in ws.response_posts if channel.id in str(p.body)), None), what="declared reply")
    assert "page them by hand" in str(reply.body)


def test_declare_uses_at_most_six_web_api_calls(bot: Bot) -> None:
    bot.slack.slash_command("U0L1", "declare sev1 Search is slow")
    bot.wait_provisioned(1)
    bot.sim.reset_calls()
    bot.slack.slash_command("U0L2", "declare sev1 Login broken")
    bot.wait_provisioned(2)
    # response_url is not the Web API; users.info is the postmortem's names snapshot taking the new declarer's name,
    # after provisioning, once per person (bot/people/lookup.py), not part of the declare.
    methods = [c.method for c in bot.sim.calls if c.method not in ("response_url", "users.info")]
    assert methods[0] == "conversations.create"
    assert sorted(methods) == sorted(["conversations.create", "conversations.invite", "conversations.setTopic", "chat.postMessage", "pins.add", "chat.postMessage"])
