"""Initial schema: bookkeeping, events and derived state (see backend/db/models.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-29 15:28:25.344794
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import backend.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "number", name=op.f("pk_blocks")),
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("address", backend.db.types.Address(length=42), nullable=False),
        sa.Column("contract", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=True),
        sa.Column("leader", backend.db.types.Address(length=42), nullable=True),
        sa.Column("args", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint(
            "chain_id", "tx_hash", "log_index", name=op.f("uq_events_chain_id_tx_hash_log_index")
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_chain_id_block_number_log_index"),
            ["chain_id", "block_number", "log_index"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_events_chain_id_leader_block_number"),
            ["chain_id", "leader", "block_number"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_events_chain_id_name"), ["chain_id", "name"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_events_chain_id_vault_block_number"),
            ["chain_id", "vault", "block_number"],
            unique=False,
        )

    op.create_table(
        "indexer_cursors",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("factory", backend.db.types.Address(length=42), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", backend.db.types.Hash32(length=66), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_indexer_cursors")),
    )
    op.create_table(
        "leader_delegates",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leader", backend.db.types.Address(length=42), nullable=False),
        sa.Column("delegate", backend.db.types.Address(length=42), nullable=False),
        sa.Column("expiry", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "leader", "delegate", name=op.f("pk_leader_delegates")),
    )
    op.create_table(
        "leader_nonce_words",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leader", backend.db.types.Address(length=42), nullable=False),
        sa.Column("word_pos", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("bitmap", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "chain_id", "leader", "word_pos", name=op.f("pk_leader_nonce_words")
        ),
    )
    op.create_table(
        "leaders",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", backend.db.types.Address(length=42), nullable=False),
        sa.Column("profile_uri", sa.Text(), nullable=False),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_leaders")),
    )
    op.create_table(
        "oracle_feeds",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("oracle", backend.db.types.Address(length=42), nullable=False),
        sa.Column("token", backend.db.types.Address(length=42), nullable=False),
        sa.Column("feed", backend.db.types.Address(length=42), nullable=False),
        sa.Column("token_decimals", sa.Integer(), nullable=False),
        sa.Column("feed_decimals", sa.Integer(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "oracle", "token", name=op.f("pk_oracle_feeds")),
    )
    op.create_table(
        "platform",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("default_oracle", backend.db.types.Address(length=42), nullable=True),
        sa.Column("guardian", backend.db.types.Address(length=42), nullable=True),
        sa.Column("sanctions_list", backend.db.types.Address(length=42), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_platform")),
    )
    op.create_table(
        "platform_venues",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("venue", backend.db.types.Address(length=42), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "venue", name=op.f("pk_platform_venues")),
    )
    op.create_table(
        "reorgs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_block_number", sa.BigInteger(), nullable=False),
        sa.Column("old_block_hash", backend.db.types.Hash32(length=66), nullable=True),
        sa.Column("ancestor_block", sa.BigInteger(), nullable=False),
        sa.Column("events_removed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reorgs")),
    )
    op.create_table(
        "vaults",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", backend.db.types.Address(length=42), nullable=False),
        sa.Column("creator", backend.db.types.Address(length=42), nullable=True),
        sa.Column("salt", backend.db.types.Hash32(length=66), nullable=True),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("created_tx", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=True),
        sa.Column("leader", backend.db.types.Address(length=42), nullable=True),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("copying", sa.Boolean(), nullable=False),
        sa.Column("guardian_accepted", sa.Boolean(), nullable=False),
        sa.Column("oracle", backend.db.types.Address(length=42), nullable=True),
        sa.Column("max_fraction_bps", sa.Integer(), nullable=False),
        sa.Column("max_slippage_bps", sa.Integer(), nullable=False),
        sa.Column("max_oracle_age", sa.BigInteger(), nullable=False),
        sa.Column("max_trades_per_day", sa.Integer(), nullable=False),
        sa.Column("loss_budget_bps", sa.Integer(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_vaults")),
    )
    with op.batch_alter_table("vaults", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vaults_chain_id_creator"), ["chain_id", "creator"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vaults_chain_id_leader"), ["chain_id", "leader"], unique=False
        )

    op.create_table(
        "mirror_skips",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("intent_digest", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("reason_selector", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id", "tx_hash", "log_index"],
            ["events.chain_id", "events.tx_hash", "events.log_index"],
            name=op.f("fk_mirror_skips_chain_id_tx_hash_log_index_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_mirror_skips")),
    )
    with op.batch_alter_table("mirror_skips", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mirror_skips_chain_id_intent_digest"),
            ["chain_id", "intent_digest"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_mirror_skips_chain_id_vault_block_number"),
            ["chain_id", "vault", "block_number"],
            unique=False,
        )

    op.create_table(
        "router_batches",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("intent_digest", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("mirrored", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("aggregated", sa.Boolean(), nullable=False),
        sa.Column("total_in", backend.db.types.BigInt(precision=78, scale=0), nullable=True),
        sa.Column("total_out", backend.db.types.BigInt(precision=78, scale=0), nullable=True),
        sa.ForeignKeyConstraint(
            ["chain_id", "tx_hash", "log_index"],
            ["events.chain_id", "events.tx_hash", "events.log_index"],
            name=op.f("fk_router_batches_chain_id_tx_hash_log_index_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_router_batches")),
    )
    with op.batch_alter_table("router_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_router_batches_chain_id_intent_digest"),
            ["chain_id", "intent_digest"],
            unique=False,
        )

    op.create_table(
        "trades",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("leader", backend.db.types.Address(length=42), nullable=False),
        sa.Column("nonce", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("digest", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("venue", backend.db.types.Address(length=42), nullable=False),
        sa.Column("token_in", backend.db.types.Address(length=42), nullable=False),
        sa.Column("token_out", backend.db.types.Address(length=42), nullable=False),
        sa.Column("amount_in", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("amount_out", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("oracle_out", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id", "tx_hash", "log_index"],
            ["events.chain_id", "events.tx_hash", "events.log_index"],
            name=op.f("fk_trades_chain_id_tx_hash_log_index_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_trades")),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trades_chain_id_digest"), ["chain_id", "digest"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_trades_chain_id_leader_block_number"),
            ["chain_id", "leader", "block_number"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_trades_chain_id_vault_block_number"),
            ["chain_id", "vault", "block_number"],
            unique=False,
        )

    op.create_table(
        "vault_allowlist",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("target", backend.db.types.Address(length=42), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id", "vault"],
            ["vaults.chain_id", "vaults.address"],
            name=op.f("fk_vault_allowlist_chain_id_vault_vaults"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "chain_id", "vault", "kind", "target", name=op.f("pk_vault_allowlist")
        ),
    )
    op.create_table(
        "vault_balances",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("token", backend.db.types.Address(length=42), nullable=False),
        sa.Column("balance", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("deposited", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("withdrawn", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("bought", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("sold", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id", "vault"],
            ["vaults.chain_id", "vaults.address"],
            name=op.f("fk_vault_balances_chain_id_vault_vaults"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chain_id", "vault", "token", name=op.f("pk_vault_balances")),
    )
    with op.batch_alter_table("vault_balances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_balances_chain_id_token"), ["chain_id", "token"], unique=False
        )

    op.create_table(
        "vault_operations",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("selector", sa.String(length=10), nullable=True),
        sa.Column("function", sa.String(length=200), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chain_id", "tx_hash", "log_index"],
            ["events.chain_id", "events.tx_hash", "events.log_index"],
            name=op.f("fk_vault_operations_chain_id_tx_hash_log_index_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chain_id", "vault", "nonce", name=op.f("pk_vault_operations")),
        sa.UniqueConstraint(
            "chain_id",
            "tx_hash",
            "log_index",
            name=op.f("uq_vault_operations_chain_id_tx_hash_log_index"),
        ),
    )
    op.create_table(
        "vault_owners",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("owner", backend.db.types.Address(length=42), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id", "vault"],
            ["vaults.chain_id", "vaults.address"],
            name=op.f("fk_vault_owners_chain_id_vault_vaults"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chain_id", "vault", "owner", name=op.f("pk_vault_owners")),
    )
    with op.batch_alter_table("vault_owners", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_owners_chain_id_owner"), ["chain_id", "owner"], unique=False
        )

    op.create_table(
        "vault_transfers",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", backend.db.types.Hash32(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("vault", backend.db.types.Address(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("token", backend.db.types.Address(length=42), nullable=False),
        sa.Column("account", backend.db.types.Address(length=42), nullable=False),
        sa.Column("amount", backend.db.types.BigInt(precision=78, scale=0), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chain_id", "tx_hash", "log_index"],
            ["events.chain_id", "events.tx_hash", "events.log_index"],
            name=op.f("fk_vault_transfers_chain_id_tx_hash_log_index_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "chain_id", "tx_hash", "log_index", name=op.f("pk_vault_transfers")
        ),
    )
    with op.batch_alter_table("vault_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_transfers_chain_id_account"), ["chain_id", "account"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_vault_transfers_chain_id_vault_block_number"),
            ["chain_id", "vault", "block_number"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("vault_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_transfers_chain_id_vault_block_number"))
        batch_op.drop_index(batch_op.f("ix_vault_transfers_chain_id_account"))

    op.drop_table("vault_transfers")
    with op.batch_alter_table("vault_owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_owners_chain_id_owner"))

    op.drop_table("vault_owners")
    op.drop_table("vault_operations")
    with op.batch_alter_table("vault_balances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_balances_chain_id_token"))

    op.drop_table("vault_balances")
    op.drop_table("vault_allowlist")
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trades_chain_id_vault_block_number"))
        batch_op.drop_index(batch_op.f("ix_trades_chain_id_leader_block_number"))
        batch_op.drop_index(batch_op.f("ix_trades_chain_id_digest"))

    op.drop_table("trades")
    with op.batch_alter_table("router_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_router_batches_chain_id_intent_digest"))

    op.drop_table("router_batches")
    with op.batch_alter_table("mirror_skips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mirror_skips_chain_id_vault_block_number"))
        batch_op.drop_index(batch_op.f("ix_mirror_skips_chain_id_intent_digest"))

    op.drop_table("mirror_skips")
    with op.batch_alter_table("vaults", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vaults_chain_id_leader"))
        batch_op.drop_index(batch_op.f("ix_vaults_chain_id_creator"))

    op.drop_table("vaults")
    op.drop_table("reorgs")
    op.drop_table("platform_venues")
    op.drop_table("platform")
    op.drop_table("oracle_feeds")
    op.drop_table("leaders")
    op.drop_table("leader_nonce_words")
    op.drop_table("leader_delegates")
    op.drop_table("indexer_cursors")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_chain_id_vault_block_number"))
        batch_op.drop_index(batch_op.f("ix_events_chain_id_name"))
        batch_op.drop_index(batch_op.f("ix_events_chain_id_leader_block_number"))
        batch_op.drop_index(batch_op.f("ix_events_chain_id_block_number_log_index"))

    op.drop_table("events")
    op.drop_table("blocks")
