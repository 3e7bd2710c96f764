"""Keys and types of the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from backend.db.engine import write_transaction
from backend.db.models import Event, LeaderNonceWord, Trade, Vault, VaultBalance, VaultOwner

TX = "0x" + "ab" * 32


def _event(chain_id: int = 1, log_index: int = 0, tx: str = TX, **extra) -> dict:
    return {
        "chain_id": chain_id,
        "block_number": 10,
        "block_hash": "0x" + "cd" * 32,
        "block_timestamp": 1_700_000_000,
        "tx_hash": tx,
        "tx_index": 0,
        "log_index": log_index,
        "address": "0x" + "11" * 20,
        "contract": "vault",
        "name": "Paused",
        "vault": "0x" + "11" * 20,
        "leader": None,
        "args": {"by": "0x" + "22" * 20},
    } | extra


def test_events__unique_on_chain_tx_and_log_index(stores):
    engine = stores.engine()
    with write_transaction(engine) as conn:
        conn.execute(insert(Event), [_event(), _event(log_index=1), _event(chain_id=2)])
    with pytest.raises(IntegrityError), write_transaction(engine) as conn:
        conn.execute(insert(Event), [_event(block_number=11, name="Unpaused")])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Event)) == 3


def test_events__args_round_trip_as_json(stores):
    engine = stores.engine()
    args = {
        "policy": {"maxFractionBps": 5000},
        "amount": str(2**256 - 1),
        "owners": ["0x" + "aa" * 20],
    }
    with write_transaction(engine) as conn:
        conn.execute(insert(Event), [_event(args=args)])
    with engine.connect() as conn:
        assert conn.scalar(select(Event.args)) == args


def test_per_event_rows_go_with_their_event(stores):
    engine = stores.engine()
    trade = {
        "chain_id": 1,
        "tx_hash": TX,
        "log_index": 0,
        "block_number": 10,
        "block_timestamp": None,
        "vault": "0x" + "11" * 20,
        "leader": "0x" + "33" * 20,
        "nonce": 2**200,
        "digest": TX,
        "venue": "0x" + "44" * 20,
        "token_in": "0x" + "55" * 20,
        "token_out": "0x" + "66" * 20,
        "amount_in": 1,
        "amount_out": 2,
        "oracle_out": 3,
    }
    with write_transaction(engine) as conn:
        conn.execute(insert(Event), [_event(name="Mirrored")])
        conn.execute(insert(Trade), [trade])
    with engine.connect() as conn:
        assert conn.scalar(select(Trade.nonce)) == 2**200
    with write_transaction(engine) as conn:
        conn.execute(delete(Event))
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Trade)) == 0
    # And no per-event row without its event.
    with pytest.raises(IntegrityError), write_transaction(engine) as conn:
        conn.execute(insert(Trade), [trade])


def _vault(address: str) -> dict:
    return {
        "chain_id": 1,
        "address": address,
        "creator": None,
        "salt": None,
        "created_block": 1,
        "created_tx": TX,
        "created_at": None,
        "leader": None,
        "threshold": 1,
        "nonce": 0,
        "paused": False,
        "copying": True,
        "guardian_accepted": True,
        "oracle": None,
        "max_fraction_bps": 1,
        "max_slippage_bps": 1,
        "max_oracle_age": 1,
        "max_trades_per_day": 1,
        "loss_budget_bps": 0,
        "updated_block": 1,
    }


def test_big_integers_and_addresses(stores):
    """uint256 and negative accounted balances are exact; addresses are stored lowercase."""
    engine = stores.engine()
    checksummed = "0x" + "Ab" * 20
    values = {"balance": -(2**255), "deposited": 2**256 - 1, "withdrawn": 0, "bought": 7, "sold": 9}
    with write_transaction(engine) as conn:
        conn.execute(insert(Vault), [_vault(checksummed)])
        conn.execute(
            insert(VaultBalance),
            [
                {"chain_id": 1, "vault": checksummed, "token": checksummed, "updated_block": 1}
                | values
            ],
        )
        conn.execute(
            insert(LeaderNonceWord),
            [
                {
                    "chain_id": 1,
                    "leader": checksummed,
                    "word_pos": 2**248,
                    "bitmap": 2**256 - 1,
                    "updated_block": 1,
                }
            ],
        )
    with engine.connect() as conn:
        row = conn.execute(select(VaultBalance.__table__)).mappings().one()
        assert {k: row[k] for k in values} == values
        assert row["vault"] == checksummed.lower()
        word = conn.execute(select(LeaderNonceWord.word_pos, LeaderNonceWord.bitmap)).one()
        assert tuple(word) == (2**248, 2**256 - 1)


def test_vault_children_need_their_vault(stores):
    """Foreign keys are enforced on SQLite too (PRAGMA foreign_keys=ON)."""
    engine = stores.engine()
    with pytest.raises(IntegrityError), write_transaction(engine) as conn:
        conn.execute(
            insert(VaultOwner),
            [{"chain_id": 1, "vault": "0x" + "99" * 20, "owner": "0x" + "11" * 20, "position": 0}],
        )
