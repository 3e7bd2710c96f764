"""The risk engine's record: one row per decision that was not a plain admit.

Every intent carries its own score and the features that drove it (`intents.risk_score`,
`intents.risk_features`, written by intake in the same INSERT). A decision that acted, a hold or a
severe verdict (or a withdrawal to a recipient the vault never paid), also gets a
`risk_decisions` row: what was judged, the score and features, the action, and what was done about
it (vaults paused with their transactions, the alert's delivery). Append-only like
`operator_actions`: triggers on both stores refuse UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base
from backend.db.types import Address, BigId, JsonDoc

RISK_KINDS = ("intent", "withdrawal")
RISK_ACTIONS = ("hold", "severe", "flag")


class RiskDecision(Base):
    __tablename__ = "risk_decisions"
    __table_args__ = (Index(None, "chain_id", "at"), Index(None, "chain_id", "subject"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # RISK_KINDS
    subject: Mapped[str] = mapped_column(String(80), nullable=False)  # digest or proposal id
    leader: Mapped[str | None] = mapped_column(Address)
    vault: Mapped[str | None] = mapped_column(Address)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # RISK_ACTIONS
    features: Mapped[list] = mapped_column(JsonDoc, nullable=False)
    # [{"vault": ..., "tx_hash": ...} or {"vault": ..., "error": ...}] for a severe decision.
    paused: Mapped[list | None] = mapped_column(JsonDoc)
    alert: Mapped[str | None] = mapped_column(Text)  # "sent after N attempts", "failed: ..."
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
