"""The risk engine: each intent's score and features, and the append-only `risk_decisions`.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db import append_only
from backend.db.types import Address, BigId, JsonDoc

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.add_column(sa.Column("risk_score", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("risk_features", JsonDoc, nullable=True))
    op.create_table(
        "risk_decisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("leader", Address, nullable=True),
        sa.Column("vault", Address, nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("features", JsonDoc, nullable=False),
        sa.Column("paused", JsonDoc, nullable=True),
        sa.Column("alert", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
    )
    op.create_index(op.f("ix_risk_decisions_chain_id_at"), "risk_decisions", ["chain_id", "at"])
    op.create_index(
        op.f("ix_risk_decisions_chain_id_subject"), "risk_decisions", ["chain_id", "subject"]
    )
    append_only.create("risk_decisions")


def downgrade() -> None:
    append_only.drop("risk_decisions")
    op.drop_index(op.f("ix_risk_decisions_chain_id_subject"), table_name="risk_decisions")
    op.drop_index(op.f("ix_risk_decisions_chain_id_at"), table_name="risk_decisions")
    op.drop_table("risk_decisions")
    with op.batch_alter_table("intents") as batch:
        batch.drop_column("risk_features")
        batch.drop_column("risk_score")
