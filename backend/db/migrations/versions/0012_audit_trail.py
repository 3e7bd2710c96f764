"""The audit trail: the hash-chained `audit_log` and the store's copy of its on-chain anchors
(`audit_anchors`), backend/db/audit_models.py.

`audit_log` refuses UPDATE and DELETE on both stores, and TRUNCATE on PostgreSQL (triggers). A
database owner can drop a trigger: that is what the hash chain and the on-chain anchors are for
(`copyvault audit verify` finds the change). `copyvault db app-role` makes the PostgreSQL role
the application runs as, which may only INSERT and SELECT this table.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import Hash32, JsonDoc

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)
_APPEND_ONLY = "audit_log is append-only: its rows are never updated or deleted"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256)),
        sa.Column("client", sa.String(64)),
        sa.Column("before", JsonDoc),
        sa.Column("after", JsonDoc),
        sa.Column("reason", sa.Text()),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", Hash32(), nullable=False),
        sa.Column("hash", Hash32(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
    )
    op.create_index(op.f("ix_audit_log_category_seq"), "audit_log", ["category", "seq"])
    op.create_table(
        "audit_anchors",
        sa.Column("chain_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("anchor_index", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", Hash32(), nullable=False),
        sa.Column("intents_root", Hash32(), nullable=False),
        sa.Column("intent_count", sa.BigInteger(), nullable=False),
        sa.Column("from_time", sa.BigInteger(), nullable=False),
        sa.Column("to_time", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", Hash32(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("anchored_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "anchor_index", name=op.f("pk_audit_anchors")),
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} "
                f"ON audit_log BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("audit_anchors")
    op.drop_table("audit_log")
