"""The bot's Web API transport: one kept-alive connection per thread, with slack_sdk's retries unchanged."""
from __future__ import annotations

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
    sim.inject("chat.postMessage", http_status=500)
    sim.inject("chat.postMessage", http_status=429, retry_after=1)
    ts = gateway.post_message("U0IC", "after a 500 and a 429")
    posts = sim.calls_to("chat.postMessage")
    assert [c.http_status for c in posts] == [500, 429, 200] and posts[-1].response["ts"] == ts
    assert sim.connections_opened >= 1


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
