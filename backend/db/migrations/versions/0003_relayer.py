"""Signed intents and the relayer's work (see backend/db/relay_models.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 13:32:29.964091
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import backend.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intents",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("digest", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("leader", backend.db.types.Address(length=42), nullable=False),
        sa.Column("signer", backend.db.types.Address(length=42), nullable=False),
        sa.Column("venue", backend.db.types.Address(length=42), nullable=False),
        sa.Column("token_in", backend.db.types.Address(length=42), nullable=False),
        sa.Column("token_out", backend.db.types.Address(length=42), nullable=False),
        sa.Column("fraction_bps", sa.Integer(), nullable=False),
        sa.Column("min_price", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("nonce", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_due", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intents")),
        sa.UniqueConstraint("chain_id", "digest", name=op.f("uq_intents_chain_id_digest")),
    )
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intents_chain_id_leader_nonce"),
            ["chain_id", "leader", "nonce"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_intents_chain_id_plan_due"), ["chain_id", "plan_due"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_intents_chain_id_status"), ["chain_id", "status"], unique=False
        )

    op.create_table(
        "relay_senders",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", backend.db.types.Address(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_relay_senders")),
    )
    op.create_table(
        "relay_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("intent_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "vaults",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("gas_limit", sa.BigInteger(), nullable=False),
        sa.Column("simulated_gas", sa.BigInteger(), nullable=False),
        sa.Column("simulated_mirrored", sa.Integer(), nullable=False),
        sa.Column("sender", backend.db.types.Address(length=42), nullable=True),
        sa.Column("tx_nonce", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("mirrored", sa.Integer(), nullable=True),
        sa.Column("skipped", sa.Integer(), nullable=True),
        sa.Column("total_in", backend.db.types.BigInt(precision=78, scale=0), nullable=True),
        sa.Column("total_out", backend.db.types.BigInt(precision=78, scale=0), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["intent_id"],
            ["intents.id"],
            name=op.f("fk_relay_batches_intent_id_intents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_batches")),
    )
    with op.batch_alter_table("relay_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_relay_batches_chain_id_status"), ["chain_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_relay_batches_intent_id"), ["intent_id"], unique=False)

    op.create_table(
        "relay_outcomes",
        sa.Column("intent_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reason_selector", sa.String(length=10), nullable=True),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("amount_in", backend.db.types.BigInt(precision=78, scale=0), nullable=True),
        sa.Column("amount_out", backend.db.types.BigInt(precision=78, scale=0), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["intent_id"],
            ["intents.id"],
            name=op.f("fk_relay_outcomes_intent_id_intents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("intent_id", "vault", name=op.f("pk_relay_outcomes")),
    )
    with op.batch_alter_table("relay_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_relay_outcomes_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "relay_transactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("sender", backend.db.types.Address(length=42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column(
            "max_fee_per_gas", backend.db.types.BigInt(precision=78, scale=0), nullable=False
        ),
        sa.Column(
            "max_priority_fee_per_gas",
            backend.db.types.BigInt(precision=78, scale=0),
            nullable=False,
        ),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("broadcast_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["relay_batches.id"],
            name=op.f("fk_relay_transactions_batch_id_relay_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_transactions")),
        sa.UniqueConstraint("tx_hash", name=op.f("uq_relay_transactions_tx_hash")),
    )
    with op.batch_alter_table("relay_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_relay_transactions_batch_id"), ["batch_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("relay_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relay_transactions_batch_id"))

    op.drop_table("relay_transactions")
    with op.batch_alter_table("relay_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relay_outcomes_batch_id"))

    op.drop_table("relay_outcomes")
    with op.batch_alter_table("relay_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relay_batches_intent_id"))
        batch_op.drop_index(batch_op.f("ix_relay_batches_chain_id_status"))

    op.drop_table("relay_batches")
    op.drop_table("relay_senders")
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intents_chain_id_status"))
        batch_op.drop_index(batch_op.f("ix_intents_chain_id_plan_due"))
        batch_op.drop_index(batch_op.f("ix_intents_chain_id_leader_nonce"))

    op.drop_table("intents")
