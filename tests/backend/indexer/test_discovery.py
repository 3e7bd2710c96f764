"""Vaults are discovered from VaultCreated. A vault created and used inside one block range (even
inside one block) loses no event: the range is fetched again for the new vaults before it is
written."""

from __future__ import annotations

from sqlalchemy import select

from backend.chain.reader import token_balances
from backend.db.models import Event, VaultBalance
from tests.backend.helpers import assert_matches_chain, assert_same_store, run_scenario


def _created_and_used_in_one_block(anvil_chain) -> str:
    a = anvil_chain.actions
    weth = a.token("WETH")
    owner = anvil_chain.owners[0]
    args = (
        [owner.address],
        1,
        anvil_chain.leader.address,
        (5_000, 100, 3_600, 10, 0),
        anvil_chain.deployment.oracle,
        [weth],
        [a.venue],
        True,
        (77).to_bytes(32, "big"),
    )
    create = a.factory_abi.fn("createVault")
    # The address the factory will give this creator for these parameters.
    call = {
        "from": owner.address,
        "to": anvil_chain.deployment.factory,
        "data": "0x" + create.encode(*args).hex(),
    }
    vault = "0x" + anvil_chain.client.request("eth_call", [call, "latest"])[-40:]
    anvil_chain.rpc("evm_setAutomine", False)
    try:
        sender = a.sender(owner)
        sender.submit(anvil_chain.deployment.factory, create.encode(*args), gas=3_000_000)
        sender.submit(weth, a.token_abi.call_data("mint", owner.address, 5 * 10**18), gas=200_000)
        sender.submit(weth, a.token_abi.call_data("approve", vault, 5 * 10**18), gas=200_000)
        sender.submit(vault, a.vault_abi.call_data("deposit", weth, 5 * 10**18), gas=300_000)
        anvil_chain.rpc("evm_mine")
    finally:
        anvil_chain.rpc("evm_setAutomine", True)
    return vault


def test_discovery__vault_created_and_used_in_the_same_block(anvil_chain, stores, make_indexer):
    vault = _created_and_used_in_one_block(anvil_chain)
    assert token_balances(
        anvil_chain.client, vault, [anvil_chain.actions.token("WETH")]
    )  # it exists
    engine = stores.engine()
    indexer = make_indexer(engine, block_range_initial=1_000)
    assert indexer.sync_once()
    assert indexer.stats.ranges == 1
    with engine.connect() as conn:
        names = conn.scalars(
            select(Event.name).where(Event.vault == vault).order_by(Event.log_index)
        ).all()
        blocks = set(conn.scalars(select(Event.block_number).where(Event.vault == vault)))
        balance = conn.scalar(select(VaultBalance.balance).where(VaultBalance.vault == vault))
    assert len(blocks) == 1  # created and used in one block
    # Initialisation events first (emitted inside createVault, before VaultCreated), then deposit.
    assert names[0] == "OwnerAdded"
    assert names[-2:] == ["VaultCreated", "Deposited"]
    assert balance == 5 * 10**18
    assert_matches_chain(engine, anvil_chain)


def test_discovery__vaults_created_and_used_within_one_range(anvil_chain, stores, make_indexer):
    run_scenario(anvil_chain)  # vaults created in one block, used in later ones
    one_range, per_block = stores.engine(), stores.engine()
    indexer = make_indexer(one_range, block_range_initial=10_000)
    assert indexer.sync_once()
    assert indexer.stats.ranges == 1
    assert make_indexer(per_block, block_range_initial=1, block_range_max=1).sync_once()
    assert_same_store(one_range, per_block)


def test_discovery__address_lists_split_into_chunks(anvil_chain, stores, make_indexer):
    run_scenario(anvil_chain)
    chunked, whole = stores.engine(), stores.engine()
    assert make_indexer(chunked, address_chunk=2).sync_once()
    assert make_indexer(whole).sync_once()
    assert_same_store(chunked, whole)
