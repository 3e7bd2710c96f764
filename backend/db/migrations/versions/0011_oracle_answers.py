"""Feed answers the indexer reads at indexed blocks (`oracle_answers`): vault value over time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import Address, BigInt

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oracle_answers",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("feed", Address(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("answer", BigInt(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "feed", "block_number"),
    )
    op.create_index(
        "ix_oracle_answers_chain_id_feed_block_timestamp",
        "oracle_answers",
        ["chain_id", "feed", "block_timestamp"],
    )


def downgrade() -> None:
    op.drop_index("ix_oracle_answers_chain_id_feed_block_timestamp", table_name="oracle_answers")
    op.drop_table("oracle_answers")
