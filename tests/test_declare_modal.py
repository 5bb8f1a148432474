"""`/incident declare` with no text: the modal, its live severity hint, field errors, and a double submit."""
from __future__ import annotations

from bot.ids import ActionId, CallbackId, DeclareBlock
from tests.harness import Bot, wait_for


def _open(bot: Bot) -> str:
    response = bot.slack.slash_command("U0L1", "declare", channel_id="C0GENERAL")
    assert response.status == 200
    view = wait_for(lambda: next((v for v in bot.sim.workspace.views.values() if v.view.get("callback_id") == CallbackId.DECLARE_MODAL), None), what="modal opened")
    return view.id


def test_modal_declare_with_suggestion_errors_and_double_submit(bot: Bot) -> None:
    view_id = _open(bot)
    view = bot.sim.workspace.views[view_id].view
    severity_block = next(b for b in view["blocks"] if b.get("block_id") == DeclareBlock.SEVERITY)
    descriptions = [o["description"]["text"] for o in severity_block["element"]["options"]]
    assert any("outage" in d.lower() for d in descriptions), "severities are described by impact"

    # All users on a critical service: the modal suggests SEV1 or higher, in place
    bot.slack.select_in_view("U0L1", view_id, DeclareBlock.SCOPE, ActionId.DECLARE_SCOPE, "all")
    bot.slack.select_in_view("U0L1", view_id, DeclareBlock.SERVICE, ActionId.DECLARE_SERVICE, "payments")
    hint = wait_for(
        lambda: next((b for b in bot.sim.workspace.views[view_id].view["blocks"] if b.get("block_id") == DeclareBlock.SUGGESTION), None),
        what="severity suggestion",
    )
    assert "SEV1" in str(hint)

    # Missing title → a field error, nothing created
    errors = bot.slack.submit_view("U0L1", view_id, {DeclareBlock.TITLE: {ActionId.DECLARE_TITLE: "   "}}).json()
    assert errors["response_action"] == "errors" and DeclareBlock.TITLE in errors["errors"]
    assert bot.incidents() == []

    values = {
        DeclareBlock.TITLE: {ActionId.DECLARE_TITLE: "Payments failing <!channel>"},
        DeclareBlock.SEVERITY: {ActionId.DECLARE_SEVERITY: "sev1"},
        DeclareBlock.DESCRIPTION: {ActionId.DECLARE_DESCRIPTION: "Card payments return 502 since 05:30"},
    }
    assert bot.slack.submit_view("U0L1", view_id, values).status == 200
    incident = bot.wait_provisioned(1)
    assert (incident.severity, incident.scope, incident.service) == ("sev1", "all", "payments")
    assert incident.origin_channel_id == "C0GENERAL"
    card = bot.sim.workspace.find_message(incident.channel_id, incident.card_ts)
    assert "Card payments return 502" in str(card.blocks)
    assert "&lt;!channel&gt;" in card.text, "escaped where Slack parses mentions (the notification text)"
    header = card.blocks[0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text", "plain_text never pings"

    # The same view submitted again (double click, Slack retry) declares nothing new
    assert bot.slack.submit_view("U0L1", view_id, values).status == 200
    assert len(bot.incidents()) == 1
    assert len([c for c in bot.sim.calls_to("conversations.create")]) == 1


def test_modal_rejects_an_unknown_severity_value(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    view_id = _open(bot)
    bot.slack.select_in_view("U0L1", view_id, DeclareBlock.SCOPE, ActionId.DECLARE_SCOPE, "one")
    # Forge a state the form could never produce: the bot still checks it
    bot.sim.workspace.views[view_id].state_values[DeclareBlock.SEVERITY] = {
        ActionId.DECLARE_SEVERITY: {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": "sev9"}}
    }
    answer = bot.slack.submit_view("U0L1", view_id, {DeclareBlock.TITLE: {ActionId.DECLARE_TITLE: "Odd"}}).json()
    assert answer["response_action"] == "errors" and DeclareBlock.SEVERITY in answer["errors"]
    assert bot.incidents() == []
