"""Compliance (operators): screening cases and KYC attestations.

Sessions and step-up work as for every operator endpoint (backend/api/routes/operators.py):
decisions and evidence reads need the `compliance` role and a fresh TOTP code in
`X-Copyvault-TOTP`; each is written to the operators' record in the same transaction.
Answers never carry KYC evidence except the one endpoint that opens it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query

from backend.api.compliance_schemas import (
    CaseStatus,
    KycEvidenceOut,
    KycIn,
    KycOut,
    ScreeningCaseOut,
)
from backend.api.deps import SessionDep, SettingsDep
from backend.api.errors import KycNotFoundError, error_responses
from backend.api.extras import ChainIdDep
from backend.api.operator_schemas import ReasonIn
from backend.api.routes.operators import NowDep, privileged, reader
from backend.api.schemas import AddressIn
from backend.db.compliance_models import KycAttestation, ScreeningCase
from backend.db.types import utc_aware
from backend.services import kyc, screening
from backend.services.operator_actions import Actor

router = APIRouter(
    prefix="/operator/compliance",
    tags=["compliance"],
    responses=error_responses(400, 401, 403, 422, 423),
)

Reader = Annotated[Actor, Depends(reader("compliance.read"))]
Decider = Annotated[Actor, Depends(privileged("screening.decide"))]
Attester = Annotated[Actor, Depends(privileged("kyc.attest"))]
EvidenceReader = Annotated[Actor, Depends(privileged("kyc.evidence"))]
Decision = Literal["clear", "confirm"]
CaseId = Annotated[int, Path(ge=1, le=2**62, description="The screening case's id.")]
LeaderAddress = Annotated[AddressIn, Path(description="The leader's address.")]


def _case_out(case: ScreeningCase) -> ScreeningCaseOut:
    return ScreeningCaseOut(
        id=case.id,
        address=to_checksum_address(case.address),
        subject=case.subject,
        sources=case.sources.split(","),
        vault=to_checksum_address(case.vault) if case.vault else None,
        block_number=case.block_number,
        list_uid=case.list_uid,
        status=case.status,
        opened_at=utc_aware(case.opened_at),
        decided_by=case.decided_by,
        decided_at=utc_aware(case.decided_at),
        reason=case.reason,
    )


def _kyc_out(row: KycAttestation, now) -> KycOut:
    return KycOut(
        id=row.id,
        address=to_checksum_address(row.address),
        status=row.status,
        verified=kyc.is_verified(row, now),
        recorded_by=row.recorded_by,
        recorded_at=utc_aware(row.recorded_at),
        expires_at=utc_aware(row.expires_at),
        has_evidence=row.evidence is not None,
        evidence_purged_at=utc_aware(row.evidence_purged_at),
    )


# ----------------------------------------------------------------------------- screening cases


@router.get("/cases", response_model=list[ScreeningCaseOut])
def list_cases(
    _actor: Reader,
    session: SessionDep,
    chain_id: ChainIdDep,
    status: Annotated[CaseStatus | None, Query(description="Only cases in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ScreeningCaseOut]:
    """Screening cases, newest first (compliance, admin, auditor)."""
    rows = screening.cases(session, chain_id=chain_id, status=status, limit=limit)
    return [_case_out(case) for case in rows]


@router.post(
    "/cases/{case_id}/{decision}",
    response_model=ScreeningCaseOut,
    responses=error_responses(404, 409),
)
def decide_case(
    case_id: CaseId,
    decision: Annotated[
        Decision,
        Path(description="`clear`: a false match. `confirm`: the address goes on the deny list."),
    ],
    body: ReasonIn,
    actor: Decider,
    session: SessionDep,
    chain_id: ChainIdDep,
) -> ScreeningCaseOut:
    """Compliance (step-up): decide an open case, for good."""
    case = screening.decide_case(
        session, actor, chain_id=chain_id, case_id=case_id, decision=decision, reason=body.reason
    )
    return _case_out(case)


# ----------------------------------------------------------------------------- KYC


@router.post("/kyc/{address}", response_model=KycOut)
def attest(
    address: LeaderAddress,
    body: KycIn,
    actor: Attester,
    session: SessionDep,
    settings: SettingsDep,
    chain_id: ChainIdDep,
) -> KycOut:
    """Compliance (step-up): record a KYC decision on a leader (the newest one counts), with its
    evidence encrypted."""
    row = kyc.attest(
        session,
        actor,
        chain_id=chain_id,
        address=address,
        status=body.status,
        evidence=body.evidence,
        expires_at=body.expires_at,
        settings=settings,
    )
    return _kyc_out(row, actor.now)


@router.get("/kyc/{address}", response_model=KycOut, responses=error_responses(404))
def kyc_status(
    address: LeaderAddress, _actor: Reader, session: SessionDep, chain_id: ChainIdDep, now: NowDep
) -> KycOut:
    """A leader's current KYC attestation, without its evidence (compliance, admin, auditor)."""
    row = kyc.current(session, chain_id=chain_id, address=address)
    if row is None:
        raise KycNotFoundError(f"no KYC attestation of {to_checksum_address(address)}")
    return _kyc_out(row, now)


@router.post(
    "/kyc/attestations/{attestation_id}/evidence",
    response_model=KycEvidenceOut,
    responses=error_responses(404, 410),
)
def read_evidence(
    attestation_id: Annotated[int, Path(ge=1, le=2**62)],
    actor: EvidenceReader,
    session: SessionDep,
    settings: SettingsDep,
    chain_id: ChainIdDep,
) -> KycEvidenceOut:
    """Compliance (step-up): open an attestation's evidence; the reading is recorded."""
    evidence = kyc.read_evidence(
        session, actor, chain_id=chain_id, attestation_id=attestation_id, settings=settings
    )
    return KycEvidenceOut(id=attestation_id, evidence=evidence)
