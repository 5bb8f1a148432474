"""Everything a command or job needs, built once at start and passed explicitly (no globals)."""
from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.render import Renderer
from bot.slack.gateway import SlackGateway
from bot.usecases.provision import Provisioner


@dataclass
class Services:
    db: Database
    config: IncidentConfig
    gateway: SlackGateway
    renderer: Renderer
    clock: Clock
    provisioner: Provisioner

    @classmethod
    def build(cls, db: Database, config: IncidentConfig, gateway: SlackGateway, clock: Clock, renderer: Renderer | None = None) -> "Services":
        renderer = renderer or Renderer()
        return cls(db, config, gateway, renderer, clock, Provisioner(db, gateway, config, renderer, clock))
