"""Owner proposals and their signatures (see backend/db/proposal_models.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:59:21.235082
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("digest", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("token", backend.db.types.Address(length=42), nullable=True),
        sa.Column("amount", backend.db.types.BigInt(precision=78, scale=0), nullable=True),
        sa.Column("recipient", backend.db.types.Address(length=42), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("function", sa.String(length=200), nullable=True),
        sa.Column("proposer", backend.db.types.Address(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
        sa.UniqueConstraint("chain_id", "digest", name=op.f("uq_proposals_chain_id_digest")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposals_chain_id_vault_nonce"),
            ["chain_id", "vault", "nonce"],
            unique=False,
        )

    op.create_table(
        "proposal_signatures",
        sa.Column(
            "proposal_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("signer", backend.db.types.Address(length=42), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_proposal_signatures_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("proposal_id", "signer", name=op.f("pk_proposal_signatures")),
    )


def downgrade() -> None:
    op.drop_table("proposal_signatures")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposals_chain_id_vault_nonce"))

    op.drop_table("proposals")
