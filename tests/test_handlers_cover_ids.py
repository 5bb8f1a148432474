"""Every action_id and callback_id the bot can post reaches a listener (Bolt answers 404 when none matches).

The ids are collected from what the bot really posted and opened, not from a hand-kept list, so a new button
without a handler fails here.
"""
from __future__ import annotations

from typing import Any

from bot.ids import START_RUNBOOK_PREFIX, ActionId, CallbackId
from tests.harness import Bot, paging_config, running_bot, wait_for
from tests.test_manifest import manifest


def _action_elements(blocks: list[dict[str, Any]]) -> list[tuple[str | None, dict[str, Any]]]:
    found = []
    for block in blocks:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}, block.get("element") or {}]:
            if isinstance(element, dict) and element.get("action_id"):
                found.append((block.get("block_id"), element))
    return found


def test_every_posted_id_has_a_listener(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with running_bot(f"sqlite:///{tmp_path / 'ids.db'}", paging_config()) as bot:
        _walk_everything(bot)


def _walk_everything(bot: Bot) -> None:
    bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    incident = bot.wait_provisioned(1)
    bot.slack.slash_command("U0L1", "declare", channel_id=incident.channel_id)
    bot.slack.click("U0L1", incident.channel_id, incident.card_ts, ActionId.PICK_ROLE, value="1:comms")
    bot.slack.click("U0L1", incident.channel_id, incident.card_ts, f"{START_RUNBOOK_PREFIX}1")
    checklist = wait_for(lambda: next((m for m in bot.sim.workspace.messages(incident.channel_id) if "runbook_step_done" in str(m.blocks)), None),
                         what="runbook checklist posted")
    failed_block = checklist.blocks[2 + 1]["block_id"]
    bot.slack.click("U0L1", incident.channel_id, checklist.ts, ActionId.RUNBOOK_STEP_FAILED, block_id=failed_block)
    # The checklist is re-rendered after the click (the failed step loses its buttons): let that land first.
    wait_for(lambda: failed_block not in {b for b, _ in _action_elements(bot.sim.workspace.find_message(incident.channel_id, checklist.ts).blocks)},
             what="the failed step decided on the checklist")
    wait_for(lambda: len(bot.sim.workspace.views) == 3, what="the three modals open")
    bot.slack.slash_command("U0L1", "update", channel_id=incident.channel_id)
    bot.slack.slash_command("U0L1", "escalate", channel_id=incident.channel_id)
    wait_for(lambda: len(bot.sim.workspace.views) == 5, what="update and escalate modals open")
    for kind in ("update_reminder", "runbook_check"):
        bot.make_due(kind)
    bot.runtime.core.scheduler.tick()
    wait_for(lambda: "open_update_modal" in str(bot.sim.workspace.messages(incident.channel_id))
             and "open_escalate_modal" in str(bot.sim.workspace.messages(incident.channel_id)), what="reminder and 15-minute prompt")
    wait_for(lambda: any("page_acknowledge" in str(m.blocks) for m in bot.sim.workspace.all_messages()), what="page DMs")

    ws = bot.sim.workspace
    messages = [m for m in ws.all_messages() if m.user == "U0BOT"]
    clicked: set[str] = set()
    touched: set[tuple[str, str | None]] = set()
    for message in messages:
        for action_id in dict.fromkeys(element["action_id"] for _, element in _action_elements(message.blocks)):
            if action_id in clicked:
                continue  # one click per id is enough
            # Read the message as it is now, and prefer a block no click has touched: a click may re-render its own
            # block after answering (a decided runbook step loses its buttons) while we go on.
            current = _action_elements(ws.find_message(message.channel, message.ts).blocks)  # type: ignore[union-attr]
            candidates = [(b, e) for b, e in current if e["action_id"] == action_id]
            assert candidates, f"{action_id!r} vanished from message {message.ts}"
            block_id, element = next(((b, e) for b, e in candidates if (message.ts, b) not in touched), candidates[0])
            value = element.get("value") or (element.get("options") or [{}])[0].get("value")
            response = bot.slack.click("U0L2", message.channel, message.ts, action_id, value=value, block_id=block_id)
            assert response.status == 200, f"no listener for action {action_id!r} (HTTP {response.status})"
            clicked.add(action_id)
            touched.add((message.ts, block_id))
            if action_id == ActionId.TAKE_COMMAND:  # Sam takes command after the ack; Resolve… is the IC's to press
                wait_for(lambda: any(e.kind == "role_assigned" and e.data.get("user") == "U0L2" for e in bot.timeline(1)),
                         what="Sam in command")
    callbacks: set[str] = set()
    # Buttons that open a modal answer first and open it just after: let the last of them (Resolve…) land.
    wait_for(lambda: any(v.view.get("callback_id") == CallbackId.RESOLVE_MODAL for v in ws.views.values()), what="the resolve modal open")
    for view in list(ws.views.values()):
        for block_id, element in _action_elements(view.view.get("blocks") or []):
            if (next(b for b in view.view["blocks"] if b.get("block_id") == block_id)).get("dispatch_action"):
                options = element.get("options") or []
                response = bot.slack.select_in_view("U0L1", view.id, block_id, element["action_id"], options[0]["value"])
                assert response.status == 200, f"no listener for modal action {element['action_id']!r}"
                clicked.add(element["action_id"])
        response = bot.slack.submit_view("U0L1", view.id, {})
        assert response.status == 200, f"no listener for view {view.view['callback_id']!r} (HTTP {response.status})"
        callbacks.add(view.view["callback_id"])
    # Message shortcuts come from the manifest, not from anything sevbot posts: use each on a message.
    for shortcut in manifest()["features"].get("shortcuts") or []:
        response = bot.slack.message_shortcut("U0L2", incident.channel_id, incident.card_ts, shortcut["callback_id"])
        assert response.status == 200, f"no listener for shortcut {shortcut['callback_id']!r} (HTTP {response.status})"
        callbacks.add(shortcut["callback_id"])
    # The Home tab is posted too (views.publish when the person opens it): click each of its buttons.
    published = len(bot.sim.calls_to("views.publish"))
    assert bot.slack.app_home_opened("U0L2").status == 200
    wait_for(lambda: len(bot.sim.calls_to("views.publish")) > published, what="the Home tab published")
    home = bot.slack.home_view("U0L2")
    assert home is not None
    for block_id, element in _action_elements(home.view["blocks"]):
        response = bot.slack.click_home("U0L2", element["action_id"], block_id=block_id)
        assert response.status == 200, f"no listener for Home tab action {element['action_id']!r} (HTTP {response.status})"
        clicked.add(element["action_id"])
    # Everything the enums name was seen in a real message or modal, so nothing above was skipped.
    interactive = {ActionId.HOME_DECLARE, ActionId.TAKE_COMMAND, ActionId.PICK_ROLE, ActionId.DECLARE_SCOPE, ActionId.DECLARE_SERVICE,
                   f"{START_RUNBOOK_PREFIX}1", ActionId.RUNBOOK_STEP_DONE, ActionId.RUNBOOK_STEP_SKIP, ActionId.RUNBOOK_STEP_FAILED,
                   ActionId.OPEN_UPDATE, ActionId.OPEN_ESCALATE, ActionId.PAGE_ACK, ActionId.OPEN_RESOLVE}
    assert interactive <= clicked
    assert set(CallbackId) == callbacks
