"""Who is calling: sessions (cookie or bearer) and leader API keys, as dependencies, and the
middleware that keeps API keys to the one thing they may do.

Credentials:
- a session: the `cv_session` cookie (HttpOnly, Secure, SameSite=Strict) or
  `Authorization: Bearer cvs_...`;
- a leader API key: `Authorization: Bearer cvk_<id>_<secret>`, accepted on POST /v1/intents only;
- operator tokens (`cvo_...`) belong to the operators' own dependency: `CurrentSession` refuses
  them like any token that is not a session's.

`ApiKeyGate` (pure ASGI, outermost of the identity pieces) answers 403 `api_key_not_allowed` to a
key on any other endpoint before routing, and records every request that presented a known key
(`api_key_uses`: key, time, route, status, client address, intent digest) after its answer.

Seam for the shared rate limiter: every authenticated request carries `request.state.principal`
(a `Principal`: kind, address, session id or key id, and for keys `rate_per_minute`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.deps import AppState, SessionDep, StateDep
from backend.api.errors import (
    ApiKeyNotAllowedError,
    ApiKeyWrongLeaderError,
    CredentialsRequiredError,
    OriginNotAllowedError,
    SessionWrongLeaderError,
    UnauthenticatedError,
    error_response,
)
from backend.api.schemas import IntentSubmission, checksum
from backend.chain import eip712
from backend.config import Settings
from backend.services import auth
from backend.services.intents import IntakeContext
from backend.services.intents import _message as intent_message

log = logging.getLogger(__name__)

SESSION_COOKIE: Final = "cv_session"
MAX_TOKEN_CHARS: Final = 256
# scope["state"] key the gate reads after the answer (request.state is backed by it).
_INTENT_DIGEST: Final = "intent_digest"


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as (`request.state.principal`). A per-credential rate limit
    keys on `credential_id`; an API key's own limit is `rate_per_minute`."""

    kind: Literal["session", "api_key"]
    address: str  # lowercase: the session's address, or the key's leader
    credential_id: str  # the session's or the key's public id
    rate_per_minute: int | None = None  # API keys only


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError(
            "session_invalid",
            "the Authorization header must be `Bearer <token>` (a cvs_ session token)",
        )
    return token.strip()


SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def _check_cookie_origin(request: Request, origins: frozenset[str]) -> None:
    """A request that changes something on the strength of the cookie must come from the web app:
    its Origin header present and allowed (defence in depth beside SameSite=Strict, for browsers
    or proxies that drop it). Scripts send the bearer form, which no browser attaches by itself."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is None or origin.rstrip("/").lower() not in origins:
        raise OriginNotAllowedError(
            f"a session cookie is accepted on {request.method} only from the web app's origin "
            f"({', '.join(sorted(origins))}), and this request's Origin is {origin or 'missing'}: "
            "scripts send `Authorization: Bearer cvs_...` instead"
        )


def _session_token(request: Request, settings: Settings) -> str | None:
    """The session token of the request (bearer first, then the cookie), or None."""
    token = _bearer(request)
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        if token is not None:
            _check_cookie_origin(
                request, auth.allowed_origins(settings.siwe_domain, settings.siwe_uri_origins)
            )
    if token is None:
        return None
    if token.startswith(auth.KEY_PREFIX):
        raise ApiKeyNotAllowedError(
            "an API key may only submit its leader's intents (POST /v1/intents): sign in with "
            "the leader's wallet for anything else"
        )
    if not token.startswith(auth.SESSION_PREFIX) or len(token) > MAX_TOKEN_CHARS:
        raise UnauthenticatedError(
            "session_invalid", "the token is not a session token (cvs_...): sign in again"
        )
    return token


def _resolve_session(session: Session, chain_id: int, token: str) -> Principal:
    try:
        row = auth.authenticate_session(session, chain_id=chain_id, token=token)
        return Principal(kind="session", address=row.address, credential_id=row.id)
    finally:
        # The read connection back to the pool: a handler that writes takes another, and a
        # request never holds two (a full pool cannot deadlock).
        session.rollback()


async def current_session(request: Request, state: StateDep, session: SessionDep) -> Principal:
    """The request's live session, or 401 (unauthenticated, session_invalid, session_expired,
    session_revoked); an API key is 403 api_key_not_allowed."""
    token = _session_token(request, state.settings)
    if token is None:
        raise UnauthenticatedError(
            "unauthenticated",
            "sign in first (POST /v1/auth/nonce, then POST /v1/auth/sign-in) and send the "
            f"{SESSION_COOKIE} cookie or `Authorization: Bearer cvs_...`",
        )
    principal = await run_in_threadpool(_resolve_session, session, state.deployment.chain_id, token)
    request.state.principal = principal
    return principal


CurrentSession = Annotated[Principal, Depends(current_session)]


def _resolve_key(session: Session, chain_id: int, token: str, request: Request) -> Principal:
    try:
        row, check = auth.check_key(session, chain_id=chain_id, token=token)
        if row is not None:
            # Recorded by the gate after the answer, whatever it is (401s included).
            request.state.api_key_id = row.id
        if check != "ok":
            raise auth.key_refusal(check)
        assert row is not None
        return Principal(
            kind="api_key",
            address=row.leader,
            credential_id=row.id,
            rate_per_minute=row.rate_per_minute,
        )
    finally:
        session.rollback()  # as in _resolve_session


async def intent_caller(request: Request, state: StateDep) -> Principal | None:
    """The credential presented with an intent (an API key or a session), None without one.
    Presented credentials are always checked (a bad one is 401, never ignored)."""
    header = request.headers.get("authorization")
    if header is None and SESSION_COOKIE not in request.cookies:
        return None  # the common, anonymous case: no session, no thread-pool hop
    principal = await run_in_threadpool(_resolve_intent_caller, request, state)
    request.state.principal = principal
    await _charge_own_rate(request, principal)
    return principal


def _resolve_intent_caller(request: Request, state: AppState) -> Principal:
    """The key or session an intent came with (in a worker thread, with a session of its own)."""
    chain_id = state.deployment.chain_id
    bearer = _bearer(request)
    with state.sessions() as session:
        if bearer is not None and bearer.startswith(auth.KEY_PREFIX):
            return _resolve_key(session, chain_id, bearer, request)
        token = _session_token(request, state.settings)
        assert token is not None
        return _resolve_session(session, chain_id, token)


async def _charge_own_rate(request: Request, principal: Principal) -> None:
    """An API key is also held to the rate its leader gave it (429 rate_limited), besides the
    per-credential limit every token gets from the rate-limit middleware."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None and principal.kind == "api_key" and principal.rate_per_minute:
        key = f"apikey:{principal.credential_id}"
        await limiter.acharge_principal(key, principal.rate_per_minute)


IntentCaller = Annotated[Principal | None, Depends(intent_caller)]


def authorize_intent(
    request: Request,
    session: Session,
    *,
    ctx: IntakeContext,
    caller: Principal | None,
    body: IntentSubmission,
    require_credentials: bool,
) -> None:
    """Whether `caller` may submit `body` (before anything is stored): a key only its leader's
    intents; a session only those of a leader it is, or is a live delegate of; nobody without
    credentials when they are required."""
    leader = body.leader.lower()
    if caller is None:
        if require_credentials:
            raise CredentialsRequiredError(
                "this server requires the leader's API key (Authorization: Bearer cvk_...) or a "
                "session of the leader or one of its delegates to submit intents"
            )
        return
    if caller.kind == "api_key":
        digest = eip712.digest(ctx.domain, intent_message(body))
        request.state.intent_digest = "0x" + digest.hex()
        if caller.address != leader:
            raise ApiKeyWrongLeaderError(
                f"this API key belongs to leader {checksum(caller.address)} and may only submit "
                f"its intents, not {checksum(leader)}'s"
            )
        return
    if not auth.is_leader_or_live_delegate(
        session,
        chain_id=ctx.chain_id,
        address=caller.address,
        leader=leader,
        now=ctx.clock.now(),
    ):
        raise SessionWrongLeaderError(
            f"the session's address {checksum(caller.address)} is neither leader "
            f"{checksum(leader)} nor one of its live delegates"
        )


# ----------------------------------------------------------------------------- the gate


def _bearer_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def _app_state(scope: Scope) -> Any:
    """The app's AppState (None before the lifespan built it)."""
    app = scope.get("app")
    return getattr(getattr(app, "state", None), "copyvault", None)


class ApiKeyGate:
    """API keys may only POST /v1/intents: any other request with one is answered 403 here,
    before routing; every request that presented a known key is recorded after its answer."""

    def __init__(self, app: ASGIApp, *, intents_path: str):
        self.app = app
        self.intents_path = intents_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _bearer_of(scope)
        if token is None or not token.startswith(auth.KEY_PREFIX):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST" or scope["path"] != self.intents_path:
            response = error_response(
                ApiKeyNotAllowedError.status,
                ApiKeyNotAllowedError.code,
                "an API key may only submit its leader's intents (POST "
                f"{self.intents_path}): sign in with the leader's wallet for anything else",
            )
            await response(scope, receive, send)
            await self._record_known(scope, token, response.status_code)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            state: dict[str, Any] = scope.get("state", {})
            key_id = state.get("api_key_id")
            if key_id is not None:
                await self._record(scope, key_id, status, state.get(_INTENT_DIGEST))
            else:  # refused before the key was looked up (not ready, an invalid body): still a use
                await self._record_known(scope, token, status)

    async def _record_known(self, scope: Scope, token: str, status: int) -> None:
        app_state = _app_state(scope)
        if app_state is None:
            return

        def known() -> str | None:
            with app_state.sessions() as session:
                row, _ = auth.check_key(
                    session, chain_id=app_state.deployment.chain_id, token=token
                )
                return None if row is None else row.id

        try:
            key_id = await run_in_threadpool(known)
        except Exception as exc:  # the 403 is sent: a lost record is logged, not raised
            log.warning("could not look up an API key refused on %s: %s", scope["path"], exc)
            return
        if key_id is not None:
            await self._record(scope, key_id, status, None)

    async def _record(self, scope: Scope, key_id: str, status: int, digest: str | None) -> None:
        app_state = _app_state(scope)
        if app_state is None:
            return
        client = scope.get("client")
        try:
            await run_in_threadpool(
                auth.record_key_use,
                app_state.engine,
                key_id=key_id,
                method=scope["method"],
                route=scope["path"],
                status=status,
                client=client[0] if client else None,
                intent_digest=digest,
            )
        except Exception as exc:  # the answer is sent: a lost record is logged, not raised
            log.warning("could not record a use of API key %s: %s", key_id, exc)
