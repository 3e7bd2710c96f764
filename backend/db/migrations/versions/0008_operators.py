"""Operators: accounts with roles, sessions, devices, sign-ins, the append-only record of their
actions, the relayer's pause flag and the deny list (backend/db/operator_models.py).

`operator_actions` refuses UPDATE and DELETE on both stores (triggers): the record only grows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 12:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import Address, BigId, JsonDoc

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)
_APPEND_ONLY = "operator_actions is append-only: its rows are never updated or deleted"


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text()),
        sa.Column("totp_secret", JsonDoc),
        sa.Column("last_totp_step", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", _TZ),
        sa.Column("enrolment_token_hash", sa.String(64)),
        sa.Column("enrolment_expires_at", _TZ),
        sa.Column("created_by", sa.String(64)),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("username", name=op.f("uq_operators_username")),
        sa.UniqueConstraint("enrolment_token_hash", name=op.f("uq_operators_enrolment_token_hash")),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=False),
        sa.Column("client_address", sa.String(64)),
        sa.Column("device", sa.String(256)),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("expires_at", _TZ, nullable=False),
        sa.Column("revoked_at", _TZ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_sessions_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_operator_sessions_token_hash")),
    )
    op.create_index(op.f("ix_operator_sessions_operator_id"), "operator_sessions", ["operator_id"])
    op.create_table(
        "operator_devices",
        sa.Column("operator_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("device_hash", sa.String(64), nullable=False),
        sa.Column("first_seen", _TZ, nullable=False),
        sa.Column("last_seen", _TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_devices_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operator_id", "device_hash", name=op.f("pk_operator_devices")),
    )
    op.create_table(
        "operator_sign_ins",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("client_address", sa.String(64)),
        sa.Column("device", sa.String(256)),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("failure", sa.String(32)),
        sa.Column("new_device", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_sign_ins_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_sign_ins")),
    )
    op.create_index(
        op.f("ix_operator_sign_ins_operator_id_id"), "operator_sign_ins", ["operator_id", "id"]
    )
    op.create_table(
        "operator_actions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("chain_id", sa.BigInteger()),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("client_address", sa.String(64)),
        sa.Column("before", JsonDoc),
        sa.Column("after", JsonDoc),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_actions")),
    )
    op.create_index(op.f("ix_operator_actions_operator_id"), "operator_actions", ["operator_id"])
    op.create_table(
        "relayer_controls",
        sa.Column("chain_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("changed_by", sa.String(64)),
        sa.Column("changed_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_relayer_controls")),
    )
    op.create_table(
        "deny_list",
        sa.Column("chain_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("address", Address(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_deny_list")),
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER operator_actions_no_{event.lower()} BEFORE {event} "
                f"ON operator_actions BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION operator_actions_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER operator_actions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON operator_actions FOR EACH STATEMENT EXECUTE FUNCTION operator_actions_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER operator_actions_append_only ON operator_actions")
        op.execute("DROP FUNCTION operator_actions_append_only()")
    for table in (
        "deny_list",
        "relayer_controls",
        "operator_actions",
        "operator_sign_ins",
        "operator_devices",
        "operator_sessions",
        "operators",
    ):
        op.drop_table(table)
