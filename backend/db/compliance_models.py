"""Compliance: the sanctions list loaded from a file, screening of the index's addresses and the
cases it opens, and KYC attestations with their encrypted evidence.

None of these rows are derived from the chain; like the operators' tables they survive
`copyvault reindex` and `copyvault db purge-offchain`.

- `sanctions_entries`: the Ethereum addresses of the last sanctions list loaded
  (`copyvault compliance load-list FILE`, OFAC SDN XML or CSV). Loading replaces the whole list:
  each publication supersedes the last. Only the entry's public list id (`list_uid`) and programs
  are kept, never the names the list gives.
- `screening_cursors`: per chain, the last indexed block whose depositors, new vaults' owners and
  newly registered leaders were screened. Loading a list resets it (everything is screened again).
- `screening_cases`: one per (chain, address, subject) that a screening matched: `open` until a
  compliance operator (two-factor) marks it `cleared` (a false match) or `confirmed` (the address
  then goes on the deny list, so intake refuses it). `sources` says which check matched
  (sanctions_list, oracle).
- `kyc_attestations`: a compliance operator's decision on a leader (`verified`, `rejected`,
  `revoked`); the newest row of a leader is its status. `evidence` is an AES-256-GCM envelope
  (COPYVAULT_SECRETS_KEY) of what was checked; after COPYVAULT_KYC_EVIDENCE_RETENTION_DAYS it is
  purged (set to NULL, `evidence_purged_at` set) while the decision stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base
from backend.db.types import Address, BigId, JsonDoc

CASE_STATUSES = ("open", "cleared", "confirmed")
SUBJECTS = ("depositor", "owner", "leader")
KYC_STATUSES = ("verified", "rejected", "revoked")


class SanctionsEntry(Base):
    __tablename__ = "sanctions_entries"

    address: Mapped[str] = mapped_column(Address, primary_key=True)
    list_uid: Mapped[str] = mapped_column(String(32), nullable=False)
    programs: Mapped[str] = mapped_column(String(256), nullable=False)
    source: Mapped[str] = mapped_column(String(256), nullable=False)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ScreeningCursor(Base):
    __tablename__ = "screening_cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ScreeningCase(Base):
    __tablename__ = "screening_cases"
    __table_args__ = (
        UniqueConstraint("chain_id", "address", "subject"),
        Index(None, "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    address: Mapped[str] = mapped_column(Address, nullable=False)
    subject: Mapped[str] = mapped_column(String(16), nullable=False)
    sources: Mapped[str] = mapped_column(String(64), nullable=False)
    # Where the address was seen: a vault, and the block of the deposit, creation or registration.
    vault: Mapped[str | None] = mapped_column(Address)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    list_uid: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)


class KycAttestation(Base):
    __tablename__ = "kyc_attestations"
    __table_args__ = (Index(None, "chain_id", "address", "id"), Index(None, "recorded_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    address: Mapped[str] = mapped_column(Address, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    evidence: Mapped[dict | None] = mapped_column(JsonDoc)
    evidence_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Kept by `copyvault db purge-offchain` (with the operators' tables): compliance's own record.
COMPLIANCE_TABLES = (SanctionsEntry, ScreeningCursor, ScreeningCase, KycAttestation)
