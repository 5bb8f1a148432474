"""Declare under hostile input and failing Slack: nothing lost, nothing doubled, the user always told."""
from __future__ import annotations

import json

import pytest

from bot.slack_sim.server import SlackSimulator
from bot.slack_sim.state import Channel
from tests.harness import Bot, wait_for

STEPS = [
    ("conversations.create", None),
    ("conversations.invite", None),
    ("conversations.setTopic", None),
    ("chat.postMessage", "card"),
    ("pins.add", None),
    ("chat.postMessage", "announce"),
]


def _inject(sim: SlackSimulator, method: str, which: str | None, **fault: object) -> None:
    if which == "announce":
        fault["when"] = lambda args: args.get("channel") == "C0STAKE"
    elif which == "card":
        fault["when"] = lambda args: args.get("channel") != "C0STAKE"
    sim.inject(method, **fault)  # type: ignore[arg-type]


def _mrkdwn_texts(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str) else []
        return found + [t for value in node.values() for t in _mrkdwn_texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in _mrkdwn_texts(item)]
    return []


def _channels_named_like(bot: Bot, prefix: str) -> list[str]:
    return [c.name for c in bot.sim.workspace.channels.values() if c.name.startswith(prefix)]


@pytest.mark.parametrize(("method", "which"), STEPS, ids=[f"{m}-{w or ''}" for m, w in STEPS])
@pytest.mark.parametrize("fault", [{"http_status": 500}, {"http_status": 429, "retry_after": 1}], ids=["500", "429"])
def test_transient_slack_failures_on_each_step_are_retried(sqlite_bot: Bot, method: str, which: str | None, fault: dict[str, int]) -> None:
    bot = sqlite_bot
    _inject(bot.sim, method, which, **fault)
    bot.slack.slash_command("U0L1", "declare sev1 Payments erroring")
    incident = bot.wait_provisioned(1, timeout=15)
    assert incident.provision_error is None
    assert len(_channels_named_like(bot, "sev1-")) == 1
    failed = [c for c in bot.sim.calls_to(method) if c.http_status == fault["http_status"]]
    assert len(failed) == 1, "the fault fired once and the retry succeeded"
    kinds = [e.kind for e in bot.timeline(1)]
    assert len(kinds) == len(set(kinds)), f"no timeline event recorded twice: {kinds}"


@pytest.mark.parametrize(("method", "which"), STEPS, ids=[f"{m}-{w or ''}" for m, w in STEPS])
def test_a_step_that_keeps_failing_is_reported_and_finished_by_the_sweep(bot: Bot, method: str, which: str | None) -> None:
    _inject(bot.sim, method, which, http_status=500, times=20)
    bot.slack.slash_command("U0L1", "declare sev1 Payments erroring")
    failed = wait_for(lambda: (i := bot.incident(1)).provision_error and i, timeout=15, what="the failure recorded")
    assert failed.provisioned_at is None
    # the declarer is told privately what failed and that the incident is recorded
    told = wait_for(lambda: [p for p in bot.sim.workspace.response_posts if "is recorded" in json.dumps(p.body)], what="declarer told")
    assert "INC-1" in json.dumps(told[0].body) and told[0].body.get("response_type") == "ephemeral"
    # /incident list shows it meanwhile
    listing = bot.slack.slash_command("U0L2", "list").json()["text"]
    assert "INC-1" in listing
    assert any(e.kind == "provisioning_failed" for e in bot.timeline(1))

    bot.sim.clear_faults()
    provisioner = bot.runtime.core.provisioner
    provisioner.retry_after_failure = provisioner.retry_after_failure * 0
    with bot.db.unit_of_work() as session:  # the retry pause has passed
        from bot.db.models import Incident

        session.get_one(Incident, 1).provision_lease_until = None
    # The sweep skips a run still finishing in this process (it is telling the declarer): sweep until it is ours.
    wait_for(lambda: [o.done for o in provisioner.sweep()] == [True], what="the sweep finished the declare")
    incident = bot.incident(1)
    assert incident.provisioned_at is not None and incident.provision_error is None
    assert len(_channels_named_like(bot, "sev1-")) == 1, "never a second channel"
    assert len(bot.sim.workspace.pins(incident.channel_id)) == 1
    assert len([m for m in bot.sim.workspace.messages("C0STAKE") if "INC-1" in str(m.blocks)]) == 1


def test_a_crash_after_slack_created_the_channel_adopts_it(sqlite_bot: Bot) -> None:
    """Slack made the channel but we died before storing its id: the retry adopts it, never makes a twin."""
    bot = sqlite_bot
    bot.sim.inject("conversations.invite", http_status=500, times=20)
    bot.slack.slash_command("U0L1", "declare sev2 Inventory sync stuck")
    wait_for(lambda: bot.incident(1).provision_error, what="failure")
    created = bot.incident(1)
    with bot.db.unit_of_work() as session:  # forget the id, as if the process died right after Slack answered
        from bot.db.models import Incident

        row = session.get_one(Incident, 1)
        row.channel_id, row.provision_lease_until = None, None
    bot.sim.clear_faults()
    wait_for(lambda: [o.done for o in bot.runtime.core.provisioner.sweep()] == [True], what="the sweep adopted the channel")
    assert bot.incident(1).channel_id == created.channel_id
    assert len(_channels_named_like(bot, "sev2-")) == 1


def test_name_taken_tries_the_next_suffix(bot: Bot) -> None:
    bot.slack.slash_command("U0L1", "declare sev2 Search is slow")
    first = bot.wait_provisioned(1)
    # a person's channel already holds the next name, and another bot-made channel the one after
    ws = bot.sim.workspace
    ws.channels["C0HUMAN"] = Channel("C0HUMAN", first.channel_name + "-2", creator="U0EXEC", members={"U0EXEC"})
    bot.slack.slash_command("U0L2", "declare sev2 Search is slow")
    second = bot.wait_provisioned(2)
    assert second.channel_name == first.channel_name + "-3"
    assert second.channel_id != first.channel_id


@pytest.mark.parametrize(
    "title",
    [
        "x" * 2000,
        "<!channel> <!here> <@U0EXEC> & <https://evil.example|click> > done",
        "🔥 Checkout 🔥 on fire 💳",
        "الدفع لا يعمل للمستخدمين",
    ],
    ids=["2000-chars", "mentions-and-controls", "emoji", "rtl"],
)
def test_hostile_titles_neither_ping_nor_break(sqlite_bot: Bot, title: str) -> None:
    bot = sqlite_bot
    assert bot.slack.slash_command("U0L1", f"declare sev1 {title}").status == 200
    incident = bot.wait_provisioned(1)
    assert incident.title == title
    ws = bot.sim.workspace
    posted = [m for m in ws.all_messages() if m.user == "U0BOT"]
    assert len(posted) == 2
    # Slack parses mentions in mrkdwn and in a message's `text`; plain_text (the header) shows them literally.
    parsed = "\n".join([m.text for m in posted] + [t for m in posted for t in _mrkdwn_texts(m.blocks)])
    for live in ("<!channel>", "<!here>", "<@U0EXEC>", "<https://evil"):
        assert live not in parsed
    if "<!channel>" in title:
        assert "&lt;!channel&gt;" in parsed
    channel = ws.channels[incident.channel_id]
    assert len(channel.name) <= 80


def test_unknown_severity_creates_nothing(bot: Bot) -> None:
    bot.sim.reset_calls()
    answer = bot.slack.slash_command("U0L1", "declare sev7 Something").json()
    assert answer["response_type"] == "ephemeral" and "not a severity" in answer["text"]
    answer = bot.slack.slash_command("U0L1", "declare sev1").json()
    assert "Say what is broken" in answer["text"]
    assert bot.incidents() == []
    assert [c for c in bot.sim.calls if c.method != "response_url"] == []


def test_help_unknown_and_list(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    help_text = bot.slack.slash_command("U0L1", "help").json()["text"]
    for verb in ("declare", "help", "list"):
        assert f"/incident {verb}" in help_text
    unknown = bot.slack.slash_command("U0L1", "frobnicate <!channel>").json()
    assert unknown["response_type"] == "ephemeral" and "frobnicate" in unknown["text"] and "/incident declare" in unknown["text"]
    assert "<!channel>" not in unknown["text"]
    assert "No open incidents" in bot.slack.slash_command("U0L1", "list").json()["text"]
    bot.slack.slash_command("U0L1", "declare sev1 Login broken")
    incident = bot.wait_provisioned(1)
    listing = bot.slack.slash_command("U0L1", "list").json()["text"]
    assert "INC-1" in listing and f"<#{incident.channel_id}>" in listing
