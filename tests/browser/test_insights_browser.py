"""The insights picture in a real browser: `/incident insights` from the composer, the private answer, and the PNG
shown inline in the DM with sevbot (decoded by Chromium, so the bytes served are a real image)."""
from __future__ import annotations

from typing import Any

from bot.sandbox import Sandbox
from tests.browser.test_sandbox_browser import SHOTS, _expect, _open_dm, _send


def test_the_insights_picture_shows_inline(sandbox: Sandbox, page: Any) -> None:
    expect = _expect(page)
    page.goto(sandbox.web.url + "?user=U0IC")  # type: ignore[union-attr]
    expect(page.locator("#channel-header h1")).to_have_text("#general")
    _send(page, "/incident insights 7d")
    answer = page.locator(".msg.ephemeral").filter(has_text="Incident insights: the last 7 days")
    expect(answer).to_contain_text("Only visible to you")
    expect(answer).to_contain_text("is on its way to your DM with sevbot")

    _open_dm(page)
    image = page.locator(".msg .file-image img")
    expect(image).to_have_count(1, timeout=30_000)
    expect(page.locator(".msg .file-image figcaption")).to_have_text("🖼 Incident insights, last 7 days")
    image.scroll_into_view_if_needed()
    page.wait_for_function("() => { const i = document.querySelector('.file-image img'); return i && i.complete && i.naturalWidth > 0; }")
    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [1100, 850]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "sandbox-insights-dm.png"))
