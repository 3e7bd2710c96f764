"""The index keeps the unfinalised chain (parent-hash links between ranges).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: blocks stored before this migration (and blocks known only from their logs) have
    # no parent hash; a range's link is checked against the cursor's hash, which they all have.
    with op.batch_alter_table("blocks") as batch:
        batch.add_column(
            sa.Column("parent_hash", backend.db.types.Hash32(length=66), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.drop_column("parent_hash")
