"""`copyvault reindex` rebuilds only what the chain can rebuild and checks it against the chain;
`copyvault db purge-offchain` removes off-chain records only with a backup written first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Engine, Integer, insert, select, update

from backend.db.models import INDEX_TABLES, Block, IndexerCursor, Reorg, VaultBalance
from backend.db.offchain import BACKUP_FORMAT, offchain_tables
from backend.db.types import Address, BigInt, Hash32
from backend.indexer.reindex import check_against_chain
from tests.backend.cli.test_cli import _run
from tests.backend.helpers import assert_matches_chain, dump_store, run_scenario

INDEX_NAMES = {model.__table__.name for model in INDEX_TABLES}
OFFCHAIN_NAMES = {table.name for table in offchain_tables()}
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# Columns that point at another off-chain row (all rows here have id 1).
REFERENCES = {"proposal_id", "intent_id", "batch_id"}


def _sample(column):
    """A valid value of `column`'s type (the off-chain tables have no check constraints)."""
    kind = column.type
    if column.name in REFERENCES or column.name == "id":
        return 1
    if isinstance(kind, Address):
        return "0x" + "a1" * 20
    if isinstance(kind, Hash32):
        return "0x" + "b2" * 32
    if isinstance(kind, JSON):
        return {"kept": True}
    if isinstance(kind, DateTime):
        return NOW
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, BigInt):
        return 2**70
    if isinstance(kind, BigInteger | Integer):
        return 7
    return "kept"


def _add_offchain_records(engine: Engine) -> None:
    """One row in every off-chain table (proposals, signatures, intents, relay history)."""
    with engine.begin() as conn:
        for table in offchain_tables():
            conn.execute(insert(table), {c.name: _sample(c) for c in table.columns})


def _indexed_with_offchain_records(anvil_chain, stores, make_indexer) -> tuple[str, Engine]:
    """A store (URL, engine) holding the scenario's index and one row per off-chain table."""
    run_scenario(anvil_chain)
    url = stores.url()
    engine = stores.engine(url)
    assert make_indexer(engine).sync_once()
    _add_offchain_records(engine)
    return url, engine


def _tables(engine: Engine, names: set[str]) -> dict[str, list[tuple]]:
    return {name: rows for name, rows in dump_store(engine).items() if name in names}


def _env(anvil_chain, url: str, tmp_path: Path) -> dict[str, str]:
    deployment = tmp_path / "deployment.json"
    anvil_chain.deployment.save(deployment)
    return {
        "COPYVAULT_DATABASE_URL": url,
        "COPYVAULT_RPC_URL": anvil_chain.node.url,
        "COPYVAULT_DEPLOYMENT_FILE": str(deployment),
        "COPYVAULT_CONFIRMATIONS": "0",
        "COPYVAULT_DATA_DIR": str(tmp_path),
    }


def test_reindex__rebuilds_the_index_from_the_chain_and_keeps_offchain_records(
    anvil_chain, stores, make_indexer, tmp_path
):
    url, engine = _indexed_with_offchain_records(anvil_chain, stores, make_indexer)
    offchain_before = _tables(engine, OFFCHAIN_NAMES)
    assert all(offchain_before.values())
    with engine.begin() as conn:  # an index that went wrong: a balance and a stray reorg row
        conn.execute(update(VaultBalance).values(balance=1))
        conn.execute(
            insert(Reorg),
            {
                "chain_id": anvil_chain.deployment.chain_id,
                "detected_at": NOW,
                "old_block_number": 5,
                "ancestor_block": 4,
                "events_removed": 0,
            },
        )

    result = _run("reindex", env=_env(anvil_chain, url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "vaults and balances match" in result.stdout
    assert _tables(engine, OFFCHAIN_NAMES) == offchain_before
    fresh = stores.engine()
    assert make_indexer(fresh).sync_once()
    assert _tables(engine, INDEX_NAMES - {"blocks"}) == _tables(fresh, INDEX_NAMES - {"blocks"})
    assert_matches_chain(engine, anvil_chain)
    with engine.connect() as conn:
        assert conn.scalars(select(Reorg.id)).all() == []
        assert conn.scalar(select(Block.number).order_by(Block.number.desc()).limit(1)) == (
            anvil_chain.head()
        )


def test_reindex__tokens_no_event_accounts_for__exits_non_zero_naming_the_vault(
    anvil_chain, stores, tmp_path
):
    """A plain transfer to a vault is in balanceOf but in no event: the check names it, and
    --allow-unaccounted-tokens accepts it."""
    a = anvil_chain.actions
    vault = run_scenario(anvil_chain)["vaults"][2]
    weth = a.token("WETH")
    a.mint(weth, vault, 5, anvil_chain.deployer)
    url = stores.url()
    env = _env(anvil_chain, url, tmp_path)

    result = _run("reindex", env=env)
    assert result.returncode == 1
    assert f"mismatch: vault {vault.lower()} balance of {weth.lower()}" in result.stderr
    assert "differs from the chain in 1 places" in result.stderr
    assert _run("reindex", "--allow-unaccounted-tokens", env=env).returncode == 0


def test_check_against_chain__a_wrong_index__every_mismatch_is_named(
    anvil_chain, stores, make_indexer
):
    vaults = run_scenario(anvil_chain)["vaults"]
    engine = stores.engine()
    assert make_indexer(engine).sync_once()
    assert check_against_chain(engine, anvil_chain.client, anvil_chain.deployment) == []
    bt = VaultBalance.__table__
    with engine.begin() as conn:
        conn.execute(update(bt).where(bt.c.vault == vaults[0].lower()).values(balance=3))
        conn.execute(update(IndexerCursor).values(block_hash="0x" + "ee" * 32))
    mismatches = check_against_chain(engine, anvil_chain.client, anvil_chain.deployment)
    found = [str(m) for m in mismatches]
    assert any(m.startswith(f"hash of block {anvil_chain.head()}") for m in found), found
    assert any(m.startswith(f"vault {vaults[0].lower()} balance of") for m in found), found
    assert not any(vaults[1].lower() in m for m in found), found


def test_db_purge_offchain__refuses_without_a_backup_or_confirmation(stores, tmp_path):
    url = stores.url()
    engine = stores.engine(url)
    _add_offchain_records(engine)
    before = _tables(engine, OFFCHAIN_NAMES)
    env = {"COPYVAULT_DATABASE_URL": url}
    backup = tmp_path / "offchain.json"

    no_backup = _run("db", "purge-offchain", "--yes", env=env)
    assert no_backup.returncode != 0 and "--backup" in no_backup.stderr
    no_yes = _run("db", "purge-offchain", "--backup", str(backup), env=env)
    assert no_yes.returncode != 0 and "--yes" in no_yes.stderr
    backup.write_text("an older backup")
    exists = _run("db", "purge-offchain", "--yes", "--backup", str(backup), env=env)
    assert exists.returncode == 1 and "already exists" in exists.stderr
    assert backup.read_text() == "an older backup"
    assert _run("db", "reset", "--yes", env=env).returncode != 0  # no command deletes silently
    assert _tables(engine, OFFCHAIN_NAMES) == before


def test_db_purge_offchain__writes_every_row_to_the_backup_then_deletes_them(
    anvil_chain, stores, make_indexer, tmp_path
):
    url, engine = _indexed_with_offchain_records(anvil_chain, stores, make_indexer)
    index_before = _tables(engine, INDEX_NAMES)
    backup = tmp_path / "offchain.json"

    result = _run(
        "db",
        "purge-offchain",
        "--yes",
        "--backup",
        str(backup),
        env={"COPYVAULT_DATABASE_URL": url},
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(backup.read_text())
    assert document["format"] == BACKUP_FORMAT
    assert set(document["tables"]) == OFFCHAIN_NAMES
    for table in offchain_tables():
        rows = document["tables"][table.name]
        assert len(rows) == 1 and set(rows[0]) == set(table.columns.keys()), table.name
    assert document["tables"]["proposals"][0]["created_at"] == NOW.isoformat()
    assert not any(_tables(engine, OFFCHAIN_NAMES).values())
    assert _tables(engine, INDEX_NAMES) == index_before
