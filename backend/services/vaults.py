"""Vaults as the index knows them: lists by owner or leader, one vault, its event history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from backend.api.errors import VaultNotFoundError
from backend.api.schemas import (
    Allowlist,
    Balance,
    EventOut,
    EventPage,
    Flags,
    Policy,
    TradePage,
    VaultDetail,
    VaultPage,
    VaultSummary,
    checksum,
    checksum_or_none,
)
from backend.db.models import (
    Event,
    Trade,
    Vault,
    VaultAllowlist,
    VaultBalance,
    VaultOwner,
)
from backend.services.leaders import trades_page
from backend.services.pagination import decode_cursor, encode_cursor
from backend.services.valuation import Valuer

# symbol, decimals of tokens the deployment knows (lowercase address).
TokenInfo = Mapping[str, tuple[str | None, int | None]]


def find_vault(session: Session, *, chain_id: int, vault: str) -> Vault:
    row = session.get(Vault, (chain_id, vault.lower()))
    if row is None:
        raise VaultNotFoundError(
            f"no vault {checksum(vault)} on chain {chain_id} in the index: check the address (and "
            "the network), or wait for the indexer to reach the block that created it"
        )
    return row


def owners_of(session: Session, *, chain_id: int, vaults: Sequence[str]) -> dict[str, list[str]]:
    """Owners of each vault, in getOwners() order."""
    found: dict[str, list[str]] = defaultdict(list)
    if not vaults:
        return found
    rows = session.execute(
        select(VaultOwner.vault, VaultOwner.owner)
        .where(VaultOwner.chain_id == chain_id, VaultOwner.vault.in_(list(vaults)))
        .order_by(VaultOwner.vault, VaultOwner.position)
    )
    for vault, owner in rows:
        found[vault].append(owner)
    return found


def _summary_fields(v: Vault, owners: list[str]) -> dict:
    return {
        "address": checksum(v.address),
        "leader": checksum_or_none(v.leader),
        "owners": [checksum(o) for o in owners],
        "threshold": v.threshold,
        "nonce": v.nonce,
        "flags": Flags(paused=v.paused, copying=v.copying, guardian_accepted=v.guardian_accepted),
        "created_block": v.created_block,
        "created_at": v.created_at,
    }


def list_vaults(
    session: Session,
    *,
    chain_id: int,
    owner: str | None,
    leader: str | None,
    cursor: str | None,
    limit: int,
) -> VaultPage:
    """Vaults (of an owner, of a leader, or all), by address."""
    after = decode_cursor(cursor, "vaults", "a")
    query = select(Vault).where(Vault.chain_id == chain_id)
    if owner is not None:
        query = query.where(
            Vault.address.in_(
                select(VaultOwner.vault).where(
                    VaultOwner.chain_id == chain_id, VaultOwner.owner == owner
                )
            )
        )
    if leader is not None:
        query = query.where(Vault.leader == leader)
    if after is not None:
        query = query.where(Vault.address > after[0])
    rows = list(session.scalars(query.order_by(Vault.address).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    owners = owners_of(session, chain_id=chain_id, vaults=[v.address for v in rows])
    items = [VaultSummary(**_summary_fields(v, owners[v.address])) for v in rows]
    next_cursor = encode_cursor("vaults", rows[-1].address) if more and rows else None
    return VaultPage(items=items, next_cursor=next_cursor)


def balances_of(session: Session, *, chain_id: int, vaults: Sequence[str]) -> list[VaultBalance]:
    if not vaults:
        return []
    return list(
        session.scalars(
            select(VaultBalance)
            .where(VaultBalance.chain_id == chain_id, VaultBalance.vault.in_(list(vaults)))
            .order_by(VaultBalance.vault, VaultBalance.token)
        )
    )


def get_vault(
    session: Session, *, chain_id: int, vault: str, valuer: Valuer, tokens: TokenInfo
) -> VaultDetail:
    """One vault: configuration, owners, flags, policy, allowlist, balances and their value."""
    v = find_vault(session, chain_id=chain_id, vault=vault)
    owners = owners_of(session, chain_id=chain_id, vaults=[v.address])[v.address]
    allowed = session.execute(
        select(VaultAllowlist.kind, VaultAllowlist.target)
        .where(VaultAllowlist.chain_id == chain_id, VaultAllowlist.vault == v.address)
        .order_by(VaultAllowlist.kind, VaultAllowlist.target)
    ).all()
    rows = balances_of(session, chain_id=chain_id, vaults=[v.address])
    feeds = valuer.feeds(session, [b.token for b in rows])
    balances = []
    for b in rows:
        symbol, decimals = tokens.get(b.token, (None, None))
        if decimals is None and b.token in feeds:
            decimals = feeds[b.token].token_decimals
        balances.append(
            Balance(
                token=checksum(b.token),
                symbol=symbol,
                decimals=decimals,
                balance=str(b.balance),
                deposited=str(b.deposited),
                withdrawn=str(b.withdrawn),
                bought=str(b.bought),
                sold=str(b.sold),
            )
        )
    trade_count = session.scalar(
        select(func.count())
        .select_from(Trade)
        .where(Trade.chain_id == chain_id, Trade.vault == v.address)
    )
    return VaultDetail(
        **_summary_fields(v, owners),
        creator=checksum_or_none(v.creator),
        created_tx=v.created_tx,
        oracle=checksum_or_none(v.oracle),
        policy=Policy(
            max_fraction_bps=v.max_fraction_bps,
            max_slippage_bps=v.max_slippage_bps,
            max_oracle_age=v.max_oracle_age,
            max_trades_per_day=v.max_trades_per_day,
            loss_budget_bps=v.loss_budget_bps,
        ),
        allowlist=Allowlist(
            assets=[checksum(t) for k, t in allowed if k == "asset"],
            venues=[checksum(t) for k, t in allowed if k == "venue"],
        ),
        balances=balances,
        value=valuer.value(session, {b.token: b.balance for b in rows}),
        trade_count=trade_count or 0,
        updated_block=v.updated_block,
    )


def event_out(e: Event) -> EventOut:
    return EventOut(
        id=e.id,
        block_number=e.block_number,
        block_hash=e.block_hash,
        block_timestamp=e.block_timestamp,
        tx_hash=e.tx_hash,
        tx_index=e.tx_index,
        log_index=e.log_index,
        address=checksum(e.address),
        contract=e.contract,
        name=e.name,
        vault=checksum_or_none(e.vault),
        leader=checksum_or_none(e.leader),
        args=e.args,
    )


def vault_events(
    session: Session,
    *,
    chain_id: int,
    vault: str,
    name: str | None,
    cursor: str | None,
    limit: int,
    order: Literal["asc", "desc"],
) -> EventPage:
    """The vault's events (its own, plus VaultCreated and the router's MirrorSkipped for it), by
    (block, log index), newest first unless `order` is asc."""
    v = find_vault(session, chain_id=chain_id, vault=vault)
    kind = f"events-{order}"
    after = decode_cursor(cursor, kind, "ii")
    query = select(Event).where(Event.chain_id == chain_id, Event.vault == v.address)
    if name is not None:
        query = query.where(Event.name == name)
    if after is not None:
        block, log_index = after
        if order == "desc":
            query = query.where(
                or_(
                    Event.block_number < block,
                    and_(Event.block_number == block, Event.log_index < log_index),
                )
            )
        else:
            query = query.where(
                or_(
                    Event.block_number > block,
                    and_(Event.block_number == block, Event.log_index > log_index),
                )
            )
    if order == "desc":
        query = query.order_by(Event.block_number.desc(), Event.log_index.desc())
    else:
        query = query.order_by(Event.block_number, Event.log_index)
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(kind, rows[-1].block_number, rows[-1].log_index) if more and rows else None
    )
    return EventPage(items=[event_out(e) for e in rows], next_cursor=next_cursor)


def vault_trades(
    session: Session, *, chain_id: int, vault: str, cursor: str | None, limit: int
) -> TradePage:
    """The trades mirrored into `vault`, newest first (404 for a vault the index does not know)."""
    v = find_vault(session, chain_id=chain_id, vault=vault)
    query = select(Trade).where(Trade.chain_id == chain_id, Trade.vault == v.address)
    return trades_page(session, query, cursor=cursor, limit=limit)
