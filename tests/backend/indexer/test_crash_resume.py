"""A crash in the middle of a backfill, then a restart: the store ends up exactly as after an
uninterrupted run (no gap, no duplicate), because each range's rows and the cursor are committed
together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db.models import Event, IndexerCursor
from backend.indexer.projector import Projector
from tests.backend.helpers import assert_same_store, run_scenario
from tests.backend.indexer.conftest import index_up_to

REPO_ROOT = Path(__file__).resolve().parents[3]


class Crash(Exception):
    """Injected: the process dies here."""


def test_crash__mid_transaction__restart_gives_the_uninterrupted_store(
    anvil_chain, stores, make_indexer, monkeypatch
):
    run_scenario(anvil_chain)
    engine = stores.engine()
    flushes = {"n": 0}
    real_flush = Projector.flush

    def flush_then_crash(self):
        flushes["n"] += 1
        if flushes["n"] == 4:  # the 4th range's events are inserted; its derived rows are not
            raise Crash()
        return real_flush(self)

    monkeypatch.setattr(Projector, "flush", flush_then_crash)
    first = make_indexer(engine, block_range_initial=3, block_range_max=3)
    with pytest.raises(Crash):
        first.sync_once()
    cursor, _ = first.cursor()
    assert anvil_chain.deployment.start_block <= cursor < anvil_chain.head()
    with engine.connect() as conn:
        # Nothing of the failed range survived: no event past the cursor.
        assert conn.scalar(select(func.max(Event.block_number))) <= cursor
    partial = stores.engine()
    index_up_to(make_indexer, partial, anvil_chain, cursor)
    assert_same_store(engine, partial)

    monkeypatch.undo()
    second = make_indexer(engine, block_range_initial=7)  # a restart, with other range sizes
    assert second.sync_once()
    uninterrupted = stores.engine()
    assert make_indexer(uninterrupted).sync_once()
    assert_same_store(engine, uninterrupted)


def _cursor(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(IndexerCursor.block_number)) or -1


def test_crash__process_killed_mid_backfill__restart_gives_the_uninterrupted_store(
    anvil_chain, stores, make_indexer, tmp_path
):
    """A real crash: `copyvault index` in a subprocess, SIGKILLed while it backfills."""
    run_scenario(anvil_chain)
    anvil_chain.mine(400)  # enough one-block ranges for the kill to land mid-backfill
    run_scenario(anvil_chain, salt=100)
    deployment_file = tmp_path / "deployment.json"
    anvil_chain.deployment.save(deployment_file)
    url = stores.url()
    engine = stores.engine(url)  # migrated
    env = os.environ | {
        "COPYVAULT_DATABASE_URL": url,
        "COPYVAULT_RPC_URL": anvil_chain.node.url,
        "COPYVAULT_DEPLOYMENT_FILE": str(deployment_file),
        "COPYVAULT_CONFIRMATIONS": "0",
        "COPYVAULT_BLOCK_RANGE_INITIAL": "1",
        "COPYVAULT_BLOCK_RANGE_MAX": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "--log-level", "warning", "index", "--once"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    start = anvil_chain.deployment.start_block
    deadline = time.monotonic() + 120
    try:
        while _cursor(engine) < start + 60:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the indexer made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    killed_at = _cursor(engine)
    assert killed_at < anvil_chain.head(), "the backfill finished before the kill"

    resumed = make_indexer(engine)
    assert resumed.sync_once()
    uninterrupted = stores.engine()
    assert make_indexer(uninterrupted).sync_once()
    assert_same_store(engine, uninterrupted)
