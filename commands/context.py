"""What the Slack entry layer holds: the use cases' narrow dependencies, plus what only listeners use after the ack
(the Slack gateway for opening modals and answering clicks, the background pool, the runbooks, the renderer).

Built once by the composition root (`bot/runtime.py`) and handed to every listener.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.background import Background
from bot.core.deps import Deps
from bot.home.refresh import HomeRefresher
from bot.oncall.zones import ZoneBook
from bot.render import Renderer
from bot.runbooks.registry import RunbookRegistry
from bot.slack.gateway import SlackGateway


@dataclass(frozen=True)
class Context:
    deps: Deps
    gateway: SlackGateway
    background: Background
    runbooks: RunbookRegistry
    renderer: Renderer
    # Drive Slack for a declared incident (channel, card, …); the flag says the declare queued effects of its own.
    provision: Callable[[int, bool], None]
    # Keeps Home tabs current (None: no Home tab, e.g. a test wiring only what it needs).
    home: HomeRefresher | None = None
    # Each person's time zone (users.info), remembered so an on-call answer can come with the ack.
    zones: ZoneBook | None = None

    @property
    def zone_book(self) -> ZoneBook:
        return self.zones if self.zones is not None else ZoneBook(self.gateway)

    def run_later(self, work: Callable[..., object], *args: object) -> None:
        """Slow work after the ack (anything that calls Slack)."""
        self.background.run_later(work, *args)
