"""Operators (staff): sign-in, enrolment, their own records, and the privileged actions.

Every request names its session: `Authorization: Bearer cvo_...` or the `cvo_session` cookie
(HttpOnly, Secure, SameSite=Strict). Every privileged action also needs a fresh TOTP code in
`X-Copyvault-TOTP` (step-up; each 30-second code works once). The role table is
`backend.services.operator_actions.PERMISSIONS`; docs/security-model.md explains it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.deps import SessionDep, SettingsDep, StateDep
from backend.api.errors import (
    ApiError,
    OperatorSessionRequiredError,
    RoleForbiddenError,
    error_responses,
)
from backend.api.extras import ChainIdDep
from backend.api.operator_schemas import (
    ActionOut,
    CreatedOperatorOut,
    CreateOperatorIn,
    DenyEntryOut,
    EnrolConfirmIn,
    EnrolIn,
    EnrolOut,
    GuardianPauseOut,
    HeldIntentOut,
    OperatorOut,
    ReasonIn,
    RelayerStatusOut,
    RoleIn,
    SignInIn,
    SignInOut,
    SignInRecordOut,
)
from backend.api.schemas import AddressIn, HashIn
from backend.chain.tx import SignerSender
from backend.db.engine import write_transaction
from backend.db.operator_models import DenyListEntry, Operator, OperatorSignIn
from backend.db.types import utc_aware
from backend.services import audit_log, operators
from backend.services import operator_actions as acts
from backend.services.operator_actions import PERMISSIONS, Actor

router = APIRouter(
    prefix="/operator", tags=["operators"], responses=error_responses(400, 401, 422, 423)
)

SESSION_COOKIE = "cvo_session"
DEVICE_COOKIE = "cvo_device"
DEVICE_COOKIE_SECONDS = 400 * 86_400  # browsers cap cookie lifetimes at 400 days
RECENT_SIGN_INS = 50


# ----------------------------------------------------------------------------- dependencies


def get_now(request: Request) -> datetime:
    """The time operator checks use (tests replace `app.state.operator_clock`)."""
    clock = getattr(request.app.state, "operator_clock", None)
    return clock() if clock is not None else datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]


def get_client(
    request: Request,
    device: Annotated[
        str | None,
        Header(alias="X-Copyvault-Device", max_length=128, description="Device id (scripts)."),
    ] = None,
) -> operators.Client:
    return operators.Client(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        device_id=device or request.cookies.get(DEVICE_COOKIE),
    )


ClientDep = Annotated[operators.Client, Depends(get_client)]


def current_operator(
    request: Request,
    session: SessionDep,
    now: NowDep,
    client: ClientDep,
    authorization: Annotated[
        str | None, Header(description="`Bearer cvo_...` (or the cvo_session cookie).")
    ] = None,
) -> Actor:
    token = None
    if authorization and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
    token = token or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise OperatorSessionRequiredError(
            "sign in first (POST /v1/operator/sign-in) and send Authorization: Bearer cvo_..."
        )
    _row, operator = operators.session_operator(session, token, now)
    return Actor(operator, client.address, now)


CurrentOperator = Annotated[Actor, Depends(current_operator)]
TotpHeader = Annotated[
    str | None,
    Header(alias="X-Copyvault-TOTP", max_length=16, description="Step-up: a fresh TOTP code."),
]


def _allowed(actor: Actor, permission: str) -> None:
    if actor.operator.role not in PERMISSIONS[permission]:
        raise RoleForbiddenError(
            f"the {actor.operator.role} role may not do this ({permission}); roles that may: "
            f"{', '.join(sorted(PERMISSIONS[permission]))}"
        )


def reader(permission: str) -> Callable[..., Actor]:
    def check(actor: CurrentOperator) -> Actor:
        _allowed(actor, permission)
        return actor

    return check


def privileged(permission: str, *, immediate: bool = True) -> Callable[..., Actor]:
    """Session, then role, then a fresh TOTP code (step-up): in that order. The action then runs
    in a transaction of its own that (`immediate`, SQLite) holds the write lock from its start,
    so its reads and writes see one state; actions that wait on the chain do without it."""

    def check(
        actor: CurrentOperator, session: SessionDep, settings: SettingsDep, totp: TotpHeader = None
    ) -> Actor:
        try:
            _allowed(actor, permission)
            operators.step_up(session, actor.operator, totp, settings, actor.now)
        except ApiError as refused:
            _audit_refusal(session, actor, permission, refused)
            raise
        if immediate:
            session.connection(execution_options={"sqlite_immediate": True})
        return actor

    return check


def _audit_refusal(session: Session, actor: Actor, permission: str, refused: ApiError) -> None:
    """A privileged call refused (wrong role, missing or wrong step-up code) is on the record
    too: a stolen session probing for what it may do shows up in the audit trail."""
    session.rollback()  # the checks' reads end; the record is a write transaction of its own
    with write_transaction(session.get_bind()) as conn:
        audit_log.append(
            conn,
            category="privileged_call",
            actor=f"operator:{actor.operator.username}/{actor.operator.role}",
            action=f"{permission}.refused",
            client=actor.client_address,
            after={"code": refused.code},
            at=actor.now,
        )


def _operator_out(operator: Operator) -> OperatorOut:
    return OperatorOut(
        username=operator.username,
        role=operator.role,
        status=operator.status,
        created_by=operator.created_by,
        created_at=utc_aware(operator.created_at),
    )


def _set_cookie(response: Response, name: str, value: str, seconds: int, secure: bool) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/v1/operator",
    )


# ----------------------------------------------------------------------------- sign-in, enrolment


@router.post("/sign-in", response_model=SignInOut, responses=error_responses(403))
def sign_in(
    body: SignInIn,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    client: ClientDep,
    response: Response,
) -> SignInOut:
    """Password and a TOTP code; a short-lived session (bearer token and cookie). Every attempt
    for a known username is recorded with its device; repeated failures lock the account."""
    done = operators.sign_in(
        session,
        username=body.username,
        password=body.password,
        code=body.totp,
        client=client,
        settings=settings,
        now=now,
    )
    secure = settings.operator_cookie_secure
    _set_cookie(response, SESSION_COOKIE, done.token, settings.operator_session_seconds, secure)
    _set_cookie(response, DEVICE_COOKIE, done.device_id, DEVICE_COOKIE_SECONDS, secure)
    return SignInOut(
        token=done.token,
        expires_at=done.expires_at,
        operator=_operator_out(done.operator),
        new_device=done.new_device,
        device_id=done.device_id,
    )


@router.post("/sign-out", status_code=204)
def sign_out(request: Request, actor: CurrentOperator, session: SessionDep) -> Response:
    """Revoke every session of the signed-in operator."""
    session.commit()  # the session check's reads end; the revocation starts a fresh transaction
    operators.revoke_sessions(session, actor.operator.id, actor.now)
    session.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/v1/operator")
    return response


@router.post("/enrol", response_model=EnrolOut)
def enrol(body: EnrolIn, session: SessionDep, settings: SettingsDep, now: NowDep) -> EnrolOut:
    """Step 1 of enrolment (one-time token from an admin): set the password; returns the TOTP
    provisioning URI. The account stays unusable until the first code is confirmed."""
    uri = operators.enrol(
        session, token=body.token, password=body.password, settings=settings, now=now
    )
    return EnrolOut(provisioning_uri=uri)


@router.post("/enrol/confirm", response_model=OperatorOut, responses=error_responses(403))
def confirm_enrolment(
    body: EnrolConfirmIn, session: SessionDep, settings: SettingsDep, now: NowDep
) -> OperatorOut:
    """Step 2: the first code from the authenticator; the account becomes active."""
    operator = operators.confirm_enrolment(
        session, token=body.token, code=body.totp, settings=settings, now=now
    )
    return _operator_out(operator)


@router.get("/me", response_model=OperatorOut)
def me(actor: CurrentOperator) -> OperatorOut:
    return _operator_out(actor.operator)


def _sign_in_out(row: OperatorSignIn, username: str) -> SignInRecordOut:
    return SignInRecordOut(
        username=username,
        at=utc_aware(row.at),
        client_address=row.client_address,
        device=row.device,
        success=row.success,
        failure=row.failure,
        new_device=row.new_device,
    )


@router.get("/me/sign-ins", response_model=list[SignInRecordOut])
def my_sign_ins(actor: CurrentOperator, session: SessionDep) -> list[SignInRecordOut]:
    """The operator's recent sign-in attempts, newest first: a sign-in from a device or address
    you do not recognise is the sign of a stolen password."""
    rows = session.scalars(
        select(OperatorSignIn)
        .where(OperatorSignIn.operator_id == actor.operator.id)
        .order_by(OperatorSignIn.id.desc())
        .limit(RECENT_SIGN_INS)
    )
    return [_sign_in_out(row, actor.operator.username) for row in rows]


# ----------------------------------------------------------------------------- operators (admin)

Username = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    "/operators",
    response_model=CreatedOperatorOut,
    status_code=201,
    responses=error_responses(403, 409),
)
def create_operator(
    body: CreateOperatorIn,
    actor: Annotated[Actor, Depends(privileged("operators.manage"))],
    session: SessionDep,
    settings: SettingsDep,
) -> CreatedOperatorOut:
    """Admin (step-up): a new operator with a role; it enrols with the one-time token."""
    operator, token = acts.create_operator(
        session, actor, username=body.username, role=body.role, settings=settings
    )
    return CreatedOperatorOut(
        operator=_operator_out(operator),
        enrolment_token=token,
        enrolment_expires_at=utc_aware(operator.enrolment_expires_at),
    )


@router.get("/operators", response_model=list[OperatorOut], responses=error_responses(403))
def list_operators(
    _actor: Annotated[Actor, Depends(reader("state.read"))], session: SessionDep
) -> list[OperatorOut]:
    return [_operator_out(o) for o in session.scalars(select(Operator).order_by(Operator.id))]


@router.put(
    "/operators/{username}/role",
    response_model=OperatorOut,
    responses=error_responses(403, 404, 409),
)
def set_role(
    username: Username,
    body: RoleIn,
    actor: Annotated[Actor, Depends(privileged("operators.manage"))],
    session: SessionDep,
) -> OperatorOut:
    """Admin (step-up): change a role; the operator's sessions end."""
    return _operator_out(acts.set_role(session, actor, username=username, role=body.role))


@router.post(
    "/operators/{username}/disable",
    response_model=OperatorOut,
    responses=error_responses(403, 404, 409),
)
def disable_operator(
    username: Username,
    body: ReasonIn,
    actor: Annotated[Actor, Depends(privileged("operators.manage"))],
    session: SessionDep,
) -> OperatorOut:
    """Admin (step-up): disable an operator; its sessions end at once."""
    target = acts.disable_operator(session, actor, username=username, reason=body.reason)
    return _operator_out(target)


# ----------------------------------------------------------------------------- relayer


@router.get("/relayer", response_model=RelayerStatusOut, responses=error_responses(403))
def relayer_status(
    _actor: Annotated[Actor, Depends(reader("state.read"))],
    session: SessionDep,
    chain_id: ChainIdDep,
) -> RelayerStatusOut:
    return RelayerStatusOut(**acts.relayer_status(session, chain_id))


def _set_paused(session, actor: Actor, chain_id: int, paused: bool, reason: str | None):
    acts.set_relayer_paused(session, actor, chain_id=chain_id, paused=paused, reason=reason)
    return RelayerStatusOut(**acts.relayer_status(session, chain_id))


@router.post("/relayer/pause", response_model=RelayerStatusOut, responses=error_responses(403, 409))
def pause_relayer(
    body: ReasonIn,
    actor: Annotated[Actor, Depends(privileged("relayer.pause"))],
    session: SessionDep,
    chain_id: ChainIdDep,
) -> RelayerStatusOut:
    """Admin or risk (step-up): every relayer worker stops planning and sending new batches at
    its next round; batches in flight are still followed to finality."""
    return _set_paused(session, actor, chain_id, True, body.reason)


@router.post(
    "/relayer/resume", response_model=RelayerStatusOut, responses=error_responses(403, 409)
)
def resume_relayer(
    body: ReasonIn,
    actor: Annotated[Actor, Depends(privileged("relayer.resume"))],
    session: SessionDep,
    chain_id: ChainIdDep,
) -> RelayerStatusOut:
    """Admin (step-up): the relayer plans and sends again."""
    return _set_paused(session, actor, chain_id, False, body.reason)


# ----------------------------------------------------------------------------- guardian pause


@router.post(
    "/vaults/{vault}/guardian-pause",
    response_model=GuardianPauseOut,
    responses=error_responses(403, 404, 409, 503),
)
def guardian_pause(
    vault: Annotated[AddressIn, Path(description="The vault to pause.")],
    body: ReasonIn,
    actor: Annotated[Actor, Depends(privileged("guardian.pause", immediate=False))],
    session: SessionDep,
    state: StateDep,
) -> GuardianPauseOut:
    """Risk (step-up): pause a vault with the backend's guardian key (only a vault whose owners
    accepted the guardian; 409 otherwise). Withdrawals keep working; only owners unpause."""
    from backend.security.guardian_key import load_guardian_signer

    sender = SignerSender(state.client, load_guardian_signer(state.settings))
    tx_hash = acts.guardian_pause(
        session,
        actor,
        chain_id=state.deployment.chain_id,
        factory=state.deployment.factory,
        vault=vault,
        reason=body.reason,
        client=state.client,
        sender=sender,
    )
    return GuardianPauseOut(vault=to_checksum_address(vault), tx_hash=tx_hash)


# ----------------------------------------------------------------------------- intents

Digest = Annotated[HashIn, Path(description="The intent's EIP-712 digest.")]
IntentRisk = Annotated[Actor, Depends(privileged("intents.hold"))]


def _held_out(intent) -> HeldIntentOut:
    return HeldIntentOut(
        digest=intent.digest,
        status=intent.status,
        leader=to_checksum_address(intent.leader),
        error=intent.error,
        risk_score=intent.risk_score,
        risk_features=sorted(intent.risk_features or [], key=lambda f: -f["points"]),
    )


@router.get("/intents/held", response_model=list[HeldIntentOut], responses=error_responses(403))
def held_intents(
    _actor: Annotated[Actor, Depends(reader("state.read"))],
    session: SessionDep,
    chain_id: ChainIdDep,
) -> list[HeldIntentOut]:
    return [_held_out(i) for i in acts.held_intents(session, chain_id, 200)]


@router.post(
    "/intents/{digest}/hold", response_model=HeldIntentOut, responses=error_responses(403, 404, 409)
)
def hold_intent(
    digest: Digest, body: ReasonIn, actor: IntentRisk, session: SessionDep, chain_id: ChainIdDep
) -> HeldIntentOut:
    """Risk (step-up): the relayer never plans a held intent until it is released."""
    intent = acts.hold_intent(session, actor, chain_id=chain_id, digest=digest, reason=body.reason)
    return _held_out(intent)


@router.post(
    "/intents/{digest}/release",
    response_model=HeldIntentOut,
    responses=error_responses(403, 404, 409),
)
def release_intent(
    digest: Digest, body: ReasonIn, actor: IntentRisk, session: SessionDep, chain_id: ChainIdDep
) -> HeldIntentOut:
    """Risk (step-up): a held intent goes back to the relayer's queue."""
    intent = acts.release_intent(
        session, actor, chain_id=chain_id, digest=digest, reason=body.reason
    )
    return _held_out(intent)


@router.post(
    "/intents/{digest}/reject",
    response_model=HeldIntentOut,
    responses=error_responses(403, 404, 409),
)
def reject_intent(
    digest: Digest, body: ReasonIn, actor: IntentRisk, session: SessionDep, chain_id: ChainIdDep
) -> HeldIntentOut:
    """Risk (step-up): a held intent is rejected for good (never relayed)."""
    intent = acts.reject_intent(
        session, actor, chain_id=chain_id, digest=digest, reason=body.reason
    )
    return _held_out(intent)


# ----------------------------------------------------------------------------- deny list

DenyAddress = Annotated[AddressIn, Path(description="The address to deny or allow again.")]
Compliance = Annotated[Actor, Depends(privileged("deny_list.edit"))]


def _deny_out(entry: DenyListEntry) -> DenyEntryOut:
    return DenyEntryOut(
        address=to_checksum_address(entry.address),
        reason=entry.reason,
        added_by=entry.added_by,
        added_at=utc_aware(entry.added_at),
    )


@router.get("/deny-list", response_model=list[DenyEntryOut], responses=error_responses(403))
def deny_list(
    _actor: Annotated[Actor, Depends(reader("state.read"))],
    session: SessionDep,
    chain_id: ChainIdDep,
) -> list[DenyEntryOut]:
    rows = session.scalars(
        select(DenyListEntry)
        .where(DenyListEntry.chain_id == chain_id)
        .order_by(DenyListEntry.address)
    )
    return [_deny_out(e) for e in rows]


@router.put("/deny-list/{address}", response_model=DenyEntryOut, responses=error_responses(403))
def deny(
    address: DenyAddress,
    body: ReasonIn,
    actor: Compliance,
    session: SessionDep,
    chain_id: ChainIdDep,
) -> DenyEntryOut:
    """Compliance (step-up): add an address (or change its reason)."""
    entry = acts.deny(session, actor, chain_id=chain_id, address=address, reason=body.reason)
    return _deny_out(entry)


@router.post("/deny-list/{address}/remove", status_code=204, responses=error_responses(403, 404))
def undeny(
    address: DenyAddress,
    body: ReasonIn,
    actor: Compliance,
    session: SessionDep,
    chain_id: ChainIdDep,
) -> Response:
    """Compliance (step-up): take an address off the list."""
    acts.undeny(session, actor, chain_id=chain_id, address=address, reason=body.reason)
    return Response(status_code=204)


# ----------------------------------------------------------------------------- records


@router.get("/actions", response_model=list[ActionOut], responses=error_responses(403))
def list_actions(
    _actor: Annotated[Actor, Depends(reader("records.read"))],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="Older than this id.")] = None,
) -> list[ActionOut]:
    """The operator-actions record, newest first (admin, auditor)."""
    rows = acts.actions(session, limit=limit, before_id=before)
    return [
        ActionOut(
            id=r.id,
            username=r.username,
            role=r.role,
            action=r.action,
            target=r.target,
            chain_id=r.chain_id,
            at=utc_aware(r.at),
            client_address=r.client_address,
            before=r.before,
            after=r.after,
            reason=r.reason,
        )
        for r in rows
    ]


@router.get("/sign-ins", response_model=list[SignInRecordOut], responses=error_responses(403))
def all_sign_ins(
    _actor: Annotated[Actor, Depends(reader("records.read"))],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SignInRecordOut]:
    """Every operator's recent sign-in attempts, newest first (admin, auditor)."""
    rows = session.execute(
        select(OperatorSignIn, Operator.username)
        .join(Operator, Operator.id == OperatorSignIn.operator_id)
        .order_by(OperatorSignIn.id.desc())
        .limit(limit)
    ).all()
    return [_sign_in_out(row, username) for row, username in rows]
