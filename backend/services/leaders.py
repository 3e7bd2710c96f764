"""Leaders: registered ones, and any address vaults follow or whose intents were mirrored.

Figures per leader:
- `vault_count`: vaults following the leader now (`vaults.leader`);
- `followers`: distinct owners of those vaults;
- `trade_count`: mirrored trades of the leader's intents (one per vault and intent);
- `aum`: the USD value of those vaults' indexed balances (`backend.services.valuation`);
- intents: the leader's executed intents, i.e. its trades grouped by intent digest, with the
  vaults the router skipped for each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session

from backend.api.errors import LeaderNotFoundError
from backend.api.schemas import (
    Delegate,
    IntentOut,
    LeaderDetail,
    LeaderPage,
    LeaderSummary,
    TradeOut,
    TradePage,
    checksum,
)
from backend.db.models import (
    Leader,
    LeaderDelegate,
    MirrorSkip,
    Trade,
    Vault,
    VaultBalance,
    VaultOwner,
)
from backend.db.relay_models import Intent
from backend.services.intents import price
from backend.services.pagination import decode_cursor, encode_cursor
from backend.services.valuation import Valuer

RECENT = 50


def _stats(
    session: Session, *, chain_id: int, leaders: Sequence[str], valuer: Valuer
) -> dict[str, LeaderSummary]:
    """Summaries of `leaders` (lowercase), computed with a fixed number of queries."""
    if not leaders:
        return {}
    wanted = list(leaders)
    registered = {
        row.address: row
        for row in session.scalars(
            select(Leader).where(Leader.chain_id == chain_id, Leader.address.in_(wanted))
        )
    }
    vaults_of: dict[str, list[str]] = defaultdict(list)
    for leader, vault in session.execute(
        select(Vault.leader, Vault.address).where(
            Vault.chain_id == chain_id, Vault.leader.in_(wanted)
        )
    ):
        vaults_of[leader].append(vault)
    followers_of: dict[str, set[str]] = defaultdict(set)
    for leader, owner in session.execute(
        select(Vault.leader, VaultOwner.owner)
        .join(
            VaultOwner,
            and_(VaultOwner.chain_id == Vault.chain_id, VaultOwner.vault == Vault.address),
        )
        .where(Vault.chain_id == chain_id, Vault.leader.in_(wanted))
    ):
        followers_of[leader].add(owner)
    trades = dict(
        session.execute(
            select(Trade.leader, func.count())
            .where(Trade.chain_id == chain_id, Trade.leader.in_(wanted))
            .group_by(Trade.leader)
        ).all()
    )
    holdings: dict[str, dict[str, int]] = {leader: defaultdict(int) for leader in wanted}
    for leader, token, balance in session.execute(
        select(Vault.leader, VaultBalance.token, VaultBalance.balance)
        .join(
            VaultBalance,
            and_(VaultBalance.chain_id == Vault.chain_id, VaultBalance.vault == Vault.address),
        )
        .where(Vault.chain_id == chain_id, Vault.leader.in_(wanted))
    ):
        # Summed in Python: on SQLite, uint256 columns are decimal text.
        holdings[leader][token] += max(0, balance)
    values = valuer.value_many(session, holdings)
    out = {}
    for leader in wanted:
        row = registered.get(leader)
        out[leader] = LeaderSummary(
            address=checksum(leader),
            registered=row is not None,
            profile_uri=row.profile_uri if row is not None else None,
            followers=len(followers_of[leader]),
            vault_count=len(vaults_of[leader]),
            trade_count=trades.get(leader, 0),
            aum=values[leader],
        )
    return out


def _page_of(column, chain_column, chain_id: int, start: str | None, limit: int):
    """The first `limit + 1` distinct addresses of `column` after `start`, as a subquery."""
    query = select(column.label("address")).where(chain_column == chain_id, column.is_not(None))
    if start is not None:
        query = query.where(column > start)
    return query.distinct().order_by(column).limit(limit + 1).subquery()


def list_leaders(
    session: Session, *, chain_id: int, cursor: str | None, limit: int, valuer: Valuer
) -> LeaderPage:
    after = decode_cursor(cursor, "leaders", "a")
    start = after[0] if after is not None else None
    # Each source is cut to the page in SQL on its own index (by leader address) before the union:
    # the union of every trade's leader, sorted, cost every request a pass over all trades.
    known = union(
        *(
            select(page.c.address)
            for page in (
                _page_of(Leader.address, Leader.chain_id, chain_id, start, limit),
                _page_of(Vault.leader, Vault.chain_id, chain_id, start, limit),
                _page_of(Trade.leader, Trade.chain_id, chain_id, start, limit),
            )
        )
    ).subquery()
    query = select(known.c.address)
    addresses = list(session.scalars(query.order_by(known.c.address).limit(limit + 1)))
    more = len(addresses) > limit
    addresses = addresses[:limit]
    stats = _stats(session, chain_id=chain_id, leaders=addresses, valuer=valuer)
    next_cursor = encode_cursor("leaders", addresses[-1]) if more and addresses else None
    return LeaderPage(items=[stats[a] for a in addresses], next_cursor=next_cursor)


def _is_known(session: Session, *, chain_id: int, leader: str) -> bool:
    for model, column in ((Leader, Leader.address), (Vault, Vault.leader), (Trade, Trade.leader)):
        found = session.scalar(
            select(column).where(model.chain_id == chain_id, column == leader).limit(1)
        )
        if found is not None:
            return True
    return False


def trade_outs(session: Session, rows: Sequence[Trade]) -> list[TradeOut]:
    """The trades with their prices: the batch's, the oracle's and the leader's signed minimum
    (from intents taken by this server's intake, read in one SELECT for the page)."""
    digests = {t.digest for t in rows}
    signed: dict[tuple[int, str], int] = {}
    if digests:
        signed = {
            (chain_id, digest): min_price
            for chain_id, digest, min_price in session.execute(
                select(Intent.chain_id, Intent.digest, Intent.min_price).where(
                    Intent.digest.in_(sorted(digests))
                )
            )
        }
    return [
        trade_out(t).model_copy(
            update={
                "price": price(t.amount_in, t.amount_out),
                "oracle_price": price(t.amount_in, t.oracle_out),
                "leader_min_price": _decimal(signed.get((t.chain_id, t.digest))),
            }
        )
        for t in rows
    ]


def _decimal(value: int | None) -> str | None:
    return None if value is None else str(value)


def trade_out(t: Trade) -> TradeOut:
    return TradeOut(
        vault=checksum(t.vault),
        leader=checksum(t.leader),
        nonce=str(t.nonce),
        digest=t.digest,
        venue=checksum(t.venue),
        token_in=checksum(t.token_in),
        token_out=checksum(t.token_out),
        amount_in=str(t.amount_in),
        amount_out=str(t.amount_out),
        oracle_out=str(t.oracle_out),
        block_number=t.block_number,
        block_timestamp=t.block_timestamp,
        tx_hash=t.tx_hash,
        log_index=t.log_index,
    )


def _intents(session: Session, *, chain_id: int, leader: str) -> list[IntentOut]:
    recent = session.execute(
        select(Trade.digest, func.max(Trade.block_number).label("last"))
        .where(Trade.chain_id == chain_id, Trade.leader == leader)
        .group_by(Trade.digest)
        .order_by(func.max(Trade.block_number).desc(), Trade.digest)
        .limit(RECENT)
    ).all()
    digests = [d for d, _ in recent]
    if not digests:
        return []
    trades: dict[str, list[Trade]] = defaultdict(list)
    for t in session.scalars(
        select(Trade).where(Trade.chain_id == chain_id, Trade.digest.in_(digests))
    ):
        if t.leader == leader:
            trades[t.digest].append(t)
    skipped = dict(
        session.execute(
            select(MirrorSkip.intent_digest, func.count())
            .where(MirrorSkip.chain_id == chain_id, MirrorSkip.intent_digest.in_(digests))
            .group_by(MirrorSkip.intent_digest)
        ).all()
    )
    out = []
    for digest in digests:
        group = trades[digest]
        first = group[0]
        out.append(
            IntentOut(
                digest=digest,
                nonce=str(first.nonce),
                venue=checksum(first.venue),
                token_in=checksum(first.token_in),
                token_out=checksum(first.token_out),
                vaults_mirrored=len(group),
                vaults_skipped=skipped.get(digest, 0),
                amount_in=str(sum(t.amount_in for t in group)),
                amount_out=str(sum(t.amount_out for t in group)),
                first_block=min(t.block_number for t in group),
                last_block=max(t.block_number for t in group),
            )
        )
    return out


def get_leader(session: Session, *, chain_id: int, leader: str, valuer: Valuer) -> LeaderDetail:
    if not _is_known(session, chain_id=chain_id, leader=leader):
        raise LeaderNotFoundError(
            f"{checksum(leader)} is not a known leader on chain {chain_id}: it never registered, "
            "no vault follows it and none of its intents was mirrored (as far as the index has "
            "reached)"
        )
    summary = _stats(session, chain_id=chain_id, leaders=[leader], valuer=valuer)[leader]
    row = session.get(Leader, (chain_id, leader))
    delegates = session.scalars(
        select(LeaderDelegate)
        .where(LeaderDelegate.chain_id == chain_id, LeaderDelegate.leader == leader)
        .order_by(LeaderDelegate.delegate)
    )
    recent_trades = session.scalars(
        select(Trade)
        .where(Trade.chain_id == chain_id, Trade.leader == leader)
        .order_by(Trade.block_number.desc(), Trade.log_index.desc())
        .limit(RECENT)
    )
    return LeaderDetail(
        **summary.model_dump(),
        registered_block=row.registered_block if row is not None else None,
        delegates=[Delegate(delegate=checksum(d.delegate), expiry=d.expiry) for d in delegates],
        intents=_intents(session, chain_id=chain_id, leader=leader),
        trades=trade_outs(session, list(recent_trades)),
    )


def leader_trades(
    session: Session, *, chain_id: int, leader: str, cursor: str | None, limit: int
) -> TradePage:
    """The leader's mirrored trades, newest first."""
    if not _is_known(session, chain_id=chain_id, leader=leader):
        raise LeaderNotFoundError(f"{checksum(leader)} is not a known leader on chain {chain_id}")
    query = select(Trade).where(Trade.chain_id == chain_id, Trade.leader == leader)
    return trades_page(session, query, cursor=cursor, limit=limit)


def trades_page(session: Session, query, *, cursor: str | None, limit: int) -> TradePage:
    """One page, newest first, of the trades `query` (a SELECT of Trade) selects."""
    after = decode_cursor(cursor, "trades", "ii")
    if after is not None:
        block, log_index = after
        query = query.where(
            or_(
                Trade.block_number < block,
                and_(Trade.block_number == block, Trade.log_index < log_index),
            )
        )
    rows = list(
        session.scalars(
            query.order_by(Trade.block_number.desc(), Trade.log_index.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor("trades", rows[-1].block_number, rows[-1].log_index)
        if more and rows
        else None
    )
    return TradePage(items=trade_outs(session, rows), next_cursor=next_cursor)
