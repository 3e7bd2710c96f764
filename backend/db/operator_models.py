"""Operators: staff accounts with roles, their sessions and sign-ins, what they did, and the
platform controls they act on (the relayer's pause flag, the deny list).

None of these rows are derived from the chain, and no foreign key points at the index's tables.

- `operators`: one account per username. `status`: `enrolling` (created by an admin, or by
  `copyvault operator create-admin`: unusable until a password is set and the first TOTP code
  confirmed) -> `active` -> `disabled`. `password_hash` is argon2id (never the password);
  `totp_secret` is an AES-256-GCM envelope (COPYVAULT_SECRETS_KEY), never the seed in clear.
  `last_totp_step` is the last 30-second TOTP step accepted: a code of that step or an earlier
  one is refused (each step is usable once). `failures` counts consecutive failed passwords or
  codes; at COPYVAULT_OPERATOR_MAX_FAILURES the account is locked until `locked_until`.
  `enrolment_token_hash` is the SHA-256 of the one-time enrolment token (NULL once enrolled).
- `operator_sessions`: a signed-in operator's session; only the SHA-256 of its `cvo_` token is
  stored. Short-lived (`expires_at`), revocable (`revoked_at`).
- `operator_devices`: the devices an operator has signed in from (SHA-256 of the device id the
  browser keeps in a cookie or a script sends in a header).
- `operator_sign_ins`: every sign-in attempt for a known username: when, from which client address
  and device, whether it succeeded (and why not), and whether the device was new.
- `operator_actions`: every privileged action: who (id, username and role at the time), what,
  on which target, when, from where, the state before and after, and the reason given.
  Append-only: triggers on both stores refuse UPDATE and DELETE; each action is also appended
  to the hash-chained audit trail (`audit_log`, backend/db/audit_models.py) in its transaction.
- `relayer_controls`: one row per chain: `paused` is the flag every relayer worker reads each
  round (no new batches while set; batches in flight are still followed to finality).
- `deny_list`: addresses refused by compliance on a chain, with the reason.
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
from backend.db.types import Address, BigId, JsonDoc

ROLES = ("admin", "risk", "compliance", "support", "auditor")
OPERATOR_STATUSES = ("enrolling", "active", "disabled")


class Operator(Base):
    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("username"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)
    totp_secret: Mapped[dict | None] = mapped_column(JsonDoc)
    last_totp_step: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enrolment_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolment_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


def _operator_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE")


class OperatorSession(Base):
    __tablename__ = "operator_sessions"
    __table_args__ = (_operator_fk(), Index(None, "operator_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    operator_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    client_address: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OperatorDevice(Base):
    __tablename__ = "operator_devices"
    __table_args__ = (_operator_fk(),)

    operator_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    device_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class OperatorSignIn(Base):
    __tablename__ = "operator_sign_ins"
    __table_args__ = (_operator_fk(), Index(None, "operator_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    operator_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    client_address: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(256))
    success: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # Why it failed: bad_password, bad_totp, reused_totp, locked, not_enrolled, disabled.
    failure: Mapped[str | None] = mapped_column(String(32))
    new_device: Mapped[bool] = mapped_column(Boolean, nullable=False)


class OperatorAction(Base):
    __tablename__ = "operator_actions"
    __table_args__ = (Index(None, "operator_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No foreign key: the record outlives any change to the account.
    operator_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    action: Mapped[str] = mapped_column(String(48), nullable=False)
    target: Mapped[str] = mapped_column(String(128), nullable=False)
    chain_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    client_address: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JsonDoc)
    after: Mapped[dict | None] = mapped_column(JsonDoc)
    reason: Mapped[str | None] = mapped_column(Text)


class RelayerControl(Base):
    __tablename__ = "relayer_controls"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    paused: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DenyListEntry(Base):
    __tablename__ = "deny_list"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    added_by: Mapped[str] = mapped_column(String(64), nullable=False)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# Platform accounts, controls and the operators' record: neither index nor purgeable off-chain
# records (`copyvault db purge-offchain` leaves them; operator_actions refuses deletes anyway).
PLATFORM_TABLES = (
    Operator,
    OperatorSession,
    OperatorDevice,
    OperatorSignIn,
    OperatorAction,
    RelayerControl,
    DenyListEntry,
)
