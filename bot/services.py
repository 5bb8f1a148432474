"""Everything a command or job needs, built once at start and passed explicitly (no globals)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.render import Renderer
from bot.runbooks.registry import RunbookRegistry
from bot.scheduler.timing import Timing
from bot.slack.gateway import SlackGateway
from bot.outbox import Outbox
from bot.paging import Pager, RecordOnlyPager
from bot.usecases.card import CardSync
from bot.usecases.provision import Provisioner


# Connections opened at start: enough for a burst of declares with their provisioning steps in flight.
WARM_CONNECTIONS = 10


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
    runbooks: RunbookRegistry
    timing: Timing
    _delivering: threading.Lock = field(default_factory=threading.Lock)
    # Each declare holds a worker while Slack answers its steps (~150 ms of waiting, a few ms of work), so the pool is
    # sized for declares in flight, not for CPU: 16 provisions ~100 declares/s (Slack allows ~20 channels a minute),
    # and each idle thread costs memory (docs/performance.md: 8 workers queued declares; 32 cost 2-3 MiB in a burst).
    _background: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=16, thread_name_prefix="sevbot-work"))

    @classmethod
    def build(cls, db: Database, config: IncidentConfig, gateway: SlackGateway, clock: Clock, renderer: Renderer | None = None,
              runbooks: RunbookRegistry | None = None, timing: Timing | None = None) -> "Services":
        renderer = renderer or Renderer()
        runbooks = runbooks or RunbookRegistry()
        card_sync = CardSync(db, gateway, renderer, config, runbooks)
        outbox = Outbox(db, gateway, clock)
        outbox.register("sync_card", lambda _gateway, payload: card_sync.sync(int(payload["incident_id"])))
        provisioner = Provisioner(db, gateway, config, renderer, clock, card_sync)
        services = cls(db, config, gateway, renderer, clock, provisioner, outbox, card_sync, RecordOnlyPager(clock), runbooks,
                       timing or Timing(config))
        # Flows that are use cases over Services plug in here (they import Services, so they come after it).
        from bot.runbooks.runs import RunbookMessages
        from bot.usecases.paging import LadderPager, deliver_page, post_in_incident_channel

        runbook_messages = RunbookMessages(services)
        outbox.register("runbook_sync", lambda _gateway, payload: runbook_messages.sync(int(payload["run_id"])))
        outbox.register("page_dm", lambda _gateway, payload: deliver_page(services, payload))
        outbox.register("incident_post", lambda _gateway, payload: post_in_incident_channel(services, payload))
        services.pager = LadderPager(services)
        return services

    def run_later(self, work: Callable[..., object], *args: object) -> None:
        """Slow work after the ack (Slack calls), off the request thread; errors are logged, never swallowed."""
        self._background.submit(_logged, work, *args)

    def deliver_backlog(self) -> None:
        """Start one background delivery pass over every due Slack effect, unless one is already running here."""
        if not self._delivering.acquire(blocking=False):
            return

        def deliver() -> None:
            while True:
                try:
                    self.outbox.drain(until_empty=True)
                finally:
                    self._delivering.release()
                # A tick that enqueued while we were busy skipped starting its own pass: look once more.
                if not self.outbox.has_due() or not self._delivering.acquire(blocking=False):
                    return

        self.run_later(deliver)

    def shutdown(self) -> None:
        """Let work already handed over finish (it holds leases and would otherwise be swept later)."""
        self._background.shutdown(wait=True)
        self.provisioner.shutdown()

    def provision(self, incident_id: int, has_outbox: bool = True) -> None:
        """Drive Slack for a new incident, then deliver whatever waited for its channel (e.g. the page line).

        `has_outbox=False` (the declare queued nothing) skips the look: the tick's delivery pass and the sweep
        still catch anything queued meanwhile."""
        self.provisioner.run(incident_id)
        if has_outbox:
            self.outbox.drain(incident_id)

    def warm_caches(self) -> None:
        """Look up the responder user groups and compile the templates at start, so no declare waits on either."""
        self.renderer.preload()
        self.db.open_connections(WARM_CONNECTIONS)
        groups = {r for severity in self.config.severities.values() for r in severity.responders if r.startswith("S")}
        for group in sorted(groups):
            try:
                self.gateway.usergroup_members(group)
            except Exception as exc:  # a bad group id must not stop start-up; declare will report it
                logging.getLogger("sevbot").warning("could not look up user group %s: %s", group, exc)

    def background_sweep(self) -> None:
        """The periodic catch-up: unfinished declares, then Slack effects a crash or an outage left undone."""
        self.provisioner.sweep()
        self.outbox.drain()


def _logged(work: Callable[..., object], *args: object) -> None:
    try:
        work(*args)
    except Exception:
        logging.getLogger("sevbot.work").exception("background work %s failed", getattr(work, "__qualname__", work))
