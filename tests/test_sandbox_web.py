"""The sandbox page's JSON API, without a browser: what the page sends becomes what Slack would send the bot."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest

from bot.sandbox import Sandbox
from bot.slack_sim.clock import OffsetClock
from tests.harness import wait_for


def _request(sandbox: Sandbox, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    assert sandbox.web is not None
    data = None if body is None else json.dumps(body).encode()
    base = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(sandbox.web.url.rstrip("/") + path, data=data, headers={**base, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            raw = response.read()
            return response.status, json.loads(raw) if response.headers.get_content_type() == "application/json" else raw.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _state(sandbox: Sandbox, user: str, channel: str | None = None) -> dict[str, Any]:
    status, body = _request(sandbox, f"/api/state?user={user}" + (f"&channel={channel}" if channel else ""))
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def _declare(sandbox: Sandbox) -> dict[str, Any]:
    status, body = _request(sandbox, "/api/send", {"user": "U0L1", "channel": "C0GENERAL", "text": "/incident declare sev1 Checkout is failing"})
    assert status == 200 and body["ok"], body
    channel = wait_for(lambda: next((c for c in _state(sandbox, "U0L1")["channels"] if c["name"].startswith("sev1-")), None), what="sev channel")
    # the pin runs in parallel with the other steps after the card: wait for the pinned card
    return wait_for(lambda: (s := _state(sandbox, "U0L1", channel["id"])["channel"]) and s["messages"] and s["messages"][0]["pinned"] and s,
                    what="pinned card")


def test_page_and_assets_are_served_with_a_strict_policy(sandbox: Sandbox) -> None:
    assert sandbox.web is not None
    with urllib.request.urlopen(sandbox.web.url, timeout=5) as response:
        html = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert '<script src="/app.js"' in html and "script-src 'self'" in policy and "unsafe-inline" not in policy
    for asset in ("/app.js", "/mrkdwn.js", "/style.css"):
        assert _request(sandbox, asset)[0] == 200
    assert _request(sandbox, "/../server.py")[0] == 404


def test_state_shows_what_this_user_can_see(sandbox: Sandbox) -> None:
    state = _state(sandbox, "U0EXEC", "C0GENERAL")
    assert [c["name"] for c in state["channels"]] == ["alerts", "general", "incidents"]
    assert [d["name"] for d in state["dms"]] == ["sevbot"]
    assert {u["id"] for u in state["users"]} >= {"U0L1", "U0L2", "U0IC", "U0EXEC"}
    assert state["channel"]["id"] == "C0GENERAL" and state["modal"] is None
    assert state["offset_seconds"] == 0
    assert _request(sandbox, "/api/state?user=U0GONE")[0] == 400  # deactivated people cannot be switched to


def test_commands_clicks_and_modal_errors_go_to_the_bot(sandbox: Sandbox) -> None:
    card = _declare(sandbox)
    channel = card["id"]
    ephemerals = _state(sandbox, "U0L1", "C0GENERAL")["channel"]["ephemerals"]
    assert any("Declaring INC-1" in e["text"] for e in ephemerals), "the bot's ack is shown to the declarer only"
    assert _state(sandbox, "U0L2", "C0GENERAL")["channel"]["ephemerals"] == []
    message = card["messages"][0]
    assert message["pinned"] and message["blocks"][0]["type"] == "header"

    status, body = _request(sandbox, "/api/click", {"user": "U0L2", "channel": channel, "ts": message["ts"],
                                                     "action_id": "card_take_command", "block_id": "card_actions"})
    assert status == 200 and body["ok"], body
    wait_for(lambda: any("<@U0L2>" in f.get("text", "") and "Incident Commander" in f.get("text", "")
                         for b in _state(sandbox, "U0L2", channel)["channel"]["messages"][0]["blocks"] for f in b.get("fields") or []),
             what="Sam on the card")

    status, body = _request(sandbox, "/api/click", {"user": "U0L2", "channel": channel, "ts": message["ts"],
                                                     "action_id": "card_pick_role", "block_id": "card_actions", "value": "1:comms"})
    assert status == 200 and body["ok"], body
    modal = wait_for(lambda: _state(sandbox, "U0L2", channel)["modal"], what="modal")
    assert _state(sandbox, "U0L1", channel)["modal"] is None, "a modal is shown only to whoever opened it"
    # Whether the person is a bot needs Slack: the form closes, and the answer comes privately in the channel.
    refused = _request(sandbox, "/api/submit", {"user": "U0L2", "view_id": modal["id"],
                                                "values": {"assign_role_user": {"assign_role_user_select": "U0BOT"}}})[1]
    assert refused == {"ok": True}
    wait_for(lambda: any("is a bot" in e["text"] for e in _state(sandbox, "U0L2", channel)["channel"]["ephemerals"]), what="the bot refused")
    assert _request(sandbox, "/api/close", {"user": "U0L2", "view_id": modal["id"]})[0] == 409
    status, body = _request(sandbox, "/api/click", {"user": "U0L2", "channel": channel, "ts": message["ts"],
                                                     "action_id": "card_pick_role", "block_id": "card_actions", "value": "1:comms"})
    assert status == 200 and body["ok"], body
    modal = wait_for(lambda: _state(sandbox, "U0L2", channel)["modal"], what="modal again")
    done = _request(sandbox, "/api/submit", {"user": "U0L2", "view_id": modal["id"],
                                             "values": {"assign_role_user": {"assign_role_user_select": "U0IC"}}})[1]
    assert done == {"ok": True}
    assert _state(sandbox, "U0L2", channel)["modal"] is None


def test_the_seeded_ladder_pages_by_dm_escalates_on_fast_forward_and_stops_on_ack(sandbox: Sandbox) -> None:
    """SEV1 pages tier 1 (the on-call group) by DM; 5 quiet minutes page tier 2 (Sam); his Acknowledge stops it."""
    channel = _declare(sandbox)["id"]

    def lines() -> list[str]:
        return [m["text"] for m in _state(sandbox, "U0L1", channel)["channel"]["messages"] if not m["blocks"]]

    def pages_for(user: str) -> tuple[str, list[dict[str, Any]]]:
        dm = _state(sandbox, user)["dms"][0]["id"]
        messages = _state(sandbox, user, dm)["channel"]["messages"]
        return dm, [m for m in messages if m["text"].startswith("You are paged for INC-1")]

    wait_for(lambda: "Paged <@U0L1>, <@U0L2> (tier 1, round 1)" in " ".join(lines()), what="tier 1 paged")
    assert len(wait_for(lambda: pages_for("U0L1")[1], what="Lee's page")) == 1
    assert pages_for("U0IC")[1] == []
    body = _request(sandbox, "/api/fast_forward", {"user": "U0L1", "minutes": 5})[1]
    assert body["ok"] and "scheduler-tick" in body["ran"]
    wait_for(lambda: ":pager: Paged <@U0L2> (tier 2, round 1)" in lines(), what="tier 2 paged")
    dm, pages = wait_for(lambda: (found := pages_for("U0L2")) and len(found[1]) == 2 and found, what="Sam's two pages")
    actions = next(b for b in pages[-1]["blocks"] if b["type"] == "actions")
    button = actions["elements"][0]
    assert (button["text"]["text"], button["style"]) == ("Acknowledge", "primary")
    status, body = _request(sandbox, "/api/click", {"user": "U0L2", "channel": dm, "ts": pages[-1]["ts"],
                                                     "action_id": button["action_id"], "block_id": actions["block_id"]})
    assert status == 200 and body["ok"], body
    wait_for(lambda: any("<@U0L2> acknowledged the page after 5m" in line for line in lines()), what="ack line")
    wait_for(lambda: any("Acknowledged INC-1" in e["text"] for e in _state(sandbox, "U0L2", dm)["channel"]["ephemerals"]),
             what="Sam told, privately")
    _request(sandbox, "/api/fast_forward", {"user": "U0L1", "minutes": 15})
    # The update reminder falls due in the same tick and goes out the same way: once it is there, a tier 3 page would be.
    wait_for(lambda: any("stakeholder update for INC-1 is due now" in m["text"]
                         for m in _state(sandbox, "U0L1", channel)["channel"]["messages"]), what="update reminder")
    assert not any("tier 3" in line for line in lines()), "the ladder stopped"


def test_the_sample_alert_buttons_fire_page_climb_and_resolve(sandbox: Sandbox) -> None:
    """The page's Fire button: the sandbox's Alertmanager posts to the bot's `/alerts/sandbox` with the source's
    token (which the page never sees); one message in #alerts, a page to the on-call group, the ladder climbs on
    fast-forward, Sam acknowledges from his DM, and Resolve turns the message green."""
    assert sandbox.alerts is not None
    state = _state(sandbox, "U0L1")
    assert state["sample_alert"] is True and "alerts" in [c["name"] for c in state["channels"]]

    def alert_messages() -> list[dict[str, Any]]:
        return _state(sandbox, "U0L1", "C0ALERTS")["channel"]["messages"]  # type: ignore[no-any-return]

    def pages_for(user: str) -> tuple[str, list[dict[str, Any]]]:
        dm = _state(sandbox, user)["dms"][0]["id"]
        return dm, [m for m in _state(sandbox, user, dm)["channel"]["messages"] if m["text"].startswith("You are paged:")]

    status, body = _request(sandbox, "/api/alert", {"user": "U0L1", "action": "fire"})
    assert status == 200 and body["ok"], body
    assert body["line"] == f"fired CheckoutErrors: alert group {body['group']} (created)" and body["channel"] == "C0ALERTS"
    message = wait_for(lambda: (found := alert_messages()) and found[0], what="the alert's message in #alerts")
    assert message["user"] == "U0BOT" and ":red_circle:" in json.dumps(message["blocks"])
    assert len(wait_for(lambda: pages_for("U0L1")[1], what="Lee paged")) == 1
    assert pages_for("U0IC")[1] == []
    again = _request(sandbox, "/api/alert", {"user": "U0L1", "action": "fire"})[1]
    assert again["outcome"] == "unchanged" and "already firing" in again["line"]

    _request(sandbox, "/api/fast_forward", {"user": "U0L1", "minutes": 5})
    dm, pages = wait_for(lambda: (found := pages_for("U0L2")) and len(found[1]) == 2 and found, what="tier 2: Sam paged again")
    actions = next(b for b in pages[-1]["blocks"] if b["type"] == "actions")
    status, clicked = _request(sandbox, "/api/click", {"user": "U0L2", "channel": dm, "ts": pages[-1]["ts"],
                                                        "action_id": actions["elements"][0]["action_id"],
                                                        "block_id": actions["block_id"]})
    assert status == 200 and clicked["ok"], clicked
    wait_for(lambda: "Acknowledged by <@U0L2>" in json.dumps(alert_messages()[0]["blocks"]), what="acknowledged on the message")

    status, body = _request(sandbox, "/api/alert", {"user": "U0IC", "action": "resolve"})
    assert status == 200 and body["ok"] and body["line"] == f"resolved CheckoutErrors: alert group {body['group']} (changed)", body
    wait_for(lambda: ":large_green_circle:" in json.dumps(alert_messages()[0]["blocks"]), what="resolved on the message")
    assert len(alert_messages()) == 1, "one living message, updated in place"
    # The token stays in the sandbox process: not in what the page reads, and other sites cannot fire alerts.
    assert sandbox.alerts.token not in json.dumps(_state(sandbox, "U0L1", "C0ALERTS"))
    assert _request(sandbox, "/api/alert", {"user": "U0L1", "action": "fire"}, {"Origin": "http://evil.example"})[0] == 403
    assert _request(sandbox, "/api/alert", {"user": "U0L1", "action": "explode"})[0] == 400


def test_bad_input_gets_the_answer_slack_or_the_bot_gives(sandbox: Sandbox) -> None:
    def private_answers() -> list[dict[str, Any]]:
        return _state(sandbox, "U0L1", "C0GENERAL")["channel"]["ephemerals"]

    assert _request(sandbox, "/api/send", {"user": "U0L1", "channel": "C0GENERAL", "text": "   "})[1] == {"ok": True, "sent": False}
    assert private_answers() == []
    _request(sandbox, "/api/send", {"user": "U0L1", "channel": "C0GENERAL", "text": "/incident wat"})
    _request(sandbox, "/api/send", {"user": "U0L1", "channel": "C0GENERAL", "text": "/nope"})
    answers = private_answers()
    assert "I don't know `/incident wat`" in answers[0]["text"] and answers[0]["user"] == "U0BOT"
    assert "`/nope` is not a valid command" in answers[1]["text"] and answers[1]["user"] == "USLACKBOT"
    assert _request(sandbox, "/api/send", {"user": "U0L1", "channel": "CNOPE", "text": "/incident help"})[0] == 400


def test_plain_messages_are_posted_as_the_person(sandbox: Sandbox) -> None:
    _request(sandbox, "/api/send", {"user": "U0IC", "channel": "C0GENERAL", "text": "hello <b>there</b>"})
    messages = _state(sandbox, "U0IC", "C0GENERAL")["channel"]["messages"]
    assert [(m["user"], m["text"]) for m in messages] == [("U0IC", "hello <b>there</b>")]


def test_fast_forward_moves_the_shared_clock_and_runs_the_scheduler_now(sandbox: Sandbox) -> None:
    before = sandbox.clock.now()
    status, body = _request(sandbox, "/api/fast_forward", {"user": "U0L1", "minutes": 15})
    assert status == 200 and body["ok"] and body["offset_seconds"] == 900
    assert "provision-sweep" in body["ran"]
    assert sandbox.clock.now() - before >= timedelta(minutes=15)
    assert sandbox.runtime.deps.clock is sandbox.clock
    assert sandbox.sim.workspace.clock() >= before.timestamp() + 900, "the simulated Slack shares the clock"
    assert _state(sandbox, "U0L1")["offset_seconds"] == 900
    assert _request(sandbox, "/api/fast_forward", {"user": "U0L1", "minutes": -5})[0] == 400


def test_other_sites_cannot_drive_the_sandbox(sandbox: Sandbox) -> None:
    body = {"user": "U0L1", "channel": "C0GENERAL", "text": "/incident declare sev1 from evil.example"}
    assert _request(sandbox, "/api/send", body, {"Origin": "http://evil.example"})[0] == 403
    assert _request(sandbox, "/api/send", body, {"Host": "evil.example"})[0] == 421
    assert sandbox.web is not None
    plain = urllib.request.Request(sandbox.web.url + "api/send", data=json.dumps(body).encode(), headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(plain, timeout=5)
    assert refused.value.code == 415
    assert sandbox.sim.calls_to("conversations.create") == []


def test_offset_clock_only_moves_forward() -> None:
    clock = OffsetClock(base=lambda: 1_000.0)
    assert clock.now().timestamp() == 1_000.0 and clock.now().tzinfo is not None
    clock.advance(300)
    assert clock.time() == 1_300.0 and clock.offset == timedelta(minutes=5)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_the_seeded_schedule_answers_oncall_and_a_fast_forward_brings_a_handoff_dm(sandbox: Sandbox) -> None:
    """The sandbox's `checkout` schedule (Lee and Sam weekly, Ines in Berlin business hours): `/incident oncall` as
    Lee, in his New York time; fast-forwarding past the next hand-off brings the incoming person's DM."""
    status, body = _request(sandbox, "/api/send", {"user": "U0L1", "channel": "C0GENERAL", "text": "/incident oncall"})
    assert status == 200 and body["ok"], body
    answer = wait_for(lambda: next((e["text"] for e in _state(sandbox, "U0L1", "C0GENERAL")["channel"]["ephemerals"]
                                    if "On call now" in e["text"]), None), what="the on-call answer")
    assert "*checkout*:" in answer and ("EST" in answer or "EDT" in answer), answer

    def handoff_dms() -> list[str]:
        found = []
        for user in ("U0L1", "U0L2", "U0IC"):
            channel = sandbox.sim.workspace.dm_channel(user)
            found += [m.text for m in (sandbox.sim.workspace.messages(channel.id) if channel else [])
                      if "you are now on call for *checkout*" in m.text]
        return found

    assert handoff_dms() == []
    # 10 hours pass at least one hand-off whenever the sandbox runs: the weekly one (15-30 minutes after start) or a
    # business-hours boundary (09:00, 17:00 Berlin).
    assert _request(sandbox, "/api/fast_forward", {"user": "U0L1", "minutes": 600})[1]["ok"]
    wait_for(handoff_dms, what="a hand-off DM")
