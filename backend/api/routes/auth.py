"""Sign-in with Ethereum, sessions and leader API keys (/v1/auth)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from backend.api.auth import SESSION_COOKIE, CurrentSession
from backend.api.auth_schemas import (
    PUBLIC_ID_PATTERN,
    ApiKeyIn,
    ApiKeyListOut,
    ApiKeyOut,
    ApiKeyUseListOut,
    ApiKeyUseOut,
    DelegationOut,
    MeOut,
    NewApiKeyOut,
    NonceOut,
    SessionListOut,
    SessionOut,
    SignedInOut,
    SignInIn,
)
from backend.api.deps import SessionDep, SettingsDep, StateDep
from backend.api.errors import error_responses
from backend.api.schemas import checksum
from backend.db.auth_models import ApiKey, AuthSession
from backend.db.types import utc_aware
from backend.services import auth

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(400, 422))

SessionIdPath = Annotated[str, Path(pattern=PUBLIC_ID_PATTERN, description="A session's id.")]
KeyIdPath = Annotated[str, Path(pattern=PUBLIC_ID_PATTERN, description="An API key's id.")]
SIGNED_IN = error_responses(401, 403)


def _session_out(row: AuthSession, current_id: str | None) -> SessionOut:
    return SessionOut(
        session_id=row.id,
        address=checksum(row.address),
        method=row.method,  # type: ignore[arg-type]
        created_at=utc_aware(row.created_at),
        expires_at=utc_aware(row.expires_at),
        current=row.id == current_id,
    )


def _key_out(row: ApiKey) -> ApiKeyOut:
    expires = utc_aware(row.expires_at)
    state = (
        "revoked"
        if row.revoked_at is not None
        else ("expired" if expires <= auth.utcnow() else "active")
    )
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        leader=checksum(row.leader),
        rate_per_minute=row.rate_per_minute,
        created_at=utc_aware(row.created_at),
        expires_at=expires,
        revoked_at=None if row.revoked_at is None else utc_aware(row.revoked_at),
        status=state,  # type: ignore[arg-type]
    )


# ----------------------------------------------------------------------------- sign-in


@router.post(
    "/nonce",
    response_model=NonceOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(503),
)
def new_nonce(state: StateDep) -> NonceOut:
    """A fresh nonce for one sign-in message (single use, short-lived)."""
    nonce, expires = auth.issue_nonce(state.engine, seconds=state.settings.siwe_nonce_seconds)
    return NonceOut(nonce=nonce, expires_at=expires)


@router.post(
    "/sign-in",
    response_model=SignedInOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 503),
)
def sign_in(
    body: SignInIn, session: SessionDep, state: StateDep, request: Request, response: Response
) -> SignedInOut:
    """Sign in with an EIP-4361 message and its signature (an EOA's personal_sign, or a contract
    wallet's EIP-1271 signature). Sets the session cookie, or with `bearer` answers the token."""
    settings = state.settings
    ctx = auth.SignInContext(
        chain_id=state.deployment.chain_id,
        domain=settings.siwe_domain,
        origins=auth.allowed_origins(settings.siwe_domain, settings.siwe_uri_origins),
        nonce_seconds=settings.siwe_nonce_seconds,
        skew_seconds=settings.siwe_clock_skew_seconds,
        session_seconds=settings.session_seconds,
        client=state.quick_client,
    )
    new = auth.sign_in(
        state.engine,
        session,
        ctx=ctx,
        message=body.message,
        signature=body.signature,
        client_address=request.client.host if request.client else None,
    )
    if not body.bearer:
        response.set_cookie(
            SESSION_COOKIE,
            new.token,
            max_age=settings.session_seconds,
            path="/",
            secure=True,
            httponly=True,
            samesite="strict",
        )
    return SignedInOut(
        session_id=new.id,
        address=checksum(new.address),
        method=new.method,
        created_at=new.created_at,
        expires_at=new.expires_at,
        current=True,
        token=new.token if body.bearer else None,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=SIGNED_IN)
def logout(me: CurrentSession, state: StateDep, response: Response) -> None:
    """Revoke this request's session (the cookie is cleared too)."""
    auth.revoke_session(
        state.engine,
        chain_id=state.deployment.chain_id,
        address=me.address,
        session_id=me.credential_id,
    )
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")


# ----------------------------------------------------------------------------- sessions


@router.get("/me", response_model=MeOut, responses=SIGNED_IN)
def whoami(me: CurrentSession, session: SessionDep, state: StateDep) -> MeOut:
    """Who the session is, and what the index says it is: owner of which vaults, a registered
    leader (followed by which vaults), a live delegate of which leaders."""
    chain_id = state.deployment.chain_id
    row = session.get(AuthSession, me.credential_id)
    assert row is not None
    now = state.clock.now() if state.clock is not None else int(time.time())
    facts = auth.identity(session, chain_id=chain_id, address=me.address, now=now)
    return MeOut(
        address=checksum(me.address),
        session_id=me.credential_id,
        expires_at=utc_aware(row.expires_at),
        owner_of=[checksum(v) for v in facts.owner_of],
        leader=facts.leader_registered,
        followed_by=[checksum(v) for v in facts.leader_of_vaults],
        delegate_of=[
            DelegationOut(leader=checksum(leader), expiry=expiry)
            for leader, expiry in facts.delegate_of
        ],
    )


@router.get("/sessions", response_model=SessionListOut, responses=SIGNED_IN)
def list_sessions(me: CurrentSession, session: SessionDep, state: StateDep) -> SessionListOut:
    """This address's live sessions (every device it signed in from), newest first."""
    rows = auth.list_sessions(session, chain_id=state.deployment.chain_id, address=me.address)
    return SessionListOut(items=[_session_out(r, me.credential_id) for r in rows])


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404),
)
def revoke_session(session_id: SessionIdPath, me: CurrentSession, state: StateDep) -> None:
    """Revoke one of this address's sessions (a lost device): its token stops working at once."""
    auth.revoke_session(
        state.engine, chain_id=state.deployment.chain_id, address=me.address, session_id=session_id
    )


# ----------------------------------------------------------------------------- API keys


@router.post(
    "/keys",
    response_model=NewApiKeyOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409),
)
def create_key(
    body: ApiKeyIn, me: CurrentSession, session: SessionDep, state: StateDep, settings: SettingsDep
) -> NewApiKeyOut:
    """A key for the signed-in leader's trading bot: it may only submit this leader's intents.
    The secret is in this answer only."""
    new = auth.create_key(
        state.engine,
        session,
        chain_id=state.deployment.chain_id,
        leader=me.address,
        name=body.name,
        expires_in_days=body.expires_in_days,
        rate_per_minute=body.rate_per_minute,
        limits=auth.KeyLimits(
            max_days=settings.api_key_max_days,
            max_rate_per_minute=settings.api_key_max_rate_per_minute,
            max_per_leader=settings.api_key_max_per_leader,
        ),
    )
    return NewApiKeyOut(**_key_out(new.row).model_dump(), key=new.key)


@router.get("/keys", response_model=ApiKeyListOut, responses=SIGNED_IN)
def list_keys(me: CurrentSession, session: SessionDep, state: StateDep) -> ApiKeyListOut:
    """The signed-in leader's keys, without secrets, newest first."""
    rows = auth.list_keys(session, chain_id=state.deployment.chain_id, leader=me.address)
    return ApiKeyListOut(items=[_key_out(r) for r in rows])


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404),
)
def revoke_key(key_id: KeyIdPath, me: CurrentSession, state: StateDep) -> None:
    """Revoke one of the signed-in leader's keys: it stops working at once."""
    auth.revoke_key(
        state.engine, chain_id=state.deployment.chain_id, leader=me.address, key_id=key_id
    )


@router.get(
    "/keys/{key_id}/uses",
    response_model=ApiKeyUseListOut,
    responses=error_responses(401, 403, 404),
)
def key_uses(
    key_id: KeyIdPath,
    me: CurrentSession,
    session: SessionDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ApiKeyUseListOut:
    """Every request that presented this key, newest first: time, route, answer, client, intent."""
    auth.get_key(session, chain_id=state.deployment.chain_id, leader=me.address, key_id=key_id)
    rows = auth.key_uses(session, key_id=key_id, limit=limit)
    return ApiKeyUseListOut(
        items=[
            ApiKeyUseOut(
                at=utc_aware(r.at),
                method=r.method,
                route=r.route,
                status=r.status,
                client=r.client,
                intent_digest=r.intent_digest,
            )
            for r in rows
        ]
    )
