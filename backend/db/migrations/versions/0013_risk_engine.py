"""The risk engine: each intent's score and the features that drove it (docs/risk.md).

Its decisions (holds, severe verdicts with the vaults paused and the alert sent) are entries of
the audit trail (`audit_log`, category `risk_decision`), not a table of their own.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.db.types import JsonDoc

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.add_column(sa.Column("risk_score", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("risk_features", JsonDoc, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.drop_column("risk_features")
        batch.drop_column("risk_score")
