"""One proposal, and adding owner signatures to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from backend.api.deps import SessionDep, StateDep
from backend.api.errors import error_responses
from backend.api.extras import ProposalsDep
from backend.api.schemas import HashIn, ProposalOut, SignatureSubmission
from backend.services import proposals

router = APIRouter(tags=["proposals"], responses=error_responses(400, 404, 422))

DigestPath = Annotated[HashIn, Path(description="The proposal's EIP-712 digest.")]


@router.get("/proposals/{digest}", response_model=ProposalOut)
def get_proposal(digest: DigestPath, session: SessionDep, ctx: ProposalsDep) -> ProposalOut:
    """A proposal with its signatures, status and, once ready, the call that executes it."""
    return proposals.get_proposal(session, ctx=ctx, digest=digest)


@router.post(
    "/proposals/{digest}/signatures",
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ProposalOut, "description": "This owner had signed already."},
        **error_responses(403, 409, 413, 503),
    },
)
def add_signature(
    digest: DigestPath,
    body: SignatureSubmission,
    session: SessionDep,
    state: StateDep,
    ctx: ProposalsDep,
    response: Response,
) -> ProposalOut:
    """An owner adds their signature over the proposal's digest (ECDSA, or EIP-1271 for
    contract owners, checked with an eth_call)."""
    out, added = proposals.add_signature(state.engine, session, ctx=ctx, digest=digest, body=body)
    if not added:
        response.status_code = status.HTTP_200_OK
    return out
