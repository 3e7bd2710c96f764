"""Trade intents: a leader submits one signed intent; anyone follows what happened per vault."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel

from backend.api.auth import Principal, authorize_intent, intent_caller
from backend.api.deps import AppState, StateDep, run_blocking
from backend.api.errors import error_responses
from backend.api.extras import (
    ChainIdDep,
    IntakeDep,
    ReadyDep,
    get_intake_context,
    require_ready,
)
from backend.api.schemas import (
    HashIn,
    IntentPrepareIn,
    IntentStatusOut,
    IntentSubmission,
    TypedDataOut,
)
from backend.services import intents
from backend.services.intents import IntakeContext

router = APIRouter(tags=["intents"], responses=error_responses(400, 422))

DigestPath = Annotated[HashIn, Path(description="The intent's EIP-712 digest.")]


@router.post(
    "/intents",
    response_model=IntentStatusOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"model": IntentStatusOut, "description": "Submitted before: the stored intent."},
        **error_responses(401, 403, 409, 413, 429, 503),
    },
)
async def submit_intent(body: IntentSubmission, request: Request) -> Response:
    """Validate a signed TradeIntent as the chain would and queue it for the relayer. The same
    intent again returns the stored one (200), never a second relay. While the server is not
    ready (GET /v1/ready) the answer is 503 with the reason's code and Retry-After.

    Credentials are optional unless the server requires them: a leader's API key (Bearer
    cvk_...) may submit only that leader's intents, a session only those of a leader it is or is a
    live delegate of."""
    # The readiness check, intake context and caller are called here, not declared as
    # dependencies: FastAPI solved that tree anew for every intent, at a cost near that of the
    # whole middleware stack (bench/intake.py). A malformed body is answered before them.
    state: AppState = request.app.state.copyvault
    await require_ready(state)
    ctx = await get_intake_context(request, state, request.app.state.api)
    caller = await intent_caller(request, state)
    return await run_blocking(_submit, state, ctx, body, request, caller)


def _submit(
    state: AppState,
    ctx: IntakeContext,
    body: IntentSubmission,
    request: Request,
    caller: Principal | None,
) -> Response:
    # One trip to a thread for all of it: the session opens and closes there, and the answer
    # leaves as JSON bytes (a `def` handler with a SessionDep and a returned model took three
    # trips through FastAPI's thread pool: the handler, closing the session, validating the
    # model once more; bench/intake.py). The session only reads: the intent is stored by a
    # write transaction of its own (group commit).
    with state.read_sessions() as session:
        authorize_intent(
            request,
            session,
            ctx=ctx,
            caller=caller,
            body=body,
            require_credentials=state.settings.intents_require_credentials,
        )
        out, stored = intents.submit_intent(state.engine, session, ctx=ctx, body=body)
    return json_response(out, status.HTTP_202_ACCEPTED if stored else status.HTTP_200_OK)


@router.post(
    "/intents/prepare",
    response_model=TypedDataOut,
    responses=error_responses(403, 409, 503),
)
async def prepare_intent(
    _ready: ReadyDep, body: IntentPrepareIn, state: StateDep, ctx: IntakeDep
) -> Response:
    """The EIP-712 `TradeIntent` document (for eth_signTypedData_v4) and its digest on the
    registry's domain, before the leader signs: refused now for every reason POST /v1/intents
    would refuse it that does not depend on the signature. Nothing is stored."""
    return await run_blocking(_prepare, state, ctx, body)


def _prepare(state: AppState, ctx: IntakeContext, body: IntentPrepareIn) -> Response:
    with state.read_sessions() as session:
        return json_response(intents.prepare_intent(session, ctx=ctx, body=body))


@router.get("/intents/{digest}", response_model=IntentStatusOut, responses=error_responses(404))
async def get_intent(digest: DigestPath, state: StateDep, chain_id: ChainIdDep) -> Response:
    """The intent's status and, per following vault: mirrored (transaction, amounts, price),
    skipped (the reason) or pending."""
    return await run_blocking(_get, state, chain_id, digest)


def _get(state: AppState, chain_id: int, digest: str) -> Response:
    with state.read_sessions() as session:
        return json_response(intents.get_intent(session, chain_id=chain_id, digest=digest))


def json_response(out: BaseModel, status_code: int = status.HTTP_200_OK) -> Response:
    """`out` as its JSON bytes: what FastAPI sends for a returned model of the route's
    response_model, without validating the (already validated) model once more."""
    return Response(out.model_dump_json(), status_code=status_code, media_type="application/json")
