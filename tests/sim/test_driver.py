"""The driver against a real Bolt app (a stand-in for sevbot) whose client talks to the simulator."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.slack_sim import SlackDriver, SlackSimulator

SECRET = "sim-signing-secret"
MODAL = {
    "type": "modal", "callback_id": "declare", "private_metadata": "from-test",
    "title": {"type": "plain_text", "text": "Declare incident"}, "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [
        {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
         "element": {"type": "plain_text_input", "action_id": "v"}},
        {"type": "input", "block_id": "sev", "dispatch_action": True, "label": {"type": "plain_text", "text": "Sev"},
         "element": {"type": "static_select", "action_id": "v", "options": [
             {"text": {"type": "plain_text", "text": "SEV1"}, "value": "sev1"},
             {"text": {"type": "plain_text", "text": "SEV2"}, "value": "sev2"}]}},
        {"type": "input", "block_id": "ic", "label": {"type": "plain_text", "text": "IC"},
         "element": {"type": "users_select", "action_id": "v"}},
    ],
}


class FakeBot:
    """Bolt app + HTTP endpoint; records what it received."""

    def __init__(self, sim: SlackSimulator) -> None:
        self.received: list[dict[str, Any]] = []
        app = App(signing_secret=SECRET, client=WebClient(token="xoxb-sim-token", base_url=sim.api_url))

        @app.command("/incident")
        def cmd(ack, body, client):  # type: ignore[no-untyped-def]
            ack()
            if body["text"] == "declare":
                client.views_open(trigger_id=body["trigger_id"], view=MODAL)
            else:
                client.chat_postMessage(channel="C0STAKE", text="card", blocks=[
                    {"type": "section", "text": {"type": "mrkdwn", "text": "*SEV1* db down"}},
                    {"type": "actions", "block_id": "card", "elements": [
                        {"type": "button", "action_id": "ack", "value": "inc-1",
                         "text": {"type": "plain_text", "text": "Acknowledge"}}]}])

        @app.action("ack")
        def on_ack(ack, body, respond):  # type: ignore[no-untyped-def]
            ack()
            self.received.append(body)
            respond(replace_original=True, text=f"acked {body['actions'][0]['value']}")

        @app.action({"block_id": "sev", "action_id": "v"})
        def on_sev(ack, body):  # type: ignore[no-untyped-def]
            ack()
            self.received.append(body)

        @app.view("declare")
        def on_submit(ack, view):  # type: ignore[no-untyped-def]
            self.received.append(view)
            if not view["state"]["values"]["title"]["v"]["value"]:
                ack(response_action="errors", errors={"title": "Say what is broken"})
            else:
                ack()

        @app.event("app_mention")
        def on_mention(event, client):  # type: ignore[no-untyped-def]
            self.received.append(event)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                resp = app.dispatch(BoltRequest(body=raw, headers={k: v for k, v in self.headers.items()}))
                data = (resp.body or "").encode()
                self.send_response(resp.status)
                for k, vs in resp.headers.items():
                    for v in vs:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/slack/events"


@pytest.fixture
def bot(sim: SlackSimulator) -> Iterator[FakeBot]:
    b = FakeBot(sim)
    yield b
    b.httpd.shutdown()
    b.httpd.server_close()


@pytest.fixture
def driver(sim: SlackSimulator, bot: FakeBot) -> SlackDriver:
    return SlackDriver(sim, bot.url, SECRET)


def wait_for(cond, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


def test_signature_verifies_with_slack_sdk(driver: SlackDriver) -> None:
    body = b"token=x&text=hello"
    headers = driver.sign(body)
    assert SignatureVerifier(SECRET).is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not SignatureVerifier("other").is_valid(body, headers["X-Slack-Request-Timestamp"],
                                                   headers["X-Slack-Signature"])


def test_forged_and_stale_requests_are_refused(driver: SlackDriver) -> None:
    body = b"command=%2Fincident&text=x"
    stale = driver.sign(body, timestamp=int(time.time()) - 600)
    assert driver.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded", **stale}).status == 401
    forged = {**driver.sign(body), "X-Slack-Signature": "v0=" + "0" * 64}
    assert driver.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded", **forged}).status == 401
    assert driver.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded"}).status == 401


def test_slash_command_click_and_response_url(sim: SlackSimulator, driver: SlackDriver, bot: FakeBot) -> None:
    r = driver.slash_command("U0IC", "page", channel_id="C0STAKE")
    assert r.status == 200
    wait_for(lambda: sim.workspace.messages("C0STAKE"))
    card = sim.workspace.messages("C0STAKE")[0]
    r = driver.click("U0L1", "C0STAKE", card.ts, "ack")
    assert r.status == 200
    body = bot.received[0]
    assert body["type"] == "block_actions" and body["container"]["message_ts"] == card.ts
    assert body["actions"][0]["value"] == "inc-1" and body["actions"][0]["block_id"] == "card"
    assert body["message"]["blocks"][1]["elements"][0]["action_id"] == "ack"
    wait_for(lambda: sim.workspace.response_posts)
    assert sim.workspace.find_message("C0STAKE", card.ts).text == "acked inc-1"  # type: ignore[union-attr]
    driver.click("U0L1", "C0STAKE", card.ts, "ack", value="forged")  # tests can forge values
    assert bot.received[-1]["actions"][0]["value"] == "forged"
    with pytest.raises(AssertionError, match="no element with action_id"):
        driver.click("U0L1", "C0STAKE", card.ts, "resolve")
    assert sim.violations == []


def test_modal_open_select_submit(sim: SlackSimulator, driver: SlackDriver, bot: FakeBot) -> None:
    driver.slash_command("U0IC", "declare")
    wait_for(lambda: sim.workspace.views)
    (view_id, view), = sim.workspace.views.items()
    assert view.user_id == "U0IC"
    driver.select_in_view("U0IC", view_id, "sev", "v", "sev1")
    assert bot.received[-1]["container"] == {"type": "view", "view_id": view_id}
    r = driver.submit_view("U0IC", view_id, {"title": {"v": ""}, "ic": {"v": "U0IC"}})
    assert r.json() == {"response_action": "errors", "errors": {"title": "Say what is broken"}}
    assert not view.closed
    r = driver.submit_view("U0IC", view_id, {"title": {"v": "DB down"}})
    assert r.status == 200 and view.closed
    submitted = bot.received[-1]
    assert submitted["callback_id"] == "declare" and submitted["private_metadata"] == "from-test"
    values = submitted["state"]["values"]
    assert values["title"]["v"] == {"type": "plain_text_input", "value": "DB down"}
    assert values["sev"]["v"]["selected_option"]["value"] == "sev1"
    assert values["ic"]["v"] == {"type": "users_select", "selected_user": "U0IC"}


def test_events_and_url_verification(driver: SlackDriver, bot: FakeBot) -> None:
    assert driver.url_verification("chal-123").json() == {"challenge": "chal-123"}
    r = driver.event({"type": "app_mention", "user": "U0L1", "text": "<@U0BOT> status", "channel": "C0STAKE",
                      "ts": "1.000001"}, event_id="Ev1", retry_num=1)
    assert r.status == 200
    assert r.payload and r.payload["event_id"] == "Ev1" and r.payload["type"] == "event_callback"
