"""The on-chain reader next to the indexed state: accounted balances versus tokens held."""

from __future__ import annotations

from sqlalchemy import select

from backend.chain.reader import token_balances, vault_view
from backend.db.models import VaultBalance
from backend.indexer.indexer import Indexer, IndexerConfig


def test_reader__plain_transfers_are_held_but_not_accounted(anvil_chain, sqlite_stores):
    a = anvil_chain.actions
    weth = a.token("WETH")
    vault = a.create_vault(anvil_chain.owners[:1], leader=anvil_chain.leader.address, salt=5)
    a.deposit(vault, weth, 10**18, anvil_chain.depositor)
    a.mint(weth, anvil_chain.depositor.address, 2 * 10**18, anvil_chain.depositor)
    a.transfer(weth, vault, 2 * 10**18, anvil_chain.depositor)  # no vault event

    engine = sqlite_stores.engine()
    indexer = Indexer(
        engine, anvil_chain.client, anvil_chain.deployment, config=IndexerConfig(confirmations=0)
    )
    assert indexer.sync_once()
    with engine.connect() as conn:
        accounted = conn.scalar(select(VaultBalance.balance).where(VaultBalance.vault == vault))
    assert accounted == 10**18
    assert token_balances(anvil_chain.client, vault, [weth]) == {weth.lower(): 3 * 10**18}


def test_reader__vault_view(anvil_chain):
    a = anvil_chain.actions
    vault = a.create_vault(
        anvil_chain.owners[:2], threshold=2, leader=anvil_chain.leader.address, salt=6
    )
    view = vault_view(anvil_chain.client, vault)
    assert view.owners == [o.address.lower() for o in anvil_chain.owners[:2]]
    assert (view.threshold, view.nonce, view.paused, view.copying) == (2, 0, False, True)
    assert view.leader == anvil_chain.leader.address.lower()
    assert view.policy == (5_000, 100, 3_600, 10, 0)
