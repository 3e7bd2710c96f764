"""Request and response bodies of the operator endpoints (backend/api/routes/operators.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from backend.api.schemas import Address, Hash, Model

Role = Literal["admin", "risk", "compliance", "support", "auditor"]
Username = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$")
Password = Field(min_length=1, max_length=1_024)
Code = Field(min_length=1, max_length=16, description="The 6 digits the authenticator shows.")
Reason = Field(
    min_length=1, max_length=500, description="Why: kept in the operator-actions record."
)


class SignInIn(Model):
    username: str = Username
    password: str = Password
    totp: str = Code


class OperatorOut(Model):
    username: str
    role: Role
    status: Literal["enrolling", "active", "disabled"]
    created_by: str | None
    created_at: datetime


class SignInOut(Model):
    token: str = Field(description="Bearer token `cvo_...` (also set as the cvo_session cookie).")
    expires_at: datetime
    operator: OperatorOut
    new_device: bool = Field(description="First successful sign-in from this device.")
    device_id: str = Field(
        description="Send it back in X-Copyvault-Device (scripts) or keep the cvo_device cookie."
    )


class SignInRecordOut(Model):
    username: str
    at: datetime
    client_address: str | None
    device: str | None
    success: bool
    failure: str | None
    new_device: bool


class EnrolIn(Model):
    token: str = Field(min_length=1, max_length=128, description="The one-time enrolment token.")
    password: str = Password


class EnrolOut(Model):
    provisioning_uri: str = Field(description="otpauth:// URI for the authenticator app.")


class EnrolConfirmIn(Model):
    token: str = Field(min_length=1, max_length=128)
    totp: str = Code


class CreateOperatorIn(Model):
    username: str = Username
    role: Role


class CreatedOperatorOut(Model):
    operator: OperatorOut
    enrolment_token: str = Field(description="Shown once: give it to the new operator.")
    enrolment_expires_at: datetime


class RoleIn(Model):
    role: Role


class ReasonIn(Model):
    reason: str = Reason


class RelayerStatusOut(Model):
    paused: bool
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None


class RiskFeatureOut(Model):
    """One signal the risk engine scored (docs/risk.md): its measured value, its points, and why."""

    name: str
    value: float
    points: int
    why: str


class HeldIntentOut(Model):
    digest: Hash
    status: str
    leader: Address
    error: str | None
    risk_score: int | None = Field(
        None, description="The risk engine's score, 0-100 (null when it was off at intake)."
    )
    risk_features: list[RiskFeatureOut] = Field(
        default_factory=list, description="The features that drove the score, highest first."
    )


class GuardianPauseOut(Model):
    vault: Address
    tx_hash: Hash


class DenyEntryOut(Model):
    address: Address
    reason: str
    added_by: str
    added_at: datetime


class ActionOut(Model):
    id: int
    username: str
    role: str
    action: str
    target: str
    chain_id: int | None
    at: datetime
    client_address: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
