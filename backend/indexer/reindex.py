"""Rebuilding the index from the chain, and checking an index against the chain.

Only what the chain can rebuild is dropped: the events, the tables derived from them, the stored
blocks, the reorg log and the cursor (`INDEX_TABLES`). Proposals, owner signatures, intents and the
relayer's history are records of what people submitted and what the relayer sent; they are not on
chain and `reindex` never touches them (see `backend.db.offchain`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine, delete, select

from backend.chain.abi import ContractAbi
from backend.chain.artifacts import load as load_artifacts
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.reader import token_balances
from backend.db.engine import write_transaction
from backend.db.models import INDEX_TABLES, IndexerCursor, Vault, VaultBalance
from backend.exceptions import IndexerError, ReorgDuringFetchError
from backend.indexer.indexer import Indexer, IndexerConfig

log = logging.getLogger(__name__)

# Syncs tried when the chain moves under a range being fetched (each resumes where it stopped).
FETCH_ATTEMPTS: Final = 5


def clear_index(engine: Engine, chain_id: int) -> None:
    """Delete the index of `chain_id` (every table in INDEX_TABLES), in one transaction."""
    with write_transaction(engine) as conn:
        for model in INDEX_TABLES:
            table = model.__table__
            conn.execute(delete(table).where(table.c.chain_id == chain_id))


def reindex(
    engine: Engine, client: ChainClient, deployment: Deployment, config: IndexerConfig
) -> Indexer:
    """Drop the deployment's index and index its chain again from the start block to the head.
    Not one transaction (a chain's whole index may not fit one): if interrupted, run it again."""
    clear_index(engine, deployment.chain_id)
    indexer = Indexer(engine, client, deployment, config=config)
    for _ in range(FETCH_ATTEMPTS):
        try:
            indexer.sync_once()
            return indexer
        except ReorgDuringFetchError as exc:  # the chain moved under a range: fetch it again
            log.info("%s", exc)
    raise IndexerError(f"the chain kept changing during {FETCH_ATTEMPTS} fetches; run it again")


@dataclass(frozen=True)
class Mismatch:
    what: str
    stored: object
    on_chain: object

    def __str__(self) -> str:
        return f"{self.what}: stored {self.stored}, on chain {self.on_chain}"


def check_against_chain(
    engine: Engine,
    client: ChainClient,
    deployment: Deployment,
    *,
    allow_unaccounted: bool = False,
) -> list[Mismatch]:
    """Compare the index with the chain at the cursor block: the cursor's hash, the factory's
    vaults, and every vault's accounted balances against its tokens' `balanceOf`.

    Tokens sent to a vault by a plain transfer are in `balanceOf` but in no vault event; with
    `allow_unaccounted` a vault holding more than its events account for is not a mismatch (holding
    less always is)."""
    chain_id = deployment.chain_id
    with engine.connect() as conn:
        ct = IndexerCursor.__table__
        cursor = conn.execute(
            select(ct.c.block_number, ct.c.block_hash).where(ct.c.chain_id == chain_id)
        ).first()
        if cursor is None:
            return [Mismatch("cursor", "none", "a deployment to index")]
        vt, bt = Vault.__table__, VaultBalance.__table__
        vaults = set(conn.scalars(select(vt.c.address).where(vt.c.chain_id == chain_id)))
        balances = conn.execute(
            select(bt.c.vault, bt.c.token, bt.c.balance).where(bt.c.chain_id == chain_id)
        ).all()
    block, block_hash = cursor
    header = client.header(block)
    mismatches = []
    if header is None or header.hash != block_hash:
        mismatches.append(Mismatch(f"hash of block {block}", block_hash, header and header.hash))
    mismatches += _check_vaults(client, deployment, block, vaults)
    stored: dict[str, dict[str, int]] = {vault: {} for vault in vaults}
    for vault, token, balance in balances:
        stored.setdefault(vault, {})[token] = balance
    tokens = [t.address.lower() for t in deployment.tokens.values()]
    for vault, held in sorted(stored.items()):
        mismatches += _check_balances(client, vault, held, tokens, block, allow_unaccounted)
    return mismatches


def _check_vaults(
    client: ChainClient, deployment: Deployment, block: int, stored: set[str]
) -> list[Mismatch]:
    factory = ContractAbi(load_artifacts().get("VaultFactory"))
    count_fn, at_fn = factory.fn("vaultCount"), factory.fn("vaultAt")
    count = count_fn.decode(client.call(deployment.factory, count_fn.encode(), block))
    calls = [
        ("eth_call", [{"to": deployment.factory, "data": "0x" + at_fn.encode(i).hex()}, hex(block)])
        for i in range(count)
    ]
    answers = client.batch(calls) if calls else []
    on_chain = {at_fn.decode(bytes.fromhex(raw.removeprefix("0x"))).lower() for raw in answers}
    mismatches = []
    if len(stored) != count:
        mismatches.append(Mismatch("vault count", len(stored), count))
    for vault in sorted(stored - on_chain):
        mismatches.append(Mismatch(f"vault {vault}", "indexed", "not created by the factory"))
    for vault in sorted(on_chain - stored):
        mismatches.append(Mismatch(f"vault {vault}", "missing", "created by the factory"))
    return mismatches


def _check_balances(
    client: ChainClient,
    vault: str,
    stored: dict[str, int],
    tokens: Sequence[str],
    block: int,
    allow_unaccounted: bool,
) -> list[Mismatch]:
    checked = sorted(set(stored) | set(tokens))
    held = token_balances(client, vault, checked, block)
    mismatches = []
    for token in checked:
        accounted, actual = stored.get(token, 0), held[token]
        if accounted == actual or (allow_unaccounted and accounted < actual):
            continue
        mismatches.append(Mismatch(f"vault {vault} balance of {token}", accounted, actual))
    return mismatches
