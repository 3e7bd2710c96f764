"""The per-vault signal: a withdrawal proposed to a recipient the vault has never dealt with.

A withdrawal needs the owners' threshold, and the backend cannot and must not stop one; what it can
do is say, the moment it is proposed, that the recipient is neither an owner nor an address the
vault ever received a deposit from or paid before (from the index). The responder checks each new
withdrawal proposal in its thread and appends a `withdrawal.flag` decision to the audit trail, for
the risk operator and the co-owners who have not signed yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import VaultOwner, VaultTransfer
from backend.risk.engine import Assessment, Feature

NEW_RECIPIENT_POINTS = 50


@dataclass(frozen=True)
class ProposedWithdrawal:
    chain_id: int
    digest: str
    vault: str
    recipient: str
    token: str
    amount: int


def _known(session: Session, w: ProposedWithdrawal) -> bool:
    recipient = w.recipient.lower()
    owner = select(VaultOwner.owner).where(
        VaultOwner.chain_id == w.chain_id,
        VaultOwner.vault == w.vault.lower(),
        VaultOwner.owner == recipient,
    )
    dealt = select(VaultTransfer.account).where(
        VaultTransfer.chain_id == w.chain_id,
        VaultTransfer.vault == w.vault.lower(),
        VaultTransfer.account == recipient,
    )
    return session.execute(owner.union_all(dealt).limit(1)).first() is not None


def assess_withdrawal(session: Session, w: ProposedWithdrawal) -> Assessment | None:
    """A `flag` assessment when the recipient is new to the vault; None when it is known."""
    if _known(session, w):
        return None
    feature = Feature(
        "new_recipient",
        1,
        NEW_RECIPIENT_POINTS,
        "the recipient is not an owner and never deposited into or received from this vault",
    )
    return Assessment(NEW_RECIPIENT_POINTS, "flag", (feature,))
