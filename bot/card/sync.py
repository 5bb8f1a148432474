"""The one living incident card (and the channel topic), re-rendered from the database and updated in place.

Every change the card shows bumps `card_version` and enqueues a `sync_card` (`bot.core.incident.card_changed`). A sync renders the newest state and
records the version it showed; if another change landed meanwhile it renders again, so the last word always wins.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from sqlalchemy import update

from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.db.models import Incident
from bot.render import Renderer
from bot.runbooks.registry import RunbookRegistry
from bot.slack.gateway import SlackGateway
from bot.core.incident import IncidentView, load_view
from bot.card import view as card_view

MAX_ROUNDS = 5


def render_card(renderer: Renderer, config: IncidentConfig, view: IncidentView, runbooks: RunbookRegistry | None = None) -> tuple[str, list[dict[str, Any]]]:
    offered = runbooks.offered(title=view.title, service=view.service, severity=view.severity) if runbooks else []
    context = card_view.card_context(view, config, [(r.name, r.title) for r in offered])
    return card_view.card_fallback(view, config), renderer.blocks("incident_card.json.j2", **context)


class CardSync:
    def __init__(self, db: Database, gateway: SlackGateway, renderer: Renderer, config: IncidentConfig,
                 runbooks: RunbookRegistry | None = None) -> None:
        self.runbooks = runbooks
        self.db = db
        self.gateway = gateway
        self.renderer = renderer
        self.config = config
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)

    def sync(self, incident_id: int) -> dict[str, Any]:
        # One sync per incident at a time in this process; versions make concurrent replicas converge too.
        with self._locks[incident_id]:
            for _ in range(MAX_ROUNDS):
                with self.db.unit_of_work() as session:
                    view = load_view(session, incident_id)
                if view.card_ts is None or view.channel_id is None:
                    return {"skipped": "card not posted yet; provisioning renders the newest state"}
                if view.card_synced_version >= view.card_version:
                    return {"version": view.card_synced_version}
                text, blocks = render_card(self.renderer, self.config, view, self.runbooks)
                self.gateway.update_message(view.channel_id, view.card_ts, text, blocks)
                topic = card_view.topic(view, self.config)
                if topic != view.topic:
                    self.gateway.set_topic(view.channel_id, topic)
                with self.db.unit_of_work() as session:
                    session.execute(
                        update(Incident)
                        .where(Incident.id == incident_id, Incident.card_synced_version < view.card_version)
                        .values(card_synced_version=view.card_version, topic=topic)
                    )
            return {"version": view.card_version}
