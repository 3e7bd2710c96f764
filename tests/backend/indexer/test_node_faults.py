"""A node that errors, drops connections, answers late or refuses large queries: the indexer
retries with backoff, never moves its cursor past blocks it did not index, and ends with the same
store as against a healthy node."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from backend.chain.client import ChainClient
from backend.db.models import Event
from backend.exceptions import ChainUnavailableError
from tests.backend.faults import FaultProxy, Request, get_logs_span
from tests.backend.helpers import assert_same_store, run_scenario
from tests.backend.indexer.conftest import index_up_to


@pytest.fixture
def proxy(anvil_chain):
    p = FaultProxy(anvil_chain.node.url).start()
    yield p
    p.stop()


def _client(proxy: FaultProxy, sleeps: list[float] | None = None, **kwargs) -> ChainClient:
    kwargs.setdefault("timeout", 0.5)
    kwargs.setdefault("retries", 8)
    return ChainClient(
        proxy.url,
        backoff_initial=0.01,
        backoff_max=0.05,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        jitter=lambda: 1.0,
        **kwargs,
    )


def test_faults__errors_drops_and_timeouts_are_retried__same_store(
    anvil_chain, stores, make_indexer, proxy
):
    run_scenario(anvil_chain)
    rng = random.Random(7)
    faults = ["http500", "http503", "http429", "drop", "slow", "garbage"]
    upcoming = iter(faults)  # each kind at least once, then at random

    def flaky(request: Request) -> str | None:
        if rng.random() >= 0.3:
            return None
        return next(upcoming, None) or rng.choice(faults)

    proxy.plan = flaky
    proxy.slow_seconds = 1.0  # past the client's 0.5 s timeout
    engine = stores.engine()
    indexer = make_indexer(engine, _client(proxy), block_range_initial=4, block_range_max=4)
    assert indexer.sync_once()
    assert set(proxy.faults()) == set(faults)

    clean = stores.engine()
    assert make_indexer(clean).sync_once()
    assert_same_store(engine, clean)


def test_faults__node_down__cursor_stops_at_the_last_indexed_block(
    anvil_chain, stores, make_indexer, proxy
):
    run_scenario(anvil_chain)
    served = {"getLogs": 0}

    def dies_after_three_ranges(request: Request) -> str | None:
        if request.method == "eth_getLogs":
            served["getLogs"] += 1
        return "http503" if served["getLogs"] > 3 else None

    proxy.plan = dies_after_three_ranges
    engine = stores.engine()
    indexer = make_indexer(
        engine, _client(proxy, retries=2), block_range_initial=5, block_range_max=5
    )
    with pytest.raises(ChainUnavailableError, match="did not answer eth_getLogs after 3 attempts"):
        indexer.sync_once()
    cursor, cursor_hash = indexer.cursor()
    start = anvil_chain.deployment.start_block
    assert cursor == start + 3 * 5 - 1  # three whole ranges, nothing of the fourth
    assert cursor_hash == anvil_chain.client.header(cursor).hash
    with engine.connect() as conn:
        assert conn.scalar(select(func.max(Event.block_number))) <= cursor

    # Exactly what a healthy node gives up to that block...
    clean = stores.engine()
    index_up_to(make_indexer, clean, anvil_chain, cursor)
    assert_same_store(engine, clean)

    # ...and once the node is back, the rest, with no gap and no duplicate.
    proxy.plan = lambda request: None
    assert indexer.sync_once()
    fresh = stores.engine()
    assert make_indexer(fresh).sync_once()
    assert_same_store(engine, fresh)


def test_faults__backoff_is_exponential_and_capped(proxy):
    proxy.plan = lambda request: "http500"
    sleeps: list[float] = []
    client = ChainClient(
        proxy.url,
        timeout=1,
        retries=6,
        backoff_initial=0.25,
        backoff_max=2.0,
        sleep=sleeps.append,
        jitter=lambda: 1.0,
    )
    with pytest.raises(ChainUnavailableError, match="after 7 attempts"):
        client.block_number()
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert len(proxy.log) == 7


def test_faults__backoff_has_jitter(proxy):
    proxy.plan = lambda request: "http500"
    sleeps: list[float] = []
    client = ChainClient(
        proxy.url, retries=20, backoff_initial=1.0, backoff_max=1.0, sleep=sleeps.append
    )
    with pytest.raises(ChainUnavailableError):
        client.chain_id()
    assert all(0.5 <= s <= 1.0 for s in sleeps)
    assert len(set(sleeps)) > 1


def test_faults__range_refused_as_too_large__ranges_halve(anvil_chain, stores, make_indexer, proxy):
    run_scenario(anvil_chain)

    def small_ranges_only(request: Request) -> str | None:
        span = get_logs_span(request)
        return "too_large" if span is not None and span > 3 else None

    proxy.plan = small_ranges_only
    engine = stores.engine()
    indexer = make_indexer(engine, _client(proxy), block_range_initial=64, block_range_max=64)
    assert indexer.sync_once()
    assert indexer.stats.range_too_large >= 5  # 64 -> 32 -> 16 -> 8 -> 4 -> 2
    assert indexer.range_size <= 3
    answered = [get_logs_span(r) for r, fault in proxy.log if fault is None]
    assert max(span for span in answered if span is not None) <= 3

    clean = stores.engine()
    assert make_indexer(clean).sync_once()
    assert_same_store(engine, clean)


def test_faults__ranges_grow_back_after_small_answers(anvil_chain, stores, make_indexer):
    anvil_chain.mine(200)
    engine = stores.engine()
    indexer = make_indexer(engine, block_range_initial=2, block_range_max=64)
    assert indexer.sync_once()
    assert indexer.range_size == 64
