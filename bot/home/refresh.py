"""Keeping Home tabs current, at a bounded rate: at most one `views.publish` per person per `interval` seconds.

A person's tab is published when they open it, when a click on it needs an answer (shown at the top, since a Home
tab click has no response_url), and when something it shows may have changed: the composition root calls
`changed()` after every commit that queued Slack effects (a declare's provisioning, a page started, escalated or
acknowledged, a role handed over, a resolve…) and after a tick that fired timers. Requests inside the interval
coalesce into one publish at its end; a view identical to the last one published is not sent again.

Who gets refreshed: the people who opened the tab in the last `keep` (at most `max_viewers`, the least recent
forgotten first), remembered in this process. Another replica's viewers are refreshed by that replica's commits, or
the next time they open the tab (Slack sends `app_home_opened` each time).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0
KEEP_SECONDS = 12 * 3600.0
MAX_VIEWERS = 2000

Render = Callable[[str, str | None], dict[str, Any]]
Publish = Callable[[str, dict[str, Any]], None]
RunLater = Callable[..., None]


@dataclass
class _Viewer:
    seen_at: float
    last_publish: float = float("-inf")
    scheduled: bool = False
    notice: str | None = None
    last_digest: str | None = None
    # One publish at a time per person, so a slow one can't land after (and over) a newer one.
    publishing: threading.Lock = field(default_factory=threading.Lock)


class HomeRefresher:
    def __init__(self, render: Render, publish: Publish, run_later: RunLater, *, interval: float = INTERVAL_SECONDS,
                 keep: float = KEEP_SECONDS, max_viewers: int = MAX_VIEWERS, now: Callable[[], float] = time.monotonic) -> None:
        self.render, self.publish, self.run_later = render, publish, run_later
        self.interval, self.keep, self.max_viewers, self.now = interval, keep, max_viewers, now
        self._lock = threading.Lock()
        self._viewers: dict[str, _Viewer] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._stopped = False

    # -- what asks for a publish -------------------------------------------------------------------------------

    def opened(self, user: str, *, shown: bool = True) -> None:
        """The person opened the Home tab (`shown=False`: Slack has no view of ours to show them, so send one even
        if it would be the same as the last)."""
        with self._lock:
            viewer = self._remember(user)
            if not shown:
                viewer.last_digest = None
        self._request(user)

    def answer(self, user: str, text: str) -> None:
        """The answer to a click on the tab, shown at its top on the next publish."""
        with self._lock:
            viewer = self._remember(user)
            viewer.notice, viewer.last_digest = text, None
        self._request(user)

    def changed(self, users: Iterable[str] | None = None) -> None:
        """What the tab shows may have changed: refresh everyone who has it (or these people, if they have it)."""
        with self._lock:
            horizon = self.now() - self.keep
            for stale in [u for u, v in self._viewers.items() if v.seen_at < horizon and not v.scheduled]:
                del self._viewers[stale]
            targets = list(self._viewers) if users is None else [u for u in users if u in self._viewers]
        for user in targets:
            self._request(user)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()

    # -- the rate limit -----------------------------------------------------------------------------------------

    def _remember(self, user: str) -> _Viewer:
        viewer = self._viewers.get(user)
        if viewer is None:
            viewer = self._viewers[user] = _Viewer(seen_at=self.now())
            if len(self._viewers) > self.max_viewers:
                idle = sorted((v.seen_at, u) for u, v in self._viewers.items() if not v.scheduled and u != user)
                for _, forgotten in idle[: len(self._viewers) - self.max_viewers]:
                    del self._viewers[forgotten]
        viewer.seen_at = self.now()
        return viewer

    def _request(self, user: str) -> None:
        with self._lock:
            viewer = self._viewers.get(user)
            if viewer is None or viewer.scheduled or self._stopped:
                return  # a publish is already on its way: it will show this change too
            viewer.scheduled = True
            wait = viewer.last_publish + self.interval - self.now()
            if wait > 0:
                timer = threading.Timer(wait, self._due, args=(user,))
                timer.daemon = True
                self._timers[user] = timer
                timer.start()
                return
        self.run_later(self._publish, user)

    def _due(self, user: str) -> None:
        with self._lock:
            self._timers.pop(user, None)
            if self._stopped:
                return
        self.run_later(self._publish, user)

    def _publish(self, user: str) -> None:
        with self._lock:
            viewer = self._viewers.get(user)
        if viewer is None:
            return
        with viewer.publishing:
            self._publish_now(user, viewer)

    def _publish_now(self, user: str, viewer: _Viewer) -> None:
        with self._lock:
            # From here a new change schedules the next publish, one interval after this one.
            viewer.scheduled, viewer.last_publish = False, self.now()
            notice, viewer.notice = viewer.notice, None
        view = self.render(user, notice)
        digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
        with self._lock:
            if viewer.last_digest == digest:
                return
            viewer.last_digest = digest
        try:
            self.publish(user, view)
        except Exception as exc:
            with self._lock:
                viewer.last_digest = None  # whatever Slack shows now, the next request sends the view again
            log.warning("could not publish the Home tab of %s: %s", user, exc)
