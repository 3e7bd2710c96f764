"""GET /v1/health (liveness) and GET /v1/ready (readiness).

- `/v1/health` answers 200 whenever the process serves requests (`status: "alive"`): a liveness
  probe that restarted the server because the node or the store is down would not help. Its
  fields report the store, the node and the indexer for operators; it says nothing about whether
  intents can be taken.
- `/v1/ready` answers 200 when the server can judge and queue intents, else 503 with the reasons
  (see backend/api/readiness.py) and Retry-After: what load balancers and deploys should wait on.

Both read the store through the probe engine, never the request pool.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from backend.api.deps import StateDep
from backend.api.readiness import NODE_UNAVAILABLE, STORE_UNAVAILABLE, Verdict
from backend.chain.redact import scrub

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
    # Always "alive" (the process answers); readiness is /v1/ready.
    status: str
    # Whether /v1/ready would answer 200 now, and why not (codes of /v1/ready's reasons).
    ready: bool
    not_ready: list[str]
    store: StoreHealth
    chain: ChainHealth
    indexer: IndexerHealth


class ReadyReason(BaseModel):
    code: str
    message: str


class Ready(BaseModel):
    ready: bool
    reasons: list[ReadyReason]
    head: int | None = None
    cursor: int | None = None
    lag: int | None = None


def _fresh_verdict(state) -> Verdict:
    assert state.readiness is not None
    return state.readiness.check()


def _reason(verdict: Verdict, code: str) -> str | None:
    return next((r.message for r in verdict.reasons if r.code == code), None)


@router.get("/health", response_model=Health)
async def health(state: StateDep) -> Health:
    """The process is alive; the store, node and indexer as last seen (200 even when they fail)."""
    verdict = await run_in_threadpool(_fresh_verdict, state)
    store_error = _reason(verdict, STORE_UNAVAILABLE)
    chain_error = _reason(verdict, NODE_UNAVAILABLE)
    stats = state.indexer.stats if state.indexer is not None else None
    return Health(
        status="alive",
        ready=verdict.ready,
        not_ready=[r.code for r in verdict.reasons],
        store=StoreHealth(
            ok=store_error is None, backend=state.engine.dialect.name, error=store_error
        ),
        chain=ChainHealth(
            ok=chain_error is None,
            chain_id=state.deployment.chain_id,
            head=verdict.head,
            error=chain_error,
        ),
        indexer=IndexerHealth(
            enabled=state.indexer is not None,
            running=bool(stats and stats.running),
            cursor=verdict.cursor,
            lag=verdict.lag,
            confirmations=state.settings.confirmations,
            events_indexed=stats.events if stats else 0,
            reorgs=stats.reorgs if stats else 0,
            last_error=scrub(stats.last_error) if stats and stats.last_error else None,
        ),
    )


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Not ready: the reasons say why."}},
)
async def ready(state: StateDep, response: Response) -> Ready:
    """Whether intents can be taken now: store and node answer, the index is within
    COPYVAULT_READY_MAX_LAG_BLOCKS of the head (beyond confirmations), no relayer is degraded."""
    verdict = await run_in_threadpool(_fresh_verdict, state)
    if not verdict.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(state.settings.api_retry_after_seconds)
    return Ready(
        ready=verdict.ready,
        reasons=[ReadyReason(code=r.code, message=r.message) for r in verdict.reasons],
        head=verdict.head,
        cursor=verdict.cursor,
        lag=verdict.lag,
    )
