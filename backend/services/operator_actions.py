"""What operators may do, and doing it: the role table, privileged actions and their record.

Every privileged action runs after the API checked the session, the role (`PERMISSIONS`) and a
fresh TOTP code (step-up), and writes one `operator_actions` row in the same transaction as its
effect: who (id, username, role), what, on which target, when, from which client address, the
state before and after, and the reason given. That table is append-only, and the same record is
appended to the hash-chained audit trail (backend/services/audit_log.py) in that transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.api.errors import (
    GuardianMismatchError,
    GuardianNotAcceptedError,
    IntentNotFoundError,
    IntentNotHeldError,
    IntentNotHoldableError,
    LastAdminError,
    NotDeniedError,
    OperatorExistsError,
    OperatorNotFoundError,
    RelayerStateUnchangedError,
    VaultAlreadyPausedError,
    VaultNotFoundError,
)
from backend.chain.client import ChainClient
from backend.config import Settings
from backend.db.models import Vault
from backend.db.operator_models import (
    DenyListEntry,
    Operator,
    OperatorAction,
    RelayerControl,
)
from backend.db.relay_models import Intent
from backend.db.types import utc_aware
from backend.relayer.controls import relayer_paused
from backend.services import audit_log, operators

# Permission -> the roles that have it. Support reads; auditors read records only.
PERMISSIONS: dict[str, frozenset[str]] = {
    "operators.manage": frozenset({"admin"}),
    "relayer.pause": frozenset({"admin", "risk"}),
    "relayer.resume": frozenset({"admin"}),
    "guardian.pause": frozenset({"risk"}),
    "intents.hold": frozenset({"risk"}),
    "deny_list.edit": frozenset({"compliance"}),
    "state.read": frozenset({"admin", "risk", "compliance", "support"}),
    "records.read": frozenset({"admin", "auditor"}),
    # compliance (screening cases, KYC): decisions and evidence are the compliance role's alone
    "screening.decide": frozenset({"compliance"}),
    "kyc.attest": frozenset({"compliance"}),
    "kyc.evidence": frozenset({"compliance"}),
    "compliance.read": frozenset({"admin", "compliance", "auditor"}),
}


@dataclass(frozen=True)
class Actor:
    """The operator performing a request, as checked by the API."""

    operator: Operator
    client_address: str | None
    now: datetime


def record(
    s: Session,
    actor: Actor,
    action: str,
    target: str,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None = None,
    chain_id: int | None = None,
) -> OperatorAction:
    row = OperatorAction(
        operator_id=actor.operator.id,
        username=actor.operator.username,
        role=actor.operator.role,
        action=action,
        target=target,
        chain_id=chain_id,
        at=actor.now,
        client_address=actor.client_address,
        before=before,
        after=after,
        reason=reason,
    )
    s.add(row)
    audit_log.append(
        s,
        category="operator_action",
        actor=f"operator:{actor.operator.username}/{actor.operator.role}",
        action=action,
        subject=target if chain_id is None else f"{target}@{chain_id}",
        before=before,
        after=after,
        client=actor.client_address,
        reason=reason,
        at=actor.now,
    )
    return row


# ----------------------------------------------------------------------------- operators


def _operator(s: Session, username: str) -> Operator:
    operator = s.scalar(select(Operator).where(Operator.username == username))
    if operator is None:
        raise OperatorNotFoundError(f"no operator named {username!r}")
    return operator


def create_operator(
    s: Session, actor: Actor, *, username: str, role: str, settings: Settings
) -> tuple[Operator, str]:
    """A new operator, unusable until enrolled; (its row, the one-time enrolment token)."""
    if s.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise OperatorExistsError(f"an operator named {username!r} exists: pick another name")
    operator = Operator(
        username=username,
        role=role,
        status="enrolling",
        created_by=actor.operator.username,
        created_at=actor.now,
        updated_at=actor.now,
    )
    token = operators.new_enrolment(operator, settings, actor.now)
    s.add(operator)
    s.flush()
    record(
        s,
        actor,
        "operator.create",
        username,
        before=None,
        after={"role": role, "status": "enrolling"},
    )
    s.commit()
    return operator, token


def _active_admins(s: Session) -> int:
    return s.scalar(
        select(func.count())
        .select_from(Operator)
        .where(Operator.role == "admin", Operator.status == "active")
    )


def _keep_an_admin(s: Session, target: Operator) -> None:
    if target.role == "admin" and target.status == "active" and _active_admins(s) <= 1:
        raise LastAdminError(
            "this is the last active admin: make another admin first, so the platform keeps one"
        )


def set_role(s: Session, actor: Actor, *, username: str, role: str) -> Operator:
    target = _operator(s, username)
    if target.role != role:
        _keep_an_admin(s, target)
    before = {"role": target.role}
    target.role, target.updated_at = role, actor.now
    # A role change takes effect at once: sessions signed in under the old role end.
    operators.revoke_sessions(s, target.id, actor.now)
    record(s, actor, "operator.role", username, before=before, after={"role": role})
    s.commit()
    return target


def disable_operator(s: Session, actor: Actor, *, username: str, reason: str) -> Operator:
    target = _operator(s, username)
    _keep_an_admin(s, target)
    before = {"status": target.status}
    target.status, target.updated_at = "disabled", actor.now
    target.enrolment_token_hash = target.enrolment_expires_at = None
    operators.revoke_sessions(s, target.id, actor.now)
    record(
        s,
        actor,
        "operator.disable",
        username,
        before=before,
        after={"status": "disabled"},
        reason=reason,
    )
    s.commit()
    return target


# ----------------------------------------------------------------------------- relayer pause


def set_relayer_paused(
    s: Session, actor: Actor, *, chain_id: int, paused: bool, reason: str | None
) -> RelayerControl:
    row = s.get(RelayerControl, chain_id, with_for_update=True)
    was = bool(row is not None and row.paused)
    if was == paused:
        raise RelayerStateUnchangedError(
            f"the relayer is already {'paused' if paused else 'running'}"
        )
    if row is None:
        row = RelayerControl(chain_id=chain_id, paused=paused, changed_at=actor.now)
        s.add(row)
    row.paused, row.reason, row.changed_by, row.changed_at = (
        paused,
        reason,
        actor.operator.username,
        actor.now,
    )
    record(
        s,
        actor,
        "relayer.pause" if paused else "relayer.resume",
        f"relayer:{chain_id}",
        before={"paused": was},
        after={"paused": paused},
        reason=reason,
        chain_id=chain_id,
    )
    s.commit()
    return row


def relayer_status(s: Session, chain_id: int) -> dict[str, Any]:
    row = s.get(RelayerControl, chain_id)
    return {
        "paused": relayer_paused(s, chain_id),
        "reason": row.reason if row is not None else None,
        "changed_by": row.changed_by if row is not None else None,
        "changed_at": utc_aware(row.changed_at) if row is not None else None,
    }


# ----------------------------------------------------------------------------- intents


def _intent(s: Session, chain_id: int, digest: str) -> Intent:
    intent = s.scalar(select(Intent).where(Intent.chain_id == chain_id, Intent.digest == digest))
    if intent is None:
        raise IntentNotFoundError(f"no intent with digest {digest} on chain {chain_id}")
    return intent


def _move_intent(
    s: Session,
    actor: Actor,
    *,
    chain_id: int,
    digest: str,
    action: str,
    reason: str | None,
    where: Any,
    values: dict[str, Any],
    refused: Exception,
) -> Intent:
    """One conditional UPDATE (atomic against relayer workers claiming the intent), recorded."""
    intent = _intent(s, chain_id, digest)
    before = {"status": intent.status}
    moved = s.execute(
        update(Intent)
        .where(Intent.id == intent.id, where)
        .values(**values, updated_at=actor.now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        s.rollback()
        raise refused
    record(
        s,
        actor,
        action,
        digest,
        before=before,
        after={"status": values["status"]},
        reason=reason,
        chain_id=chain_id,
    )
    s.commit()
    s.refresh(intent)
    return intent


def hold_intent(s: Session, actor: Actor, *, chain_id: int, digest: str, reason: str) -> Intent:
    """Hold an accepted intent no worker has claimed: the relayer never plans it until released."""
    unclaimed = (Intent.claim_expires_at.is_(None)) | (Intent.claim_expires_at < actor.now)
    return _move_intent(
        s,
        actor,
        chain_id=chain_id,
        digest=digest,
        action="intent.hold",
        reason=reason,
        where=(Intent.status == "accepted") & unclaimed,
        values={"status": "held", "plan_due": False, "error": f"held by an operator: {reason}"},
        refused=IntentNotHoldableError(
            "only an accepted intent the relayer has not started on can be held; this one is "
            "planned, relaying, done or rejected already"
        ),
    )


def release_intent(s: Session, actor: Actor, *, chain_id: int, digest: str, reason: str) -> Intent:
    return _move_intent(
        s,
        actor,
        chain_id=chain_id,
        digest=digest,
        action="intent.release",
        reason=reason,
        where=Intent.status == "held",
        values={"status": "accepted", "plan_due": True, "error": None},
        refused=IntentNotHeldError("the intent is not held"),
    )


def reject_intent(s: Session, actor: Actor, *, chain_id: int, digest: str, reason: str) -> Intent:
    return _move_intent(
        s,
        actor,
        chain_id=chain_id,
        digest=digest,
        action="intent.reject",
        reason=reason,
        where=Intent.status == "held",
        values={
            "status": "rejected",
            "plan_due": False,
            "error": f"rejected by an operator: {reason}",
        },
        refused=IntentNotHeldError("only a held intent can be rejected: hold it first"),
    )


def held_intents(s: Session, chain_id: int, limit: int) -> list[Intent]:
    return list(
        s.scalars(
            select(Intent)
            .where(Intent.chain_id == chain_id, Intent.status == "held")
            .order_by(Intent.id)
            .limit(limit)
        )
    )


# ----------------------------------------------------------------------------- deny list


def deny(s: Session, actor: Actor, *, chain_id: int, address: str, reason: str) -> DenyListEntry:
    entry = s.get(DenyListEntry, (chain_id, address.lower()))
    before = {"reason": entry.reason} if entry is not None else None
    if entry is None:
        entry = DenyListEntry(chain_id=chain_id, address=address)
        s.add(entry)
    entry.reason, entry.added_by, entry.added_at = reason, actor.operator.username, actor.now
    record(
        s,
        actor,
        "deny_list.add",
        to_checksum_address(address),
        before=before,
        after={"reason": reason},
        reason=reason,
        chain_id=chain_id,
    )
    s.commit()
    return entry


def undeny(s: Session, actor: Actor, *, chain_id: int, address: str, reason: str) -> None:
    entry = s.get(DenyListEntry, (chain_id, address.lower()))
    if entry is None:
        raise NotDeniedError(f"{to_checksum_address(address)} is not on the deny list")
    before = {"reason": entry.reason}
    s.delete(entry)
    record(
        s,
        actor,
        "deny_list.remove",
        to_checksum_address(address),
        before=before,
        after=None,
        reason=reason,
        chain_id=chain_id,
    )
    s.commit()


# ----------------------------------------------------------------------------- guardian pause


def _selector(signature: str) -> str:
    return "0x" + function_signature_to_4byte_selector(signature).hex()


def _call_bool(client: ChainClient, to: str, signature: str) -> bool:
    return int(client.call(to, _selector(signature)).hex() or "0", 16) != 0


def pause_with_guardian(client: ChainClient, *, factory: str, vault: str, sender: Any) -> str:
    """Send `pause()` to `vault` from the guardian key (`sender`); the transaction hash.

    The chain is asked, not the index (which may lag): the vault must have accepted the guardian
    and the factory's guardian must be this key, else a 409 that says which. Used by operators
    (`guardian_pause`) and by the risk engine's severe verdicts (backend/risk/responder.py)."""
    if not _call_bool(client, vault, "guardianAccepted()"):
        raise GuardianNotAcceptedError(
            f"vault {vault} has not accepted the platform guardian: only its owners can pause it"
        )
    guardian = "0x" + client.call(factory, _selector("guardian()")).hex()[-40:]
    if guardian.lower() != sender.address.lower():
        raise GuardianMismatchError(
            f"the factory's guardian is {to_checksum_address(guardian)}, not the backend's "
            f"guardian key {sender.address}: the platform admin calls setGuardian, or "
            "COPYVAULT_GUARDIAN_KEY_FILE names the wrong key"
        )
    if _call_bool(client, vault, "paused()"):
        raise VaultAlreadyPausedError(f"vault {vault} is already paused")
    receipt = sender.send(vault, _selector("pause()"))
    return receipt["transactionHash"]


def guardian_pause(
    s: Session,
    actor: Actor,
    *,
    chain_id: int,
    factory: str,
    vault: str,
    reason: str,
    client: ChainClient,
    sender: Any,
) -> str:
    """Pause `vault` with the backend's guardian key (`sender`); the transaction hash (see
    `pause_with_guardian`)."""
    if s.get(Vault, (chain_id, vault.lower())) is None:
        raise VaultNotFoundError(f"no vault {vault} on chain {chain_id} is known to the index")
    tx_hash = pause_with_guardian(client, factory=factory, vault=vault, sender=sender)
    s.commit()  # the reads' transaction ends: the record is written in a fresh one
    record(
        s,
        actor,
        "guardian.pause",
        to_checksum_address(vault),
        before={"paused": False},
        after={"paused": True, "tx_hash": tx_hash},
        reason=reason,
        chain_id=chain_id,
    )
    s.commit()
    return tx_hash


# ----------------------------------------------------------------------------- records


def actions(s: Session, *, limit: int, before_id: int | None) -> list[OperatorAction]:
    query = select(OperatorAction).order_by(OperatorAction.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(OperatorAction.id < before_id)
    return list(s.scalars(query))
