"""Everything a command or job needs, built once at start and passed explicitly (no globals)."""
from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.render import Renderer
from bot.slack.gateway import SlackGateway
from bot.outbox import Outbox
from bot.paging import Pager, RecordOnlyPager
from bot.usecases.card import CardSync
from bot.usecases.provision import Provisioner


@dataclass
class Services:
    db: Database
    config: IncidentConfig
    gateway: SlackGateway
    renderer: Renderer
    clock: Clock
    provisioner: Provisioner
    outbox: Outbox
    card_sync: CardSync
    pager: Pager

    @classmethod
    def build(cls, db: Database, config: IncidentConfig, gateway: SlackGateway, clock: Clock, renderer: Renderer | None = None) -> "Services":
        renderer = renderer or Renderer()
        card_sync = CardSync(db, gateway, renderer, config)
        outbox = Outbox(db, gateway, clock)
        outbox.register("sync_card", lambda _gateway, payload: card_sync.sync(int(payload["incident_id"])))
        provisioner = Provisioner(db, gateway, config, renderer, clock, card_sync)
        return cls(db, config, gateway, renderer, clock, provisioner, outbox, card_sync, RecordOnlyPager(clock))

    def background_sweep(self) -> None:
        """The periodic catch-up: unfinished declares, then Slack effects a crash or an outage left undone."""
        self.provisioner.sweep()
        self.outbox.drain()
