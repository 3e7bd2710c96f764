"""The cursor moves in one transaction with the rows of its blocks, and only from where it was."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from backend.db.engine import write_transaction
from backend.db.models import Block, Event, IndexerCursor, Vault
from backend.exceptions import IndexerError, StoreError
from backend.indexer.indexer import Indexer, IndexerConfig
from backend.indexer.projector import Projector
from tests.backend.helpers import dump_store, run_scenario


def _indexer(engine, anvil_chain, **config) -> Indexer:
    config.setdefault("confirmations", 0)
    return Indexer(
        engine, anvil_chain.client, anvil_chain.deployment, config=IndexerConfig(**config)
    )


def _counts(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(Event)),
            conn.scalar(select(func.count()).select_from(Vault)),
            conn.scalar(select(func.count()).select_from(Block)),
        )


def test_cursor__starts_before_the_start_block(anvil_chain, stores):
    engine = stores.engine()
    indexer = _indexer(engine, anvil_chain)
    indexer.prepare()
    assert indexer.cursor() == (anvil_chain.deployment.start_block - 1, None)


def test_cursor__a_failed_range_writes_nothing(anvil_chain, stores, monkeypatch):
    """Events, derived rows, blocks and the cursor: all of a range or none of it."""
    run_scenario(anvil_chain)
    engine = stores.engine()
    indexer = _indexer(engine, anvil_chain, block_range_initial=10_000)
    indexer.prepare()
    before = dump_store(engine)

    def fail(self):
        raise RuntimeError("injected failure after the events were inserted")

    monkeypatch.setattr(Projector, "flush", fail)
    with pytest.raises(RuntimeError, match="injected"):
        indexer.sync_once()
    assert dump_store(engine) == before
    assert _counts(engine) == (0, 0, 0)
    assert indexer.cursor() == (anvil_chain.deployment.start_block - 1, None)
    assert indexer.vaults == set()  # vaults found in the failed range are forgotten


def test_cursor__moves_only_from_where_it_was(anvil_chain, stores):
    """A second indexer on the same store (or a stale one) cannot write a range twice."""
    run_scenario(anvil_chain)
    engine = stores.engine()
    first, second = _indexer(engine, anvil_chain), _indexer(engine, anvil_chain)
    second.prepare()
    assert first.sync_once()
    events = _counts(engine)[0]
    with pytest.raises(IndexerError, match="another indexer"):
        second._index_one_range(anvil_chain.deployment.start_block - 1, anvil_chain.head())
    assert _counts(engine)[0] == events


def test_cursor__a_store_of_another_deployment_is_refused(anvil_chain, stores):
    engine = stores.engine()
    _indexer(engine, anvil_chain).prepare()
    with write_transaction(engine) as conn:
        conn.execute(update(IndexerCursor).values(factory="0x" + "12" * 20))
    with pytest.raises(StoreError, match="not this deployment's factory"):
        _indexer(engine, anvil_chain).prepare()


def test_cursor__hash_is_the_nodes_hash_of_that_block(anvil_chain, stores):
    run_scenario(anvil_chain)
    engine = stores.engine()
    indexer = _indexer(engine, anvil_chain, block_range_initial=5, block_range_max=5)
    assert indexer.sync_once()
    number, block_hash = indexer.cursor()
    assert number == anvil_chain.head()
    assert block_hash == anvil_chain.client.header(number).hash
    with engine.connect() as conn:
        stored = dict(conn.execute(select(Block.number, Block.hash)).all())
    headers = anvil_chain.client.headers(stored)
    assert all(headers[n].hash == h for n, h in stored.items())
