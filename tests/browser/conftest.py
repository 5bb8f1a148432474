"""A fresh in-process sandbox (the production Runtime, the simulator, the web page) and a headless Chromium page."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import Sandbox

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INSTALL_HINT = ("the browser tests need Chromium at /usr/bin/chromium: "
                "sudo apt-get install chromium chromium-driver (Playwright's own browser download is not used)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM.exists() or shutil.which("chromium"):
        return
    skip = pytest.mark.skip(reason=INSTALL_HINT)
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture
def page(sandbox: Sandbox) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            context.set_default_timeout(10_000)
            tab = context.new_page()
            tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
            yield tab
        finally:
            browser.close()
    assert problems == [], problems
