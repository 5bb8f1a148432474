"""views.publish in the simulator: one Home view per person, checked against Block Kit's home-view rules (at most
100 blocks, no title or submit), a stale hash refused, and the driver's app_home_opened event and Home tab click in
the shapes Slack sends them."""
from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_sim import SlackSimulator
from bot.slack_sim.blockkit import validate_view


def section(text: str = "hi", **kw: object) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **kw}


def home(blocks: list[dict] | None = None, **kw: object) -> dict:
    return {"type": "home", "blocks": blocks if blocks is not None else [section()], **kw}


def test_home_views_allow_100_blocks_and_no_title() -> None:
    assert validate_view(home([section(str(n)) for n in range(100)])) == []
    assert any("at most 100 blocks in a home" in p for p in validate_view(home([section(str(n)) for n in range(101)])))
    assert any("view.title" in p for p in validate_view(home(title={"type": "plain_text", "text": "x"})))
    assert any("view.submit" in p for p in validate_view(home(submit={"type": "plain_text", "text": "x"})))


def test_publish_replaces_the_persons_home_view(sim: SlackSimulator, client: WebClient) -> None:
    first = client.views_publish(user_id="U0L1", view=home([section("one")]))["view"]
    second = client.views_publish(user_id="U0L1", view=home([section("two")]), hash=first["hash"])["view"]
    assert second["id"] == first["id"] and second["type"] == "home" and second["hash"] != first["hash"]
    assert sim.workspace.home_views["U0L1"].view["blocks"][0]["text"]["text"] == "two"
    with pytest.raises(SlackApiError) as stale:
        client.views_publish(user_id="U0L1", view=home(), hash=first["hash"])
    assert stale.value.response["error"] == "hash_conflict"
    assert sim.violations == []


def test_publish_refuses_a_modal_an_unknown_person_and_too_many_blocks(sim: SlackSimulator, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as modal:
        client.views_publish(user_id="U0L1", view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []})
    assert modal.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as nobody:
        client.views_publish(user_id="U0NOBODY", view=home())
    assert nobody.value.response["error"] == "invalid_arguments"
    assert sim.violations == []
    with pytest.raises(SlackApiError):
        client.views_publish(user_id="U0L1", view=home([section(str(n)) for n in range(101)]))
    assert any("at most 100 blocks" in v for v in sim.violations)
    assert "U0L1" not in sim.workspace.home_views
