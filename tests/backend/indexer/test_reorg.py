"""Reorgs: anvil's evm_snapshot/evm_revert replace the chain's tip with different blocks; the
store must then equal an index of the new chain built from scratch."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backend.db.models import Event, Reorg, Vault
from backend.exceptions import ChainUnavailableError, ReorgDuringFetchError
from backend.indexer import indexer as indexer_module
from tests.backend.helpers import assert_matches_chain, assert_same_store, dump_store, run_scenario
from tests.backend.indexer.conftest import index_up_to


def _fork_a(anvil_chain, existing: str | None = None) -> str:
    """Activity only the orphaned fork has: a new vault, deposits into it and into an existing
    vault, a pause, registry changes."""
    a = anvil_chain.actions
    doomed = a.create_vault(anvil_chain.owners[:1], leader=anvil_chain.leader.address, salt=900)
    a.deposit(doomed, a.token("WETH"), 10**18, anvil_chain.depositor)
    if existing is not None:
        a.deposit(existing, a.token("USDC"), 7 * 10**6, anvil_chain.depositor)
        a.pause(existing, anvil_chain.owners[1])
    a.register(anvil_chain.leader, "ipfs://fork-a")
    a.invalidate_nonces(anvil_chain.leader, 3, 0b11)
    return doomed


def _fork_b(anvil_chain, existing: str | None = None, *, extra_blocks: int) -> None:
    a = anvil_chain.actions
    vault = a.create_vault(anvil_chain.owners[:1], leader=anvil_chain.leader.address, salt=1)
    a.deposit(vault, a.token("WETH"), 3 * 10**18, anvil_chain.depositor)
    if existing is not None:
        a.deposit(existing, a.token("WETH"), 2 * 10**18, anvil_chain.depositor)
    a.register(anvil_chain.leader, "ipfs://fork-b")
    if extra_blocks:
        anvil_chain.mine(extra_blocks)


def _index_fresh(stores, make_indexer):
    engine = stores.engine()
    assert make_indexer(engine).sync_once()
    return engine


@pytest.mark.parametrize("extra_blocks", [20, 0], ids=["new-fork-longer", "new-fork-shorter"])
def test_reorg__store_equals_the_new_canonical_chain(
    anvil_chain, stores, make_indexer, extra_blocks
):
    v3 = run_scenario(anvil_chain)["vaults"][2]  # not paused: deposits work
    engine = stores.engine()
    indexer = make_indexer(engine)
    assert indexer.sync_once()

    snapshot = anvil_chain.rpc("evm_snapshot")
    fork_point = anvil_chain.head()
    doomed = _fork_a(anvil_chain, v3)
    assert indexer.sync_once()
    old_cursor = indexer.cursor()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).where(Vault.address == doomed.lower())) == 1

    assert anvil_chain.rpc("evm_revert", snapshot)
    _fork_b(anvil_chain, v3, extra_blocks=extra_blocks)
    assert (
        anvil_chain.head() != old_cursor[0]
        or anvil_chain.client.header(old_cursor[0]).hash != old_cursor[1]
    )

    assert indexer.sync_once()
    assert indexer.stats.reorgs == 1
    assert indexer.cursor()[0] == anvil_chain.head()
    assert_same_store(engine, _index_fresh(stores, make_indexer))
    assert_matches_chain(engine, anvil_chain)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).where(Vault.address == doomed.lower())) == 0
        reorg = conn.execute(select(Reorg.__table__)).mappings().one()
    assert reorg["old_block_number"] == old_cursor[0]
    assert reorg["ancestor_block"] <= fork_point
    assert reorg["events_removed"] > 0


def test_reorg__deep_fork_searches_past_the_first_window(
    anvil_chain, stores, make_indexer, monkeypatch
):
    monkeypatch.setattr(indexer_module, "ANCESTOR_WINDOW", 2)
    engine = stores.engine()
    indexer = make_indexer(engine, block_range_initial=1, block_range_max=1)
    assert indexer.sync_once()
    snapshot = anvil_chain.rpc("evm_snapshot")
    for salt in range(10, 16):  # many stored blocks on the doomed fork
        anvil_chain.actions.create_vault(
            anvil_chain.owners[:1], leader=anvil_chain.leader.address, salt=salt
        )
    assert indexer.sync_once()
    assert anvil_chain.rpc("evm_revert", snapshot)
    _fork_b(anvil_chain, extra_blocks=30)
    assert indexer.sync_once()
    assert_same_store(engine, _index_fresh(stores, make_indexer))


def test_reorg__rollback_and_reindex_are_one_transaction(
    anvil_chain, stores, make_indexer, monkeypatch
):
    """If re-indexing the new fork fails, the rollback is undone too: readers only ever see the
    old fork's index or the new one's, never a store with blocks missing."""
    run_scenario(anvil_chain)
    engine = stores.engine()
    indexer = make_indexer(engine)
    assert indexer.sync_once()
    snapshot = anvil_chain.rpc("evm_snapshot")
    _fork_a(anvil_chain)
    assert indexer.sync_once()
    before = dump_store(engine)

    assert anvil_chain.rpc("evm_revert", snapshot)
    _fork_b(anvil_chain, extra_blocks=5)

    def node_down(*args, **kwargs):
        raise ChainUnavailableError("injected: the node went away during the re-index")

    monkeypatch.setattr(indexer, "_get_logs", node_down)
    with pytest.raises(ChainUnavailableError):
        indexer.sync_once()
    assert dump_store(engine) == before

    monkeypatch.undo()
    assert indexer.sync_once()
    assert_same_store(engine, _index_fresh(stores, make_indexer))


def test_reorg__during_a_fetch__the_range_is_fetched_again(
    anvil_chain, stores, make_indexer, monkeypatch
):
    run_scenario(anvil_chain)
    engine = stores.engine()
    indexer = make_indexer(engine)
    real_header = indexer._header
    reads: list[int] = []

    def header_that_moves(number):
        header = real_header(number)
        reads.append(number)
        if reads.count(number) == 2:  # the check of the last block after the logs sees another
            return type(header)(
                header.number, "0x" + "ee" * 32, header.parent_hash, header.timestamp
            )
        return header

    monkeypatch.setattr(indexer, "_header", header_that_moves)
    with pytest.raises(ReorgDuringFetchError):
        indexer.sync_once()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Event)) == 0
    assert indexer.cursor()[1] is None
    assert indexer.sync_once()
    assert_same_store(engine, _index_fresh(stores, make_indexer))


# ----------------------------------------------------------------------------- linked ranges


def _reorg_once_after(indexer, method: str, calls: int, reorg) -> dict:
    """Run `reorg()` (a real reorg of the anvil chain) once, right after the `calls`-th call of
    `indexer.<method>` returned: a deterministic moment inside a sync."""
    real = getattr(indexer, method)
    seen = {"calls": 0, "reorged": False}

    def then_reorg(*args, **kwargs):
        result = real(*args, **kwargs)
        seen["calls"] += 1
        if seen["calls"] == calls and not seen["reorged"]:
            seen["reorged"] = True
            reorg()
        return result

    setattr(indexer, method, then_reorg)
    return seen


@pytest.mark.parametrize("ranges_before_reorg", [1, 2])
def test_reorg__during_catch_up_between_ranges__rolled_back_and_store_equals_chain(
    anvil_chain, stores, make_indexer, ranges_before_reorg
):
    """The auditor's failure: a reorg replaces blocks of ranges already committed by this very
    catch-up; the next range comes from the new chain, the cursor's hash then matches the node,
    and only the parent-hash link between the ranges can tell."""
    v3 = run_scenario(anvil_chain)["vaults"][2]
    snapshot = anvil_chain.rpc("evm_snapshot")
    fork_point = anvil_chain.head()
    doomed = _fork_a(anvil_chain, v3)
    # Fixed ranges of `size` blocks; the first one ends two blocks into the doomed fork.
    size = fork_point + 3 - anvil_chain.deployment.start_block
    anvil_chain.mine(fork_point + 3 * size - anvil_chain.head())
    old_head = anvil_chain.head()
    engine = stores.engine()
    indexer = make_indexer(engine, block_range_initial=size, block_range_max=size)

    def reorg() -> None:
        assert anvil_chain.rpc("evm_revert", snapshot)
        _fork_b(anvil_chain, v3, extra_blocks=old_head - fork_point + 5)

    seen = _reorg_once_after(indexer, "_index_one_range", ranges_before_reorg, reorg)
    assert indexer.sync_once()
    assert seen["reorged"]
    assert indexer.stats.reorgs == 1
    assert indexer.sync_once()  # up to the new head
    head = anvil_chain.client.header(anvil_chain.head())
    assert indexer.cursor() == (head.number, head.hash)
    assert_same_store(engine, _index_fresh(stores, make_indexer))
    assert_matches_chain(engine, anvil_chain)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).where(Vault.address == doomed.lower())) == 0
        reorg_row = conn.execute(select(Reorg.__table__)).mappings().one()
    assert reorg_row["ancestor_block"] <= fork_point
    assert reorg_row["events_removed"] > 0


def test_reorg__chain_changes_again_during_the_reindex__one_rollback_to_the_newest_chain(
    anvil_chain, stores, make_indexer
):
    """A second reorg lands while the first one's new blocks are re-indexed (in ranges): the break
    of the link inside the re-index undoes it, and the reorg is handled again against the
    newest chain, in one `reorgs` row."""
    v3 = run_scenario(anvil_chain)["vaults"][2]
    snapshot = anvil_chain.rpc("evm_snapshot")
    fork_point = anvil_chain.head()
    _fork_a(anvil_chain, v3)
    anvil_chain.mine(10)
    engine = stores.engine()
    indexer = make_indexer(engine, block_range_initial=3, block_range_max=3)
    assert indexer.sync_once()
    old_cursor = indexer.cursor()

    assert anvil_chain.rpc("evm_revert", snapshot)
    snapshot = anvil_chain.rpc("evm_snapshot")
    _fork_b(anvil_chain, v3, extra_blocks=20)

    def third_fork() -> None:
        assert anvil_chain.rpc("evm_revert", snapshot)
        a = anvil_chain.actions
        a.deposit(v3, a.token("USDC"), 11 * 10**6, anvil_chain.depositor)
        a.register(anvil_chain.leader, "ipfs://fork-c")
        anvil_chain.mine(30)

    # The re-index's first range is written in the reorg's transaction; then the chain changes.
    seen = _reorg_once_after(indexer, "rollback", 1, lambda: None)
    real_index_range_in = indexer._index_range_in

    def index_range_in(*args, **kwargs):
        position = real_index_range_in(*args, **kwargs)
        if seen["reorged"] and not seen.get("third"):
            seen["third"] = True
            third_fork()
        return position

    indexer._index_range_in = index_range_in
    assert indexer.sync_once()
    assert seen["third"]
    assert indexer.stats.reorgs == 1
    assert indexer.sync_once()
    assert_same_store(engine, _index_fresh(stores, make_indexer))
    assert_matches_chain(engine, anvil_chain)
    with engine.connect() as conn:
        reorg_row = conn.execute(select(Reorg.__table__)).mappings().one()
    assert reorg_row["old_block_number"] == old_cursor[0]
    assert reorg_row["ancestor_block"] <= fork_point


@pytest.fixture
def fuzz_base(anvil_chain) -> dict:
    """A vault to deposit into, and a snapshot of the chain each example starts from."""
    vault = anvil_chain.actions.create_vault(
        anvil_chain.owners[:1], leader=anvil_chain.leader.address, salt=77
    )
    return {"vault": vault, "head": anvil_chain.head(), "snapshot": anvil_chain.rpc("evm_snapshot")}


@settings(
    deadline=None,
    max_examples=5,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    before_fork=st.integers(0, 2),
    depth=st.integers(1, 4),
    range_size=st.integers(2, 7),
    ranges_before_reorg=st.integers(1, 4),
)
def test_reorg__any_depth_at_any_moment_of_a_catch_up__store_equals_a_fresh_index(
    anvil_chain,
    stores,
    make_indexer,
    fuzz_base,
    before_fork,
    depth,
    range_size,
    ranges_before_reorg,
):
    """Deposits, a fork `depth` deposits (3 blocks each) deep, and the reorg landing after the
    n-th range of a catch-up in ranges of `range_size` blocks: rolled back whenever it replaced
    indexed blocks, and the store ends equal to a fresh index of the final chain."""
    a, weth = anvil_chain.actions, anvil_chain.actions.token("WETH")
    vault, base_head = fuzz_base["vault"], fuzz_base["head"]
    assert anvil_chain.rpc("evm_revert", fuzz_base["snapshot"])  # reverting uses the snapshot up
    fuzz_base["snapshot"] = anvil_chain.rpc("evm_snapshot")

    for i in range(before_fork):
        a.deposit(vault, weth, 10 + i, anvil_chain.depositor)
    fork = anvil_chain.rpc("evm_snapshot")
    fork_point = anvil_chain.head()
    for i in range(depth):
        a.deposit(vault, weth, 100 + i, anvil_chain.depositor)
    engine = stores.engine()
    index_up_to(make_indexer, engine, anvil_chain, base_head)
    indexer = make_indexer(engine, block_range_initial=range_size, block_range_max=range_size)
    cursor_at_reorg = []

    def reorg() -> None:
        cursor_at_reorg.append(indexer.stats.cursor)
        assert anvil_chain.rpc("evm_revert", fork)
        for i in range(depth + 1):
            a.deposit(vault, weth, 1_000 + i, anvil_chain.depositor)

    seen = _reorg_once_after(indexer, "_index_one_range", ranges_before_reorg, reorg)
    assert indexer.sync_once()
    if not seen["reorged"]:  # the catch-up took fewer ranges: the chain changes after it
        seen["reorged"] = True
        reorg()
    assert indexer.sync_once()
    assert indexer.sync_once()
    replaced_indexed_blocks = cursor_at_reorg[0] > fork_point
    assert indexer.stats.reorgs == int(replaced_indexed_blocks)
    assert_same_store(engine, _index_fresh(stores, make_indexer))
