"""Trade intents: a leader submits one signed intent; anyone follows what happened per vault."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from backend.api.auth import IntentCaller, authorize_intent
from backend.api.deps import SessionDep, StateDep
from backend.api.errors import error_responses
from backend.api.extras import ChainIdDep, IntakeDep, ReadyDep
from backend.api.schemas import HashIn, IntentStatusOut, IntentSubmission
from backend.services import intents

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
def submit_intent(
    _ready: ReadyDep,
    body: IntentSubmission,
    session: SessionDep,
    state: StateDep,
    ctx: IntakeDep,
    response: Response,
    request: Request,
    caller: IntentCaller,
) -> IntentStatusOut:
    """Validate a signed TradeIntent as the chain would and queue it for the relayer. The same
    intent again returns the stored one (200), never a second relay. While the server is not
    ready (GET /v1/ready) the answer is 503 with the reason's code and Retry-After.

    Credentials are optional unless the server requires them: a leader's API key (Bearer
    cvk_...) may submit only that leader's intents, a session only those of a leader it is or is a
    live delegate of."""
    authorize_intent(
        request,
        session,
        ctx=ctx,
        caller=caller,
        body=body,
        require_credentials=state.settings.intents_require_credentials,
    )
    out, stored = intents.submit_intent(state.engine, session, ctx=ctx, body=body)
    if not stored:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/intents/{digest}", response_model=IntentStatusOut, responses=error_responses(404))
def get_intent(digest: DigestPath, session: SessionDep, chain_id: ChainIdDep) -> IntentStatusOut:
    """The intent's status and, per following vault: mirrored (transaction, amounts, price),
    skipped (the reason) or pending."""
    return intents.get_intent(session, chain_id=chain_id, digest=digest)
