"""The price history vaults are valued with over time: the indexer reads every platform feed's
`latestRoundData` at the end of the ranges it indexes and keeps the answers (`oracle_answers`).

Chainlink-style feeds need not emit events (the test feeds emit none), so answers are read, not
indexed from logs. A range is sampled when it changed a vault's balance or a feed (the value right
after a deposit, withdrawal or trade is then priced at that block), and otherwise once every
`every_blocks` blocks (the chart follows prices between trades without a row per block). Reading
at the range's end block, not "latest", keeps the answer consistent with the indexed state; a node
that no longer holds that block's state (pruned, during a long catch-up) refuses the call, and the
sample is skipped: the history is thinner there, never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector
from sqlalchemy import Connection, delete, func, insert, select

from backend.chain.client import BlockHeader, ChainClient
from backend.db.models import OracleAnswer, OracleFeed
from backend.exceptions import RpcError
from backend.indexer.decoder import DecodedLog

log = logging.getLogger(__name__)

LATEST_ROUND_DATA: Final = "0x" + function_signature_to_4byte_selector("latestRoundData()").hex()
# Events after which the vault's value (or a price) moved: the range is sampled whatever its size.
VALUE_EVENTS: Final = frozenset({"Deposited", "Withdrawn", "Mirrored", "FeedSet"})


class OracleSampler:
    """Reads and stores the platform feeds' answers for one chain and oracle."""

    def __init__(self, client: ChainClient, *, chain_id: int, oracle: str, every_blocks: int):
        self.client = client
        self.chain_id = chain_id
        self.oracle = oracle.lower()
        self.every_blocks = every_blocks
        self._last: int | None = None  # the last sampled block (read from the store at first)

    def maybe_sample(
        self, conn: Connection, end: BlockHeader, decoded: Sequence[DecodedLog]
    ) -> int:
        """Sample at `end` when due, in `conn`'s transaction; the number of answers stored."""
        if self._last is None:
            at = OracleAnswer.__table__.c
            self._last = (
                conn.scalar(select(func.max(at.block_number)).where(at.chain_id == self.chain_id))
                or -1
            )
        moved = any(ev.name in VALUE_EVENTS for ev in decoded)
        if not moved and self._last >= 0 and end.number - self._last < self.every_blocks:
            return 0
        feeds = self._feeds(conn)
        answers = self._read(feeds, end.number)
        if answers:
            conn.execute(
                insert(OracleAnswer.__table__),
                [
                    {
                        "chain_id": self.chain_id,
                        "feed": feed,
                        "block_number": end.number,
                        "block_timestamp": end.timestamp,
                        "answer": answer,
                        "updated_at": updated_at,
                    }
                    for feed, (answer, updated_at) in answers.items()
                ],
            )
        self._last = end.number
        return len(answers)

    def forget_after(self, conn: Connection, ancestor: int) -> None:
        """A reorg: answers read at blocks past `ancestor` were read on the abandoned fork."""
        at = OracleAnswer.__table__.c
        conn.execute(
            delete(OracleAnswer.__table__).where(
                at.chain_id == self.chain_id, at.block_number > ancestor
            )
        )
        self._last = None

    def _feeds(self, conn: Connection) -> list[str]:
        ft = OracleFeed.__table__.c
        return sorted(
            set(
                conn.scalars(
                    select(ft.feed).where(ft.chain_id == self.chain_id, ft.oracle == self.oracle)
                )
            )
        )

    def _read(self, feeds: list[str], block: int) -> dict[str, tuple[int, int]]:
        """feed -> (answer, updatedAt) at `block`; {} when the node refuses (state not held)."""
        if not feeds:
            return {}
        calls = [("eth_call", [{"to": f, "data": LATEST_ROUND_DATA}, hex(block)]) for f in feeds]
        try:
            results = self.client.batch(calls)
        except RpcError as exc:  # ChainUnavailableError propagates: the range is retried
            log.info("oracle answers at block %d not sampled: %s", block, exc)
            return {}
        answers = {}
        for feed, raw in zip(feeds, results, strict=True):
            try:
                _, answer, _, updated_at, _ = decode(
                    ["uint80", "int256", "uint256", "uint256", "uint80"],
                    bytes.fromhex(str(raw).removeprefix("0x")),
                )
            except Exception:  # not a feed (no code, another ABI): nothing to keep
                continue
            answers[feed] = (int(answer), int(updated_at))
        return answers
