"""Keeping Home tabs current on every replica, at a bounded rate: at most one `views.publish` per person per
`interval` seconds, whichever replica sends it.

A person's tab is published when they open it, when a click on it needs an answer (shown at the top, since a Home
tab click has no response_url), and when something it shows may have changed: the composition root calls
`changed()` after every commit that queued Slack effects (a declare's provisioning, a page started, escalated or
acknowledged, a role handed over, a resolve…) and after a tick that fired timers. Requests inside the interval
coalesce into one publish at its end; a view identical to the last one published is not sent again.

Who gets refreshed: the people who opened the tab in the last `keep` (at most `max_viewers`, the least recent
forgotten first), kept in the database (`home_viewers`, bot/home/viewers.py) so that every replica knows them all:
- `opened()` and `answer()` return at once (the `app_home_opened` ack waits for nothing); on the background pool the
  person's row is marked as owed a publish, and a publish is claimed.
- `changed()` marks every viewer not already owed one, in one UPDATE, whichever replica opened their tab; the replica
  that marked them claims their publishes, now or (a local timer) when their interval ends. A burst of commits
  marks once: at most one mark every `MARK_EVERY_SECONDS` per process.
- A claim is a conditional UPDATE: only while a publish is owed and the last one is older than the interval, so of
  two replicas exactly one publishes a change, and the bound holds across replicas (their clocks are assumed in
  sync, as the timers' due times already assume). The claim takes the notice to show; the digest of what was sent is
  stored, so no replica resends an identical view.
- Every replica's scheduler tick runs one indexed query for viewers still owed a publish whose interval is over
  (`publish_due`): the catch-up when the replica that marked them stopped before publishing.

On SQLite (one process) the same rows and statements run; nothing is shared, and behaviour is as before.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.home.viewers import ViewerStore

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0
KEEP_SECONDS = 12 * 3600.0
MAX_VIEWERS = 2000
FORGET_EVERY_SECONDS = 60.0  # how often a process deletes viewers not seen for `keep`
# Marks at most this often per process: a burst of commits (an alert storm, ten declares) makes one, well inside the
# per-person interval, instead of a look at the database per commit.
MARK_EVERY_SECONDS = 0.25
DUE_BATCH = 500  # viewers claimed per tick at most; the rest on the next one
RETRY_SECONDS = 0.1  # a claim lost to a concurrent one that has not committed yet: look again this soon

Render = Callable[[str, str | None], dict[str, Any]]
Publish = Callable[[str, dict[str, Any]], None]
RunLater = Callable[..., None]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def digest_of(view: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()


class HomeRefresher:
    def __init__(self, store: ViewerStore, render: Render, publish: Publish, run_later: RunLater, *,
                 interval: float = INTERVAL_SECONDS, keep: float = KEEP_SECONDS, max_viewers: int = MAX_VIEWERS,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self.store, self.render, self.publish, self.run_later = store, render, publish, run_later
        self.interval, self.keep, self.max_viewers, self.now = interval, keep, max_viewers, now
        self._lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}  # a claim to try when the person's interval ends
        self._queued: set[str] = set()  # claims handed to the pool and not started yet
        self._mark_all = False
        self._mark_users: set[str] = set()
        self._mark_queued = False
        self._marked_at = float("-inf")
        self._forgot_at = float("-inf")
        self._stopped = False

    # -- what asks for a publish -------------------------------------------------------------------------------

    def opened(self, user: str, *, shown: bool = True) -> None:
        """The person opened the Home tab (`shown=False`: Slack has no view of ours to show them, so send one even
        if it would be the same as the last). Called on the request path: the database work runs on the pool."""
        if not self._stopped:
            self.run_later(self._seen, user, not shown, None)

    def answer(self, user: str, text: str) -> None:
        """The answer to a click on the tab, shown at its top on the next publish."""
        if not self._stopped:
            self.run_later(self._seen, user, True, text)

    def changed(self, users: Iterable[str] | None = None) -> None:
        """What the tab shows may have changed: refresh everyone who has it (or these people, if they have it)."""
        with self._lock:
            if users is None:
                self._mark_all = True
            else:
                self._mark_users.update(users)
            if self._mark_queued or self._stopped:
                return  # a mark is queued and not started: it will cover this change too
            self._mark_queued = True
            wait = self._marked_at + MARK_EVERY_SECONDS - time.monotonic()
        if wait <= 0:
            self.run_later(self._mark)
            return
        timer = threading.Timer(wait, self.run_later, args=(self._mark,))
        timer.daemon = True
        timer.start()

    def publish_due(self) -> None:
        """The tick: claim the publishes owed to viewers whose interval is over (one indexed query), and now and
        then forget viewers not seen for `keep`."""
        if self._stopped:
            return
        for user in self.store.due(self.now() - timedelta(seconds=self.interval), DUE_BATCH):
            self._claim_later(user)
        self._maybe_forget()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()

    # -- marking -----------------------------------------------------------------------------------------------

    def _seen(self, user: str, resend: bool, notice: str | None) -> None:
        self.store.seen(user, self.now(), resend=resend, notice=notice)
        self._claim(user)
        self._maybe_forget()

    def _mark(self) -> None:
        with self._lock:
            everyone, users = self._mark_all, self._mark_users
            self._mark_all, self._mark_users, self._mark_queued = False, set(), False
            self._marked_at = time.monotonic()
            if self._stopped or not (everyone or users):
                return
        now = self.now()
        marked = self.store.mark_dirty(now, now - timedelta(seconds=self.keep), None if everyone else users)
        for user, published_at in marked:
            wait = 0.0 if published_at is None else (published_at - now).total_seconds() + self.interval
            if wait > 0:
                self._claim_at(user, wait)
            else:
                self._claim_later(user)

    # -- claiming ----------------------------------------------------------------------------------------------

    def _claim_at(self, user: str, wait: float) -> None:
        with self._lock:
            if self._stopped or user in self._timers:
                return  # already coming back for them at the end of the same interval
            timer = threading.Timer(wait, self._due, args=(user,))
            timer.daemon = True
            self._timers[user] = timer
        timer.start()

    def _due(self, user: str) -> None:
        with self._lock:
            self._timers.pop(user, None)
        self._claim_later(user)

    def _claim_later(self, user: str) -> None:
        with self._lock:
            if self._stopped or user in self._queued:
                return
            self._queued.add(user)
        self.run_later(self._claim_queued, user)

    def _claim_queued(self, user: str) -> None:
        with self._lock:
            self._queued.discard(user)
        self._claim(user)

    def _claim(self, user: str) -> None:
        if self._stopped:
            return
        now = self.now()
        claim = self.store.claim(user, now, now - timedelta(seconds=self.interval))
        if claim is None:
            # Nothing owed, or published less than an interval ago (here or by another replica): if one is still
            # owed, come back when the interval ends; whoever claims first then sends it.
            owed, published_at = self.store.owed(user)
            if owed:
                wait = RETRY_SECONDS if published_at is None else (published_at - self.now()).total_seconds() + self.interval
                self._claim_at(user, max(wait, RETRY_SECONDS))
            return
        view = self.render(user, claim.notice)
        digest = digest_of(view)
        if digest == claim.digest:
            return  # the claim still starts the interval: the next change waits for its end, as if sent
        try:
            self.publish(user, view)
        except Exception as exc:
            self.store.published(user, claim.at, None)  # whatever Slack shows now, the next publish sends the view
            log.warning("could not publish the Home tab of %s: %s", user, exc)
            return
        self.store.published(user, claim.at, digest)

    def _maybe_forget(self) -> None:
        with self._lock:
            if time.monotonic() - self._forgot_at < FORGET_EVERY_SECONDS:
                return
            self._forgot_at = time.monotonic()
        self.store.forget(self.now() - timedelta(seconds=self.keep), self.max_viewers)
