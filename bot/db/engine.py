"""Engine creation and the unit of work: one transaction per use-case step, which starts delivery of the Slack
effects it queued as soon as it commits."""
from __future__ import annotations

from collections.abc import Callable, Iterator
import time
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from bot.priority import REQUESTS_FIRST, FirstInLine


# session.info keys: the incidents whose Slack effects this transaction queued (None for effects of no incident),
# and the ids of the queued effects that must not wait for the rest (pages).
QUEUED_FOR = "sevbot_queued_for"
URGENT_QUEUED = "sevbot_urgent_queued"


class Queued(NamedTuple):
    """What a committed transaction queued: the incidents its Slack effects belong to, and the ids of the urgent ones."""
    incidents: frozenset[int | None]
    urgent: tuple[int, ...] = ()


# Called after a commit that queued Slack effects.
AfterCommit = Callable[[Queued], None]


def note_queued(session: Session, incident_id: int | None) -> None:
    """Say that this transaction queued a Slack effect, so its commit starts delivery (see Database.unit_of_work)."""
    session.info.setdefault(QUEUED_FOR, set()).add(incident_id)


def note_urgent(session: Session, item_id: int) -> None:
    """Say that this transaction queued an urgent effect: its commit hands the id straight to delivery, ahead of
    everything else."""
    session.info.setdefault(URGENT_QUEUED, []).append(item_id)


def _queued(session: Session) -> Queued:
    return Queued(frozenset(session.info.get(QUEUED_FOR, ())), tuple(session.info.get(URGENT_QUEUED, ())))


def queued_in(session: Session) -> bool:
    """Whether this transaction has queued a Slack effect so far."""
    return bool(session.info.get(QUEUED_FOR))


# Every database wait is bounded, so a request that can't get its transaction through answers inside Slack's 3 s,
# truthfully: nothing was recorded. A lock held elsewhere fails a statement after LOCK_TIMEOUT; any statement after
# STATEMENT_TIMEOUT; a connection (new, or from a pool that is all in use) after CONNECT_TIMEOUT.
LOCK_TIMEOUT_MS = 1000
STATEMENT_TIMEOUT_MS = 2000
CONNECT_TIMEOUT_S = 2


class DatabaseBusy(OperationalError):
    """This process's own SQLite writer queue did not move within the timeout."""

    def __init__(self) -> None:
        super().__init__("waiting for the SQLite writer", None, Exception("write lock timeout"))


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database did not answer in time or is away (rather than a bug in a statement)."""
    return isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": STATEMENT_TIMEOUT_MS / 1000}, pool_size=20, max_overflow=10,
                               pool_timeout=CONNECT_TIMEOUT_S)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS}"
    engine = create_engine(url, pool_size=20, max_overflow=10, pool_timeout=CONNECT_TIMEOUT_S,
                           connect_args={"options": options, "connect_timeout": CONNECT_TIMEOUT_S})
    _ping_when_idle(engine)
    return engine


# A pooled connection idle longer than this is pinged before use (a server restart or a killed backend since), as
# SQLAlchemy's pool_pre_ping does for every checkout. One back in the pool for less had a working round trip that
# long ago: pinging it too would add a round trip to every ack, where each round trip under load waits to win the GIL back.
PING_AFTER_IDLE_S = 1.0
_RETURNED_AT = "sevbot_returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pessimistic disconnect handling (a checkout event that raises DisconnectionError, after which
    the pool connects afresh), with the dialect's own ping, for connections idle past PING_AFTER_IDLE_S only."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is not None and time.monotonic() - returned_at <= PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError() from exc
            raise


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={STATEMENT_TIMEOUT_MS}")
    cursor.close()


class Database:
    """Owns the engine; `unit_of_work()` commits on success and rolls back on any error.

    When a unit of work that queued Slack effects commits, `after_commit` (set by the composition root to start
    delivery) is called with the incidents they belong to: no use case has to remember to start it.

    SQLite has one writer at a time and makes the others poll with growing sleeps (up to 100 ms each), which
    wrecks latency under concurrency. One process per SQLite file is the supported shape, so a process-wide lock
    queues our own transactions instead: each waits only for the short transaction ahead of it, and requests and
    pages go ahead of background work (bot/priority.py FirstInLine).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock: FirstInLine | None = FirstInLine() if self.engine.dialect.name == "sqlite" else None
        self.after_commit: AfterCommit | None = None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for the hot paths (declare, provisioning, delivery).

        The ORM session costs several times more CPU per statement than the write itself; flows that only run
        prebuilt statements use this instead. Same commit/rollback rules and the same SQLite queue as unit_of_work.
        """
        REQUESTS_FIRST.step_aside()
        if self._write_lock is None:
            with self.engine.begin() as connection:
                yield connection
            return
        with self._writer(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A Core connection for one statement that needs no company (atomic on its own). On PostgreSQL it runs in
        autocommit: no BEGIN and COMMIT round trips. SQLite has no round trips to save, and switching a pooled
        connection to autocommit and back costs more than BEGIN and COMMIT (a PRAGMA as it goes back to the pool,
        inside the writer's turn: 107-132 against 76-85 µs of CPU per statement), so there it is a transaction."""
        if self._write_lock is not None:
            with self.transaction() as connection:
                yield connection
            return
        REQUESTS_FIRST.step_aside()
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection

    @contextmanager
    def unit_of_work(self, *, deliver: bool = True) -> Iterator[Session]:
        """One transaction. `deliver=False` is for a caller that starts one delivery pass itself after several
        (the scheduler tick), instead of one per commit."""
        REQUESTS_FIRST.step_aside()
        if self._write_lock is None:
            with self._session() as session:
                yield session
                queued = _queued(session)
        else:
            with self._writer(), self._session() as session:
                yield session
                queued = _queued(session)
        # Committed (an exception would have skipped this): deliver outside the SQLite write lock.
        if queued.incidents and deliver and self.after_commit is not None:
            self.after_commit(queued)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only, outside the SQLite writer queue: WAL readers never block the writer, so a slow
        read (a search) holds up no declare. Rolled back at the end; nothing it changes is kept."""
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """Our turn at SQLite's one writer, or DatabaseBusy once the wait is over the statement timeout."""
        assert self._write_lock is not None
        if not self._write_lock.acquire(timeout=STATEMENT_TIMEOUT_MS / 1000):
            raise DatabaseBusy()
        try:
            yield
        finally:
            self._write_lock.release()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def open_connections(self, count: int) -> None:
        """Open pooled connections at start (SQLite sets its pragmas, PostgreSQL forks a backend), not on a user's
        first requests."""
        opened = [self.engine.connect() for _ in range(count)]
        for connection in opened:
            connection.close()

    def dispose(self) -> None:
        self.engine.dispose()
