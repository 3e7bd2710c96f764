"""A vault's value in USD over time, for the web app's chart: its balances as its events account
them (deposits and tokens bought in, withdrawals and tokens sold out: the same accounting as
`vault_balances`) valued at the feed answers the indexer read (`oracle_answers`,
backend/indexer/oracle_answers.py), sampled at evenly spaced moments.

Each point uses what was known at its moment: the events up to it and, per token, the latest answer
read at or before it. Tokens are priced with the oracle's current feed for them (a feed replaced
over time is not followed back). The cost is one pass over the vault's events up to `end` and the
answers of its tokens' feeds up to `end`, both read through indexes (vault, block / feed, time).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.errors import InvalidHistoryRangeError
from backend.api.schemas import HistoryPoint, VaultHistoryOut, checksum
from backend.db.models import Block, IndexerCursor, OracleAnswer, OracleFeed, Trade, VaultTransfer
from backend.services.valuation import FeedInfo, format_usd
from backend.services.vaults import find_vault

MAX_POINTS: Final = 500
DEFAULT_POINTS: Final = 100

# (timestamp, block, log index, token, signed amount): one balance change.
Change = tuple[int, int, int, str, int]


def vault_history(
    session: Session,
    *,
    chain_id: int,
    oracle: str,
    vault: str,
    start: int | None,
    end: int | None,
    points: int,
) -> VaultHistoryOut:
    v = find_vault(session, chain_id=chain_id, vault=vault)
    if end is None:
        end = _indexed_until(session, chain_id) or v.created_at or 0
    if start is None:
        start = min(v.created_at or end, end)
    if start > end:
        raise InvalidHistoryRangeError(
            f"from {start} is after to {end}: ask for a range that runs forward in time (unix "
            "seconds; both default to the vault's creation and the last indexed block)"
        )
    moments = _moments(start, end, points)
    feeds = _feeds(session, chain_id, oracle)
    changes = _changes(session, chain_id, v.address, end)
    answers = _answers(session, chain_id, [info.feed for info in feeds.values()], end)
    return VaultHistoryOut(
        vault=checksum(v.address),
        start=start,
        end=end,
        points=list(_walk(moments, changes, answers, feeds)),
    )


def _moments(start: int, end: int, points: int) -> list[int]:
    if start == end:
        return [end]
    return [start + (end - start) * i // (points - 1) for i in range(points)]


def _indexed_until(session: Session, chain_id: int) -> int | None:
    """The timestamp of the last indexed block: the history reaches no further."""
    return session.scalar(
        select(Block.timestamp)
        .join(
            IndexerCursor,
            (IndexerCursor.chain_id == Block.chain_id)
            & (IndexerCursor.block_number == Block.number),
        )
        .where(Block.chain_id == chain_id)
    )


def _feeds(session: Session, chain_id: int, oracle: str) -> dict[str, FeedInfo]:
    rows = session.execute(
        select(OracleFeed).where(OracleFeed.chain_id == chain_id, OracleFeed.oracle == oracle)
    ).scalars()
    return {r.token: FeedInfo(r.feed, r.token_decimals, r.feed_decimals) for r in rows}


def _changes(session: Session, chain_id: int, vault: str, end: int) -> Iterator[Change]:
    """The vault's balance changes up to `end`, in chain order."""
    transfers = session.execute(
        select(
            VaultTransfer.block_timestamp,
            VaultTransfer.block_number,
            VaultTransfer.log_index,
            VaultTransfer.token,
            VaultTransfer.kind,
            VaultTransfer.amount,
        )
        .where(
            VaultTransfer.chain_id == chain_id,
            VaultTransfer.vault == vault,
            VaultTransfer.block_timestamp <= end,
        )
        .order_by(VaultTransfer.block_number, VaultTransfer.log_index)
    )
    trades = session.execute(
        select(
            Trade.block_timestamp,
            Trade.block_number,
            Trade.log_index,
            Trade.token_in,
            Trade.amount_in,
            Trade.token_out,
            Trade.amount_out,
        )
        .where(Trade.chain_id == chain_id, Trade.vault == vault, Trade.block_timestamp <= end)
        .order_by(Trade.block_number, Trade.log_index)
    )
    signed = (
        (t, b, i, token, amount if kind == "deposit" else -amount)
        for t, b, i, token, kind, amount in transfers
    )
    return heapq.merge(signed, _trade_changes(trades), key=lambda c: (c[1], c[2]))


def _trade_changes(rows: Iterable) -> Iterator[Change]:
    for t, b, i, token_in, amount_in, token_out, amount_out in rows:
        yield t, b, i, token_in, -amount_in
        yield t, b, i, token_out, amount_out


def _answers(
    session: Session, chain_id: int, feeds: list[str], end: int
) -> list[tuple[int, str, int]]:
    """(timestamp, feed, answer) read up to `end`, in time order."""
    if not feeds:
        return []
    rows = session.execute(
        select(OracleAnswer.block_timestamp, OracleAnswer.feed, OracleAnswer.answer)
        .where(
            OracleAnswer.chain_id == chain_id,
            OracleAnswer.feed.in_(feeds),
            OracleAnswer.block_timestamp <= end,
        )
        .order_by(OracleAnswer.block_timestamp, OracleAnswer.block_number)
    )
    return [(t, feed, answer) for t, feed, answer in rows]


def _walk(
    moments: list[int],
    changes: Iterator[Change],
    answers: list[tuple[int, str, int]],
    feeds: dict[str, FeedInfo],
) -> Iterator[HistoryPoint]:
    """One point per moment: apply every change and answer up to it, then value the balances."""
    balances: dict[str, int] = defaultdict(int)
    latest: dict[str, int] = {}
    pending = next(changes, None)
    next_answer = 0
    for moment in moments:
        while pending is not None and pending[0] <= moment:
            balances[pending[3]] += pending[4]
            pending = next(changes, None)
        while next_answer < len(answers) and answers[next_answer][0] <= moment:
            _, feed, answer = answers[next_answer]
            latest[feed] = answer
            next_answer += 1
        yield _point(moment, balances, latest, feeds)


def _point(
    moment: int, balances: dict[str, int], latest: dict[str, int], feeds: dict[str, FeedInfo]
) -> HistoryPoint:
    total = Fraction(0)
    unpriced = []
    for token, balance in sorted(balances.items()):
        if balance == 0:
            continue
        info = feeds.get(token)
        answer = latest.get(info.feed, 0) if info is not None else 0
        if info is None or answer <= 0:
            unpriced.append(checksum(token))
            continue
        total += Fraction(balance * answer, 10 ** (info.token_decimals + info.feed_decimals))
    return HistoryPoint(timestamp=moment, usd=format_usd(total), unpriced_tokens=unpriced)
