"""Relays followed to finality: the sender's degraded state and nonce-gap counter, and the block
hash of a batch's receipt (checked against the canonical chain until the block is final).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("relay_senders") as batch:
        batch.add_column(sa.Column("degraded_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("degraded_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("nonce_gaps", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("relay_batches") as batch:
        batch.add_column(sa.Column("block_hash", backend.db.types.Hash32(length=66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relay_batches") as batch:
        batch.drop_column("block_hash")
    with op.batch_alter_table("relay_senders") as batch:
        batch.drop_column("nonce_gaps")
        batch.drop_column("degraded_since")
        batch.drop_column("degraded_reason")
