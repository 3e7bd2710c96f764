"""Request and response bodies of /v1/auth (sign-in, sessions, API keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from backend.api.schemas import Address, Hash, Model, SignatureIn
from backend.services.auth import MAX_KEY_NAME_CHARS, MAX_MESSAGE_CHARS

# Public ids of sessions and keys: 16 lowercase hex digits.
PUBLIC_ID_PATTERN = "^[0-9a-f]{16}$"
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]


class NonceOut(Model):
    nonce: str = Field(description="Put it in the sign-in message's `Nonce:` line; used once.")
    expires_at: datetime


class SignInIn(Model):
    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description="The EIP-4361 message, exactly as signed (personal_sign).",
    )
    signature: SignatureIn
    bearer: bool = Field(
        False,
        description=(
            "true: answer the session token in the body (for scripts) and set no cookie. "
            "false: set the HttpOnly cookie only (web app)."
        ),
    )


class SessionOut(Model):
    session_id: str
    address: Address
    method: Literal["ecdsa", "eip1271"]
    created_at: datetime
    expires_at: datetime
    current: bool = Field(description="The session this request was made with.")


class SignedInOut(SessionOut):
    token: str | None = Field(
        description="`cvs_...` for `Authorization: Bearer` (only when `bearer` was true)."
    )


class SessionListOut(Model):
    items: list[SessionOut]


class DelegationOut(Model):
    leader: Address
    expiry: int = Field(description="Unix seconds the delegation ends.")


class MeOut(Model):
    address: Address
    session_id: str
    expires_at: datetime
    owner_of: list[Address] = Field(description="Vaults this address is an owner of.")
    leader: bool = Field(description="Registered as a leader in the LeaderRegistry.")
    followed_by: list[Address] = Field(description="Vaults that follow this address as leader.")
    delegate_of: list[DelegationOut] = Field(description="Leaders it is a live delegate of.")


class ApiKeyIn(Model):
    name: str = Field(min_length=1, max_length=MAX_KEY_NAME_CHARS, pattern=r"^[\x20-\x7e]+$")
    expires_in_days: int = Field(ge=1, le=3_660, description="Bounded by the server's setting.")
    rate_per_minute: int = Field(ge=1, le=1_000_000, description="Bounded by the server's setting.")


class ApiKeyOut(Model):
    id: str
    name: str
    leader: Address
    rate_per_minute: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="`cvk_<id>_<secret>`: shown this once, stored only hashed.")


class ApiKeyListOut(Model):
    items: list[ApiKeyOut]


class ApiKeyUseOut(Model):
    at: datetime
    method: str
    route: str
    status: int
    client: str | None
    intent_digest: Hash | None


class ApiKeyUseListOut(Model):
    items: list[ApiKeyUseOut]
