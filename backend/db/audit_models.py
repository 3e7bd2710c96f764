"""The audit trail: an append-only, hash-chained log (backend/audit/log.py writes it), and the
store's copy of the anchors the anchorer published on chain (backend/audit/anchorer.py).

- `audit_log`: one row per recorded event, numbered `seq` = 1, 2, 3... with no gaps. `body` is the
  canonical JSON of the entry's fields (including `seq` and `prev`, the hash of the entry before;
  the first entry's `prev` is 32 zero bytes) and `hash` is keccak256(body). The other columns
  repeat what `body` says so that SQL can filter on them; `copyvault audit verify` checks they
  agree. Append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), and on
  PostgreSQL the application's role (`copyvault db app-role`) may only INSERT and SELECT it.
- `audit_anchors`: what the anchorer published (head seq and hash, Merkle root of the intents
  accepted in [from_time, to_time)), with the transaction that did it. The chain is the authority;
  this copy serves the API and tells the anchorer where the next interval starts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base
from backend.db.types import Hash32, JsonDoc


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        UniqueConstraint("hash"),
        # Two writers that read the same head cannot both append after it.
        UniqueConstraint("prev_hash"),
        Index(None, "category", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str | None] = mapped_column(String(256))
    client: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JsonDoc)
    after: Mapped[dict | None] = mapped_column(JsonDoc)
    reason: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(Hash32, nullable=False)
    hash: Mapped[str] = mapped_column(Hash32, nullable=False)


class AuditAnchor(Base):
    __tablename__ = "audit_anchors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The anchor's index in the contract's list (0, 1, 2...).
    anchor_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contract: Mapped[str] = mapped_column(String(42), nullable=False)
    head_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    head_hash: Mapped[str] = mapped_column(Hash32, nullable=False)
    intents_root: Mapped[str] = mapped_column(Hash32, nullable=False)
    intent_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Unix seconds: the intents of this anchor were accepted in [from_time, to_time).
    from_time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    to_time: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tx_hash: Mapped[str] = mapped_column(Hash32, nullable=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    anchored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# Neither index nor purgeable off-chain records: `copyvault db purge-offchain` leaves them (the log
# refuses deletes anyway, and the anchors are what the log is checked against).
AUDIT_TABLES = (AuditEntry, AuditAnchor)
