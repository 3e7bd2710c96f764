"""Identity: Sign-in with Ethereum (EIP-4361), sessions and leader API keys.

Sign-in. `issue_nonce` stores a random nonce (single use, `siwe_nonce_seconds`). `sign_in` parses
the message with the `siwe` package, requires its canonical form, and checks, in this order: the
domain (`siwe_domain`), the URI's origin (`siwe_uri_origins`), the chain id (the deployment's),
issued-at / not-before / expiration against the server's clock, the nonce (issued here, unused,
unexpired, not after the message's issued-at), and the signature over the EIP-191 hash of the
message text with the verifier the proposals use (`backend.services.signatures.verify_signature`:
ECDSA, else EIP-1271 for a contract wallet). Only then is the nonce consumed, by one conditional
UPDATE in the transaction that creates the session: of two sign-ins racing with one nonce exactly
one changes the row, the other gets `siwe_nonce_used`.

Sessions and keys. A session token is `cvs_<43 url-safe characters>`, a key `cvk_<id>_<secret>`;
both secrets are 32 bytes from `secrets`. Only SHA-256 of a secret is stored
(`backend.security.tokens` says why that suffices).
"""

from __future__ import annotations

import hmac
import secrets
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from eth_account.messages import defunct_hash_message
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from backend.api.errors import (
    ApiKeyAuthError,
    ApiKeyNotFoundError,
    ApiKeyTermsError,
    InvalidSignatureError,
    MalformedSignatureError,
    NotALeaderError,
    SessionNotFoundError,
    SignInError,
    SiweMalformedError,
    TooManyApiKeysError,
    UnauthenticatedError,
)
from backend.api.schemas import checksum
from backend.chain.client import ChainClient
from backend.db.auth_models import ApiKey, ApiKeyUse, AuthNonce, AuthSession
from backend.db.engine import write_transaction
from backend.db.models import Leader, LeaderDelegate, Vault, VaultOwner
from backend.db.types import utc_aware
from backend.security.tokens import sha256_hex
from backend.services import audit_log
from backend.services.signatures import Method, Wording, verify_signature

if TYPE_CHECKING:
    from siwe import SiweMessage

SESSION_PREFIX: Final = "cvs_"
KEY_PREFIX: Final = "cvk_"
SECRET_BYTES: Final = 32
# Sign-in messages are a few hundred characters; the bound keeps parsing cheap for any input.
MAX_MESSAGE_CHARS: Final = 2_048
MAX_KEY_NAME_CHARS: Final = 64

SIGN_IN_WORDING: Final = Wording(
    contract_subject="the EIP-191 hash of this sign-in message",
    contract_remedy="sign the message text (personal_sign) with the contract wallet",
    malformed_remedy="sign the message text with personal_sign, which yields 65 bytes",
    mismatch_remedy="sign exactly this message text (personal_sign) with the key of the address "
    "it names",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return secrets.token_hex(8)


# ----------------------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class SignInContext:
    chain_id: int
    domain: str
    origins: frozenset[str]  # lowercase scheme://host[:port]
    nonce_seconds: int
    skew_seconds: int
    session_seconds: int
    client: ChainClient  # EIP-1271 wallets


def allowed_origins(domain: str, configured: Sequence[str]) -> frozenset[str]:
    if configured:
        return frozenset(origin.rstrip("/").lower() for origin in configured)
    return frozenset({f"https://{domain}".lower()})


def issue_nonce(engine: Engine, *, seconds: int) -> tuple[str, datetime]:
    """A fresh nonce valid for `seconds`; expired nonces are removed on the way (bounded table)."""
    now = utcnow()
    nonce = secrets.token_hex(16)  # 32 alphanumerics: EIP-4361 asks for at least 8
    expires = now + timedelta(seconds=seconds)
    with write_transaction(engine) as conn:
        conn.execute(delete(AuthNonce).where(AuthNonce.expires_at < now))
        conn.execute(insert(AuthNonce).values(nonce=nonce, created_at=now, expires_at=expires))
    return nonce, expires


@cache
def _siwe_message() -> type[SiweMessage]:
    """siwe's message class, imported on first use: importing it compiles its grammars (0.4 s),
    which no command but the API needs."""
    with warnings.catch_warnings():
        # abnf warns that siwe's grammar redefines RFC 5234's core rules (its own copies).
        warnings.simplefilter("ignore")
        from siwe import SiweMessage

    return SiweMessage


def _parse(message: str, domain: str) -> SiweMessage:
    """The message by siwe's EIP-4361 parser, in its canonical form only.

    siwe's regular-expression parser (the EIP's own expression) rather than its ABNF one: the ABNF
    parser took 12 s of CPU for 4 KB of garbage here, a denial of service per request; the
    expression answers in milliseconds. Re-serialising and comparing then refuses any text that
    is not exactly what siwe would produce from the parsed fields (so what was signed is what was
    checked)."""
    if len(message) > MAX_MESSAGE_CHARS:
        raise SiweMalformedError(
            f"the sign-in message is longer than {MAX_MESSAGE_CHARS} characters"
        )
    try:
        parsed = _siwe_message().from_message(message, abnf=False)
        canonical = parsed.prepare_message()
    except (ValueError, TypeError, RecursionError) as exc:
        detail = str(exc).strip().splitlines()
        why = f" ({detail[0][:200]})" if detail else ""
        raise SiweMalformedError(
            f"the message is not an EIP-4361 sign-in message{why}: build it with a SIWE library "
            f"for the domain {domain}, with the nonce from POST /v1/auth/nonce"
        ) from None
    if canonical != message:
        raise SiweMalformedError(
            "the message is not in EIP-4361's canonical form (line breaks, spacing or field "
            "order differ): sign the message exactly as a SIWE library prepares it"
        )
    return parsed


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _check_fields(ctx: SignInContext, msg: SiweMessage, now: datetime) -> None:
    if msg.domain != ctx.domain:
        raise SignInError(
            "siwe_domain_mismatch",
            f"the message is for the domain {msg.domain!r}, not this server's {ctx.domain!r}: "
            "sign in from this server's web app",
        )
    if msg.scheme is not None and f"{msg.scheme}://{msg.domain}".lower() not in ctx.origins:
        raise SignInError(
            "siwe_domain_mismatch",
            f"the message's scheme {msg.scheme!r} with its domain is not an allowed origin",
        )
    if _origin(msg.uri) not in ctx.origins:
        raise SignInError(
            "siwe_uri_not_allowed",
            f"the message's URI {msg.uri!r} is not on an allowed origin "
            f"({', '.join(sorted(ctx.origins))})",
        )
    if msg.chain_id != ctx.chain_id:
        raise SignInError(
            "siwe_chain_mismatch",
            f"the message is for chain {msg.chain_id}, this deployment is on chain "
            f"{ctx.chain_id}: switch the wallet's network and sign again",
        )
    skew = timedelta(seconds=ctx.skew_seconds)
    issued = msg.issued_at._datetime
    if issued > now + skew or issued < now - timedelta(seconds=ctx.nonce_seconds) - skew:
        raise SignInError(
            "siwe_issued_at",
            f"the message was issued at {msg.issued_at}, not within the last "
            f"{ctx.nonce_seconds}s of the server's clock ({now.isoformat()}): sign a new message",
        )
    if msg.expiration_time is not None and msg.expiration_time._datetime <= now:
        raise SignInError(
            "siwe_expired",
            f"the message expired at {msg.expiration_time}: sign a new message",
        )
    if msg.not_before is not None and msg.not_before._datetime > now + skew:
        raise SignInError(
            "siwe_not_yet_valid",
            f"the message is not valid before {msg.not_before}: sign one valid now",
        )


def _check_nonce(session: Session, ctx: SignInContext, msg: SiweMessage, now: datetime) -> None:
    row = session.get(AuthNonce, msg.nonce)
    if row is None or utc_aware(row.expires_at) <= now:
        raise SignInError(
            "siwe_nonce_unknown",
            "the message's nonce was not issued by this server or has expired: get a new one "
            "from POST /v1/auth/nonce and sign again",
        )
    issued_from = utc_aware(row.created_at) - timedelta(seconds=ctx.skew_seconds)
    if msg.issued_at._datetime < issued_from:
        raise SignInError(
            "siwe_issued_at",
            f"the message says it was issued at {msg.issued_at}, before its nonce was "
            f"({utc_aware(row.created_at).isoformat()}): sign a new message with this nonce",
        )
    if row.used_at is not None:
        raise SignInError(
            "siwe_nonce_used",
            "the message's nonce was already used to sign in (a replay): get a new nonce",
        )


def _verify(ctx: SignInContext, message: str, address: str, signature: str) -> Method:
    digest = bytes(defunct_hash_message(text=message))  # EIP-191: what personal_sign signs
    try:
        raw = bytes.fromhex(signature[2:])
        return verify_signature(
            client=ctx.client,
            digest=digest,
            signer=address.lower(),
            signature=raw,
            wording=SIGN_IN_WORDING,
        )
    except (InvalidSignatureError, MalformedSignatureError) as exc:
        raise SignInError("siwe_signature_invalid", exc.message) from None


@dataclass(frozen=True)
class NewSession:
    id: str
    token: str
    address: str  # lowercase
    method: Method
    created_at: datetime
    expires_at: datetime


def sign_in(
    engine: Engine,
    session: Session,
    *,
    ctx: SignInContext,
    message: str,
    signature: str,
    client_address: str | None = None,
) -> NewSession:
    """A new session for the message's address, or the SignInError of the first failed check.
    Either way the attempt lands in the audit trail (who, from where, which check failed)."""
    now = utcnow()
    address = None
    try:
        parsed = _parse(message, ctx.domain)
        address = parsed.address.lower()
        _check_fields(ctx, parsed, now)
        _check_nonce(session, ctx, parsed, now)
        session.rollback()  # no read connection held while the node is asked (EIP-1271)
        method = _verify(ctx, message, parsed.address, signature)
        return _open_session(engine, ctx, parsed, method, now, client_address)
    except (SignInError, SiweMalformedError) as refused:
        session.rollback()
        with write_transaction(engine) as conn:
            _audit_sign_in(conn, ctx, address, client_address, now, failure=refused.code)
        raise


def _audit_sign_in(
    conn: Connection,
    ctx: SignInContext,
    address: str | None,
    client_address: str | None,
    now: datetime,
    *,
    failure: str | None,
) -> None:
    audit_log.append(
        conn,
        category="sign_in",
        actor=f"wallet:{address or '(unparsed message)'}",
        action="siwe.sign_in" if failure is None else "siwe.sign_in_failed",
        subject=f"chain:{ctx.chain_id}",
        client=client_address,
        after={"success": failure is None, "failure": failure},
        at=now,
    )


def _open_session(
    engine: Engine,
    ctx: SignInContext,
    parsed: SiweMessage,
    method: Method,
    now: datetime,
    client_address: str | None,
) -> NewSession:
    token = SESSION_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    new = NewSession(
        id=_new_id(),
        token=token,
        address=parsed.address.lower(),
        method=method,
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.session_seconds),
    )
    with write_transaction(engine) as conn:
        consumed = conn.execute(
            update(AuthNonce)
            .where(
                AuthNonce.nonce == parsed.nonce,
                AuthNonce.used_at.is_(None),
                AuthNonce.expires_at > now,
            )
            .values(used_at=now)
        ).rowcount
        if consumed != 1:  # another sign-in took it since the check: exactly one wins
            raise SignInError(
                "siwe_nonce_used",
                "the message's nonce was already used to sign in (a replay): get a new nonce",
            )
        # Expired sessions are of no use to anyone: removed here so the table stays bounded.
        conn.execute(delete(AuthSession).where(AuthSession.expires_at < now))
        conn.execute(
            insert(AuthSession).values(
                id=new.id,
                chain_id=ctx.chain_id,
                address=new.address,
                token_hash=sha256_hex(token),
                method=method,
                created_at=now,
                expires_at=new.expires_at,
            )
        )
        _audit_sign_in(conn, ctx, new.address, client_address, now, failure=None)
    return new


# ----------------------------------------------------------------------------- sessions


def _revoke(engine: Engine, model: type[AuthSession] | type[ApiKey], *where: Any) -> bool:
    """Set `revoked_at` on the one unrevoked row `where` selects; whether there was one."""
    with write_transaction(engine) as conn:
        changed = conn.execute(
            update(model).where(*where, model.revoked_at.is_(None)).values(revoked_at=utcnow())
        ).rowcount
    return changed == 1


def authenticate_session(session: Session, *, chain_id: int, token: str) -> AuthSession:
    """The live session of `token`, or a 401 whose code says why not."""
    row = session.scalar(
        select(AuthSession).where(
            AuthSession.token_hash == sha256_hex(token), AuthSession.chain_id == chain_id
        )
    )
    if row is None:
        raise UnauthenticatedError(
            "session_invalid", "the session token is not known here: sign in again"
        )
    if row.revoked_at is not None:
        raise UnauthenticatedError(
            "session_revoked", "the session was revoked (logged out): sign in again"
        )
    if utc_aware(row.expires_at) <= utcnow():
        raise UnauthenticatedError("session_expired", "the session has expired: sign in again")
    return row


def list_sessions(session: Session, *, chain_id: int, address: str) -> list[AuthSession]:
    """The address's live sessions, newest first."""
    return list(
        session.scalars(
            select(AuthSession)
            .where(
                AuthSession.chain_id == chain_id,
                AuthSession.address == address,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > utcnow(),
            )
            .order_by(AuthSession.created_at.desc(), AuthSession.id)
        )
    )


def revoke_session(engine: Engine, *, chain_id: int, address: str, session_id: str) -> None:
    """Revoke one of `address`'s sessions (another address's session is "not found")."""
    if not _revoke(
        engine,
        AuthSession,
        AuthSession.id == session_id,
        AuthSession.chain_id == chain_id,
        AuthSession.address == address,
    ):
        raise SessionNotFoundError(
            f"no live session {session_id!r} of this address: GET /v1/auth/sessions lists them"
        )


# ----------------------------------------------------------------------------- who am I


@dataclass(frozen=True)
class Identity:
    owner_of: list[str]
    leader_registered: bool
    leader_of_vaults: list[str]
    delegate_of: list[tuple[str, int]]  # (leader, expiry) with expiry ahead of `now`


def identity(session: Session, *, chain_id: int, address: str, now: int) -> Identity:
    """What the index says `address` is: owner of which vaults, leader, delegate of whom."""
    owner_of = session.scalars(
        select(VaultOwner.vault)
        .where(VaultOwner.chain_id == chain_id, VaultOwner.owner == address)
        .order_by(VaultOwner.vault)
    ).all()
    registered = session.get(Leader, (chain_id, address)) is not None
    following = session.scalars(
        select(Vault.address)
        .where(Vault.chain_id == chain_id, Vault.leader == address)
        .order_by(Vault.address)
    ).all()
    delegate_of = session.execute(
        select(LeaderDelegate.leader, LeaderDelegate.expiry)
        .where(
            LeaderDelegate.chain_id == chain_id,
            LeaderDelegate.delegate == address,
            LeaderDelegate.expiry > now,
        )
        .order_by(LeaderDelegate.leader)
    ).all()
    return Identity(
        owner_of=list(owner_of),
        leader_registered=registered,
        leader_of_vaults=list(following),
        delegate_of=[(leader, int(expiry)) for leader, expiry in delegate_of],
    )


def is_leader_or_live_delegate(
    session: Session, *, chain_id: int, address: str, leader: str, now: int
) -> bool:
    if address == leader:
        return True
    expiry = session.scalar(
        select(LeaderDelegate.expiry).where(
            LeaderDelegate.chain_id == chain_id,
            LeaderDelegate.leader == leader,
            LeaderDelegate.delegate == address,
        )
    )
    return expiry is not None and expiry > now


# ----------------------------------------------------------------------------- API keys


@dataclass(frozen=True)
class KeyLimits:
    max_days: int
    max_rate_per_minute: int
    max_per_leader: int


@dataclass(frozen=True)
class NewKey:
    row: ApiKey
    key: str  # cvk_<id>_<secret>: shown once


def create_key(
    engine: Engine,
    session: Session,
    *,
    chain_id: int,
    leader: str,
    name: str,
    expires_in_days: int,
    rate_per_minute: int,
    limits: KeyLimits,
) -> NewKey:
    """A new key for `leader` (registered in the index), or the error of the broken rule."""
    if session.get(Leader, (chain_id, leader)) is None:
        raise NotALeaderError(
            f"{checksum(leader)} is not a registered leader in the index: register in the "
            "LeaderRegistry first (API keys submit a leader's own intents)"
        )
    if not 1 <= expires_in_days <= limits.max_days:
        raise ApiKeyTermsError(
            f"expires_in_days {expires_in_days} is outside 1..{limits.max_days} (the server's "
            "longest key lifetime)"
        )
    if not 1 <= rate_per_minute <= limits.max_rate_per_minute:
        raise ApiKeyTermsError(
            f"rate_per_minute {rate_per_minute} is outside 1..{limits.max_rate_per_minute}"
        )
    session.rollback()
    now = utcnow()
    key_id, secret = _new_id(), secrets.token_urlsafe(SECRET_BYTES)
    row = ApiKey(
        id=key_id,
        chain_id=chain_id,
        leader=leader,
        name=name,
        secret_hash=sha256_hex(secret),
        rate_per_minute=rate_per_minute,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days),
        revoked_at=None,
    )
    with write_transaction(engine) as conn:
        live = conn.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(
                ApiKey.chain_id == chain_id,
                ApiKey.leader == leader,
                ApiKey.revoked_at.is_(None),
                ApiKey.expires_at > now,
            )
        )
        if (live or 0) >= limits.max_per_leader:
            raise TooManyApiKeysError(
                f"{checksum(leader)} has {live} live API keys, the most allowed: revoke one first"
            )
        conn.execute(
            insert(ApiKey).values(
                {c.key: getattr(row, c.key) for c in ApiKey.__table__.columns}  # type: ignore[attr-defined]
            )
        )
    return NewKey(row=row, key=f"{KEY_PREFIX}{key_id}_{secret}")


def list_keys(session: Session, *, chain_id: int, leader: str) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.chain_id == chain_id, ApiKey.leader == leader)
            .order_by(ApiKey.created_at.desc(), ApiKey.id)
        )
    )


def get_key(session: Session, *, chain_id: int, leader: str, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or row.chain_id != chain_id or row.leader != leader:
        raise ApiKeyNotFoundError(
            f"no API key {key_id!r} of this leader: GET /v1/auth/keys lists them"
        )
    return row


def revoke_key(engine: Engine, *, chain_id: int, leader: str, key_id: str) -> None:
    if not _revoke(
        engine, ApiKey, ApiKey.id == key_id, ApiKey.chain_id == chain_id, ApiKey.leader == leader
    ):
        raise ApiKeyNotFoundError(
            f"no unrevoked API key {key_id!r} of this leader: GET /v1/auth/keys lists them"
        )


def key_uses(session: Session, *, key_id: str, limit: int) -> list[ApiKeyUse]:
    return list(
        session.scalars(
            select(ApiKeyUse)
            .where(ApiKeyUse.key_id == key_id)
            .order_by(ApiKeyUse.id.desc())
            .limit(limit)
        )
    )


KeyCheck = Literal["ok", "invalid", "expired", "revoked"]


def split_key(token: str) -> tuple[str, str] | None:
    """(id, secret) of a `cvk_<id>_<secret>` token, or None when it has another shape."""
    if not token.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = token[len(KEY_PREFIX) :].partition("_")
    if not sep or not key_id or not secret or len(key_id) > 32 or len(secret) > 128:
        return None
    return key_id, secret


def check_key(session: Session, *, chain_id: int, token: str) -> tuple[ApiKey | None, KeyCheck]:
    """The key a token names (None if no such key) and whether it may be used now."""
    parts = split_key(token)
    if parts is None:
        return None, "invalid"
    key_id, secret = parts
    row = session.get(ApiKey, key_id)
    if row is None or row.chain_id != chain_id:
        return None, "invalid"
    if not hmac.compare_digest(row.secret_hash, sha256_hex(secret)):
        return row, "invalid"
    if row.revoked_at is not None:
        return row, "revoked"
    if utc_aware(row.expires_at) <= utcnow():
        return row, "expired"
    return row, "ok"


def key_refusal(check: KeyCheck) -> ApiKeyAuthError:
    if check == "revoked":
        return ApiKeyAuthError("api_key_revoked", "the API key was revoked: create a new one")
    if check == "expired":
        return ApiKeyAuthError("api_key_expired", "the API key has expired: create a new one")
    return ApiKeyAuthError(
        "api_key_invalid", "the API key is not known here or its secret is wrong"
    )


def record_key_use(
    engine: Engine,
    *,
    key_id: str,
    method: str,
    route: str,
    status: int,
    client: str | None,
    intent_digest: str | None,
) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            insert(ApiKeyUse).values(
                key_id=key_id,
                at=utcnow(),
                method=method[:8],
                route=route[:200],
                status=status,
                client=None if client is None else client[:64],
                intent_digest=intent_digest,
            )
        )
