"""The sandbox page in a real browser (headless Chromium via Playwright), against the real bot.

It walks what a person trying sevbot does: declare from the composer, watch the channel appear, open it, take
command as someone else through a confirm dialog, assign a role through the modal (including Slack's own
required-field check and the bot's own field error), change the status, see the bot's answers to bad input, and
fast-forward the clock. Screenshots go to docs/screenshots/ (one is in the README).
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.sandbox import Sandbox
from tests.harness import wait_for

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _send(page: Any, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def _expect(page: Any) -> Any:
    from playwright.sync_api import expect

    return expect


def test_declare_take_command_assign_status_and_fast_forward(sandbox: Sandbox, page: Any) -> None:
    expect = _expect(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(sandbox.web.url + "?user=U0L1")  # type: ignore[union-attr]
    expect(page.locator("#channel-header h1")).to_have_text("#general")

    # Lee declares from the composer; the answer is private, and the new channel appears in the list by itself.
    _send(page, "/incident declare sev1 Checkout is failing for all users")
    expect(page.locator(".msg.ephemeral").filter(has_text="Declaring INC-1")).to_contain_text("Only visible to you")
    sev_channel = page.locator("a.channel[data-name^='sev1-']")
    expect(sev_channel).to_have_count(1)
    expect(page.locator(".msg.ephemeral").filter(has_text="INC-1 is open in")).to_be_visible()
    sev_channel.click()
    card = page.locator(".msg.pinned").filter(has_text="INC-1 · Checkout is failing for all users")
    expect(card.locator(".b-header")).to_have_text("INC-1 · Checkout is failing for all users")
    expect(card.locator(".pin-mark")).to_be_visible()
    expect(card.locator(".b-field").filter(has_text="Incident Commander")).to_contain_text("@Lee")
    # The announcement reached #incidents, which Lee sees as unread.
    expect(page.locator("a.channel.unread[data-name='incidents']")).to_be_visible()

    # Sam (L2 on-call, invited as a responder) takes command: the button asks first, as the card says.
    page.select_option("#user-switch", "U0L2")
    expect(page.locator("#channel-header h1")).to_have_text("#general")
    page.locator("a.channel[data-name^='sev1-']").click()
    card.get_by_role("button", name="Take command").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("You become Incident Commander of INC-1")
    dialog.get_by_role("button", name="Take command").click()
    expect(card.locator(".b-field").filter(has_text="Incident Commander")).to_contain_text("@Sam")
    expect(card.locator(".edited")).to_be_visible()
    expect(page.locator(".msg.ephemeral").filter(has_text="is now Incident Commander")).to_contain_text("@Sam")

    # The role picker opens the bot's modal.
    card.locator("select[data-action='card_pick_role']").select_option(label="Communications Lead")
    modal = page.get_by_role("dialog")
    expect(modal).to_contain_text("Communications Lead for INC-1")
    # Empty: Slack's own client refuses a required field without asking the bot.
    modal.get_by_role("button", name="Assign").click()
    expect(modal.locator(".field-error")).to_have_text("Please complete this required field.")
    # A bot user: the bot answers with response_action errors, shown under the input (plain text, as in Slack).
    modal.get_by_label("Who?").select_option("U0BOT")
    modal.get_by_role("button", name="Assign").click()
    expect(modal.locator(".field-error")).to_contain_text("is a bot; incident roles need a person.")
    page.screenshot(path=str(SHOTS / "sandbox-modal-error.png"))
    modal.get_by_label("Who?").select_option("U0IC")
    modal.get_by_role("button", name="Assign").click()
    expect(modal).to_have_count(0)
    expect(card).to_contain_text("Communications Lead: @Ines")

    # Status from the composer, then on the card.
    _send(page, "/incident status identified Root cause found")
    expect(card.locator(".b-field").filter(has_text="Status")).to_contain_text(re.compile("identified", re.I))

    # Bad input gets the bot's own answers (and Slack's, for a command that does not exist).
    _send(page, "/incident frobnicate")
    expect(page.locator(".msg.ephemeral").filter(has_text="I don't know")).to_contain_text("/incident frobnicate")
    _send(page, "/incident")
    expect(page.locator(".msg.ephemeral").filter(has_text="sevbot: /incident commands").first).to_be_visible()
    _send(page, "/frobnicate now")
    expect(page.locator(".msg.ephemeral").filter(has_text="is not a valid command")).to_contain_text("Slackbot")

    # Fast-forward: the shared clock moves, the bot's scheduled work runs at once, the page shows the new time.
    before = sandbox.clock.now()
    shown_before = page.locator("#clock-time").inner_text()
    page.get_by_role("button", name="Fast-forward 15 min").click()
    expect(page.locator("#clock-offset")).to_have_text("+15 min")
    wait_for(lambda: sandbox.clock.offset == timedelta(minutes=15), what="clock offset of 15 min")
    assert sandbox.clock.now() - before >= timedelta(minutes=15)
    expect(page.locator("#clock-time")).not_to_have_text(shown_before)
    expect(page.locator(".toast")).to_contain_text("provision-sweep")

    # Dismissing private answers is the page's own business (Slack's too): they go, the channel stays.
    private = page.locator(".msg.ephemeral")
    while private.count():
        count = private.count()
        private.first.get_by_role("link", name="Dismiss").click()
        expect(private).to_have_count(count - 1)
    page.set_viewport_size({"width": 1280, "height": 1080})
    page.locator("#messages").evaluate("pane => { pane.scrollTop = pane.scrollHeight; }")
    page.screenshot(path=str(SHOTS / "sandbox-incident.png"))


def test_hostile_text_is_shown_never_run(sandbox: Sandbox, page: Any) -> None:
    """Titles and mrkdwn go into text nodes: markup in a title shows as typed and creates no element."""
    expect = _expect(page)
    page.goto(sandbox.web.url + "?user=U0L1")  # type: ignore[union-attr]
    title = '<img src=x onerror="window.pwned=1"> *bold* & <script>window.pwned=2</script> <!channel>'
    _send(page, f"/incident declare sev2 {title}")
    page.locator("a.channel[data-name^='sev2-']").click()
    header = page.locator(".b-header").first
    expect(header).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(header).to_contain_text("<script>window.pwned=2</script>")
    assert page.locator("#messages img, #messages script").count() == 0
    assert page.evaluate("window.pwned === undefined")


def test_declare_form_keeps_typing_across_the_bots_updates(sandbox: Sandbox, page: Any) -> None:
    """`/incident declare` alone opens the form; choosing scope and service re-renders it (dispatch_action)."""
    expect = _expect(page)
    page.goto(sandbox.web.url + "?user=U0IC")  # type: ignore[union-attr]
    _send(page, "/incident declare")
    modal = page.get_by_role("dialog")
    expect(modal).to_contain_text("Declare an incident")
    modal.get_by_role("button", name="Declare").click()
    expect(modal.locator(".b-input.has-error")).to_have_count(2)  # title and scope; severity has a default
    modal.get_by_label("What is broken?").fill("   ")
    modal.get_by_label("All users").check()
    modal.get_by_label("Affected service").select_option("checkout")
    expect(modal).to_contain_text("a critical service: this is")  # the bot's views.update, answering the choice
    expect(modal.get_by_label("What is broken?")).to_have_value("   ")  # kept across the update, as Slack does
    modal.get_by_role("button", name="Declare").click()
    expect(modal.locator(".field-error")).to_have_count(1)  # Slack's two required-field errors are gone…
    expect(modal.locator(".field-error")).to_have_text("Say in a few words what is broken.")  # …for the bot's own
    page.screenshot(path=str(SHOTS / "sandbox-declare-form.png"))
    modal.get_by_label("What is broken?").fill("Payments time out")
    modal.get_by_label("Severity (by impact, not complexity)").select_option("sev1")
    modal.get_by_role("button", name="Declare").click()
    expect(modal).to_have_count(0)
    page.locator("a.channel[data-name^='sev1-']").click()
    card = page.locator(".msg.pinned")
    expect(card.locator(".b-field").filter(has_text="Scope")).to_contain_text("ll users")
    expect(card.locator(".b-field").filter(has_text="Affected service")).to_contain_text("checkout")
