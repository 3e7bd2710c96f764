"""Indexer test helpers: build indexers with test-friendly settings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from backend.chain.client import ChainClient
from backend.indexer.indexer import Indexer, IndexerConfig


@pytest.fixture
def make_indexer(anvil_chain) -> Callable[..., Indexer]:
    """An indexer over `chain` into `engine`; no confirmations unless asked for."""

    def _make(engine: Engine, client: ChainClient | None = None, **config) -> Indexer:
        config.setdefault("confirmations", 0)
        return Indexer(
            engine,
            client or anvil_chain.client,
            anvil_chain.deployment,
            config=IndexerConfig(**config),
        )

    return _make


def index_up_to(make_indexer, engine: Engine, anvil_chain, block: int, **config) -> Indexer:
    """Index `chain` into `engine` up to `block` exactly (by asking for enough confirmations)."""
    indexer = make_indexer(engine, confirmations=anvil_chain.head() - block, **config)
    assert indexer.sync_once()
    assert indexer.cursor()[0] == block
    return indexer
