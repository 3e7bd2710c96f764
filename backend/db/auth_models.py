"""Identity: sign-in nonces, sessions, leader API keys and every use of a key.

Off-chain records like the proposals: no foreign key points at the index's tables, so a reorg or a
rebuild of the index never deletes a session or a key. Secrets are never stored: a session token
and a key's secret are kept as the SHA-256 of the value (`token_hash`, `secret_hash`), which is
enough for 256-bit random values (see `backend.services.auth`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base
from backend.db.types import Address, BigId, Hash32


class AuthNonce(Base):
    """A sign-in nonce the server issued: used at most once, before `expires_at`."""

    __tablename__ = "auth_nonces"
    __table_args__ = (Index(None, "expires_at"),)

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Set by the one sign-in that consumed it (an atomic UPDATE ... WHERE used_at IS NULL).
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuthSession(Base):
    """A signed-in address: a short-lived, revocable session."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        Index(None, "chain_id", "address"),
        Index(None, "token_hash", unique=True),
        Index(None, "expires_at"),
    )

    # Public id (random hex): what GET /v1/auth/sessions lists and DELETE revokes.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    address: Mapped[str] = mapped_column(Address, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)  # SHA-256, hex
    method: Mapped[str] = mapped_column(String(8), nullable=False)  # ecdsa | eip1271
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A leader's API key for its trading bot: may only submit that leader's intents."""

    __tablename__ = "api_keys"
    __table_args__ = (Index(None, "chain_id", "leader"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the <id> of cvk_<id>_<secret>
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    leader: Mapped[str] = mapped_column(Address, nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)  # SHA-256, hex
    rate_per_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKeyUse(Base):
    """One request that presented a key (accepted or refused), with the answer's status."""

    __tablename__ = "api_key_uses"
    # No foreign key: an audit record outlives anything done to the key's row (keys are revoked,
    # never deleted, but no cascade may ever take a use record with it).
    __table_args__ = (Index(None, "key_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    route: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    client: Mapped[str | None] = mapped_column(String(64))  # the client's IP address
    intent_digest: Mapped[str | None] = mapped_column(Hash32)
