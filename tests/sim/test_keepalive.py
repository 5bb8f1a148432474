"""The bot's Web API transport: one kept-alive connection per thread, with slack_sdk's retries unchanged."""
from __future__ import annotations

import pytest

import threading

from bot.slack.gateway import SlackGateway, build_client
from bot.slack.keepalive import KeepAliveWebClient
from bot.slack_sim import SlackSimulator

TOKEN = "xoxb-sim-token"


def test_calls_from_one_thread_share_one_connection(sim: SlackSimulator) -> None:
    gateway = SlackGateway(build_client(TOKEN, sim.api_url))
    before = sim.connections_opened
    for text in ("one", "two", "three"):
        gateway.post_message("U0IC", text)
    assert sim.connections_opened == before + 1
    other = threading.Thread(target=lambda: gateway.post_message("U0IC", "from another thread"))
    other.start()
    other.join()
    assert sim.connections_opened == before + 2  # threads never share a connection
    assert [c.args["text"] for c in sim.calls_to("chat.postMessage")] == ["one", "two", "three", "from another thread"]


def test_an_idle_connection_is_replaced_not_reused(sim: SlackSimulator) -> None:
    client = build_client(TOKEN, sim.api_url)
    assert isinstance(client, KeepAliveWebClient)
    client.connections.idle_seconds = 0.0
    before = sim.connections_opened
    SlackGateway(client).post_message("U0IC", "first")
    SlackGateway(client).post_message("U0IC", "second")
    assert sim.connections_opened == before + 2


def test_server_errors_and_rate_limits_are_still_retried(sim: SlackSimulator) -> None:
    gateway = SlackGateway(build_client(TOKEN, sim.api_url, backoff=0.01))
    gateway.join("C0GENERAL")
    ts = gateway.post_message("C0GENERAL", "to update")
    sim.inject("chat.update", http_status=500)
    sim.inject("chat.update", http_status=429, retry_after=1)
    gateway.update_message("C0GENERAL", ts, "after a 500 and a 429")
    updates = sim.calls_to("chat.update")
    assert [c.http_status for c in updates] == [500, 429, 200]
    assert sim.connections_opened >= 1


def test_a_long_retry_after_is_handed_back_not_slept_on(sim: SlackSimulator) -> None:
    """Slack asks for 30 s: the client does not sleep on it (an outbox lease of 30 s would lapse under the sleeping
    thread and let a second delivery post again); the caller gets "rate limited, 30 s" at once and re-queues. A short
    Retry-After is still waited out in the client."""
    from bot.slack.gateway import MAX_IN_CLIENT_WAIT_S, SlackError

    gateway = SlackGateway(build_client(TOKEN, sim.api_url, backoff=0.01))
    gateway.join("C0GENERAL")
    sim.inject("chat.update", http_status=429, retry_after=1)
    ts = gateway.post_message("C0GENERAL", "to update")
    gateway.update_message("C0GENERAL", ts, "after a short wait")
    assert [c.http_status for c in sim.calls_to("chat.update")] == [429, 200]
    sim.inject("chat.update", http_status=429, retry_after=30)
    assert 30 > MAX_IN_CLIENT_WAIT_S
    with pytest.raises(SlackError) as caught:
        gateway.update_message("C0GENERAL", ts, "after a long wait")
    assert caught.value.rate_limited and caught.value.retry_after == 30
    assert [c.http_status for c in sim.calls_to("chat.update")] == [429, 200, 429], "asked once, not retried"


def test_a_post_is_never_retried_blindly(sim: SlackSimulator) -> None:
    """A 500 (or no answer) to chat.postMessage may mean Slack posted it: without metadata to look for it, the error
    goes to the caller; with metadata the gateway looks first and posts again only when it is not there."""
    from bot.slack.gateway import SlackError

    gateway = SlackGateway(build_client(TOKEN, sim.api_url, backoff=0.01))
    gateway.join("C0GENERAL")
    sim.inject("chat.postMessage", http_status=500)
    with pytest.raises(SlackError) as caught:
        gateway.post_message("C0GENERAL", "no metadata")
    assert caught.value.status == 500 and len(sim.calls_to("chat.postMessage")) == 1
    sim.inject("chat.postMessage", http_status=500)
    metadata = {"event_type": "sevbot_test", "event_payload": {"post": "one"}}
    ts = gateway.post_message("C0GENERAL", "with metadata", metadata=metadata)
    assert [c.http_status for c in sim.calls_to("chat.postMessage")][1:] == [500, 200]
    assert [c.method for c in sim.calls][-2:] == ["conversations.history", "chat.postMessage"], "it looked first"
    assert sum(m.text == "with metadata" for m in sim.workspace.messages("C0GENERAL")) == 1
    assert gateway.find_posted("C0GENERAL", metadata) == ts


def test_a_slack_error_keeps_its_code(sim: SlackSimulator) -> None:
    from bot.slack.gateway import SlackError

    gateway = SlackGateway(build_client(TOKEN, sim.api_url))
    try:
        gateway.post_message("CNOPE", "nowhere")
    except SlackError as exc:
        assert exc.code == "channel_not_found"
    else:
        raise AssertionError("a post to an unknown channel must fail")


def test_response_url_posts_share_a_connection_too(sim: SlackSimulator) -> None:
    gateway = SlackGateway(build_client(TOKEN, sim.api_url))
    first, second = sim.issue_response_url("C0GENERAL", "U0IC"), sim.issue_response_url("C0GENERAL", "U0IC")
    before = sim.connections_opened
    assert gateway.respond(first, "declared") and gateway.respond(second, "declared again")
    assert sim.connections_opened == before + 1
    assert [c.args["text"] for c in sim.calls_to("response_url")] == ["declared", "declared again"]


def test_a_connection_the_server_closed_while_idle_is_replaced_before_a_post(sim: SlackSimulator) -> None:
    """The server closed a kept-alive connection while it sat idle: the next post goes over a fresh connection. Written
    into the closed one, it would fail as if dropped after arriving, and a post that may have arrived is not sent again
    (a reply through a response_url would be lost)."""
    import time

    sim.idle_close_seconds = 0.2
    gateway = SlackGateway(build_client(TOKEN, sim.api_url))
    before = sim.connections_opened
    gateway.post_message("U0IC", "first")
    url = sim.issue_response_url("C0GENERAL", "U0IC")
    assert gateway.respond(url, "a private first")
    time.sleep(0.6)  # both connections are now closed by the server
    gateway.post_message("U0IC", "second")
    assert gateway.respond(url, "a private second")
    assert [c.args["text"] for c in sim.calls_to("chat.postMessage")] == ["first", "second"]
    assert [p.body["text"] for p in sim.workspace.response_posts] == ["a private first", "a private second"]
    assert sim.connections_opened == before + 4


def test_a_request_cut_off_mid_body_is_not_carried_out(sim: SlackSimulator) -> None:
    """A bot killed while it writes a call: the simulator, like Slack, never has the whole request, so it does nothing
    (no post with the arguments it did get, no spec violation for the ones it did not), and answers nothing."""
    import json
    import socket
    from urllib.parse import urlsplit

    body = json.dumps({"channel": "U0IC", "text": "half a request"}).encode()
    url = urlsplit(sim.api_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(f"POST {url.path}chat.postMessage HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {TOKEN}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        conn.shutdown(socket.SHUT_WR)
        assert conn.recv(1024) == b""  # closed without an answer
    SlackGateway(build_client(TOKEN, sim.api_url)).post_message("U0IC", "a whole request")
    assert [c.args.get("text") for c in sim.calls_to("chat.postMessage")] == ["a whole request"]
    assert sim.violations == []
