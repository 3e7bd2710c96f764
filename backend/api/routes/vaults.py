"""Vaults: lists by owner or leader, one vault, its event history, its proposals."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from backend.api.deps import SessionDep, StateDep
from backend.api.errors import error_responses
from backend.api.extras import ChainIdDep, Cursor, Limit, ProposalsDep, TokensDep, ValuerDep
from backend.api.schemas import (
    AddressIn,
    ConfigPrepareIn,
    ConfigProposalIn,
    EventPage,
    ProposalOut,
    ProposalPage,
    ProposalStatus,
    TradePage,
    TypedDataOut,
    VaultDetail,
    VaultHistoryOut,
    VaultPage,
    WithdrawalPrepareIn,
    WithdrawalProposalIn,
)
from backend.risk.withdrawals import ProposedWithdrawal
from backend.services import history, proposals, vaults

router = APIRouter(tags=["vaults"], responses=error_responses(400, 422))

VaultPath = Annotated[AddressIn, Path(description="The vault's address.")]
EVENT_NAME_PATTERN = "^[A-Za-z][A-Za-z0-9]{0,63}$"


@router.get("/vaults", response_model=VaultPage)
def list_vaults(
    session: SessionDep,
    chain_id: ChainIdDep,
    owner: Annotated[AddressIn | None, Query(description="Vaults this address owns.")] = None,
    leader: Annotated[AddressIn | None, Query(description="Vaults following this leader.")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> VaultPage:
    """Vaults by owner, by leader (both filters combine), or all of them; ordered by address."""
    return vaults.list_vaults(
        session, chain_id=chain_id, owner=owner, leader=leader, cursor=cursor, limit=limit
    )


@router.get("/vaults/{vault}", response_model=VaultDetail, responses=error_responses(404))
def get_vault(
    vault: VaultPath,
    session: SessionDep,
    chain_id: ChainIdDep,
    valuer: ValuerDep,
    tokens: TokensDep,
) -> VaultDetail:
    """One vault: owners, threshold, leader, flags, policy, allowlist, balances (as accounted by
    its events) and their value in USD at oracle prices."""
    return vaults.get_vault(session, chain_id=chain_id, vault=vault, valuer=valuer, tokens=tokens)


@router.get("/vaults/{vault}/events", response_model=EventPage, responses=error_responses(404))
def vault_events(
    vault: VaultPath,
    session: SessionDep,
    chain_id: ChainIdDep,
    name: Annotated[
        str | None, Query(pattern=EVENT_NAME_PATTERN, description="Only events of this name.")
    ] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="By block and log index.")] = "desc",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> EventPage:
    """The vault's indexed events (including VaultCreated and the router's MirrorSkipped for it),
    newest first by default, paged by (block number, log index)."""
    return vaults.vault_events(
        session,
        chain_id=chain_id,
        vault=vault,
        name=name,
        cursor=cursor,
        limit=limit,
        order=order,
    )


@router.get("/vaults/{vault}/trades", response_model=TradePage, responses=error_responses(404))
def vault_trades(
    vault: VaultPath,
    session: SessionDep,
    chain_id: ChainIdDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> TradePage:
    """Every trade mirrored into the vault (whichever leader it followed then), newest first, each
    with the batch's price beside the oracle's and the leader's signed minimum."""
    return vaults.vault_trades(session, chain_id=chain_id, vault=vault, cursor=cursor, limit=limit)


# Unix seconds up to the year 10000: a bound that keeps every later sum small.
MAX_TIMESTAMP = 253_402_300_799


@router.get(
    "/vaults/{vault}/history", response_model=VaultHistoryOut, responses=error_responses(404)
)
def vault_history(
    vault: VaultPath,
    session: SessionDep,
    state: StateDep,
    start: Annotated[
        int | None,
        Query(alias="from", ge=0, le=MAX_TIMESTAMP, description="Unix seconds; default: creation."),
    ] = None,
    end: Annotated[
        int | None,
        Query(
            alias="to", ge=0, le=MAX_TIMESTAMP, description="Unix seconds; default: last indexed."
        ),
    ] = None,
    points: Annotated[
        int, Query(ge=2, le=history.MAX_POINTS, description="Evenly spaced points.")
    ] = history.DEFAULT_POINTS,
) -> VaultHistoryOut:
    """The vault's value in USD over time (the chart): its balances as its indexed events account
    them, valued at the feed answers the indexer read, at `points` moments from `from` to `to`."""
    return history.vault_history(
        session,
        chain_id=state.deployment.chain_id,
        oracle=state.deployment.oracle,
        vault=vault,
        start=start,
        end=end,
        points=points,
    )


@router.get(
    "/vaults/{vault}/proposals", response_model=ProposalPage, responses=error_responses(404)
)
def list_proposals(
    vault: VaultPath,
    session: SessionDep,
    ctx: ProposalsDep,
    status_: Annotated[ProposalStatus | None, Query(alias="status")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ProposalPage:
    """The vault's withdrawal and configuration proposals, newest first."""
    return proposals.list_proposals(
        session, ctx=ctx, vault=vault, status=status_, cursor=cursor, limit=limit
    )


_PROPOSE_RESPONSES = {
    200: {"model": ProposalOut, "description": "The same proposal exists already: returned."},
    **error_responses(403, 404, 409, 413, 503),
}


@router.post(
    "/vaults/{vault}/proposals/withdrawals",
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    responses=_PROPOSE_RESPONSES,
)
def propose_withdrawal(
    vault: VaultPath,
    body: WithdrawalProposalIn,
    session: SessionDep,
    state: StateDep,
    ctx: ProposalsDep,
    response: Response,
) -> ProposalOut:
    """An owner proposes a withdrawal, signed by them (EIP-712 `Withdrawal` on the vault's
    domain). Identified by its digest: proposing it again returns it (200)."""
    out, created = proposals.propose_withdrawal(
        state.engine, session, ctx=ctx, vault=vault, body=body
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    elif state.risk is not None:  # the risk engine looks at the recipient, in its own thread
        state.risk.responder.submit(
            ProposedWithdrawal(ctx.chain_id, out.digest, vault, body.to, body.token, body.amount)
        )
    return out


@router.post(
    "/vaults/{vault}/proposals/config",
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    responses=_PROPOSE_RESPONSES,
)
def propose_config(
    vault: VaultPath,
    body: ConfigProposalIn,
    session: SessionDep,
    state: StateDep,
    ctx: ProposalsDep,
    response: Response,
) -> ProposalOut:
    """An owner proposes a configuration call on the vault (setLeader, setPolicy, addOwner, ...),
    signed by them (EIP-712 `ConfigChange`). Proposing it again returns it (200)."""
    out, created = proposals.propose_config(state.engine, session, ctx=ctx, vault=vault, body=body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


_PREPARE_RESPONSES = error_responses(404, 409)


@router.post(
    "/vaults/{vault}/proposals/withdrawals/prepare",
    response_model=TypedDataOut,
    responses=_PREPARE_RESPONSES,
)
def prepare_withdrawal(
    vault: VaultPath, body: WithdrawalPrepareIn, session: SessionDep, ctx: ProposalsDep
) -> TypedDataOut:
    """The EIP-712 `Withdrawal` document (for eth_signTypedData_v4) and its digest, before anyone
    signed: checked as a proposal is (but for the proposer), nothing stored. Sign it, then POST it
    with the signature to .../proposals/withdrawals."""
    return proposals.prepare_withdrawal(session, ctx=ctx, vault=vault, body=body)


@router.post(
    "/vaults/{vault}/proposals/config/prepare",
    response_model=TypedDataOut,
    responses=_PREPARE_RESPONSES,
)
def prepare_config(
    vault: VaultPath, body: ConfigPrepareIn, session: SessionDep, ctx: ProposalsDep
) -> TypedDataOut:
    """The EIP-712 `ConfigChange` document and its digest, with the configuration function the
    data calls (calldata that is no configuration call is refused, as when proposing)."""
    return proposals.prepare_config(session, ctx=ctx, vault=vault, body=body)
