"""Request and response bodies of the compliance endpoints (backend/api/routes/compliance.py).

KYC evidence is a small JSON object (what was checked); it is validated for size only, and no
validation message quotes it, so a refused body never echoes personal data back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from backend.api.schemas import Address, Model

MAX_EVIDENCE_BYTES = 16_384
MAX_EVIDENCE_KEYS = 64

CaseStatus = Literal["open", "cleared", "confirmed"]
KycStatus = Literal["verified", "rejected", "revoked"]


class ScreeningCaseOut(Model):
    id: int
    address: Address
    subject: Literal["depositor", "owner", "leader"]
    sources: list[Literal["sanctions_list", "oracle"]]
    vault: Address | None = Field(description="Where the address was seen (deposits, owners).")
    block_number: int = Field(description="The block of the deposit, creation or registration.")
    list_uid: str | None = Field(description="The sanctions list entry's uid (list matches).")
    status: CaseStatus
    opened_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class KycIn(Model):
    status: KycStatus
    evidence: dict[str, Any] | None = Field(
        None,
        description=(
            "What was checked (names, documents, references), as one JSON object of at most "
            f"{MAX_EVIDENCE_BYTES} bytes: stored encrypted (AES-256-GCM), never returned by "
            "this endpoint."
        ),
    )
    expires_at: datetime | None = Field(
        None, description="When a `verified` attestation stops counting (none: it does not)."
    )

    @field_validator("evidence")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if len(value) > MAX_EVIDENCE_KEYS or len(json.dumps(value)) > MAX_EVIDENCE_BYTES:
            raise ValueError(
                f"evidence is at most {MAX_EVIDENCE_KEYS} fields and {MAX_EVIDENCE_BYTES} bytes "
                "of JSON: keep documents elsewhere and record their references"
            )
        return value

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2027-01-01T00:00:00Z")
        return value


class KycOut(Model):
    id: int
    address: Address
    status: KycStatus
    verified: bool = Field(description="Whether intake counts this leader as verified now.")
    recorded_by: str
    recorded_at: datetime
    expires_at: datetime | None
    has_evidence: bool
    evidence_purged_at: datetime | None


class KycEvidenceOut(Model):
    id: int
    evidence: dict[str, Any]
