"""SQLite writers of one process queue for the write lock in the process (backend/db/engine.py):
the lock is handed on at every commit and rollback, a writer that waits too long gets SQLite's own
"database is locked", and a BEGIN that SQLite refuses does not keep the process's queue."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
import warnings

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from backend.db import engine as engine_module
from backend.db.engine import create_store_engine, write_transaction


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)


def _engine(tmp_path):
    engine = create_store_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with write_transaction(engine) as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    return engine


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM t")).scalar_one()


def test_writers__many_threads_at_once__all_commit_none_locked_out(tmp_path):
    engine = _engine(tmp_path)
    start, errors = threading.Barrier(16), []

    def write() -> None:
        start.wait()
        try:
            for _ in range(20):
                with write_transaction(engine) as conn:
                    conn.execute(text("INSERT INTO t VALUES (1)"))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert _count(engine) == 16 * 20


def test_writers__after_a_rollback__the_next_writer_goes_at_once(tmp_path, short_timeout):
    engine = _engine(tmp_path)
    with pytest.raises(RuntimeError):
        with write_transaction(engine) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("the writer fails before its commit")
    started = time.monotonic()
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert time.monotonic() - started < 0.25  # not the timeout: the lock was handed on
    assert _count(engine) == 1


def test_writers__one_waits_past_the_busy_timeout__database_is_locked(tmp_path, short_timeout):
    engine = _engine(tmp_path)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with write_transaction(engine) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(OperationalError, match="database is locked"):
            with write_transaction(engine) as conn:
                conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        release.set()
        holder.join(10)
    assert _count(engine) == 1  # the holder's row; nothing of the refused writer


def test_writers__sqlite_refuses_the_begin__the_queue_is_not_kept(tmp_path, short_timeout):
    """Another process holds SQLite's lock: our BEGIN IMMEDIATE fails, and must let go of the
    process's queue, or every later writer would wait for nothing."""
    engine = _engine(tmp_path)
    other_process = sqlite3.connect(tmp_path / "writers.db", isolation_level=None, timeout=0)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            with write_transaction(engine) as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert _count(engine) == 1


def test_writers__connection_invalidated_mid_transaction__the_queue_is_not_kept(
    tmp_path, short_timeout
):
    """A connection dropped while it holds the lock (what SQLAlchemy does on a disconnect error)
    never sends COMMIT or ROLLBACK: the lock must still be handed on."""
    engine = _engine(tmp_path)
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_immediate=True)
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.invalidate()
    started = time.monotonic()
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert time.monotonic() - started < 0.25
    assert _count(engine) == 1  # the dropped transaction's row is gone


def test_writers__connection_dropped_without_closing__the_queue_is_not_kept(
    tmp_path, short_timeout
):
    """A connection left to the garbage collector mid-transaction: the pool takes it back (and
    rolls it back), and the lock goes with it."""
    engine = _engine(tmp_path)

    def abandon() -> None:
        conn = engine.connect().execution_options(sqlite_immediate=True)
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (1)"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy warns about the abandoned connection
        abandon()
        gc.collect()
    started = time.monotonic()
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert time.monotonic() - started < 0.25
    assert _count(engine) == 1


def test_writers__another_process_lets_go__our_writer_in_within_milliseconds(tmp_path):
    """Another process (another API worker) holds the write lock for 250 ms. SQLite's own busy
    handler would try again only at 328 ms (it sleeps 1, 2, 5, ... 25, 50, 50, 100 ms between
    tries): 78 ms late. The writer tries every millisecond or so instead."""
    engine = _engine(tmp_path)
    other_process = sqlite3.connect(
        tmp_path / "writers.db", isolation_level=None, timeout=0, check_same_thread=False
    )
    other_process.execute("BEGIN IMMEDIATE")
    released: list[float] = []

    def let_go() -> None:
        time.sleep(0.25)
        other_process.execute("ROLLBACK")
        released.append(time.monotonic())

    releaser = threading.Thread(target=let_go)
    releaser.start()
    try:
        with write_transaction(engine) as conn:
            acquired = time.monotonic()
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        releaser.join(10)
        other_process.close()
    assert 0 <= acquired - released[0] < 0.04, acquired - released[0]
    assert _count(engine) == 1
    # The busy timeout is back for every other statement of the connection.
    with engine.connect() as conn:
        busy_ms = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    assert busy_ms == engine_module.SQLITE_BUSY_TIMEOUT_MS
