from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack_sim import SlackSimulator, Workspace


def test_injected_error_then_recovery(sim: SlackSimulator, client: WebClient) -> None:
    sim.inject("conversations.create", error="name_taken", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as e:
            client.conversations_create(name="inc-9")
        assert e.value.response["error"] == "name_taken"
    assert client.conversations_create(name="inc-9")["ok"]
    assert [c.ok for c in sim.calls_to("conversations.create")] == [False, False, True]


def test_injected_500(sim: SlackSimulator, client: WebClient) -> None:
    sim.inject("chat.postMessage", http_status=500)
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0STAKE", text="x")
    assert e.value.response.status_code == 500
    assert sim.calls_to("chat.postMessage")[0].http_status == 500
    assert sim.workspace.messages("C0STAKE") == []


def test_injected_429_without_retry_handler_raises(sim: SlackSimulator, client: WebClient) -> None:
    sim.inject("chat.update", http_status=429, retry_after=7)
    with pytest.raises(SlackApiError) as e:
        client.chat_update(channel="C0STAKE", ts="1.0", text="x")
    assert e.value.response.status_code == 429 and e.value.response["error"] == "ratelimited"
    assert e.value.response.headers["Retry-After"] in ("7", ["7"])


def test_429_is_retried_after_retry_after_by_slack_sdk(sim: SlackSimulator) -> None:
    client = WebClient(token="xoxb-sim-token", base_url=sim.api_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    sim.inject("chat.postMessage", http_status=429, retry_after=1)
    started = time.monotonic()
    assert client.chat_postMessage(channel="C0STAKE", text="after wait")["ok"]
    assert time.monotonic() - started >= 1.0
    calls = sim.calls_to("chat.postMessage")
    assert [c.http_status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0


def test_injected_delay_causes_client_timeout(sim: SlackSimulator) -> None:
    client = WebClient(token="xoxb-sim-token", base_url=sim.api_url, timeout=1)
    sim.inject("views.open", delay=1.5)
    with pytest.raises(Exception):  # urllib's TimeoutError
        client.views_open(trigger_id="x", view={})
    sim.clear_faults()


def test_latency_applies_to_every_call(sim: SlackSimulator, client: WebClient) -> None:
    sim.latency = 0.05
    started = time.monotonic()
    client.auth_test()
    client.auth_test()
    assert time.monotonic() - started >= 0.1


MODAL = {"type": "modal", "callback_id": "declare", "title": {"type": "plain_text", "text": "Declare"},
         "submit": {"type": "plain_text", "text": "Declare"},
         "blocks": [{"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
                     "element": {"type": "plain_text_input", "action_id": "v"}}]}


def test_trigger_single_use_and_expiry() -> None:
    now = [1_700_000_000.0]
    ws = Workspace(clock=lambda: now[0]).seed_default()
    with SlackSimulator(ws) as sim:
        client = WebClient(token="xoxb-sim-token", base_url=sim.api_url)
        trig = sim.issue_trigger("U0IC")
        view = client.views_open(trigger_id=trig, view=MODAL)["view"]
        assert view["id"].startswith("V") and view["hash"] and view["state"]["values"] == {}
        assert sim.workspace.views[view["id"]].user_id == "U0IC"
        with pytest.raises(SlackApiError) as e:
            client.views_open(trigger_id=trig, view=MODAL)
        assert e.value.response["error"] == "exchanged_trigger_id"
        old = sim.issue_trigger("U0IC")
        now[0] += 3.5
        with pytest.raises(SlackApiError) as e:
            client.views_open(trigger_id=old, view=MODAL)
        assert e.value.response["error"] == "expired_trigger_id"
        with pytest.raises(SlackApiError) as e:
            client.views_open(trigger_id="123.456.abc", view=MODAL)
        assert e.value.response["error"] == "invalid_trigger_id"


def test_views_update_hash_conflict_and_push(sim: SlackSimulator, client: WebClient) -> None:
    v = client.views_open(trigger_id=sim.issue_trigger("U0IC"), view={**MODAL, "external_id": "decl-1"})["view"]
    v2 = client.views_update(view_id=v["id"], hash=v["hash"], view=MODAL)["view"]
    assert v2["hash"] != v["hash"]
    with pytest.raises(SlackApiError) as e:
        client.views_update(view_id=v["id"], hash=v["hash"], view=MODAL)  # stale hash
    assert e.value.response["error"] == "hash_conflict"
    assert client.views_update(external_id="decl-1", view=MODAL)["ok"]
    with pytest.raises(SlackApiError) as e:
        client.views_update(view_id="VNOPE", view=MODAL)
    assert e.value.response["error"] == "not_found"
    pushed = client.views_push(trigger_id=sim.issue_trigger("U0IC"), view=MODAL)["view"]
    assert pushed["root_view_id"] == v["id"] and pushed["previous_view_id"] == v["id"]


def test_files_upload_v2_flow(sim: SlackSimulator, client: WebClient) -> None:
    r = client.files_upload_v2(channel="C0STAKE", content="# postmortem", filename="a.md",
                               initial_comment="Postmortem draft")
    assert r["ok"] and r["file"]["title"] == "a.md"
    assert [c.method for c in sim.calls] == ["files.getUploadURLExternal", "upload",
                                             "files.completeUploadExternal"]
    f = sim.workspace.files[r["file"]["id"]]
    assert f.content == b"# postmortem" and f.completed
    msg = sim.workspace.messages("C0STAKE")[-1]
    assert msg.text == "Postmortem draft" and msg.files[0]["id"] == f.id
    assert sim.violations == []


def test_a_dropped_answer_is_a_deed_done_without_a_reply(sim: SlackSimulator, client: WebClient) -> None:
    """`drop`: the call is carried out, then the connection closes unanswered (a proxy's reset), for the Web API and
    for response_url posts alike; the client cannot tell whether it happened."""
    import json
    import urllib.request
    from http.client import RemoteDisconnected
    from urllib.error import URLError

    sim.inject("chat.postMessage", drop=True)
    no_retry = WebClient(token=client.token, base_url=sim.api_url, timeout=5, retry_handlers=[])
    with pytest.raises((URLError, RemoteDisconnected)):
        no_retry.chat_postMessage(channel="C0STAKE", text="dropped")
    assert [m.text for m in sim.workspace.messages("C0STAKE")] == ["dropped"]
    url = sim.issue_response_url("C0STAKE", "U0L1")
    sim.inject("response_url", drop=True)
    request = urllib.request.Request(url, data=json.dumps({"text": "private"}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises((URLError, RemoteDisconnected)):
        urllib.request.urlopen(request, timeout=5)
    assert [p.body["text"] for p in sim.workspace.response_posts] == ["private"]
