"""Admission control and fair relaying.

- `ix_intents_chain_id_leader_status`: intake counts a leader's intents not yet final (accepted,
  planning, relaying) for the per-leader pending limit, from the index alone.
- `relay_leader_turns`: when a relayer worker last took an intent of each leader to plan; workers
  plan the waiting intent of the leader served longest ago first (round-robin over leaders).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.create_index("ix_intents_chain_id_leader_status", ["chain_id", "leader", "status"])
    op.create_table(
        "relay_leader_turns",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leader", backend.db.types.Address(length=42), nullable=False),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "leader", name=op.f("pk_relay_leader_turns")),
    )


def downgrade() -> None:
    op.drop_table("relay_leader_turns")
    with op.batch_alter_table("intents") as batch:
        batch.drop_index("ix_intents_chain_id_leader_status")
