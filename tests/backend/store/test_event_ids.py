"""Event ids are stream positions: they must keep increasing even after a reorg deletes rows."""

from __future__ import annotations

from sqlalchemy import text

from backend.db.migrate import create_migrated_engine


def _insert_event(conn, log_index: int) -> int:
    conn.execute(
        text(
            "INSERT INTO events (chain_id, block_number, block_hash, tx_hash, tx_index, log_index,"
            " address, contract, args) VALUES (1, 1, :h, :h, 0, :i, :a, 'vault', '{}')"
        ),
        {"h": "0x" + "11" * 32, "i": log_index, "a": "0x" + "22" * 20},
    )
    return conn.execute(text("SELECT max(id) FROM events")).scalar_one()


def test_event_ids__after_the_newest_rows_are_deleted__are_not_reused_on_sqlite(tmp_path):
    engine = create_migrated_engine(f"sqlite:///{tmp_path / 'ids.db'}")
    with engine.begin() as conn:
        _insert_event(conn, 0)
        newest = _insert_event(conn, 1)
        # what a reorg's rollback does to the newest rows
        conn.execute(text("DELETE FROM events WHERE id = :id"), {"id": newest})
        replacement = _insert_event(conn, 2)
    assert replacement > newest
