"""Owner proposals (withdrawals and configuration changes) and the signatures collected for them.

Unlike the index, these rows are not derived from the chain: they hold what owners submitted to the
API (as the Safe transaction service does for Safes). A proposal is identified by its EIP-712
digest on the vault's domain, so the same proposal submitted twice is one row. Its status (pending,
ready, executed, stale) is not stored: it is derived at read time from the index
(`vault_operations`, `vaults.nonce`) by `backend.services.proposals`.

No foreign key points at the index's tables: a reorg or a rebuild of the index must never delete
what owners signed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base
from backend.db.types import Address, BigId, BigInt, Hash32

PROPOSAL_KINDS = ("withdrawal", "config")
SIGNATURE_METHODS = ("ecdsa", "eip1271")


class Proposal(Base):
    """A withdrawal or configuration change some owner proposed for a vault's operation nonce."""

    __tablename__ = "proposals"
    __table_args__ = (
        UniqueConstraint("chain_id", "digest"),
        Index(None, "chain_id", "vault", "nonce"),
        # A vault's proposals newest first: the list endpoint's order (migration 0006).
        Index(None, "chain_id", "vault", "id"),
    )

    # Creation order; the list endpoints page over it.
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # The EIP-712 digest the owners sign (domain: CopyVault/1/chain id/vault).
    digest: Mapped[str] = mapped_column(Hash32, nullable=False)
    vault: Mapped[str] = mapped_column(Address, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # withdrawal | config
    nonce: Mapped[int] = mapped_column(BigInteger, nullable=False)
    deadline: Mapped[int] = mapped_column(BigInteger, nullable=False)  # unix seconds
    # Withdrawals.
    token: Mapped[str | None] = mapped_column(Address)
    amount: Mapped[int | None] = mapped_column(BigInt)
    recipient: Mapped[str | None] = mapped_column(Address)
    # Configuration changes: the call on the vault (0x-hex) and its function signature.
    data: Mapped[str | None] = mapped_column(Text)
    function: Mapped[str | None] = mapped_column(String(200))
    proposer: Mapped[str] = mapped_column(Address, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ProposalSignature(Base):
    """One owner's approval of a proposal, checked when it was added."""

    __tablename__ = "proposal_signatures"
    __table_args__ = (ForeignKeyConstraint(["proposal_id"], ["proposals.id"], ondelete="CASCADE"),)

    proposal_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    signer: Mapped[str] = mapped_column(Address, primary_key=True)
    signature: Mapped[str] = mapped_column(Text, nullable=False)  # 0x-hex
    method: Mapped[str] = mapped_column(String(8), nullable=False)  # ecdsa | eip1271
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
