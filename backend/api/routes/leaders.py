"""Leaders: the list with followers, vault count, assets under management and trade count; one
leader with its intents and trades."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from backend.api.deps import SessionDep
from backend.api.errors import error_responses
from backend.api.extras import ChainIdDep, Cursor, Limit, ValuerDep
from backend.api.schemas import AddressIn, LeaderDetail, LeaderPage, TradePage
from backend.services import leaders

router = APIRouter(tags=["leaders"], responses=error_responses(400, 422))

LeaderPath = Annotated[AddressIn, Path(description="The leader's address.")]


@router.get("/leaders", response_model=LeaderPage)
def list_leaders(
    session: SessionDep,
    chain_id: ChainIdDep,
    valuer: ValuerDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> LeaderPage:
    """Registered leaders and any address vaults follow, by address, with their followers, vault
    count, trade count and assets under management (USD at oracle prices)."""
    return leaders.list_leaders(
        session, chain_id=chain_id, cursor=cursor, limit=limit, valuer=valuer
    )


@router.get("/leaders/{leader}", response_model=LeaderDetail, responses=error_responses(404))
def get_leader(
    leader: LeaderPath, session: SessionDep, chain_id: ChainIdDep, valuer: ValuerDep
) -> LeaderDetail:
    """One leader: profile, delegates, figures, its recent intents (trades grouped by intent
    digest) and recent trades."""
    return leaders.get_leader(session, chain_id=chain_id, leader=leader, valuer=valuer)


@router.get("/leaders/{leader}/trades", response_model=TradePage, responses=error_responses(404))
def leader_trades(
    leader: LeaderPath,
    session: SessionDep,
    chain_id: ChainIdDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> TradePage:
    """The leader's mirrored trades (one per vault and intent), newest first."""
    return leaders.leader_trades(
        session, chain_id=chain_id, leader=leader, cursor=cursor, limit=limit
    )
