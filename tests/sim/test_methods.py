from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_sim import SlackSimulator


def err(fn, **kw) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as e:
        fn(**kw)
    return e.value.response["error"]


def test_auth(sim: SlackSimulator) -> None:
    assert err(WebClient(token="xoxb-wrong", base_url=sim.api_url).auth_test) == "invalid_auth"
    assert err(WebClient(base_url=sim.api_url).auth_test) == "not_authed"
    r = WebClient(token="xoxb-sim-token", base_url=sim.api_url).auth_test()
    assert (r["user_id"], r["team_id"]) == ("U0BOT", "T0SEVBOT")


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as e:
        client.api_call("incidents.declare")
    assert e.value.response.status_code == 200 and e.value.response["error"] == "unknown_method"


@pytest.mark.parametrize("name, code", [
    ("", "invalid_name_required"), ("x" * 81, "invalid_name_maxlength"), ("Inc-1", "invalid_name_specials"),
    ("inc 1", "invalid_name_specials"), ("inc#1", "invalid_name_specials"), ("incidents", "name_taken"),
])
def test_create_name_rules(client: WebClient, name: str, code: str) -> None:
    assert err(client.conversations_create, name=name) == code


def test_create_makes_bot_member_and_creator(sim: SlackSimulator, client: WebClient) -> None:
    ch = client.conversations_create(name="inc-2024-db_down" + "x" * 63)["channel"]
    stored = sim.workspace.channel_by_name(ch["name"])
    assert stored and stored.creator == "U0BOT" and stored.members == {"U0BOT"} and ch["is_member"]
    assert err(client.conversations_create, name=ch["name"]) == "name_taken"


def test_invite_semantics(sim: SlackSimulator, client: WebClient) -> None:
    cid = client.conversations_create(name="inc-1")["channel"]["id"]
    assert err(client.conversations_invite, channel="CNOPE", users="U0L1") == "channel_not_found"
    assert err(client.conversations_invite, channel=cid, users="UNOPE") == "user_not_found"
    assert err(client.conversations_invite, channel=cid, users="U0GONE") == "cant_invite"
    assert err(client.conversations_invite, channel=cid, users="U0BOT") == "cant_invite_self"
    client.conversations_invite(channel=cid, users=["U0L1", "U0IC"])
    assert err(client.conversations_invite, channel=cid, users="U0L1,U0IC") == "already_in_channel"
    r = client.conversations_invite(channel=cid, users="U0L1,U0L2")  # partly new: invites the rest
    assert r["ok"] and sim.workspace.channels[cid].members == {"U0BOT", "U0L1", "U0IC", "U0L2"}
    assert err(client.conversations_invite, channel="C0GENERAL", users="U0L1") == "not_in_channel"


def test_topic_info_list_members_archive(sim: SlackSimulator, client: WebClient) -> None:
    cid = client.conversations_create(name="inc-2")["channel"]["id"]
    assert err(client.conversations_setTopic, channel=cid, topic="t" * 251) == "too_long"
    client.conversations_setTopic(channel=cid, topic="SEV1 | investigating")
    assert client.conversations_info(channel=cid)["channel"]["topic"]["value"] == "SEV1 | investigating"
    for i in range(3):
        client.conversations_create(name=f"extra-{i}")
    names, cursor = [], None
    while True:
        r = client.conversations_list(limit=2, cursor=cursor, types="public_channel")
        names += [c["name"] for c in r["channels"]]
        cursor = r["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert sorted(names) == sorted(["incidents", "general", "alerts", "inc-2", "extra-0", "extra-1", "extra-2"])
    assert "U0L1" in client.conversations_members(channel="C0STAKE")["members"]
    client.conversations_archive(channel=cid)
    assert err(client.conversations_archive, channel=cid) == "already_archived"
    assert err(client.chat_postMessage, channel=cid, text="x") == "is_archived"


def test_post_update_permalink_pins_reactions(sim: SlackSimulator, client: WebClient) -> None:
    assert err(client.chat_postMessage, channel="C0GENERAL", text="x") == "not_in_channel"
    assert err(client.chat_postMessage, channel="CNOPE", text="x") == "channel_not_found"
    assert err(client.chat_postMessage, channel="C0STAKE") == "no_text"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "card"}}]
    ts = client.chat_postMessage(channel="C0STAKE", text="card", blocks=blocks)["ts"]
    # form-encoded variant with blocks as a JSON string
    ts2 = client.api_call("chat.postMessage", data={"channel": "C0STAKE", "text": "t",
                                                    "blocks": '[{"type":"divider"}]'})["ts"]
    assert ts2 > ts
    client.chat_update(channel="C0STAKE", ts=ts, text="card v2")
    m = sim.workspace.find_message("C0STAKE", ts)
    assert m and m.text == "card v2" and m.blocks[0]["text"]["text"] == "card" and m.edited_ts
    assert err(client.chat_update, channel="C0STAKE", ts="1.000000", text="x") == "message_not_found"
    link = client.chat_getPermalink(channel="C0STAKE", message_ts=ts)["permalink"]
    assert link == f"https://sim.slack.local/archives/C0STAKE/p{ts.replace('.', '')}"
    client.pins_add(channel="C0STAKE", timestamp=ts)
    assert err(client.pins_add, channel="C0STAKE", timestamp=ts) == "already_pinned"
    assert sim.workspace.pins("C0STAKE") == [ts]
    assert client.pins_list(channel="C0STAKE")["items"][0]["message"]["ts"] == ts
    client.pins_remove(channel="C0STAKE", timestamp=ts)
    assert sim.workspace.pins("C0STAKE") == []
    client.reactions_add(channel="C0STAKE", timestamp=ts, name="eyes")
    assert err(client.reactions_add, channel="C0STAKE", timestamp=ts, name="eyes") == "already_reacted"


def test_cant_update_someone_elses_message(sim: SlackSimulator, client: WebClient) -> None:
    from bot.slack_sim.state import Message
    m = sim.workspace.add_message(Message(sim.workspace.new_ts(), "C0STAKE", "U0L1", "human"))
    assert err(client.chat_update, channel="C0STAKE", ts=m.ts, text="x") == "cant_update_message"


def test_dm_ephemeral_users_groups(sim: SlackSimulator, client: WebClient) -> None:
    dm = client.conversations_open(users="U0L1")["channel"]["id"]
    assert dm.startswith("D") and sim.workspace.dm_channel("U0L1").id == dm  # type: ignore[union-attr]
    assert client.conversations_open(users="U0L1")["channel"]["id"] == dm
    assert err(client.conversations_open, users="U0GONE") == "user_disabled"
    r = client.chat_postMessage(channel="U0L2", text="you are paged")  # user id -> their DM
    assert r["channel"].startswith("D") and sim.workspace.messages(r["channel"])[0].text == "you are paged"
    assert err(client.chat_postEphemeral, channel="C0STAKE", user="U0GONE", text="x") == "user_not_in_channel"
    client.chat_postEphemeral(channel="C0STAKE", user="U0L1", text="only you")
    assert sim.workspace.ephemerals[-1].user == "U0L1"
    assert client.users_info(user="U0IC")["user"]["real_name"] == "Ines"
    assert err(client.users_info, user="UNOPE") == "user_not_found"
    # profile.display_name: the handle unless set; "" when someone never set one (as Slack answers)
    assert client.users_info(user="U0IC")["user"]["profile"]["display_name"] == "ines"
    sim.workspace.users["U0IC"].display_name = ""
    assert client.users_info(user="U0IC")["user"]["profile"] == {**client.users_info(user="U0IC")["user"]["profile"], "display_name": "", "real_name": "Ines"}
    assert len(client.users_list()["members"]) == 6
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0L1", "U0L2"]
    assert err(client.usergroups_users_list, usergroup="S0NOPE") == "no_such_subteam"


def test_a_thread_is_read_with_conversations_replies_not_history(sim: SlackSimulator, client: WebClient) -> None:
    """As Slack does: a reply in a thread is not in the channel's history; conversations.replies gives the parent
    first, then the replies oldest first, with their metadata only when asked for; an unknown ts is thread_not_found."""
    parent = client.chat_postMessage(channel="C0STAKE", text="an alert")["ts"]
    metadata = {"event_type": "sevbot_outbox", "event_payload": {"outbox_id": 9}}
    first = client.chat_postMessage(channel="C0STAKE", text="could not page", thread_ts=parent, metadata=metadata)["ts"]
    second = client.chat_postMessage(channel="C0STAKE", text="later", thread_ts=parent)["ts"]
    assert [m["ts"] for m in client.conversations_history(channel="C0STAKE")["messages"]] == [parent]
    thread = client.conversations_replies(channel="C0STAKE", ts=parent, include_all_metadata=True)["messages"]
    assert [m["ts"] for m in thread] == [parent, first, second] and thread[1]["metadata"] == metadata
    assert all("metadata" not in m for m in client.conversations_replies(channel="C0STAKE", ts=parent)["messages"])
    later = client.conversations_replies(channel="C0STAKE", ts=parent, oldest=first)["messages"]
    assert second in [m["ts"] for m in later] and first not in [m["ts"] for m in later], "oldest is exclusive"
    assert err(client.conversations_replies, channel="C0STAKE", ts="1.000001") == "thread_not_found"


def test_a_dms_history_needs_im_history_and_keeps_metadata(sim: SlackSimulator, client: WebClient) -> None:
    """As Slack does: a message posted to a user id lands in the DM, keeps its metadata, and shows it in the DM's
    history when asked for; reading that history takes im:history (a public channel's, channels:history)."""
    from bot.slack_sim.state import BOT_SCOPES

    metadata = {"event_type": "sevbot_outbox", "event_payload": {"outbox_id": 7}}
    posted = client.chat_postMessage(channel="U0L1", text="you are paged", metadata=metadata)
    dm = client.conversations_open(users="U0L1")["channel"]["id"]
    assert posted["channel"] == dm
    [message] = client.conversations_history(channel=dm, include_all_metadata=True)["messages"]
    assert message["ts"] == posted["ts"] and message["metadata"] == metadata
    assert "metadata" not in client.conversations_history(channel=dm)["messages"][0]
    assert err(client.conversations_history, channel="U0L1") == "channel_not_found", "a user id is not a conversation"
    sim.scopes = BOT_SCOPES - {"im:history"}
    with pytest.raises(SlackApiError) as refused:
        client.conversations_history(channel=dm)
    assert refused.value.response["error"] == "missing_scope" and refused.value.response["needed"] == "im:history"
    client.conversations_history(channel="C0STAKE")  # the public channel still reads
    sim.scopes = BOT_SCOPES - {"channels:history"}
    assert err(client.conversations_history, channel="C0STAKE") == "missing_scope"


def test_usergroups_users_update_replaces_the_members(sim: SlackSimulator, client: WebClient) -> None:
    """As Slack's spec says: `users` is the entire new list; unknown, deactivated or bot users are refused."""
    group = client.usergroups_users_update(usergroup="S0ONCALL", users="U0L2", include_count=True)["usergroup"]
    assert (group["id"], group["users"], group["user_count"]) == ("S0ONCALL", ["U0L2"], 1)
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0L2"]
    assert client.usergroups_users_update(usergroup="S0ONCALL", users="U0IC,U0L1")["usergroup"]["users"] == ["U0IC", "U0L1"]
    assert err(client.usergroups_users_update, usergroup="S0NOPE", users="U0L1") == "no_such_subteam"
    assert err(client.usergroups_users_update, usergroup="S0ONCALL", users="UNOPE") == "invalid_users"
    assert err(client.usergroups_users_update, usergroup="S0ONCALL", users="U0GONE") == "invalid_users"
    assert err(client.usergroups_users_update, usergroup="S0ONCALL", users="U0BOT") == "user_is_bot"
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0IC", "U0L1"]  # refusals changed nothing
    assert sim.violations == []


def test_users_info_carries_the_profile_time_zone(sim: SlackSimulator, client: WebClient) -> None:
    sim.workspace.users["U0L1"].tz = "Europe/Berlin"
    user = client.users_info(user="U0L1")["user"]
    assert user["tz"] == "Europe/Berlin" and user["tz_label"] in ("CET", "CEST") and user["tz_offset"] in (3600, 7200)
    assert client.users_info(user="U0L2")["user"]["tz"] == "Etc/UTC"


def test_calls_are_recorded(sim: SlackSimulator, client: WebClient) -> None:
    client.chat_postMessage(channel="C0STAKE", text="a")
    calls = sim.calls_to("chat.postMessage")
    assert len(calls) == 1 and calls[0].args == {"channel": "C0STAKE", "text": "a"} and calls[0].ok
    sim.reset_calls()
    assert sim.calls == []


def test_wait_for_call_wakes_on_the_matching_call(sim: SlackSimulator, client: WebClient) -> None:
    import threading
    import time

    start = len(sim.calls)
    found: list[object] = []
    waiter = threading.Thread(target=lambda: found.append(sim.wait_for_call(
        lambda c: c.method == "chat.postMessage" and c.args.get("text") == "second", 5.0, start=start)))
    waiter.start()
    client.chat_postMessage(channel="U0IC", text="first")
    time.sleep(0.05)
    assert waiter.is_alive(), "woke for a call that does not match"
    client.chat_postMessage(channel="U0IC", text="second")
    waiter.join(timeout=5)
    assert not waiter.is_alive() and found and getattr(found[0], "args")["text"] == "second"
    # Nothing matches: the wait ends at its timeout with None.
    assert sim.wait_for_call(lambda c: c.method == "views.open", 0.1, start=start) is None
