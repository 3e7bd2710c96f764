"""Signed intents and the relayer's work: what it planned, what it sent, what happened per vault.

Like proposals, these rows are not derived from the chain: they hold what leaders submitted and what
the relayer did. No foreign key points at the index's tables (a reorg or a rebuild of the index must
never delete an accepted intent or the record of a transaction the relayer signed).

- `intents`: one row per EIP-712 digest (the same intent submitted twice is one row). `status`:
  `accepted` (waiting for a worker) -> `planning` (a worker holds it until `claim_expires_at`)
  -> `relaying` (batches planned) -> `done` (every vault has a final outcome), or `rejected` when
  the chain refused it by the time it was relayed (cancelled, delegate revoked; `error` says why).
  An operator may hold an `accepted` intent no worker has claimed: `held` (`plan_due` false, so
  no worker plans it) until released (back to `accepted`) or rejected (`rejected`, `error` says
  so); backend/services/operator_actions.py.
  `plan_due` marks an intent with vaults waiting for a plan (a worker claims it by the lease).
- `relay_batches`: one mirrorAggregated call for a group of the intent's vaults. `status`:
  `planned` -> `signed` (a transaction is stored, maybe not yet broadcast) -> `included` (a
  receipt with status 1 in block `block_number` / `block_hash`, not yet
  `COPYVAULT_RELAYER_CONFIRMATIONS` deep; re-checked against the canonical chain every round)
  -> `mined` (final), or `reverted` / `dropped` / `reorged` (undone by a reorg: its vaults were
  planned again in a new batch after checking `isIntentExecuted` on chain) / `expired` (the
  deadline passed before it was sent).
- `relay_transactions`: every signed transaction of a batch (a replacement with a higher fee is a
  new row with the same nonce, so at most one of them is ever mined). The raw signed transaction is
  kept so that a restart rebroadcasts exactly what was signed instead of signing anew.
- `relay_outcomes`: per intent and vault: `pending` (no final answer yet: planned, in flight, or
  in a block not yet final), `mirrored` (transaction, amounts) or `skipped` (the reason: the vault's
  error from the router's MirrorSkipped, or why the relayer left it out). `mirrored` and `skipped`
  are final.
- `relay_leader_turns`: when a worker last took an intent of each leader to plan; workers plan the
  waiting intent of the leader served longest ago first (round-robin over leaders), so one leader's
  backlog never holds back another leader's intent by more than one planning turn.
- `relay_senders`: the sender's next nonce, locked (SELECT ... FOR UPDATE) while a nonce is taken;
  `degraded_reason` is non-NULL exactly while the sender is degraded (since `degraded_since`);
  `nonce_gaps` counts the gaps found between the stored next nonce and the node's.
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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base
from backend.db.types import Address, BigId, BigInt, Hash32, JsonDoc

INTENT_STATUSES = ("accepted", "held", "planning", "relaying", "done", "rejected")
BATCH_STATUSES = (
    "planned",
    "signed",
    "included",
    "mined",
    "reverted",
    "dropped",
    "reorged",
    "expired",
)
OUTCOME_STATUSES = ("pending", "mirrored", "skipped")


class Intent(Base):
    """A leader's signed TradeIntent, accepted by the API."""

    __tablename__ = "intents"
    __table_args__ = (
        UniqueConstraint("chain_id", "digest"),
        Index(None, "chain_id", "status"),
        Index(None, "chain_id", "plan_due"),
        Index(None, "chain_id", "leader", "nonce"),
        # Intake counts a leader's intents not yet final (the per-leader pending limit).
        Index(None, "chain_id", "leader", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # The EIP-712 digest on the registry's domain (CopyVault / 1 / chain id / registry).
    digest: Mapped[str] = mapped_column(Hash32, nullable=False)
    leader: Mapped[str] = mapped_column(Address, nullable=False)
    # Who signed: the leader, one of its delegates, or the leader itself through EIP-1271.
    signer: Mapped[str] = mapped_column(Address, nullable=False)
    venue: Mapped[str] = mapped_column(Address, nullable=False)
    token_in: Mapped[str] = mapped_column(Address, nullable=False)
    token_out: Mapped[str] = mapped_column(Address, nullable=False)
    fraction_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    min_price: Mapped[int] = mapped_column(BigInt, nullable=False)
    nonce: Mapped[int] = mapped_column(BigInt, nullable=False)
    # Any uint256, as the registry takes (migration 0006 widened it from BIGINT).
    deadline: Mapped[int] = mapped_column(BigInt, nullable=False)
    signature: Mapped[str] = mapped_column(Text, nullable=False)  # 0x-hex
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # Vaults wait for a plan: all of them when accepted, those of a reverted or dropped batch later.
    plan_due: Mapped[bool] = mapped_column(Boolean, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The risk engine's score (0-100) and the features that drove it (docs/risk.md); NULL when
    # the engine was off.
    risk_score: Mapped[int | None] = mapped_column(Integer)
    risk_features: Mapped[list | None] = mapped_column(JsonDoc)


class RelayBatch(Base):
    """One mirrorAggregated call for some of an intent's vaults."""

    __tablename__ = "relay_batches"
    __table_args__ = (
        ForeignKeyConstraint(["intent_id"], ["intents.id"], ondelete="CASCADE"),
        Index(None, "intent_id"),
        Index(None, "chain_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    intent_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # Checksummed vault addresses, in the order passed to the router.
    vaults: Mapped[list] = mapped_column(JsonDoc, nullable=False)
    # 1 for the first batch of these vaults, 2 for their re-plan after a revert or a drop...
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    gas_limit: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # What the simulation predicted (eth_simulateV1): gas used and vaults mirrored.
    simulated_gas: Mapped[int] = mapped_column(BigInteger, nullable=False)
    simulated_mirrored: Mapped[int] = mapped_column(Integer, nullable=False)
    sender: Mapped[str | None] = mapped_column(Address)
    tx_nonce: Mapped[int | None] = mapped_column(BigInteger)
    # Filled from the receipt once mined (or reverted).
    tx_hash: Mapped[str | None] = mapped_column(Hash32)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    # The receipt's block: an `included` batch whose block is no longer the node's block at
    # `block_number` (or whose receipt is gone) was undone by a reorg.
    block_hash: Mapped[str | None] = mapped_column(Hash32)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    mirrored: Mapped[int | None] = mapped_column(Integer)
    skipped: Mapped[int | None] = mapped_column(Integer)
    total_in: Mapped[int | None] = mapped_column(BigInt)
    total_out: Mapped[int | None] = mapped_column(BigInt)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RelayTransaction(Base):
    """A signed transaction of a batch: the first, or a replacement with the same nonce."""

    __tablename__ = "relay_transactions"
    __table_args__ = (
        ForeignKeyConstraint(["batch_id"], ["relay_batches.id"], ondelete="CASCADE"),
        UniqueConstraint("tx_hash"),
        Index(None, "batch_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tx_hash: Mapped[str] = mapped_column(Hash32, nullable=False)
    sender: Mapped[str] = mapped_column(Address, nullable=False)
    nonce: Mapped[int] = mapped_column(BigInteger, nullable=False)
    max_fee_per_gas: Mapped[int] = mapped_column(BigInt, nullable=False)
    max_priority_fee_per_gas: Mapped[int] = mapped_column(BigInt, nullable=False)
    # The signed transaction (public once broadcast; no secret in it).
    raw: Mapped[str] = mapped_column(Text, nullable=False)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    broadcast_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RelayOutcome(Base):
    """What happened to one vault for one intent."""

    __tablename__ = "relay_outcomes"
    __table_args__ = (
        ForeignKeyConstraint(["intent_id"], ["intents.id"], ondelete="CASCADE"),
        Index(None, "batch_id"),
    )

    intent_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    vault: Mapped[str] = mapped_column(Address, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    batch_id: Mapped[int | None] = mapped_column(BigInteger)
    # skipped: the error signature ("VaultPaused()") or the relayer's reason; selector if any.
    reason: Mapped[str | None] = mapped_column(Text)
    reason_selector: Mapped[str | None] = mapped_column(String(10))
    # mirrored: from the vault's Mirrored event in the receipt.
    tx_hash: Mapped[str | None] = mapped_column(Hash32)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    amount_in: Mapped[int | None] = mapped_column(BigInt)
    amount_out: Mapped[int | None] = mapped_column(BigInt)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RelaySender(Base):
    """The relayer's sending account on a chain: the next nonce to hand out."""

    __tablename__ = "relay_senders"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Set while the relayer cannot make progress on its own (for example the fee cap leaves no
    # room to replace a stuck transaction); readiness and /metrics read it. Cleared on recovery.
    degraded_reason: Mapped[str | None] = mapped_column(Text)
    degraded_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Nonce gaps found between the store and the node, filled or abandoned (a counter).
    nonce_gaps: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class RelayLeaderTurn(Base):
    """When a relayer worker last took one of the leader's intents to plan (its turn)."""

    __tablename__ = "relay_leader_turns"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leader: Mapped[str] = mapped_column(Address, primary_key=True)
    served_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
