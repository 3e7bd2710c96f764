"""What the read API, proposals, stream and metrics add to the app: `ApiExtras` (one per app, on
`app.state.api`) and the `Annotated` dependencies handlers take (`ValuerDep`, `ProposalsDep`,
`TokensDep`, `Limit`, `Cursor`...). Built by `install_api`, which `create_app` calls once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool

from backend.api.deps import StateDep
from backend.api.errors import NotReadyError
from backend.api.metrics import ApiMetrics
from backend.api.stream_slots import StreamSlots
from backend.chain.abi import ContractAbi
from backend.config import Settings
from backend.services.intents import IntakeContext
from backend.services.proposals import ProposalContext
from backend.services.valuation import PriceBook, Valuer

DEFAULT_PAGE = 50
MAX_PAGE = 200


@dataclass
class ApiExtras:
    settings: Settings
    metrics: ApiMetrics
    prices: PriceBook
    streams: StreamSlots

    @cached_property
    def vault_abi(self) -> ContractAbi:
        """The compiled CopyVault ABI (read once, when the first proposal needs it)."""
        from backend.chain.artifacts import load

        return ContractAbi(load(self.settings.artifacts_file).get("CopyVault"))

    @cached_property
    def registry_abi(self) -> ContractAbi:
        from backend.chain.artifacts import load

        return ContractAbi(load(self.settings.artifacts_file).get("LeaderRegistry"))


def create_extras(app: FastAPI, settings: Settings) -> ApiExtras:
    extras = ApiExtras(
        settings=settings,
        metrics=ApiMetrics(lambda: getattr(app.state, "copyvault", None)),
        prices=PriceBook(settings.api_price_cache_seconds),
        streams=StreamSlots(
            per_process=settings.api_max_streams, per_client=settings.api_max_streams_per_client
        ),
    )
    app.state.api = extras
    return extras


async def get_extras(request: Request) -> ApiExtras:
    return request.app.state.api


ExtrasDep = Annotated[ApiExtras, Depends(get_extras)]


async def get_valuer(state: StateDep, extras: ExtrasDep) -> Valuer:
    return Valuer(
        client=state.quick_client,
        book=extras.prices,
        chain_id=state.deployment.chain_id,
        oracle=state.deployment.oracle,
    )


ValuerDep = Annotated[Valuer, Depends(get_valuer)]


async def get_proposal_context(state: StateDep, extras: ExtrasDep) -> ProposalContext:
    return ProposalContext(
        chain_id=state.deployment.chain_id,
        client=state.quick_client,
        vault_abi=extras.vault_abi,
        now=int(time.time()),
        max_open=extras.settings.api_max_open_proposals_per_vault,
    )


ProposalsDep = Annotated[ProposalContext, Depends(get_proposal_context)]


async def get_intake_context(request: Request, state: StateDep, extras: ExtrasDep) -> IntakeContext:
    assert state.clock is not None and state.codes is not None
    limiter = getattr(request.app.state, "rate_limiter", None)  # None when limits are off
    return IntakeContext(
        chain_id=state.deployment.chain_id,
        registry=state.deployment.registry,
        oracle=state.deployment.oracle,
        client=state.quick_client,
        codes=state.codes,
        registry_abi=extras.registry_abi,
        clock=state.clock,
        deadline_margin=state.settings.intent_deadline_margin,
        on_accepted=state.relay_wakeup.set,
        charge_leader=limiter.charge_leader if limiter is not None else _charge_nothing,
        max_pending=state.settings.intake_max_pending_per_leader,
        pending_retry_after=state.settings.intake_pending_retry_after_seconds,
        require_verified_leader=state.settings.intake_require_verified_leader,
        risk=state.risk.gate if state.risk is not None else None,
    )


def _charge_nothing(leader: str) -> None:
    """Rate limits are off (COPYVAULT_RATE_LIMIT_ENABLED=false)."""


IntakeDep = Annotated[IntakeContext, Depends(get_intake_context)]


async def require_ready(state: StateDep) -> None:
    """Refuse work that needs a ready server (intake) with 503 and the reason's code: an intent
    judged against a lagging index would get a wrong answer (unknown_venue for a valid venue)."""
    readiness = state.readiness
    if readiness is None:
        return
    asked_at = readiness.now()
    verdict = readiness.cached_ready() or await run_in_threadpool(readiness.verdict_since, asked_at)
    if not verdict.ready:
        first = verdict.reasons[0]
        raise NotReadyError(first.code, f"the server is not ready to take intents: {first.message}")


ReadyDep = Annotated[None, Depends(require_ready)]


async def get_tokens(state: StateDep) -> dict[str, tuple[str | None, int | None]]:
    """Symbol and decimals of the tokens the deployment file names (lowercase address)."""
    return {t.address.lower(): (t.symbol, t.decimals) for t in state.deployment.tokens.values()}


TokensDep = Annotated[dict[str, tuple[str | None, int | None]], Depends(get_tokens)]


async def get_chain_id(state: StateDep) -> int:
    return state.deployment.chain_id


ChainIdDep = Annotated[int, Depends(get_chain_id)]

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size (default {DEFAULT_PAGE}).")]
Cursor = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous page; omit for the first page."),
]
