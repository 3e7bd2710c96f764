"""The store's tables (SQLAlchemy 2 declarative models).

Three layers, all keyed by `chain_id`:

- **index bookkeeping**: `indexer_cursors` (one row per chain: the last indexed block and its hash,
  written in the same transaction as the rows of that block), `blocks` (hashes of the blocks that
  hold indexed events and of every committed range's first and last block, with parent hashes:
  what links each range to the one before and what reorg detection compares), `reorgs`.
- **events**: every log of the followed contracts, decoded (`name`, `args` as JSON), unique on
  (chain_id, tx_hash, log_index). This table is the source of truth.
- **derived state**, a pure function of the events table (`backend.indexer.projector` folds events
  into it; `rebuild` recomputes it from events alone):
  - per-event rows, one per log of a kind: `trades` (Mirrored), `mirror_skips` (MirrorSkipped with
    the reason's error name), `router_batches` (BatchMirrored + AggregatedSwap), `vault_transfers`
    (Deposited/Withdrawn), `vault_operations` (each consumed vault nonce: withdrawal or config);
  - current state per entity: `vaults` (leader, threshold, nonce, flags, policy), `vault_owners`,
    `vault_allowlist`, `vault_balances`, `leaders`, `leader_delegates`, `leader_nonce_words`,
    `platform`, `platform_venues`, `oracle_feeds`.

Conventions: addresses and hashes are lowercase 0x-hex (`Address`, `Hash32`); token amounts and
other uint256 values are exact integers (`BigInt`); block numbers and unix timestamps are BIGINT.
JSON `args` hold (u)int values of up to 53 bits as numbers and wider ones as decimal strings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.db.types import Address, BigId, BigInt, Hash32, JsonDoc

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _event_fk() -> ForeignKeyConstraint:
    """Per-event rows belong to their event: deleting the event (a reorg) deletes them."""
    return ForeignKeyConstraint(
        ["chain_id", "tx_hash", "log_index"],
        ["events.chain_id", "events.tx_hash", "events.log_index"],
        ondelete="CASCADE",
    )


def _vault_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["chain_id", "vault"], ["vaults.chain_id", "vaults.address"], ondelete="CASCADE"
    )


# ============================================================================= bookkeeping


class IndexerCursor(Base):
    """How far the index of one chain reaches. Blocks [start_block, block_number] are indexed."""

    __tablename__ = "indexer_cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The deployment this index follows (its VaultFactory); another deployment needs another store.
    factory: Mapped[str] = mapped_column(Address, nullable=False)
    start_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_hash: Mapped[str | None] = mapped_column(Hash32)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Block(Base):
    """A block of the indexed chain: each range's first and last block (with its parent hash, so
    every range links to the one before) and every block that holds events."""

    __tablename__ = "blocks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(Hash32, nullable=False)
    timestamp: Mapped[int | None] = mapped_column(BigInteger)
    # Known for the blocks whose header was read (range boundaries); logs do not carry it.
    parent_hash: Mapped[str | None] = mapped_column(Hash32)


class Reorg(Base):
    """A reorganisation the indexer rolled back (for operators and the live event stream)."""

    __tablename__ = "reorgs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The cursor when the reorg was seen, and the common ancestor it rolled back to.
    old_block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    old_block_hash: Mapped[str | None] = mapped_column(Hash32)
    ancestor_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    events_removed: Mapped[int] = mapped_column(Integer, nullable=False)


# ============================================================================= events


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "log_index"),
        Index(None, "chain_id", "block_number", "log_index"),
        Index(None, "chain_id", "vault", "block_number"),
        Index(None, "chain_id", "leader", "block_number"),
        Index(None, "chain_id", "name"),
        # SQLite's AUTOINCREMENT: ids of rows deleted by a reorg are never handed out again, so
        # the id keeps increasing across reorgs (PostgreSQL's sequence already behaves so).
        {"sqlite_autoincrement": True},
    )

    # Insertion order: increases with every row written, so it doubles as a stream position.
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_hash: Mapped[str] = mapped_column(Hash32, nullable=False)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Hash32, nullable=False)
    tx_index: Mapped[int] = mapped_column(Integer, nullable=False)
    log_index: Mapped[int] = mapped_column(Integer, nullable=False)
    address: Mapped[str] = mapped_column(Address, nullable=False)  # the emitting contract
    # factory | registry | router | oracle | vault
    contract: Mapped[str] = mapped_column(String(16), nullable=False)
    # The event's ABI name; NULL when the contract's ABI has no event with that topic.
    name: Mapped[str | None] = mapped_column(String(64))
    # The vault the event concerns (its emitter, or the vault named by VaultCreated/MirrorSkipped).
    vault: Mapped[str | None] = mapped_column(Address)
    # The leader the event concerns (registry events, Mirrored, VaultCreated, LeaderChanged).
    leader: Mapped[str | None] = mapped_column(Address)
    args: Mapped[dict] = mapped_column(JsonDoc, nullable=False)


# ============================================================================= per-event rows


class Trade(Base):
    """A mirrored trade (a vault's Mirrored event), in either router mode."""

    __tablename__ = "trades"
    __table_args__ = (
        _event_fk(),
        Index(None, "chain_id", "leader", "block_number"),
        Index(None, "chain_id", "vault", "block_number"),
        Index(None, "chain_id", "digest"),
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(Hash32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    vault: Mapped[str] = mapped_column(Address, nullable=False)
    leader: Mapped[str] = mapped_column(Address, nullable=False)
    nonce: Mapped[int] = mapped_column(BigInt, nullable=False)
    digest: Mapped[str] = mapped_column(Hash32, nullable=False)
    venue: Mapped[str] = mapped_column(Address, nullable=False)
    token_in: Mapped[str] = mapped_column(Address, nullable=False)
    token_out: Mapped[str] = mapped_column(Address, nullable=False)
    amount_in: Mapped[int] = mapped_column(BigInt, nullable=False)
    amount_out: Mapped[int] = mapped_column(BigInt, nullable=False)
    oracle_out: Mapped[int] = mapped_column(BigInt, nullable=False)


class MirrorSkip(Base):
    """A vault the router skipped for an intent, with the error it raised."""

    __tablename__ = "mirror_skips"
    __table_args__ = (
        _event_fk(),
        Index(None, "chain_id", "intent_digest"),
        Index(None, "chain_id", "vault", "block_number"),
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(Hash32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    vault: Mapped[str] = mapped_column(Address, nullable=False)
    intent_digest: Mapped[str] = mapped_column(Hash32, nullable=False)
    reason_selector: Mapped[str] = mapped_column(String(10), nullable=False)  # 0x + 4 bytes
    # The error's signature ("VaultPaused()") from the compiled ABIs, or a description.
    reason: Mapped[str] = mapped_column(String(200), nullable=False)


class RouterBatch(Base):
    """One router call (BatchMirrored), with the aggregated swap's totals in aggregated mode."""

    __tablename__ = "router_batches"
    __table_args__ = (_event_fk(), Index(None, "chain_id", "intent_digest"))

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(Hash32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    intent_digest: Mapped[str] = mapped_column(Hash32, nullable=False)
    mirrored: Mapped[int] = mapped_column(Integer, nullable=False)
    skipped: Mapped[int] = mapped_column(Integer, nullable=False)
    aggregated: Mapped[bool] = mapped_column(Boolean, nullable=False)
    total_in: Mapped[int | None] = mapped_column(BigInt)
    total_out: Mapped[int | None] = mapped_column(BigInt)


class VaultTransfer(Base):
    """A deposit into or a withdrawal from a vault."""

    __tablename__ = "vault_transfers"
    __table_args__ = (
        _event_fk(),
        Index(None, "chain_id", "vault", "block_number"),
        Index(None, "chain_id", "account"),
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(Hash32, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    vault: Mapped[str] = mapped_column(Address, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # deposit | withdrawal
    token: Mapped[str] = mapped_column(Address, nullable=False)
    account: Mapped[str] = mapped_column(Address, nullable=False)  # depositor or recipient
    amount: Mapped[int] = mapped_column(BigInt, nullable=False)
    nonce: Mapped[int | None] = mapped_column(BigInteger)  # withdrawals: the operation nonce


class VaultOperation(Base):
    """An operation nonce a vault consumed: a withdrawal or a configuration call (M-of-N)."""

    __tablename__ = "vault_operations"
    __table_args__ = (_event_fk(), UniqueConstraint("chain_id", "tx_hash", "log_index"))

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    vault: Mapped[str] = mapped_column(Address, primary_key=True)
    nonce: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(Hash32, nullable=False)
    log_index: Mapped[int] = mapped_column(Integer, nullable=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # withdrawal | config
    selector: Mapped[str | None] = mapped_column(String(10))  # config: 0x + 4 bytes
    function: Mapped[str | None] = mapped_column(String(200))  # config: "setLeader(address)"
    data: Mapped[str | None] = mapped_column(Text)  # config: the call, 0x-hex


# ============================================================================= current state


class Vault(Base):
    __tablename__ = "vaults"
    __table_args__ = (Index(None, "chain_id", "leader"), Index(None, "chain_id", "creator"))

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    creator: Mapped[str | None] = mapped_column(Address)
    salt: Mapped[str | None] = mapped_column(Hash32)
    created_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_tx: Mapped[str] = mapped_column(Hash32, nullable=False)
    created_at: Mapped[int | None] = mapped_column(BigInteger)  # unix seconds
    leader: Mapped[str | None] = mapped_column(Address)
    threshold: Mapped[int] = mapped_column(Integer, nullable=False)
    # The next operation nonce (withdrawals and configuration changes share it).
    nonce: Mapped[int] = mapped_column(BigInteger, nullable=False)
    paused: Mapped[bool] = mapped_column(Boolean, nullable=False)
    copying: Mapped[bool] = mapped_column(Boolean, nullable=False)
    guardian_accepted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    oracle: Mapped[str | None] = mapped_column(Address)
    max_fraction_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    max_slippage_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    max_oracle_age: Mapped[int] = mapped_column(BigInteger, nullable=False)
    max_trades_per_day: Mapped[int] = mapped_column(Integer, nullable=False)
    loss_budget_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class VaultOwner(Base):
    __tablename__ = "vault_owners"
    __table_args__ = (_vault_fk(), Index(None, "chain_id", "owner"))

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    vault: Mapped[str] = mapped_column(Address, primary_key=True)
    owner: Mapped[str] = mapped_column(Address, primary_key=True)
    # The owner's index in the vault's getOwners() (removal moves the last owner into the gap).
    position: Mapped[int] = mapped_column(Integer, nullable=False)


class VaultAllowlist(Base):
    """Assets and venues a vault currently allows (disallowed ones have no row)."""

    __tablename__ = "vault_allowlist"
    __table_args__ = (_vault_fk(),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    vault: Mapped[str] = mapped_column(Address, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # asset | venue
    target: Mapped[str] = mapped_column(Address, primary_key=True)


class VaultBalance(Base):
    """A vault's token balance *as accounted by its events*: deposits + bought - withdrawals - sold.

    Tokens sent to a vault by plain transfer emit no vault event and are not counted (the net can
    even go negative when such tokens are later withdrawn or traded). For the balance the vault
    actually holds, read the chain (`backend.chain.reader.token_balances`).
    """

    __tablename__ = "vault_balances"
    __table_args__ = (_vault_fk(), Index(None, "chain_id", "token"))

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    vault: Mapped[str] = mapped_column(Address, primary_key=True)
    token: Mapped[str] = mapped_column(Address, primary_key=True)
    balance: Mapped[int] = mapped_column(BigInt, nullable=False)
    deposited: Mapped[int] = mapped_column(BigInt, nullable=False)
    withdrawn: Mapped[int] = mapped_column(BigInt, nullable=False)
    bought: Mapped[int] = mapped_column(BigInt, nullable=False)  # tokenOut of mirrored trades
    sold: Mapped[int] = mapped_column(BigInt, nullable=False)  # tokenIn of mirrored trades
    updated_block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Leader(Base):
    """A leader that registered a profile (leaders followed without registering have no row)."""

    __tablename__ = "leaders"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    profile_uri: Mapped[str] = mapped_column(Text, nullable=False)
    registered_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class LeaderDelegate(Base):
    """A leader's current trade-only key (revoked ones have no row; expired ones keep theirs)."""

    __tablename__ = "leader_delegates"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leader: Mapped[str] = mapped_column(Address, primary_key=True)
    delegate: Mapped[str] = mapped_column(Address, primary_key=True)
    expiry: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class LeaderNonceWord(Base):
    """A word of a leader's cancelled-nonce bitmap (the OR of every NoncesInvalidated mask)."""

    __tablename__ = "leader_nonce_words"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leader: Mapped[str] = mapped_column(Address, primary_key=True)
    word_pos: Mapped[int] = mapped_column(BigInt, primary_key=True)
    bitmap: Mapped[int] = mapped_column(BigInt, nullable=False)
    updated_block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Platform(Base):
    """The factory's platform settings."""

    __tablename__ = "platform"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    default_oracle: Mapped[str | None] = mapped_column(Address)
    guardian: Mapped[str | None] = mapped_column(Address)
    sanctions_list: Mapped[str | None] = mapped_column(Address)
    updated_block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class PlatformVenue(Base):
    """Venues allowed platform-wide (disallowed ones have no row)."""

    __tablename__ = "platform_venues"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    venue: Mapped[str] = mapped_column(Address, primary_key=True)
    updated_block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class OracleFeed(Base):
    """A token's USD feed in the deployment's PriceOracle (removed feeds have no row)."""

    __tablename__ = "oracle_feeds"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    oracle: Mapped[str] = mapped_column(Address, primary_key=True)
    token: Mapped[str] = mapped_column(Address, primary_key=True)
    feed: Mapped[str] = mapped_column(Address, nullable=False)
    token_decimals: Mapped[int] = mapped_column(Integer, nullable=False)
    feed_decimals: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class OracleAnswer(Base):
    """A feed's answer as the indexer read it at a block (`latestRoundData` at the end of an indexed
    range): the price history that values vaults over time. Not derived from events (Chainlink-style
    feeds need not emit any), so a rebuild keeps them; a reorg removes those past the ancestor."""

    __tablename__ = "oracle_answers"
    __table_args__ = (Index(None, "chain_id", "feed", "block_timestamp"),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    feed: Mapped[str] = mapped_column(Address, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_timestamp: Mapped[int] = mapped_column(BigInteger, nullable=False)
    answer: Mapped[int] = mapped_column(BigInt, nullable=False)  # int256: may be <= 0 (unpriced)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the feed's own time


# Tables whose rows are derived from events (what `rebuild` clears and recomputes), children first.
PER_EVENT_TABLES = (Trade, MirrorSkip, RouterBatch, VaultTransfer, VaultOperation)
STATE_TABLES = (
    VaultOwner,
    VaultAllowlist,
    VaultBalance,
    Vault,
    LeaderDelegate,
    LeaderNonceWord,
    Leader,
    PlatformVenue,
    OracleFeed,
    Platform,
)
# The whole index of a chain: what the chain can rebuild (`copyvault reindex` drops and rebuilds
# exactly these), children first. Every other table holds off-chain records.
INDEX_TABLES = (*PER_EVENT_TABLES, *STATE_TABLES, Event, Block, Reorg, IndexerCursor)
