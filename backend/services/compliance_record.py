"""Compliance's two records of one decision: the operators' record (`operator_actions`) and the
hash-chained audit trail (`audit_log`, category `compliance`), written in the caller's
transaction so that the decision and its records commit together.

Neither record ever holds KYC evidence or a name: decisions are named by case or attestation id,
status and the (public, on-chain) address they concern.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.services import audit_log
from backend.services.operator_actions import Actor, record


def operator_decision(
    s: Session,
    actor: Actor,
    action: str,
    subject: str,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    chain_id: int,
    reason: str | None = None,
) -> None:
    """Record what compliance operator `actor` did to `subject` (an address or case)."""
    record(s, actor, action, subject, before=before, after=after, reason=reason, chain_id=chain_id)
    audit_log.append(
        s,
        category="compliance",
        actor=f"operator:{actor.operator.username}",
        action=action,
        subject=subject,
        before=before,
        after={"chain_id": chain_id, **(after or {})},
        client=actor.client_address,
        reason=reason,
        at=actor.now,
    )


def system_event(
    s: Session, action: str, subject: str | None, *, after: dict[str, Any], at, actor: str
) -> None:
    """Record what compliance's own jobs did (`actor` such as system:screening)."""
    audit_log.append(
        s, category="compliance", actor=actor, action=action, subject=subject, after=after, at=at
    )
