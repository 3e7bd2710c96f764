"""Read paths served by indexes (list endpoints filter and limit in SQL), and intent deadlines as
wide as the chain's (uint256).

- `ix_proposals_chain_id_vault_id`: a vault's proposals newest first (GET
  /v1/vaults/{vault}/proposals pages over it; the status filter is evaluated in the same statement
  with primary-key lookups of the vault, its operation at the proposal's nonce and its owners).
- `intents.deadline`: BIGINT refused deadlines above 2^63-1 although the registry takes any
  uint256; now the exact 78-digit type the other uint256 columns use (`BigInt`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import BigInt

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("proposals") as batch:
        batch.create_index("ix_proposals_chain_id_vault_id", ["chain_id", "vault", "id"])
    with op.batch_alter_table("intents") as batch:
        batch.alter_column(
            "deadline",
            existing_type=sa.BigInteger(),
            type_=BigInt(),
            existing_nullable=False,
            postgresql_using="deadline::numeric(78, 0)",
        )


def downgrade() -> None:
    # Deadlines past 2^63-1 do not fit back: they become the largest BIGINT (still far future).
    with op.batch_alter_table("intents") as batch:
        batch.alter_column(
            "deadline",
            existing_type=BigInt(),
            type_=sa.BigInteger(),
            existing_nullable=False,
            postgresql_using="LEAST(deadline, 9223372036854775807)::bigint",
        )
    with op.batch_alter_table("proposals") as batch:
        batch.drop_index("ix_proposals_chain_id_vault_id")
