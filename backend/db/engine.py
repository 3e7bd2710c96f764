"""Engines and sessions for the store: SQLite (default, a file under the data folder) or PostgreSQL
through psycopg 3, chosen by the URL alone.

SQLite connections get WAL journaling (readers never wait for the indexer's writes), foreign keys
on (they are off by default in SQLite), synchronous=NORMAL (safe with WAL: a crash loses at most
the last commits, never consistency) and a busy timeout. Writers of one process queue for the
write lock in the process (`_SqliteWriterQueue`).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from backend.exceptions import StoreError

SQLITE_BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class StoreLimits:
    """How long one engine's users may wait on the store before giving up (the API's engine has
    short limits so that a busy store answers 503 quickly; the indexer's and relayer's engines keep
    the defaults: their work must get through). None leaves the driver's default."""

    pool_size: int = 5
    max_overflow: int = 10
    # Seconds to wait for a free connection of the pool (SQLAlchemy raises TimeoutError after).
    pool_timeout: float = 30.0
    # PostgreSQL: statement_timeout and lock_timeout of every connection, milliseconds.
    statement_timeout_ms: int | None = None
    lock_timeout_ms: int | None = None
    # SQLite: how long a writer waits for the database's write lock, milliseconds (None:
    # SQLITE_BUSY_TIMEOUT_MS, read when the engine is made).
    busy_timeout_ms: int | None = None


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    return on_connect


def _postgresql_timeouts(limits: StoreLimits) -> Callable[[Any, Any], None]:
    settings = {
        "statement_timeout": limits.statement_timeout_ms,
        "lock_timeout": limits.lock_timeout_ms,
    }

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            for name, value in settings.items():
                if value is not None:
                    cursor.execute("SELECT set_config(%s, %s, false)", (name, f"{int(value)}ms"))
        # set_config runs in a transaction: committed, it holds for the connection's life.
        dbapi_connection.commit()

    return on_connect


class _SqliteWriterQueue:
    """Writers of one engine wait for the write lock in a queue of this process, not in SQLite's
    busy handler, which sleeps up to 100 ms between tries: under 16 concurrent intents that sleep
    was most of the p99 (bench/intake.py). Other processes still meet at SQLite's lock.

    The lock is handed on when the holder's transaction ends (the engine's commit and rollback
    events), and also when its DBAPI connection goes back to the pool or is invalidated without
    either: a leaked lock would stop every writer of the process."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._lock = threading.Lock()
        self._guard = threading.Lock()  # makes "is it the holder? then clear" one step
        # The holder is only weakly referenced: a strong one would keep an abandoned connection
        # from the garbage collector, whose return of it to the pool hands the lock on.
        self._holder: weakref.ref[Connection] | None = None
        self._holder_dbapi: Any = None

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "begin", self.begin)
        event.listen(engine, "commit", self.end)
        event.listen(engine, "rollback", self.end)
        event.listen(engine.pool, "checkin", self.dbapi_released)
        event.listen(engine.pool, "invalidate", self.dbapi_released)

    def begin(self, conn: Connection) -> None:
        if not conn.get_execution_options().get("sqlite_immediate", False):
            conn.exec_driver_sql("BEGIN")
            return
        if not self._lock.acquire(timeout=self._timeout):
            # What SQLite itself says when its busy timeout runs out.
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                sqlite3.OperationalError("database is locked (by another writer of this process)"),
            )
        try:
            dbapi = conn.connection.dbapi_connection
            self._begin_immediate(dbapi)
        except BaseException:
            self._lock.release()
            raise
        with self._guard:
            self._holder, self._holder_dbapi = weakref.ref(conn), dbapi

    def _begin_immediate(self, dbapi: Any) -> None:
        """BEGIN IMMEDIATE, tried again every millisecond or so while another process holds the
        write lock, until the busy timeout. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20,
        25... up to 100 ms between tries, so a lock that another process (the other API worker,
        the indexer, the relayer) holds for a millisecond could cost a waiting writer tens of
        milliseconds. The handler is off only for this one statement."""
        deadline = time.monotonic() + self._timeout
        dbapi.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    dbapi.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.Error as exc:  # raised as SQLAlchemy would have wrapped it
                    busy = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
                    if not busy or time.monotonic() > deadline:
                        operational = isinstance(exc, sqlite3.OperationalError)
                        wrapper = OperationalError if operational else DBAPIError
                        raise wrapper("BEGIN IMMEDIATE", None, exc) from None
                time.sleep(random.uniform(0.0005, 0.0015))
        finally:
            dbapi.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")

    def end(self, conn: Connection) -> None:
        """The transaction ends (the event fires just before COMMIT or ROLLBACK is sent)."""
        self._release_if(lambda: self._holder is not None and self._holder() is conn)

    def dbapi_released(self, dbapi_connection: Any, *_: Any) -> None:
        self._release_if(
            lambda: dbapi_connection is not None and self._holder_dbapi is dbapi_connection
        )

    def _release_if(self, is_holder: Any) -> None:
        with self._guard:
            if self._holder_dbapi is None or not is_holder():
                return
            self._holder = self._holder_dbapi = None
        self._lock.release()


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory or other backends)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _pool_arguments(limits: StoreLimits, url: str) -> dict[str, Any]:
    if sqlite_path(url) is None and make_url(url).get_backend_name() == "sqlite":
        return {}  # in-memory SQLite: one shared connection, no queue to bound
    return {
        "pool_size": limits.pool_size,
        "max_overflow": limits.max_overflow,
        "pool_timeout": limits.pool_timeout,
    }


def create_store_engine(url: str, limits: StoreLimits | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` with its own pool bounded by `limits`; creates the SQLite file's folder
    when needed."""
    limits = limits or StoreLimits()
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    kwargs = _pool_arguments(limits, url) | kwargs
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        busy_ms = limits.busy_timeout_ms or SQLITE_BUSY_TIMEOUT_MS
        busy_seconds = busy_ms / 1000
        connect_args = {"check_same_thread": False, "timeout": busy_seconds}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(busy_ms))
        # pysqlite's own transaction handling is off (isolation_level None) and SQLAlchemy's begin
        # emits BEGIN itself: the recipe in SQLAlchemy's SQLite docs. Writers pass the execution
        # option `sqlite_immediate=True` (see `write_transaction`) to take the write lock at BEGIN,
        # so a read-then-write transaction never fails on a snapshot another writer moved.
        event.listen(
            engine,
            "connect",
            lambda dbapi_conn, _rec: setattr(dbapi_conn, "isolation_level", None),
        )
        _SqliteWriterQueue(busy_seconds).listen(engine)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise StoreError(
                f"PostgreSQL URLs must use the psycopg 3 driver: write postgresql+psycopg://... "
                f"(got {parsed.drivername})"
            )
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
        if limits.statement_timeout_ms is not None or limits.lock_timeout_ms is not None:
            event.listen(engine, "connect", _postgresql_timeouts(limits))
        return engine
    raise StoreError(
        f"unsupported database {backend!r}: use sqlite:///path.db or postgresql+psycopg://..."
    )


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction meant to write: committed on success, rolled back on error.
    On SQLite it takes the database's write lock at BEGIN (waiting up to the busy timeout)."""
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            yield conn


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def autocommit_engine(engine: Engine) -> Engine | None:
    """`engine` (its pool shared) with its connections in autocommit, each statement its own
    transaction, on PostgreSQL; None on SQLite, where a writer must take the lock at BEGIN
    (`write_transaction`) and a read transaction gives a session one snapshot."""
    if engine.dialect.name != "postgresql":
        return None
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def reading_engine(engine: Engine) -> Engine:
    """`engine` for sessions that only read (its pool shared). On PostgreSQL its connections run
    in autocommit: a read session's statements go without the BEGIN before them and the ROLLBACK
    after, two round trips that cost the database server more CPU than the reads themselves
    (bench/intake.py's Store CPU column). Under READ COMMITTED, the default, every statement
    takes its own snapshot either way, so what the reads see is the same. SQLite's BEGIN is no
    round trip, and there a transaction gives a session's reads one snapshot: unchanged."""
    autocommit = autocommit_engine(engine)
    return engine if autocommit is None else autocommit


def check_connection(engine: Engine) -> None:
    """Raise StoreError with a hint when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise StoreError(
            f"cannot connect to the store at {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}; check COPYVAULT_DATABASE_URL and that the server is running"
        ) from None


def is_store_outage(exc: BaseException) -> bool:
    """The database is unreachable or dropped the connection (not a bug in a statement).

    A lost connection can also surface as another driver error raised while it is cleaned up
    (psycopg, in the pool's ping after `pg_terminate_backend`: "connection socket closed", then
    "can't change 'autocommit' now", a ProgrammingError): the driver's own OperationalError or
    InterfaceError in the chain of causes is an outage too."""
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    seen, cause = set(), exc.orig
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if type(cause).__name__ in ("OperationalError", "InterfaceError"):  # DB-API 2.0 names
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def outage_reason(exc: BaseException) -> str:
    """The driver's first line: enough to name the outage, without SQL or a traceback."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"
