"""Rate-limit counters every API process of one deployment shares (backend/security/rate_limits.py).

`rate_limit_hits`: one row per (limit key, window, process): the hits that process admitted for
that key in that window, as of its last reconciliation. Each process writes only its own rows
(an upsert of its absolute count, so a repeated or late write is harmless) and reads the
others'. `expires_at` (epoch seconds) is when the row stops mattering: the end of the window after
it (the sliding window still weighs the previous window); rows past it are deleted.
`updated_ms` (epoch milliseconds of the last upsert) lets a process read only what changed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base


class RateLimitHit(Base):
    __tablename__ = "rate_limit_hits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Epoch seconds at which the window ends (windows are aligned to the epoch, so every process
    # computes the same windows).
    window_end: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    process: Mapped[str] = mapped_column(String(32), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, nullable=False)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Epoch milliseconds of the last upsert: processes read only the rows changed since their last
    # read.
    updated_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (
        Index("ix_rate_limit_hits_expires_at", "expires_at"),
        Index("ix_rate_limit_hits_updated_ms", "updated_ms"),
    )
