"""A store outage in the indexer's loop: one warning line when it starts, one line when the store
is back, no traceback and no "unexpected error" in between, however many retries fail.

The outages are real: PostgreSQL refuses connections to the test database (its open connections
are terminated), SQLite is locked by another connection holding its write lock."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from backend.db import engine as engine_module
from backend.db.engine import sqlite_path
from backend.indexer.indexer import run_in_thread
from tests.backend.store_outages import postgresql_refuses
from tests.utils.server_process import poll_until

INDEXER_LOGGER = "backend.indexer.indexer"


@contextmanager
def _sqlite_locked(engine: Engine) -> Iterator[None]:
    holder = sqlite3.connect(sqlite_path(engine.url.render_as_string()), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _outage(stores, engine: Engine):
    if stores.backend == "sqlite":
        return _sqlite_locked(engine)
    return postgresql_refuses(engine.url.database)


def test_indexer_run__store_outage__one_warning_line_then_one_recovery_line(
    anvil_chain, stores, make_indexer, caplog, monkeypatch
):
    # SQLite's busy timeout (10 s) shortened so that several retries fail during the outage.
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = stores.engine()
    indexer = make_indexer(engine, poll_interval=0.05)
    assert indexer.sync_once()
    caplog.set_level(logging.INFO, logger=INDEXER_LOGGER)

    thread, stop = run_in_thread(indexer)
    try:
        with _outage(stores, engine):
            anvil_chain.actions.register(anvil_chain.leader, "ipfs://during-the-outage")
            assert poll_until(lambda: indexer.stats.errors >= 3, 30), "the outage was not seen"
        head = anvil_chain.head()
        assert poll_until(lambda: indexer.stats.cursor == head, 30), "no recovery"
        assert poll_until(lambda: indexer.stats.last_error is None, 30)
    finally:
        stop.set()
        thread.join(timeout=30)

    records = [r for r in caplog.records if r.name == INDEXER_LOGGER]
    messages = [r.getMessage() for r in records]
    assert len([m for m in messages if "store unreachable" in m]) == 1, messages
    assert len([m for m in messages if "store reachable again" in m]) == 1, messages
    assert not [m for m in messages if "unexpected error" in m], messages  # the bug path's line
    assert all(r.exc_info is None for r in records), "a traceback was logged"
    assert indexer.cursor()[0] == head
