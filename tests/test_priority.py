"""Requests first (bot/priority.py): background work steps aside while a request is answered, within a bound."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from bot.priority import FirstInLine, RequestsFirst


def _background_wait(gate: RequestsFirst) -> float:
    took: list[float] = []

    def step() -> None:
        started = time.perf_counter()
        gate.step_aside()
        took.append(time.perf_counter() - started)
    thread = threading.Thread(target=step)
    thread.start()
    thread.join(timeout=5)
    return took[0]


def test_no_request_in_flight_means_no_wait() -> None:
    assert _background_wait(RequestsFirst(max_wait_s=1.0)) < 0.5


@contextmanager
def _request_in_flight(gate: RequestsFirst) -> Iterator[threading.Event]:
    """A request being answered on another thread until the yielded event is set (or the block ends)."""
    entered, release = threading.Event(), threading.Event()

    def request() -> None:
        with gate.answering():
            entered.set()
            release.wait(5)
    answering = threading.Thread(target=request)
    answering.start()
    entered.wait(5)
    try:
        yield release
    finally:
        release.set()
        answering.join(5)


def test_background_waits_for_the_request_to_be_answered() -> None:
    gate = RequestsFirst(max_wait_s=5.0)
    with _request_in_flight(gate) as release:
        threading.Timer(0.2, release.set).start()
        waited = _background_wait(gate)
    assert 0.15 <= waited < 4.0  # released by the answer, long before the bound


def test_the_wait_is_bounded_under_a_steady_stream_of_requests() -> None:
    gate = RequestsFirst(max_wait_s=0.1)
    with _request_in_flight(gate):
        waited = _background_wait(gate)
    assert 0.08 <= waited < 2.0


def test_a_request_thread_never_waits_for_itself() -> None:
    gate = RequestsFirst(max_wait_s=5.0)
    with gate.answering():
        started = time.perf_counter()
        gate.step_aside()  # e.g. the declare's own transaction, on the request thread
        assert time.perf_counter() - started < 1.0


def test_urgent_work_never_waits_and_the_thread_goes_back_to_stepping_aside() -> None:
    gate = RequestsFirst(max_wait_s=5.0)
    with _request_in_flight(gate) as release:
        started = time.perf_counter()
        with gate.urgent():  # a page being delivered, on a background thread
            gate.step_aside()
        assert time.perf_counter() - started < 1.0
        threading.Timer(0.2, release.set).start()
        waited_after = time.perf_counter()
        gate.step_aside()  # the same thread, no longer urgent: waits for the answer again
        assert time.perf_counter() - waited_after >= 0.15


# -- FirstInLine: SQLite's writer queue -------------------------------------------------------------------------

def test_first_in_line_is_reentrant_and_times_out() -> None:
    lock = FirstInLine(RequestsFirst())
    assert lock.acquire(1.0) and lock.acquire(1.0), "the holder takes it again (a unit of work inside a transaction)"
    others: list[bool] = []
    other = threading.Thread(target=lambda: others.append(lock.acquire(0.1)))
    other.start()
    other.join(5)
    assert others == [False], "held elsewhere: the wait ends at its timeout"
    lock.release()
    lock.release()
    taken = threading.Thread(target=lambda: others.append(lock.acquire(1.0)))
    taken.start()
    taken.join(5)
    assert others == [False, True], "free again once released as often as taken"


class _Writers:
    """Threads taking turns at one FirstInLine (held by the test until it lets go), noting the order they got it."""

    def __init__(self, patience_s: float) -> None:
        self.gate = RequestsFirst()
        self.lock = FirstInLine(self.gate, patience_s=patience_s)
        assert self.lock.acquire(1.0)
        self.order: list[str] = []
        self.threads: list[threading.Thread] = []

    def queue(self, name: str, *, urgent: bool) -> None:
        def take_turn() -> None:
            with (self.gate.urgent() if urgent else nullcontext()):
                assert self.lock.acquire(5.0)
            self.order.append(name)
            self.lock.release()
        thread = threading.Thread(target=take_turn)
        thread.start()
        self.threads.append(thread)

    def until_in_first_line(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while self.lock._first_waiting < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.lock._first_waiting == count

    def let_go(self) -> list[str]:
        self.lock.release()
        for thread in self.threads:
            thread.join(5)
        return self.order


def test_a_request_waiting_for_the_writer_goes_before_background_work_that_queued_earlier() -> None:
    writers = _Writers(patience_s=30.0)
    for n in range(3):
        writers.queue(f"background {n}", urgent=False)
    time.sleep(0.2)  # all three are queued
    writers.queue("page", urgent=True)
    writers.until_in_first_line(1)
    order = writers.let_go()
    assert order[0] == "page" and sorted(order[1:]) == ["background 0", "background 1", "background 2"]


def test_background_work_waits_behind_requests_only_so_long_then_queues_with_them() -> None:
    writers = _Writers(patience_s=0.2)
    writers.queue("background", urgent=False)
    writers.until_in_first_line(1)  # its patience ran out: it queues with requests now
    writers.queue("request", urgent=True)
    writers.until_in_first_line(2)
    order = writers.let_go()
    assert order == ["background", "request"], "in the order they came, once the background waiter's patience ran out"
