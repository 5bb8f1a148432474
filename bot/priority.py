"""Requests first: background work steps aside while a request is being answered in this process.

A request thread (an ack) and the background threads (provisioning, delivery, the scheduler) share one GIL. Each
round trip to the database or to Slack gives the GIL up, and winning it back means waiting for whichever other
thread holds it: with ten declares being provisioned, an ack that makes a few round trips waits behind many of
them (docs/performance.md). So background work, at the start of each step (a transaction, a Slack call), waits
while any request is in flight, but never longer than `MAX_WAIT_S`, so a steady stream of requests slows it down
and never starves it.

A page is as urgent as an ack (it wakes someone up): work inside `urgent()` never steps aside either.

The same order holds where threads queue for one resource: `FirstInLine` (SQLite's one writer, bot/db/engine.py)
hands itself to a waiting request or page before any other waiter.

One gate per process, because there is one GIL per process.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Longer than an ack takes alone (a few ms), short enough that background work under steady load still moves.
MAX_WAIT_S = 0.03


class RequestsFirst:
    def __init__(self, max_wait_s: float = MAX_WAIT_S) -> None:
        self._max_wait_s = max_wait_s
        self._idle = threading.Condition()
        self._in_flight = 0
        self._exempt = threading.local()  # this thread answers a request, or delivers a page: it never waits

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around the answer to one request, on its thread."""
        self._exempt.active = True
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            self._exempt.active = False
            with self._idle:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.notify_all()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Around background work that must not wait for requests (delivering a page), on its thread."""
        was = getattr(self._exempt, "active", False)
        self._exempt.active = True
        try:
            yield
        finally:
            self._exempt.active = was

    def exempt(self) -> bool:
        """Whether this thread answers a request or delivers a page."""
        return bool(getattr(self._exempt, "active", False))

    def step_aside(self) -> None:
        """Called by background work before each step: wait while requests are being answered (bounded). A request
        thread never waits for itself, nor does urgent work."""
        if self._in_flight == 0 or getattr(self._exempt, "active", False):
            return  # the unlocked read is a hint: at worst one step starts a moment early or waits a moment
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=self._max_wait_s)


REQUESTS_FIRST = RequestsFirst()


# How long background work lets requests and pages go ahead of it at the writer before it queues with them.
PATIENCE_S = 0.1


class FirstInLine:
    """A re-entrant lock whose waiters from requests and pages (`REQUESTS_FIRST.exempt()`) get it before the others,
    for up to `patience_s`; after that, a background waiter queues with them.

    With one plain lock, a page's transaction queued behind a dozen delivery threads' (an alert storm's message
    edits), however short each. Waiters of one class are woken in the order they came.
    """

    def __init__(self, gate: RequestsFirst = REQUESTS_FIRST, patience_s: float = PATIENCE_S) -> None:
        self._gate = gate
        self._patience_s = patience_s
        self._mutex = threading.Lock()
        self._first = threading.Condition(self._mutex)
        self._rest = threading.Condition(self._mutex)
        self._owner: int | None = None
        self._depth = 0
        self._first_waiting = 0

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        first = self._gate.exempt()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return True
            free = False
            if not first:
                # Behind requests and pages for a while, then in line with them: a storm never starves background
                # work past its own timeout (a delivery's claim, the scheduler's tick).
                free = self._rest.wait_for(lambda: self._owner is None and self._first_waiting == 0, min(timeout, self._patience_s))
                timeout -= self._patience_s
            if not free and timeout > 0:
                self._first_waiting += 1
                try:
                    free = self._first.wait_for(lambda: self._owner is None, timeout)
                finally:
                    self._first_waiting -= 1
            if not free:
                self._wake_next()  # a wake-up meant for us (just timed out) must not be lost
                return False
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._mutex:
            assert self._owner == threading.get_ident(), "released by a thread that does not hold it"
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._wake_next()

    def _wake_next(self) -> None:
        if self._owner is not None:
            return
        if self._first_waiting:
            self._first.notify()
        else:
            self._rest.notify()
