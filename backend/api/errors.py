"""The API's errors: one JSON shape, stable codes, and the handlers that produce them.

Every error response is

    {"error": {"code": "invalid_address", "message": "...", "fields": [...]}}

where `code` is stable (clients branch on it), `message` says what went wrong and how to fix it,
and `fields` (request validation only) lists each offending input by its path ("body.amount",
"path.vault", "query.cursor").

`ApiError` subclasses `backend.exceptions.CopyvaultError` (the backend's single root): services
raise them, `install_error_handlers` maps them. Request validation (FastAPI's
`RequestValidationError`) becomes 422 with code `invalid_request`, or with the more precise code a
validator gave (`invalid_address`, `invalid_checksum`, `invalid_hash`) when every failure has it;
a body that is not JSON at all is a 400 `invalid_json`. docs/api.md lists every code.
A chain or store outage is a 503 naming the dependency; anything else that escapes is logged and
answered with a 500 `internal_error` as a last resort (the test suite fuzzes the API to keep that
path unused).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.chain.redact import scrub
from backend.db.engine import is_store_outage
from backend.exceptions import (
    ArtifactError,
    ChainError,
    ChainUnavailableError,
    ConfigError,
    CopyvaultError,
    DeploymentError,
    StoreError,
)
from backend.security.rate_limits import RateLimitExceeded

log = logging.getLogger(__name__)

# During an outage every request fails the same way: one line per condition per this many seconds.
OUTAGE_LOG_SECONDS = 60.0


class OutageLog:
    """Warnings about an unavailable or busy store, at most one line per condition per
    OUTAGE_LOG_SECONDS, each saying how many failures were not logged since the last: a store
    outage under load must not write one line (or a traceback) per refused request."""

    def __init__(self, every: float = OUTAGE_LOG_SECONDS):
        self.every = every
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def warn(self, condition: str, detail: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(condition)
            if last is not None and now - last < self.every:
                self._quiet[condition] = self._quiet.get(condition, 0) + 1
                return
            self._last[condition] = now
            quiet = self._quiet.pop(condition, 0)
        more = f" ({quiet} more since the last line)" if quiet else ""
        log.warning("%s: %s%s", condition, detail, more)


# ----------------------------------------------------------------------------- response models


class FieldError(BaseModel):
    path: str
    message: str
    code: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldError] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# Codes request validators raise (as pydantic custom errors) that the 422 keeps when they are the
# only kind of failure in a request.
VALIDATION_CODES = frozenset({"invalid_address", "invalid_checksum", "invalid_hash"})


# ----------------------------------------------------------------------------- the hierarchy


class ApiError(CopyvaultError):
    """An error answered to the client as-is: an HTTP status, a stable code and a message."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    # Temporary refusals (503) tell the client when to come back.
    retry_after: ClassVar[bool] = False
    # When set (per instance), the Retry-After seconds this refusal names instead of the setting's.
    retry_after_seconds: int | None = None

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidCursorError(ApiError):
    code = "invalid_cursor"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class VaultNotFoundError(NotFoundError):
    code = "vault_not_found"


class LeaderNotFoundError(NotFoundError):
    code = "leader_not_found"


class ProposalNotFoundError(NotFoundError):
    code = "proposal_not_found"


class NotOwnerError(ApiError):
    """The signer or proposer is not an owner of the vault (as the index knows it)."""

    status = 403
    code = "not_owner"


class MalformedSignatureError(ApiError):
    """Not a signature the vault could check: bad length, v, or high s (EIP-2)."""

    code = "malformed_signature"


class InvalidSignatureError(ApiError):
    """A well-formed signature that does not approve this proposal's digest for this signer."""

    code = "invalid_signature"


class DeadlinePassedError(ApiError):
    code = "deadline_passed"


class NonceUsedError(ApiError):
    status = 409
    code = "nonce_used"


class NonceTooFarError(ApiError):
    code = "nonce_too_far"


class ProposalClosedError(ApiError):
    """The proposal was executed or went stale: it takes no more signatures."""

    status = 409
    code = "proposal_closed"


class ZeroAmountError(ApiError):
    code = "zero_amount"


class ZeroAddressError(ApiError):
    code = "zero_address"


class DisallowedConfigCallError(ApiError):
    code = "disallowed_config_call"


class InvalidConfigCallError(ApiError):
    code = "invalid_config_call"


class IntentNotFoundError(NotFoundError):
    code = "intent_not_found"


class InvalidFractionError(ApiError):
    """fractionBps outside 1..10000 (the registry's InvalidFraction)."""

    code = "invalid_fraction"


class IdenticalTokensError(ApiError):
    code = "identical_tokens"


class UnauthorizedSignerError(ApiError):
    """A valid signature by a key that is neither the leader nor one of its live delegates."""

    status = 403
    code = "unauthorized_signer"


class IntentExpiredError(ApiError):
    """The deadline passed, or is too close to relay and mine the intent in time."""

    code = "intent_expired"


class NonceCancelledError(ApiError):
    """The leader cancelled this intent nonce in the registry (invalidateNonces)."""

    status = 409
    code = "nonce_cancelled"


class UnknownVenueError(ApiError):
    """The venue is not allowed platform-wide (the factory's venue allowlist)."""

    code = "unknown_venue"


class TokenNotAllowedError(ApiError):
    """A token the platform's oracle has no feed for: vaults could not bound the trade."""

    code = "token_not_allowed"


class BodyTooLargeError(ApiError):
    status = 413
    code = "body_too_large"


class DependencyUnavailableError(ApiError):
    status = 503
    code = "chain_unavailable"


class TooManyOpenProposalsError(ApiError):
    """The vault has as many pending or ready proposals as the API keeps for one vault."""

    status = 409
    code = "too_many_open_proposals"


class NotReadyError(ApiError):
    """The server is alive but cannot judge intents yet; `code` names why (see /v1/ready)."""

    status = 503
    retry_after = True

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # one class, the reason's code per instance


class StreamLimitError(ApiError):
    """More /v1/stream clients than the process (or one client address) may hold."""

    status = 503
    code = "stream_limit"
    retry_after = True


# ----------------------------------------------------------------------------- admission
# Intake admits an intent only for a registered leader with a following vault that can trade it,
# and at most COPYVAULT_INTAKE_MAX_PENDING_PER_LEADER intents of one leader not yet final.


class LeaderNotRegisteredError(ApiError):
    """The intent's leader never called LeaderRegistry.register (as the index knows it)."""

    status = 403
    code = "leader_not_registered"


class NoFundedFollowerError(ApiError):
    """No vault following the leader could trade the intent: none that is unpaused, copying and
    holds a positive (indexed) balance of its tokenIn."""

    status = 409
    code = "no_funded_follower"


class AddressDeniedError(ApiError):
    """The intent's leader or signing delegate is on the platform's deny list (compliance)."""

    status = 403
    code = "address_denied"


class LeaderPendingLimitError(ApiError):
    """The leader already has as many intents not yet final as intake keeps for one leader."""

    status = 429
    code = "leader_pending_limit"

    def __init__(self, message: str, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


# ----------------------------------------------------------------------------- identity
# Sign-in with Ethereum, sessions and leader API keys (backend/services/auth.py).


class SiweMalformedError(ApiError):
    """The sign-in message is not an EIP-4361 message (the siwe parser refused it)."""

    code = "siwe_malformed"


class SignInError(ApiError):
    """A well-formed sign-in message that does not sign in: the code names the failed check
    (siwe_domain_mismatch, siwe_uri_not_allowed, siwe_chain_mismatch, siwe_expired,
    siwe_not_yet_valid, siwe_issued_at, siwe_nonce_unknown, siwe_nonce_used,
    siwe_signature_invalid)."""

    status = 401

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # one class, the failed check's code per instance


class UnauthenticatedError(ApiError):
    """No session where one is needed, or a session token that is unknown, expired or revoked:
    the code says which (unauthenticated, session_invalid, session_expired, session_revoked)."""

    status = 401

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code  # type: ignore[misc]


class ApiKeyAuthError(UnauthenticatedError):
    """An API key that is unknown or wrong (api_key_invalid), expired or revoked."""


class CredentialsRequiredError(ApiError):
    """POST /v1/intents without a key or session while COPYVAULT_INTENTS_REQUIRE_CREDENTIALS."""

    status = 401
    code = "credentials_required"


class ApiKeyNotAllowedError(ApiError):
    """A leader API key (cvk_) on any endpoint but POST /v1/intents."""

    status = 403
    code = "api_key_not_allowed"


class ApiKeyWrongLeaderError(ApiError):
    """A leader's key presented with another leader's intent."""

    status = 403
    code = "api_key_wrong_leader"


class SessionWrongLeaderError(ApiError):
    """A session presented with an intent of a leader it is neither nor a live delegate of."""

    status = 403
    code = "session_wrong_leader"


class OriginNotAllowedError(ApiError):
    """A state-changing request authenticated by the session cookie from another origin."""

    status = 403
    code = "origin_not_allowed"


class NotALeaderError(ApiError):
    """API keys are for leaders registered in the index."""

    status = 403
    code = "not_a_leader"


class SessionNotFoundError(NotFoundError):
    code = "session_not_found"


class ApiKeyNotFoundError(NotFoundError):
    code = "api_key_not_found"


class ApiKeyTermsError(ApiError):
    """An expiry or rate outside the bounds the server's settings give."""

    code = "api_key_terms"


class TooManyApiKeysError(ApiError):
    status = 409
    code = "too_many_api_keys"


# ----------------------------------------------------------------------------- platform: limits
# Rate limits (backend/security/rate_limits.py raises RateLimitExceeded; answered here as 429) and
# slow clients (backend/api/platform.py, backend/api/http_protocol.py).


class RateLimitedError(ApiError):
    """A rate limit is used up; the message names which, Retry-After says when to come back."""

    status = 429
    code = "rate_limited"


class RequestTimeoutError(ApiError):
    """The client did not send its request (head or body) within the server's time limits."""

    status = 408
    code = "request_timeout"


def rate_limited_response(exc: RateLimitExceeded) -> JSONResponse:
    return error_response(
        RateLimitedError.status,
        RateLimitedError.code,
        str(exc),
        headers={"Retry-After": str(exc.retry_after)},
    )


# ----------------------------------------------------------------------------- operators
# Operator accounts, sessions, step-up TOTP and privileged actions (docs/api.md, "Operators").


class OperatorSessionRequiredError(ApiError):
    status = 401
    code = "operator_session_required"


class OperatorSessionInvalidError(ApiError):
    """Unknown, revoked or expired operator session."""

    status = 401
    code = "operator_session_invalid"


class InvalidCredentialsError(ApiError):
    status = 401
    code = "invalid_credentials"


class StepUpRequiredError(ApiError):
    """A privileged action without the X-Copyvault-TOTP header."""

    status = 401
    code = "step_up_required"


class TotpInvalidError(ApiError):
    status = 401
    code = "totp_invalid"


class TotpReusedError(ApiError):
    """A code of a time step this operator already used."""

    status = 401
    code = "totp_reused"


class OperatorLockedError(ApiError):
    status = 423
    code = "operator_locked"


class RoleForbiddenError(ApiError):
    status = 403
    code = "role_forbidden"


class EnrolmentIncompleteError(ApiError):
    status = 403
    code = "enrolment_incomplete"


class OperatorDisabledError(ApiError):
    status = 403
    code = "operator_disabled"


class EnrolmentTokenInvalidError(ApiError):
    status = 401
    code = "enrolment_token_invalid"


class WeakPasswordError(ApiError):
    code = "weak_password"


class OperatorNotFoundError(NotFoundError):
    code = "operator_not_found"


class OperatorExistsError(ApiError):
    status = 409
    code = "operator_exists"


class LastAdminError(ApiError):
    status = 409
    code = "last_admin"


class RelayerStateUnchangedError(ApiError):
    status = 409
    code = "relayer_state_unchanged"


class IntentNotHoldableError(ApiError):
    status = 409
    code = "intent_not_holdable"


class IntentNotHeldError(ApiError):
    status = 409
    code = "intent_not_held"


class GuardianNotAcceptedError(ApiError):
    status = 409
    code = "guardian_not_accepted"


class GuardianMismatchError(ApiError):
    """The factory's guardian is not the backend's guardian key."""

    status = 409
    code = "guardian_mismatch"


class VaultAlreadyPausedError(ApiError):
    status = 409
    code = "vault_already_paused"


class NotDeniedError(NotFoundError):
    code = "not_denied"


# ----------------------------------------------------------------------------- compliance (KYC,
# screening cases; engineer H's block: parallel additions merge around it)


class LeaderNotVerifiedError(ApiError):
    """COPYVAULT_INTAKE_REQUIRE_VERIFIED_LEADER is on and the leader has no current `verified`
    KYC attestation."""

    status = 403
    code = "leader_not_verified"


class ScreeningCaseNotFoundError(NotFoundError):
    code = "screening_case_not_found"


class ScreeningCaseDecidedError(ApiError):
    """The screening case was already cleared or confirmed: decisions are final."""

    status = 409
    code = "screening_case_decided"


class KycNotFoundError(NotFoundError):
    """No KYC attestation of that id (or of that leader)."""

    code = "kyc_not_found"


class KycEvidencePurgedError(ApiError):
    """The attestation's evidence was purged at the end of its retention period."""

    status = 410
    code = "kyc_evidence_purged"


# ----------------------------------------------------------------------------- audit trail


class IntentNotAnchoredError(ApiError):
    """The intent was accepted after the last anchor: its proof exists from the next one on."""

    status = 409
    code = "intent_not_anchored"


class AnchorMismatchError(ApiError):
    """The store's tree for an anchor's interval does not give the root on chain: the intents of
    that interval changed since it was anchored (`copyvault audit verify` says more)."""

    status = 409
    code = "anchor_mismatch"


# --- web app support (issue 13): auditor views and the vault's value history


class ReportNotGeneratedError(NotFoundError):
    """An auditor view's file (the Slither report, the gas snapshot) was not generated here."""

    code = "report_not_generated"


class InvalidHistoryRangeError(ApiError):
    """A history request whose `from` is after its `to`."""

    code = "invalid_history_range"


# ----------------------------------------------------------------------------- rendering


def error_response(
    status: int,
    code: str,
    message: str,
    fields: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        detail["fields"] = fields
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def validation_response(
    exc: RequestValidationError, *, hide_unknown_names: bool = False
) -> JSONResponse:
    """`hide_unknown_names`: an unknown field is named `(unknown field)`, not by the name the
    client sent (bodies that may carry personal data, such as KYC evidence, never echo it)."""
    fields = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        loc = tuple(error.get("loc", ()))
        if hide_unknown_names and error.get("type") == "extra_forbidden":
            loc = (*loc[:-1], "(unknown field)")
        fields.append(
            {
                "path": _location(loc),
                "message": message,
                "code": error["type"],
            }
        )
    kinds = {f["code"] for f in fields}
    if kinds == {"json_invalid"}:
        return error_response(
            400,
            "invalid_json",
            f"the request body is not valid JSON ({fields[0]['message']}): send one JSON object",
        )
    code = kinds.pop() if len(kinds) == 1 and kinds <= VALIDATION_CODES else "invalid_request"
    summary = "; ".join(f"{f['path']}: {f['message']}" for f in fields[:5])
    if len(fields) > 5:
        summary += f" (and {len(fields) - 5} more)"
    return error_response(422, code, f"the request is invalid: {summary}", fields)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the JSON shape above."""

    def retry_after(request: Request) -> dict[str, str]:
        extras = getattr(request.app.state, "api", None)
        seconds = extras.settings.api_retry_after_seconds if extras is not None else 1
        return {"Retry-After": str(seconds)}

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = retry_after(request) if exc.retry_after else None
        if exc.retry_after_seconds is not None:
            headers = {"Retry-After": str(exc.retry_after_seconds)}
        return error_response(exc.status, exc.code, exc.message, headers=headers)

    @app.exception_handler(RateLimitExceeded)
    async def _rate_limited(_request: Request, exc: RateLimitExceeded) -> JSONResponse:
        return rate_limited_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        private = getattr(request.app.state, "private_input_paths", ())
        hide = any(request.url.path.startswith(prefix) for prefix in private)
        return validation_response(exc, hide_unknown_names=hide)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            code = "invalid_json"
            message = "the request body is not valid JSON: send one JSON object (UTF-8)"
        elif exc.status_code == 404:
            message = "no such endpoint: see /docs for the API's routes"
        elif exc.status_code == 405:
            message = "this endpoint does not support that HTTP method: see /docs"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(ChainUnavailableError)
    async def _chain_down(request: Request, exc: ChainUnavailableError) -> JSONResponse:
        return error_response(
            503, "chain_unavailable", scrub(str(exc)), headers=retry_after(request)
        )

    @app.exception_handler(ChainError)
    async def _chain(request: Request, exc: ChainError) -> JSONResponse:
        message = scrub(str(exc))
        log.warning("chain error: %s", message)
        return error_response(
            503,
            "chain_unavailable",
            f"the node answered an error: {message}",
            headers=retry_after(request),
        )

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        return error_response(503, "store_unavailable", str(exc), headers=retry_after(request))

    outages = OutageLog()
    app.state.outage_log = outages

    @app.exception_handler(PoolTimeoutError)
    async def _pool_full(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        outages.warn("store busy", "no free connection in the API's pool")
        return _store_busy(request)

    @app.exception_handler(DBAPIError)
    async def _store_down(request: Request, exc: DBAPIError) -> JSONResponse:
        detail = _first_line(exc.orig)
        if isinstance(exc, OperationalError) and is_store_busy(exc):
            outages.warn("store busy", detail)
            return _store_busy(request)
        if not is_store_outage(exc):
            raise exc  # a bug (an integrity error, say): the last resort logs it with its trace
        outages.warn("store unavailable", detail)
        return error_response(
            503,
            "store_unavailable",
            "the store (database) cannot be reached; try again shortly",
            headers=retry_after(request),
        )

    def _store_busy(request: Request) -> JSONResponse:
        return error_response(
            503,
            "store_busy",
            "the store is busy (no free connection, or a statement or lock took too long): "
            "try again after the Retry-After seconds",
            headers=retry_after(request),
        )

    async def _misconfigured(_request: Request, exc: Exception) -> JSONResponse:
        message = scrub(str(exc))
        log.error("server misconfigured: %s", message)
        return error_response(503, "server_misconfigured", message)

    for kind in (ArtifactError, ConfigError, DeploymentError):
        app.add_exception_handler(kind, _misconfigured)

    @app.exception_handler(CopyvaultError)
    async def _copyvault(_request: Request, exc: CopyvaultError) -> JSONResponse:
        message = scrub(str(exc))
        log.error("unhandled %s: %s", type(exc).__name__, message)
        return error_response(500, "internal_error", message)

    @app.exception_handler(Exception)
    async def _last_resort(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", "an unexpected error occurred; it has been logged"
        )


# SQLSTATEs of PostgreSQL's statement_timeout (query_canceled) and lock_timeout
# (lock_not_available): the store answered, it is only busy.
_BUSY_SQLSTATES = frozenset({"57014", "55P03"})
_SQLITE_BUSY_PHRASES = ("database is locked", "database table is locked")


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip() if error is not None else ""
    return text.splitlines()[0] if text else type(error).__name__


def is_store_busy(exc: OperationalError) -> bool:
    """Whether the store refused for load (timeouts, locks) rather than being unreachable."""
    if getattr(exc.orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    return any(phrase in str(exc.orig) for phrase in _SQLITE_BUSY_PHRASES)


# OpenAPI: the error responses every route can give, documented with the shared model.
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Bad input (the code names it: invalid_cursor, invalid_json, malformed_signature...).",
        401: "Not signed in, or the session, API key or step-up code is unknown, expired, revoked "
        "or reused (unauthenticated, session_expired, api_key_revoked, siwe_nonce_used, "
        "operator_session_required, step_up_required, totp_invalid, totp_reused, ...).",
        403: "Not allowed (not_owner, unauthorized_signer, api_key_not_allowed, "
        "api_key_wrong_leader, not_a_leader, leader_not_registered, role_forbidden, "
        "enrolment_incomplete, operator_disabled).",
        404: "Unknown resource (vault_not_found, leader_not_found, proposal_not_found, "
        "intent_not_found).",
        408: "The request body did not arrive in time (request_timeout).",
        409: "Conflicts with the chain's state (nonce_used, nonce_cancelled, proposal_closed, "
        "no_funded_follower).",
        413: "The request body is larger than the API accepts (body_too_large).",
        410: "Gone: the KYC evidence was purged at the end of its retention (kyc_evidence_purged).",
        423: "The operator account is locked after repeated failures (operator_locked).",
        422: "The request does not fit the schema (invalid_request, invalid_address, ...).",
        429: "Too many: a rate limit is used up (rate_limited; the message names which) or the "
        "leader has too many intents pending (leader_pending_limit): retry after Retry-After.",
        503: "Try again after Retry-After: the node or the store is unreachable or busy "
        "(chain_unavailable, store_unavailable, store_busy), the server is not ready "
        "(index_behind, node_unavailable, relayer_degraded) or a stream limit is reached.",
    }
    return {s: {"model": ErrorBody, "description": descriptions[s]} for s in statuses}
