"""The sandbox page in a real browser (headless Chromium via Playwright), against the real bot.

It walks what a person trying sevbot does: declare from the composer, watch the channel appear, open it, start a
runbook from the card and press a step, take command as someone else through a confirm dialog, assign a role
through the modal (Slack's own required-field check, and the bot's private answer when the person is a bot), change the status,
see the bot's answers to bad input, fast-forward the clock (the page climbs the escalation ladder, the stakeholder
update falls due), post the update from the reminder's modal, and acknowledge the page from the paged person's DM.
Screenshots go to a temp folder, or to $SEVBOT_SCREENSHOTS (docs/screenshots/ refreshes the README's).
"""
from __future__ import annotations

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.sandbox import Sandbox
from tests.harness import wait_for

# Screenshots land in a temp folder so a test run leaves the tree clean; SEVBOT_SCREENSHOTS=docs/screenshots
# refreshes the ones the README shows.
SHOTS = Path(os.environ.get("SEVBOT_SCREENSHOTS") or tempfile.mkdtemp(prefix="sevbot-screens-"))


def _send(page: Any, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def _expect(page: Any) -> Any:
    from playwright.sync_api import expect

    return expect


def _message(page: Any, text: str) -> Any:
    """Top-level messages in the open channel whose text contains `text` (mentions render as @Name, emoji as emoji)."""
    return page.locator("#messages > .msg").filter(has_text=text)


def _screenshot(page: Any, name: str, *, whole_channel: bool = False) -> None:
    """Without the fast-forward toasts; `whole_channel` makes the window tall enough to show every message."""
    page.evaluate("document.querySelectorAll('.toast').forEach((t) => t.remove())")
    if whole_channel:
        size = page.viewport_size
        overhead = page.evaluate("window.innerHeight - document.getElementById('messages').clientHeight")
        needed = page.evaluate("document.getElementById('messages').scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], overhead + needed + 8), 4000)})
        page.locator("#messages").evaluate("pane => { pane.scrollTop = 0; }")
    page.screenshot(path=str(SHOTS / name))


def _open_dm(page: Any) -> None:
    page.locator("#dm-list a.channel").click()
    _expect(page)(page.locator("#channel-header h1")).to_have_text("🤖 sevbot")


def test_the_whole_incident_in_the_browser(sandbox: Sandbox, page: Any) -> None:
    """Declare → channel → runbook step → fast-forward → update reminder and update → page escalates → Sam acknowledges."""
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
    # The announcement reached #incidents, which Lee sees as unread; SEV1 paged tier 1 (the on-call group).
    expect(page.locator("a.channel.unread[data-name='incidents']")).to_be_visible()
    expect(_message(page, "Paged @Lee, @Sam (tier 1, round 1)")).to_have_count(1)

    # The card offers the runbooks that match; starting one posts its checklist.
    card.get_by_role("button", name="Start runbook: SEV0/SEV1 - the first 30 minutes").click()
    checklist = _message(page, "📋 SEV0/SEV1 - the first 30 minutes")
    expect(checklist.locator(".b-header")).to_have_text("📋 SEV0/SEV1 - the first 30 minutes (stop the bleeding)")
    expect(checklist).to_contain_text("0/12 done · started by @Lee")
    step1 = checklist.locator(".b-actions[data-block$='-1']")
    expect(step1.get_by_role("button")).to_have_text(["Done", "Skip", "Failed"])
    expect(step1.get_by_role("button", name="Done")).to_have_class(re.compile(r"\bprimary\b"))
    expect(step1.get_by_role("button", name="Failed")).to_have_class(re.compile(r"\bdanger\b"))
    expect(step1.get_by_role("button", name="Skip")).not_to_have_class(re.compile(r"\b(primary|danger)\b"))
    checklist_ts = checklist.get_attribute("data-ts")
    # Done on step 1: the same message changes in place (chat.update), saying who did it.
    step1.get_by_role("button", name="Done").click()
    expect(checklist).to_contain_text("1/12 done · started by @Lee")
    expect(checklist).to_contain_text("✅ 1. Acknowledge the page within 5 minutes")
    expect(checklist).to_contain_text("Done by @Lee")
    expect(checklist.locator(".edited")).to_be_visible()
    expect(step1).to_have_count(0)  # step 1's buttons gave way to who did it
    expect(checklist).to_have_count(1)
    assert checklist.get_attribute("data-ts") == checklist_ts
    # Long step details are folded as Slack folds a long section (no `expand`): "See more" unfolds one.
    see_more = checklist.get_by_role("button", name="See more")
    folded = see_more.count()
    assert folded >= 10, folded
    step2 = checklist.locator(".b-section").filter(has_text="2. Name one Incident Commander").locator(".b-text")
    expect(step2).to_have_class(re.compile(r"\bfolded\b"))
    see_more.first.click()
    expect(step2).not_to_have_class(re.compile(r"\bfolded\b"))
    expect(see_more).to_have_count(folded - 1)

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
    _screenshot(page, "sandbox-modal-error.png")
    # A bot user: whether someone is a person needs Slack, so the bot closes the form at once and answers privately.
    modal.get_by_label("Who?").select_option("U0BOT")
    modal.get_by_role("button", name="Assign").click()
    expect(modal).to_have_count(0)
    expect(page.locator(".msg.ephemeral").filter(has_text="is a bot")).to_contain_text("incident roles need a person.")
    card.locator("select[data-action='card_pick_role']").select_option(label="Communications Lead")
    modal = page.get_by_role("dialog")
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

    # Nobody acknowledged tier 1 within its 5 minutes: fast-forward 5 and the ladder pages tier 2 (Sam).
    before = sandbox.clock.now()
    shown_before = page.locator("#clock-time").inner_text()
    page.get_by_role("button", name="Fast-forward 5 min").click()
    expect(page.locator("#clock-offset")).to_have_text("+5 min")
    expect(page.locator(".toast").filter(has_text="Fast-forwarded 5 min")).to_contain_text("scheduler-tick")
    expect(page.locator("#clock-time")).not_to_have_text(shown_before)
    expect(_message(page, "Paged @Sam (tier 2, round 1)")).to_have_count(1)
    expect(_message(page, "tier 3")).to_have_count(0)

    # Fast-forward 15: the stakeholder update (every 15 min for SEV1) is due; the reminder names the Comms Lead.
    # Tier 2 was not acknowledged either, so the ladder went on to Ines (tier 3).
    page.get_by_role("button", name="Fast-forward 15 min").click()
    expect(page.locator("#clock-offset")).to_have_text("+20 min")
    wait_for(lambda: sandbox.clock.offset == timedelta(minutes=20), what="clock offset of 20 min")
    assert sandbox.clock.now() - before >= timedelta(minutes=20)
    expect(page.locator(".toast").filter(has_text="Fast-forwarded 15 min")).to_contain_text("provision-sweep")
    reminder = _message(page, "a stakeholder update for INC-1 is due now")
    expect(reminder).to_contain_text("⏰ @Ines")
    expect(reminder.get_by_role("button", name="Post update")).to_have_class(re.compile(r"\bprimary\b"))
    expect(_message(page, "Paged @Ines (tier 3, round 1)")).to_have_count(1)

    # Ines (Comms Lead) opens the update modal from the reminder: static selects show their initial options,
    # the long answers are multiline.
    page.select_option("#user-switch", "U0IC")
    page.locator("a.channel[data-name^='sev1-']").click()
    reminder.get_by_role("button", name="Post update").click()
    modal = page.get_by_role("dialog", name="Stakeholder update")
    expect(modal.get_by_label("Status", exact=True)).to_have_value("identified")
    expect(modal.get_by_label("Status", exact=True).locator("option:checked")).to_have_text("Identified")
    expect(modal.get_by_label("Next update in")).to_have_value("15")
    impact = modal.get_by_label("Current impact: who and how many are affected?")
    doing = modal.get_by_label("What we are doing")
    assert impact.evaluate("n => n.tagName") == "TEXTAREA" and doing.evaluate("n => n.tagName") == "TEXTAREA"
    expect(impact).to_have_attribute("placeholder", "About 30% of checkouts fail for all customers in the EU")
    expect(modal.get_by_label("Remaining risk")).to_have_attribute("type", "text")
    modal.get_by_role("button", name="Post update").click()
    expect(modal.locator(".field-error")).to_have_count(2)  # impact and doing are required; Slack checks, not the bot
    impact.fill("About 30% of checkouts fail\nfor all customers in the EU")
    doing.fill("Rolling back payments-api to v142; Sam owns it")
    modal.get_by_label("Next update in").select_option("30")
    modal.get_by_role("button", name="Post update").click()
    expect(modal).to_have_count(0)
    update = _message(page, "📣 INC-1 update")
    expect(update).to_contain_text("Current impact: About 30% of checkouts fail")
    expect(update).to_contain_text("What we are doing: Rolling back payments-api to v142; Sam owns it")
    expect(update).to_contain_text("(in 30 min) · IC @Sam · Comms @Ines · posted by @Ines")
    expect(page.locator(".msg.ephemeral").filter(has_text="Update posted")).to_have_count(0)  # a modal's ack says nothing
    page.set_viewport_size({"width": 1280, "height": 1080})
    page.locator("a.channel[data-name='incidents']").click()
    expect(page.locator("#channel-header h1")).to_have_text("#incidents")
    expect(_message(page, "📣 INC-1 update")).to_contain_text("Rolling back payments-api to v142")

    # The page: Sam's DM with sevbot holds one page per tier that reached him, each with Acknowledge.
    page.select_option("#user-switch", "U0L2")
    _open_dm(page)
    pages = _message(page, "You are paged for INC-1")
    expect(pages).to_have_count(2)
    expect(pages.nth(0)).to_contain_text("(tier 1): Checkout is failing for all users")
    expect(pages.nth(1)).to_contain_text("(tier 2): Checkout is failing for all users")
    expect(pages.nth(1)).to_contain_text("acknowledge within 5 min or the next tier is paged")
    ack = pages.nth(1).get_by_role("button", name="Acknowledge")
    expect(ack).to_have_class(re.compile(r"\bprimary\b"))
    ack.click()
    answer = page.locator(".msg.ephemeral").filter(has_text="Acknowledged INC-1")
    expect(answer).to_contain_text("You're invited to the incident channel")
    _screenshot(page, "sandbox-page-dm.png")
    # Pressing again says who already did.
    pages.nth(0).get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".msg.ephemeral").filter(has_text="Already acknowledged by @Sam")).to_have_count(1)

    # The incident channel says so, and the ladder stopped: more time pages nobody.
    page.locator("a.channel[data-name^='sev1-']").click()
    expect(_message(page, "acknowledged the page after 20m")).to_contain_text("@Sam acknowledged the page")
    expect(_message(page, "The ladder stopped.")).to_have_count(1)
    page.get_by_role("button", name="Fast-forward 5 min").click()
    expect(page.locator("#clock-offset")).to_have_text("+25 min")
    expect(_message(page, "Paged @")).to_have_count(3)

    # The overview for the README: Lee's view of the channel, with the card, the checklist and the reminder.
    page.select_option("#user-switch", "U0L1")
    page.locator("a.channel[data-name^='sev1-']").click()
    expect(page.locator("#channel-header h1")).to_have_text(re.compile(r"^#sev1-"))
    private = page.locator(".msg.ephemeral")
    while private.count():
        count = private.count()
        private.first.get_by_role("link", name="Dismiss").click()
        expect(private).to_have_count(count - 1)
    _screenshot(page, "sandbox-incident.png", whole_channel=True)


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
    _screenshot(page, "sandbox-declare-form.png")
    modal.get_by_label("What is broken?").fill("Payments time out")
    modal.get_by_label("Severity (by impact, not complexity)").select_option("sev1")
    modal.get_by_role("button", name="Declare").click()
    expect(modal).to_have_count(0)
    page.locator("a.channel[data-name^='sev1-']").click()
    card = page.locator(".msg.pinned")
    expect(card.locator(".b-field").filter(has_text="Scope")).to_contain_text("ll users")
    expect(card.locator(".b-field").filter(has_text="Affected service")).to_contain_text("checkout")

