"""The audit trail over HTTP: the log itself (admin and auditor operators), its anchors, and the
public proof that an intent was accepted (docs/audit-trail.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from backend.api.deps import SessionDep, StateDep
from backend.api.errors import error_responses
from backend.api.extras import ChainIdDep, Cursor, Limit
from backend.api.routes.operators import reader
from backend.api.schemas import HashIn
from backend.audit.anchors import AnchorContract, OnChainAnchor
from backend.audit.prove import accepted_at, prove
from backend.chain.artifacts import load as load_artifacts
from backend.db.audit_models import AuditAnchor
from backend.db.types import utc_aware
from backend.exceptions import RpcError
from backend.services import audit_log
from backend.services.operator_actions import Actor
from backend.services.pagination import decode_cursor, encode_cursor

router = APIRouter(tags=["audit"], responses=error_responses(400, 422))
DEFAULT_PAGE = 100
Category = Literal[tuple(sorted(audit_log.CATEGORIES))]  # type: ignore[valid-type]


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    category: str
    actor: str
    action: str
    subject: str | None
    client: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    prev_hash: str = Field(description="keccak256 hash of the entry before (zeros for the first).")
    hash: str = Field(description="keccak256 of `body`.")
    body: str = Field(description="The canonical JSON the hash covers: recompute it to check.")


class AuditLogPage(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: str | None


class AnchorOut(BaseModel):
    index: int
    head_seq: int
    head_hash: str
    intents_root: str
    intent_count: int
    from_time: int = Field(description="Intents accepted from this unix second (inclusive)...")
    to_time: int = Field(description="...to this one (exclusive).")
    tx_hash: str
    block_number: int


class AnchorPage(BaseModel):
    contract: str | None
    anchors: list[AnchorOut]
    next_cursor: str | None


class InclusionProofOut(BaseModel):
    chain_id: int
    digest: str
    accepted_at: int = Field(description="Unix second the platform accepted the intent.")
    anchor_index: int
    interval: list[int]
    intents_root: str = Field(description="As read from the AuditAnchor contract just now.")
    leaf: str
    proof: list[str] = Field(
        description="Check with AuditAnchor.verifyIntent(anchor_index, digest, accepted_at, proof)."
    )
    contract: str


@router.get(
    "/audit-log",
    response_model=AuditLogPage,
    responses=error_responses(401, 403),
)
def audit_log_page(
    _actor: Annotated[Actor, Depends(reader("records.read"))],
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
    category: Annotated[Category | None, Query(description="Only this category.")] = None,
) -> AuditLogPage:
    """Admin or auditor operators: the audit log, oldest first, with each entry's hash links."""
    after = decode_cursor(cursor, "audit-log", "i")
    rows = audit_log.page(
        session, after_seq=after[0] if after else 0, limit=limit, category=category
    )
    entries = [
        AuditEntryOut(
            seq=r.seq,
            at=utc_aware(r.at),
            category=r.category,
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            client=r.client,
            before=r.before,
            after=r.after,
            reason=r.reason,
            prev_hash=r.prev_hash,
            hash=r.hash,
            body=r.body,
        )
        for r in rows
    ]
    more = len(rows) == limit
    return AuditLogPage(
        entries=entries, next_cursor=encode_cursor("audit-log", rows[-1].seq) if more else None
    )


@router.get("/audit-log/anchors", response_model=AnchorPage)
def anchors_page(
    session: SessionDep,
    state: StateDep,
    chain_id: ChainIdDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> AnchorPage:
    """The anchors the platform published (public: they are on chain for anyone to read too)."""
    after = decode_cursor(cursor, "audit-anchors", "i")
    start = after[0] + 1 if after else 0
    rows = list(
        session.scalars(
            select(AuditAnchor)
            .where(AuditAnchor.chain_id == chain_id, AuditAnchor.anchor_index >= start)
            .order_by(AuditAnchor.anchor_index)
            .limit(limit)
        )
    )
    anchors = [
        AnchorOut(
            index=r.anchor_index,
            head_seq=r.head_seq,
            head_hash=r.head_hash,
            intents_root=r.intents_root,
            intent_count=r.intent_count,
            from_time=r.from_time,
            to_time=r.to_time,
            tx_hash=r.tx_hash,
            block_number=r.block_number,
        )
        for r in rows
    ]
    more = len(rows) == limit
    return AnchorPage(
        contract=state.deployment.contracts.get("AuditAnchor"),
        anchors=anchors,
        next_cursor=encode_cursor("audit-anchors", rows[-1].anchor_index) if more else None,
    )


@router.get(
    "/intents/{digest}/inclusion-proof",
    response_model=InclusionProofOut,
    responses=error_responses(404, 409, 503),
)
def inclusion_proof(
    digest: Annotated[HashIn, Path(description="The intent's EIP-712 digest.")],
    session: SessionDep,
    state: StateDep,
    chain_id: ChainIdDep,
) -> InclusionProofOut:
    """Public: the Merkle proof that the platform accepted this intent, and when, against the
    root the platform anchored on chain (the root is read from the contract, not the store)."""
    second = accepted_at(session, chain_id, digest)
    # The root comes from the deployment's contract, never from the store's copy (nor from the
    # contract address the copy names); the copy only says which anchor to read first.
    artifacts = load_artifacts(state.settings.artifacts_file)
    contract = AnchorContract(state.client, state.deployment.audit_anchor, artifacts)
    row = session.scalar(
        select(AuditAnchor.anchor_index).where(
            AuditAnchor.chain_id == chain_id,
            AuditAnchor.from_time <= second,
            AuditAnchor.to_time > second,
        )
    )
    anchor = _hinted(contract, row)
    if anchor is None or not anchor.from_time <= second < anchor.to_time:
        anchor = contract.covering(second)  # the copy lacks it (or lies): search the chain
    proof = prove(session, chain_id=chain_id, digest=digest, anchor=anchor, second=second)
    return InclusionProofOut(**proof.to_json(), contract=contract.address)


def _hinted(contract: AnchorContract, index: int | None) -> OnChainAnchor | None:
    """The anchor the store's copy points at, as the chain has it (None if the chain has none)."""
    if index is None:
        return None
    try:
        return contract.at(index)
    except RpcError:  # UnknownAnchor: the copy names an anchor the chain never had
        return None
