"""GET /v1/health: is the store reachable, where is the chain, how far behind is the indexer."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from sqlalchemy import select, text

from backend.api.deps import StateDep
from backend.db.models import IndexerCursor
from backend.exceptions import CopyvaultError

router = APIRouter(tags=["health"])


class StoreHealth(BaseModel):
    ok: bool
    backend: str
    error: str | None = None


class ChainHealth(BaseModel):
    ok: bool
    chain_id: int
    head: int | None = None
    error: str | None = None


class IndexerHealth(BaseModel):
    enabled: bool
    running: bool
    # Last indexed block (None before the first range is indexed).
    cursor: int | None = None
    # Blocks between the chain head and the cursor (confirmations included).
    lag: int | None = None
    confirmations: int
    events_indexed: int
    reorgs: int
    last_error: str | None = None


class Health(BaseModel):
    status: str  # "ok" or "degraded"
    store: StoreHealth
    chain: ChainHealth
    indexer: IndexerHealth


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The store or the node is unreachable."}},
)
def health(state: StateDep, response: Response) -> Health:
    engine = state.engine
    store = StoreHealth(ok=True, backend=engine.dialect.name)
    cursor: int | None = None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            ct = IndexerCursor.__table__
            row = conn.execute(
                select(ct.c.block_number, ct.c.start_block).where(
                    ct.c.chain_id == state.deployment.chain_id
                )
            ).first()
            if row is not None and row[0] >= row[1]:
                cursor = row[0]
    except Exception as exc:  # any store failure is reported, never raised
        store = StoreHealth(ok=False, backend=engine.dialect.name, error=str(exc).splitlines()[0])

    chain = ChainHealth(ok=True, chain_id=state.deployment.chain_id)
    try:
        chain.head = state.quick_client.block_number()
    except CopyvaultError as exc:
        chain.ok, chain.error = False, str(exc)

    indexer = state.indexer
    stats = indexer.stats if indexer is not None else None
    lag = None
    if chain.head is not None and cursor is not None:
        lag = max(0, chain.head - cursor)
    elif chain.head is not None and cursor is None:
        lag = max(0, chain.head - state.deployment.start_block + 1)
    body = Health(
        status="ok" if store.ok and chain.ok else "degraded",
        store=store,
        chain=chain,
        indexer=IndexerHealth(
            enabled=indexer is not None,
            running=bool(stats and stats.running),
            cursor=cursor,
            lag=lag,
            confirmations=state.settings.confirmations,
            events_indexed=stats.events if stats else 0,
            reorgs=stats.reorgs if stats else 0,
            last_error=stats.last_error if stats else None,
        ),
    )
    if body.status != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return body
