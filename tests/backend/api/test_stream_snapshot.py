"""The stream's poll reads one snapshot: a reorg the indexer commits while a poll runs is seen
whole (its notice and the new fork's events) or not at all, never its events without the notice.
CI once caught PostgreSQL sending the new fork's event before the reorg notice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, text

from backend.services.stream import StreamFilter, StreamPosition, poll

CHAIN = 31337


def _insert_event(conn, block: int, log_index: int) -> None:
    conn.execute(
        text(
            "INSERT INTO events (chain_id, block_number, block_hash, tx_hash, tx_index, log_index,"
            " address, contract, args) VALUES (:c, :b, :h, :h, 0, :i, :a, 'vault', '{}')"
        ),
        {"c": CHAIN, "b": block, "h": f"0x{block:064x}", "i": log_index, "a": "0x" + "22" * 20},
    )


def _commit_a_reorg(engine) -> None:
    """What the indexer's reorg transaction writes: the notice and the new fork's event."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO reorgs (chain_id, detected_at, old_block_number, old_block_hash,"
                " ancestor_block, events_removed) VALUES (:c, :t, 5, NULL, 4, 0)"
            ),
            {"c": CHAIN, "t": datetime.now(UTC)},
        )
        _insert_event(conn, 5, 1)


def test_poll__a_reorg_committed_between_its_statements__never_events_before_the_notice(stores):
    engine = stores.engine()
    writer = stores.engine(str(engine.url.render_as_string(hide_password=False)), migrate=False)
    with engine.begin() as conn:
        _insert_event(conn, 4, 0)
    position = StreamPosition(event_id=0, reorg_id=0)
    injected = []

    def after_the_reorg_query(conn, cursor, statement, *_args) -> None:
        if "FROM reorgs" in statement and not injected:
            injected.append(True)
            _commit_a_reorg(writer)  # lands between this poll's reorg and events statements

    event.listen(engine, "after_cursor_execute", after_the_reorg_query)
    try:
        notices, events = poll(engine, StreamFilter(chain_id=CHAIN), position)
    finally:
        event.remove(engine, "after_cursor_execute", after_the_reorg_query)
    assert injected
    blocks = [e["block_number"] for e in events]
    if not notices:
        assert 5 not in blocks, "the new fork's event went out before its reorg notice"
    notices_next, events_next = poll(engine, StreamFilter(chain_id=CHAIN), position)
    sent = [n["ancestor_block"] for n in notices + notices_next]
    assert sent == [4]  # the notice, once
    assert 5 in blocks + [e["block_number"] for e in events_next]  # the new fork's event too
