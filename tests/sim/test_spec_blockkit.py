from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_sim import SlackSimulator
from bot.slack_sim.blockkit import validate_blocks, validate_view
from bot.slack_sim.spec import check_call


def section(text: str = "hi", **kw: object) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **kw}


def button(text: str = "Ack", value: str = "v", action_id: str = "ack") -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "value": value, "action_id": action_id}


def modal(**kw: object) -> dict:
    v = {"type": "modal", "title": {"type": "plain_text", "text": "Declare"},
         "submit": {"type": "plain_text", "text": "Go"}, "blocks": [section()]}
    v.update(kw)
    return v


def test_spec_rejects_missing_required_argument() -> None:
    assert any("missing required argument `channel`" in p for p in check_call("chat.postMessage", {"text": "x"}))


def test_spec_rejects_unknown_argument() -> None:
    assert any("unknown argument `chanel`" in p for p in check_call("chat.postMessage", {"channel": "C1", "chanel": "x"}))


def test_spec_accepts_token_and_string_forms_of_types() -> None:
    assert check_call("conversations.list", {"token": "t", "limit": "20", "exclude_archived": "true"}) == []
    assert check_call("conversations.list", {"limit": "many"})


def test_spec_supplement_adds_new_methods() -> None:
    assert check_call("files.getUploadURLExternal", {"filename": "a", "length": 3}) == []
    assert check_call("files.completeUploadExternal", {}) != []


def test_bad_call_is_refused_and_recorded_as_violation(sim: SlackSimulator, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as e:
        client.api_call("chat.postMessage", json={"channel": "C0STAKE", "text": "x", "colour": "red"})
    assert e.value.response["error"] == "invalid_arguments"
    assert any("colour" in v for v in sim.violations)
    assert sim.workspace.messages("C0STAKE") == []


@pytest.mark.parametrize("blocks, needle", [
    ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "at most 150"),
    ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "must be plain_text"),
    ([section() for _ in range(51)], "at most 50 blocks"),
    ([{"type": "actions", "elements": [button(text="x" * 76)]}], "at most 75"),
    ([{"type": "actions", "elements": [button(value="v" * 2001)]}], "at most 2000"),
    ([section(block_id="a"), section(block_id="a")], "duplicate block_id"),
    ([section(block_id="b" * 256)], "at most 255"),
    ([section("x" * 3001)], "at most 3000"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "at most 10 fields"),
    ([{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(26)]}], "at most 25 elements"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "at most 10 elements"),
    ([{"type": "section", "text": {"type": "markdown", "text": "x"}}], "must be plain_text or mrkdwn"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "non-empty"),
    ([{"type": "carousel"}], "unknown block type"),
    ([{"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "options": [
        {"text": {"type": "plain_text", "text": "o"}, "value": "v" * 151}]}]}], "at most 150"),
])
def test_block_kit_limits(blocks: list, needle: str) -> None:
    errors = validate_blocks(blocks, "message")
    assert any(needle in e for e in errors), errors


def test_valid_blocks_pass() -> None:
    assert validate_blocks([{"type": "header", "text": {"type": "plain_text", "text": "SEV1"}}, section(),
                            {"type": "divider"}, {"type": "actions", "elements": [button()]},
                            {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}]}]) == []


def test_modal_limits() -> None:
    assert validate_view(modal()) == []
    assert any("at most 24" in e for e in validate_view(modal(title={"type": "plain_text", "text": "x" * 25})))
    assert any("at most 3000" in e for e in validate_view(modal(private_metadata="m" * 3001)))
    assert any("at most 100 blocks" in e for e in validate_view(modal(blocks=[section()] * 101)))
    assert validate_view(modal(blocks=[section()] * 100)) == []
    no_submit = modal(blocks=[{"type": "input", "label": {"type": "plain_text", "text": "L"},
                               "element": {"type": "plain_text_input", "action_id": "t"}}])
    del no_submit["submit"]
    assert any("submit" in e for e in validate_view(no_submit))
    bad_input = modal(blocks=[{"type": "input", "label": {"type": "plain_text", "text": "L"},
                               "element": {"type": "button", "text": {"type": "plain_text", "text": "b"}}}])
    assert any("not allowed" in e for e in validate_view(bad_input))


def test_message_text_limit_via_client(sim: SlackSimulator, client: WebClient) -> None:
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C0STAKE", text="x" * 40_001)
    assert any("40000" in v for v in sim.violations)


def test_blocks_violation_via_client(sim: SlackSimulator, client: WebClient) -> None:
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C0STAKE", text="t",
                                blocks=[{"type": "header", "text": {"type": "plain_text", "text": "x" * 200}}])
    assert sim.violations and "at most 150" in sim.violations[0]
