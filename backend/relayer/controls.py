"""What operators set that every relayer worker obeys: the relayer's pause flag.

`relayer_paused` is read once per worker round (backend/relayer/worker.py `step`): while it is
set a worker plans and signs no new batch, but keeps following batches already in flight to
finality. Operators set it through the API (relayer pause/resume, backend/services/
operator_actions.py); /metrics shows it as `copyvault_relayer_paused`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from backend.db.operator_models import RelayerControl


def relayer_paused(conn: Session | Connection, chain_id: int) -> bool:
    """Whether an operator paused the relayer on `chain_id`."""
    return bool(
        conn.scalar(select(RelayerControl.paused).where(RelayerControl.chain_id == chain_id))
    )
