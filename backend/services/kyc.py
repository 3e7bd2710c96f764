"""KYC attestations: a compliance operator's decision on a leader, with the evidence encrypted.

- A decision is `verified`, `rejected` or `revoked`; the newest attestation of a leader on a chain
  is its status. `verified` may carry an expiry; a verified leader past it is not verified.
- The evidence (what was checked: names, documents, references, as a JSON object) is sealed in an
  AES-256-GCM envelope (backend/security/encryption.py, COPYVAULT_SECRETS_KEY) bound to the
  purpose `kyc-evidence` and the leader's address; only a compliance operator with a fresh TOTP
  code opens it, and each opening is recorded in the operators' record.
- Retention: `purge_evidence` deletes evidence recorded more than
  COPYVAULT_KYC_EVIDENCE_RETENTION_DAYS ago (the envelope becomes NULL, the decision stays).
- Personal data never reaches a log line, a metric, an error message or the operators' record:
  they name the attestation by id and status only.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import null, select, update
from sqlalchemy.orm import Session

from backend.api.errors import KycEvidencePurgedError, KycNotFoundError
from backend.config import Settings
from backend.db.compliance_models import KycAttestation
from backend.db.types import utc_aware
from backend.security.encryption import decrypt, encrypt, required_secrets_key
from backend.services import compliance_record
from backend.services.operator_actions import Actor

log = logging.getLogger(__name__)

EVIDENCE_PURPOSE = "kyc-evidence"


def _secrets_key(settings: Settings) -> bytes:
    return required_secrets_key(settings.secrets_key, "KYC evidence")


def seal_evidence(evidence: dict[str, Any], address: str, settings: Settings) -> dict[str, Any]:
    plaintext = json.dumps(evidence, sort_keys=True).encode()
    context = {"address": address.lower()}
    return encrypt(plaintext, _secrets_key(settings), purpose=EVIDENCE_PURPOSE, context=context)


def open_evidence(envelope: dict[str, Any], settings: Settings) -> dict[str, Any]:
    key = _secrets_key(settings)
    plaintext = decrypt(envelope, key, purpose=EVIDENCE_PURPOSE, context_fields=("address",))
    return json.loads(plaintext)


def attest(
    s: Session,
    actor: Actor,
    *,
    chain_id: int,
    address: str,
    status: str,
    evidence: dict[str, Any] | None,
    expires_at: datetime | None,
    settings: Settings,
) -> KycAttestation:
    """Record a decision on `address` (newest wins) with its evidence sealed."""
    row = KycAttestation(
        chain_id=chain_id,
        address=address.lower(),
        status=status,
        recorded_by=actor.operator.username,
        recorded_at=actor.now,
        expires_at=expires_at,
    )
    if evidence:  # else the column stays SQL NULL (not JSON null)
        row.evidence = seal_evidence(evidence, address, settings)
    s.add(row)
    s.flush()
    compliance_record.operator_decision(
        s,
        actor,
        "kyc.attest",
        to_checksum_address(address),
        before=None,
        after={"attestation": row.id, "status": status, "documented": evidence is not None},
        chain_id=chain_id,
    )
    s.commit()
    log.info("kyc: attestation %d recorded (%s)", row.id, status)
    return row


def current(s: Session, *, chain_id: int, address: str) -> KycAttestation | None:
    """The newest attestation of `address` on `chain_id`, if any."""
    return s.scalar(
        select(KycAttestation)
        .where(KycAttestation.chain_id == chain_id, KycAttestation.address == address.lower())
        .order_by(KycAttestation.id.desc())
        .limit(1)
    )


def is_verified(row: KycAttestation | None, now: datetime) -> bool:
    if row is None or row.status != "verified":
        return False
    return row.expires_at is None or utc_aware(row.expires_at) > now


def verified_leader(s: Session, *, chain_id: int, address: str, now: datetime) -> bool:
    return is_verified(current(s, chain_id=chain_id, address=address), now)


def read_evidence(
    s: Session, actor: Actor, *, chain_id: int, attestation_id: int, settings: Settings
) -> dict[str, Any]:
    """The decrypted evidence of one attestation; the reading is recorded (who, when)."""
    row = s.get(KycAttestation, attestation_id)
    if row is None or row.chain_id != chain_id:
        raise KycNotFoundError(f"no KYC attestation {attestation_id} on chain {chain_id}")
    if row.evidence is None:
        raise KycEvidencePurgedError(
            f"attestation {attestation_id} has no evidence: it was purged at the end of its "
            "retention period or none was recorded"
        )
    evidence = open_evidence(row.evidence, settings)
    compliance_record.operator_decision(
        s,
        actor,
        "kyc.evidence_read",
        to_checksum_address(row.address),
        before=None,
        after={"attestation": attestation_id},
        chain_id=chain_id,
    )
    s.commit()
    return evidence


def purge_evidence(s: Session, *, now: datetime, retention_days: int) -> int:
    """Delete the evidence of attestations recorded more than `retention_days` ago; how many."""
    cutoff = now - timedelta(days=retention_days)
    result = s.execute(
        update(KycAttestation)
        .where(KycAttestation.recorded_at < cutoff, KycAttestation.evidence.is_not(None))
        .values(evidence=null(), evidence_purged_at=now)
        .execution_options(synchronize_session=False)
    )
    purged = result.rowcount or 0
    if purged:
        compliance_record.system_event(
            s,
            "kyc.evidence_purged",
            None,
            after={"attestations": purged, "retention_days": retention_days},
            at=now,
            actor="system:retention",
        )
    s.commit()
    if purged:
        log.info(
            "kyc: evidence of %d attestations purged (retention %d days)", purged, retention_days
        )
    return purged
