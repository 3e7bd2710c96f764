"""Compliance: the loaded sanctions list, screening cursors and cases, KYC attestations
(backend/db/compliance_models.py).

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07 15:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import Address, BigId, JsonDoc

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sanctions_entries",
        sa.Column("address", Address(), nullable=False),
        sa.Column("list_uid", sa.String(32), nullable=False),
        sa.Column("programs", sa.String(256), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("loaded_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_sanctions_entries")),
    )
    op.create_table(
        "screening_cursors",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_screening_cursors")),
    )
    op.create_table(
        "screening_cases",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("address", Address(), nullable=False),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("sources", sa.String(64), nullable=False),
        sa.Column("vault", Address()),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("list_uid", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", _TZ, nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", _TZ),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_cases")),
        sa.UniqueConstraint(
            "chain_id",
            "address",
            "subject",
            name=op.f("uq_screening_cases_chain_id_address_subject"),
        ),
    )
    op.create_index(
        op.f("ix_screening_cases_status_id"), "screening_cases", ["status", "id"], unique=False
    )
    op.create_table(
        "kyc_attestations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("address", Address(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("evidence", JsonDoc),
        sa.Column("evidence_purged_at", _TZ),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", _TZ, nullable=False),
        sa.Column("expires_at", _TZ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_attestations")),
    )
    op.create_index(
        op.f("ix_kyc_attestations_chain_id_address_id"),
        "kyc_attestations",
        ["chain_id", "address", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_kyc_attestations_recorded_at"), "kyc_attestations", ["recorded_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_kyc_attestations_recorded_at"), table_name="kyc_attestations")
    op.drop_index(op.f("ix_kyc_attestations_chain_id_address_id"), table_name="kyc_attestations")
    op.drop_table("kyc_attestations")
    op.drop_index(op.f("ix_screening_cases_status_id"), table_name="screening_cases")
    op.drop_table("screening_cases")
    op.drop_table("screening_cursors")
    op.drop_table("sanctions_entries")
