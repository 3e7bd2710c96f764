"""Rate-limit counters shared by the API processes of one deployment (`rate_limit_hits`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("process", sa.String(32), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_end", "process"),
    )
    op.create_index("ix_rate_limit_hits_expires_at", "rate_limit_hits", ["expires_at"])
    op.create_index("ix_rate_limit_hits_updated_ms", "rate_limit_hits", ["updated_ms"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_hits_updated_ms", table_name="rate_limit_hits")
    op.drop_index("ix_rate_limit_hits_expires_at", table_name="rate_limit_hits")
    op.drop_table("rate_limit_hits")
